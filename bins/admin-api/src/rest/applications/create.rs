//! `POST /rest/applications`: create an application.

use super::{ApplicationData, NameRequest, organization_oid};
use actix_web::{HttpResponse, web};
use lanyard_identity::application;
use lanyard_web::auth::ManagementCaller;
use lanyard_web::extract::Json;
use lanyard_web::{ApiError, AppState};

pub(crate) async fn handle(
    state: web::Data<AppState>,
    caller: ManagementCaller,
    Json(req): Json<NameRequest>,
) -> Result<HttpResponse, ApiError> {
    let data = state
        .db(move |conn, clock| {
            let app = application::create(conn, clock, &caller.actor, &caller.account, &req.name)?;
            Ok::<_, lanyard_identity::IdentityError>(ApplicationData::of(
                &app,
                &organization_oid(conn, &caller.account)?,
            ))
        })
        .await?;
    Ok(HttpResponse::Ok().json(data))
}
