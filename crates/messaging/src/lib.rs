//! Messages of applications to people's phones (SPEC §5): sending with per-recipient statuses,
//! the recipient state machine, tracking, cancellation and expiry; evidences; callbacks. The
//! activity log builds on these.

pub mod activity;
pub mod approval;
pub mod callback;
mod error;
pub mod evidence;
pub mod history;
pub mod message;
pub mod push_outbox;
pub mod status;

pub use error::{MessagingError, Result};
