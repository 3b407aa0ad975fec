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
        }
    }
}

/// What adding a key or a certificate answers: the certificate with its chain (PEM), and for a
/// generated key pair the PKCS#12 (base64) with its password — shown here once, like a token.
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
    master: &MasterKey,
    actor: &lanyard_identity::rights::Actor,
    account: &lanyard_core::id::AccountId,
    issued: &Issued,
) -> Result<IssuedData, IdentityError> {
    let serial = &issued.certificate.serial;
    let pem = access_key::download_pem(conn, master, actor, account, serial)?;
    let pfx = match issued.pfx_password {
        Some(_) => Some(openssl::base64::encode_block(&access_key::download_pfx(
            conn, master, actor, account, serial,
        )?)),
        None => None,
    };
    Ok(IssuedData {
        key: AccessKeyData::from(&issued.key),
        certificate: CertificateData::from(&issued.certificate),
        pem: String::from_utf8_lossy(&pem).into_owned(),
        pfx,
        pfx_password: issued.pfx_password.as_ref().map(|p| p.expose().to_owned()),
    })
}
