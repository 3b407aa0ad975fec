//! actix-web glue shared by Lanyard's three services: configuration, error rendering,
//! extractors that name the bad field, the API version header, authentication, request ids and
//! logs, health endpoints, and the server builder.
//!
//! Domain crates never depend on this crate (nor on actix-web); the services compose them here.

pub mod api_version;
pub mod auth;
pub mod callback_sender;
pub mod config;
pub mod crl;
pub mod error;
pub mod extract;
pub mod health;
pub mod housekeeping;
pub mod mail_sender;
pub mod push;
pub mod request_id;
pub mod server;
pub mod startup;
pub mod state;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tls;
pub mod wakeups;

pub use error::ApiError;
pub use state::AppState;
