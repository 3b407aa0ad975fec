//! `GET /rest/applications/{applicationId}/callbackSecret` (Lanyard's): the secret that signs
//! the application's callbacks (`X-Lanyard-Signature`, docs/messaging.md), for its receiver.
//! Needs the edit right on access keys and applications: the secret forges callbacks.

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
    let master = state.master_key.clone();
    let secret = state
        .db(move |conn, _| {
            let app = application::get(conn, &caller.actor, &caller.account, &id)
                .map_err(|e| not_found(conn, &caller.account, &id, e))?;
            lanyard_messaging::callback::secret_for(
                conn,
                &master,
                &caller.actor,
                &caller.account,
                &app.id,
            )
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({ "secret": secret })))
}
