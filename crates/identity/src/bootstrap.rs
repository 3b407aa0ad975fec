//! First start of an installation: the OID root, the counters and the platform account.

use crate::account::{self, Account, AccountKind, AccountStatus};
use crate::{IdentityError, Result, oid, settings};
use diesel::prelude::*;
use lanyard_core::{Clock, OidRoot};
use lanyard_store::schema::counters;
use lanyard_store::{DbConnection, StoreError, is_unique_violation, write_transaction};

/// What [`bootstrap`] found or did.
#[derive(Debug, Clone)]
pub struct Bootstrapped {
    /// The installation's OID root.
    pub oid_root: OidRoot,
    /// The platform account.
    pub platform: Account,
    /// Whether this call created them (false: they existed).
    pub created: bool,
}

/// Bootstraps the installation once: stores the OID root (`root`, or a fresh arc under `2.25`),
/// creates the OID counters and the platform account. Later calls change nothing and report what
/// exists; a different `root` than the stored one is ignored (OIDs already handed out must stay
/// valid), which the caller can see in the result.
pub fn bootstrap(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    root: Option<OidRoot>,
) -> Result<Bootstrapped> {
    match attempt(conn, clock, root.clone()) {
        // Another process bootstrapped concurrently (PostgreSQL: its insert of the same setting
        // committed first); what it created is now there to read.
        Err(IdentityError::Store(StoreError::Query(err))) if is_unique_violation(&err) => {
            attempt(conn, clock, root)
        }
        other => other,
    }
}

fn attempt(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    root: Option<OidRoot>,
) -> Result<Bootstrapped> {
    write_transaction(conn, |conn| {
        if settings::get(conn, settings::OID_ROOT)?.is_some() {
            return Ok(Bootstrapped {
                oid_root: oid::root(conn)?,
                platform: account::platform(conn)?,
                created: false,
            });
        }
        let root = root.unwrap_or_else(OidRoot::random_uuid_arc);
        settings::insert(conn, settings::OID_ROOT, root.as_str())?;
        for name in [oid::ACCOUNTS, oid::END_USERS] {
            diesel::insert_into(counters::table)
                .values((counters::name.eq(name), counters::value.eq(0_i64)))
                .execute(conn)?;
        }
        crate::organization::seed_plans(conn, clock)?;
        let platform_oid = oid::next_account(conn)?;
        let platform = account::insert(
            conn,
            clock,
            account::Insert {
                oid: &platform_oid,
                kind: AccountKind::Platform,
                parent_id: None,
                name: "Platform",
                contact_email: None,
                status: AccountStatus::Activated,
            },
        )?;
        Ok(Bootstrapped {
            oid_root: root,
            platform,
            created: true,
        })
    })
}
