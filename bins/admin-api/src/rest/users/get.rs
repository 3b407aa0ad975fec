//! `GET /rest/users/{oid}`: one end user.

use super::UserData;
use crate::rest::parse_oid;
use actix_web::{HttpResponse, web};
use lanyard_identity::end_user;
use lanyard_identity::rights::{Area, Verb, authorize};
use lanyard_web::auth::ManagementCaller;
use lanyard_web::{ApiError, AppState};

pub(crate) async fn handle(
    state: web::Data<AppState>,
    caller: ManagementCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let oid = parse_oid("oid", &path)?;
    let user = state
        .db(move |conn, _| {
            authorize(
                conn,
                &caller.actor,
                Area::EndUsers,
                Verb::View,
                &caller.account,
            )?;
            end_user::get(conn, &caller.account, &oid)
        })
        .await?;
    Ok(HttpResponse::Ok().json(UserData::from(&user)))
}
