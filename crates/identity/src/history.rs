//! The account history: every change made by an administrator or API token, plus logins,
//! logouts and failed logins. Append-only: this module has no update or delete.

use crate::Result;
use crate::rights::Actor;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use lanyard_core::id::AccountId;
use lanyard_core::paging::{Page, like_contains};
use lanyard_core::{Clock, PageRequest};
use lanyard_store::DbConnection;
use lanyard_store::schema::account_history;

/// One entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// When.
    pub occurred_at: DateTime<Utc>,
    /// Area (page) of the change, e.g. "End users".
    pub area: String,
    /// What was done, e.g. "End user created: alice".
    pub action: String,
    /// Who: an administrator's name or "API token …".
    pub performed_by: String,
    /// The administrator's e-mail.
    pub performed_by_email: Option<String>,
}

/// Records an entry for `account` in the caller's transaction.
pub fn record(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    account: &AccountId,
    area: &str,
    action: &str,
    performed_by: &str,
    performed_by_email: Option<&str>,
) -> Result<()> {
    let search = format!(
        "{area}\n{action}\n{performed_by}\n{}",
        performed_by_email.unwrap_or_default()
    )
    .to_lowercase();
    diesel::insert_into(account_history::table)
        .values((
            account_history::id.eq(uuid::Uuid::new_v4().to_string()),
            account_history::account_id.eq(account.as_str()),
            account_history::occurred_at.eq(clock.now().naive_utc()),
            account_history::area.eq(area),
            account_history::action.eq(action),
            account_history::performed_by.eq(performed_by),
            account_history::performed_by_email.eq(performed_by_email),
            account_history::search_text.eq(search),
        ))
        .execute(conn)?;
    Ok(())
}

/// Records a change made by `actor` on `account`.
pub fn record_by(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    account: &AccountId,
    area: &str,
    action: &str,
) -> Result<()> {
    record(
        conn,
        clock,
        account,
        area,
        action,
        &actor.name,
        actor.email.as_deref(),
    )
}

/// Filter of the history list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// From (inclusive).
    pub from: Option<DateTime<Utc>>,
    /// To (exclusive).
    pub to: Option<DateTime<Utc>>,
    /// Newest first (the default) or oldest first.
    pub oldest_first: bool,
}

type Row = (NaiveDateTime, String, String, String, Option<String>);

/// A page of `account`'s history.
pub fn list(
    conn: &mut DbConnection,
    account: &AccountId,
    filter: &Filter,
    page: &PageRequest,
) -> Result<Page<Entry>> {
    let base = || {
        let mut q = account_history::table
            .filter(account_history::account_id.eq(account.as_str()))
            .into_boxed();
        if let Some(from) = filter.from {
            q = q.filter(account_history::occurred_at.ge(from.naive_utc()));
        }
        if let Some(to) = filter.to {
            q = q.filter(account_history::occurred_at.lt(to.naive_utc()));
        }
        q
    };
    let records_total = account_history::table
        .filter(account_history::account_id.eq(account.as_str()))
        .count()
        .get_result(conn)?;
    let pattern = page.search.as_deref().map(like_contains);
    let filtered = || {
        let q = base();
        match &pattern {
            Some(p) => q.filter(account_history::search_text.like(p.clone()).escape('\\')),
            None => q,
        }
    };
    let records_filtered = filtered().count().get_result(conn)?;
    let ordered = if filter.oldest_first {
        filtered().order((
            account_history::occurred_at.asc(),
            account_history::id.asc(),
        ))
    } else {
        filtered().order((
            account_history::occurred_at.desc(),
            account_history::id.desc(),
        ))
    };
    let rows: Vec<Row> = ordered
        .offset(page.start)
        .limit(page.length)
        .select((
            account_history::occurred_at,
            account_history::area,
            account_history::action,
            account_history::performed_by,
            account_history::performed_by_email,
        ))
        .load(conn)?;
    Ok(Page {
        data: rows
            .into_iter()
            .map(|(at, area, action, by, email)| Entry {
                occurred_at: at.and_utc(),
                area,
                action,
                performed_by: by,
                performed_by_email: email,
            })
            .collect(),
        records_total,
        records_filtered,
    })
}
