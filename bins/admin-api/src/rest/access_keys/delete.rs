//! `DELETE /rest/accessKeys/{id}`: revokes every certificate of the key; answers its id.

use actix_web::{HttpResponse, web};
use lanyard_identity::access_key;
use lanyard_web::auth::ManagementCaller;
use lanyard_web::{ApiError, AppState};

pub(crate) async fn handle(
    state: web::Data<AppState>,
    caller: ManagementCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let master = state.master_key.clone();
    let answer = id.clone();
    state
        .db(move |conn, clock| {
            access_key::delete(conn, clock, &master, &caller.actor, &caller.account, &id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(answer))
}
