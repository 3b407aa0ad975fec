//! Messages on the phone (docs/device-protocol.md §9): the inbox, one message, and evidences —
//! the phone's signed statements that move a recipient through the state machine.

use actix_web::web::Bytes;
use actix_web::{HttpResponse, web};
use lanyard_messaging::evidence::{self, DeviceMessage, EvidenceKind};
use lanyard_web::auth::DeviceCaller;
use lanyard_web::extract::Json;
use lanyard_web::{ApiError, AppState};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::time::{Duration, Instant};

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
    #[serde(skip_serializing_if = "Option::is_none")]
    preview: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    external_identity: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    enforce_secure_id: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    attachment: Option<AttachmentData>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct AttachmentData {
    name: String,
    url: String,
    expiration_date: String,
}

impl From<DeviceMessage> for MessageData {
    fn from(m: DeviceMessage) -> Self {
        Self {
            kind: m.kind.as_str(),
            expiration_date: lanyard_core::wire::timestamp(m.expires_at),
            status: m.status.as_str(),
            message_id: m.id,
            subject: m.subject,
            body: m.body,
            secure_id: m.secure_id,
            recipient: m.recipient,
            content_hash: m.content_hash,
            preview: m.preview,
            external_identity: m.external_identity,
            enforce_secure_id: m.enforce_secure_id,
            attachment: m.attachment.map(|a| AttachmentData {
                expiration_date: lanyard_core::wire::timestamp(a.expires_at),
                name: a.name,
                url: a.url,
            }),
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

/// A comment line this often keeps proxies from closing an idle channel.
const KEEPALIVE: Duration = Duration::from_secs(15);

struct Channel {
    state: web::Data<AppState>,
    device: String,
    user: String,
    wakeups: tokio::sync::broadcast::Receiver<String>,
    announced: HashSet<String>,
    first: bool,
    done: bool,
}

/// One server-sent event per message: `event: message`, `id: <messageId>`, the message as data.
fn events(messages: Vec<DeviceMessage>) -> Bytes {
    let mut out = String::new();
    for m in messages {
        let id = m.id.clone();
        let data = serde_json::to_string(&MessageData::from(m)).unwrap_or_default();
        out.push_str(&format!("event: message\nid: {id}\ndata: {data}\n\n"));
    }
    Bytes::from(out)
}

impl Channel {
    /// Waits for something to send: a new message (woken by this process, or found by polling),
    /// a keep-alive, or the end (device deactivated).
    async fn next(mut self) -> Option<(Result<Bytes, actix_web::Error>, Self)> {
        if self.done {
            return None;
        }
        let idle_since = Instant::now();
        loop {
            if !self.first {
                // Woken at once by this process (and, on PostgreSQL, by the others); the poll is
                // for what no wake-up announced.
                let wait = tokio::time::sleep(self.state.wakeups.poll_interval());
                tokio::pin!(wait);
                loop {
                    tokio::select! {
                        () = &mut wait => break,
                        woken = self.wakeups.recv() => match woken {
                            Ok(user) if user == self.user => break,
                            Ok(_) => {}
                            // Fell behind: look now.
                            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => break,
                            Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                                wait.as_mut().await;
                                break;
                            }
                        },
                    }
                }
            }
            self.first = false;
            let (device, announced) = (self.device.clone(), self.announced.clone());
            let found = self
                .state
                .db(move |conn, clock| evidence::announce(conn, clock, &device, &announced))
                .await;
            match found {
                Ok(messages) if !messages.is_empty() => {
                    self.announced.extend(messages.iter().map(|m| m.id.clone()));
                    return Some((Ok(events(messages)), self));
                }
                Ok(_) if idle_since.elapsed() >= KEEPALIVE => {
                    return Some((Ok(Bytes::from_static(b": keep-alive\n\n")), self));
                }
                Ok(_) => {}
                Err(_) => {
                    // Deactivated (or the database is gone): say so and end the channel.
                    self.done = true;
                    return Some((Ok(Bytes::from_static(b"event: end\ndata: {}\n\n")), self));
                }
            }
        }
    }
}

/// `GET /messages/stream`: the real-time channel (server-sent events). Every open message is
/// sent once as `event: message`; a new one arrives within milliseconds when sent through this
/// process or, on PostgreSQL, through another process sharing the database (LISTEN/NOTIFY); on
/// SQLite, within half a second from another process. Telling the phone marks a `PENDING`
/// recipient `NOTIFIED`.
pub(crate) async fn stream(
    state: web::Data<AppState>,
    caller: DeviceCaller,
) -> Result<HttpResponse, ApiError> {
    let device = caller.0.device_id.clone();
    let user = {
        let device = device.clone();
        state
            .db(move |conn, _| evidence::device_owner(conn, &device))
            .await?
    };
    let channel = Channel {
        wakeups: state.wakeups.subscribe(),
        state,
        device,
        user,
        announced: HashSet::new(),
        first: true,
        done: false,
    };
    let body = futures_util::stream::unfold(channel, Channel::next);
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}
