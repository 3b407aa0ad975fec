//! Aliases (PassBy[ME] IDs, `loginNames`): strings that address an end user, unique within the
//! organization. The database enforces the uniqueness (primary key `(account_id, alias)`), so it
//! holds under any concurrency; a violation becomes [`IdentityError::AliasTaken`].

use crate::end_user::{self, EndUser};
use crate::rights::{Actor, Area, Verb, authorize};
use crate::{IdentityError, Result, history};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use lanyard_core::id::{AccountId, EndUserId};
use lanyard_core::{Clock, Oid};
use lanyard_store::schema::aliases;
use lanyard_store::{DbConnection, StoreError, is_unique_violation, write_transaction};
use std::fmt;

/// Longest alias accepted.
pub const MAX_ALIAS_CHARS: usize = 255;

/// A valid alias: 1–255 characters, no leading or trailing spaces, no control characters.
/// Aliases are compared exactly (case-sensitive), as PassBy[ME] IDs are.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Alias(String);

impl Alias {
    /// Parses an alias given in the field `field` (`userId` on the wire).
    pub fn parse(field: &'static str, raw: &str) -> Result<Self> {
        if raw.is_empty() {
            return Err(IdentityError::invalid(field, "must not be empty"));
        }
        if raw.trim() != raw {
            return Err(IdentityError::invalid(
                field,
                "must not start or end with spaces",
            ));
        }
        if raw.chars().count() > MAX_ALIAS_CHARS {
            return Err(IdentityError::invalid(
                field,
                format!("must be at most {MAX_ALIAS_CHARS} characters"),
            ));
        }
        if raw.chars().any(char::is_control) {
            return Err(IdentityError::invalid(
                field,
                "must not contain control characters",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The alias as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Alias {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An alias with the end user it addresses (LoginNameData).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginName {
    /// The alias.
    pub alias: String,
    /// OID of the end user.
    pub oid: Oid,
}

/// Inserts an alias inside the caller's transaction, naming a taken alias.
pub(crate) fn insert(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    account: &AccountId,
    user: &EndUserId,
    alias: &Alias,
) -> Result<()> {
    let inserted = diesel::insert_into(aliases::table)
        .values((
            aliases::account_id.eq(account.as_str()),
            aliases::alias.eq(alias.as_str()),
            aliases::end_user_id.eq(user.as_str()),
            aliases::created_at.eq(clock.now().naive_utc()),
        ))
        .execute(conn);
    match inserted {
        Ok(_) => Ok(()),
        Err(err) if is_unique_violation(&err) => Err(IdentityError::AliasTaken(alias.0.clone())),
        Err(err) => Err(IdentityError::Store(StoreError::Query(err))),
    }
}

/// Adds an alias to the end user `oid` of `account`.
pub fn add(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    account: &AccountId,
    oid: &Oid,
    alias: &Alias,
) -> Result<LoginName> {
    write_transaction(conn, |conn| {
        authorize(conn, actor, Area::EndUsers, Verb::Edit, account)?;
        crate::organization::require_manageable_alias(conn, account, "userId", alias.as_str())?;
        let user = end_user::find_id(conn, account, oid)?;
        insert(conn, clock, account, &user, alias)?;
        end_user::refresh_search_text(conn, &user)?;
        history::record_by(
            conn,
            clock,
            actor,
            account,
            "End users",
            &format!("Alias added to {oid}: {alias}"),
        )?;
        Ok(LoginName {
            alias: alias.0.clone(),
            oid: oid.clone(),
        })
    })
}

/// The aliases of the end user `oid` of `account`, oldest (primary) first.
pub fn list_for_user(
    conn: &mut DbConnection,
    account: &AccountId,
    oid: &Oid,
) -> Result<Vec<LoginName>> {
    let user = end_user::find_id(conn, account, oid)?;
    Ok(aliases_of(conn, std::slice::from_ref(&user))?
        .into_iter()
        .map(|(_, alias)| LoginName {
            alias,
            oid: oid.clone(),
        })
        .collect())
}

/// The aliases of several end users as `(user id, alias)`, each user's oldest first.
pub(crate) fn aliases_of(
    conn: &mut DbConnection,
    users: &[EndUserId],
) -> Result<Vec<(EndUserId, String)>> {
    let ids: Vec<&str> = users.iter().map(EndUserId::as_str).collect();
    let rows: Vec<(String, String, NaiveDateTime)> = aliases::table
        .filter(aliases::end_user_id.eq_any(ids))
        .order((aliases::end_user_id, aliases::created_at, aliases::alias))
        .select((aliases::end_user_id, aliases::alias, aliases::created_at))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(user, alias, _)| (EndUserId::from_stored(user), alias))
        .collect())
}

/// Finds the end user addressed by `alias` in `account`.
pub fn find(conn: &mut DbConnection, account: &AccountId, alias: &str) -> Result<LoginName> {
    let user: Option<EndUser> = end_user::find_by_alias(conn, account, alias)?;
    let user = user.ok_or_else(|| IdentityError::not_found("alias", alias))?;
    Ok(LoginName {
        alias: alias.to_owned(),
        oid: user.oid,
    })
}

/// Deletes `alias` of the end user `oid`; the last alias of a user cannot be deleted.
///
/// The check and the delete are one transaction with the user's aliases locked, so two
/// concurrent deletions of a user's last two aliases cannot both succeed.
pub fn delete(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    account: &AccountId,
    oid: &Oid,
    alias: &str,
) -> Result<()> {
    write_transaction(conn, |conn| {
        authorize(conn, actor, Area::EndUsers, Verb::Edit, account)?;
        crate::organization::require_manageable_alias(conn, account, "userId", alias)?;
        let user = end_user::find_id(conn, account, oid)?;
        let owned = aliases::table
            .filter(aliases::end_user_id.eq(user.as_str()))
            .select(aliases::alias);
        let owned: Vec<String> = match conn {
            DbConnection::Pg(pg) => owned.for_update().load(pg)?,
            DbConnection::Sqlite(lite) => owned.load(lite)?,
        };
        if !owned.iter().any(|a| a == alias) {
            return Err(IdentityError::not_found("alias", format!("{oid}/{alias}")));
        }
        if owned.len() == 1 {
            return Err(IdentityError::LastAlias);
        }
        diesel::delete(
            aliases::table
                .filter(aliases::account_id.eq(account.as_str()))
                .filter(aliases::alias.eq(alias)),
        )
        .execute(conn)?;
        end_user::refresh_search_text(conn, &user)?;
        history::record_by(
            conn,
            clock,
            actor,
            account,
            "End users",
            &format!("Alias removed from {oid}: {alias}"),
        )?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_rules_name_the_field() {
        assert!(Alias::parse("userId", "user01").is_ok());
        assert!(Alias::parse("userId", "józsef.kovács@példa.hu").is_ok());
        for bad in ["", " x", "x ", "a\tb"] {
            match Alias::parse("userId", bad) {
                Err(IdentityError::Invalid { field, .. }) => assert_eq!(field, "userId"),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        assert!(Alias::parse("userId", &"x".repeat(256)).is_err());
    }
}
