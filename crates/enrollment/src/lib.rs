//! Enrollments (SPEC §3; API §4.7–4.11, §5.6–5.10) and their QR codes. Devices, the enrollment
//! sheet and the device protocol build on these.

pub mod device;
pub mod enrollment;
mod error;
pub mod human_check;
pub mod mobile_app;
pub mod push;
pub mod qr;
pub mod sheet;

pub use error::{EnrollmentError, Result};
