//! auth-api: the application-facing messaging API (`/frontend`), wire-compatible with PassBy[ME]
//! (`docs/messaging.md`).
//!
//! Every `/frontend` request needs `X-PBM-API-VERSION: 1` and an application key's client
//! certificate; an application sees only its own messages.

use actix_web::middleware::from_fn;
use actix_web::{HttpResponse, web};
use lanyard_core::ErrorCode;
use lanyard_messaging::message::{self, MessageData, NewMessage, Sender};
use lanyard_web::api_version::require_frontend;
use lanyard_web::auth::ApplicationCaller;
use lanyard_web::extract::Json;
use lanyard_web::{ApiError, AppState};
use serde::Deserialize;

/// Registers the routes of this service (beyond the health endpoints every service has).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/frontend")
            .wrap(from_fn(require_frontend))
            .route("/messages", web::post().to(send))
            .route("/messages/{id}", web::get().to(track))
            .route("/messages/{id}", web::delete().to(cancel))
            .default_service(web::to(unknown)),
    );
}

/// Any `/frontend` path without a route: authenticated first, so that a caller without an
/// application certificate learns that before anything else.
async fn unknown(_caller: ApplicationCaller) -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(ErrorCode::NotFound, "no such endpoint"))
}

/// The body of `POST /frontend/messages`, as the PassBy[ME] SDKs send it (`subject`, `body`
/// and `callbackUrl` may be `null`; unknown keys are ignored, as a newer SDK may add some).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SendRequest {
    recipients: Vec<String>,
    subject: Option<String>,
    body: Option<String>,
    availability: i64,
    #[serde(rename = "type")]
    kind: String,
    callback_url: Option<String>,
}

fn sender(caller: &ApplicationCaller) -> Sender {
    Sender {
        account: caller.key.account.clone(),
        application_id: caller.application_id.clone(),
    }
}

/// `POST /frontend/messages`.
async fn send(
    state: web::Data<AppState>,
    caller: ApplicationCaller,
    Json(req): Json<SendRequest>,
) -> Result<HttpResponse, ApiError> {
    let new = NewMessage::parse(
        req.recipients,
        req.subject.as_deref(),
        req.body.as_deref(),
        req.availability,
        &req.kind,
        req.callback_url.as_deref(),
    )?;
    let sender = sender(&caller);
    let sent = state
        .db(move |conn, clock| message::send(conn, clock, &sender, &new))
        .await?;
    // Committed: wake the recipients' phones listening to this process at once (their apps'
    // pushes went into the outbox with the message).
    lanyard_web::push::wake_channels(&state, &sent);
    Ok(HttpResponse::Ok().json(MessageData::from(&sent)))
}

/// `GET /frontend/messages/{id}`.
async fn track(
    state: web::Data<AppState>,
    caller: ApplicationCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (sender, id) = (sender(&caller), path.into_inner());
    let found = state
        .db(move |conn, clock| message::track(conn, clock, &sender, &id))
        .await?;
    Ok(HttpResponse::Ok().json(MessageData::from(&found)))
}

/// `DELETE /frontend/messages/{id}`.
async fn cancel(
    state: web::Data<AppState>,
    caller: ApplicationCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (sender, id) = (sender(&caller), path.into_inner());
    let cancelled = state
        .db(move |conn, clock| message::cancel(conn, clock, &sender, &id))
        .await?;
    Ok(HttpResponse::Ok().json(MessageData::from(&cancelled)))
}
