//! Access keys (SPEC §4; PassBy[ME] "Access key management"): application and management keys
//! of an account, each with certificates issued by the platform's access-keys CA — from a key
//! pair the server generates (the private key and a random PFX password are then kept sealed for
//! download) or from the administrator's own PKCS#10 request (the server never sees that key).
//!
//! A certificate authenticates over mutual TLS only while it is active, unexpired, its key is
//! not deleted and its account is neither disabled nor deleted; [`authenticate`] reads that from
//! the database on every request, so a revocation (or a disabled account) takes effect at once
//! on every instance.
//!
//! No credential is wider than its maker (docs/security.md): a key records the rights and scope
//! of whoever made it and acts with exactly those; a new certificate for an existing key needs
//! rights and a scope that include the key's; an application key needs the right to send
//! messages. A private key the server generated is handed out once, to the one who made the
//! certificate, and then erased.

use crate::account::AccountStatus;
use crate::platform_pki::{self, Purpose};
use crate::rights::{Actor, Area, Rights, Scope, Verb, authorize, require_within};
use crate::{IdentityError, Result, history};
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use diesel::prelude::*;
use lanyard_core::id::AccountId;
use lanyard_core::{Clock, SecretString};
use lanyard_pki::{Issue, KeySpec, MasterKey, PKey, Profile, Subject, X509, generate_key};
use lanyard_store::schema::{access_keys, accounts, applications, certificates};
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
    /// Whether the server generated the key pair (it then has a PFX password).
    pub generated: bool,
    /// Whether the generated private key can still be taken (once, by the certificate's maker).
    pub key_available: bool,
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
    /// The rights the key acts with (its maker's when it was made).
    pub rights: Rights,
    /// The accounts it reaches (its maker's scope when it was made).
    pub scope: Scope,
}

impl KeyIdentity {
    /// The actor of a management-key request: the rights and scope recorded with the key,
    /// recorded by the key's name in the account history.
    pub fn actor(&self) -> Actor {
        Actor {
            account: self.account.clone(),
            rights: self.rights.clone(),
            scope: self.scope.clone(),
            name: format!("Access key {}", self.key_name),
            email: None,
            administrator: None,
            principal: format!("access-key:{}", self.key_id),
        }
    }
}

/// The rights stored with a key: `None` for a key made before rights were recorded (every
/// right, as such keys always had).
fn stored_rights(rights: Option<&str>, order: bool, transfer: bool) -> Result<Rights> {
    match rights {
        None => Ok(Rights::all()),
        Some(encoded) => Rights::decode(encoded, order, transfer),
    }
}

/// The rights and scope an actor hands to a key it makes for `account`: its own (a key for an
/// account below the actor's reaches that account's subtree, which must be within the actor's
/// reach).
fn grant_of(
    conn: &mut DbConnection,
    actor: &Actor,
    account: &AccountId,
) -> Result<(Rights, Scope)> {
    let scope = if account == &actor.account {
        actor.scope.clone()
    } else {
        Scope::Subtree
    };
    require_within(conn, actor, &actor.rights, account, &scope, "the key")?;
    Ok((actor.rights.clone(), scope))
}

/// An application key sends messages to the organization's end users in its application's
/// name: only someone who may send messages can make one or give it a new certificate.
fn require_messaging(actor: &Actor, kind: KeyKind) -> Result<()> {
    if kind == KeyKind::Application && !actor.rights.allows(Area::Messages, Verb::Create) {
        return Err(IdentityError::Forbidden(
            "an application key sends messages: your profile does not allow create in Messages"
                .into(),
        ));
    }
    Ok(())
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

/// The rights and scope recorded with key `key_id`.
fn grant(conn: &mut DbConnection, key_id: &str) -> Result<(Rights, Scope)> {
    let (rights, order, transfer, scope): (Option<String>, bool, bool, Option<String>) =
        access_keys::table
            .find(key_id)
            .select((
                access_keys::rights,
                access_keys::can_order_credits,
                access_keys::can_transfer_credits,
                access_keys::scope_accounts,
            ))
            .first(conn)?;
    Ok((
        stored_rights(rights.as_deref(), order, transfer)?,
        Scope::decode(scope.as_deref()),
    ))
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
#[expect(
    clippy::too_many_arguments,
    reason = "the certificate's parts and who asked for it"
)]
fn issue_for(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    master: &MasterKey,
    actor: &Actor,
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
            certificates::issued_by.eq(&actor.principal),
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
            key_available: generated.is_some(),
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
        require_messaging(actor, kind)?;
        let (rights, scope) = grant_of(conn, actor, account)?;
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
                access_keys::rights.eq(rights.encode()),
                access_keys::can_order_credits.eq(rights.can_order_credits),
                access_keys::can_transfer_credits.eq(rights.can_transfer_credits),
                access_keys::scope_accounts.eq(scope.encode()),
                access_keys::created_by.eq(&actor.principal),
            ))
            .execute(conn)?;
        let (certificate, pfx_password) = issue_for(
            conn,
            clock,
            master,
            actor,
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
        // A new certificate is the key's power in new hands: only for someone holding it all.
        require_messaging(actor, key.kind)?;
        let (rights, scope) = grant(conn, key_id)?;
        require_within(conn, actor, &rights, account, &scope, "this key")?;
        let (certificate, pfx_password) = issue_for(
            conn,
            clock,
            master,
            actor,
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
    (Option<String>, Option<String>),
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
            (certificates::key_sealed, certificates::pfx_password_sealed),
        ))
        .load(conn)?;
    let now = clock.now();
    Ok(rows
        .into_iter()
        .map(
            |(serial, subject, nb, na, status, revoked_at, (key, password))| CertificateInfo {
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
                generated: password.is_some(),
                key_available: key.is_some(),
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
    issued_by: Option<String>,
}

impl Stored {
    /// Whether `actor` made this certificate: the only one who may take its generated key or
    /// see its PFX password.
    fn made_by(&self, actor: &Actor) -> bool {
        self.issued_by.as_deref() == Some(actor.principal.as_str())
    }
}

fn stored(conn: &mut DbConnection, account: &AccountId, serial: &str) -> Result<Stored> {
    type StoredRow = (
        String,
        String,
        Option<String>,
        Option<String>,
        String,
        Option<String>,
    );
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
            certificates::issued_by,
        ))
        .first(conn)
        .optional()?;
    let (ca_id, cert_pem, key_sealed, password_sealed, key_name, issued_by) =
        row.ok_or_else(|| IdentityError::not_found("certificate", serial))?;
    Ok(Stored {
        ca_id,
        cert_pem,
        key_sealed,
        password_sealed,
        key_name,
        issued_by,
    })
}

/// Takes the server-generated private key of certificate `serial` out of the database: for its
/// maker, once (the sealed key is erased by a conditional update, so of two concurrent downloads
/// one gets it). An error says why not: never generated, not the maker, already taken.
fn take_key(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    master: &MasterKey,
    actor: &Actor,
    account: &AccountId,
    serial: &str,
    s: &Stored,
) -> Result<PKey<lanyard_pki::Private>> {
    if s.password_sealed.is_none() {
        return Err(IdentityError::NotAllowed(
            "this certificate was issued for your own request: the key is yours, so there is no PFX to download; download the PEM".into(),
        ));
    }
    if !s.made_by(actor) {
        return Err(IdentityError::Forbidden(
            "only whoever issued this certificate can download its private key".into(),
        ));
    }
    let already = || {
        IdentityError::NotAllowed(
            "the private key of this certificate was downloaded already (it is handed out once); issue a new certificate".into(),
        )
    };
    let sealed = s.key_sealed.as_deref().ok_or_else(already)?;
    let pem = master.open(&key_context(serial), sealed)?;
    let key = PKey::private_key_from_pem(&pem).map_err(lanyard_pki::PkiError::from)?;
    let taken = diesel::update(
        certificates::table
            .filter(certificates::serial.eq(serial))
            .filter(certificates::key_sealed.is_not_null()),
    )
    .set((
        certificates::key_sealed.eq(None::<String>),
        certificates::key_taken_at.eq(clock.now().naive_utc()),
    ))
    .execute(conn)?;
    if taken != 1 {
        return Err(already());
    }
    history::record_by(
        conn,
        clock,
        actor,
        account,
        "Access keys",
        &format!(
            "Private key of certificate {serial} (key {}) downloaded",
            s.key_name
        ),
    )?;
    Ok(key)
}

fn pfx_of(
    conn: &mut DbConnection,
    master: &MasterKey,
    serial: &str,
    s: &Stored,
    key: &PKey<lanyard_pki::Private>,
) -> Result<Vec<u8>> {
    let sealed = s.password_sealed.as_deref().unwrap_or_default();
    let password = master.open(&password_context(serial), sealed)?;
    let password = String::from_utf8(password).map_err(|e| IdentityError::Crypto(e.to_string()))?;
    let cert = X509::from_pem(s.cert_pem.as_bytes()).map_err(lanyard_pki::PkiError::from)?;
    let chain = platform_pki::chain(conn, &s.ca_id)?;
    Ok(lanyard_pki::pkcs12(
        &s.key_name,
        key,
        &cert,
        &chain,
        &password,
    )?)
}

fn pem_of(
    conn: &mut DbConnection,
    s: &Stored,
    key: Option<&PKey<lanyard_pki::Private>>,
) -> Result<Vec<u8>> {
    let cert = X509::from_pem(s.cert_pem.as_bytes()).map_err(lanyard_pki::PkiError::from)?;
    let chain = platform_pki::chain(conn, &s.ca_id)?;
    Ok(lanyard_pki::pem_chain(&cert, &chain, key.map(|k| &**k))?)
}

/// PEM download: the certificate and its chain, plus — for its maker, the first time — the
/// private key when the server generated it. Anyone else, and the maker later, get the
/// certificate and chain only.
pub fn download_pem(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    master: &MasterKey,
    actor: &Actor,
    account: &AccountId,
    serial: &str,
) -> Result<Vec<u8>> {
    write_transaction(conn, |conn| {
        authorize(conn, actor, Area::AccessKeys, Verb::View, account)?;
        let s = stored(conn, account, serial)?;
        let key = if s.key_sealed.is_some() && s.made_by(actor) {
            Some(take_key(conn, clock, master, actor, account, serial, &s)?)
        } else {
            None
        };
        pem_of(conn, &s, key.as_ref())
    })
}

/// PKCS#12 download (only for a server-generated key pair), under the certificate's password:
/// for the certificate's maker, once.
pub fn download_pfx(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    master: &MasterKey,
    actor: &Actor,
    account: &AccountId,
    serial: &str,
) -> Result<Vec<u8>> {
    write_transaction(conn, |conn| {
        authorize(conn, actor, Area::AccessKeys, Verb::View, account)?;
        let s = stored(conn, account, serial)?;
        let key = take_key(conn, clock, master, actor, account, serial, &s)?;
        pfx_of(conn, master, serial, &s, &key)
    })
}

/// A new certificate's keystore as its maker receives it once: the PEM (chain, and the private
/// key when the server generated it) and, for a generated key, the PKCS#12.
#[derive(Debug)]
pub struct Keystore {
    /// Certificate, chain and (generated) private key, PEM.
    pub pem: Vec<u8>,
    /// PKCS#12 under the PFX password, for a generated key.
    pub pfx: Option<Vec<u8>>,
}

/// Takes the keystore of the certificate `serial` that `actor` just issued (the management
/// API's answer to a new key or certificate): the generated key is taken once for both forms.
pub fn keystore(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    master: &MasterKey,
    actor: &Actor,
    account: &AccountId,
    serial: &str,
) -> Result<Keystore> {
    write_transaction(conn, |conn| {
        authorize(conn, actor, Area::AccessKeys, Verb::View, account)?;
        let s = stored(conn, account, serial)?;
        if s.password_sealed.is_none() {
            return Ok(Keystore {
                pem: pem_of(conn, &s, None)?,
                pfx: None,
            });
        }
        let key = take_key(conn, clock, master, actor, account, serial, &s)?;
        Ok(Keystore {
            pem: pem_of(conn, &s, Some(&key))?,
            pfx: Some(pfx_of(conn, master, serial, &s, &key)?),
        })
    })
}

/// The PFX password of a server-generated certificate ("show password"), for its maker only.
pub fn pfx_password(
    conn: &mut DbConnection,
    master: &MasterKey,
    actor: &Actor,
    account: &AccountId,
    serial: &str,
) -> Result<SecretString> {
    authorize(conn, actor, Area::AccessKeys, Verb::View, account)?;
    let s = stored(conn, account, serial)?;
    let sealed = s.password_sealed.clone().ok_or_else(|| {
        IdentityError::NotAllowed(
            "this certificate has no PFX password (it was issued for your own request)".into(),
        )
    })?;
    if !s.made_by(actor) {
        return Err(IdentityError::Forbidden(
            "only whoever issued this certificate can see its PFX password".into(),
        ));
    }
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

/// Revokes every active certificate of `account` — its access keys' and its phones' — when the
/// account is deleted (in the deletion's transaction); returns the CAs whose CRLs must be made
/// anew.
pub(crate) fn revoke_all_of_account(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    account: &AccountId,
) -> Result<Vec<String>> {
    let mut cas: Vec<String> = certificates::table
        .filter(certificates::account_id.eq(account.as_str()))
        .filter(certificates::status.eq("active"))
        .select(certificates::ca_id)
        .distinct()
        .load(conn)?;
    cas.sort();
    diesel::update(
        certificates::table
            .filter(certificates::account_id.eq(account.as_str()))
            .filter(certificates::status.eq("active")),
    )
    .set((
        certificates::status.eq("revoked"),
        certificates::revoked_at.eq(clock.now().naive_utc()),
    ))
    .execute(conn)?;
    Ok(cas)
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

/// The stored certificate (PEM) with serial `serial` and its key, when it may authenticate now:
/// also never while the key's account is disabled or deleted.
fn active_key(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    serial: &str,
) -> Result<Option<(String, KeyIdentity)>> {
    let now = clock.now().naive_utc();
    type Found = (
        String,
        (String, String, String, String, Option<String>),
        (Option<String>, bool, bool, Option<String>),
    );
    let row: Option<Found> = certificates::table
        .inner_join(access_keys::table)
        .inner_join(accounts::table.on(accounts::id.eq(access_keys::account_id)))
        .filter(certificates::serial.eq(serial))
        .filter(certificates::status.eq("active"))
        .filter(certificates::not_before.le(now))
        .filter(certificates::not_after.gt(now))
        .filter(access_keys::deleted_at.is_null())
        // Two plain comparisons rather than NOT IN: diesel caches this statement (hot path).
        .filter(accounts::status.ne(AccountStatus::Disabled.as_str()))
        .filter(accounts::status.ne(AccountStatus::Deleted.as_str()))
        .select((
            certificates::cert_pem,
            (
                access_keys::account_id,
                access_keys::id,
                access_keys::name,
                access_keys::kind,
                access_keys::application_id,
            ),
            (
                access_keys::rights,
                access_keys::can_order_credits,
                access_keys::can_transfer_credits,
                access_keys::scope_accounts,
            ),
        ))
        .first(conn)
        .optional()?;
    row.map(
        |(
            pem,
            (account, key_id, key_name, kind, application_id),
            (rights, order, transfer, scope),
        )| {
            Ok((
                pem,
                KeyIdentity {
                    account: AccountId::from_stored(account),
                    key_id,
                    key_name,
                    kind: KeyKind::parse(&kind)?,
                    application_id,
                    rights: stored_rights(rights.as_deref(), order, transfer)?,
                    scope: Scope::decode(scope.as_deref()),
                },
            ))
        },
    )
    .transpose()
}
