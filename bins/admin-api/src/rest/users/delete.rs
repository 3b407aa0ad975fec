//! `DELETE /rest/users/{oid}`: delete an end user and its aliases. Answers with the OID.

use crate::rest::parse_oid;
use actix_web::{HttpResponse, web};
use lanyard_identity::end_user;
use lanyard_web::auth::ManagementCaller;
use lanyard_web::{ApiError, AppState};

pub(crate) async fn handle(
    state: web::Data<AppState>,
    caller: ManagementCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let oid = parse_oid("oid", &path)?;
    let answer = oid.to_string();
    state
        .db(move |conn, clock| end_user::delete(conn, clock, &caller.actor, &caller.account, &oid))
        .await?;
    Ok(HttpResponse::Ok().json(answer))
}
