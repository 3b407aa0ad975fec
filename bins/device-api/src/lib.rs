//! device-api: the device protocol, the enrollment entry point, one-time links and the
//! self-service deactivation page.
//!
//! Its device routes arrive with the enrollment work; today it serves the health endpoints that
//! every service has and the platform's public CRLs.

use actix_web::web;

/// Registers the routes of this service (beyond the health endpoints every service has).
pub fn configure(cfg: &mut web::ServiceConfig) {
    lanyard_web::crl::configure(cfg);
}
