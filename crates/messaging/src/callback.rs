//! Callbacks (SPEC §5): on every recipient status change of a message that has a `callbackUrl`,
//! the message object (as `GET /frontend/messages/{id}` shows it) is POSTed there. The POST is
//! enqueued in the change's own transaction (nothing is lost across restarts), delivered by a
//! sender on any instance (leases: never twice at once), retried with backoff, and when retries
//! are exhausted the organization's failed-callback address gets an e-mail.
//!
//! Signature (docs/messaging.md): header `X-Lanyard-Signature: t=<unix seconds>,v1=<hex>`, where
//! `v1` is HMAC-SHA-256 under the application's callback secret of `<t>.<body>`.

use crate::Result;
use crate::message::{Sender, own_view};
use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use lanyard_core::Clock;
use lanyard_core::id::AccountId;
use lanyard_identity::{organization, platform_pki};
use lanyard_pki::MasterKey;
use lanyard_store::DbConnection;
use lanyard_store::schema::{callback_outbox, messages};

/// Attempts before a callback is given up: about 1.5 hours of backoff (5 s doubling, ≤ 15 min).
pub const MAX_ATTEMPTS: i32 = 12;

/// The JSON body of a callback: the message object.
pub fn payload(message: &crate::message::Message) -> String {
    // A struct of strings, a timestamp and a list: serializing it cannot fail.
    serde_json::to_string(&crate::message::MessageData::from(message)).unwrap_or_default()
}

/// Enqueues the callback of message `id` after a status change, in the caller's transaction;
/// nothing when it has no callback URL.
pub(crate) fn enqueue(conn: &mut DbConnection, clock: &dyn Clock, id: &str) -> Result<()> {
    let found: Option<(String, Option<String>, Option<String>)> = messages::table
        .find(id)
        .select((
            messages::account_id,
            messages::application_id,
            messages::callback_url,
        ))
        .first(conn)
        .optional()?;
    let Some((account, application, Some(url))) = found else {
        return Ok(());
    };
    let sender = Sender {
        account: AccountId::from_stored(account.clone()),
        application_id: application.clone().unwrap_or_default(),
    };
    let message = own_view(conn, &sender, id)?;
    let now = clock.now().naive_utc();
    diesel::insert_into(callback_outbox::table)
        .values((
            callback_outbox::id.eq(lanyard_core::codes::random_base62(24)),
            callback_outbox::message_id.eq(id),
            callback_outbox::account_id.eq(&account),
            callback_outbox::application_id.eq(application),
            callback_outbox::url.eq(url),
            callback_outbox::payload.eq(payload(&message)),
            callback_outbox::status.eq("pending"),
            callback_outbox::attempts.eq(0),
            callback_outbox::next_attempt_at.eq(now),
            callback_outbox::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// The callback secret of `application` (hex): derived from the platform's sealed link key, so
/// nothing more is stored and every instance signs alike.
pub fn secret(conn: &mut DbConnection, master: &MasterKey, application: &str) -> Result<String> {
    let link_key = platform_pki::link_key(conn, master)?;
    let mac = lanyard_pki::hmac_sha256(&link_key, format!("callback:{application}").as_bytes())?;
    Ok(mac.iter().map(|b| format!("{b:02x}")).collect())
}

/// The callback secret of application `application` of `account`, shown to someone who may edit
/// the organization's applications and keys: whoever holds it can forge the application's
/// callbacks, so viewing the application is not enough (docs/security.md).
pub fn secret_for(
    conn: &mut DbConnection,
    master: &MasterKey,
    actor: &lanyard_identity::rights::Actor,
    account: &AccountId,
    application: &str,
) -> Result<String> {
    use lanyard_identity::rights::{Area, Verb, authorize};
    let app = lanyard_identity::application::get(conn, actor, account, application)?;
    authorize(conn, actor, Area::AccessKeys, Verb::Edit, account)?;
    secret(conn, master, &app.id)
}

/// The `X-Lanyard-Signature` value of `body` sent at `timestamp` under `secret` (hex).
pub fn signature(secret: &str, timestamp: i64, body: &str) -> Result<String> {
    let mac =
        lanyard_pki::hmac_sha256(secret.as_bytes(), format!("{timestamp}.{body}").as_bytes())?;
    let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("t={timestamp},v1={hex}"))
}

/// A callback to POST now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// Outbox id.
    pub id: String,
    /// The lease taken.
    pub lease: String,
    /// Where.
    pub url: String,
    /// Body.
    pub payload: String,
    /// `X-Lanyard-Signature`.
    pub signature: String,
    /// Attempts before this one.
    pub attempts: i32,
}

/// Takes up to `limit` due callbacks (a lease of one minute each: of racing senders exactly one
/// gets a row) and signs them.
pub fn claim(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    master: &MasterKey,
    limit: i64,
) -> Result<Vec<Due>> {
    let now = clock.now();
    let naive = now.naive_utc();
    let candidates: Vec<(String, Option<String>, String, String, i32)> = callback_outbox::table
        .filter(callback_outbox::status.eq("pending"))
        .filter(callback_outbox::next_attempt_at.le(naive))
        .filter(
            callback_outbox::leased_until
                .is_null()
                .or(callback_outbox::leased_until.lt(naive)),
        )
        .order((
            callback_outbox::next_attempt_at,
            callback_outbox::created_at,
        ))
        .limit(limit)
        .select((
            callback_outbox::id,
            callback_outbox::application_id,
            callback_outbox::url,
            callback_outbox::payload,
            callback_outbox::attempts,
        ))
        .load(conn)?;
    let mut due = Vec::new();
    for (id, application, url, payload, attempts) in candidates {
        let lease = lanyard_core::codes::random_base62(24);
        let taken = diesel::update(
            callback_outbox::table
                .find(&id)
                .filter(callback_outbox::status.eq("pending"))
                .filter(
                    callback_outbox::leased_until
                        .is_null()
                        .or(callback_outbox::leased_until.lt(naive)),
                ),
        )
        .set((
            callback_outbox::lease_token.eq(&lease),
            callback_outbox::leased_until.eq(naive + TimeDelta::minutes(1)),
        ))
        .execute(conn)?;
        if taken == 0 {
            continue;
        }
        let key = secret(conn, master, application.as_deref().unwrap_or_default())?;
        due.push(Due {
            signature: signature(&key, now.timestamp(), &payload)?,
            id,
            lease,
            url,
            payload,
            attempts,
        });
    }
    Ok(due)
}

fn delay_after(attempts: i32) -> TimeDelta {
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(0);
    TimeDelta::seconds(5)
        .checked_mul(2_i32.saturating_pow(doublings))
        .map_or(TimeDelta::minutes(15), |d| d.min(TimeDelta::minutes(15)))
}

/// Records what the POST of `due` did: delivered (a 2xx answer), or retried with backoff, or —
/// after [`MAX_ATTEMPTS`] — given up, with an e-mail to the organization's failed-callback
/// address when it has one. Returns the row's new status.
pub fn record(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    mail_domain: &str,
    due: &Due,
    outcome: std::result::Result<(), String>,
) -> Result<&'static str> {
    let now = clock.now().naive_utc();
    let mine = callback_outbox::table
        .find(&due.id)
        .filter(callback_outbox::lease_token.eq(&due.lease));
    let attempts = due.attempts + 1;
    lanyard_store::write_transaction(conn, |conn| {
        let status = match &outcome {
            Ok(()) => {
                diesel::update(mine)
                    .set((
                        callback_outbox::status.eq("sent"),
                        callback_outbox::attempts.eq(attempts),
                        callback_outbox::sent_at.eq(now),
                        callback_outbox::lease_token.eq(None::<String>),
                        callback_outbox::leased_until.eq(None::<NaiveDateTime>),
                        callback_outbox::last_error.eq(None::<String>),
                    ))
                    .execute(conn)?;
                "sent"
            }
            Err(error) => {
                let give_up = attempts >= MAX_ATTEMPTS;
                diesel::update(mine)
                    .set((
                        callback_outbox::status.eq(if give_up { "failed" } else { "pending" }),
                        callback_outbox::attempts.eq(attempts),
                        callback_outbox::next_attempt_at.eq(now + delay_after(attempts)),
                        callback_outbox::lease_token.eq(None::<String>),
                        callback_outbox::leased_until.eq(None::<NaiveDateTime>),
                        callback_outbox::last_error.eq(error),
                    ))
                    .execute(conn)?;
                if give_up {
                    notify_failure(conn, clock, mail_domain, due)?;
                    "failed"
                } else {
                    "pending"
                }
            }
        };
        Ok(status)
    })
}

fn notify_failure(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    mail_domain: &str,
    due: &Due,
) -> Result<()> {
    let account: String = callback_outbox::table
        .find(&due.id)
        .select(callback_outbox::account_id)
        .first(conn)?;
    let account = AccountId::from_stored(account);
    let Some(address) = organization::settings(conn, &account)?.failed_callback_email else {
        return Ok(());
    };
    let Ok(to) = lanyard_core::Email::parse(&address) else {
        return Ok(());
    };
    let chain = lanyard_identity::account::ancestors(conn, &account)?;
    let message_id: String = callback_outbox::table
        .find(&due.id)
        .select(callback_outbox::message_id)
        .first(conn)?;
    let account_name = lanyard_identity::account::get(conn, &account)?.name;
    lanyard_mail::templates::send(
        conn,
        clock,
        mail_domain,
        &chain,
        "callback_failed",
        &to,
        minijinja::context! {
            // Never the connection error's detail: a callback URL pointed at an internal
            // address must not turn this mail into a port scanner's report (docs/security.md).
            link => due.url.clone(), code => message_id, by => "the delivery failed",
            account_name => account_name,
        },
    )
    .map_err(|e| {
        crate::MessagingError::Identity(lanyard_identity::IdentityError::Inconsistent(
            e.to_string(),
        ))
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(delay_after(1), TimeDelta::seconds(5));
        assert_eq!(delay_after(3), TimeDelta::seconds(20));
        assert_eq!(delay_after(12), TimeDelta::minutes(15));
    }

    #[test]
    fn the_signature_is_an_hmac_of_time_and_body() {
        let sig = signature("secret", 1_700_000_000, "{}").expect("sign");
        assert!(sig.starts_with("t=1700000000,v1="), "{sig}");
        assert_eq!(sig.len(), "t=1700000000,v1=".len() + 64);
        assert_ne!(
            sig,
            signature("secret", 1_700_000_000, "{ }").expect("sign")
        );
    }
}
