//! device-api: the device protocol (`docs/device-protocol.md`), the enrollment entry point,
//! one-time links and the self-service deactivation page, and the platform's public CRLs.
//!
//! The enrollment steps (open the link, enroll with a PKCS#10 request); with the device
//! certificate, `GET /device` and `DELETE /device` (deregister); and the self-service
//! deactivation page `/deactivate`.

mod messages;
mod self_service;

use actix_web::{HttpResponse, web};
use lanyard_core::ErrorCode;
use lanyard_enrollment::device::{self, DeviceRequest, DeviceType};
use lanyard_web::auth::DeviceCaller;
use lanyard_web::extract::Json;
use lanyard_web::{ApiError, AppState};
use serde::{Deserialize, Serialize};

/// Registers the routes of this service (beyond the health endpoints every service has).
pub fn configure(cfg: &mut web::ServiceConfig) {
    lanyard_web::crl::configure(cfg);
    cfg.route(
        "/deviceConfig/{organization}/{secret}",
        web::get().to(configuration),
    )
    .route("/enroll", web::post().to(enroll))
    .route("/device", web::get().to(whoami))
    .route("/device", web::delete().to(deregister))
    .route("/device/push", web::put().to(push_registration))
    .route("/messages", web::get().to(messages::inbox))
    .route("/messages/stream", web::get().to(messages::stream))
    .route("/messages/{id}", web::get().to(messages::fetch))
    .route(
        "/messages/{id}/evidences",
        web::post().to(messages::evidence),
    )
    .route("/deactivate", web::get().to(self_service::page))
    .route("/deactivate", web::post().to(self_service::submit))
    .route("/deactivate.js", web::get().to(self_service::script));
}

/// The key types a device may certify.
pub const KEY_TYPES: [&str; 3] = ["EC_P256", "EC_P384", "RSA_2048"];

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ConfigurationData {
    organization: OrganizationData,
    person: PersonData,
    expire_date: String,
    enroll_url: String,
    trust_chain: Vec<String>,
    key_types: [&'static str; 3],
    device_types: [&'static str; 3],
    minimum_app_version: MinimumVersions,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct MinimumVersions {
    android: Option<String>,
    ios: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct OrganizationData {
    oid: String,
    name: String,
    contact_email: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PersonData {
    name: String,
    id: String,
}

/// `GET /deviceConfig/{organization}/{secret}`: what the phone needs to enroll.
async fn configuration(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (organization, secret) = path.into_inner();
    let found = state
        .db(move |conn, clock| device::configuration(conn, clock, &secret))
        .await?;
    if found.organization_oid != organization {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            "this enrollment link is unknown or was deleted",
        ));
    }
    Ok(HttpResponse::Ok().json(ConfigurationData {
        organization: OrganizationData {
            oid: found.organization_oid,
            name: found.organization_name,
            contact_email: found.contact_email,
        },
        person: PersonData {
            name: found.person_name,
            id: found.person_id,
        },
        expire_date: lanyard_core::wire::timestamp(found.expires_at),
        enroll_url: format!("{}/enroll", state.settings.device_api.url()),
        trust_chain: found.trust_chain,
        key_types: KEY_TYPES,
        device_types: ["ANDROID", "APPLE", "OTHER"],
        minimum_app_version: MinimumVersions {
            android: found.mobile_app.min_android_version,
            ios: found.mobile_app.min_ios_version,
        },
    }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct EnrollRequest {
    /// The last path segment of the `deviceConfigUrl`.
    secret: String,
    device_name: String,
    vendor_id: String,
    device_type: String,
    app_version: String,
    push_registration: Option<String>,
    /// PEM PKCS#10 request of the device's own key.
    csr: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct EnrolledData {
    device_id: String,
    certificate_chain: String,
    serial: String,
    deactivation_code: String,
}

/// `POST /enroll`: the device's certificate, once per enrollment.
async fn enroll(
    state: web::Data<AppState>,
    Json(req): Json<EnrollRequest>,
) -> Result<HttpResponse, ApiError> {
    let (master, crl_base, mail_domain, device_api) = (
        state.master_key.clone(),
        state.crl_base(),
        state.settings.mail_domain(),
        state.settings.device_api.url(),
    );
    let enrolled = state
        .db(move |conn, clock| {
            let request = DeviceRequest {
                name: req.device_name,
                vendor_id: req.vendor_id,
                device_type: DeviceType::parse(&req.device_type)?,
                app_version: req.app_version,
                push_registration: req.push_registration,
                csr: req.csr.into_bytes(),
            };
            device::enroll(
                conn,
                clock,
                &master,
                &req.secret,
                &request,
                device::Service {
                    crl_base: &crl_base,
                    device_api: &device_api,
                    mail_domain: &mail_domain,
                },
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(EnrolledData {
        device_id: enrolled.device_id,
        certificate_chain: enrolled.certificate_chain,
        serial: enrolled.serial,
        deactivation_code: enrolled.deactivation_code,
    }))
}

/// `GET /device`: the calling device, as the server knows it.
async fn whoami(caller: DeviceCaller) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "deviceId": caller.0.device_id,
        "deviceName": caller.0.name,
        "serial": caller.0.serial,
    }))
}

/// `DELETE /device`: the device deregisters itself; its certificate is revoked at once.
async fn deregister(
    state: web::Data<AppState>,
    caller: DeviceCaller,
) -> Result<HttpResponse, ApiError> {
    let master = state.master_key.clone();
    let id = caller.0.device_id.clone();
    state
        .db(move |conn, clock| {
            device::deactivate(
                conn,
                clock,
                &master,
                &caller.0.account,
                &caller.0.device_id,
                "the device itself",
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(id))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PushRequest {
    push_registration: Option<String>,
}

/// `PUT /device/push`: the device's new push registration token (or `null`: none).
async fn push_registration(
    state: web::Data<AppState>,
    caller: DeviceCaller,
    Json(req): Json<PushRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = caller.0.device_id.clone();
    let token = state
        .db(move |conn, _| {
            device::set_push_registration(conn, &caller.0, req.push_registration.as_deref())
        })
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "deviceId": id, "pushRegistration": token })))
}
