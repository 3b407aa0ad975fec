//! auth-api: the application-facing messaging API (`/frontend`), wire-compatible with PassBy[ME].
//!
//! Every `/frontend` request needs `X-PBM-API-VERSION: 1` and an application key's client
//! certificate; the message routes arrive with the messaging work (until then an authenticated
//! application gets PassBy[ME]'s `NOT_FOUND` for any path).

use actix_web::middleware::from_fn;
use actix_web::{HttpResponse, web};
use lanyard_core::ErrorCode;
use lanyard_web::ApiError;
use lanyard_web::api_version::require_frontend;
use lanyard_web::auth::ApplicationCaller;

/// Registers the routes of this service (beyond the health endpoints every service has).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/frontend")
            .wrap(from_fn(require_frontend))
            .default_service(web::to(unknown)),
    );
}

/// Any `/frontend` path without a route: authenticated first, so that a caller without an
/// application certificate learns that before anything else.
async fn unknown(_caller: ApplicationCaller) -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(ErrorCode::NotFound, "no such endpoint"))
}
