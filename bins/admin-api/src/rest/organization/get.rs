//! `GET /rest/organization`: OrganizationData.

use actix_web::{HttpResponse, web};
use lanyard_identity::rights::{Area, Verb, authorize};
use lanyard_identity::{account, organization};
use lanyard_web::auth::ManagementCaller;
use lanyard_web::{ApiError, AppState};
use serde::Serialize;

/// OrganizationData (API §10.8).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct OrganizationData {
    organization_id: String,
    name: String,
    pricing: Option<String>,
    email: String,
    enrollment_expiration_hours: i64,
    invitation_expiration_hours: i64,
    confirmation_letter_enabled: bool,
}

pub(crate) async fn handle(
    state: web::Data<AppState>,
    caller: ManagementCaller,
) -> Result<HttpResponse, ApiError> {
    let (account, settings) = state
        .db(move |conn, _| {
            authorize(
                conn,
                &caller.actor,
                Area::MyAccount,
                Verb::View,
                &caller.account,
            )?;
            Ok::<_, lanyard_identity::IdentityError>((
                account::get(conn, &caller.account)?,
                organization::settings(conn, &caller.account)?,
            ))
        })
        .await?;
    Ok(HttpResponse::Ok().json(OrganizationData {
        organization_id: account.oid.to_string(),
        name: account.name,
        pricing: settings.plan.map(|p| p.name),
        email: account.contact_email.unwrap_or_default(),
        enrollment_expiration_hours: settings.enrollment_expiration_hours,
        invitation_expiration_hours: settings.invitation_expiration_hours,
        confirmation_letter_enabled: settings.confirmation_letter_enabled,
    }))
}
