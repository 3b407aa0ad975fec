//! Access keys over the management API (a Lanyard extension beside PassBy[ME]'s API, for
//! automation): list, add (generated key pair or PKCS#10), certificates, issue, revoke, delete.
//! A bad request (`csr` with a weak key, a bad signature, or not a PKCS#10 at all) is a 420
//! `MALFORMED_INPUT` naming the field.

pub(crate) mod certificates;
pub(crate) mod create;
pub(crate) mod delete;
pub(crate) mod list;
pub(crate) mod revoke;

use crate::rest::iso;
use lanyard_identity::access_key::{AccessKey, CertificateInfo, Issued};
use lanyard_identity::{IdentityError, access_key};
use lanyard_pki::MasterKey;
use lanyard_store::DbConnection;
use serde::Serialize;

/// An access key.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AccessKeyData {
    id: String,
    name: String,
    #[serde(rename = "type")]
    kind: &'static str,
    application_id: Option<String>,
    created: String,
}

impl From<&AccessKey> for AccessKeyData {
    fn from(k: &AccessKey) -> Self {
        Self {
            id: k.id.clone(),
            name: k.name.clone(),
            kind: k.kind.as_str(),
            application_id: k.application_id.clone(),
            created: iso(k.created_at),
        }
    }
}

/// A certificate of an access key.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CertificateData {
    serial: String,
    subject: String,
    not_before: String,
    not_after: String,
    status: &'static str,
    revoked: Option<String>,
    generated: bool,
    /// Whether the generated private key can still be downloaded (once, by its maker).
    key_available: bool,
}

impl From<&CertificateInfo> for CertificateData {
    fn from(c: &CertificateInfo) -> Self {
        Self {
            serial: c.serial.clone(),
            subject: c.subject.clone(),
            not_before: iso(c.not_before),
            not_after: iso(c.not_after),
            status: c.status.as_str(),
            revoked: c.revoked_at.map(iso),
            generated: c.generated,
            key_available: c.key_available,
        }
    }
}

/// What adding a key or a certificate answers: the certificate with its chain (PEM), and for a
/// generated key pair the private key (in the PEM), the PKCS#12 (base64) and its password —
/// handed out here once, like a token: the server erases the key afterwards.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct IssuedData {
    key: AccessKeyData,
    certificate: CertificateData,
    pem: String,
    pfx: Option<String>,
    pfx_password: Option<String>,
}

/// Builds the answer of a new certificate.
pub(crate) fn issued(
    conn: &mut DbConnection,
    clock: &dyn lanyard_core::Clock,
    master: &MasterKey,
    actor: &lanyard_identity::rights::Actor,
    account: &lanyard_core::id::AccountId,
    issued: &Issued,
) -> Result<IssuedData, IdentityError> {
    let serial = &issued.certificate.serial;
    let keystore = access_key::keystore(conn, clock, master, actor, account, serial)?;
    let mut certificate = CertificateData::from(&issued.certificate);
    certificate.key_available = false;
    Ok(IssuedData {
        key: AccessKeyData::from(&issued.key),
        certificate,
        pem: String::from_utf8_lossy(&keystore.pem).into_owned(),
        pfx: keystore.pfx.as_deref().map(openssl::base64::encode_block),
        pfx_password: issued.pfx_password.as_ref().map(|p| p.expose().to_owned()),
    })
}
