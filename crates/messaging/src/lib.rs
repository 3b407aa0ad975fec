//! Messages of applications to people's phones (SPEC §5): sending with per-recipient statuses,
//! the recipient state machine, tracking, cancellation and expiry. Delivery to phones,
//! evidences, callbacks and the activity log build on these.

mod error;
pub mod evidence;
pub mod message;
pub mod status;

pub use error::{MessagingError, Result};
