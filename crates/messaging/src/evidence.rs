//! Evidences (SPEC §5): a phone signs, with its device key, a canonical statement about a
//! message — `PROOF_OF_DELIVERY` when it fetched it, `SIGNED_TRANSACTION` when the person saw,
//! approved or denied it — as CMS SignedData. The server checks the signature (by exactly the
//! calling device's certificate, chained to the platform root), that every line of the statement
//! matches the message, the maintenance windows and the expiry; then applies the status change
//! through the state machine and counter-signs with its evidence key and the receive time. Both
//! are kept; the counter-signature verifies with `openssl cms -verify` against the platform
//! root (docs/evidence.md).

use crate::message::{Attachment, Sender};
use crate::status::{Event, MessageKind, RecipientStatus};
use crate::{MessagingError, Result};
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use diesel::prelude::*;
use lanyard_core::Clock;
use lanyard_core::id::AccountId;
use lanyard_identity::{IdentityError, maintenance, platform_pki};
use lanyard_pki::{MasterKey, X509};
use lanyard_store::schema::{certificates, devices, evidences, message_recipients, messages};
use lanyard_store::{DbConnection, write_transaction};

/// First line of every statement (the format's version).
pub const STATEMENT_HEADER: &str = "lanyard-evidence-v1";
/// How far a phone's clock may be from the server's.
const CLOCK_SKEW: TimeDelta = TimeDelta::minutes(10);

/// What an evidence attests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvidenceKind {
    /// The phone received the message.
    ProofOfDelivery,
    /// The person saw, approved or denied it.
    SignedTransaction,
}

impl EvidenceKind {
    /// Wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ProofOfDelivery => "PROOF_OF_DELIVERY",
            Self::SignedTransaction => "SIGNED_TRANSACTION",
        }
    }

    /// Parses the wire name.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "PROOF_OF_DELIVERY" => Some(Self::ProofOfDelivery),
            "SIGNED_TRANSACTION" => Some(Self::SignedTransaction),
            _ => None,
        }
    }
}

/// SHA-256 (hex) of what the person is shown: `type`, subject and body, one per line.
pub fn content_hash(kind: MessageKind, subject: &str, body: &str) -> String {
    content_hash_of(kind, subject, body, None, None)
}

/// SHA-256 (hex) of what the person is shown: `type`, subject and body, one per line; then,
/// when the message has them, `from: <external identity>` and `attachment: <name> <url>`.
pub fn content_hash_of(
    kind: MessageKind,
    subject: &str,
    body: &str,
    external_identity: Option<&str>,
    attachment: Option<&Attachment>,
) -> String {
    let mut shown = format!("{}\n{subject}\n{body}", kind.as_str());
    if let Some(from) = external_identity {
        shown.push_str("\nfrom: ");
        shown.push_str(from);
    }
    if let Some(a) = attachment {
        shown.push_str(&format!("\nattachment: {} {}", a.name, a.url));
    }
    lanyard_core::secret::hash_token(&shown)
}

/// The statement a phone signs, exactly (UTF-8, `\n` line ends, no trailing newline).
pub fn statement(
    kind: EvidenceKind,
    message_id: &str,
    content_hash: &str,
    recipient: &str,
    device_id: &str,
    decision: RecipientStatus,
    time: DateTime<Utc>,
) -> String {
    format!(
        "{STATEMENT_HEADER}\ntype: {}\nmessage: {message_id}\ncontent: {content_hash}\nrecipient: {recipient}\ndevice: {device_id}\ndecision: {}\ntime: {}",
        kind.as_str(),
        decision.as_str(),
        lanyard_core::wire::timestamp(time)
    )
}

/// A message as a phone sees it (fetch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceMessage {
    /// messageId.
    pub id: String,
    /// Kind.
    pub kind: MessageKind,
    /// Subject.
    pub subject: String,
    /// Body.
    pub body: String,
    /// secureId to show; none when the message enforces secureId validation (the person types
    /// the code the application shows: the phone must not know it).
    pub secure_id: Option<String>,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
    /// The person, as the message names them (the statement's `recipient`).
    pub recipient: String,
    /// The statement's `content`.
    pub content_hash: String,
    /// The recipient's status now.
    pub status: RecipientStatus,
    /// One line for the phone's list.
    pub preview: Option<String>,
    /// The sender's name to show.
    pub external_identity: Option<String>,
    /// The person must type the secureId to approve; the approval's statement carries it.
    pub enforce_secure_id: bool,
    /// A document to download.
    pub attachment: Option<Attachment>,
}

/// The person an active device belongs to: its end user's id, or its administrator's (whose
/// phones approve console logins). The ids are random UUIDs, so one string names either.
fn owner(conn: &mut DbConnection, device_id: &str) -> Result<String> {
    devices::table
        .find(device_id)
        .filter(devices::status.eq("active"))
        .select((devices::end_user_id, devices::administrator_id))
        .first::<(Option<String>, Option<String>)>(conn)
        .optional()?
        .and_then(|(user, admin)| user.or(admin))
        .ok_or_else(|| MessagingError::NotFound(device_id.to_owned()))
}

type Row = (
    (
        String,
        String,
        String,
        String,
        Option<String>,
        NaiveDateTime,
        String,
        String,
        i32,
    ),
    Extra,
);

/// preview, external identity, enforce secureId, attachment name, URL, expiry.
type Extra = (
    Option<String>,
    Option<String>,
    bool,
    Option<String>,
    Option<String>,
    Option<NaiveDateTime>,
);

/// The columns of a message as a phone sees it ([`Row`]).
macro_rules! device_columns {
    () => {
        (
            (
                messages::id,
                messages::kind,
                messages::subject,
                messages::body,
                messages::secure_id,
                messages::expires_at,
                message_recipients::alias,
                message_recipients::status,
                message_recipients::position,
            ),
            (
                messages::preview,
                messages::external_identity,
                messages::enforce_secure_id,
                messages::attachment_name,
                messages::attachment_url,
                messages::attachment_expires_at,
            ),
        )
    };
}

/// Messages of `user` (one, or the open ones); unexpired at `now` when given.
///
/// Polled and fetched for every phone, so each shape is one fixed query (no boxing, no `IN`
/// list): diesel keeps its prepared statement per connection instead of preparing it again.
fn rows(
    conn: &mut DbConnection,
    user: &str,
    message: Option<&str>,
    now: Option<NaiveDateTime>,
) -> Result<Vec<Row>> {
    // Every message expires after the epoch: "unexpired at the epoch" is "any".
    let now = now.unwrap_or(DateTime::UNIX_EPOCH.naive_utc());
    let mine = messages::table
        .inner_join(message_recipients::table)
        .filter(crate::message::recipient_is(user))
        .filter(messages::expires_at.gt(now));
    Ok(match message {
        // By the recipients' primary key (message, position), not by the person's index, which
        // would read every message the person ever had.
        Some(id) => mine
            .filter(message_recipients::message_id.eq(id.to_owned()))
            .order(messages::created_at.desc())
            .limit(200)
            .select(device_columns!())
            .load(conn)?,
        // The open ones; unlisted messages are fetched by id only (seed 000 "Advanced
        // messages").
        None => mine
            .filter(
                message_recipients::status
                    .eq(RecipientStatus::Pending.as_str())
                    .or(message_recipients::status.eq(RecipientStatus::Notified.as_str()))
                    .or(message_recipients::status.eq(RecipientStatus::Downloaded.as_str()))
                    .or(message_recipients::status.eq(RecipientStatus::Seen.as_str())),
            )
            .filter(messages::unlisted.eq(false))
            .order(messages::created_at.desc())
            .limit(200)
            .select(device_columns!())
            .load(conn)?,
    })
}

fn shown(row: Row) -> DeviceMessage {
    let ((id, kind, subject, body, secure_id, expires, alias, status, _), extra) = row;
    let (preview, external_identity, enforce_secure_id, name, url, until) = extra;
    let kind = MessageKind::parse(&kind).unwrap_or(MessageKind::Message);
    let attachment = match (name, url, until) {
        (Some(name), Some(url), Some(until)) => Some(Attachment {
            name,
            url,
            expires_at: until.and_utc(),
        }),
        _ => None,
    };
    DeviceMessage {
        content_hash: content_hash_of(
            kind,
            &subject,
            &body,
            external_identity.as_deref(),
            attachment.as_ref(),
        ),
        preview,
        external_identity,
        enforce_secure_id,
        attachment,
        secure_id: secure_id.filter(|_| !enforce_secure_id),
        id,
        kind,
        subject,
        body,
        expires_at: expires.and_utc(),
        recipient: alias,
        status: RecipientStatus::parse(&status).unwrap_or(RecipientStatus::Failed),
    }
}

/// The open, unexpired messages of the device's person, newest first (at most 200).
pub fn inbox(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    device_id: &str,
) -> Result<Vec<DeviceMessage>> {
    let user = owner(conn, device_id)?;
    Ok(rows(conn, &user, None, Some(clock.now().naive_utc()))?
        .into_iter()
        .map(shown)
        .collect())
}

/// The device's end user (for the real-time channel's wake-ups); NOT_FOUND once deactivated.
pub fn device_owner(conn: &mut DbConnection, device_id: &str) -> Result<String> {
    owner(conn, device_id)
}

/// What the real-time channel sends next: the open messages of the device's person not in
/// `announced` yet. A `PENDING` recipient becomes `NOTIFIED` (a phone was told). NOT_FOUND once
/// the device is deactivated, which ends the channel.
pub fn announce(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    device_id: &str,
    announced: &std::collections::HashSet<String>,
) -> Result<Vec<DeviceMessage>> {
    // Polled twice a second per connected phone: one owner lookup, one inbox query.
    let user = owner(conn, device_id)?;
    let fresh: Vec<DeviceMessage> = rows(conn, &user, None, Some(clock.now().naive_utc()))?
        .into_iter()
        .map(shown)
        .filter(|m| !announced.contains(&m.id))
        .collect();
    let mut out = Vec::with_capacity(fresh.len());
    for mut m in fresh {
        if m.status == RecipientStatus::Pending
            && let Some(to) = crate::message::advance(conn, clock, &m.id, &user, Event::Notify)?
        {
            m.status = to;
        }
        out.push(m);
    }
    Ok(out)
}

/// Message `id` for the device's person (NOT_FOUND when it is not theirs or has expired).
pub fn fetch(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    device_id: &str,
    id: &str,
) -> Result<DeviceMessage> {
    let user = owner(conn, device_id)?;
    rows(conn, &user, Some(id), Some(clock.now().naive_utc()))?
        .into_iter()
        .next()
        .map(shown)
        .ok_or_else(|| MessagingError::NotFound(id.to_owned()))
}

/// What an accepted evidence did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The evidence's id.
    pub id: String,
    /// The recipient's status after it.
    pub status: RecipientStatus,
}

fn refused(rule: impl Into<String>) -> MessagingError {
    MessagingError::Invalid {
        field: "cms",
        rule: rule.into(),
    }
}

/// The fields of a statement, checked line by line against what they must be.
fn check_statement(text: &str, expected: &[(&str, &str)]) -> Result<DateTime<Utc>> {
    let mut lines = text.split('\n');
    if lines.next() != Some(STATEMENT_HEADER) {
        return Err(refused(format!(
            "the statement must start with {STATEMENT_HEADER}"
        )));
    }
    let mut time = None;
    let mut seen = Vec::new();
    for line in lines {
        let (key, value) = line
            .split_once(": ")
            .ok_or_else(|| refused(format!("statement line {line:?} is not `key: value`")))?;
        if key == "time" {
            time = DateTime::parse_from_rfc3339(value)
                .ok()
                .map(|t| t.with_timezone(&Utc));
        } else {
            let want = expected
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| *v)
                .ok_or_else(|| refused(format!("unknown statement line {key:?}")))?;
            if value != want {
                return Err(refused(format!(
                    "the statement's {key} is {value:?}, this message's is {want:?}"
                )));
            }
        }
        seen.push(key.to_owned());
    }
    for (key, _) in expected {
        if !seen.iter().any(|k| k == key) {
            return Err(refused(format!("the statement has no {key} line")));
        }
    }
    time.ok_or_else(|| refused("the statement's time is missing or not ISO 8601"))
}

/// Accepts an evidence of device `device_id` (its certificate `device_cert`, the one it called
/// with) about message `id`: see the module documentation for the checks. Refusals: the CMS or
/// the statement does not match (`MALFORMED_INPUT` naming `cms`, saying what), the message is
/// under maintenance (`NOT_ALLOWED` with the maintenance text), expired (`TIMEOUT`), or the
/// recipient's status is final already (`ALREADY_COMPLETED`).
#[allow(clippy::too_many_arguments)]
pub fn submit(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    master: &MasterKey,
    crl_base: &str,
    (device_id, device_cert): (&str, &X509),
    id: &str,
    kind: EvidenceKind,
    cms: &[u8],
) -> Result<Accepted> {
    let now = clock.now();
    let user = owner(conn, device_id)?;
    let message = rows(conn, &user, Some(id), None)?
        .into_iter()
        .next()
        .map(shown)
        .ok_or_else(|| MessagingError::NotFound(id.to_owned()))?;
    if now >= message.expires_at {
        return Err(MessagingError::Timeout(format!(
            "message {id} expired at {}",
            lanyard_core::wire::timestamp(message.expires_at)
        )));
    }
    // The signature: by exactly this device's key, its certificate chained to the platform root.
    let chain: Vec<X509> = platform_pki::all_certificates(conn)?
        .into_iter()
        .map(|(_, c)| c)
        .collect();
    let content = lanyard_pki::cms_verify_signed_by(cms, device_cert, &chain)
        .map_err(|e| refused(e.to_string()))?;
    let text = String::from_utf8(content).map_err(|_| refused("the statement is not UTF-8"))?;
    let decision_line = text
        .lines()
        .find_map(|l| l.strip_prefix("decision: "))
        .ok_or_else(|| refused("the statement has no decision line"))?;
    let decision = RecipientStatus::parse(decision_line)
        .ok_or_else(|| refused(format!("unknown decision {decision_line:?}")))?;
    let event = match (kind, decision) {
        (EvidenceKind::ProofOfDelivery, RecipientStatus::Downloaded) => Event::Download,
        (EvidenceKind::SignedTransaction, RecipientStatus::Seen) => Event::See,
        (EvidenceKind::SignedTransaction, RecipientStatus::Approved) => Event::Approve,
        (EvidenceKind::SignedTransaction, RecipientStatus::Denied) => Event::Deny,
        _ => {
            return Err(refused(format!(
                "a {} cannot attest {}",
                kind.as_str(),
                decision.as_str()
            )));
        }
    };
    let mut expected = vec![
        ("type", kind.as_str()),
        ("message", message.id.as_str()),
        ("content", message.content_hash.as_str()),
        ("recipient", message.recipient.as_str()),
        ("device", device_id),
        ("decision", decision.as_str()),
    ];
    // "Enforce secureId validation": the person typed the code the application shows (the
    // phone is not given it), and the approval of an authorization — the opening of a one-time
    // password — says so; without it, or with another code, the evidence is refused.
    let typed_needed = message.enforce_secure_id
        && (event == Event::Approve || (event == Event::See && message.kind == MessageKind::Otp));
    let secure_id: Option<String> = if typed_needed {
        messages::table
            .find(id)
            .select(messages::secure_id)
            .first(conn)?
    } else {
        None
    };
    if typed_needed {
        expected.push(("secureId", secure_id.as_deref().unwrap_or_default()));
    }
    let time = check_statement(&text, &expected)?;
    if (time - now).abs() > CLOCK_SKEW {
        return Err(refused(
            "the statement's time is more than 10 minutes from the server's: set the phone's clock",
        ));
    }
    let (account, application): (String, Option<String>) = messages::table
        .find(id)
        .select((messages::account_id, messages::application_id))
        .first(conn)?;
    if let Some(window) = maintenance::active_for(
        conn,
        clock,
        &AccountId::from_stored(account),
        application.as_deref(),
    )? {
        let text = window
            .texts
            .iter()
            .find(|t| t.language == "en")
            .or(window.texts.first())
            .map(|t| format!("{}: {}", t.subject, t.body))
            .unwrap_or_else(|| "maintenance".into());
        return Err(MessagingError::Identity(IdentityError::NotAllowed(text)));
    }
    // The counter-signature: the device's evidence and the receive time, signed by the server.
    let (signer, key, signer_chain) = platform_pki::evidence_signer(conn, clock, master, crl_base)?;
    let received = lanyard_core::wire::timestamp(now);
    let counter = format!(
        "{{\"evidence\":\"{}\",\"receivedAt\":\"{received}\",\"statement\":{}}}",
        lanyard_pki::base64_encode(cms).replace('\n', ""),
        json_string(&text)
    );
    let server_cms =
        lanyard_pki::cms_sign(&signer, &key, &signer_chain, counter.as_bytes(), false)?;
    let evidence_id = lanyard_core::codes::random_base62(24);
    let status = write_transaction(conn, |conn| {
        let Some(status) = crate::message::advance(conn, clock, id, &user, event)? else {
            let expired = now >= message.expires_at;
            return Err(if expired {
                MessagingError::Timeout(id.to_owned())
            } else {
                MessagingError::AlreadyCompleted(id.to_owned())
            });
        };
        let position: i32 = message_recipients::table
            .filter(message_recipients::message_id.eq(id))
            .filter(message_recipients::alias.eq(&message.recipient))
            .select(message_recipients::position)
            .first(conn)?;
        diesel::insert_into(evidences::table)
            .values((
                evidences::id.eq(&evidence_id),
                evidences::message_id.eq(id),
                evidences::position.eq(position),
                evidences::device_id.eq(device_id),
                evidences::kind.eq(kind.as_str()),
                evidences::decision.eq(decision.as_str()),
                evidences::device_cms.eq(cms),
                evidences::server_cms.eq(&server_cms),
                evidences::received_at.eq(now.naive_utc()),
            ))
            .execute(conn)?;
        Ok(status)
    })?;
    Ok(Accepted {
        id: evidence_id,
        status,
    })
}

/// A JSON string literal of `s`.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// An evidence as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceInfo {
    /// Id.
    pub id: String,
    /// The recipient's userId.
    pub user_id: String,
    /// Kind.
    pub kind: EvidenceKind,
    /// The decision attested.
    pub decision: RecipientStatus,
    /// Received at.
    pub received_at: DateTime<Utc>,
}

/// The evidences of message `id` of `sender`, oldest first.
pub fn list(conn: &mut DbConnection, sender: &Sender, id: &str) -> Result<Vec<EvidenceInfo>> {
    let owned: i64 = messages::table
        .filter(messages::id.eq(id))
        .filter(messages::account_id.eq(sender.account.as_str()))
        .filter(messages::application_id.eq(&sender.application_id))
        .count()
        .get_result(conn)?;
    if owned == 0 {
        return Err(MessagingError::NotFound(id.to_owned()));
    }
    listed(conn, id)
}

/// The evidences of message `id` of `account`, for an administrator who may see messages.
pub fn list_in_account(
    conn: &mut DbConnection,
    actor: &lanyard_identity::rights::Actor,
    account: &AccountId,
    id: &str,
) -> Result<Vec<EvidenceInfo>> {
    use lanyard_identity::rights::{Area, Verb, authorize};
    authorize(conn, actor, Area::Messages, Verb::View, account)?;
    let owned: i64 = messages::table
        .filter(messages::id.eq(id))
        .filter(messages::account_id.eq(account.as_str()))
        .count()
        .get_result(conn)?;
    if owned == 0 {
        return Err(MessagingError::NotFound(id.to_owned()));
    }
    listed(conn, id)
}

/// The server's counter-signed evidence `evidence` of message `id` of `account` (DER).
pub fn download_in_account(
    conn: &mut DbConnection,
    actor: &lanyard_identity::rights::Actor,
    account: &AccountId,
    id: &str,
    evidence: &str,
) -> Result<Vec<u8>> {
    list_in_account(conn, actor, account, id)?;
    evidences::table
        .filter(evidences::id.eq(evidence))
        .filter(evidences::message_id.eq(id))
        .select(evidences::server_cms)
        .first(conn)
        .optional()?
        .ok_or_else(|| MessagingError::NotFound(evidence.to_owned()))
}

fn listed(conn: &mut DbConnection, id: &str) -> Result<Vec<EvidenceInfo>> {
    let rows: Vec<(String, String, String, String, NaiveDateTime)> = evidences::table
        .inner_join(
            message_recipients::table.on(message_recipients::message_id
                .eq(evidences::message_id)
                .and(message_recipients::position.eq(evidences::position))),
        )
        .filter(evidences::message_id.eq(id))
        .order((evidences::received_at, evidences::id))
        .select((
            evidences::id,
            message_recipients::alias,
            evidences::kind,
            evidences::decision,
            evidences::received_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, user_id, kind, decision, at)| EvidenceInfo {
            id,
            user_id,
            kind: EvidenceKind::parse(&kind).unwrap_or(EvidenceKind::SignedTransaction),
            decision: RecipientStatus::parse(&decision).unwrap_or(RecipientStatus::Failed),
            received_at: at.and_utc(),
        })
        .collect())
}

/// The stored CMS of evidence `evidence` of message `id` of `sender`: `(device's, server's)`.
pub fn download(
    conn: &mut DbConnection,
    sender: &Sender,
    id: &str,
    evidence: &str,
) -> Result<(Vec<u8>, Vec<u8>)> {
    list(conn, sender, id)?;
    evidences::table
        .filter(evidences::id.eq(evidence))
        .filter(evidences::message_id.eq(id))
        .select((evidences::device_cms, evidences::server_cms))
        .first(conn)
        .optional()?
        .ok_or_else(|| MessagingError::NotFound(evidence.to_owned()))
}

/// The certificate of an active device (for callers that have only its id).
pub fn device_certificate(conn: &mut DbConnection, device_id: &str) -> Result<X509> {
    let pem: String = certificates::table
        .filter(certificates::device_id.eq(device_id))
        .filter(certificates::status.eq("active"))
        .select(certificates::cert_pem)
        .first(conn)
        .optional()?
        .ok_or_else(|| MessagingError::NotFound(device_id.to_owned()))?;
    Ok(lanyard_pki::certificate_from_pem(pem.as_bytes()).map_err(lanyard_pki::PkiError::from)?)
}
