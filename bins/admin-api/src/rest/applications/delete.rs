//! `DELETE /rest/applications/{applicationId}`: answers the deleted application's id.

use super::not_found;
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
    let answer = id.clone();
    state
        .db(move |conn, clock| {
            application::delete(conn, clock, &caller.actor, &caller.account, &id)
                .map_err(|e| not_found(conn, &caller.account, &id, e))
        })
        .await?;
    Ok(HttpResponse::Ok().json(answer))
}
