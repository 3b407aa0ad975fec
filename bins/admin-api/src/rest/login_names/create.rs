//! `POST /rest/loginNames/{oid}`: add an alias to an end user.

use super::LoginNameData;
use crate::rest::parse_oid;
use actix_web::{HttpResponse, web};
use lanyard_identity::{Alias, alias};
use lanyard_web::auth::ManagementCaller;
use lanyard_web::extract::Json;
use lanyard_web::{ApiError, AppState};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateLoginNameRequest {
    user_id: String,
}

pub(crate) async fn handle(
    state: web::Data<AppState>,
    caller: ManagementCaller,
    path: web::Path<String>,
    Json(req): Json<CreateLoginNameRequest>,
) -> Result<HttpResponse, ApiError> {
    let oid = parse_oid("oid", &path)?;
    let new = Alias::parse("userId", &req.user_id)?;
    let created = state
        .db(move |conn, clock| alias::add(conn, clock, &caller.actor, &caller.account, &oid, &new))
        .await?;
    Ok(HttpResponse::Ok().json(LoginNameData::from(&created)))
}
