//! Notifications between processes sharing a PostgreSQL database (`NOTIFY` / `LISTEN`): a
//! process that commits something another process waits for says so on a channel, and the
//! listening processes hear it within milliseconds instead of at their next poll. SQLite has no
//! such thing; its processes poll.

use crate::{DatabaseTarget, DbConnection};
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel::sql_types::Text;
use std::time::Duration;

/// The channel of "this person has a new message" (payload: the sending process's
/// [`instance`], then the people's ids, space-separated).
pub const WAKEUPS: &str = "lanyard_wakeups";

/// This process, as its notifications name it: a listener skips its own process's
/// notifications, whose channels the process woke already.
pub fn instance() -> &'static str {
    static INSTANCE: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| lanyard_core::codes::random_base62(16));
    &INSTANCE
}

/// Longest payload PostgreSQL takes is 8000 bytes; ids are joined up to this.
const MAX_PAYLOAD: usize = 7000;

/// How often the listener reads what the server sent (a non-blocking read, no round trip).
const READ_EVERY: Duration = Duration::from_millis(20);
/// How long the listener waits before connecting again after losing the server.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// Queues `ids` on PostgreSQL channel `channel`, after this process's [`instance`],
/// space-separated in as few notifications as fit. Inside a transaction they are delivered when
/// it commits, and never if it rolls back. Nothing on SQLite.
pub fn notify(conn: &mut DbConnection, channel: &str, ids: &[&str]) -> Result<(), DieselError> {
    notify_from(conn, channel, instance(), ids)
}

/// As [`notify`], naming the sending process `from` (tests stand in for another process).
pub fn notify_from(
    conn: &mut DbConnection,
    channel: &str,
    from: &str,
    ids: &[&str],
) -> Result<(), DieselError> {
    let DbConnection::Pg(pg) = conn else {
        return Ok(());
    };
    let mut payload = String::new();
    let send = |payload: &str, pg: &mut PgConnection| -> Result<(), DieselError> {
        diesel::sql_query("SELECT pg_notify($1, $2)")
            .bind::<Text, _>(channel)
            .bind::<Text, _>(payload)
            .execute(pg)
            .map(drop)
    };
    for id in ids {
        if !payload.is_empty() && payload.len() + 1 + id.len() > MAX_PAYLOAD {
            send(&payload, pg)?;
            payload.clear();
        }
        if payload.is_empty() {
            payload.push_str(from);
        }
        payload.push(' ');
        payload.push_str(id);
    }
    if !payload.is_empty() {
        send(&payload, pg)?;
    }
    Ok(())
}

/// What a listener hears.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heard<'a> {
    /// Listening from now on (after connecting, or reconnecting).
    Listening,
    /// The connection is lost (or could not be opened): nothing is heard until `Listening`.
    Deaf,
    /// A notification's payload.
    Payload(&'a str),
    /// Nothing new since the last read.
    Nothing,
}

/// Listens on `channel` of the PostgreSQL database `target` on a connection of its own and
/// tells `heard` what it hears, reading every few milliseconds. Returns when `heard` returns
/// `false` (its owner is gone). A lost connection is opened again after a second (what was sent
/// meanwhile is missed: listeners must also poll, more often while `Deaf`). Returns at once for
/// SQLite.
pub fn listen(target: &DatabaseTarget, channel: &str, mut heard: impl FnMut(Heard<'_>) -> bool) {
    let DatabaseTarget::Postgres(url) = target else {
        return;
    };
    // A channel name is an identifier: ours are constants, but never let one be SQL.
    if !channel.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
        tracing::error!(channel, "not a channel name");
        return;
    }
    while heard(Heard::Nothing) {
        let mut conn = match PgConnection::establish(url.expose()) {
            Ok(conn) => conn,
            Err(err) => {
                tracing::warn!(error = %err, "cannot listen for notifications; retrying");
                if !heard(Heard::Deaf) {
                    return;
                }
                std::thread::sleep(RECONNECT_AFTER);
                continue;
            }
        };
        if let Err(err) = diesel::sql_query(format!("LISTEN {channel}")).execute(&mut conn) {
            tracing::warn!(error = %err, "LISTEN failed; retrying");
            if !heard(Heard::Deaf) {
                return;
            }
            std::thread::sleep(RECONNECT_AFTER);
            continue;
        }
        if !heard(Heard::Listening) {
            return;
        }
        'connected: loop {
            for notification in conn.notifications_iter() {
                match notification {
                    Ok(n) => {
                        if !heard(Heard::Payload(&n.payload)) {
                            return;
                        }
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "lost the notification connection; reconnecting");
                        if !heard(Heard::Deaf) {
                            return;
                        }
                        std::thread::sleep(RECONNECT_AFTER);
                        break 'connected;
                    }
                }
            }
            if !heard(Heard::Nothing) {
                return;
            }
            std::thread::sleep(READ_EVERY);
        }
    }
}
