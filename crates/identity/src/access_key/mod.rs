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

mod authenticate;
mod download;
mod issue;
mod revoke;

pub use authenticate::*;
pub use download::*;
pub use issue::*;
pub use revoke::*;

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
