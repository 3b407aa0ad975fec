//! Console sessions, stored in the database so that any instance serves any request and a
//! session can be revoked.
//!
//! The cookie carries a random token; the table keeps only its SHA-256. A session has a stage:
//! `password` right after the password step, `complete` when every required step is done (the
//! phone approval added by the messaging work is one more step before `complete`). Sessions
//! expire after an idle time and at an absolute time; logging in always creates a new session
//! (rotation), so a token planted before login is worthless.

use crate::Result;
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use diesel::prelude::*;
use lanyard_core::codes::random_base62;
use lanyard_core::id::AdministratorId;
use lanyard_core::secret::hash_token;
use lanyard_core::{Clock, SecretString};
use lanyard_store::DbConnection;
use lanyard_store::schema::sessions;

/// A session ends after this long without a request.
pub const IDLE_TIMEOUT: TimeDelta = TimeDelta::minutes(30);
/// A session ends this long after login, whatever happens.
pub const ABSOLUTE_TIMEOUT: TimeDelta = TimeDelta::hours(12);

/// How far a login has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The password was right; more steps may follow (the phone's approval, or, without a
    /// phone, the e-mailed activation code).
    Password,
    /// Without a phone, the e-mailed activation code was right: the administrator may enroll
    /// a phone, then approve with it.
    Enroll,
    /// Fully logged in.
    Complete,
}

impl Stage {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::Enroll => "enroll",
            Self::Complete => "complete",
        }
    }
}

/// A live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Internal id.
    pub id: String,
    /// Its administrator.
    pub administrator: AdministratorId,
    /// Login stage.
    pub stage: Stage,
    /// Token that every state-changing form of this session must carry.
    pub csrf_token: String,
    /// The phone approval the session waits for (before it is complete).
    pub approval: Option<String>,
    /// Absolute expiry.
    pub expires_at: DateTime<Utc>,
}

/// Starts a session for `administrator` at `stage`; returns it with the cookie token.
pub fn start(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    administrator: &AdministratorId,
    stage: Stage,
) -> Result<(Session, SecretString)> {
    let token = random_base62(43);
    let now = clock.now();
    let session = Session {
        id: uuid::Uuid::new_v4().to_string(),
        administrator: administrator.clone(),
        stage,
        csrf_token: random_base62(32),
        approval: None,
        expires_at: now + ABSOLUTE_TIMEOUT,
    };
    diesel::insert_into(sessions::table)
        .values((
            sessions::id.eq(&session.id),
            sessions::token_hash.eq(hash_token(&token)),
            sessions::administrator_id.eq(administrator.as_str()),
            sessions::stage.eq(stage.as_str()),
            sessions::csrf_token.eq(&session.csrf_token),
            sessions::created_at.eq(now.naive_utc()),
            sessions::last_seen_at.eq(now.naive_utc()),
            sessions::expires_at.eq(session.expires_at.naive_utc()),
        ))
        .execute(conn)?;
    Ok((session, SecretString::new(token)))
}

/// The live session of a cookie token, refreshing its idle timer; `None` when unknown,
/// revoked, idle too long or past its absolute expiry.
pub fn resume(conn: &mut DbConnection, clock: &dyn Clock, token: &str) -> Result<Option<Session>> {
    type Row = (
        String,
        String,
        String,
        String,
        NaiveDateTime,
        NaiveDateTime,
        Option<String>,
    );
    let now = clock.now();
    let found: Option<Row> = sessions::table
        .filter(sessions::token_hash.eq(hash_token(token)))
        .filter(sessions::revoked_at.is_null())
        .select((
            sessions::id,
            sessions::administrator_id,
            sessions::stage,
            sessions::csrf_token,
            sessions::last_seen_at,
            sessions::expires_at,
            sessions::approval_message_id,
        ))
        .first(conn)
        .optional()?;
    let Some((id, admin, stage, csrf, last_seen, expires, approval)) = found else {
        return Ok(None);
    };
    if now >= expires.and_utc() || now - last_seen.and_utc() > IDLE_TIMEOUT {
        return Ok(None);
    }
    // Refresh at most once a minute: a write per page view would serialize SQLite.
    if now - last_seen.and_utc() > TimeDelta::minutes(1) {
        diesel::update(sessions::table.filter(sessions::id.eq(&id)))
            .set(sessions::last_seen_at.eq(now.naive_utc()))
            .execute(conn)?;
    }
    Ok(Some(Session {
        id,
        administrator: AdministratorId::from_stored(admin),
        stage: [Stage::Complete, Stage::Enroll]
            .into_iter()
            .find(|s| s.as_str() == stage)
            .unwrap_or(Stage::Password),
        csrf_token: csrf,
        approval,
        expires_at: expires.and_utc(),
    }))
}

/// Records the phone approval session `session_id` waits for (`None`: none any more).
pub fn set_approval(
    conn: &mut DbConnection,
    session_id: &str,
    message_id: Option<&str>,
) -> Result<()> {
    diesel::update(sessions::table.filter(sessions::id.eq(session_id)))
        .set(sessions::approval_message_id.eq(message_id))
        .execute(conn)?;
    Ok(())
}

/// Moves a session to `stage`.
pub fn advance(conn: &mut DbConnection, session_id: &str, stage: Stage) -> Result<()> {
    diesel::update(sessions::table.filter(sessions::id.eq(session_id)))
        .set(sessions::stage.eq(stage.as_str()))
        .execute(conn)?;
    Ok(())
}

/// Ends a session (logout).
pub fn revoke(conn: &mut DbConnection, clock: &dyn Clock, session_id: &str) -> Result<()> {
    diesel::update(
        sessions::table
            .filter(sessions::id.eq(session_id))
            .filter(sessions::revoked_at.is_null()),
    )
    .set(sessions::revoked_at.eq(clock.now().naive_utc()))
    .execute(conn)?;
    Ok(())
}

/// Ends every session of an administrator (password reset, disable).
pub fn revoke_all(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    administrator: &AdministratorId,
) -> Result<()> {
    diesel::update(
        sessions::table
            .filter(sessions::administrator_id.eq(administrator.as_str()))
            .filter(sessions::revoked_at.is_null()),
    )
    .set(sessions::revoked_at.eq(clock.now().naive_utc()))
    .execute(conn)?;
    Ok(())
}

/// Ends every session of an administrator but `keep` (a password change from that session).
pub fn revoke_all_except(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    administrator: &AdministratorId,
    keep: Option<&str>,
) -> Result<()> {
    diesel::update(
        sessions::table
            .filter(sessions::administrator_id.eq(administrator.as_str()))
            .filter(sessions::revoked_at.is_null())
            .filter(sessions::id.ne(keep.unwrap_or_default())),
    )
    .set(sessions::revoked_at.eq(clock.now().naive_utc()))
    .execute(conn)?;
    Ok(())
}

/// Whether an alert told of a success or of a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertKind {
    /// Something was done.
    Notice,
    /// Something could not be done.
    Error,
}

impl AlertKind {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Notice => "notice",
            Self::Error => "error",
        }
    }
}

/// An alert a session has shown (seed 001 "Alert History").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// When it was shown.
    pub shown_at: DateTime<Utc>,
    /// Notice or error.
    pub kind: AlertKind,
    /// Its text.
    pub message: String,
}

/// Alerts kept per session; older ones are dropped so a long session cannot grow without bound.
pub const MAX_ALERTS: i64 = 100;

/// Remembers that `session_id` was shown `message`.
pub fn record_alert(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    session_id: &str,
    kind: AlertKind,
    message: &str,
) -> Result<()> {
    use lanyard_store::schema::session_alerts as a;
    // Alerts are display text: keep them short whatever a page put in them.
    let message: String = message.chars().take(500).collect();
    diesel::insert_into(a::table)
        .values((
            a::session_id.eq(session_id),
            a::shown_at.eq(clock.now().naive_utc()),
            a::kind.eq(kind.as_str()),
            a::message.eq(&message),
        ))
        .execute(conn)?;
    let keep_from: Option<i64> = a::table
        .filter(a::session_id.eq(session_id))
        .order(a::id.desc())
        .offset(MAX_ALERTS - 1)
        .select(a::id)
        .first(conn)
        .optional()?;
    if let Some(oldest_kept) = keep_from {
        diesel::delete(
            a::table
                .filter(a::session_id.eq(session_id))
                .filter(a::id.lt(oldest_kept)),
        )
        .execute(conn)?;
    }
    Ok(())
}

/// The alerts `session_id` has shown, newest first.
pub fn alerts(conn: &mut DbConnection, session_id: &str) -> Result<Vec<Alert>> {
    use lanyard_store::schema::session_alerts as a;
    let rows: Vec<(NaiveDateTime, String, String)> = a::table
        .filter(a::session_id.eq(session_id))
        .order(a::id.desc())
        .select((a::shown_at, a::kind, a::message))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(at, kind, message)| Alert {
            shown_at: at.and_utc(),
            kind: if kind == "error" {
                AlertKind::Error
            } else {
                AlertKind::Notice
            },
            message,
        })
        .collect())
}

/// How many alerts `session_id` has shown and not cleared.
pub fn alert_count(conn: &mut DbConnection, session_id: &str) -> Result<i64> {
    use lanyard_store::schema::session_alerts as a;
    Ok(a::table
        .filter(a::session_id.eq(session_id))
        .count()
        .get_result(conn)?)
}

/// Forgets the alerts of `session_id` (the red cross).
pub fn clear_alerts(conn: &mut DbConnection, session_id: &str) -> Result<()> {
    use lanyard_store::schema::session_alerts as a;
    diesel::delete(a::table.filter(a::session_id.eq(session_id))).execute(conn)?;
    Ok(())
}
