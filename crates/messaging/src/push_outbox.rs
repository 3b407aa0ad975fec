//! Push wake-ups as an outbox (SPEC §5 "delivery survives restarts"): sending a message (and
//! asking a console approval) writes one row per person to wake in its own transaction; a sender
//! on any instance claims due rows under a lease, pushes them through the gateways and deletes
//! them, or retries with backoff. A crash between the commit and the push loses nothing: the
//! next round, in any process, sends it.

use crate::Result;
use chrono::TimeDelta;
use diesel::prelude::*;
use lanyard_core::Clock;
use lanyard_core::id::AccountId;
use lanyard_store::DbConnection;
use lanyard_store::schema::push_outbox;

/// Attempts before a wake-up is given up: the phone still finds the message on its real-time
/// channel or at its next poll, so pushes are not worth hours of retries.
pub const MAX_ATTEMPTS: i32 = 6;

/// How long a claimed row belongs to its sender.
const LEASE: TimeDelta = TimeDelta::minutes(1);

/// Enqueues the wake-up of `people` (end user or administrator ids) of `account` about message
/// `message_id`, in the caller's transaction.
pub fn enqueue(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    account: &AccountId,
    message_id: &str,
    people: &[&str],
) -> Result<()> {
    let now = clock.now().naive_utc();
    for person in people {
        diesel::insert_into(push_outbox::table)
            .values((
                push_outbox::id.eq(lanyard_core::codes::random_base62(24)),
                push_outbox::account_id.eq(account.as_str()),
                push_outbox::message_id.eq(message_id),
                push_outbox::person.eq(person),
                push_outbox::attempts.eq(0),
                push_outbox::next_attempt_at.eq(now),
                push_outbox::created_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// A wake-up claimed for sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuePush {
    /// Row id.
    pub id: String,
    /// The lease that makes it this sender's.
    pub lease: String,
    /// The organization.
    pub account: AccountId,
    /// The message.
    pub message_id: String,
    /// Whose phones.
    pub person: String,
    /// Failed attempts before this one.
    pub attempts: i32,
}

/// Claims up to `limit` due wake-ups: each by a conditional update of its lease, so concurrent
/// senders on several instances never take the same row.
pub fn claim(conn: &mut DbConnection, clock: &dyn Clock, limit: i64) -> Result<Vec<DuePush>> {
    let now = clock.now().naive_utc();
    let free = || {
        push_outbox::leased_until
            .is_null()
            .or(push_outbox::leased_until.lt(now))
    };
    let candidates: Vec<(String, String, String, String, i32)> = push_outbox::table
        .filter(push_outbox::next_attempt_at.le(now))
        .filter(free())
        .order((push_outbox::next_attempt_at, push_outbox::created_at))
        .limit(limit)
        .select((
            push_outbox::id,
            push_outbox::account_id,
            push_outbox::message_id,
            push_outbox::person,
            push_outbox::attempts,
        ))
        .load(conn)?;
    let mut due = Vec::new();
    for (id, account, message_id, person, attempts) in candidates {
        let lease = lanyard_core::codes::random_base62(24);
        let taken = diesel::update(push_outbox::table.find(&id).filter(free()))
            .set((
                push_outbox::lease_token.eq(&lease),
                push_outbox::leased_until.eq(now + LEASE),
            ))
            .execute(conn)?;
        if taken == 1 {
            due.push(DuePush {
                id,
                lease,
                account: AccountId::from_stored(account),
                message_id,
                person,
                attempts,
            });
        }
    }
    Ok(due)
}

/// What became of a claimed wake-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Pushed (or nothing to push to): the row goes.
    Done,
    /// A gateway could not be reached: tried again later, until [`MAX_ATTEMPTS`].
    Retry,
}

/// Records the outcome of `due` (only while its lease is still this sender's); `true` when the
/// row is gone (sent, or given up).
pub fn record(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    due: &DuePush,
    outcome: Outcome,
) -> Result<bool> {
    let mine = push_outbox::table
        .find(&due.id)
        .filter(push_outbox::lease_token.eq(&due.lease));
    let attempts = due.attempts.saturating_add(1);
    if outcome == Outcome::Done || attempts >= MAX_ATTEMPTS {
        diesel::delete(mine).execute(conn)?;
        return Ok(true);
    }
    let doublings = u32::try_from(attempts.clamp(0, 10)).unwrap_or(0);
    let delay = TimeDelta::seconds(5 * 2_i64.saturating_pow(doublings)).min(TimeDelta::minutes(10));
    diesel::update(mine)
        .set((
            push_outbox::attempts.eq(attempts),
            push_outbox::next_attempt_at.eq((clock.now() + delay).naive_utc()),
            push_outbox::lease_token.eq(None::<String>),
            push_outbox::leased_until.eq(None::<chrono::NaiveDateTime>),
        ))
        .execute(conn)?;
    Ok(false)
}
