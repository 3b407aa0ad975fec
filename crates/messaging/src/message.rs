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
    /// What only the console's advanced messages set.
    pub extras: Extras,
}

/// A document attached by URL (seed 000 "Attach file on URL"): the phone may download it until
/// the URL expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The document's name as shown.
    pub name: String,
    /// Where it is downloaded (http or https).
    pub url: String,
    /// Until when it is there.
    pub expires_at: DateTime<Utc>,
}

/// What the console's advanced messages add (seed 000 "Advanced messages"); an application's
/// messages (auth-api) have none of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extras {
    /// One line the phone's list shows instead of the subject's start.
    pub preview: Option<String>,
    /// A chosen secureId (authorization and OTP only); otherwise a random one.
    pub secure_id: Option<String>,
    /// The phone makes the person type the secureId before approving, and the approval's
    /// evidence carries it (authorization and OTP only).
    pub enforce_secure_id: bool,
    /// The sender's name as the phone shows it.
    pub external_identity: Option<String>,
    /// A document attached by URL.
    pub attachment: Option<Attachment>,
    /// Fetchable by id but never listed, announced or pushed (not for configuration updates).
    pub unlisted: bool,
    /// To every end user of the organization instead of `recipients` (general, authorization
    /// and esign only).
    pub all_users: bool,
    /// The administrator who sent it.
    pub sent_by: Option<String>,
}

/// The body of a one-time password message (JSON): `{"otp": "…", "description": "…"}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct OtpBody {
    /// The password: 4 to 16 letters or digits.
    pub otp: String,
    /// What it is for (optional, at most 254 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// The body of a configuration update (JSON): the mobile app settings to apply, at least one.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConfigurationBody {
    /// The URL scheme of enrollment links (`lanyard`, `my-bank`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrollment_scheme: Option<String>,
    /// Lowest Android app version allowed (`1.4` or `1.4.2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_android_version: Option<String>,
    /// Lowest iOS app version allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_ios_version: Option<String>,
    /// Seconds between the phone's checks for messages when it has no push (10 to 86400).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_seconds: Option<u32>,
}

fn is_version(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    (1..=4).contains(&parts.len())
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 6 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Checks a structured body: JSON of the kind's shape, each value within its rule. Returns the
/// body written canonically (what the phone gets and the evidence covers).
fn structured_body(kind: MessageKind, body: &str) -> Result<String> {
    let field = "body";
    match kind {
        MessageKind::Otp => {
            let otp: OtpBody = serde_json::from_str(body).map_err(|e| {
                invalid(field, format!("a one-time password is JSON {{\"otp\": \"…\", \"description\": \"…\"}}: {e}"))
            })?;
            if !(4..=16).contains(&otp.otp.len())
                || !otp.otp.bytes().all(|b| b.is_ascii_alphanumeric())
            {
                return Err(invalid(field, "otp must be 4 to 16 letters or digits"));
            }
            if otp
                .description
                .as_ref()
                .is_some_and(|d| d.chars().count() > MAX_SUBJECT)
            {
                return Err(invalid(
                    field,
                    format!("description: at most {MAX_SUBJECT} characters"),
                ));
            }
            Ok(serde_json::to_string(&otp).map_err(|e| invalid(field, e.to_string()))?)
        }
        MessageKind::Configuration => {
            let config: ConfigurationBody = serde_json::from_str(body).map_err(|e| {
                invalid(field, format!("a configuration update is a JSON object of enrollmentScheme, minAndroidVersion, minIosVersion, pollSeconds: {e}"))
            })?;
            if config == ConfigurationBody::default() {
                return Err(invalid(
                    field,
                    "a configuration update sets at least one setting",
                ));
            }
            if let Some(scheme) = &config.enrollment_scheme {
                let mut bytes = scheme.bytes();
                let first_ok = bytes.next().is_some_and(|b| b.is_ascii_lowercase());
                if !first_ok
                    || scheme.len() > 32
                    || !bytes.all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"+.-".contains(&b)
                    })
                {
                    return Err(invalid(
                        field,
                        "enrollmentScheme: a URL scheme, a lower-case letter then letters, digits, +, . or - (at most 32)",
                    ));
                }
            }
            for (name, v) in [
                ("minAndroidVersion", &config.min_android_version),
                ("minIosVersion", &config.min_ios_version),
            ] {
                if v.as_deref().is_some_and(|v| !is_version(v)) {
                    return Err(invalid(
                        field,
                        format!("{name}: a version such as 1.4 or 1.4.2"),
                    ));
                }
            }
            if config
                .poll_seconds
                .is_some_and(|p| !(10..=86_400).contains(&p))
            {
                return Err(invalid(field, "pollSeconds: 10 to 86400"));
            }
            Ok(serde_json::to_string(&config).map_err(|e| invalid(field, e.to_string()))?)
        }
        _ => Ok(body.to_owned()),
    }
}

/// A message as the console's form gives it (seed 000 "Messaging to users", "Advanced
/// messages"): every field as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsoleMessage {
    /// Aliases, separated by commas, spaces or new lines.
    pub recipients: String,
    /// Every end user instead.
    pub all_users: bool,
    /// Subject.
    pub subject: String,
    /// Body.
    pub body: String,
    /// Preview.
    pub preview: String,
    /// Availability in seconds.
    pub availability: String,
    /// Callback URL.
    pub callback_url: String,
    /// `message`, `authorization`, `esign`, `otp` or `configuration`.
    pub kind: String,
    /// Chosen secureId.
    pub secure_id: String,
    /// Enforce secureId validation.
    pub enforce_secure_id: bool,
    /// External identity.
    pub external_identity: String,
    /// Attachment's document name, URL and URL expiry (`YYYY-MM-DDTHH:MM`, UTC).
    pub attachment_name: String,
    /// See `attachment_name`.
    pub attachment_url: String,
    /// See `attachment_name`.
    pub attachment_expires: String,
    /// Unlisted.
    pub unlisted: bool,
}

fn http_url(field: &'static str, raw: &str) -> Result<String> {
    let url = url::Url::parse(raw).map_err(|e| invalid(field, format!("not a URL: {e}")))?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err(invalid(field, "must be an http or https URL"));
    }
    Ok(raw.to_owned())
}

fn optional_text(field: &'static str, raw: &str, max: usize) -> Result<Option<String>> {
    let raw = raw.trim();
    if raw.chars().count() > max {
        return Err(invalid(field, format!("at most {max} characters")));
    }
    if raw.chars().any(char::is_control) {
        return Err(invalid(field, "must be one line"));
    }
    Ok((!raw.is_empty()).then(|| raw.to_owned()))
}

impl ConsoleMessage {
    /// Checks the form field by field (the form's names in errors) into a message sent by
    /// administrator `sent_by`.
    pub fn check(&self, clock: &dyn Clock, sent_by: &str) -> Result<NewMessage> {
        let kind = MessageKind::parse(self.kind.trim()).ok_or_else(|| {
            invalid(
                "type",
                "must be message, authorization, esign, otp or configuration",
            )
        })?;
        let needs_list = !self.all_users;
        if self.all_users
            && !matches!(
                kind,
                MessageKind::Message | MessageKind::Authorization | MessageKind::Esign
            )
        {
            return Err(invalid(
                "allUsers",
                "only for general, authentication and esign messages",
            ));
        }
        let recipients: Vec<String> = self
            .recipients
            .split([',', ';', '\n', '\r', ' ', '\t'])
            .filter(|a| !a.trim().is_empty())
            .map(str::to_owned)
            .collect();
        let availability: i64 = self.availability.trim().parse().map_err(|_| {
            invalid(
                "availability",
                format!("seconds, from 1 to {MAX_AVAILABILITY}"),
            )
        })?;
        let body = structured_body(kind, &self.body)?;
        let mut message = NewMessage::checked(
            if needs_list {
                recipients
            } else {
                vec!["*".to_owned()]
            },
            &self.subject,
            &body,
            availability,
            kind,
            Some(self.callback_url.as_str()),
        )?;
        if !needs_list {
            message.recipients.clear();
        }
        let decides_code = matches!(kind, MessageKind::Authorization | MessageKind::Otp);
        let secure_id = optional_text("secureId", &self.secure_id, 16)?;
        if let Some(code) = &secure_id {
            if !decides_code {
                return Err(invalid(
                    "secureId",
                    "only for authentication and one-time password messages",
                ));
            }
            if !code.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(invalid("secureId", "letters and digits only"));
            }
        }
        if self.enforce_secure_id && !decides_code {
            return Err(invalid(
                "enforceSecureId",
                "only for authentication and one-time password messages",
            ));
        }
        if self.unlisted && kind == MessageKind::Configuration {
            return Err(invalid(
                "unlisted",
                "not available for configuration updates",
            ));
        }
        let attachment = match (
            self.attachment_name.trim(),
            self.attachment_url.trim(),
            self.attachment_expires.trim(),
        ) {
            ("", "", "") => None,
            (name, url, expires) => {
                let name = optional_text("attachmentName", name, 128)?.ok_or_else(|| {
                    invalid(
                        "attachmentName",
                        "the document's name is needed with an attachment",
                    )
                })?;
                if url.is_empty() {
                    return Err(invalid(
                        "attachmentUrl",
                        "the download URL is needed with an attachment",
                    ));
                }
                let url = http_url("attachmentUrl", url)?;
                let expires_at = NaiveDateTime::parse_from_str(expires, "%Y-%m-%dT%H:%M")
                    .or_else(|_| NaiveDateTime::parse_from_str(expires, "%Y-%m-%dT%H:%M:%S"))
                    .map_err(|_| {
                        invalid(
                            "attachmentExpires",
                            "a date and time, YYYY-MM-DDTHH:MM (UTC)",
                        )
                    })?
                    .and_utc();
                if expires_at <= clock.now() {
                    return Err(invalid("attachmentExpires", "must be in the future"));
                }
                Some(Attachment {
                    name,
                    url,
                    expires_at,
                })
            }
        };
        message.extras = Extras {
            preview: optional_text("preview", &self.preview, MAX_SUBJECT)?,
            secure_id,
            enforce_secure_id: self.enforce_secure_id,
            external_identity: optional_text("externalIdentity", &self.external_identity, 128)?,
            attachment,
            unlisted: self.unlisted,
            all_users: self.all_users,
            sent_by: Some(sent_by.to_owned()),
        };
        Ok(message)
    }
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
        let kind = MessageKind::parse(kind)
            .filter(|k| MessageKind::WIRE.contains(k))
            .ok_or_else(|| {
                invalid(
                    "type",
                    "must be \"authorization\", \"message\" or \"esign\"",
                )
            })?;
        Self::checked(
            recipients,
            subject.unwrap_or_default(),
            body.unwrap_or_default(),
            availability,
            kind,
            callback_url,
        )
    }

    /// The checks every message passes, whoever sends it.
    fn checked(
        recipients: Vec<String>,
        subject: &str,
        body: &str,
        availability: i64,
        kind: MessageKind,
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
        let callback_url = match callback_url.map(str::trim).filter(|u| !u.is_empty()) {
            None => None,
            Some(raw) => Some(http_url("callbackUrl", raw)?),
        };
        Ok(Self {
            recipients: unique,
            subject: subject.to_owned(),
            body: body.to_owned(),
            availability,
            kind,
            callback_url,
            extras: Extras::default(),
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

/// The primary alias of every end user of `account` (the first one each was given), in alias
/// order: the recipients of a message to all users.
fn primary_aliases(conn: &mut DbConnection, account: &AccountId) -> Result<Vec<String>> {
    let rows: Vec<(String, String)> = aliases::table
        .filter(aliases::account_id.eq(account.as_str()))
        .order((aliases::end_user_id, aliases::created_at, aliases::alias))
        .select((aliases::end_user_id, aliases::alias))
        .load(conn)?;
    let mut primary: Vec<String> = Vec::new();
    let mut last: Option<String> = None;
    for (user, alias) in rows {
        if last.as_ref() != Some(&user) {
            primary.push(alias);
            last = Some(user);
        }
    }
    primary.sort();
    Ok(primary)
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
    write_transaction(conn, |conn| insert(conn, clock, sender, message))
}

/// Sends `message` from the console (seed 000 "Messaging to users"): administrator `actor` of
/// `account`, who may create messages, in the name of the account's application
/// `application_id`. Recorded in the account history, in the same transaction.
pub fn send_from_console(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &lanyard_identity::rights::Actor,
    account: &AccountId,
    application_id: &str,
    message: &NewMessage,
) -> Result<Message> {
    use lanyard_identity::rights::{Area, Verb, authorize};
    authorize(conn, actor, Area::Messages, Verb::Create, account)?;
    let application_id = application_id.trim();
    if application_id.is_empty() {
        return Err(invalid("application", "choose the sending application"));
    }
    // The application must be this account's. Looked up here rather than with
    // `application::get`, which needs the right to view access keys: sending needs only the
    // right to create messages.
    let app_name: String = lanyard_store::schema::applications::table
        .filter(lanyard_store::schema::applications::id.eq(application_id))
        .filter(lanyard_store::schema::applications::account_id.eq(account.as_str()))
        .select(lanyard_store::schema::applications::name)
        .first(conn)
        .optional()?
        .ok_or_else(|| invalid("application", "not an application of this organization"))?;
    let sender = Sender {
        account: account.clone(),
        application_id: application_id.to_owned(),
    };
    write_transaction(conn, |conn| {
        let sent = insert(conn, clock, &sender, message)?;
        lanyard_identity::history::record_by(
            conn,
            clock,
            actor,
            account,
            "Messages",
            &format!(
                "Sent {} \"{}\" ({}) from {} to {} recipient(s)",
                message.kind.label().to_lowercase(),
                message.subject,
                sent.id,
                app_name,
                sent.recipients.len()
            ),
        )?;
        Ok(sent)
    })
}

/// The applications `actor` may send from in `account` (id, name), by name: the console's
/// sender choices.
pub fn senders(
    conn: &mut DbConnection,
    actor: &lanyard_identity::rights::Actor,
    account: &AccountId,
) -> Result<Vec<(String, String)>> {
    use lanyard_identity::rights::{Area, Verb, authorize};
    use lanyard_store::schema::applications;
    authorize(conn, actor, Area::Messages, Verb::Create, account)?;
    Ok(applications::table
        .filter(applications::account_id.eq(account.as_str()))
        .order((applications::name, applications::id))
        .select((applications::id, applications::name))
        .load(conn)?)
}

fn insert(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    sender: &Sender,
    message: &NewMessage,
) -> Result<Message> {
    let id = lanyard_core::codes::random_base62(24);
    let extras = &message.extras;
    let secure_id = extras
        .secure_id
        .clone()
        .unwrap_or_else(|| lanyard_core::codes::random_base62(6));
    {
        let everyone;
        let aliases = if extras.all_users {
            everyone = primary_aliases(conn, &sender.account)?;
            if everyone.is_empty() {
                return Err(invalid("allUsers", "the organization has no end users"));
            }
            &everyone
        } else {
            &message.recipients
        };
        let recipients = initial_statuses(conn, &sender.account, aliases)?;
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
                messages::preview.eq(extras.preview.as_deref()),
                messages::external_identity.eq(extras.external_identity.as_deref()),
                messages::enforce_secure_id.eq(extras.enforce_secure_id),
                messages::unlisted.eq(extras.unlisted),
                messages::attachment_name.eq(extras.attachment.as_ref().map(|a| a.name.as_str())),
                messages::attachment_url.eq(extras.attachment.as_ref().map(|a| a.url.as_str())),
                messages::attachment_expires_at
                    .eq(extras.attachment.as_ref().map(|a| naive(a.expires_at))),
                messages::sent_by.eq(extras.sent_by.as_deref()),
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
        // Other processes' phones learn of it when this commits (PostgreSQL; SQLite polls).
        let waiting: Vec<&str> = recipients
            .iter()
            .filter(|(_, _, status)| *status == RecipientStatus::Pending)
            .map(|(_, user, _)| user.as_str())
            .collect();
        lanyard_store::notify::notify(conn, lanyard_store::notify::WAKEUPS, &waiting)?;
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
    }
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
