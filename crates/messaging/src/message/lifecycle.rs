//! A sent message's life: tracking, cancelling, recipients moving through the state
//! machine (docs/messaging.md), completion and expiry.

use super::*;

/// (id, expires, completed, callback URL, secureId).
pub(super) type MessageRow = (
    String,
    NaiveDateTime,
    Option<NaiveDateTime>,
    Option<String>,
    Option<String>,
);

/// The message `id` of `sender` (an application sees only its own).
pub(super) fn own(
    conn: &mut DbConnection,
    sender: &Sender,
    id: &str,
) -> Result<(MessageKind, MessageRow)> {
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

pub(super) fn view(
    conn: &mut DbConnection,
    id: &str,
    kind: MessageKind,
    row: MessageRow,
) -> Result<Message> {
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
    // Run after every change a phone reports: a fixed query per kind (no `IN` list) keeps its
    // prepared statement. The open statuses are PENDING, NOTIFIED, DOWNLOADED, and SEEN while a
    // decision is awaited (a test checks this against the state machine).
    let status = message_recipients::status;
    let early = status
        .eq(RecipientStatus::Pending.as_str())
        .or(status.eq(RecipientStatus::Notified.as_str()))
        .or(status.eq(RecipientStatus::Downloaded.as_str()));
    let of_message = message_recipients::table.filter(message_recipients::message_id.eq(id));
    let still_open: i64 = if kind.needs_decision() {
        of_message
            .filter(early.or(status.eq(RecipientStatus::Seen.as_str())))
            .count()
            .get_result(conn)?
    } else {
        of_message.filter(early).count().get_result(conn)?
    };
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
