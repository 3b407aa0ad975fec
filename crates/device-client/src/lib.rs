//! The reference Lanyard device: what a phone app does, written only from
//! `docs/device-protocol.md` (no Lanyard crate is a dependency).
//!
//! - [`enroll`] opens an enrollment link (or reads it from a QR image with [`read_qr`]),
//!   generates the device's own key, sends its PKCS#10 request, and keeps the key, the
//!   certificate and what the server said in a state directory.
//! - [`Device::open`] loads that state; its calls go to device-api over mutual TLS with the
//!   device certificate.
//!
//! - [`Device::inbox`] and [`Device::answer`] read messages and answer them with signed
//!   evidences (docs/evidence.md).
//!
//! Later work adds the real-time channel and cards.

mod http;
mod messages;
mod state;

pub use http::Tls;
pub use messages::{Answer, Delivered, EvidenceAnswer, InboxMessage};
pub use state::{Device, DeviceState, ServerView};

use serde::{Deserialize, Serialize};
use std::path::Path;

/// What can go wrong on the device side.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// The server refused, with its code and message (HTTP 420 `{"code","message"}`, or 401).
    #[error("{code}: {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// Lanyard's error code, e.g. `NOT_ALLOWED`.
        code: String,
        /// The server's explanation.
        message: String,
    },
    /// The server could not be reached, or TLS failed.
    #[error("cannot reach {url}: {detail}")]
    Unreachable {
        /// The URL called.
        url: String,
        /// What failed.
        detail: String,
    },
    /// The server answered something the protocol does not describe.
    #[error("unexpected answer from {url}: {detail}")]
    Protocol {
        /// The URL called.
        url: String,
        /// What was wrong.
        detail: String,
    },
    /// The input is not usable (a link that is not an enrollment link, an image without a QR
    /// code, a bad option).
    #[error("{0}")]
    Input(String),
    /// The state directory cannot be read or written.
    #[error("state {path}: {detail}")]
    State {
        /// The file.
        path: String,
        /// What failed.
        detail: String,
    },
    /// A key or certificate operation failed.
    #[error("crypto: {0}")]
    Crypto(#[from] openssl::error::ErrorStack),
}

/// Result of device operations.
pub type Result<T> = std::result::Result<T, DeviceError>;

/// Kind of phone, as the protocol names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum DeviceType {
    /// Android.
    Android,
    /// iOS.
    Apple,
    /// Anything else (this client's default).
    Other,
}

/// The key the device generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// ECDSA on P-256 (the default: small and fast, as phones' secure elements).
    EcP256,
    /// RSA 2048.
    Rsa2048,
}

/// What the device tells the server about itself when it enrolls.
#[derive(Debug, Clone)]
pub struct EnrollOptions {
    /// Shown to administrators, e.g. "Gil's phone".
    pub device_name: String,
    /// A stable id of the phone.
    pub vendor_id: String,
    /// Kind of phone.
    pub device_type: DeviceType,
    /// The app's version (checked against the organization's minimum).
    pub app_version: String,
    /// Push registration token, if any.
    pub push_registration: Option<String>,
    /// Key to generate.
    pub key_type: KeyType,
}

/// The organization as the configuration names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    /// OID.
    pub oid: String,
    /// Name.
    pub name: String,
    /// Contact e-mail.
    pub contact_email: Option<String>,
}

/// The person the device is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Person {
    /// Name.
    pub name: String,
    /// Alias or administrator login.
    pub id: String,
}

/// Minimum app versions of the organization.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MinimumAppVersion {
    /// Android.
    pub android: Option<String>,
    /// iOS.
    pub ios: Option<String>,
}

/// The answer to opening an enrollment link (protocol §2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Configuration {
    /// The organization.
    pub organization: Organization,
    /// The person.
    pub person: Person,
    /// Until when the link works.
    pub expire_date: String,
    /// Where to send the request.
    pub enroll_url: String,
    /// Root and devices CA, PEM.
    pub trust_chain: Vec<String>,
    /// Key types the server certifies.
    pub key_types: Vec<String>,
    /// Device types it knows.
    pub device_types: Vec<String>,
    /// Oldest app versions accepted.
    #[serde(default)]
    pub minimum_app_version: MinimumAppVersion,
}

/// An enrollment link taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentLink {
    /// The https URL to open.
    pub url: String,
    /// The secret (last path segment).
    pub secret: String,
}

/// Parses an enrollment link (protocol §1). An organization's own scheme (`acme-id://…`) stands
/// for `https://…`, as its app would read it.
pub fn parse_link(raw: &str) -> Result<EnrollmentLink> {
    let raw = raw.trim();
    let https = match raw.split_once("://") {
        Some(("https", _)) => raw.to_owned(),
        Some((scheme, rest)) if scheme != "http" && !scheme.is_empty() => format!("https://{rest}"),
        _ => {
            return Err(DeviceError::Input(format!(
                "not an enrollment link (https://…/deviceConfig/<organization>/<secret>): {raw}"
            )));
        }
    };
    let url = url::Url::parse(&https)
        .map_err(|e| DeviceError::Input(format!("not a URL: {raw}: {e}")))?;
    let segments: Vec<&str> = url
        .path_segments()
        .map(Iterator::collect)
        .unwrap_or_default();
    match segments.as_slice() {
        [.., "deviceConfig", org, secret] if !org.is_empty() && !secret.is_empty() => {
            Ok(EnrollmentLink {
                secret: (*secret).to_owned(),
                url: https,
            })
        }
        _ => Err(DeviceError::Input(format!(
            "not an enrollment link (…/deviceConfig/<organization>/<secret>): {raw}"
        ))),
    }
}

/// Reads the QR code in an image file (PNG or JPEG), as the phone's camera would.
pub fn read_qr(path: &Path) -> Result<String> {
    let image = image::open(path)
        .map_err(|e| DeviceError::Input(format!("{}: {e}", path.display())))?
        .to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(image);
    let grids = prepared.detect_grids();
    let grid = grids
        .first()
        .ok_or_else(|| DeviceError::Input(format!("{}: no QR code found", path.display())))?;
    let (_, content) = grid
        .decode()
        .map_err(|e| DeviceError::Input(format!("{}: unreadable QR code: {e}", path.display())))?;
    Ok(content)
}

/// What enrollment gives the person: the device, and the deactivation code shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Enrolled {
    /// The stored state.
    pub device: DeviceState,
    /// The code that deactivates this device if it is lost (shown once; not stored).
    pub deactivation_code: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EnrollAnswer {
    device_id: String,
    certificate_chain: String,
    serial: String,
    deactivation_code: String,
}

/// Opens `link` without enrolling (protocol §2): what the app shows before the person confirms.
pub async fn configuration(link: &str, tls: &Tls) -> Result<Configuration> {
    let link = parse_link(link)?;
    let client = http::client(tls, None)?;
    http::get_json(&client, &link.url, None).await
}

/// Enrolls this device with `link` (protocol §2–3) and keeps its state in `dir` (created; must
/// not hold a device already). The private key is written with mode 0600 and never sent.
pub async fn enroll(
    dir: &Path,
    link: &str,
    tls: &Tls,
    options: &EnrollOptions,
) -> Result<Enrolled> {
    if state::exists(dir) {
        return Err(DeviceError::Input(format!(
            "{} already holds an enrolled device; deregister it or use another directory",
            dir.display()
        )));
    }
    let link = parse_link(link)?;
    let client = http::client(tls, None)?;
    let config: Configuration = http::get_json(&client, &link.url, None).await?;
    let key = match options.key_type {
        KeyType::EcP256 => {
            let group = openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1)?;
            openssl::pkey::PKey::from_ec_key(openssl::ec::EcKey::generate(&group)?)?
        }
        KeyType::Rsa2048 => openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048)?)?,
    };
    let csr = {
        let mut req = openssl::x509::X509ReqBuilder::new()?;
        let mut name = openssl::x509::X509NameBuilder::new()?;
        name.append_entry_by_text("CN", &options.device_name)?;
        req.set_subject_name(&name.build())?;
        req.set_pubkey(&key)?;
        req.sign(&key, openssl::hash::MessageDigest::sha256())?;
        String::from_utf8_lossy(&req.build().to_pem()?).into_owned()
    };
    let body = serde_json::json!({
        "secret": link.secret,
        "deviceName": options.device_name,
        "vendorId": options.vendor_id,
        "deviceType": options.device_type,
        "appVersion": options.app_version,
        "pushRegistration": options.push_registration,
        "csr": csr,
    });
    let answer: EnrollAnswer = http::post_json(&client, &config.enroll_url, &body).await?;
    let device_api = config
        .enroll_url
        .strip_suffix("/enroll")
        .ok_or_else(|| DeviceError::Protocol {
            url: link.url.clone(),
            detail: format!("enrollUrl {} does not end in /enroll", config.enroll_url),
        })?
        .to_owned();
    let device = DeviceState {
        device_id: answer.device_id,
        device_name: options.device_name.clone(),
        serial: answer.serial,
        device_api,
        app_version: options.app_version.clone(),
        organization: config.organization,
        person: config.person,
    };
    state::save(
        dir,
        &device,
        &key.private_key_to_pem_pkcs8()?,
        &answer.certificate_chain,
        &config.trust_chain.concat(),
        tls,
    )?;
    Ok(Enrolled {
        device,
        deactivation_code: answer.deactivation_code,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_taken_apart_and_custom_schemes_read_as_https() {
        let link = parse_link(
            "https://d.example:7403/deviceConfig/2.25.1/0123abcd?expireDate=2026-01-01T00%3A00%3A00.000Z",
        )
        .expect("link");
        assert_eq!(link.secret, "0123abcd");
        let custom = parse_link("acme-id://d.example/deviceConfig/2.25.1/0123abcd").expect("link");
        assert_eq!(custom.url, "https://d.example/deviceConfig/2.25.1/0123abcd");
        for bad in [
            "http://d.example/deviceConfig/2.25.1/x",
            "https://d.example/other/2.25.1/x",
            "nonsense",
        ] {
            assert!(parse_link(bad).is_err(), "{bad}");
        }
    }
}
