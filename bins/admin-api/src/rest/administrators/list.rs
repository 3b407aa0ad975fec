//! `GET /rest/administrators`: AdministratorData of the caller's account.

use crate::rest::DataList;
use actix_web::{HttpResponse, web};
use lanyard_identity::admin;
use lanyard_identity::rights::{Area, Verb, authorize};
use lanyard_web::auth::ManagementCaller;
use lanyard_web::{ApiError, AppState};
use serde::Serialize;

/// AdministratorData (API §10.3), plus Lanyard's `status`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct AdministratorData {
    user_id: String,
    full_name: String,
    phone_number: String,
    status: &'static str,
}

pub(crate) async fn handle(
    state: web::Data<AppState>,
    caller: ManagementCaller,
) -> Result<HttpResponse, ApiError> {
    let admins = state
        .db(move |conn, _| {
            authorize(
                conn,
                &caller.actor,
                Area::Administrators,
                Verb::View,
                &caller.account,
            )?;
            admin::list(conn, &caller.account)
        })
        .await?;
    Ok(HttpResponse::Ok().json(DataList {
        data: admins
            .into_iter()
            .map(|a| AdministratorData {
                user_id: a.email,
                full_name: a.full_name,
                phone_number: a.phone_number.unwrap_or_default(),
                status: a.status.label(),
            })
            .collect(),
    }))
}
