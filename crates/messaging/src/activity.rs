//! The activity log (API §9 `GET /rest/activity`): one entry per recipient of an authorization
//! message — who, which application, when it started, ended and was valid to, and its progress —
//! searched, ordered by any columns and paged in the database, within the plan's
//! `daysOfActivityLog`.

use crate::Result;
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use diesel::prelude::*;
use lanyard_core::id::AccountId;
use lanyard_core::{Clock, Page, PageRequest};
use lanyard_identity::organization;
use lanyard_identity::rights::{Actor, Area, Verb, authorize};
use lanyard_store::DbConnection;
use lanyard_store::schema::{applications, message_recipients, messages};

/// The columns an entry has, as the wire names them.
pub const COLUMNS: [&str; 7] = [
    "userId",
    "startedAt",
    "endedAt",
    "validTo",
    "applicationId",
    "applicationName",
    "progress",
];

/// One ordering: a column of [`COLUMNS`], ascending or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Order {
    /// Index into [`COLUMNS`].
    pub column: usize,
    /// Ascending.
    pub ascending: bool,
}

/// An entry (ActivityData).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    /// `userId`.
    pub user_id: String,
    /// `startedAt`.
    pub started_at: DateTime<Utc>,
    /// `endedAt` (none while PENDING).
    pub ended_at: Option<DateTime<Utc>>,
    /// `validTo`.
    pub valid_to: DateTime<Utc>,
    /// `applicationId`.
    pub application_id: Option<String>,
    /// `applicationName` (none once the application is deleted).
    pub application_name: Option<String>,
    /// `progress`.
    pub progress: String,
}

type Row = (
    String,
    NaiveDateTime,
    Option<NaiveDateTime>,
    NaiveDateTime,
    Option<String>,
    Option<String>,
    String,
);

/// A search condition: any of the `columns` (SQL expressions, constants of the caller; NULL is
/// empty), lower-cased, contains what `pattern` (as [`PageRequest::like_pattern`] makes it, `\`
/// escaping) matches. The columns are joined by a unit separator (U+001F) into one string, so
/// the pattern is bound once; no typed search contains that character.
pub(crate) fn any_contains(
    pattern: &str,
    columns: &[&str],
) -> diesel::expression::SqlLiteral<
    diesel::sql_types::Bool,
    diesel::expression::UncheckedBind<
        diesel::expression::SqlLiteral<diesel::sql_types::Bool>,
        diesel::dsl::AsExprOf<String, diesel::sql_types::Text>,
    >,
> {
    use diesel::dsl::sql;
    use diesel::sql_types::{Bool, Text};
    let joined: Vec<String> = columns
        .iter()
        .map(|c| format!("COALESCE({c}, '')"))
        .collect();
    sql::<Bool>(&format!("lower({}) LIKE ", joined.join(" || '\u{1f}' || ")))
        .bind::<Text, _>(pattern.to_owned())
        .sql(" ESCAPE '\\'")
}

/// A page of the activity log of `account`, newest first unless `orders` say otherwise.
pub fn list(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    account: &AccountId,
    page: &PageRequest,
    orders: &[Order],
) -> Result<Page<Activity>> {
    authorize(conn, actor, Area::Activity, Verb::View, account)?;
    let days = organization::settings(conn, account)?
        .plan
        .map_or(90, |p| p.days_of_activity_log);
    // Bounded again here: a plan stored before the bound (or written around it) must not panic.
    let days = days.clamp(1, organization::MAX_DAYS_OF_ACTIVITY_LOG);
    let since = (clock.now() - TimeDelta::days(days)).naive_utc();
    let base = || {
        messages::table
            .inner_join(message_recipients::table)
            .left_join(
                applications::table.on(applications::id.nullable().eq(messages::application_id)),
            )
            .filter(messages::account_id.eq(account.as_str()))
            .filter(messages::kind.eq("authorization"))
            .filter(messages::created_at.ge(since))
            .into_boxed()
    };
    let records_total: i64 = base().count().get_result(conn)?;
    let filtered = || {
        let mut q = base();
        if let Some(pattern) = page.like_pattern() {
            q = q.filter(any_contains(
                &pattern,
                &[
                    "message_recipients.alias",
                    "messages.application_id",
                    "applications.name",
                    "message_recipients.progress",
                ],
            ));
        }
        q
    };
    let records_filtered: i64 = filtered().count().get_result(conn)?;
    let mut q = filtered();
    let orders = if orders.is_empty() {
        vec![Order {
            column: 1,
            ascending: false,
        }]
    } else {
        orders.to_vec()
    };
    for o in &orders {
        q = match (o.column, o.ascending) {
            (0, true) => q.then_order_by(message_recipients::alias.asc()),
            (0, false) => q.then_order_by(message_recipients::alias.desc()),
            (1, true) => q.then_order_by(messages::created_at.asc()),
            (1, false) => q.then_order_by(messages::created_at.desc()),
            (2, true) => q.then_order_by(message_recipients::ended_at.asc()),
            (2, false) => q.then_order_by(message_recipients::ended_at.desc()),
            (3, true) => q.then_order_by(messages::expires_at.asc()),
            (3, false) => q.then_order_by(messages::expires_at.desc()),
            (4, true) => q.then_order_by(messages::application_id.asc()),
            (4, false) => q.then_order_by(messages::application_id.desc()),
            (5, true) => q.then_order_by(applications::name.nullable().asc()),
            (5, false) => q.then_order_by(applications::name.nullable().desc()),
            (_, true) => q.then_order_by(message_recipients::progress.asc()),
            (_, false) => q.then_order_by(message_recipients::progress.desc()),
        };
    }
    // A stable order for equal keys, so pages neither repeat nor skip entries.
    q = q
        .then_order_by(messages::id.asc())
        .then_order_by(message_recipients::position.asc());
    let rows: Vec<Row> = q
        .offset(page.start)
        .limit(page.length)
        .select((
            message_recipients::alias,
            messages::created_at,
            message_recipients::ended_at,
            messages::expires_at,
            messages::application_id,
            applications::name.nullable(),
            message_recipients::progress,
        ))
        .load(conn)?;
    Ok(Page {
        data: rows
            .into_iter()
            .map(
                |(user, started, ended, valid, app, name, progress)| Activity {
                    user_id: user,
                    started_at: started.and_utc(),
                    ended_at: ended.map(|e| e.and_utc()),
                    valid_to: valid.and_utc(),
                    application_id: app,
                    application_name: name,
                    progress,
                },
            )
            .collect(),
        records_total,
        records_filtered,
    })
}
