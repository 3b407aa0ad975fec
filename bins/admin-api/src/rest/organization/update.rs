//! `PUT /rest/organization`: name, contact e-mail, validities, confirmation letters (all
//! required, as in API §8.2).

use actix_web::{HttpResponse, web};
use lanyard_identity::organization::{self, SettingsChange};
use lanyard_web::auth::ManagementCaller;
use lanyard_web::extract::Json;
use lanyard_web::{ApiError, AppState};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpdateOrganizationRequest {
    email: String,
    name: String,
    enrollment_expiration_hours: i64,
    invitation_expiration_hours: i64,
    confirmation_letter_enabled: bool,
}

pub(crate) async fn handle(
    state: web::Data<AppState>,
    caller: ManagementCaller,
    Json(req): Json<UpdateOrganizationRequest>,
) -> Result<HttpResponse, ApiError> {
    let change = SettingsChange::parse(
        &req.name,
        &req.email,
        req.enrollment_expiration_hours,
        req.invitation_expiration_hours,
        req.confirmation_letter_enabled,
    )?;
    state
        .db(move |conn, clock| {
            organization::update(conn, clock, &caller.actor, &caller.account, &change)
        })
        .await?;
    Ok(HttpResponse::Ok().finish())
}
