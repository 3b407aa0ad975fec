//! Access keys (SPEC §4; PassBy[ME] "Access key management"): application and management keys
//! of an account, each with certificates issued by the platform's access-keys CA — from a key
//! pair the server generates (the private key and a random PFX password are then kept sealed for
//! download) or from the administrator's own PKCS#10 request (the server never sees that key).
//!
//! A certificate authenticates over mutual TLS only while it is active, unexpired and its key
//! is not deleted; [`authenticate`] reads that from the database on every request, so a
//! revocation takes effect at once on every instance.

use crate::platform_pki::{self, Purpose};
use crate::rights::{Actor, Area, Verb, authorize};
use crate::{IdentityError, Result, history};
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use diesel::prelude::*;
use lanyard_core::id::AccountId;
use lanyard_core::{Clock, SecretString};
use lanyard_pki::{Issue, KeySpec, MasterKey, PKey, Profile, Subject, X509, generate_key};
use lanyard_store::schema::{access_keys, applications, certificates};
use lanyard_store::{DbConnection, write_transaction};

/// Validity of an access-key certificate.
pub const CERTIFICATE_VALIDITY: TimeDelta = TimeDelta::days(2 * 365);

/// What a key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// An application sending messages through auth-api.
    Application,
    /// A management tool using admin-api's `/rest` and `/download`.
    Management,
}

impl KeyKind {
    /// Stored and wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Application => "application",
            Self::Management => "management",
        }
    }

    /// The kind named `name`.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "application" => Ok(Self::Application),
            "management" => Ok(Self::Management),
            _ => Err(IdentityError::invalid(
                "type",
                "must be application or management",
            )),
        }
    }
}

/// An access key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKey {
    /// Id.
    pub id: String,
    /// Its account.
    pub account: AccountId,
    /// Kind.
    pub kind: KeyKind,
    /// Name.
    pub name: String,
    /// The application of an application key.
    pub application_id: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// State of a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateStatus {
    /// Usable.
    Active,
    /// Past its validity.
    Expired,
    /// Revoked (state `REVOKED` of the manuals).
    Revoked,
}

impl CertificateStatus {
    /// Wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Expired => "EXPIRED",
            Self::Revoked => "REVOKED",
        }
    }
}

/// A certificate of an access key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    /// Serial number (hex).
    pub serial: String,
    /// Subject, one line.
    pub subject: String,
    /// Start of validity.
    pub not_before: DateTime<Utc>,
    /// End of validity.
    pub not_after: DateTime<Utc>,
    /// State now.
    pub status: CertificateStatus,
    /// Revocation time.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Whether the server generated the key pair (PFX and key download available).
    pub generated: bool,
}

/// Where the key pair of a new certificate comes from.
#[derive(Debug, Clone, Copy)]
pub enum KeySource<'a> {
    /// The server generates an RSA 2048 key pair (what PassBy[ME] clients expect).
    Generate,
    /// The administrator's own PKCS#10 request, PEM or DER.
    Csr(&'a [u8]),
}

/// Who a verified client certificate belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyIdentity {
    /// The account.
    pub account: AccountId,
    /// The key.
    pub key_id: String,
    /// Its name.
    pub key_name: String,
    /// Its kind.
    pub kind: KeyKind,
    /// The application of an application key.
    pub application_id: Option<String>,
}

impl KeyIdentity {
    /// The actor of a management-key request: every right on its own account, like an API
    /// token (and recorded by the key's name in the account history).
    pub fn actor(&self) -> Actor {
        let mut actor = Actor::api_token(self.account.clone(), &self.key_name);
        actor.name = format!("Access key {}", self.key_name);
        actor
    }
}

/// Associated data of a sealed private key (binds it to its certificate row).
pub(crate) fn key_context(serial: &str) -> String {
    format!("certificate-key:{serial}")
}

/// Associated data of a sealed PFX password.
pub(crate) fn password_context(serial: &str) -> String {
    format!("certificate-password:{serial}")
}

type KeyRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    NaiveDateTime,
);

fn key_of(row: KeyRow) -> Result<AccessKey> {
    let (id, account, kind, name, application_id, created_at) = row;
    Ok(AccessKey {
        id,
        account: AccountId::from_stored(account),
        kind: KeyKind::parse(&kind)?,
        name,
        application_id,
        created_at: created_at.and_utc(),
    })
}

fn find_key(conn: &mut DbConnection, account: &AccountId, id: &str) -> Result<AccessKey> {
    let row: Option<KeyRow> = access_keys::table
        .filter(access_keys::id.eq(id))
        .filter(access_keys::account_id.eq(account.as_str()))
        .filter(access_keys::deleted_at.is_null())
        .select((
            access_keys::id,
            access_keys::account_id,
            access_keys::kind,
            access_keys::name,
            access_keys::application_id,
            access_keys::created_at,
        ))
        .first(conn)
        .optional()?;
    row.map(key_of)
        .transpose()?
        .ok_or_else(|| IdentityError::not_found("access key", id))
}

fn subject_line(subject: &Subject) -> String {
    let mut parts = vec![format!("CN={}", subject.common_name)];
    if let Some(ou) = &subject.organizational_unit {
        parts.push(format!("OU={ou}"));
    }
    if let Some(o) = &subject.organization {
        parts.push(format!("O={o}"));
    }
    parts.join(", ")
}

/// Issues a certificate for `key` and stores it; returns it with the PFX password when the key
/// pair was generated.
fn issue_for(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    master: &MasterKey,
    key: &AccessKey,
    generated: Option<&PKey<lanyard_pki::Private>>,
    public_key: &PKey<lanyard_pki::Public>,
    crl_base: &str,
) -> Result<(CertificateInfo, Option<SecretString>)> {
    let account_name = crate::account::get(conn, &key.account)?.name;
    let ca = platform_pki::active(conn, master, Purpose::AccessKeys)?;
    let now = DateTime::from_timestamp(clock.now().timestamp(), 0).unwrap_or_else(|| clock.now());
    let not_after = (now + CERTIFICATE_VALIDITY).min(platform_pki::not_after(conn, &ca.id)?);
    let subject = Subject {
        common_name: key.name.clone(),
        organization: Some(account_name),
        organizational_unit: Some(match key.kind {
            KeyKind::Application => "Application key".to_owned(),
            KeyKind::Management => "Management key".to_owned(),
        }),
    };
    let crl_url = platform_pki::crl_url(crl_base, &ca.id);
    let cert = ca.ca.issue(&Issue {
        subject: &subject,
        public_key,
        profile: Profile::Client,
        not_before: now,
        not_after,
        crl_url: Some(&crl_url),
    })?;
    let serial = lanyard_pki::serial_hex(&cert)?;
    let cert_pem = String::from_utf8(cert.to_pem().map_err(lanyard_pki::PkiError::from)?)
        .map_err(|e| IdentityError::Crypto(e.to_string()))?;
    let (key_sealed, password, password_sealed) = match generated {
        Some(private) => {
            let pem = private
                .private_key_to_pem_pkcs8()
                .map_err(lanyard_pki::PkiError::from)?;
            let password = lanyard_pki::random_password(20)?;
            (
                Some(master.seal(&key_context(&serial), &pem)?),
                Some(SecretString::new(password.clone())),
                Some(master.seal(&password_context(&serial), password.as_bytes())?),
            )
        }
        None => (None, None, None),
    };
    let subject = subject_line(&subject);
    diesel::insert_into(certificates::table)
        .values((
            certificates::serial.eq(&serial),
            certificates::ca_id.eq(&ca.id),
            certificates::account_id.eq(key.account.as_str()),
            certificates::access_key_id.eq(&key.id),
            certificates::subject.eq(&subject),
            certificates::not_before.eq(now.naive_utc()),
            certificates::not_after.eq(not_after.naive_utc()),
            certificates::status.eq("active"),
            certificates::cert_pem.eq(&cert_pem),
            certificates::key_sealed.eq(key_sealed),
            certificates::pfx_password_sealed.eq(password_sealed),
            certificates::created_at.eq(clock.now().naive_utc()),
        ))
        .execute(conn)?;
    Ok((
        CertificateInfo {
            serial,
            subject,
            not_before: now,
            not_after,
            status: CertificateStatus::Active,
            revoked_at: None,
            generated: generated.is_some(),
        },
        password,
    ))
}

/// The public key to certify: a fresh RSA pair, or the request's key after its checks.
fn key_material(
    source: KeySource<'_>,
) -> Result<(
    Option<PKey<lanyard_pki::Private>>,
    PKey<lanyard_pki::Public>,
)> {
    match source {
        KeySource::Generate => {
            let private = generate_key(KeySpec::Rsa2048)?;
            let public = PKey::public_key_from_der(
                &private
                    .public_key_to_der()
                    .map_err(lanyard_pki::PkiError::from)?,
            )
            .map_err(lanyard_pki::PkiError::from)?;
            Ok((Some(private), public))
        }
        KeySource::Csr(bytes) => Ok((None, lanyard_pki::parse_csr(bytes)?.public_key)),
    }
}

/// What [`create`] and [`issue_certificate`] return.
#[derive(Debug)]
pub struct Issued {
    /// The key.
    pub key: AccessKey,
    /// The new certificate.
    pub certificate: CertificateInfo,
    /// The PFX password, when the server generated the key pair.
    pub pfx_password: Option<SecretString>,
}

/// Adds an access key to `account` with its first certificate.
#[allow(clippy::too_many_arguments)]
pub fn create(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    master: &MasterKey,
    actor: &Actor,
    account: &AccountId,
    kind: KeyKind,
    name: &str,
    application_id: Option<&str>,
    source: KeySource<'_>,
    crl_base: &str,
) -> Result<Issued> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(IdentityError::invalid(
            "name",
            "is required, at most 64 characters",
        ));
    }
    // Key generation and CSR checks before the write transaction (RSA takes a while).
    let (private, public) = key_material(source)?;
    write_transaction(conn, |conn| {
        authorize(conn, actor, Area::AccessKeys, Verb::Create, account)?;
        let application_id = match (
            kind,
            application_id.map(str::trim).filter(|a| !a.is_empty()),
        ) {
            (KeyKind::Application, Some(app)) => {
                let found: i64 = applications::table
                    .filter(applications::id.eq(app))
                    .filter(applications::account_id.eq(account.as_str()))
                    .count()
                    .get_result(conn)?;
                if found == 0 {
                    return Err(IdentityError::invalid(
                        "applicationId",
                        "is not an application of this organization",
                    ));
                }
                Some(app.to_owned())
            }
            (KeyKind::Application, None) => {
                return Err(IdentityError::invalid(
                    "applicationId",
                    "is required for an application key",
                ));
            }
            (KeyKind::Management, Some(_)) => {
                return Err(IdentityError::invalid(
                    "applicationId",
                    "is only for application keys",
                ));
            }
            (KeyKind::Management, None) => None,
        };
        let key = AccessKey {
            id: uuid::Uuid::new_v4().to_string(),
            account: account.clone(),
            kind,
            name: name.to_owned(),
            application_id,
            created_at: clock.now(),
        };
        diesel::insert_into(access_keys::table)
            .values((
                access_keys::id.eq(&key.id),
                access_keys::account_id.eq(account.as_str()),
                access_keys::kind.eq(kind.as_str()),
                access_keys::name.eq(&key.name),
                access_keys::application_id.eq(key.application_id.as_deref()),
                access_keys::created_at.eq(key.created_at.naive_utc()),
            ))
            .execute(conn)?;
        let (certificate, pfx_password) = issue_for(
            conn,
            clock,
            master,
            &key,
            private.as_ref(),
            &public,
            crl_base,
        )?;
        history::record_by(
            conn,
            clock,
            actor,
            account,
            "Access keys",
            &format!(
                "{} key {} added (certificate {})",
                if kind == KeyKind::Application {
                    "Application"
                } else {
                    "Management"
                },
                key.name,
                certificate.serial
            ),
        )?;
        Ok(Issued {
            key,
            certificate,
            pfx_password,
        })
    })
}

/// Issues a new certificate for key `key_id` of `account`.
#[allow(clippy::too_many_arguments)]
pub fn issue_certificate(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    master: &MasterKey,
    actor: &Actor,
    account: &AccountId,
    key_id: &str,
    source: KeySource<'_>,
    crl_base: &str,
) -> Result<Issued> {
    let (private, public) = key_material(source)?;
    write_transaction(conn, |conn| {
        authorize(conn, actor, Area::AccessKeys, Verb::Edit, account)?;
        let key = find_key(conn, account, key_id)?;
        let (certificate, pfx_password) = issue_for(
            conn,
            clock,
            master,
            &key,
            private.as_ref(),
            &public,
            crl_base,
        )?;
        history::record_by(
            conn,
            clock,
            actor,
            account,
            "Access keys",
            &format!(
                "Certificate {} issued for key {}",
                certificate.serial, key.name
            ),
        )?;
        Ok(Issued {
            key,
            certificate,
            pfx_password,
        })
    })
}

/// The keys of `account` of one kind, by name.
pub fn list(
    conn: &mut DbConnection,
    actor: &Actor,
    account: &AccountId,
    kind: KeyKind,
) -> Result<Vec<AccessKey>> {
    authorize(conn, actor, Area::AccessKeys, Verb::View, account)?;
    let rows: Vec<KeyRow> = access_keys::table
        .filter(access_keys::account_id.eq(account.as_str()))
        .filter(access_keys::kind.eq(kind.as_str()))
        .filter(access_keys::deleted_at.is_null())
        .order(access_keys::name)
        .select((
            access_keys::id,
            access_keys::account_id,
            access_keys::kind,
            access_keys::name,
            access_keys::application_id,
            access_keys::created_at,
        ))
        .load(conn)?;
    rows.into_iter().map(key_of).collect()
}

/// Key `key_id` of `account`.
pub fn get(
    conn: &mut DbConnection,
    actor: &Actor,
    account: &AccountId,
    key_id: &str,
) -> Result<AccessKey> {
    authorize(conn, actor, Area::AccessKeys, Verb::View, account)?;
    find_key(conn, account, key_id)
}

type CertRow = (
    String,
    String,
    NaiveDateTime,
    NaiveDateTime,
    String,
    Option<NaiveDateTime>,
    Option<String>,
);

/// The certificates of key `key_id`, newest first, with their state at `clock`'s now.
pub fn certificates_of(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    account: &AccountId,
    key_id: &str,
) -> Result<Vec<CertificateInfo>> {
    authorize(conn, actor, Area::AccessKeys, Verb::View, account)?;
    find_key(conn, account, key_id)?;
    let rows: Vec<CertRow> = certificates::table
        .filter(certificates::access_key_id.eq(key_id))
        .order(certificates::created_at.desc())
        .select((
            certificates::serial,
            certificates::subject,
            certificates::not_before,
            certificates::not_after,
            certificates::status,
            certificates::revoked_at,
            certificates::key_sealed,
        ))
        .load(conn)?;
    let now = clock.now();
    Ok(rows
        .into_iter()
        .map(
            |(serial, subject, nb, na, status, revoked_at, key)| CertificateInfo {
                serial,
                subject,
                not_before: nb.and_utc(),
                not_after: na.and_utc(),
                status: if status == "revoked" {
                    CertificateStatus::Revoked
                } else if na.and_utc() <= now {
                    CertificateStatus::Expired
                } else {
                    CertificateStatus::Active
                },
                revoked_at: revoked_at.map(|r| r.and_utc()),
                generated: key.is_some(),
            },
        )
        .collect())
}

struct Stored {
    ca_id: String,
    cert_pem: String,
    key_sealed: Option<String>,
    password_sealed: Option<String>,
    key_name: String,
}

fn stored(conn: &mut DbConnection, account: &AccountId, serial: &str) -> Result<Stored> {
    type StoredRow = (String, String, Option<String>, Option<String>, String);
    let row: Option<StoredRow> = certificates::table
        .inner_join(access_keys::table)
        .filter(certificates::serial.eq(serial))
        .filter(certificates::account_id.eq(account.as_str()))
        .filter(access_keys::deleted_at.is_null())
        .select((
            certificates::ca_id,
            certificates::cert_pem,
            certificates::key_sealed,
            certificates::pfx_password_sealed,
            access_keys::name,
        ))
        .first(conn)
        .optional()?;
    let (ca_id, cert_pem, key_sealed, password_sealed, key_name) =
        row.ok_or_else(|| IdentityError::not_found("certificate", serial))?;
    Ok(Stored {
        ca_id,
        cert_pem,
        key_sealed,
        password_sealed,
        key_name,
    })
}

fn private_key(
    master: &MasterKey,
    serial: &str,
    s: &Stored,
) -> Result<Option<PKey<lanyard_pki::Private>>> {
    s.key_sealed
        .as_deref()
        .map(|sealed| {
            let pem = master.open(&key_context(serial), sealed)?;
            Ok(PKey::private_key_from_pem(&pem).map_err(lanyard_pki::PkiError::from)?)
        })
        .transpose()
}

/// PEM download: the certificate and its chain, plus the private key when the server generated
/// it.
pub fn download_pem(
    conn: &mut DbConnection,
    master: &MasterKey,
    actor: &Actor,
    account: &AccountId,
    serial: &str,
) -> Result<Vec<u8>> {
    authorize(conn, actor, Area::AccessKeys, Verb::View, account)?;
    let s = stored(conn, account, serial)?;
    let cert = X509::from_pem(s.cert_pem.as_bytes()).map_err(lanyard_pki::PkiError::from)?;
    let chain = platform_pki::chain(conn, &s.ca_id)?;
    let key = private_key(master, serial, &s)?;
    Ok(lanyard_pki::pem_chain(&cert, &chain, key.as_deref())?)
}

/// PKCS#12 download (only for a server-generated key pair), under the certificate's password.
pub fn download_pfx(
    conn: &mut DbConnection,
    master: &MasterKey,
    actor: &Actor,
    account: &AccountId,
    serial: &str,
) -> Result<Vec<u8>> {
    authorize(conn, actor, Area::AccessKeys, Verb::View, account)?;
    let s = stored(conn, account, serial)?;
    let (Some(key), Some(password)) = (
        private_key(master, serial, &s)?,
        s.password_sealed.as_deref(),
    ) else {
        return Err(IdentityError::NotAllowed(
            "this certificate was issued for your own request: the key is yours, so there is no PFX to download; download the PEM".into(),
        ));
    };
    let password = master.open(&password_context(serial), password)?;
    let password = String::from_utf8(password).map_err(|e| IdentityError::Crypto(e.to_string()))?;
    let cert = X509::from_pem(s.cert_pem.as_bytes()).map_err(lanyard_pki::PkiError::from)?;
    let chain = platform_pki::chain(conn, &s.ca_id)?;
    Ok(lanyard_pki::pkcs12(
        &s.key_name,
        &key,
        &cert,
        &chain,
        &password,
    )?)
}

/// The PFX password of a server-generated certificate ("show password").
pub fn pfx_password(
    conn: &mut DbConnection,
    master: &MasterKey,
    actor: &Actor,
    account: &AccountId,
    serial: &str,
) -> Result<SecretString> {
    authorize(conn, actor, Area::AccessKeys, Verb::View, account)?;
    let s = stored(conn, account, serial)?;
    let sealed = s.password_sealed.ok_or_else(|| {
        IdentityError::NotAllowed(
            "this certificate has no PFX password (it was issued for your own request)".into(),
        )
    })?;
    let password = master.open(&password_context(serial), &sealed)?;
    Ok(SecretString::new(
        String::from_utf8(password).map_err(|e| IdentityError::Crypto(e.to_string()))?,
    ))
}

/// Marks certificate `serial` revoked (once: a second revocation changes nothing); `true`
/// when this call revoked it. The caller publishes a new CRL.
fn revoke_row(conn: &mut DbConnection, clock: &dyn Clock, serial: &str) -> Result<bool> {
    let changed = diesel::update(
        certificates::table
            .filter(certificates::serial.eq(serial))
            .filter(certificates::status.eq("active")),
    )
    .set((
        certificates::status.eq("revoked"),
        certificates::revoked_at.eq(clock.now().naive_utc()),
    ))
    .execute(conn)?;
    Ok(changed > 0)
}

/// Revokes certificate `serial` of `account` and publishes a new CRL of its CA.
pub fn revoke(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    master: &MasterKey,
    actor: &Actor,
    account: &AccountId,
    serial: &str,
) -> Result<()> {
    let ca_id = write_transaction(conn, |conn| {
        authorize(conn, actor, Area::AccessKeys, Verb::Edit, account)?;
        let s = stored(conn, account, serial)?;
        if revoke_row(conn, clock, serial)? {
            history::record_by(
                conn,
                clock,
                actor,
                account,
                "Access keys",
                &format!("Certificate {serial} of key {} revoked", s.key_name),
            )?;
        }
        Ok::<_, IdentityError>(s.ca_id)
    })?;
    platform_pki::crl(conn, clock, master, &ca_id, true)?;
    Ok(())
}

/// Deletes key `key_id`: all its certificates are revoked, then it is gone from lists.
pub fn delete(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    master: &MasterKey,
    actor: &Actor,
    account: &AccountId,
    key_id: &str,
) -> Result<()> {
    let cas = write_transaction(conn, |conn| {
        authorize(conn, actor, Area::AccessKeys, Verb::Delete, account)?;
        let key = find_key(conn, account, key_id)?;
        let certs: Vec<(String, String)> = certificates::table
            .filter(certificates::access_key_id.eq(key_id))
            .select((certificates::serial, certificates::ca_id))
            .load(conn)?;
        let mut cas = Vec::new();
        for (serial, ca) in certs {
            if revoke_row(conn, clock, &serial)? && !cas.contains(&ca) {
                cas.push(ca);
            }
        }
        diesel::update(access_keys::table.find(key_id))
            .set(access_keys::deleted_at.eq(clock.now().naive_utc()))
            .execute(conn)?;
        history::record_by(
            conn,
            clock,
            actor,
            account,
            "Access keys",
            &format!("Key {} deleted; its certificates are revoked", key.name),
        )?;
        Ok::<_, IdentityError>(cas)
    })?;
    for ca in cas {
        platform_pki::crl(conn, clock, master, &ca, true)?;
    }
    Ok(())
}

/// Who the presented client certificate (DER) belongs to, if it may authenticate now: it must be
/// exactly a certificate the platform issued (same bytes, not merely the same serial) — see
/// [`authenticate`] for the other conditions. One query: this runs on every mTLS request.
pub fn authenticate_certificate(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    der: &[u8],
) -> Result<Option<KeyIdentity>> {
    let Ok(cert) = lanyard_pki::certificate_from_der(der) else {
        return Ok(None);
    };
    let serial = lanyard_pki::serial_hex(&cert)?;
    Ok(active_key(conn, clock, &serial)?
        .filter(|(pem, _)| lanyard_pki::same_certificate(pem, der))
        .map(|(_, identity)| identity))
}

/// Whether `der` is exactly a certificate this platform issued and then revoked (so that the
/// messaging API can answer PassBy[ME]'s `CERTIFICATE_REVOKED` instead of a bare refusal).
pub fn is_revoked(conn: &mut DbConnection, der: &[u8]) -> Result<bool> {
    let Ok(cert) = lanyard_pki::certificate_from_der(der) else {
        return Ok(false);
    };
    let serial = lanyard_pki::serial_hex(&cert)?;
    let pem: Option<String> = certificates::table
        .filter(certificates::serial.eq(&serial))
        .filter(certificates::status.eq("revoked"))
        .select(certificates::cert_pem)
        .first(conn)
        .optional()?;
    Ok(pem.is_some_and(|pem| lanyard_pki::same_certificate(&pem, der)))
}

/// Who the client certificate with `serial` belongs to, if it may authenticate now: issued by
/// the platform to an access key that still exists, active (not revoked), within its validity.
pub fn authenticate(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    serial: &str,
) -> Result<Option<KeyIdentity>> {
    Ok(active_key(conn, clock, serial)?.map(|(_, identity)| identity))
}

/// The stored certificate (PEM) with serial `serial` and its key, when it may authenticate now.
fn active_key(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    serial: &str,
) -> Result<Option<(String, KeyIdentity)>> {
    let now = clock.now().naive_utc();
    type Found = (String, String, String, String, String, Option<String>);
    let row: Option<Found> = certificates::table
        .inner_join(access_keys::table)
        .filter(certificates::serial.eq(serial))
        .filter(certificates::status.eq("active"))
        .filter(certificates::not_before.le(now))
        .filter(certificates::not_after.gt(now))
        .filter(access_keys::deleted_at.is_null())
        .select((
            certificates::cert_pem,
            access_keys::account_id,
            access_keys::id,
            access_keys::name,
            access_keys::kind,
            access_keys::application_id,
        ))
        .first(conn)
        .optional()?;
    row.map(|(pem, account, key_id, key_name, kind, application_id)| {
        Ok((
            pem,
            KeyIdentity {
                account: AccountId::from_stored(account),
                key_id,
                key_name,
                kind: KeyKind::parse(&kind)?,
                application_id,
            },
        ))
    })
    .transpose()
}
