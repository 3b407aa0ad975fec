//! End users: the people of an organization who hold devices and credentials.

use crate::alias::{self, Alias};
use crate::rights::{Actor, Area, Verb, authorize};
use crate::text::{optional_phone, optional_text};
use crate::{IdentityError, Result, history, oid};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use lanyard_core::id::{AccountId, EndUserId};
use lanyard_core::paging::{Page, like_contains};
use lanyard_core::{Clock, Email, Oid, PageRequest};
use lanyard_store::schema::{aliases, end_users};
use lanyard_store::{DbConnection, MultiBackend, write_transaction};
use std::collections::HashMap;

/// Longest full name accepted.
pub const MAX_FULL_NAME_CHARS: usize = 255;

/// An end user with its aliases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndUser {
    /// Internal id.
    pub id: EndUserId,
    /// OID `<root>.3.3.<n>`.
    pub oid: Oid,
    /// Full name.
    pub full_name: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// Phone number.
    pub phone_number: Option<String>,
    /// Disabled users cannot authenticate, receive messages or use credentials.
    pub disabled: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Aliases, the primary (oldest) first.
    pub aliases: Vec<String>,
}

impl EndUser {
    /// The primary alias (the one the user was created with, unless deleted since).
    pub fn primary_alias(&self) -> Option<&str> {
        self.aliases.first().map(String::as_str)
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = end_users)]
struct EndUserRow {
    id: String,
    oid: String,
    seq: i64,
    full_name: Option<String>,
    email: Option<String>,
    phone_number: Option<String>,
    disabled: bool,
    created_at: NaiveDateTime,
}

impl EndUserRow {
    fn into_user(self, aliases: Vec<String>) -> EndUser {
        EndUser {
            id: EndUserId::from_stored(self.id),
            oid: Oid::from_stored(self.oid),
            full_name: self.full_name,
            email: self.email,
            phone_number: self.phone_number,
            disabled: self.disabled,
            created_at: self.created_at.and_utc(),
            aliases,
        }
    }
}

/// A validated new end user.
#[derive(Debug, Clone)]
pub struct NewEndUser {
    /// Primary alias.
    pub alias: Alias,
    /// E-mail address.
    pub email: Option<Email>,
    /// Full name.
    pub full_name: Option<String>,
    /// Phone number.
    pub phone_number: Option<String>,
}

fn parse_email(raw: Option<&str>, required: bool) -> Result<Option<Email>> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        Some(raw) => Email::parse(raw)
            .map(Some)
            .map_err(|e| IdentityError::invalid("email", e.to_string())),
        None if required => Err(IdentityError::invalid("email", "is required")),
        None => Ok(None),
    }
}

impl NewEndUser {
    /// Validates the fields as named on the wire (`userId`, `email`, `fullName`,
    /// `phoneNumber`). The management API requires an e-mail address; the console does not.
    pub fn parse(
        user_id: &str,
        email: Option<&str>,
        full_name: Option<&str>,
        phone_number: Option<&str>,
        email_required: bool,
    ) -> Result<Self> {
        Ok(Self {
            alias: Alias::parse("userId", user_id)?,
            email: parse_email(email, email_required)?,
            full_name: optional_text("fullName", full_name, MAX_FULL_NAME_CHARS)?,
            phone_number: optional_phone(phone_number)?,
        })
    }
}

/// Validated changes to an end user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct EndUserChanges {
    /// New e-mail address.
    pub email: Option<Email>,
    /// New full name (`Some(None)` clears it).
    pub full_name: Option<Option<String>>,
    /// New phone number (`Some(None)` clears it).
    pub phone_number: Option<Option<String>>,
    /// New disabled flag.
    pub disabled: Option<bool>,
}

impl EndUserChanges {
    /// Validates the fields of a PassBy[ME] `PUT /rest/users/:oid` (e-mail required; the other
    /// fields change only when given, an empty string clears them).
    pub fn parse(
        email: Option<&str>,
        full_name: Option<&str>,
        phone_number: Option<&str>,
        disabled: Option<bool>,
    ) -> Result<Self> {
        Ok(Self {
            email: parse_email(email, true)?,
            full_name: full_name
                .map(|v| optional_text("fullName", Some(v), MAX_FULL_NAME_CHARS))
                .transpose()?,
            phone_number: phone_number.map(|v| optional_phone(Some(v))).transpose()?,
            disabled,
        })
    }
}

/// Creates an end user with its primary alias in `account`, allocating its OID; one
/// transaction, so a taken alias leaves nothing behind (not even a used OID number).
pub fn create(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    account: &AccountId,
    new: NewEndUser,
) -> Result<EndUser> {
    write_transaction(conn, |conn| {
        authorize(conn, actor, Area::EndUsers, Verb::Create, account)?;
        crate::organization::require_manageable_alias(conn, account, "userId", new.alias.as_str())?;
        crate::organization::check_user_limit(conn, account)?;
        let root = oid::root(conn)?;
        let seq = oid::next(conn, oid::END_USERS)?;
        let user_oid = root.end_user(seq);
        let id = EndUserId::new_random();
        let now = clock.now();
        diesel::insert_into(end_users::table)
            .values((
                end_users::id.eq(id.as_str()),
                end_users::account_id.eq(account.as_str()),
                end_users::seq.eq(seq),
                end_users::oid.eq(user_oid.as_str()),
                end_users::full_name.eq(new.full_name.as_deref()),
                end_users::email.eq(new.email.as_ref().map(Email::as_str)),
                end_users::phone_number.eq(new.phone_number.as_deref()),
                end_users::disabled.eq(false),
                end_users::search_text.eq(search_text(
                    &user_oid,
                    [new.alias.as_str()],
                    new.full_name.as_deref(),
                    new.email.as_ref().map(Email::as_str),
                    new.phone_number.as_deref(),
                )),
                end_users::created_at.eq(now.naive_utc()),
                end_users::updated_at.eq(now.naive_utc()),
            ))
            .execute(conn)?;
        alias::insert(conn, clock, account, &id, &new.alias)?;
        history::record_by(
            conn,
            clock,
            actor,
            account,
            "End users",
            &format!("End user created: {} ({user_oid})", new.alias),
        )?;
        Ok(EndUser {
            id,
            oid: user_oid,
            full_name: new.full_name,
            email: new.email.map(String::from),
            phone_number: new.phone_number,
            disabled: false,
            created_at: now,
            aliases: vec![new.alias.as_str().to_owned()],
        })
    })
}

fn in_account(account: &AccountId) -> end_users::BoxedQuery<'_, MultiBackend> {
    end_users::table
        .filter(end_users::account_id.eq(account.as_str()))
        .into_boxed()
}

/// The internal id of the end user `oid` of `account`.
pub(crate) fn find_id(
    conn: &mut DbConnection,
    account: &AccountId,
    oid: &Oid,
) -> Result<EndUserId> {
    in_account(account)
        .filter(end_users::oid.eq(oid.as_str()))
        .select(end_users::id)
        .first::<String>(conn)
        .optional()?
        .map(EndUserId::from_stored)
        .ok_or_else(|| IdentityError::not_found("end user", oid.as_str()))
}

fn with_aliases(conn: &mut DbConnection, rows: Vec<EndUserRow>) -> Result<Vec<EndUser>> {
    let ids: Vec<EndUserId> = rows
        .iter()
        .map(|r| EndUserId::from_stored(r.id.clone()))
        .collect();
    let mut by_user: HashMap<EndUserId, Vec<String>> = HashMap::with_capacity(rows.len());
    for (user, alias) in alias::aliases_of(conn, &ids)? {
        by_user.entry(user).or_default().push(alias);
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let aliases = by_user
                .remove(&EndUserId::from_stored(row.id.clone()))
                .unwrap_or_default();
            row.into_user(aliases)
        })
        .collect())
}

/// The end user `oid` of `account`.
pub fn get(conn: &mut DbConnection, account: &AccountId, oid: &Oid) -> Result<EndUser> {
    let row = in_account(account)
        .filter(end_users::oid.eq(oid.as_str()))
        .select(EndUserRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| IdentityError::not_found("end user", oid.as_str()))?;
    Ok(with_aliases(conn, vec![row])?.remove(0))
}

/// The end user with internal id `id` (for records that keep the id, such as enrollments).
pub fn get_by_id(conn: &mut DbConnection, id: &EndUserId) -> Result<EndUser> {
    let row = end_users::table
        .filter(end_users::id.eq(id.as_str()))
        .select(EndUserRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| IdentityError::not_found("end user", id.as_str()))?;
    Ok(with_aliases(conn, vec![row])?.remove(0))
}

/// The end user addressed by `alias` in `account`, if any.
pub fn find_by_alias(
    conn: &mut DbConnection,
    account: &AccountId,
    alias: &str,
) -> Result<Option<EndUser>> {
    let row = end_users::table
        .inner_join(aliases::table)
        .filter(aliases::account_id.eq(account.as_str()))
        .filter(aliases::alias.eq(alias))
        .select(EndUserRow::as_select())
        .first(conn)
        .optional()?;
    match row {
        Some(row) => Ok(Some(with_aliases(conn, vec![row])?.remove(0))),
        None => Ok(None),
    }
}

fn matching<'a>(
    account: &'a AccountId,
    pattern: Option<&'a str>,
) -> end_users::BoxedQuery<'a, MultiBackend> {
    let query = in_account(account);
    match pattern {
        Some(pattern) => query.filter(end_users::search_text.like(pattern).escape('\\')),
        None => query,
    }
}

/// The searchable text of an end user: its fields lower-cased in Rust (SQLite's `lower()` knows
/// only ASCII), one per line.
fn search_text<'a>(
    oid: &Oid,
    aliases: impl IntoIterator<Item = &'a str>,
    full_name: Option<&'a str>,
    email: Option<&'a str>,
    phone_number: Option<&'a str>,
) -> String {
    let mut text = oid.as_str().to_owned();
    for part in aliases
        .into_iter()
        .chain(full_name)
        .chain(email)
        .chain(phone_number)
    {
        text.push('\n');
        text.push_str(&part.to_lowercase());
    }
    text
}

/// Recomputes the searchable text of an end user after a change to it or its aliases; call in
/// the transaction of that change.
pub(crate) fn refresh_search_text(conn: &mut DbConnection, id: &EndUserId) -> Result<()> {
    let row = end_users::table
        .filter(end_users::id.eq(id.as_str()))
        .select(EndUserRow::as_select())
        .first(conn)?;
    let user = with_aliases(conn, vec![row])?.remove(0);
    let text = search_text(
        &user.oid,
        user.aliases.iter().map(String::as_str),
        user.full_name.as_deref(),
        user.email.as_deref(),
        user.phone_number.as_deref(),
    );
    diesel::update(end_users::table.filter(end_users::id.eq(id.as_str())))
        .set(end_users::search_text.eq(text))
        .execute(conn)?;
    Ok(())
}

/// A page of the end users of `account`, oldest first, filtered by a case-insensitive substring
/// of an alias, the full name, the e-mail, the phone number or the OID.
pub fn list(
    conn: &mut DbConnection,
    account: &AccountId,
    page: &PageRequest,
) -> Result<Page<EndUser>> {
    let records_total = count(conn, account)?;
    let pattern = page.search.as_deref().map(like_contains);
    let records_filtered = if pattern.is_some() {
        matching(account, pattern.as_deref())
            .count()
            .get_result(conn)?
    } else {
        records_total
    };
    let rows = matching(account, pattern.as_deref())
        .order(end_users::seq.asc())
        .offset(page.start)
        .limit(page.length)
        .select(EndUserRow::as_select())
        .load(conn)?;
    Ok(Page {
        data: with_aliases(conn, rows)?,
        records_total,
        records_filtered,
    })
}

/// The number of end users of `account`.
pub fn count(conn: &mut DbConnection, account: &AccountId) -> Result<i64> {
    Ok(in_account(account).count().get_result(conn)?)
}

/// Up to `limit` end users of `account` created after the one with sequence `after` (0: from
/// the start), for streaming every user without holding them all (keyset paging: each batch is
/// an index range scan, however deep into the list).
pub fn batch_after(
    conn: &mut DbConnection,
    account: &AccountId,
    after: i64,
    limit: i64,
) -> Result<(Vec<EndUser>, Option<i64>)> {
    let rows = in_account(account)
        .filter(end_users::seq.gt(after))
        .order(end_users::seq.asc())
        .limit(limit)
        .select(EndUserRow::as_select())
        .load(conn)?;
    let last = rows.last().map(|r| r.seq);
    Ok((with_aliases(conn, rows)?, last))
}

/// Applies `changes` to the end user `oid` of `account`.
pub fn update(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    account: &AccountId,
    oid: &Oid,
    changes: EndUserChanges,
) -> Result<EndUser> {
    write_transaction(conn, |conn| {
        authorize(conn, actor, Area::EndUsers, Verb::Edit, account)?;
        let id = find_id(conn, account, oid)?;
        let target = end_users::table.filter(end_users::id.eq(id.as_str()));
        let now = clock.now().naive_utc();
        diesel::update(target)
            .set(end_users::updated_at.eq(now))
            .execute(conn)?;
        if let Some(email) = &changes.email {
            diesel::update(target)
                .set(end_users::email.eq(email.as_str()))
                .execute(conn)?;
        }
        if let Some(full_name) = &changes.full_name {
            diesel::update(target)
                .set(end_users::full_name.eq(full_name.as_deref()))
                .execute(conn)?;
        }
        if let Some(phone) = &changes.phone_number {
            diesel::update(target)
                .set(end_users::phone_number.eq(phone.as_deref()))
                .execute(conn)?;
        }
        if let Some(disabled) = changes.disabled {
            diesel::update(target)
                .set(end_users::disabled.eq(disabled))
                .execute(conn)?;
        }
        refresh_search_text(conn, &id)?;
        history::record_by(
            conn,
            clock,
            actor,
            account,
            "End users",
            &format!("End user updated: {oid}"),
        )?;
        get(conn, account, oid)
    })
}

/// Deletes the end user `oid` of `account` with its aliases.
pub fn delete(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    account: &AccountId,
    oid: &Oid,
) -> Result<()> {
    write_transaction(conn, |conn| {
        authorize(conn, actor, Area::EndUsers, Verb::Delete, account)?;
        let id = find_id(conn, account, oid)?;
        diesel::delete(aliases::table.filter(aliases::end_user_id.eq(id.as_str())))
            .execute(conn)?;
        diesel::delete(end_users::table.filter(end_users::id.eq(id.as_str()))).execute(conn)?;
        history::record_by(
            conn,
            clock,
            actor,
            account,
            "End users",
            &format!("End user deleted: {oid}"),
        )?;
        Ok(())
    })
}
