//! Message history for the console (SPEC §5, §2 "User details"): the messages of an
//! organization or of one person, newest first, with how many recipients are in each status;
//! and one message in full — its fields, its recipients and their evidences.

use crate::evidence::EvidenceInfo;
use crate::message::{Attachment, expire_one};
use crate::status::{MessageKind, RecipientStatus};
use crate::{MessagingError, Result};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use lanyard_core::id::AccountId;
use lanyard_core::{Clock, Page, PageRequest};
use lanyard_identity::rights::{Actor, Area, Verb, authorize};
use lanyard_store::DbConnection;
use lanyard_store::schema::{administrators, applications, message_recipients, messages};
use std::collections::BTreeMap;

/// One message in a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// messageId.
    pub id: String,
    /// Kind.
    pub kind: MessageKind,
    /// Subject.
    pub subject: String,
    /// The sending application's name (none for console login approvals, or once deleted).
    pub application: Option<String>,
    /// Sent at.
    pub sent_at: DateTime<Utc>,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
    /// How many recipients are in each status (of the person only, for a person's history).
    pub statuses: BTreeMap<String, i64>,
}

/// Whose messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Whose<'a> {
    /// Every message of the organization.
    Organization,
    /// The messages to one end user (by id).
    EndUser(&'a str),
}

type SummaryRow = (
    String,
    String,
    String,
    Option<String>,
    NaiveDateTime,
    NaiveDateTime,
);

/// A page of the messages of `account` (or of one of its end users), newest first; the search
/// matches the subject, the message id and the application's name.
pub fn list(
    conn: &mut DbConnection,
    actor: &Actor,
    account: &AccountId,
    whose: Whose<'_>,
    page: &PageRequest,
) -> Result<Page<Summary>> {
    authorize(conn, actor, Area::Messages, Verb::View, account)?;
    let base = || {
        let mut q = messages::table
            .left_join(
                applications::table.on(applications::id.nullable().eq(messages::application_id)),
            )
            .filter(messages::account_id.eq(account.as_str()))
            .into_boxed();
        if let Whose::EndUser(user) = whose {
            q = q.filter(
                messages::id.eq_any(
                    message_recipients::table
                        .filter(message_recipients::end_user_id.eq(user.to_owned()))
                        .select(message_recipients::message_id),
                ),
            );
        }
        q
    };
    let records_total: i64 = base().count().get_result(conn)?;
    let filtered = || {
        let mut q = base();
        if let Some(pattern) = page.like_pattern() {
            q = q.filter(crate::activity::any_contains(
                &pattern,
                &["messages.subject", "messages.id", "applications.name"],
            ));
        }
        q
    };
    let records_filtered: i64 = filtered().count().get_result(conn)?;
    let rows: Vec<SummaryRow> = filtered()
        .order((messages::created_at.desc(), messages::id.asc()))
        .offset(page.start)
        .limit(page.length)
        .select((
            messages::id,
            messages::kind,
            messages::subject,
            applications::name.nullable(),
            messages::created_at,
            messages::expires_at,
        ))
        .load(conn)?;
    // The statuses of this page's messages, in one query.
    let ids: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    let mut counts = message_recipients::table
        .filter(message_recipients::message_id.eq_any(&ids))
        .group_by((message_recipients::message_id, message_recipients::status))
        .select((
            message_recipients::message_id,
            message_recipients::status,
            diesel::dsl::count_star(),
        ))
        .into_boxed();
    if let Whose::EndUser(user) = whose {
        counts = counts.filter(message_recipients::end_user_id.eq(user.to_owned()));
    }
    let mut statuses: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    for (id, status, n) in counts.load::<(String, String, i64)>(conn)? {
        statuses.entry(id).or_default().insert(status, n);
    }
    Ok(Page {
        data: rows
            .into_iter()
            .map(|(id, kind, subject, application, sent, expires)| Summary {
                statuses: statuses.remove(&id).unwrap_or_default(),
                kind: MessageKind::parse(&kind).unwrap_or(MessageKind::Message),
                id,
                subject,
                application,
                sent_at: sent.and_utc(),
                expires_at: expires.and_utc(),
            })
            .collect(),
        records_total,
        records_filtered,
    })
}

/// One recipient of a message in full.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientDetail {
    /// userId as the message names them.
    pub user_id: String,
    /// The end user, when the recipient is one (and still exists).
    pub end_user_id: Option<String>,
    /// Status.
    pub status: RecipientStatus,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// One message in full.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detail {
    /// The list's view of it.
    pub summary: Summary,
    /// Body.
    pub body: String,
    /// Preview line.
    pub preview: Option<String>,
    /// secureId (none for a console approval: it is its administrator's to compare).
    pub secure_id: Option<String>,
    /// Whether the approval needs the typed secureId.
    pub enforce_secure_id: bool,
    /// External identity.
    pub external_identity: Option<String>,
    /// Attachment.
    pub attachment: Option<Attachment>,
    /// Unlisted.
    pub unlisted: bool,
    /// Callback URL.
    pub callback_url: Option<String>,
    /// Who sent it from the console (their e-mail), if anyone did.
    pub sent_by: Option<String>,
    /// When every recipient reached a final status.
    pub completed_at: Option<DateTime<Utc>>,
    /// Recipients in the order given.
    pub recipients: Vec<RecipientDetail>,
    /// Evidences, oldest first.
    pub evidences: Vec<EvidenceInfo>,
}

type DetailRow = (
    (
        String,
        String,
        String,
        Option<String>,
        NaiveDateTime,
        NaiveDateTime,
    ),
    (
        String,
        Option<String>,
        Option<String>,
        bool,
        Option<String>,
        bool,
        Option<String>,
        Option<NaiveDateTime>,
    ),
    (
        Option<String>,
        Option<String>,
        Option<NaiveDateTime>,
        Option<String>,
    ),
);

/// alias, end user, status, changed, administrator.
type RecipientRow = (
    String,
    Option<String>,
    String,
    NaiveDateTime,
    Option<String>,
);

/// Message `id` of `account` in full, with expiry applied first if its time is up (so the page
/// never shows a status the message can no longer have).
pub fn detail(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    account: &AccountId,
    id: &str,
) -> Result<Detail> {
    authorize(conn, actor, Area::Messages, Verb::View, account)?;
    let read = |conn: &mut DbConnection| -> Result<DetailRow> {
        messages::table
            .left_join(
                applications::table.on(applications::id.nullable().eq(messages::application_id)),
            )
            .left_join(
                administrators::table.on(administrators::id.nullable().eq(messages::sent_by)),
            )
            .filter(messages::id.eq(id))
            .filter(messages::account_id.eq(account.as_str()))
            .select((
                (
                    messages::id,
                    messages::kind,
                    messages::subject,
                    applications::name.nullable(),
                    messages::created_at,
                    messages::expires_at,
                ),
                (
                    messages::body,
                    messages::preview,
                    messages::secure_id,
                    messages::enforce_secure_id,
                    messages::external_identity,
                    messages::unlisted,
                    messages::callback_url,
                    messages::completed_at,
                ),
                (
                    messages::attachment_name,
                    messages::attachment_url,
                    messages::attachment_expires_at,
                    administrators::email.nullable(),
                ),
            ))
            .first(conn)
            .optional()?
            .ok_or_else(|| MessagingError::NotFound(id.to_owned()))
    };
    let mut row = read(conn)?;
    let kind = MessageKind::parse(&row.0.1).unwrap_or(MessageKind::Message);
    if row.1.7.is_none() && clock.now() >= row.0.5.and_utc() {
        expire_one(conn, clock, id, kind)?;
        row = read(conn)?;
    }
    let (
        (id, _, subject, application, sent, expires),
        (body, preview, secure_id, enforce, external, unlisted, callback, completed),
        (att_name, att_url, att_until, sent_by),
    ) = row;
    let recipients: Vec<RecipientRow> = message_recipients::table
        .filter(message_recipients::message_id.eq(&id))
        .order(message_recipients::position)
        .select((
            message_recipients::alias,
            message_recipients::end_user_id,
            message_recipients::status,
            message_recipients::updated_at,
            message_recipients::administrator_id,
        ))
        .load(conn)?;
    // A console approval's code is its administrator's to compare, while they log in: other
    // administrators who may view messages do not see it.
    let approval = recipients.iter().any(|r| r.4.is_some());
    let mut statuses = BTreeMap::new();
    for r in &recipients {
        *statuses.entry(r.2.clone()).or_insert(0) += 1;
    }
    let evidences = crate::evidence::list_in_account(conn, actor, account, &id)?;
    Ok(Detail {
        summary: Summary {
            id,
            kind,
            subject,
            application,
            sent_at: sent.and_utc(),
            expires_at: expires.and_utc(),
            statuses,
        },
        body,
        preview,
        secure_id: secure_id.filter(|_| !approval),
        enforce_secure_id: enforce,
        external_identity: external,
        attachment: match (att_name, att_url, att_until) {
            (Some(name), Some(url), Some(until)) => Some(Attachment {
                name,
                url,
                expires_at: until.and_utc(),
            }),
            _ => None,
        },
        unlisted,
        callback_url: callback,
        sent_by,
        completed_at: completed.map(|c| c.and_utc()),
        recipients: recipients
            .into_iter()
            .map(|(user_id, end_user_id, status, at, _)| RecipientDetail {
                user_id,
                end_user_id,
                status: RecipientStatus::parse(&status).unwrap_or(RecipientStatus::Failed),
                updated_at: at.and_utc(),
            })
            .collect(),
        evidences,
    })
}
