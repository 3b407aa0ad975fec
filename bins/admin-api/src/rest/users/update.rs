//! `PUT /rest/users/{oid}`: change e-mail (required), full name, phone number, disabled.
//! Answers with the OID.

use crate::rest::parse_oid;
use actix_web::{HttpResponse, web};
use lanyard_identity::{EndUserChanges, end_user};
use lanyard_web::auth::ManagementCaller;
use lanyard_web::extract::Json;
use lanyard_web::{ApiError, AppState};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpdateUserRequest {
    email: Option<String>,
    full_name: Option<String>,
    phone_number: Option<String>,
    disabled: Option<bool>,
}

pub(crate) async fn handle(
    state: web::Data<AppState>,
    caller: ManagementCaller,
    path: web::Path<String>,
    Json(req): Json<UpdateUserRequest>,
) -> Result<HttpResponse, ApiError> {
    let oid = parse_oid("oid", &path)?;
    let changes = EndUserChanges::parse(
        req.email.as_deref(),
        req.full_name.as_deref(),
        req.phone_number.as_deref(),
        req.disabled,
    )?;
    let user = state
        .db(move |conn, clock| {
            end_user::update(conn, clock, &caller.actor, &caller.account, &oid, changes)
        })
        .await?;
    Ok(HttpResponse::Ok().json(user.oid.as_str()))
}
