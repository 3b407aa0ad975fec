//! The outbox table and the sender that drains it.

use crate::MailError;
use crate::transport::Transport;
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use diesel::prelude::*;
use lanyard_core::id::AccountId;
use lanyard_core::{Clock, Email};
use lanyard_store::DbConnection;
use lanyard_store::schema::{mail_attachments, mail_outbox};

/// An e-mail to enqueue.
#[derive(Debug, Clone)]
pub struct NewMail {
    /// The account the mail concerns, if any.
    pub account: Option<AccountId>,
    /// Name of the template it was rendered from (for logs and tests).
    pub template: String,
    /// Recipient.
    pub to: Email,
    /// Subject.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body, if any.
    pub html: Option<String>,
    /// Files attached (stored with the mail, so a retry sends the same bytes).
    pub attachments: Vec<Attachment>,
}

/// A file attached to a mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// File name shown to the recipient.
    pub filename: String,
    /// MIME type, e.g. `application/pdf`.
    pub content_type: String,
    /// Content.
    pub data: Vec<u8>,
}

/// Delivery status of an outbox row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxStatus {
    /// Waiting for (another) delivery attempt.
    Pending,
    /// Accepted by the transport.
    Sent,
    /// Given up after the retry policy's last attempt.
    Failed,
}

impl OutboxStatus {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "sent" => Self::Sent,
            "failed" => Self::Failed,
            _ => Self::Pending,
        }
    }
}

/// An e-mail as stored in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// Internal id.
    pub id: String,
    /// RFC 5322 Message-ID (without angle brackets).
    pub message_id: String,
    /// Template name.
    pub template: String,
    /// Recipient.
    pub to: String,
    /// Subject.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body.
    pub html: Option<String>,
    /// Status.
    pub status: OutboxStatus,
    /// Attempts so far.
    pub attempts: i32,
    /// Error of the last failed attempt.
    pub last_error: Option<String>,
    /// Enqueue time.
    pub created_at: DateTime<Utc>,
    /// Attached files, in order.
    pub attachments: Vec<Attachment>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = mail_outbox)]
struct MailRow {
    id: String,
    message_id: String,
    template: String,
    recipient: String,
    subject: String,
    body_text: String,
    body_html: Option<String>,
    status: String,
    attempts: i32,
    last_error: Option<String>,
    created_at: NaiveDateTime,
}

impl From<MailRow> for Mail {
    fn from(row: MailRow) -> Self {
        Self {
            id: row.id,
            message_id: row.message_id,
            template: row.template,
            to: row.recipient,
            subject: row.subject,
            text: row.body_text,
            html: row.body_html,
            status: OutboxStatus::parse(&row.status),
            attempts: row.attempts,
            last_error: row.last_error,
            created_at: row.created_at.and_utc(),
            attachments: Vec::new(),
        }
    }
}

/// Writes `mail` into the outbox. Call it inside the transaction of the change that causes the
/// mail; it is then delivered exactly when that change commits.
pub fn enqueue(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    domain: &str,
    mail: NewMail,
) -> Result<String, MailError> {
    if mail.subject.contains(['\r', '\n']) {
        return Err(MailError::Invalid {
            field: "subject",
            rule: "must be one line".into(),
        });
    }
    let id = uuid::Uuid::new_v4().to_string();
    let now = clock.now().naive_utc();
    diesel::insert_into(mail_outbox::table)
        .values((
            mail_outbox::id.eq(&id),
            mail_outbox::message_id.eq(format!("{id}@{domain}")),
            mail_outbox::account_id.eq(mail.account.as_ref().map(AccountId::as_str)),
            mail_outbox::template.eq(&mail.template),
            mail_outbox::recipient.eq(mail.to.as_str()),
            mail_outbox::subject.eq(&mail.subject),
            mail_outbox::body_text.eq(&mail.text),
            mail_outbox::body_html.eq(mail.html.as_deref()),
            mail_outbox::status.eq(OutboxStatus::Pending.as_str()),
            mail_outbox::attempts.eq(0),
            mail_outbox::next_attempt_at.eq(now),
            mail_outbox::created_at.eq(now),
        ))
        .execute(conn)?;
    for (position, file) in mail.attachments.iter().enumerate() {
        if file.filename.contains(['\r', '\n', '"']) || file.filename.is_empty() {
            return Err(MailError::Invalid {
                field: "attachment",
                rule: "a file name is one line without quotes".into(),
            });
        }
        diesel::insert_into(mail_attachments::table)
            .values((
                mail_attachments::mail_id.eq(&id),
                mail_attachments::position.eq(i32::try_from(position).unwrap_or(i32::MAX)),
                mail_attachments::filename.eq(&file.filename),
                mail_attachments::content_type.eq(&file.content_type),
                mail_attachments::data.eq(&file.data),
            ))
            .execute(conn)?;
    }
    Ok(id)
}

/// One outbox row by id, with its attachments.
pub fn get(conn: &mut DbConnection, id: &str) -> Result<Option<Mail>, MailError> {
    let Some(mut mail) = mail_outbox::table
        .filter(mail_outbox::id.eq(id))
        .select(MailRow::as_select())
        .first(conn)
        .optional()?
        .map(Mail::from)
    else {
        return Ok(None);
    };
    mail.attachments = attachments(conn, id)?;
    Ok(Some(mail))
}

fn attachments(conn: &mut DbConnection, id: &str) -> Result<Vec<Attachment>, MailError> {
    let rows: Vec<(String, String, Vec<u8>)> = mail_attachments::table
        .filter(mail_attachments::mail_id.eq(id))
        .order(mail_attachments::position)
        .select((
            mail_attachments::filename,
            mail_attachments::content_type,
            mail_attachments::data,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(filename, content_type, data)| Attachment {
            filename,
            content_type,
            data,
        })
        .collect())
}

/// The newest mails to `recipient`, newest first (for tests and the console's mail log).
pub fn recent_to(
    conn: &mut DbConnection,
    recipient: &str,
    limit: i64,
) -> Result<Vec<Mail>, MailError> {
    mail_outbox::table
        .filter(mail_outbox::recipient.eq(recipient))
        .order(mail_outbox::created_at.desc())
        .limit(limit)
        .select(MailRow::as_select())
        .load(conn)?
        .into_iter()
        .map(|row| {
            let mut mail = Mail::from(row);
            mail.attachments = attachments(conn, &mail.id)?;
            Ok(mail)
        })
        .collect()
}

/// When to retry and when to give up.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Delay after the first failure; doubled after each further one.
    pub first_delay: TimeDelta,
    /// Longest delay between attempts.
    pub max_delay: TimeDelta,
    /// Attempts before the mail is marked failed.
    pub max_attempts: i32,
    /// How long a sender may hold a mail before another may take it over.
    pub lease: TimeDelta,
}

impl Default for RetryPolicy {
    /// 10 s, 20 s, 40 s … capped at one hour, for 30 attempts: about a day of retries, enough to
    /// ride out an SMTP outage.
    fn default() -> Self {
        Self {
            first_delay: TimeDelta::seconds(10),
            max_delay: TimeDelta::hours(1),
            max_attempts: 30,
            lease: TimeDelta::minutes(2),
        }
    }
}

impl RetryPolicy {
    fn delay_after(&self, attempts: i32) -> TimeDelta {
        let doublings = attempts.saturating_sub(1).clamp(0, 30) as u32;
        let factor = 2_i32.saturating_pow(doublings);
        self.first_delay
            .checked_mul(factor)
            .map_or(self.max_delay, |d| d.min(self.max_delay))
    }
}

/// What one [`Sender::deliver_due`] round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Mails accepted by the transport.
    pub sent: usize,
    /// Mails that failed and will be retried.
    pub retried: usize,
    /// Mails given up.
    pub failed: usize,
}

/// Drains the outbox through a transport.
#[derive(Debug)]
pub struct Sender<T> {
    transport: T,
    from: lettre::message::Mailbox,
    policy: RetryPolicy,
}

impl<T: Transport> Sender<T> {
    /// A sender that sends as `from` through `transport`.
    pub fn new(transport: T, from: lettre::message::Mailbox, policy: RetryPolicy) -> Self {
        Self {
            transport,
            from,
            policy,
        }
    }

    /// Delivers up to `limit` due mails, one at a time; returns what happened.
    pub fn deliver_due(
        &self,
        conn: &mut DbConnection,
        clock: &dyn Clock,
        limit: usize,
    ) -> Result<DeliveryReport, MailError> {
        let mut report = DeliveryReport::default();
        for _ in 0..limit {
            let Some((mail, lease)) = self.claim(conn, clock)? else {
                break;
            };
            let outcome = self.transport.send(&self.from, &mail);
            let now = clock.now();
            let mine = mail_outbox::table
                .filter(mail_outbox::id.eq(&mail.id))
                .filter(mail_outbox::lease_token.eq(&lease));
            match outcome {
                Ok(()) => {
                    diesel::update(mine)
                        .set((
                            mail_outbox::status.eq(OutboxStatus::Sent.as_str()),
                            mail_outbox::attempts.eq(mail.attempts + 1),
                            mail_outbox::sent_at.eq(now.naive_utc()),
                            mail_outbox::lease_token.eq(None::<String>),
                            mail_outbox::leased_until.eq(None::<NaiveDateTime>),
                            mail_outbox::last_error.eq(None::<String>),
                        ))
                        .execute(conn)?;
                    tracing::info!(mail_id = %mail.id, template = %mail.template, "mail sent");
                    report.sent += 1;
                }
                Err(err) => {
                    let attempts = mail.attempts + 1;
                    let give_up = attempts >= self.policy.max_attempts;
                    let status = if give_up {
                        OutboxStatus::Failed
                    } else {
                        OutboxStatus::Pending
                    };
                    diesel::update(mine)
                        .set((
                            mail_outbox::status.eq(status.as_str()),
                            mail_outbox::attempts.eq(attempts),
                            mail_outbox::next_attempt_at
                                .eq((now + self.policy.delay_after(attempts)).naive_utc()),
                            mail_outbox::lease_token.eq(None::<String>),
                            mail_outbox::leased_until.eq(None::<NaiveDateTime>),
                            mail_outbox::last_error.eq(err.to_string()),
                        ))
                        .execute(conn)?;
                    if give_up {
                        tracing::error!(mail_id = %mail.id, attempts, error = %err, "mail given up");
                        report.failed += 1;
                    } else {
                        tracing::warn!(mail_id = %mail.id, attempts, error = %err, "mail delivery failed; will retry");
                        report.retried += 1;
                    }
                }
            }
        }
        Ok(report)
    }

    /// Takes the lease of the oldest due mail, or `None` when nothing is due. The lease is a
    /// conditional update: of two senders racing for one row, exactly one changes it.
    fn claim(
        &self,
        conn: &mut DbConnection,
        clock: &dyn Clock,
    ) -> Result<Option<(Mail, String)>, MailError> {
        let now = clock.now().naive_utc();
        loop {
            let candidate: Option<String> = mail_outbox::table
                .filter(mail_outbox::status.eq(OutboxStatus::Pending.as_str()))
                .filter(mail_outbox::next_attempt_at.le(now))
                .filter(
                    mail_outbox::leased_until
                        .is_null()
                        .or(mail_outbox::leased_until.lt(now)),
                )
                .order(mail_outbox::next_attempt_at.asc())
                .select(mail_outbox::id)
                .first(conn)
                .optional()?;
            let Some(id) = candidate else {
                return Ok(None);
            };
            let lease = uuid::Uuid::new_v4().to_string();
            let taken = diesel::update(
                mail_outbox::table
                    .filter(mail_outbox::id.eq(&id))
                    .filter(mail_outbox::status.eq(OutboxStatus::Pending.as_str()))
                    .filter(
                        mail_outbox::leased_until
                            .is_null()
                            .or(mail_outbox::leased_until.lt(now)),
                    ),
            )
            .set((
                mail_outbox::lease_token.eq(&lease),
                mail_outbox::leased_until.eq(now + self.policy.lease),
            ))
            .execute(conn)?;
            if taken == 1 {
                let mail = get(conn, &id)?.ok_or_else(|| MailError::Invalid {
                    field: "id",
                    rule: "vanished while leased".into(),
                })?;
                return Ok(Some((mail, lease)));
            }
            // Another sender took it between our read and our update: look for the next one.
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay_after(1), TimeDelta::seconds(10));
        assert_eq!(p.delay_after(2), TimeDelta::seconds(20));
        assert_eq!(p.delay_after(4), TimeDelta::seconds(80));
        assert_eq!(p.delay_after(30), TimeDelta::hours(1));
    }
}
