//! `GET /rest/applications/{applicationId}`: one application, under `data` (as PassBy[ME]).

use super::{ApplicationData, not_found, organization_oid};
use actix_web::{HttpResponse, web};
use lanyard_identity::application;
use lanyard_web::auth::ManagementCaller;
use lanyard_web::{ApiError, AppState};

pub(crate) async fn handle(
    state: web::Data<AppState>,
    caller: ManagementCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let data = state
        .db(move |conn, _| {
            let app = application::get(conn, &caller.actor, &caller.account, &id)
                .map_err(|e| not_found(conn, &caller.account, &id, e))?;
            Ok::<_, lanyard_identity::IdentityError>(ApplicationData::of(
                &app,
                &organization_oid(conn, &caller.account)?,
            ))
        })
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "data": data })))
}
