//! Shared vocabulary of every Lanyard crate: identifiers (OIDs, typed ids, random codes), the
//! [`Clock`], stable error codes, paging requests, secret wrappers and the wire form of times.
//!
//! Nothing here touches a database or the network, so every other crate can depend on it.

pub mod clock;
pub mod codes;
pub mod email;
pub mod error;
pub mod id;
pub mod oid;
pub mod paging;
pub mod secret;
pub mod wire;

pub use clock::{Clock, FixedClock, SystemClock};
pub use email::Email;
pub use error::{Coded, ErrorCode};
pub use oid::{Oid, OidRoot};
pub use paging::{Page, PageRequest};
pub use secret::SecretString;
