//! `PUT /rest/applications/{applicationId}`: rename; answers the application's id.

use super::{NameRequest, not_found};
use actix_web::{HttpResponse, web};
use lanyard_identity::application;
use lanyard_web::auth::ManagementCaller;
use lanyard_web::extract::Json;
use lanyard_web::{ApiError, AppState};

pub(crate) async fn handle(
    state: web::Data<AppState>,
    caller: ManagementCaller,
    path: web::Path<String>,
    Json(req): Json<NameRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let answer = id.clone();
    state
        .db(move |conn, clock| {
            application::modify(conn, clock, &caller.actor, &caller.account, &id, &req.name)
                .map_err(|e| not_found(conn, &caller.account, &id, e))
        })
        .await?;
    Ok(HttpResponse::Ok().json(answer))
}
