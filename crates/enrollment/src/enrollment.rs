//! Enrollments of end users' and administrators' phones.
//!
//! An enrollment has a public id (`enrollmentId`) and a secret carried only in its
//! `deviceConfigUrl`: an HMAC of the id under the platform's sealed link key. The database keeps
//! the secret's SHA-256 (to find the enrollment when a phone presents it), never the secret; the
//! URL can still be shown again (lists, sheets) because it is derived, not stored.

use crate::{EnrollmentError, Result};
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use diesel::prelude::*;
use lanyard_core::id::{AccountId, AdministratorId};
use lanyard_core::secret::hash_token;
use lanyard_core::{Clock, Email, Oid};
use lanyard_identity::rights::{Actor, Area, Verb, authorize};
use lanyard_identity::{
    IdentityError, account, admin, branding, end_user, history, organization, platform_pki,
};
use lanyard_pki::MasterKey;
use lanyard_store::schema::enrollments;
use lanyard_store::{DbConnection, write_transaction};

/// Whose phone an enrollment is for.
#[derive(Debug, Clone, Copy)]
pub enum Holder<'a> {
    /// An end user, by OID.
    User(&'a Oid),
    /// An administrator of the account, by login e-mail (the API's `userId`).
    Administrator(&'a str),
}

/// State of an enrollment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnrollmentState {
    /// Usable.
    Active,
    /// A device enrolled with it.
    Used,
    /// Past its expiry, unused.
    Expired,
}

impl EnrollmentState {
    /// Wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Used => "USED",
            Self::Expired => "EXPIRED",
        }
    }
}

/// An enrollment as the API shows it (EnrollmentData).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrollment {
    /// `enrollmentId`.
    pub id: String,
    /// `expireDate`.
    pub expires_at: DateTime<Utc>,
    /// `state`.
    pub state: EnrollmentState,
    /// `sent`: the sheet was e-mailed.
    pub sent: bool,
    /// `deviceConfigUrl`: what the QR code carries.
    pub device_config_url: String,
}

/// What enrollment links are made of: device-api's public URL, and the master key that opens
/// the platform's link key.
#[derive(Debug, Clone, Copy)]
pub struct Links<'a> {
    /// device-api's public base URL.
    pub device_api: &'a str,
    /// The master key.
    pub master: &'a MasterKey,
    /// Domain of the Message-IDs of the mails an enrollment sends.
    pub mail_domain: &'a str,
}

/// The secret of enrollment `id` (hex of 16 bytes of HMAC-SHA-256 under the link key).
fn secret(link_key: &[u8], id: &str) -> Result<String> {
    let mac = lanyard_pki::hmac_sha256(link_key, format!("enrollment:{id}").as_bytes())?;
    Ok(mac[..16].iter().map(|b| format!("{b:02x}")).collect())
}

fn url(links: Links<'_>, organization: &str, secret: &str, expires: DateTime<Utc>) -> String {
    // The date has only digits, '-', 'T', '.', 'Z' and ':'; ':' is the one to escape in a query.
    let expire = lanyard_core::wire::timestamp(expires).replace(':', "%3A");
    format!(
        "{}/deviceConfig/{organization}/{secret}?expireDate={expire}",
        links.device_api.trim_end_matches('/')
    )
}

/// The person an enrollment is for, as the queries and the sheet need them.
struct Person {
    /// `enrollments.end_user_id`.
    user: Option<String>,
    /// `enrollments.administrator_id`.
    administrator: Option<String>,
    /// Alias (end user) or login e-mail (administrator): how history and the sheet name them.
    label: String,
    name: Option<String>,
    email: Option<String>,
}

fn resolve(conn: &mut DbConnection, account: &AccountId, holder: Holder<'_>) -> Result<Person> {
    match holder {
        Holder::User(oid) => {
            let user = end_user::get(conn, account, oid)?;
            Ok(Person {
                label: user.primary_alias().unwrap_or(oid.as_str()).to_owned(),
                user: Some(user.id.as_str().to_owned()),
                administrator: None,
                name: user.full_name,
                email: user.email,
            })
        }
        Holder::Administrator(email) => match admin::find_by_email(conn, email)? {
            Some(a) if &a.account == account => Ok(Person {
                user: None,
                administrator: Some(a.id.as_str().to_owned()),
                label: a.email.clone(),
                name: Some(a.full_name),
                email: Some(a.email),
            }),
            _ => Err(EnrollmentError::Identity(IdentityError::NotFound {
                what: "administrator",
                key: email.to_owned(),
            })),
        },
    }
}

type Row = (String, NaiveDateTime, Option<NaiveDateTime>, bool);

fn shown(
    now: DateTime<Utc>,
    link_key: &[u8],
    links: Links<'_>,
    organization: &str,
    row: Row,
) -> Result<Enrollment> {
    let (id, expires, used, sent) = row;
    let expires_at = expires.and_utc();
    let state = if used.is_some() {
        EnrollmentState::Used
    } else if now >= expires_at {
        EnrollmentState::Expired
    } else {
        EnrollmentState::Active
    };
    let secret = secret(link_key, &id)?;
    Ok(Enrollment {
        device_config_url: url(links, organization, &secret, expires_at),
        id,
        expires_at,
        state,
        sent,
    })
}

/// Creates an enrollment for `holder`, valid for the account's `enrollmentExpirationHours`.
pub fn create(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    account: &AccountId,
    holder: Holder<'_>,
    links: Links<'_>,
) -> Result<Enrollment> {
    let link_key = platform_pki::link_key(conn, links.master)?;
    write_transaction(conn, |conn| {
        authorize(conn, actor, Area::Devices, Verb::Create, account)?;
        let Person {
            user,
            administrator,
            label,
            name,
            email,
        } = resolve(conn, account, holder)?;
        // A phone enrolled for an administrator approves that administrator's logins and
        // password resets: only the administrator, or a full administrator of the account (who
        // could do everything anyway, and the administrator is told), may create one.
        if let Some(target) = &administrator
            && actor.administrator.as_ref().map(AdministratorId::as_str) != Some(target.as_str())
        {
            if !actor.is_full() {
                return Err(EnrollmentError::Identity(IdentityError::Forbidden(
                    "only the administrator, or a full administrator of the account, can enroll a phone for an administrator".into(),
                )));
            }
            if let Some(to) = email.as_deref().and_then(|e| Email::parse(e).ok()) {
                let chain = account::ancestors(conn, account)?;
                lanyard_mail::templates::send(
                    conn,
                    clock,
                    links.mail_domain,
                    &chain,
                    "admin_enrollment_created",
                    &to,
                    minijinja::context! {
                        name => name.as_deref().unwrap_or(&label),
                        by => &actor.name,
                    },
                )
                .map_err(|e| {
                    EnrollmentError::Identity(IdentityError::Inconsistent(e.to_string()))
                })?;
            }
        }
        let hours = organization::settings(conn, account)?.enrollment_expiration_hours;
        let now = clock.now();
        let expires_at = now + TimeDelta::hours(hours);
        let id = lanyard_core::codes::random_base62(16);
        let secret = secret(&link_key, &id)?;
        diesel::insert_into(enrollments::table)
            .values((
                enrollments::id.eq(&id),
                enrollments::account_id.eq(account.as_str()),
                enrollments::end_user_id.eq(user),
                enrollments::administrator_id.eq(administrator),
                enrollments::secret_hash.eq(hash_token(&secret)),
                enrollments::expires_at.eq(expires_at.naive_utc()),
                enrollments::sent.eq(false),
                enrollments::created_at.eq(now.naive_utc()),
            ))
            .execute(conn)?;
        history::record_by(
            conn,
            clock,
            actor,
            account,
            "Enrollments",
            &format!("Enrollment {id} created for {label}"),
        )?;
        let organization = account::get(conn, account)?.oid.to_string();
        shown(
            now,
            &link_key,
            links,
            &organization,
            (id, expires_at.naive_utc(), None, false),
        )
    })
}

fn holder_filter(
    user: Option<String>,
    administrator: Option<String>,
) -> enrollments::BoxedQuery<'static, lanyard_store::MultiBackend> {
    let q = enrollments::table.into_boxed();
    match (user, administrator) {
        (Some(u), _) => q.filter(enrollments::end_user_id.eq(u)),
        (None, Some(a)) => q.filter(enrollments::administrator_id.eq(a)),
        (None, None) => q.filter(enrollments::id.is_null()),
    }
}

/// The enrollments of `holder`, newest first (every state, so that a used one can be seen).
pub fn list(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    account: &AccountId,
    holder: Holder<'_>,
    links: Links<'_>,
) -> Result<Vec<Enrollment>> {
    authorize(conn, actor, Area::Devices, Verb::View, account)?;
    let Person {
        user,
        administrator,
        ..
    } = resolve(conn, account, holder)?;
    let link_key = platform_pki::link_key(conn, links.master)?;
    let organization = account::get(conn, account)?.oid.to_string();
    let rows: Vec<Row> = holder_filter(user, administrator)
        .order((enrollments::created_at.desc(), enrollments::id))
        .select((
            enrollments::id,
            enrollments::expires_at,
            enrollments::used_at,
            enrollments::sent,
        ))
        .load(conn)?;
    let now = clock.now();
    rows.into_iter()
        .map(|r| shown(now, &link_key, links, &organization, r))
        .collect()
}

/// Enrollment `id` of `holder`.
pub fn get(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    account: &AccountId,
    holder: Holder<'_>,
    id: &str,
    links: Links<'_>,
) -> Result<Enrollment> {
    list(conn, clock, actor, account, holder, links)?
        .into_iter()
        .find(|e| e.id == id)
        .ok_or_else(|| EnrollmentError::NotFound(id.to_owned()))
}

/// Deletes (cancels) enrollment `id` of `holder`; its link stops working at once.
pub fn delete(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    account: &AccountId,
    holder: Holder<'_>,
    id: &str,
) -> Result<()> {
    write_transaction(conn, |conn| {
        authorize(conn, actor, Area::Devices, Verb::Delete, account)?;
        let Person {
            user,
            administrator,
            label,
            ..
        } = resolve(conn, account, holder)?;
        let target = holder_filter(user, administrator)
            .filter(enrollments::id.eq(id))
            .select(enrollments::id)
            .first::<String>(conn)
            .optional()?
            .ok_or_else(|| EnrollmentError::NotFound(id.to_owned()))?;
        diesel::delete(enrollments::table.find(&target)).execute(conn)?;
        history::record_by(
            conn,
            clock,
            actor,
            account,
            "Enrollments",
            &format!("Enrollment {id} of {label} deleted"),
        )?;
        Ok(())
    })
}

/// The enrollment sheet (PDF) of enrollment `id` of `holder`, with the account's name, contact
/// e-mail and logo. Only an active enrollment has one: a used or expired link is of no use on
/// paper (NOT_FOUND, as for an unknown id).
pub fn sheet(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    account: &AccountId,
    holder: Holder<'_>,
    id: &str,
    links: Links<'_>,
) -> Result<Vec<u8>> {
    let enrollment = get(conn, clock, actor, account, holder, id, links)?;
    if enrollment.state != EnrollmentState::Active {
        return Err(EnrollmentError::NotFound(id.to_owned()));
    }
    let person = resolve(conn, account, holder)?;
    render_sheet(conn, account, &person, &enrollment)
}

fn render_sheet(
    conn: &mut DbConnection,
    account: &AccountId,
    person: &Person,
    enrollment: &Enrollment,
) -> Result<Vec<u8>> {
    let org = account::get(conn, account)?;
    let logo = branding::effective_logo(conn, account, branding::LogoSlot::Header)?;
    let link = crate::mobile_app::enrollment_link(conn, account, &enrollment.device_config_url)?;
    crate::sheet::render(&crate::sheet::SheetContent {
        organization: &org.name,
        contact_email: org.contact_email.as_deref(),
        person_name: person.name.as_deref(),
        alias: &person.label,
        link: &link,
        expires_at: enrollment.expires_at,
        logo: logo
            .as_ref()
            .map(|l| (l.content_type.as_str(), l.data.as_slice())),
    })
}

/// E-mails the sheet of enrollment `id` to its person (`pdfviaemail`) through the outbox, and
/// marks the enrollment `sent`, in one transaction. A person without an e-mail address cannot
/// be sent one (MALFORMED_INPUT naming `email`).
#[allow(clippy::too_many_arguments)]
pub fn send_sheet(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    account: &AccountId,
    holder: Holder<'_>,
    id: &str,
    links: Links<'_>,
    mail_domain: &str,
) -> Result<()> {
    // Drawn before the write transaction: SQLite holds its write lock for the transaction.
    let pdf = sheet(conn, clock, actor, account, holder, id, links)?;
    let person = resolve(conn, account, holder)?;
    let to = person
        .email
        .as_deref()
        .and_then(|e| Email::parse(e).ok())
        .ok_or(IdentityError::Invalid {
            field: "email",
            rule: "the person has no e-mail address to send the sheet to".into(),
        })?;
    let expires = get(conn, clock, actor, account, holder, id, links)?.expires_at;
    write_transaction(conn, |conn| {
        authorize(conn, actor, Area::Devices, Verb::Edit, account)?;
        let org = account::get(conn, account)?;
        let chain = account::ancestors(conn, account)?;
        lanyard_mail::templates::send_with_attachments(
            conn,
            clock,
            mail_domain,
            (&chain, "enrollment_sheet"),
            &to,
            minijinja::context! {
                name => person.name.as_deref().unwrap_or(&person.label),
                account_name => org.name,
                expires => expires.format("%Y-%m-%d %H:%M UTC").to_string(),
            },
            vec![lanyard_mail::Attachment {
                filename: format!("enrollment-{id}.pdf"),
                content_type: "application/pdf".into(),
                data: pdf,
            }],
        )
        .map_err(|e| EnrollmentError::Identity(IdentityError::Inconsistent(e.to_string())))?;
        diesel::update(enrollments::table.find(id))
            .set(enrollments::sent.eq(true))
            .execute(conn)?;
        history::record_by(
            conn,
            clock,
            actor,
            account,
            "Enrollments",
            &format!("Enrollment sheet {id} e-mailed to {}", person.label),
        )?;
        Ok(())
    })
}
