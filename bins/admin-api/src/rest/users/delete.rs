//! `DELETE /rest/users/{oid}`: delete an end user with its aliases and enrollments; its devices
//! are deactivated (certificates revoked) first. Answers with the OID.

use crate::rest::parse_oid;
use actix_web::{HttpResponse, web};
use lanyard_enrollment::device;
use lanyard_web::auth::ManagementCaller;
use lanyard_web::{ApiError, AppState};

pub(crate) async fn handle(
    state: web::Data<AppState>,
    caller: ManagementCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let oid = parse_oid("oid", &path)?;
    let answer = oid.to_string();
    let master = state.master_key.clone();
    state
        .db(move |conn, clock| {
            device::delete_end_user(conn, clock, &master, &caller.actor, &caller.account, &oid)
        })
        .await?;
    Ok(HttpResponse::Ok().json(answer))
}
