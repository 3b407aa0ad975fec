//! `DELETE /rest/invitations/{code}`: withdraw an open invitation (full code or public part).

use actix_web::{HttpResponse, web};
use lanyard_identity::admin;
use lanyard_web::auth::ManagementCaller;
use lanyard_web::{ApiError, AppState};

pub(crate) async fn handle(
    state: web::Data<AppState>,
    caller: ManagementCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let code = path.into_inner();
    state
        .db(move |conn, clock| {
            admin::delete_invitation(conn, clock, &caller.actor, &caller.account, &code)
        })
        .await?;
    Ok(HttpResponse::Ok().finish())
}
