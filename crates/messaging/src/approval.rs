//! Approvals the console asks of an administrator's own phones (SPEC §1 "Login", seed 000
//! "Dashboard access"): an authorization message through the same pipeline as the applications'
//! — state machine, real-time channel, evidences — sent by the platform rather than by an
//! application (no application, no callback), to the administrator rather than to an end user.

use crate::message::{apply_to_all, complete_if_final, expire_one, naive};
use crate::status::{Event, MessageKind, RecipientStatus};
use crate::{MessagingError, Result};
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use diesel::prelude::*;
use lanyard_core::Clock;
use lanyard_core::id::AdministratorId;
use lanyard_store::schema::{
    administrators, devices, message_recipients, messages, pending_approvals,
};
use lanyard_store::{DbConnection, write_transaction};

/// An approval asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    /// The message.
    pub message_id: String,
    /// The code the phone shows, which the console shows too.
    pub secure_id: String,
    /// When it expires unanswered.
    pub expires_at: DateTime<Utc>,
}

/// Whether administrator `admin` has an active phone (one that can approve).
pub fn has_phone(conn: &mut DbConnection, admin: &AdministratorId) -> Result<bool> {
    let count: i64 = devices::table
        .filter(devices::administrator_id.eq(admin.as_str()))
        .filter(devices::status.eq("active"))
        .count()
        .get_result(conn)?;
    Ok(count > 0)
}

/// Asks administrator `admin`'s phones to approve `subject`/`body` within `availability`
/// seconds. `NO_DEVICE` when they have no active phone.
pub fn request(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    admin: &AdministratorId,
    subject: &str,
    body: &str,
    availability: i64,
) -> Result<Approval> {
    let id = lanyard_core::codes::random_base62(24);
    let secure_id = lanyard_core::codes::random_base62(6);
    write_transaction(conn, |conn| {
        let (account, email): (String, String) = administrators::table
            .find(admin.as_str())
            .select((administrators::account_id, administrators::email))
            .first(conn)
            .optional()?
            .ok_or_else(|| MessagingError::NotFound(admin.to_string()))?;
        if !has_phone(conn, admin)? {
            return Err(MessagingError::NoDevice(email));
        }
        let now = clock.now();
        let expires_at = now + TimeDelta::seconds(availability);
        diesel::insert_into(messages::table)
            .values((
                messages::id.eq(&id),
                messages::account_id.eq(&account),
                messages::application_id.eq(None::<String>),
                messages::kind.eq(MessageKind::Authorization.as_str()),
                messages::subject.eq(subject),
                messages::body.eq(body),
                messages::callback_url.eq(None::<String>),
                messages::secure_id.eq(&secure_id),
                messages::created_at.eq(naive(now)),
                messages::expires_at.eq(naive(expires_at)),
            ))
            .execute(conn)?;
        diesel::insert_into(message_recipients::table)
            .values((
                message_recipients::message_id.eq(&id),
                message_recipients::position.eq(0),
                message_recipients::alias.eq(&email),
                message_recipients::administrator_id.eq(admin.as_str()),
                message_recipients::status.eq(RecipientStatus::Pending.as_str()),
                message_recipients::updated_at.eq(naive(now)),
                message_recipients::progress.eq(RecipientStatus::Pending.progress()),
            ))
            .execute(conn)?;
        lanyard_store::notify::notify(conn, lanyard_store::notify::WAKEUPS, &[admin.as_str()])?;
        crate::push_outbox::enqueue(
            conn,
            clock,
            &lanyard_core::id::AccountId::from_stored(account.clone()),
            &id,
            &[admin.as_str()],
        )?;
        Ok(Approval {
            message_id: id.clone(),
            secure_id: secure_id.clone(),
            expires_at,
        })
    })
}

/// The administrator's answer so far to approval `id`, with its secureId and expiry (expired
/// on the spot when its time is up, so the answer never waits for the expiry work). NOT_FOUND
/// when it is not theirs.
pub fn status(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    admin: &AdministratorId,
    id: &str,
) -> Result<(RecipientStatus, String, DateTime<Utc>)> {
    type Row = (String, NaiveDateTime, Option<NaiveDateTime>, Option<String>);
    let read = |conn: &mut DbConnection| -> Result<Row> {
        messages::table
            .inner_join(message_recipients::table)
            .filter(messages::id.eq(id))
            .filter(messages::application_id.is_null())
            .filter(message_recipients::administrator_id.eq(admin.as_str()))
            .select((
                message_recipients::status,
                messages::expires_at,
                messages::completed_at,
                messages::secure_id,
            ))
            .first(conn)
            .optional()?
            .ok_or_else(|| MessagingError::NotFound(id.to_owned()))
    };
    let (mut status, expires, completed, secure_id) = read(conn)?;
    if completed.is_none() && clock.now() >= expires.and_utc() {
        expire_one(conn, clock, id, MessageKind::Authorization)?;
        status = read(conn)?.0;
    }
    Ok((
        RecipientStatus::parse(&status).unwrap_or(RecipientStatus::Failed),
        secure_id.unwrap_or_default(),
        expires.and_utc(),
    ))
}

/// Withdraws approval `id` (the administrator gave up on the login): CANCELLED unless the phone
/// answered first. Returns the status it ends with.
pub fn withdraw(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    admin: &AdministratorId,
    id: &str,
) -> Result<RecipientStatus> {
    // Ownership first (NOT_FOUND for someone else's).
    status(conn, clock, admin, id)?;
    let now = clock.now();
    write_transaction(conn, |conn| {
        apply_to_all(conn, now, id, MessageKind::Authorization, Event::Cancel)?;
        complete_if_final(conn, now, id, MessageKind::Authorization)?;
        Ok::<_, MessagingError>(())
    })?;
    Ok(status(conn, clock, admin, id)?.0)
}

/// A change waiting for an administrator's phone (SPEC §1: a forgotten password's reset, the
/// deletion of a customer account).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// The approval message.
    pub message_id: String,
    /// Whose phone approves.
    pub administrator: AdministratorId,
    /// What kind of change (`password_reset`, `delete_account`).
    pub purpose: String,
    /// What it applies to.
    pub target: String,
    /// What it sets.
    pub payload: Option<String>,
}

/// Asks administrator `admin`'s phones to approve a change (`purpose` on `target`, setting
/// `payload`), keeping the change until they answer. `NO_DEVICE` when they have no phone.
#[allow(clippy::too_many_arguments)]
pub fn ask(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    admin: &AdministratorId,
    (purpose, target, payload): (&str, &str, Option<&str>),
    subject: &str,
    body: &str,
    availability: i64,
) -> Result<Approval> {
    write_transaction(conn, |conn| {
        // One change waits per target: asking again (the same reset link submitted twice)
        // replaces the earlier request, whose message is withdrawn, so an approval of a stale
        // request can change nothing.
        let earlier: Vec<String> = pending_approvals::table
            .filter(pending_approvals::purpose.eq(purpose))
            .filter(pending_approvals::target.eq(target))
            .select(pending_approvals::message_id)
            .load(conn)?;
        for id in &earlier {
            diesel::delete(pending_approvals::table.find(id)).execute(conn)?;
            let now = clock.now();
            apply_to_all(conn, now, id, MessageKind::Authorization, Event::Cancel)?;
            complete_if_final(conn, now, id, MessageKind::Authorization)?;
        }
        let approval = request(conn, clock, admin, subject, body, availability)?;
        diesel::insert_into(pending_approvals::table)
            .values((
                pending_approvals::message_id.eq(&approval.message_id),
                pending_approvals::administrator_id.eq(admin.as_str()),
                pending_approvals::purpose.eq(purpose),
                pending_approvals::target.eq(target),
                pending_approvals::payload.eq(payload),
                pending_approvals::created_at.eq(naive(clock.now())),
            ))
            .execute(conn)?;
        Ok(approval)
    })
}

/// Where a pending change stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled<T> {
    /// The phone has not answered yet: the code it shows and until when it may answer.
    Waiting {
        /// secureId.
        secure_id: String,
        /// Expiry.
        expires_at: DateTime<Utc>,
    },
    /// Approved: the change was made, and this is what making it gave.
    Done(T),
    /// Denied, expired or withdrawn: the change was dropped.
    Refused(RecipientStatus),
}

/// The change waiting on approval `id` of `purpose` (NOT_FOUND when there is none: never asked,
/// or settled already).
pub fn pending(conn: &mut DbConnection, id: &str, purpose: &str) -> Result<Pending> {
    let row: Option<(String, String, String, Option<String>)> = pending_approvals::table
        .find(id)
        .filter(pending_approvals::purpose.eq(purpose))
        .select((
            pending_approvals::administrator_id,
            pending_approvals::purpose,
            pending_approvals::target,
            pending_approvals::payload,
        ))
        .first(conn)
        .optional()?;
    let (admin, purpose, target, payload) =
        row.ok_or_else(|| MessagingError::NotFound(id.to_owned()))?;
    Ok(Pending {
        message_id: id.to_owned(),
        administrator: AdministratorId::from_stored(admin),
        purpose,
        target,
        payload,
    })
}

/// Settles the change waiting on approval `id` of `purpose`: still waiting; approved — `apply`
/// makes it, in the transaction that removes it, so it is made once however many callers race
/// (the others get NOT_FOUND); or refused — removed without being made. When `apply` fails, its
/// error is returned and the change is dropped all the same (an approval is for that moment).
pub fn settle<T, E>(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    id: &str,
    purpose: &str,
    apply: impl FnOnce(&mut DbConnection, &Pending) -> std::result::Result<T, E>,
) -> std::result::Result<Settled<T>, E>
where
    E: From<MessagingError> + From<diesel::result::Error>,
{
    let change = pending(conn, id, purpose)?;
    let (answer, secure_id, expires_at) = status(conn, clock, &change.administrator, id)?;
    if !answer.is_final(MessageKind::Authorization) {
        return Ok(Settled::Waiting {
            secure_id,
            expires_at,
        });
    }
    let settled = write_transaction(conn, |conn| {
        let removed = diesel::delete(pending_approvals::table.find(id)).execute(conn)?;
        if removed != 1 {
            return Err(E::from(MessagingError::NotFound(id.to_owned())));
        }
        if answer == RecipientStatus::Approved {
            Ok(Settled::Done(apply(conn, &change)?))
        } else {
            Ok(Settled::Refused(answer))
        }
    });
    if settled.is_err() {
        // The change could not be made (its link expired meanwhile, the account gained
        // customers…): it is dropped, so that the approval cannot make it later, unasked.
        diesel::delete(pending_approvals::table.find(id)).execute(conn)?;
    }
    settled
}
