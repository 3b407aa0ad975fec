//! admin-api: the management REST API (`/rest`, `/download`) and the web console (`/console`);
//! later the public CRLs.
//!
//! [`configure`] is the one place where routes are wired; `main` only reads the configuration,
//! prepares the database and serves.

mod console;
mod download;
mod reach;
mod rest;

use actix_web::web;

/// Registers every route of admin-api.
pub fn configure(cfg: &mut web::ServiceConfig) {
    rest::configure(cfg);
    download::configure(cfg);
    console::configure(cfg);
    lanyard_web::crl::configure(cfg);
}
