//! Devices (PassBy[ME] management API §7): lists and deactivation with the deactivation code.
//! DeviceData carries no `deactivationPassword`: Lanyard stores only its hash (the person gets
//! the code at enrollment, in the confirmation letter).

use crate::rest::parse_oid;
use actix_web::{HttpResponse, web};
use lanyard_enrollment::device::{self, DeviceInfo};
use lanyard_enrollment::enrollment::Holder;
use lanyard_web::auth::ManagementCaller;
use lanyard_web::extract::Json;
use lanyard_web::{ApiError, AppState};
use serde::{Deserialize, Serialize};

/// DeviceData (§10.6).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct DeviceData {
    device_name: String,
    vendor_id: String,
    customer_full_name: String,
    device_type: String,
}

impl From<&DeviceInfo> for DeviceData {
    fn from(d: &DeviceInfo) -> Self {
        Self {
            device_name: d.name.clone(),
            vendor_id: d.vendor_id.clone(),
            customer_full_name: d.owner_name.clone(),
            device_type: d.device_type.clone(),
        }
    }
}

enum Whose {
    All,
    User(lanyard_core::Oid),
    Administrator(String),
}

async fn list(
    state: &AppState,
    caller: ManagementCaller,
    whose: Whose,
) -> Result<HttpResponse, ApiError> {
    let found = state
        .db(move |conn, _| {
            let holder = match &whose {
                Whose::All => None,
                Whose::User(oid) => Some(Holder::User(oid)),
                Whose::Administrator(email) => Some(Holder::Administrator(email)),
            };
            device::list(conn, &caller.actor, &caller.account, holder)
        })
        .await?;
    let data: Vec<DeviceData> = found.iter().map(DeviceData::from).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "data": data })))
}

/// Lanyard's paging of `GET /rest/devices` (PassBy[ME] has none: without `length` every
/// device is listed, as there).
#[derive(Debug, Deserialize)]
pub(crate) struct Paging {
    start: Option<String>,
    length: Option<String>,
}

fn number(field: &'static str, raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
        .ok_or_else(|| ApiError::malformed(field, "must be a whole number, 0 or more"))
}

/// `GET /rest/devices[?start=&length=]`.
pub(crate) async fn all(
    state: web::Data<AppState>,
    caller: ManagementCaller,
    query: web::Query<Paging>,
) -> Result<HttpResponse, ApiError> {
    let Some(length) = query.length.as_deref() else {
        return list(&state, caller, Whose::All).await;
    };
    let length = number("length", length)?;
    let start = number("start", query.start.as_deref().unwrap_or("0"))?;
    let (total, found) = state
        .db(move |conn, _| {
            device::page(conn, &caller.actor, &caller.account, (start, length.max(1)))
        })
        .await?;
    let data: Vec<DeviceData> = found.iter().map(DeviceData::from).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "recordsTotal": total, "data": data })))
}

/// `GET /rest/users/{oid}/devices`.
pub(crate) async fn of_user(
    state: web::Data<AppState>,
    caller: ManagementCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    list(&state, caller, Whose::User(parse_oid("oid", &path)?)).await
}

/// `GET /rest/administrators/{userId}/devices`.
pub(crate) async fn of_administrator(
    state: web::Data<AppState>,
    caller: ManagementCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    list(&state, caller, Whose::Administrator(path.into_inner())).await
}

/// The body of §7.4: the seed calls the code `suspensionPassword`, the SDKs
/// `deactivationPassword`; both are accepted.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct DeactivationRequest {
    #[serde(alias = "deactivationPassword")]
    suspension_password: String,
    vendor_id: Option<String>,
}

/// `POST /rest/devices/deactivations`.
pub(crate) async fn deactivate(
    state: web::Data<AppState>,
    caller: ManagementCaller,
    Json(req): Json<DeactivationRequest>,
) -> Result<HttpResponse, ApiError> {
    let master = state.master_key.clone();
    state
        .db(move |conn, clock| {
            device::deactivate_with_code(
                conn,
                clock,
                &master,
                &caller.account,
                req.vendor_id.as_deref(),
                &req.suspension_password,
                &caller.actor.principal,
            )
        })
        .await?;
    Ok(HttpResponse::Ok().finish())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ResendRequest {
    vendor_id: String,
}

/// `POST /rest/devices/suspensionpass` (seed) and `/rest/devices/deactivationpass` (SDKs):
/// a new deactivation code for the device, e-mailed to its owner (the old one stops working:
/// only hashes are kept, so the old code cannot be sent again).
pub(crate) async fn resend_code(
    state: web::Data<AppState>,
    caller: ManagementCaller,
    Json(req): Json<ResendRequest>,
) -> Result<HttpResponse, ApiError> {
    let reach = crate::reach::Reach::of(&state);
    state
        .db(move |conn, clock| {
            device::resend_code(
                conn,
                clock,
                &caller.actor,
                &caller.account,
                &req.vendor_id,
                reach.service(),
            )
        })
        .await?;
    Ok(HttpResponse::Ok().finish())
}
