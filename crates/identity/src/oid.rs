//! Race-free allocation of OIDs.
//!
//! Each kind of OID has a counter row. `UPDATE … SET value = value + 1 … RETURNING value` is
//! atomic on both backends (a row lock on PostgreSQL, the write lock on SQLite), so two
//! concurrent allocations never get the same number, and a rolled-back transaction gives its
//! number back.

use crate::{IdentityError, Result, settings};
use diesel::prelude::*;
use lanyard_core::{Oid, OidRoot};
use lanyard_store::DbConnection;
use lanyard_store::schema::counters;

/// Counter of account OIDs.
pub(crate) const ACCOUNTS: &str = "account_oid";
/// Counter of end-user OIDs.
pub(crate) const END_USERS: &str = "end_user_oid";

/// The installation's OID root.
pub fn root(conn: &mut DbConnection) -> Result<OidRoot> {
    let stored = settings::get(conn, settings::OID_ROOT)?.ok_or(IdentityError::NotBootstrapped)?;
    OidRoot::parse(&stored)
        .map_err(|e| IdentityError::Inconsistent(format!("stored OID root is invalid: {e}")))
}

/// Takes the next number of `counter`. Call inside the transaction that uses it.
pub(crate) fn next(conn: &mut DbConnection, counter: &str) -> Result<i64> {
    diesel::update(counters::table.filter(counters::name.eq(counter)))
        .set(counters::value.eq(counters::value + 1))
        .returning(counters::value)
        .get_result(conn)
        .optional()?
        .ok_or(IdentityError::NotBootstrapped)
}

/// Allocates the next account OID.
pub(crate) fn next_account(conn: &mut DbConnection) -> Result<Oid> {
    let root = root(conn)?;
    Ok(root.account(next(conn, ACCOUNTS)?))
}
