//! Request ids and request logs.
//!
//! Every request gets a random id, returned in `X-Request-Id`, attached to the request's tracing
//! span, and included in the body of a 500 so that a caller's report can be matched with the
//! log. One line is logged per request with method, path, status and `duration_ms`; query
//! strings are not logged (they may carry personal data), and path segments that are secrets on
//! their own (an enrollment link's secret, an invitation code: route parameters named in
//! [`SECRET_PARAMETERS`]) are logged as `[redacted]`.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use lanyard_core::codes::random_base62;
use std::time::Instant;
use tracing::Instrument;

/// Route parameters whose values authorize something by themselves: never logged.
pub const SECRET_PARAMETERS: &[&str] = &["secret", "code", "token"];

/// The request's path with the values of secret route parameters replaced by `[redacted]`.
/// Before routing (no match information yet) every segment after the first two is redacted,
/// since which of them are secrets is not known.
pub fn loggable_path(req: &actix_web::HttpRequest) -> String {
    let path = req.path();
    let info = req.match_info();
    let secrets: Vec<&str> = info
        .iter()
        .filter(|(name, _)| SECRET_PARAMETERS.contains(name))
        .map(|(_, value)| value)
        .collect();
    let routed = req.match_pattern().is_some();
    path.split('/')
        .enumerate()
        .map(|(i, segment)| {
            let decoded = percent_decode(segment);
            let secret = if routed {
                secrets.iter().any(|s| *s == decoded || *s == segment)
            } else {
                i > 2
            };
            if secret { "[redacted]" } else { segment }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn percent_decode(segment: &str) -> String {
    form_urlencoded::parse(format!("x={}", segment.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Response header carrying the request id.
pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being handled on this task, if any.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Middleware (for `actix_web::middleware::from_fn`) that assigns the id, logs the request and
/// sets the response header.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = random_base62(16);
    let span = tracing::info_span!("request", request_id = %id);
    let method = req.method().clone();
    // Before routing: only the shape is known (used if the request fails before a response).
    let unrouted = loggable_path(req.request());
    let started = Instant::now();
    let result = REQUEST_ID
        .scope(id.clone(), next.call(req).instrument(span.clone()))
        .await;
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    let _entered = span.enter();
    match result {
        Ok(mut response) => {
            let status = response.status().as_u16();
            let path = loggable_path(response.request());
            tracing::info!(%method, %path, status, duration_ms, "request");
            if let Ok(value) = HeaderValue::from_str(&id) {
                response.headers_mut().insert(HEADER, value);
            }
            Ok(response)
        }
        Err(err) => {
            tracing::info!(%method, path = %unrouted, error = %err, duration_ms, "request");
            Err(err)
        }
    }
}
