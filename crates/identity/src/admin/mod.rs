//! Administrators: invitations (by e-mail or by code), registration, activation, login,
//! passwords, e-mail changes, and management by other administrators.
//!
//! Every once-only secret (invitation code, activation code, reset and e-mail-change links) is
//! random, stored only as a SHA-256, expires, is consumed by a conditional update (so exactly one
//! of several concurrent uses succeeds), and its guessing is rate-limited.

use crate::account::{self, AccountStatus};
use crate::profile::{self, Profile};
use crate::rights::{Actor, Area, Rights, Scope, Verb, authorize};
use crate::throttle::{self, Limit};
use crate::{IdentityError, Result, history, organization, password};
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use diesel::prelude::*;
use lanyard_core::codes::random_base62;
use lanyard_core::id::{AccountId, AdministratorId, ProfileId};
use lanyard_core::secret::{constant_time_eq, hash_token};
use lanyard_core::{Clock, Email, SecretString};
use lanyard_store::schema::{admin_tokens, administrator_scopes, administrators, invitations};
use lanyard_store::{DbConnection, StoreError, is_unique_violation, write_transaction};

mod invitation;
mod login;
mod management;
mod recovery;
mod registration;

pub use invitation::*;
pub use login::*;
pub use management::*;
pub use recovery::*;
pub use registration::*;

/// Where links in e-mails point and what the Message-IDs say.
#[derive(Debug, Clone)]
pub struct Links {
    /// Base URL of the console, e.g. `https://admin.example.com` (no trailing slash).
    pub console: String,
    /// Domain of Message-IDs.
    pub mail_domain: String,
}

/// Guessing limits: per invitation handle, per administrator, per login name.
const CODE_ATTEMPTS: Limit = Limit {
    max: 5,
    window: TimeDelta::minutes(15),
};
/// Failed logins per login name before a 15-minute lockout.
pub const LOGIN_FAILURES: Limit = Limit {
    max: 5,
    window: TimeDelta::minutes(15),
};
/// Password-reset requests per login name.
const RESET_REQUESTS: Limit = Limit {
    max: 3,
    window: TimeDelta::hours(1),
};
const ACTIVATION_VALIDITY: TimeDelta = TimeDelta::hours(24);
/// A login code stands in for the phone at one login: short-lived, and of its own kind, so it
/// can never activate (or re-enable) an administrator.
const LOGIN_CODE_VALIDITY: TimeDelta = TimeDelta::minutes(15);
const LINK_VALIDITY: TimeDelta = TimeDelta::hours(2);

/// Status of an administrator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminStatus {
    /// Invited or registered, not yet activated.
    Invited,
    /// Can log in.
    Active,
    /// Disabled by another administrator.
    Disabled,
}

impl AdminStatus {
    /// Stored form.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Invited => "invited",
            Self::Active => "active",
            Self::Disabled => "disabled",
        }
    }

    /// Label in lists.
    pub const fn label(self) -> &'static str {
        match self {
            Self::Invited => "Invited",
            Self::Active => "Active",
            Self::Disabled => "Disabled",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "active" => Self::Active,
            "disabled" => Self::Disabled,
            _ => Self::Invited,
        }
    }
}

/// An administrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Administrator {
    /// Internal id.
    pub id: AdministratorId,
    /// The account administered.
    pub account: AccountId,
    /// Login e-mail.
    pub email: String,
    /// Full name.
    pub full_name: String,
    /// Phone number.
    pub phone_number: Option<String>,
    /// Status.
    pub status: AdminStatus,
    /// Profile.
    pub profile_id: ProfileId,
    /// Whether the scope is the whole subtree.
    pub scope_all: bool,
    /// Who invited this administrator.
    pub invited_by: Option<AdministratorId>,
    /// When the administrator was created.
    pub created_at: DateTime<Utc>,
}

type Row = (
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    bool,
    Option<String>,
    NaiveDateTime,
);

fn columns() -> (
    administrators::id,
    administrators::account_id,
    administrators::email,
    administrators::full_name,
    administrators::phone_number,
    administrators::status,
    administrators::profile_id,
    administrators::scope_all,
    administrators::invited_by,
    administrators::created_at,
) {
    (
        administrators::id,
        administrators::account_id,
        administrators::email,
        administrators::full_name,
        administrators::phone_number,
        administrators::status,
        administrators::profile_id,
        administrators::scope_all,
        administrators::invited_by,
        administrators::created_at,
    )
}

fn from_row(r: Row) -> Administrator {
    Administrator {
        id: AdministratorId::from_stored(r.0),
        account: AccountId::from_stored(r.1),
        email: r.2,
        full_name: r.3,
        phone_number: r.4,
        status: AdminStatus::parse(&r.5),
        profile_id: ProfileId::from_stored(r.6),
        scope_all: r.7,
        invited_by: r.8.map(AdministratorId::from_stored),
        created_at: r.9.and_utc(),
    }
}

/// The administrator `id` (any account).
pub fn get(conn: &mut DbConnection, id: &AdministratorId) -> Result<Administrator> {
    administrators::table
        .filter(administrators::id.eq(id.as_str()))
        .select(columns())
        .first::<Row>(conn)
        .optional()?
        .map(from_row)
        .ok_or_else(|| IdentityError::not_found("administrator", id.as_str()))
}

/// The administrator `id` of `account`.
pub fn get_in(
    conn: &mut DbConnection,
    account: &AccountId,
    id: &AdministratorId,
) -> Result<Administrator> {
    let admin = get(conn, id)?;
    if &admin.account == account {
        Ok(admin)
    } else {
        Err(IdentityError::not_found("administrator", id.as_str()))
    }
}

/// The administrator with login `email`.
pub fn find_by_email(conn: &mut DbConnection, email: &str) -> Result<Option<Administrator>> {
    Ok(administrators::table
        .filter(administrators::email.eq(email.to_lowercase()))
        .select(columns())
        .first::<Row>(conn)
        .optional()?
        .map(from_row))
}

/// The administrators of `account`, by e-mail.
pub fn list(conn: &mut DbConnection, account: &AccountId) -> Result<Vec<Administrator>> {
    Ok(administrators::table
        .filter(administrators::account_id.eq(account.as_str()))
        .order(administrators::email.asc())
        .select(columns())
        .load::<Row>(conn)?
        .into_iter()
        .map(from_row)
        .collect())
}

/// The selected accounts of an administrator with a limited scope.
pub fn scope_accounts(conn: &mut DbConnection, id: &AdministratorId) -> Result<Vec<AccountId>> {
    Ok(administrator_scopes::table
        .filter(administrator_scopes::administrator_id.eq(id.as_str()))
        .select(administrator_scopes::account_id)
        .load::<String>(conn)?
        .into_iter()
        .map(AccountId::from_stored)
        .collect())
}

/// The [`Actor`] an active administrator acts as.
pub fn actor(conn: &mut DbConnection, id: &AdministratorId) -> Result<Actor> {
    let admin = get(conn, id)?;
    let profile = profile::get_any(conn, &admin.profile_id)?;
    let scope = if admin.scope_all {
        Scope::Subtree
    } else {
        Scope::Selected(scope_accounts(conn, id)?)
    };
    Ok(Actor {
        account: admin.account,
        rights: profile.rights,
        scope,
        name: admin.full_name,
        email: Some(admin.email),
        principal: format!("administrator:{}", admin.id.as_str()),
        administrator: Some(admin.id),
    })
}

/// The scope given to a new or changed administrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeChoice {
    /// The whole account subtree ("Full Admin").
    All,
    /// Selected child accounts ("Organization Admin").
    Selected(Vec<AccountId>),
}

/// A scope the actor may hand out: the chosen accounts must lie below `account`, and an actor
/// with a limited scope can only hand out (part of) its own selection, never the whole subtree.
fn check_scope(
    conn: &mut DbConnection,
    actor: &Actor,
    account: &AccountId,
    scope: &ScopeChoice,
) -> Result<()> {
    if let Scope::Selected(own) = &actor.scope {
        match scope {
            ScopeChoice::All => {
                return Err(IdentityError::Forbidden(
                    "you cannot give a wider scope than your own".into(),
                ));
            }
            ScopeChoice::Selected(chosen) if chosen.iter().any(|c| !own.contains(c)) => {
                return Err(IdentityError::Forbidden(
                    "you can only give organizations of your own scope".into(),
                ));
            }
            _ => {}
        }
    }
    if let ScopeChoice::Selected(accounts) = scope {
        if accounts.is_empty() {
            return Err(IdentityError::invalid(
                "scope",
                "select at least one organization",
            ));
        }
        for a in accounts {
            if a == account || !account::is_within(conn, a, account)? {
                return Err(IdentityError::invalid(
                    "scope",
                    "only accounts below this one can be selected",
                ));
            }
        }
    }
    Ok(())
}

fn write_scope(conn: &mut DbConnection, id: &AdministratorId, scope: &ScopeChoice) -> Result<()> {
    diesel::delete(
        administrator_scopes::table.filter(administrator_scopes::administrator_id.eq(id.as_str())),
    )
    .execute(conn)?;
    if let ScopeChoice::Selected(accounts) = scope {
        for a in accounts {
            diesel::insert_into(administrator_scopes::table)
                .values((
                    administrator_scopes::administrator_id.eq(id.as_str()),
                    administrator_scopes::account_id.eq(a.as_str()),
                ))
                .execute(conn)?;
        }
    }
    Ok(())
}

/// Renders `template` as `account` (or its nearest ancestor) has it and enqueues it to `to`, in
/// the caller's transaction.
fn send_mail(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    links: &Links,
    account: &AccountId,
    template: &str,
    to: &str,
    vars: minijinja::Value,
) -> Result<()> {
    let chain = account::ancestors(conn, account)?;
    let to = Email::parse(to).map_err(|e| IdentityError::Inconsistent(e.to_string()))?;
    lanyard_mail::templates::send(conn, clock, &links.mail_domain, &chain, template, &to, vars)
        .map_err(mail_error)?;
    Ok(())
}

/// Mails `to` a once-only console link for `purpose` (which is also the template's name):
/// `{console}/console/{page}?token=…`, valid for [`LINK_VALIDITY`].
#[expect(
    clippy::too_many_arguments,
    reason = "what differs between the link e-mails"
)]
fn send_link(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    links: &Links,
    admin: &Administrator,
    purpose: &str,
    page: &str,
    to: &str,
    new_email: Option<&str>,
) -> Result<()> {
    let secret = random_base62(32);
    let expires = new_token(
        conn,
        clock,
        &admin.id,
        purpose,
        LINK_VALIDITY,
        new_email,
        &secret,
    )?;
    send_mail(
        conn,
        clock,
        links,
        &admin.account,
        purpose,
        to,
        minijinja::context! {
            name => admin.full_name.clone(),
            link => format!("{}/console/{page}?token={secret}", links.console),
            expires => expires.format("%Y-%m-%d %H:%M UTC").to_string(),
        },
    )
}

fn mail_error(e: lanyard_mail::MailError) -> IdentityError {
    match e {
        lanyard_mail::MailError::Store(s) => IdentityError::Store(s),
        other => IdentityError::Inconsistent(other.to_string()),
    }
}

#[expect(
    clippy::too_many_arguments,
    reason = "one value per column of the row being written"
)]
fn insert(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    id: &AdministratorId,
    account: &AccountId,
    email: &Email,
    full_name: &str,
    status: AdminStatus,
    profile: &Profile,
    scope: &ScopeChoice,
    invited_by: Option<&AdministratorId>,
    password_hash: Option<&str>,
) -> Result<()> {
    let now = clock.now().naive_utc();
    let inserted = diesel::insert_into(administrators::table)
        .values((
            administrators::id.eq(id.as_str()),
            administrators::account_id.eq(account.as_str()),
            administrators::email.eq(email.as_str().to_lowercase()),
            administrators::full_name.eq(full_name),
            administrators::password_hash.eq(password_hash),
            administrators::status.eq(status.as_str()),
            administrators::profile_id.eq(profile.id.as_str()),
            administrators::scope_all.eq(matches!(scope, ScopeChoice::All)),
            administrators::invited_by.eq(invited_by.map(AdministratorId::as_str)),
            administrators::created_at.eq(now),
            administrators::updated_at.eq(now),
        ))
        .execute(conn);
    match inserted {
        Ok(_) => write_scope(conn, id, scope),
        Err(e) if is_unique_violation(&e) => Err(IdentityError::Duplicate(format!(
            "{email} is already an administrator"
        ))),
        Err(e) => Err(IdentityError::Store(StoreError::Query(e))),
    }
}

fn new_token(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    admin: &AdministratorId,
    purpose: &str,
    validity: TimeDelta,
    new_email: Option<&str>,
    secret: &str,
) -> Result<DateTime<Utc>> {
    let now = clock.now();
    // One live token per purpose: a new one replaces the old.
    diesel::delete(
        admin_tokens::table
            .filter(admin_tokens::administrator_id.eq(admin.as_str()))
            .filter(admin_tokens::purpose.eq(purpose))
            .filter(admin_tokens::used_at.is_null()),
    )
    .execute(conn)?;
    let expires = now + validity;
    diesel::insert_into(admin_tokens::table)
        .values((
            admin_tokens::id.eq(uuid::Uuid::new_v4().to_string()),
            admin_tokens::administrator_id.eq(admin.as_str()),
            admin_tokens::purpose.eq(purpose),
            admin_tokens::token_hash.eq(hash_token(secret)),
            admin_tokens::new_email.eq(new_email),
            admin_tokens::expires_at.eq(expires.naive_utc()),
            admin_tokens::created_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    Ok(expires)
}

/// Consumes a token of `purpose` exactly once; returns its administrator and new e-mail.
fn consume_token(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    purpose: &str,
    secret: &str,
) -> Result<(AdministratorId, Option<String>)> {
    let now = clock.now().naive_utc();
    let invalid = || IdentityError::invalid("code", "is not valid, or it has expired or been used");
    let found: Option<(String, String, Option<String>)> = admin_tokens::table
        .filter(admin_tokens::token_hash.eq(hash_token(secret)))
        .filter(admin_tokens::purpose.eq(purpose))
        .select((
            admin_tokens::id,
            admin_tokens::administrator_id,
            admin_tokens::new_email,
        ))
        .first(conn)
        .optional()?;
    let (id, admin, new_email) = found.ok_or_else(invalid)?;
    let used = diesel::update(
        admin_tokens::table
            .filter(admin_tokens::id.eq(&id))
            .filter(admin_tokens::used_at.is_null())
            .filter(admin_tokens::expires_at.gt(now)),
    )
    .set(admin_tokens::used_at.eq(now))
    .execute(conn)?;
    if used != 1 {
        return Err(invalid());
    }
    Ok((AdministratorId::from_stored(admin), new_email))
}
