//! The `X-PBM-API-VERSION` header that PassBy[ME] clients send on every request.

use crate::error::ApiError;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use lanyard_core::ErrorCode;

/// The header name.
pub const HEADER: &str = "X-PBM-API-VERSION";

/// Versions of the management API (`/rest`, `/download`).
pub const MANAGEMENT_VERSIONS: &[&str] = &["1", "2"];
/// Versions of the messaging API (`/frontend`).
pub const FRONTEND_VERSIONS: &[&str] = &["1"];

/// Checks the header against `supported`: missing or unsupported → 420
/// `UNSUPPORTED_API_VERSION`, before any other work (authentication included).
pub fn check(req: &ServiceRequest, supported: &[&str]) -> Result<(), ApiError> {
    let given = req
        .headers()
        .get(HEADER)
        .map(|v| v.to_str().unwrap_or("(not text)").trim().to_owned());
    match given {
        Some(v) if supported.contains(&v.as_str()) => Ok(()),
        Some(v) => Err(ApiError::new(
            ErrorCode::UnsupportedApiVersion,
            format!("{HEADER} {v:?} is not supported; use one of {supported:?}"),
        )),
        None => Err(ApiError::new(
            ErrorCode::UnsupportedApiVersion,
            format!("the {HEADER} header is required (one of {supported:?})"),
        )),
    }
}

/// Middleware for the management API scopes.
pub async fn require_management(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    check(&req, MANAGEMENT_VERSIONS)?;
    next.call(req).await
}

/// Middleware for the messaging API scope.
pub async fn require_frontend(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    check(&req, FRONTEND_VERSIONS)?;
    next.call(req).await
}
