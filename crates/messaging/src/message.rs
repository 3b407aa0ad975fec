//! Sending, tracking, cancelling and expiring messages. Every status change goes through the
//! state machine of [`crate::status`] as a conditional update (`… WHERE status = <source>`), so
//! concurrent changes on any number of instances never skip or undo one.

use crate::status::{Event, MessageKind, RecipientStatus, sources};
use crate::{MessagingError, Result};
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use diesel::prelude::*;
use lanyard_core::Clock;
use lanyard_core::id::AccountId;
use lanyard_store::schema::{aliases, devices, end_users, message_recipients, messages};
use lanyard_store::{DbConnection, write_transaction};
use std::collections::HashMap;

/// Longest subject, in characters.
pub const MAX_SUBJECT: usize = 254;
/// Longest body, in characters.
pub const MAX_BODY: usize = 4094;
/// Most recipients of one message.
pub const MAX_RECIPIENTS: usize = 1000;
/// Longest availability: 30 days.
pub const MAX_AVAILABILITY: i64 = 30 * 24 * 3600;

/// Who sends: an application of an organization (its application key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    /// The organization.
    pub account: AccountId,
    /// The application.
    pub application_id: String,
}

/// A message to send, checked field by field (the wire names in errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// Aliases (`userId`) of the recipients, in order, without repeats.
    pub recipients: Vec<String>,
    /// Subject (`null` on the wire is empty).
    pub subject: String,
    /// Body (`null` on the wire is empty).
    pub body: String,
    /// Seconds until it expires.
    pub availability: i64,
    /// Kind.
    pub kind: MessageKind,
    /// Where status changes are POSTed.
    pub callback_url: Option<String>,
}

fn invalid(field: &'static str, rule: impl Into<String>) -> MessagingError {
    MessagingError::Invalid {
        field,
        rule: rule.into(),
    }
}

impl NewMessage {
    /// Checks the fields of a `POST /frontend/messages` request.
    pub fn parse(
        recipients: Vec<String>,
        subject: Option<&str>,
        body: Option<&str>,
        availability: i64,
        kind: &str,
        callback_url: Option<&str>,
    ) -> Result<Self> {
        if recipients.is_empty() || recipients.len() > MAX_RECIPIENTS {
            return Err(invalid(
                "recipients",
                format!("must name 1 to {MAX_RECIPIENTS} users"),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        let mut unique = Vec::with_capacity(recipients.len());
        for alias in recipients {
            let alias = alias.trim().to_owned();
            if alias.is_empty() {
                return Err(invalid("recipients", "a userId is empty"));
            }
            if seen.insert(alias.clone()) {
                unique.push(alias);
            }
        }
        let (subject, body) = (subject.unwrap_or_default(), body.unwrap_or_default());
        if subject.chars().count() > MAX_SUBJECT {
            return Err(invalid(
                "subject",
                format!("at most {MAX_SUBJECT} characters"),
            ));
        }
        if body.chars().count() > MAX_BODY {
            return Err(invalid("body", format!("at most {MAX_BODY} characters")));
        }
        if !(1..=MAX_AVAILABILITY).contains(&availability) {
            return Err(invalid(
                "availability",
                format!("seconds, from 1 to {MAX_AVAILABILITY}"),
            ));
        }
        let kind = MessageKind::parse(kind).ok_or_else(|| {
            invalid(
                "type",
                "must be \"authorization\", \"message\" or \"esign\"",
            )
        })?;
        let callback_url = match callback_url.map(str::trim).filter(|u| !u.is_empty()) {
            None => None,
            Some(raw) => {
                let url = url::Url::parse(raw)
                    .map_err(|e| invalid("callbackUrl", format!("not a URL: {e}")))?;
                if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
                    return Err(invalid("callbackUrl", "must be an http or https URL"));
                }
                Some(raw.to_owned())
            }
        };
        Ok(Self {
            recipients: unique,
            subject: subject.to_owned(),
            body: body.to_owned(),
            availability,
            kind,
            callback_url,
        })
    }
}

/// One recipient as the application sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// `userId`.
    pub user_id: String,
    /// `status`.
    pub status: RecipientStatus,
    /// The end user (to wake their phones' channels).
    pub end_user_id: Option<String>,
}

/// A message as the application sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// `messageId`.
    pub id: String,
    /// Kind.
    pub kind: MessageKind,
    /// `expirationDate`.
    pub expires_at: DateTime<Utc>,
    /// `recipients`.
    pub recipients: Vec<Recipient>,
    /// `secureId`: a short code the phone shows beside the message, so that the person can
    /// compare it with what the application shows.
    pub secure_id: Option<String>,
    /// Callback URL.
    pub callback_url: Option<String>,
}

/// The initial status of each recipient: disabled people are `DISABLED`, people without an
/// active phone `NO_DEVICE`, the others `PENDING`.
fn initial_statuses(
    conn: &mut DbConnection,
    account: &AccountId,
    recipients: &[String],
) -> Result<Vec<(String, String, RecipientStatus)>> {
    let found: HashMap<String, (String, bool)> = aliases::table
        .inner_join(end_users::table)
        .filter(aliases::account_id.eq(account.as_str()))
        .filter(aliases::alias.eq_any(recipients))
        .select((aliases::alias, end_users::id, end_users::disabled))
        .load::<(String, String, bool)>(conn)?
        .into_iter()
        .map(|(alias, id, disabled)| (alias, (id, disabled)))
        .collect();
    if let Some(unknown) = recipients.iter().find(|a| !found.contains_key(*a)) {
        return Err(MessagingError::NotFound(unknown.clone()));
    }
    let ids: Vec<&str> = found.values().map(|(id, _)| id.as_str()).collect();
    let with_device: std::collections::HashSet<String> = devices::table
        .filter(devices::end_user_id.eq_any(&ids))
        .filter(devices::status.eq("active"))
        .select(devices::end_user_id.assume_not_null())
        .distinct()
        .load::<String>(conn)?
        .into_iter()
        .collect();
    Ok(recipients
        .iter()
        .map(|alias| {
            let (id, disabled) = found[alias].clone();
            let status = if disabled {
                RecipientStatus::Disabled
            } else if with_device.contains(&id) {
                RecipientStatus::Pending
            } else {
                RecipientStatus::NoDevice
            };
            (alias.clone(), id, status)
        })
        .collect())
}

pub(crate) fn naive(at: DateTime<Utc>) -> NaiveDateTime {
    at.naive_utc()
}

/// Sends `message` from `sender`. Unknown recipients are `NOT_FOUND` (the alias as the message)
/// and nothing is sent; when every recipient is disabled the answer is `USER_DISABLED`, when
/// none has an active phone `NO_DEVICE` — otherwise each recipient gets its own status.
pub fn send(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    sender: &Sender,
    message: &NewMessage,
) -> Result<Message> {
    let id = lanyard_core::codes::random_base62(24);
    let secure_id = lanyard_core::codes::random_base62(6);
    write_transaction(conn, |conn| {
        let recipients = initial_statuses(conn, &sender.account, &message.recipients)?;
        if recipients
            .iter()
            .all(|(_, _, s)| *s == RecipientStatus::Disabled)
        {
            return Err(MessagingError::UserDisabled(recipients[0].0.clone()));
        }
        if recipients
            .iter()
            .all(|(_, _, s)| *s != RecipientStatus::Pending)
        {
            return Err(MessagingError::NoDevice(
                recipients
                    .iter()
                    .find(|(_, _, s)| *s == RecipientStatus::NoDevice)
                    .map(|r| r.0.clone())
                    .unwrap_or_default(),
            ));
        }
        let now = clock.now();
        let expires_at = now + TimeDelta::seconds(message.availability);
        diesel::insert_into(messages::table)
            .values((
                messages::id.eq(&id),
                messages::account_id.eq(sender.account.as_str()),
                messages::application_id.eq(&sender.application_id),
                messages::kind.eq(message.kind.as_str()),
                messages::subject.eq(&message.subject),
                messages::body.eq(&message.body),
                messages::callback_url.eq(message.callback_url.as_deref()),
                messages::secure_id.eq(&secure_id),
                messages::created_at.eq(naive(now)),
                messages::expires_at.eq(naive(expires_at)),
            ))
            .execute(conn)?;
        // Row by row: diesel's batch insert is not available on the two-backend connection
        // (NOTES-dependencies); inside one transaction this costs little.
        for (i, (alias, user, status)) in recipients.iter().enumerate() {
            diesel::insert_into(message_recipients::table)
                .values((
                    message_recipients::message_id.eq(&id),
                    message_recipients::position.eq(i32::try_from(i).unwrap_or(i32::MAX)),
                    message_recipients::alias.eq(alias),
                    message_recipients::end_user_id.eq(user),
                    message_recipients::status.eq(status.as_str()),
                    message_recipients::updated_at.eq(naive(now)),
                    message_recipients::progress.eq(status.progress()),
                    message_recipients::ended_at
                        .eq(status.is_final(message.kind).then(|| naive(now))),
                ))
                .execute(conn)?;
        }
        Ok(Message {
            id: id.clone(),
            kind: message.kind,
            expires_at,
            recipients: recipients
                .into_iter()
                .map(|(user_id, end_user, status)| Recipient {
                    user_id,
                    status,
                    end_user_id: Some(end_user),
                })
                .collect(),
            secure_id: Some(secure_id.clone()),
            callback_url: message.callback_url.clone(),
        })
    })
}

/// (id, expires, completed, callback URL, secureId).
type MessageRow = (
    String,
    NaiveDateTime,
    Option<NaiveDateTime>,
    Option<String>,
    Option<String>,
);

/// The message `id` of `sender` (an application sees only its own).
fn own(conn: &mut DbConnection, sender: &Sender, id: &str) -> Result<(MessageKind, MessageRow)> {
    let row: Option<(String, MessageRow)> = messages::table
        .filter(messages::id.eq(id))
        .filter(messages::account_id.eq(sender.account.as_str()))
        .filter(messages::application_id.eq(&sender.application_id))
        .select((
            messages::kind,
            (
                messages::id,
                messages::expires_at,
                messages::completed_at,
                messages::callback_url,
                messages::secure_id,
            ),
        ))
        .first(conn)
        .optional()?;
    let (kind, row) = row.ok_or_else(|| MessagingError::NotFound(id.to_owned()))?;
    Ok((
        MessageKind::parse(&kind).unwrap_or(MessageKind::Message),
        row,
    ))
}

/// Message `id` of `sender` as the application sees it (no expiry applied).
pub(crate) fn own_view(conn: &mut DbConnection, sender: &Sender, id: &str) -> Result<Message> {
    let (kind, row) = own(conn, sender, id)?;
    view(conn, id, kind, row)
}

fn view(conn: &mut DbConnection, id: &str, kind: MessageKind, row: MessageRow) -> Result<Message> {
    let recipients: Vec<(String, String, Option<String>)> = message_recipients::table
        .filter(message_recipients::message_id.eq(id))
        .order(message_recipients::position)
        .select((
            message_recipients::alias,
            message_recipients::status,
            message_recipients::end_user_id,
        ))
        .load(conn)?;
    Ok(Message {
        id: id.to_owned(),
        kind,
        expires_at: row.1.and_utc(),
        recipients: recipients
            .into_iter()
            .map(|(user_id, status, end_user_id)| Recipient {
                user_id,
                status: RecipientStatus::parse(&status).unwrap_or(RecipientStatus::Failed),
                end_user_id,
            })
            .collect(),
        secure_id: row.4,
        callback_url: row.3,
    })
}

/// Applies `event` to every recipient of message `id` that it moves, with conditional updates;
/// returns how many changed.
pub(crate) fn apply_to_all(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    id: &str,
    kind: MessageKind,
    event: Event,
) -> Result<usize> {
    let mut changed = 0;
    for (from, to) in sources(kind, event) {
        changed += diesel::update(
            message_recipients::table
                .filter(message_recipients::message_id.eq(id))
                .filter(message_recipients::status.eq(from.as_str())),
        )
        .set((
            message_recipients::status.eq(to.as_str()),
            message_recipients::updated_at.eq(naive(now)),
            message_recipients::progress.eq(to.progress()),
            message_recipients::ended_at.eq(to.is_final(kind).then(|| naive(now))),
        ))
        .execute(conn)?;
    }
    Ok(changed)
}

/// Marks message `id` complete when no recipient can change any more.
pub(crate) fn complete_if_final(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    id: &str,
    kind: MessageKind,
) -> Result<bool> {
    let open: Vec<&str> = RecipientStatus::ALL
        .into_iter()
        .filter(|s| !s.is_final(kind))
        .map(RecipientStatus::as_str)
        .collect();
    let still_open: i64 = message_recipients::table
        .filter(message_recipients::message_id.eq(id))
        .filter(message_recipients::status.eq_any(open))
        .count()
        .get_result(conn)?;
    if still_open > 0 {
        return Ok(false);
    }
    diesel::update(
        messages::table
            .find(id)
            .filter(messages::completed_at.is_null()),
    )
    .set(messages::completed_at.eq(naive(now)))
    .execute(conn)?;
    Ok(true)
}

/// Expires message `id` if its time is up: every open recipient moves by the `expire` rows of
/// the state machine. Idempotent: a second run (or another instance) changes nothing.
pub(crate) fn expire_one(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    id: &str,
    kind: MessageKind,
) -> Result<usize> {
    let now = clock.now();
    write_transaction(conn, |conn| {
        let changed = apply_to_all(conn, now, id, kind, Event::Expire)?;
        complete_if_final(conn, now, id, kind)?;
        if changed > 0 {
            crate::callback::enqueue(conn, clock, id)?;
        }
        Ok(changed)
    })
}

/// `GET /frontend/messages/{id}`: the message of `sender`, with expiry applied first if its
/// time is up (so the answer never depends on when the expiry work last ran).
pub fn track(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    sender: &Sender,
    id: &str,
) -> Result<Message> {
    let (kind, row) = own(conn, sender, id)?;
    let now = clock.now();
    if row.2.is_none() && now >= row.1.and_utc() {
        expire_one(conn, clock, id, kind)?;
    }
    view(conn, id, kind, row)
}

/// `DELETE /frontend/messages/{id}`: every open recipient becomes `CANCELLED`. A message whose
/// recipients are all final already (decided, expired) is `ALREADY_COMPLETED`.
pub fn cancel(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    sender: &Sender,
    id: &str,
) -> Result<Message> {
    let (kind, row) = own(conn, sender, id)?;
    let now = clock.now();
    if row.2.is_none() && now >= row.1.and_utc() {
        expire_one(conn, clock, id, kind)?;
    }
    let cancelled = write_transaction(conn, |conn| {
        let changed = apply_to_all(conn, now, id, kind, Event::Cancel)?;
        complete_if_final(conn, now, id, kind)?;
        if changed > 0 {
            crate::callback::enqueue(conn, clock, id)?;
        }
        Ok::<_, MessagingError>(changed)
    })?;
    if cancelled == 0 {
        return Err(MessagingError::AlreadyCompleted(id.to_owned()));
    }
    view(conn, id, kind, row)
}

/// The recipient rows of person `id`: an end user, or an administrator (console approvals).
pub(crate) fn recipient_is(
    id: &str,
) -> diesel::dsl::Or<
    diesel::dsl::Eq<message_recipients::end_user_id, String>,
    diesel::dsl::Eq<message_recipients::administrator_id, String>,
> {
    message_recipients::end_user_id
        .eq(id.to_owned())
        .or(message_recipients::administrator_id.eq(id.to_owned()))
}

/// Applies `event` to recipient `end_user_id` of message `id` (a phone's report), through the
/// state machine; `Ok(None)` when the recipient's status does not allow it (e.g. a late report
/// after a final status), else the new status.
pub fn advance(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    id: &str,
    end_user_id: &str,
    event: Event,
) -> Result<Option<RecipientStatus>> {
    let now = clock.now();
    write_transaction(conn, |conn| {
        let (kind, expires): (String, NaiveDateTime) = messages::table
            .find(id)
            .select((messages::kind, messages::expires_at))
            .first(conn)
            .optional()?
            .ok_or_else(|| MessagingError::NotFound(id.to_owned()))?;
        let kind = MessageKind::parse(&kind).unwrap_or(MessageKind::Message);
        if event != Event::Expire && now >= expires.and_utc() {
            // Too late: the message expires instead.
            expire_one(conn, clock, id, kind)?;
            return Ok(None);
        }
        for (from, to) in sources(kind, event) {
            let changed = diesel::update(
                message_recipients::table
                    .filter(message_recipients::message_id.eq(id))
                    .filter(recipient_is(end_user_id))
                    .filter(message_recipients::status.eq(from.as_str())),
            )
            .set((
                message_recipients::status.eq(to.as_str()),
                message_recipients::updated_at.eq(naive(now)),
                message_recipients::progress.eq(to.progress()),
                message_recipients::ended_at.eq(to.is_final(kind).then(|| naive(now))),
            ))
            .execute(conn)?;
            if changed > 0 {
                complete_if_final(conn, now, id, kind)?;
                crate::callback::enqueue(conn, clock, id)?;
                return Ok(Some(to));
            }
        }
        Ok(None)
    })
}

/// The expiry work: expires up to `limit` messages whose time is up; returns how many. Runs on
/// any number of instances at once.
pub fn expire_due(conn: &mut DbConnection, clock: &dyn Clock, limit: i64) -> Result<usize> {
    let now = clock.now();
    let due: Vec<(String, String)> = messages::table
        .filter(messages::completed_at.is_null())
        .filter(messages::expires_at.le(naive(now)))
        .order(messages::expires_at)
        .limit(limit)
        .select((messages::id, messages::kind))
        .load(conn)?;
    let count = due.len();
    for (id, kind) in due {
        let kind = MessageKind::parse(&kind).unwrap_or(MessageKind::Message);
        expire_one(conn, clock, &id, kind)?;
    }
    Ok(count)
}
