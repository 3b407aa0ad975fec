//! `GET /download/devices/report.csv`: the organization's active devices (SPEC §3 "devices .csv
//! report"), with their owner, type, app version, enrollment and last call.

use actix_web::http::header::{CONTENT_DISPOSITION, HeaderValue};
use actix_web::{HttpResponse, web};
use lanyard_enrollment::device;
use lanyard_reports::CsvChunks;
use lanyard_web::auth::ManagementCaller;
use lanyard_web::{ApiError, AppState};

/// The report of the caller's organization (the console's download uses it too).
pub(crate) async fn csv(
    state: &AppState,
    actor: lanyard_identity::rights::Actor,
    account: lanyard_core::id::AccountId,
) -> Result<HttpResponse, ApiError> {
    let bytes = state
        .db(move |conn, _| {
            let devices = device::list(conn, &actor, &account, None)?;
            let report = || -> Result<Vec<u8>, lanyard_reports::ReportError> {
                let mut csv = CsvChunks::with_header([
                    "Device name",
                    "Vendor ID",
                    "Owner",
                    "Type",
                    "App version",
                    "Enrolled (UTC)",
                    "Last call (UTC)",
                ])?;
                let at = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M").to_string();
                for d in &devices {
                    csv.row([
                        d.name.clone(),
                        d.vendor_id.clone(),
                        d.owner_name.clone(),
                        d.device_type.clone(),
                        d.app_version.clone(),
                        at(d.created_at),
                        at(d.last_seen_at),
                    ])?;
                }
                csv.take_chunk()
            };
            report().map_err(|e| lanyard_enrollment::EnrollmentError::Report(e.to_string()))
        })
        .await?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            CONTENT_DISPOSITION,
            HeaderValue::from_static("attachment; filename=\"devices.csv\""),
        ))
        .body(bytes))
}

pub(crate) async fn handle(
    state: web::Data<AppState>,
    caller: ManagementCaller,
) -> Result<HttpResponse, ApiError> {
    csv(&state, caller.actor, caller.account).await
}
