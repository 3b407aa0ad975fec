//! Devices (SPEC §3): a phone enrolls once with an enrollment's secret and its own PKCS#10
//! request, and gets a certificate of the platform's devices CA. Later device calls authenticate
//! with that certificate (mutual TLS) and are checked against the database, like access keys.

use crate::{EnrollmentError, Result};
use chrono::{DateTime, NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use lanyard_core::id::AccountId;
use lanyard_core::secret::hash_token;
use lanyard_core::{Clock, ErrorCode};
use lanyard_identity::platform_pki::{self, Purpose};
use lanyard_identity::rights::{Actor, Area, Verb, authorize};
use lanyard_identity::{IdentityError, account, history, organization};
use lanyard_pki::{Issue, MasterKey, Profile, Subject};
use lanyard_store::schema::{certificates, devices, enrollments};
use lanyard_store::{DbConnection, write_transaction};

mod authenticate;
mod deactivate;
mod enroll;
mod letter;
mod list;
mod push_token;

pub use authenticate::*;
pub use deactivate::*;
pub use enroll::*;
pub use letter::*;
pub use list::*;
pub use push_token::*;

/// Validity of a device certificate.
pub const CERTIFICATE_VALIDITY: TimeDelta = TimeDelta::days(2 * 365);

/// Kind of phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceType {
    /// Android.
    Android,
    /// iOS.
    Apple,
    /// Anything else (the reference client, desktop tools).
    Other,
}

impl DeviceType {
    /// Wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Android => "ANDROID",
            Self::Apple => "APPLE",
            Self::Other => "OTHER",
        }
    }

    /// Parses the wire name, naming the field `deviceType`.
    pub fn parse(raw: &str) -> Result<Self> {
        match raw {
            "ANDROID" => Ok(Self::Android),
            "APPLE" => Ok(Self::Apple),
            "OTHER" => Ok(Self::Other),
            _ => Err(invalid("deviceType", "must be ANDROID, APPLE or OTHER")),
        }
    }
}

fn invalid(field: &'static str, rule: &str) -> EnrollmentError {
    EnrollmentError::Identity(IdentityError::Invalid {
        field,
        rule: rule.to_owned(),
    })
}

/// What a phone sends to enroll.
#[derive(Debug, Clone)]
pub struct DeviceRequest {
    /// Device name shown to administrators.
    pub name: String,
    /// Vendor's unique id of the device.
    pub vendor_id: String,
    /// Kind.
    pub device_type: DeviceType,
    /// App version (`major.minor.patch`).
    pub app_version: String,
    /// Push registration token, if the app has one.
    pub push_registration: Option<String>,
    /// PKCS#10 request (PEM or DER) of the key the phone generated.
    pub csr: Vec<u8>,
}

/// A new device.
#[derive(Debug, Clone)]
pub struct Enrolled {
    /// Device id.
    pub device_id: String,
    /// Its certificate followed by the devices CA (PEM).
    pub certificate_chain: String,
    /// Serial of the certificate.
    pub serial: String,
    /// The deactivation code (shown to the person once; stored hashed).
    pub deactivation_code: String,
}

fn text(field: &'static str, value: &str, max: usize) -> Result<String> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(invalid(
            field,
            &format!("is required, at most {max} characters, no control characters"),
        ));
    }
    Ok(v.to_owned())
}

/// A push registration token: optional, at most 4096 characters, no control characters.
fn push_token(value: Option<&str>) -> Result<Option<String>> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => text("pushRegistration", v, 4096).map(Some),
    }
}

/// Where this installation's services are, as enrollment needs them.
#[derive(Debug, Clone, Copy)]
pub struct Service<'a> {
    /// Base URL of the published CRLs (admin-api).
    pub crl_base: &'a str,
    /// device-api's public URL (the self-service deactivation page is there).
    pub device_api: &'a str,
    /// Domain of outgoing Message-IDs.
    pub mail_domain: &'a str,
}

impl Service<'_> {
    /// The self-service deactivation page.
    pub fn deactivation_page(&self) -> String {
        format!("{}/deactivate", self.device_api.trim_end_matches('/'))
    }
}
