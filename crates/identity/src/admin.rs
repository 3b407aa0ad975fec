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

/// A created invitation. `code` is the only time the full code exists.
#[derive(Debug)]
pub struct CreatedInvitation {
    /// Public part: listed, and accepted by delete.
    pub handle: String,
    /// The full code to give to the invitee.
    pub code: SecretString,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
}

/// An open invitation as listed (InvitationData: the code's public part and its expiry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenInvitation {
    /// Public part of the code.
    pub handle: String,
    /// Invited address, for e-mail invitations.
    pub email: Option<String>,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
}

const HANDLE_CHARS: usize = 8;
const SECRET_CHARS: usize = 16;

/// Invites an administrator to `account`: by code only (`email` none: the code is shown to the
/// inviter), or by e-mail (an administrator in status Invited appears at once and the code and
/// link are mailed). The new administrator gets `profile` and `scope`, which may not exceed the
/// inviter's own rights.
#[expect(
    clippy::too_many_arguments,
    reason = "one value per column of the row being written"
)]
pub fn invite(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    links: &Links,
    actor: &Actor,
    account: &AccountId,
    email: Option<&Email>,
    profile_id: &ProfileId,
    scope: &ScopeChoice,
) -> Result<CreatedInvitation> {
    write_transaction(conn, |conn| {
        authorize(conn, actor, Area::Administrators, Verb::Create, account)?;
        let profile = profile::get(conn, account, profile_id)?;
        if !actor.rights.includes(&profile.rights) {
            return Err(IdentityError::Forbidden(
                "you cannot give rights you do not have".into(),
            ));
        }
        check_scope(conn, actor, account, scope)?;
        if email.is_none() && matches!(scope, ScopeChoice::Selected(_)) {
            // A code-only invitation creates its administrator at registration and does not
            // store selected accounts; the scope is set on the administrator afterwards.
            return Err(IdentityError::invalid(
                "scope",
                "an invitation code gives the whole account; limit the scope after registration",
            ));
        }
        organization::check_invitation_limit(conn, clock, account)?;
        create_invitation(conn, clock, links, actor, account, email, &profile, scope)
    })
}

/// Invites the first administrator of a customer account that `actor` has just created (the
/// creator's right to create customer accounts is the authorization; it may not hold every
/// right that the new account's own administrator gets).
pub(crate) fn invite_first(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    links: &Links,
    actor: &Actor,
    account: &AccountId,
    email: &Email,
) -> Result<CreatedInvitation> {
    let profile = profile::builtin(conn, account)?;
    create_invitation(
        conn,
        clock,
        links,
        actor,
        account,
        Some(email),
        &profile,
        &ScopeChoice::All,
    )
}

/// A one-time invitation code for an administrator of the platform account with every right
/// (the bootstrap's setup link, SPEC §1), created by the operator. It expires after the
/// platform's invitation validity and works once.
pub fn setup_invitation(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    links: &Links,
) -> Result<CreatedInvitation> {
    write_transaction(conn, |conn| {
        let platform = account::platform(conn)?;
        let profile = profile::builtin(conn, &platform.id)?;
        let operator = Actor::operator(platform.id.clone(), "lanyard (operator)");
        create_invitation(
            conn,
            clock,
            links,
            &operator,
            &platform.id,
            None,
            &profile,
            &ScopeChoice::All,
        )
    })
}

#[expect(
    clippy::too_many_arguments,
    reason = "one value per column of the row being written"
)]
fn create_invitation(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    links: &Links,
    actor: &Actor,
    account: &AccountId,
    email: Option<&Email>,
    profile: &Profile,
    scope: &ScopeChoice,
) -> Result<CreatedInvitation> {
    {
        let hours = organization::settings(conn, account)?.invitation_expiration_hours;
        let now = clock.now();
        let expires_at = now + TimeDelta::hours(hours);
        let handle = random_base62(HANDLE_CHARS);
        let secret = random_base62(SECRET_CHARS);
        let code = format!("{handle}{secret}");
        if let Some(email) = email {
            let existing = find_by_email(conn, email.as_str())?;
            if existing.is_some() {
                return Err(IdentityError::Duplicate(format!(
                    "{email} is already an administrator"
                )));
            }
            let id = AdministratorId::new_random();
            insert(
                conn,
                clock,
                &id,
                account,
                email,
                "",
                AdminStatus::Invited,
                profile,
                scope,
                actor.administrator.as_ref(),
                None,
            )?;
        }
        diesel::insert_into(invitations::table)
            .values((
                invitations::id.eq(uuid::Uuid::new_v4().to_string()),
                invitations::account_id.eq(account.as_str()),
                invitations::handle.eq(&handle),
                invitations::secret_hash.eq(hash_token(&secret)),
                invitations::email.eq(email.map(|e| e.as_str().to_lowercase())),
                invitations::profile_id.eq(profile.id.as_str()),
                invitations::scope_all.eq(matches!(scope, ScopeChoice::All)),
                invitations::created_by
                    .eq(actor.administrator.as_ref().map(AdministratorId::as_str)),
                invitations::expires_at.eq(expires_at.naive_utc()),
                invitations::created_at.eq(now.naive_utc()),
            ))
            .execute(conn)?;
        let account_row = account::get(conn, account)?;
        if let Some(email) = email {
            send_mail(
                conn,
                clock,
                links,
                account,
                "admin_invitation",
                email.as_str(),
                minijinja::context! {
                    account_name => account_row.name,
                    inviter_name => actor.name.clone(),
                    link => format!("{}/console/register?code={code}", links.console),
                    code => code.clone(),
                    expires => expires_at.format("%Y-%m-%d %H:%M UTC").to_string(),
                },
            )?;
        }
        let what = match email {
            Some(e) => format!("Administrator invited: {e}"),
            None => format!("Invitation code created: {handle}"),
        };
        history::record_by(conn, clock, actor, account, "Administrators", &what)?;
        Ok(CreatedInvitation {
            handle,
            code: SecretString::new(code),
            expires_at,
        })
    }
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

/// The open (unused, unexpired) invitations of `account`.
pub fn open_invitations(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    account: &AccountId,
) -> Result<Vec<OpenInvitation>> {
    let rows: Vec<(String, Option<String>, NaiveDateTime)> = invitations::table
        .filter(invitations::account_id.eq(account.as_str()))
        .filter(invitations::used_at.is_null())
        .filter(invitations::expires_at.gt(clock.now().naive_utc()))
        .order(invitations::created_at.asc())
        .select((
            invitations::handle,
            invitations::email,
            invitations::expires_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(handle, email, expires)| OpenInvitation {
            handle,
            email,
            expires_at: expires.and_utc(),
        })
        .collect())
}

/// Deletes an open invitation given by its public part or full code; an administrator invited
/// by e-mail who has not registered yet is removed with it.
pub fn delete_invitation(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    account: &AccountId,
    code: &str,
) -> Result<()> {
    let handle: String = code.chars().take(HANDLE_CHARS).collect();
    write_transaction(conn, |conn| {
        authorize(conn, actor, Area::Administrators, Verb::Delete, account)?;
        let found: Option<(String, Option<String>)> = invitations::table
            .filter(invitations::account_id.eq(account.as_str()))
            .filter(invitations::handle.eq(&handle))
            .filter(invitations::used_at.is_null())
            .select((invitations::id, invitations::email))
            .first(conn)
            .optional()?;
        let (id, email) = found.ok_or_else(|| IdentityError::not_found("invitation", code))?;
        diesel::delete(invitations::table.filter(invitations::id.eq(&id))).execute(conn)?;
        if let Some(email) = email {
            diesel::delete(
                administrators::table
                    .filter(administrators::email.eq(&email))
                    .filter(administrators::status.eq(AdminStatus::Invited.as_str()))
                    .filter(administrators::password_hash.is_null()),
            )
            .execute(conn)?;
        }
        history::record_by(
            conn,
            clock,
            actor,
            account,
            "Administrators",
            &format!("Invitation deleted: {handle}"),
        )?;
        Ok(())
    })
}

/// What a person fills in to register with an invitation.
#[derive(Debug, Clone)]
pub struct Registration {
    /// The invitation code.
    pub code: String,
    /// Login e-mail.
    pub email: Email,
    /// Password (policy-checked here).
    pub password: SecretString,
    /// Full name.
    pub full_name: String,
}

/// Registers with an invitation: the invitation is used exactly once (even under concurrent
/// attempts), the administrator exists with status Invited and its password, and an activation
/// code is mailed. Returns the administrator.
pub fn register(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    links: &Links,
    reg: &Registration,
) -> Result<Administrator> {
    let full_name = crate::text::optional_text("fullName", Some(&reg.full_name), 200)?
        .ok_or_else(|| IdentityError::invalid("fullName", "is required"))?;
    password::check_policy(
        "password",
        reg.password.expose(),
        &[reg.email.as_str(), &full_name],
    )?;
    if reg.code.len() != HANDLE_CHARS + SECRET_CHARS
        || !reg.code.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(IdentityError::invalid(
            "code",
            "is not a valid invitation code",
        ));
    }
    let (handle, secret) = reg.code.split_at(HANDLE_CHARS);
    throttle::hit(conn, clock, &format!("invitation:{handle}"), CODE_ATTEMPTS)?;
    let hash = password::hash(reg.password.expose())?;
    write_transaction(conn, |conn| {
        let now = clock.now().naive_utc();
        type Inv = (
            String,
            String,
            String,
            Option<String>,
            String,
            bool,
            Option<String>,
        );
        let found: Option<Inv> = invitations::table
            .filter(invitations::handle.eq(handle))
            .select((
                invitations::id,
                invitations::account_id,
                invitations::secret_hash,
                invitations::email,
                invitations::profile_id,
                invitations::scope_all,
                invitations::created_by,
            ))
            .first(conn)
            .optional()?;
        let invalid = || {
            IdentityError::invalid(
                "code",
                "is not a valid invitation code, or it has expired or been used",
            )
        };
        let (id, account, secret_hash, invited_email, profile_id, scope_all, created_by) =
            found.ok_or_else(invalid)?;
        if !constant_time_eq(secret_hash.as_bytes(), hash_token(secret).as_bytes()) {
            return Err(invalid());
        }
        // The conditional update is the once-only guarantee.
        let used = diesel::update(
            invitations::table
                .filter(invitations::id.eq(&id))
                .filter(invitations::used_at.is_null())
                .filter(invitations::expires_at.gt(now)),
        )
        .set(invitations::used_at.eq(now))
        .execute(conn)?;
        if used != 1 {
            return Err(invalid());
        }
        let account = AccountId::from_stored(account);
        let email = reg.email.as_str().to_lowercase();
        let admin_id = match &invited_email {
            Some(invited) => {
                if invited != &email {
                    return Err(IdentityError::invalid(
                        "email",
                        "must be the address the invitation was sent to",
                    ));
                }
                let admin = find_by_email(conn, invited)?.ok_or_else(invalid)?;
                diesel::update(
                    administrators::table.filter(administrators::id.eq(admin.id.as_str())),
                )
                .set((
                    administrators::full_name.eq(&full_name),
                    administrators::password_hash.eq(&hash),
                    administrators::updated_at.eq(now),
                ))
                .execute(conn)?;
                admin.id
            }
            None => {
                let profile = profile::get(conn, &account, &ProfileId::from_stored(profile_id))?;
                let id = AdministratorId::new_random();
                let scope = if scope_all {
                    ScopeChoice::All
                } else {
                    ScopeChoice::Selected(Vec::new())
                };
                insert(
                    conn,
                    clock,
                    &id,
                    &account,
                    &reg.email,
                    &full_name,
                    AdminStatus::Invited,
                    &profile,
                    &scope,
                    created_by.map(AdministratorId::from_stored).as_ref(),
                    Some(&hash),
                )?;
                id
            }
        };
        send_activation(conn, clock, links, &admin_id)?;
        history::record(
            conn,
            clock,
            &account,
            "Administrators",
            &format!("Administrator registered: {email}"),
            &full_name,
            Some(&email),
        )?;
        get(conn, &admin_id)
    })
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

/// Activation codes: 10 characters typed from an e-mail, so short; guessing is limited by the
/// per-administrator rate limit.
const ACTIVATION_CHARS: usize = 10;

/// (Re)sends the activation code of a registered administrator.
pub fn send_activation(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    links: &Links,
    id: &AdministratorId,
) -> Result<()> {
    send_code(
        conn,
        clock,
        links,
        id,
        ("activation", ACTIVATION_VALIDITY, "admin_activation"),
        "/console/activate",
    )
}

/// E-mails an active administrator who has no phone a code to enter after their password
/// (SPEC §1 "lost device": no active phone → login code → enroll a new phone). A login code is
/// its own kind of code, valid for 15 minutes, and works only for an active administrator.
pub fn send_login_code(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    links: &Links,
    id: &AdministratorId,
) -> Result<()> {
    send_code(
        conn,
        clock,
        links,
        id,
        ("login", LOGIN_CODE_VALIDITY, "admin_login_code"),
        "/console/login/phone",
    )
}

/// A new code of `purpose` for administrator `id`, e-mailed with template `template` and a link
/// to the console page `page` where it is entered.
fn send_code(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    links: &Links,
    id: &AdministratorId,
    (purpose, validity, template): (&str, TimeDelta, &str),
    page: &str,
) -> Result<()> {
    let admin = get(conn, id)?;
    let code = random_base62(ACTIVATION_CHARS);
    let expires = new_token(conn, clock, id, purpose, validity, None, &code)?;
    send_mail(
        conn,
        clock,
        links,
        &admin.account,
        template,
        &admin.email,
        minijinja::context! {
            name => admin.full_name,
            code => code,
            link => format!("{}{page}", links.console),
            expires => expires.format("%Y-%m-%d %H:%M UTC").to_string(),
        },
    )?;
    Ok(())
}

/// Checks the code of [`send_login_code`] for administrator `id` (once; rate-limited like
/// activation).
pub fn check_login_code(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    id: &AdministratorId,
    code: &str,
) -> Result<()> {
    let admin = get(conn, id)?;
    throttle::hit(
        conn,
        clock,
        &format!("login-code:{}", admin.email),
        CODE_ATTEMPTS,
    )?;
    let invalid = || IdentityError::invalid("code", "is not valid, or it has expired or been used");
    if admin.status != AdminStatus::Active {
        return Err(invalid());
    }
    write_transaction(conn, |conn| {
        let (owner, _) = consume_token(conn, clock, "login", code.trim()).map_err(|_| invalid())?;
        if owner != admin.id {
            return Err(invalid());
        }
        history::record(
            conn,
            clock,
            &admin.account,
            "Login",
            "Login code entered (no phone enrolled)",
            &admin.full_name,
            Some(&admin.email),
        )
    })
}

/// Activates a registered administrator with the mailed code (once). Wrong codes are counted per
/// (client address, e-mail): a stranger's guesses never lock the administrator out.
pub fn activate(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    email: &str,
    code: &str,
    client: &str,
) -> Result<Administrator> {
    let email = email.trim().to_lowercase();
    throttle::hit(
        conn,
        clock,
        &format!("activation:{client}:{email}"),
        CODE_ATTEMPTS,
    )?;
    write_transaction(conn, |conn| {
        let admin = find_by_email(conn, &email)?
            // Activation turns an invited administrator active; it never re-enables a disabled
            // (or an active) one.
            .filter(|a| a.status == AdminStatus::Invited)
            .ok_or_else(|| {
                IdentityError::invalid("code", "is not valid, or it has expired or been used")
            })?;
        let (owner, _) = consume_token(conn, clock, "activation", code.trim())?;
        if owner != admin.id {
            return Err(IdentityError::invalid(
                "code",
                "is not valid, or it has expired or been used",
            ));
        }
        let activated = diesel::update(
            administrators::table
                .filter(administrators::id.eq(admin.id.as_str()))
                .filter(administrators::status.eq(AdminStatus::Invited.as_str())),
        )
        .set((
            administrators::status.eq(AdminStatus::Active.as_str()),
            administrators::updated_at.eq(clock.now().naive_utc()),
        ))
        .execute(conn)?;
        if activated != 1 {
            return Err(IdentityError::invalid(
                "code",
                "is not valid, or it has expired or been used",
            ));
        }
        // The first administrator to activate brings a new account to life.
        diesel::update(
            lanyard_store::schema::accounts::table
                .filter(lanyard_store::schema::accounts::id.eq(admin.account.as_str()))
                .filter(
                    lanyard_store::schema::accounts::status.eq(AccountStatus::Created.as_str()),
                ),
        )
        .set(lanyard_store::schema::accounts::status.eq(AccountStatus::Activated.as_str()))
        .execute(conn)?;
        history::record(
            conn,
            clock,
            &admin.account,
            "Administrators",
            &format!("Administrator activated: {email}"),
            &admin.full_name,
            Some(&email),
        )?;
        get(conn, &admin.id)
    })
}

/// Checks a login name and password. Failures are counted per (client address, login name) and
/// per client address; after [`LOGIN_FAILURES`] that client's logins to that name are refused
/// for the rest of the window — a stranger's wrong passwords never lock the owner out. Every
/// attempt is recorded in the account history.
pub fn login(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    email: &str,
    password_given: &str,
    client: &str,
) -> Result<Administrator> {
    let email = email.trim().to_lowercase();
    let by_name = format!("login:{client}:{email}");
    let by_client = format!("login-client:{client}");
    // The attempt is counted before the password is checked, so parallel guesses cannot all
    // slip under the limit; a successful login clears the count.
    throttle::hit(conn, clock, &by_name, LOGIN_FAILURES)?;
    throttle::check(
        conn,
        clock,
        &by_client,
        Limit {
            max: LOGIN_FAILURES.max * 4,
            window: LOGIN_FAILURES.window,
        },
    )?;
    let found = find_by_email(conn, &email)?;
    let stored: Option<String> = match &found {
        Some(a) => administrators::table
            .filter(administrators::id.eq(a.id.as_str()))
            .select(administrators::password_hash)
            .first::<Option<String>>(conn)?,
        None => None,
    };
    let ok = match &stored {
        Some(hash) => password::verify(password_given, hash),
        None => {
            password::verify_dummy(password_given);
            false
        }
    };
    let refused = || IdentityError::Forbidden("the e-mail or the password is not correct".into());
    let Some(admin) = found.filter(|_| ok) else {
        throttle::hit(
            conn,
            clock,
            &by_client,
            Limit {
                max: LOGIN_FAILURES.max * 4,
                window: LOGIN_FAILURES.window,
            },
        )?;
        if let Some(a) = find_by_email(conn, &email)? {
            history::record(
                conn,
                clock,
                &a.account,
                "Login",
                "Failed login",
                &a.full_name,
                Some(&a.email),
            )?;
        }
        return Err(refused());
    };
    match admin.status {
        AdminStatus::Active => {}
        AdminStatus::Invited => {
            return Err(IdentityError::NotAllowed(
                "activate your account first with the code we e-mailed you".into(),
            ));
        }
        AdminStatus::Disabled => {
            return Err(IdentityError::NotAllowed(
                "this administrator is disabled".into(),
            ));
        }
    }
    if matches!(
        account::get(conn, &admin.account)?.status,
        AccountStatus::Disabled | AccountStatus::Deleted
    ) {
        return Err(IdentityError::NotAllowed("this account is disabled".into()));
    }
    throttle::clear(conn, &by_name)?;
    // "Logged in" is recorded by the console once the login is complete (after the phone's
    // approval when one is needed).
    history::record(
        conn,
        clock,
        &admin.account,
        "Login",
        "Password accepted",
        &admin.full_name,
        Some(&admin.email),
    )?;
    Ok(admin)
}

/// Checks an administrator's current password (for changes that need it), counted against the
/// same limit as logins so that a stolen session cannot guess it.
fn check_current_password(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    admin: &Administrator,
    current: &str,
) -> Result<()> {
    let key = format!("current-password:{}", admin.id.as_str());
    throttle::hit(conn, clock, &key, LOGIN_FAILURES)?;
    let stored: Option<String> = administrators::table
        .filter(administrators::id.eq(admin.id.as_str()))
        .select(administrators::password_hash)
        .first(conn)?;
    if !stored.is_some_and(|h| password::verify(current, &h)) {
        return Err(IdentityError::invalid("currentPassword", "is not correct"));
    }
    throttle::clear(conn, &key)
}

/// Changes one's own password (current password, new password); every other session of the
/// administrator ends (`keep_session` is the one making the change).
pub fn change_password(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    id: &AdministratorId,
    current: &str,
    new: &str,
    keep_session: Option<&str>,
) -> Result<()> {
    let admin = get(conn, id)?;
    check_current_password(conn, clock, &admin, current)?;
    password::check_policy("newPassword", new, &[&admin.email, &admin.full_name])?;
    let hash = password::hash(new)?;
    write_transaction(conn, |conn| {
        diesel::update(administrators::table.filter(administrators::id.eq(id.as_str())))
            .set((
                administrators::password_hash.eq(&hash),
                administrators::updated_at.eq(clock.now().naive_utc()),
            ))
            .execute(conn)?;
        // Whoever else holds a session of this administrator is logged out.
        crate::session::revoke_all_except(conn, clock, id, keep_session)?;
        history::record(
            conn,
            clock,
            &admin.account,
            "Administrators",
            "Password changed",
            &admin.full_name,
            Some(&admin.email),
        )
    })
}

/// Mails a password-reset link when `email` is an administrator's; says nothing either way
/// (no enumeration of login names). Rate-limited per address.
pub fn request_password_reset(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    links: &Links,
    email: &str,
) -> Result<()> {
    let email = email.trim().to_lowercase();
    throttle::hit(conn, clock, &format!("reset:{email}"), RESET_REQUESTS)?;
    write_transaction(conn, |conn| {
        let Some(admin) = find_by_email(conn, &email)? else {
            return Ok(());
        };
        if admin.status == AdminStatus::Disabled {
            return Ok(());
        }
        send_link(
            conn,
            clock,
            links,
            &admin,
            "password_reset",
            "reset-password",
            &admin.email,
            None,
        )?;
        Ok(())
    })
}

/// Sets a new password with a reset link's token (once).
pub fn reset_password(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    token: &str,
    new: &str,
) -> Result<Administrator> {
    write_transaction(conn, |conn| {
        let reset = check_password_reset(conn, clock, token, new)?;
        finish_password_reset(conn, clock, &reset)
    })
}

/// A password reset checked but not applied yet: it waits for the administrator's phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingReset {
    /// The administrator.
    pub administrator: AdministratorId,
    /// The reset link's token row (its id, not the secret).
    pub token_id: String,
    /// The new password's hash.
    pub password_hash: String,
}

/// Checks a reset link's token (valid, unused, unexpired) and the new password against the
/// policy, without using the link: the reset is applied by [`finish_password_reset`], at once or
/// once the administrator's phone approves it (SPEC §1 "forgotten password").
pub fn check_password_reset(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    token: &str,
    new: &str,
) -> Result<PendingReset> {
    let now = clock.now().naive_utc();
    let found: Option<(String, String)> = admin_tokens::table
        .filter(admin_tokens::token_hash.eq(hash_token(token)))
        .filter(admin_tokens::purpose.eq("password_reset"))
        .filter(admin_tokens::used_at.is_null())
        .filter(admin_tokens::expires_at.gt(now))
        .select((admin_tokens::id, admin_tokens::administrator_id))
        .first(conn)
        .optional()?;
    let (token_id, admin) = found.ok_or_else(|| {
        IdentityError::invalid("code", "is not valid, or it has expired or been used")
    })?;
    let admin = get(conn, &AdministratorId::from_stored(admin))?;
    password::check_policy("password", new, &[&admin.email, &admin.full_name])?;
    Ok(PendingReset {
        administrator: admin.id,
        token_id,
        password_hash: password::hash(new)?,
    })
}

/// Applies a checked reset: uses its link (once: a link used meanwhile is refused), sets the
/// password, ends the administrator's sessions and records it.
pub fn finish_password_reset(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    reset: &PendingReset,
) -> Result<Administrator> {
    let now = clock.now().naive_utc();
    write_transaction(conn, |conn| {
        let used = diesel::update(
            admin_tokens::table
                .filter(admin_tokens::id.eq(&reset.token_id))
                .filter(admin_tokens::used_at.is_null())
                .filter(admin_tokens::expires_at.gt(now)),
        )
        .set(admin_tokens::used_at.eq(now))
        .execute(conn)?;
        if used != 1 {
            return Err(IdentityError::invalid(
                "code",
                "is not valid, or it has expired or been used",
            ));
        }
        let id = reset.administrator.clone();
        let admin = get(conn, &id)?;
        let hash = reset.password_hash.clone();
        diesel::update(administrators::table.filter(administrators::id.eq(id.as_str())))
            .set((
                administrators::password_hash.eq(&hash),
                administrators::updated_at.eq(clock.now().naive_utc()),
            ))
            .execute(conn)?;
        throttle::clear(conn, &format!("login:{}", admin.email))?;
        crate::session::revoke_all(conn, clock, &id)?;
        history::record(
            conn,
            clock,
            &admin.account,
            "Administrators",
            "Password reset",
            &admin.full_name,
            Some(&admin.email),
        )?;
        Ok(admin)
    })
}

/// Mails a confirmation link to `new_email` (after checking the current password: a session
/// alone must not be enough to move the login elsewhere); the login changes when it is opened.
pub fn request_email_change(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    links: &Links,
    id: &AdministratorId,
    current_password: &str,
    new_email: &Email,
) -> Result<()> {
    let admin = get(conn, id)?;
    check_current_password(conn, clock, &admin, current_password)?;
    write_transaction(conn, |conn| {
        if find_by_email(conn, new_email.as_str())?.is_some() {
            return Err(IdentityError::Duplicate(format!(
                "{new_email} is already an administrator's login"
            )));
        }
        let lowered = new_email.as_str().to_lowercase();
        send_link(
            conn,
            clock,
            links,
            &admin,
            "email_change",
            "confirm-email",
            new_email.as_str(),
            Some(&lowered),
        )?;
        Ok(())
    })
}

/// Confirms an e-mail change with the link's token (once).
pub fn confirm_email_change(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    token: &str,
) -> Result<Administrator> {
    write_transaction(conn, |conn| {
        let (id, new_email) = consume_token(conn, clock, "email_change", token)?;
        let new_email = new_email
            .ok_or_else(|| IdentityError::Inconsistent("e-mail change without address".into()))?;
        let admin = get(conn, &id)?;
        let changed =
            diesel::update(administrators::table.filter(administrators::id.eq(id.as_str())))
                .set((
                    administrators::email.eq(&new_email),
                    administrators::updated_at.eq(clock.now().naive_utc()),
                ))
                .execute(conn);
        match changed {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(IdentityError::Duplicate(format!(
                    "{new_email} is already an administrator's login"
                )));
            }
            Err(e) => return Err(IdentityError::Store(StoreError::Query(e))),
        }
        history::record(
            conn,
            clock,
            &admin.account,
            "Administrators",
            &format!("Login e-mail changed to {new_email}"),
            &admin.full_name,
            Some(&admin.email),
        )?;
        get(conn, &id)
    })
}

/// An administrator changes or removes only administrators whose rights and scope lie within
/// its own (docs/security.md): a helpdesk profile cannot disable, demote or delete the full
/// administrators of its account or of the distributor above it.
fn require_within_actor(
    conn: &mut DbConnection,
    actor: &Actor,
    admin: &Administrator,
) -> Result<()> {
    let rights = profile::get_any(conn, &admin.profile_id)?.rights;
    let scope = if admin.scope_all {
        Scope::Subtree
    } else {
        Scope::Selected(scope_accounts(conn, &admin.id)?)
    };
    crate::rights::require_within(
        conn,
        actor,
        &rights,
        &admin.account,
        &scope,
        "this administrator",
    )
}

fn not_self(actor: &Actor, target: &AdministratorId, what: &str) -> Result<()> {
    if actor.administrator.as_ref() == Some(target) {
        Err(IdentityError::NotAllowed(format!(
            "you cannot {what} yourself"
        )))
    } else {
        Ok(())
    }
}

/// Changes another administrator's name and phone number.
pub fn update(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    id: &AdministratorId,
    full_name: &str,
    phone: Option<&str>,
) -> Result<Administrator> {
    let full_name = crate::text::optional_text("fullName", Some(full_name), 200)?
        .ok_or_else(|| IdentityError::invalid("fullName", "is required"))?;
    let phone = crate::text::optional_phone(phone)?;
    write_transaction(conn, |conn| {
        let admin = get(conn, id)?;
        authorize(
            conn,
            actor,
            Area::Administrators,
            Verb::Edit,
            &admin.account,
        )?;
        if actor.administrator.as_ref() != Some(id) {
            require_within_actor(conn, actor, &admin)?;
        }
        diesel::update(administrators::table.filter(administrators::id.eq(id.as_str())))
            .set((
                administrators::full_name.eq(&full_name),
                administrators::phone_number.eq(phone.as_deref()),
                administrators::updated_at.eq(clock.now().naive_utc()),
            ))
            .execute(conn)?;
        history::record_by(
            conn,
            clock,
            actor,
            &admin.account,
            "Administrators",
            &format!("Administrator updated: {}", admin.email),
        )?;
        get(conn, id)
    })
}

/// Whether another active administrator of `account` holds every right with the whole scope.
fn another_full_admin(
    conn: &mut DbConnection,
    account: &AccountId,
    except: &AdministratorId,
) -> Result<bool> {
    for other in list(conn, account)? {
        if &other.id != except && other.status == AdminStatus::Active && other.scope_all {
            let rights: Rights = profile::get_any(conn, &other.profile_id)?.rights;
            if rights.is_everything() {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Whether some active administrator of `account` holds every right over the whole account.
pub(crate) fn has_full_admin(conn: &mut DbConnection, account: &AccountId) -> Result<bool> {
    for a in list(conn, account)? {
        if holds_everything(conn, &a)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Serializes changes that must keep one administrator holding every right: on PostgreSQL the
/// account's row is locked (SQLite's immediate transaction already holds the only write lock).
fn lock_account(conn: &mut DbConnection, account: &AccountId) -> Result<()> {
    if let DbConnection::Pg(pg) = conn {
        lanyard_store::schema::accounts::table
            .filter(lanyard_store::schema::accounts::id.eq(account.as_str()))
            .select(lanyard_store::schema::accounts::id)
            .for_update()
            .first::<String>(pg)?;
    }
    Ok(())
}

fn holds_everything(conn: &mut DbConnection, admin: &Administrator) -> Result<bool> {
    Ok(admin.status == AdminStatus::Active
        && admin.scope_all
        && profile::get_any(conn, &admin.profile_id)?
            .rights
            .is_everything())
}

/// Changes another administrator's profile and scope (never one's own; the account keeps at
/// least one administrator holding every right).
pub fn set_profile_and_scope(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    id: &AdministratorId,
    profile_id: &ProfileId,
    scope: &ScopeChoice,
) -> Result<Administrator> {
    not_self(actor, id, "change the profile or scope of")?;
    write_transaction(conn, |conn| {
        let admin = get(conn, id)?;
        lock_account(conn, &admin.account)?;
        authorize(
            conn,
            actor,
            Area::Administrators,
            Verb::Edit,
            &admin.account,
        )?;
        require_within_actor(conn, actor, &admin)?;
        let profile = profile::get(conn, &admin.account, profile_id)?;
        if !actor.rights.includes(&profile.rights) {
            return Err(IdentityError::Forbidden(
                "you cannot give rights you do not have".into(),
            ));
        }
        check_scope(conn, actor, &admin.account, scope)?;
        let keeps_everything = matches!(scope, ScopeChoice::All) && profile.rights.is_everything();
        if holds_everything(conn, &admin)?
            && !keeps_everything
            && !another_full_admin(conn, &admin.account, id)?
        {
            return Err(IdentityError::NotAllowed(
                "the last administrator holding every right keeps them".into(),
            ));
        }
        diesel::update(administrators::table.filter(administrators::id.eq(id.as_str())))
            .set((
                administrators::profile_id.eq(profile.id.as_str()),
                administrators::scope_all.eq(matches!(scope, ScopeChoice::All)),
                administrators::updated_at.eq(clock.now().naive_utc()),
            ))
            .execute(conn)?;
        write_scope(conn, id, scope)?;
        history::record_by(
            conn,
            clock,
            actor,
            &admin.account,
            "Administrators",
            &format!("Profile of {} set to {}", admin.email, profile.name),
        )?;
        get(conn, id)
    })
}

/// Disables (`true`) or reactivates (`false`) another administrator.
pub fn set_disabled(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    id: &AdministratorId,
    disabled: bool,
) -> Result<Administrator> {
    not_self(actor, id, if disabled { "disable" } else { "reactivate" })?;
    write_transaction(conn, |conn| {
        let admin = get(conn, id)?;
        lock_account(conn, &admin.account)?;
        authorize(
            conn,
            actor,
            Area::Administrators,
            Verb::Edit,
            &admin.account,
        )?;
        require_within_actor(conn, actor, &admin)?;
        let (from, to) = if disabled {
            (AdminStatus::Active, AdminStatus::Disabled)
        } else {
            (AdminStatus::Disabled, AdminStatus::Active)
        };
        if admin.status != from {
            return Err(IdentityError::NotAllowed(format!(
                "only an {} administrator can be {}",
                from.label().to_lowercase(),
                if disabled { "disabled" } else { "reactivated" }
            )));
        }
        if disabled
            && holds_everything(conn, &admin)?
            && !another_full_admin(conn, &admin.account, id)?
        {
            return Err(IdentityError::NotAllowed(
                "the last administrator holding every right cannot be disabled".into(),
            ));
        }
        diesel::update(administrators::table.filter(administrators::id.eq(id.as_str())))
            .set((
                administrators::status.eq(to.as_str()),
                administrators::updated_at.eq(clock.now().naive_utc()),
            ))
            .execute(conn)?;
        if disabled {
            crate::session::revoke_all(conn, clock, id)?;
            // Outstanding codes and links (activation, login code, password reset, e-mail
            // change) die with the access they would give.
            diesel::update(
                admin_tokens::table
                    .filter(admin_tokens::administrator_id.eq(id.as_str()))
                    .filter(admin_tokens::used_at.is_null()),
            )
            .set(admin_tokens::used_at.eq(clock.now().naive_utc()))
            .execute(conn)?;
        }
        let what = if disabled { "disabled" } else { "reactivated" };
        history::record_by(
            conn,
            clock,
            actor,
            &admin.account,
            "Administrators",
            &format!("Administrator {what}: {}", admin.email),
        )?;
        get(conn, id)
    })
}

/// Deletes another administrator (never the last one holding every right).
pub fn delete(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    id: &AdministratorId,
) -> Result<()> {
    not_self(actor, id, "delete")?;
    write_transaction(conn, |conn| {
        let admin = get(conn, id)?;
        lock_account(conn, &admin.account)?;
        authorize(
            conn,
            actor,
            Area::Administrators,
            Verb::Delete,
            &admin.account,
        )?;
        require_within_actor(conn, actor, &admin)?;
        if holds_everything(conn, &admin)? && !another_full_admin(conn, &admin.account, id)? {
            return Err(IdentityError::NotAllowed(
                "the last administrator holding every right cannot be deleted".into(),
            ));
        }
        diesel::delete(administrators::table.filter(administrators::id.eq(id.as_str())))
            .execute(conn)?;
        history::record_by(
            conn,
            clock,
            actor,
            &admin.account,
            "Administrators",
            &format!("Administrator deleted: {}", admin.email),
        )?;
        Ok(())
    })
}

/// Creates the first administrator of an account directly (bootstrap setup link, CLI), active,
/// with the built-in profile.
pub fn create_first(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    account: &AccountId,
    email: &Email,
    full_name: &str,
    password_given: &str,
) -> Result<Administrator> {
    let full_name = crate::text::optional_text("fullName", Some(full_name), 200)?
        .ok_or_else(|| IdentityError::invalid("fullName", "is required"))?;
    password::check_policy("password", password_given, &[email.as_str(), &full_name])?;
    let hash = password::hash(password_given)?;
    write_transaction(conn, |conn| {
        let profile = profile::builtin(conn, account)?;
        let id = AdministratorId::new_random();
        insert(
            conn,
            clock,
            &id,
            account,
            email,
            &full_name,
            AdminStatus::Active,
            &profile,
            &ScopeChoice::All,
            None,
            Some(&hash),
        )?;
        history::record(
            conn,
            clock,
            account,
            "Administrators",
            &format!("Administrator created: {email}"),
            "lanyard (operator)",
            None,
        )?;
        get(conn, &id)
    })
}

/// Adds the administrator `admin_email` of `account` as an end user with the alias `alias`
/// (PassBy[ME] API §5.2); `ALREADY_EXISTS` when it was added before or the alias is taken.
pub fn add_as_end_user(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    account: &AccountId,
    admin_email: &str,
    alias: &str,
) -> Result<crate::EndUser> {
    let alias = crate::Alias::parse("userId", alias)?;
    write_transaction(conn, |conn| {
        let admin = find_by_email(conn, admin_email)?
            .filter(|a| &a.account == account)
            .ok_or_else(|| IdentityError::not_found("administrator", admin_email))?;
        let linked: Option<String> = administrators::table
            .filter(administrators::id.eq(admin.id.as_str()))
            .select(administrators::end_user_id)
            .first(conn)?;
        if linked.is_some() {
            return Err(IdentityError::Duplicate(format!(
                "administrator {} has already been added as a user",
                admin.email
            )));
        }
        let new = crate::NewEndUser {
            alias,
            email: Some(
                Email::parse(&admin.email)
                    .map_err(|e| IdentityError::Inconsistent(e.to_string()))?,
            ),
            full_name: Some(admin.full_name.clone()).filter(|n| !n.is_empty()),
            phone_number: admin.phone_number.clone(),
        };
        let user = crate::end_user::create(conn, clock, actor, account, new)?;
        diesel::update(administrators::table.filter(administrators::id.eq(admin.id.as_str())))
            .set(administrators::end_user_id.eq(user.id.as_str()))
            .execute(conn)?;
        Ok(user)
    })
}

/// Self-service registration of a new organization (SPEC §1, when the platform allows it): the
/// organization (below the platform, status Created) and its first administrator (every right,
/// status Invited until the mailed activation code is entered, which also activates the
/// organization). Rate-limited per client address.
#[expect(clippy::too_many_arguments, reason = "the registration form's fields")]
pub fn register_organization(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    links: &Links,
    organization: &str,
    email: &Email,
    password_given: &str,
    full_name: &str,
    client: &str,
) -> Result<Administrator> {
    let organization = crate::text::optional_text("organization", Some(organization), 200)?
        .ok_or_else(|| IdentityError::invalid("organization", "is required"))?;
    let full_name = crate::text::optional_text("fullName", Some(full_name), 200)?
        .ok_or_else(|| IdentityError::invalid("fullName", "is required"))?;
    password::check_policy("password", password_given, &[email.as_str(), &full_name])?;
    throttle::hit(
        conn,
        clock,
        &format!("signup:{client}"),
        Limit {
            max: 5,
            window: TimeDelta::hours(1),
        },
    )?;
    let hash = password::hash(password_given)?;
    write_transaction(conn, |conn| {
        if find_by_email(conn, email.as_str())?.is_some() {
            return Err(IdentityError::Duplicate(format!(
                "{email} is already an administrator"
            )));
        }
        let platform = account::platform(conn)?;
        let oid = crate::oid::next_account(conn)?;
        let created = account::insert(
            conn,
            clock,
            account::Insert {
                oid: &oid,
                kind: account::AccountKind::Organization,
                parent_id: Some(&platform.id),
                name: &organization,
                contact_email: Some(email.as_str()),
                status: AccountStatus::Created,
            },
        )?;
        let profile = profile::builtin(conn, &created.id)?;
        let id = AdministratorId::new_random();
        insert(
            conn,
            clock,
            &id,
            &created.id,
            email,
            &full_name,
            AdminStatus::Invited,
            &profile,
            &ScopeChoice::All,
            None,
            Some(&hash),
        )?;
        send_activation(conn, clock, links, &id)?;
        history::record(
            conn,
            clock,
            &created.id,
            "My account",
            &format!("Organization registered: {organization}"),
            &full_name,
            Some(email.as_str()),
        )?;
        get(conn, &id)
    })
}
