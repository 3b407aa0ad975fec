//! auth-api: the application-facing messaging API (`/frontend`), wire-compatible with PassBy[ME].
//!
//! Its routes arrive with the messaging work; today it serves the health endpoints that every
//! service has.

use actix_web::web;

/// Registers the routes of this service (beyond the health endpoints every service has).
pub fn configure(_cfg: &mut web::ServiceConfig) {}
