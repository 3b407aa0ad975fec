//! Enrollments of end users (API §4.7, 4.8, 4.11) and administrators (§5.6, 5.7, 5.10).
//! The PDF sheet and its e-mail (§4.9–4.10, §5.8–5.9).

pub(crate) mod handlers;

use crate::rest::iso;
use lanyard_enrollment::enrollment::Enrollment;
use serde::Serialize;

/// EnrollmentData (§10.5). `sent` is a boolean, as the data-type table documents (one example
/// in the PassBy[ME] document shows the string "false").
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EnrollmentData {
    enrollment_id: String,
    expire_date: String,
    state: &'static str,
    sent: bool,
    device_config_url: String,
}

impl From<&Enrollment> for EnrollmentData {
    fn from(e: &Enrollment) -> Self {
        Self {
            enrollment_id: e.id.clone(),
            expire_date: iso(e.expires_at),
            state: e.state.as_str(),
            sent: e.sent,
            device_config_url: e.device_config_url.clone(),
        }
    }
}
