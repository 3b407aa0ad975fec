//! `GET /rest/organization/pricing`: PricingData of the organization's plan. Without a plan
//! (no limits) every limit is `null`.

use actix_web::{HttpResponse, web};
use lanyard_identity::organization;
use lanyard_identity::rights::{Area, Verb, authorize};
use lanyard_web::auth::ManagementCaller;
use lanyard_web::{ApiError, AppState};
use serde::Serialize;

/// PricingData (API §10.9).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PricingData {
    max_number_of_users: Option<i64>,
    max_number_of_admins: Option<i64>,
    days_of_activity_log: Option<i64>,
    max_number_of_devices_per_user: Option<i64>,
}

pub(crate) async fn handle(
    state: web::Data<AppState>,
    caller: ManagementCaller,
) -> Result<HttpResponse, ApiError> {
    let settings = state
        .db(move |conn, _| {
            authorize(
                conn,
                &caller.actor,
                Area::MyAccount,
                Verb::View,
                &caller.account,
            )?;
            organization::settings(conn, &caller.account)
        })
        .await?;
    let plan = settings.plan;
    Ok(HttpResponse::Ok().json(PricingData {
        max_number_of_users: plan.as_ref().map(|p| p.max_users),
        max_number_of_admins: plan.as_ref().map(|p| p.max_admins),
        days_of_activity_log: plan.as_ref().map(|p| p.days_of_activity_log),
        max_number_of_devices_per_user: plan.as_ref().map(|p| p.max_devices_per_user),
    }))
}
