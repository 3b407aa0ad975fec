//! Messages on the phone (docs/device-protocol.md §9): the inbox, one message, and evidences —
//! the phone's signed statements that move a recipient through the state machine.

use actix_web::{HttpResponse, web};
use lanyard_messaging::evidence::{self, DeviceMessage, EvidenceKind};
use lanyard_web::auth::DeviceCaller;
use lanyard_web::extract::Json;
use lanyard_web::{ApiError, AppState};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct MessageData {
    message_id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    subject: String,
    body: String,
    secure_id: Option<String>,
    expiration_date: String,
    recipient: String,
    content_hash: String,
    status: &'static str,
}

impl From<DeviceMessage> for MessageData {
    fn from(m: DeviceMessage) -> Self {
        Self {
            kind: m.kind.as_str(),
            expiration_date: m.expires_at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            status: m.status.as_str(),
            message_id: m.id,
            subject: m.subject,
            body: m.body,
            secure_id: m.secure_id,
            recipient: m.recipient,
            content_hash: m.content_hash,
        }
    }
}

/// `GET /messages`: the open messages of the device's person, newest first.
pub(crate) async fn inbox(
    state: web::Data<AppState>,
    caller: DeviceCaller,
) -> Result<HttpResponse, ApiError> {
    let list = state
        .db(move |conn, clock| evidence::inbox(conn, clock, &caller.0.device_id))
        .await?;
    let data: Vec<MessageData> = list.into_iter().map(MessageData::from).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "data": data })))
}

/// `GET /messages/{id}`.
pub(crate) async fn fetch(
    state: web::Data<AppState>,
    caller: DeviceCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let found = state
        .db(move |conn, clock| evidence::fetch(conn, clock, &caller.0.device_id, &id))
        .await?;
    Ok(HttpResponse::Ok().json(MessageData::from(found)))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct EvidenceRequest {
    #[serde(rename = "type")]
    kind: String,
    /// Base64 of the CMS SignedData (DER).
    cms: String,
}

/// `POST /messages/{id}/evidences`.
pub(crate) async fn evidence(
    state: web::Data<AppState>,
    caller: DeviceCaller,
    path: web::Path<String>,
    Json(req): Json<EvidenceRequest>,
) -> Result<HttpResponse, ApiError> {
    let kind = EvidenceKind::parse(&req.kind).ok_or_else(|| {
        ApiError::malformed("type", "must be PROOF_OF_DELIVERY or SIGNED_TRANSACTION")
    })?;
    let cms = lanyard_pki::base64_decode(&req.cms)
        .ok_or_else(|| ApiError::malformed("cms", "must be base64 of a CMS SignedData (DER)"))?;
    let (id, master, crl_base) = (
        path.into_inner(),
        state.master_key.clone(),
        state.crl_base(),
    );
    let accepted = state
        .db(move |conn, clock| {
            let device = &caller.0.device_id;
            let cert = evidence::device_certificate(conn, device)?;
            evidence::submit(
                conn,
                clock,
                &master,
                &crl_base,
                (device, &cert),
                &id,
                kind,
                &cms,
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "evidenceId": accepted.id,
        "status": accepted.status.as_str(),
    })))
}
