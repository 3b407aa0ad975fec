//! Rights profiles: the built-in "Administrator" (everything) and custom profiles per account.

use crate::rights::{Actor, Area, Rights, Verb, authorize};
use crate::{IdentityError, Result, history};
use diesel::prelude::*;
use lanyard_core::Clock;
use lanyard_core::id::{AccountId, ProfileId};
use lanyard_store::schema::{administrators, invitations, profiles};
use lanyard_store::{DbConnection, StoreError, is_unique_violation, write_transaction};

/// Name of the built-in profile.
pub const ADMINISTRATOR: &str = "Administrator";

/// A profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// Internal id.
    pub id: ProfileId,
    /// Owning account.
    pub account: AccountId,
    /// Name (unique per account).
    pub name: String,
    /// Whether this is the built-in "Administrator".
    pub builtin: bool,
    /// Rights.
    pub rights: Rights,
}

type Row = (String, String, String, bool, String, bool, bool);

fn from_row((id, account, name, builtin, rights, order, transfer): Row) -> Result<Profile> {
    Ok(Profile {
        id: ProfileId::from_stored(id),
        account: AccountId::from_stored(account),
        name,
        builtin,
        rights: Rights::decode(&rights, order, transfer)?,
    })
}

fn select() -> (
    profiles::id,
    profiles::account_id,
    profiles::name,
    profiles::builtin,
    profiles::rights,
    profiles::can_order_credits,
    profiles::can_transfer_credits,
) {
    (
        profiles::id,
        profiles::account_id,
        profiles::name,
        profiles::builtin,
        profiles::rights,
        profiles::can_order_credits,
        profiles::can_transfer_credits,
    )
}

fn insert(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    account: &AccountId,
    name: &str,
    builtin: bool,
    rights: &Rights,
) -> Result<Profile> {
    let id = ProfileId::new_random();
    let now = clock.now().naive_utc();
    let inserted = diesel::insert_into(profiles::table)
        .values((
            profiles::id.eq(id.as_str()),
            profiles::account_id.eq(account.as_str()),
            profiles::name.eq(name),
            profiles::builtin.eq(builtin),
            profiles::rights.eq(rights.encode()),
            profiles::can_order_credits.eq(rights.can_order_credits),
            profiles::can_transfer_credits.eq(rights.can_transfer_credits),
            profiles::created_at.eq(now),
            profiles::updated_at.eq(now),
        ))
        .execute(conn);
    match inserted {
        Ok(_) => Ok(Profile {
            id,
            account: account.clone(),
            name: name.into(),
            builtin,
            rights: rights.clone(),
        }),
        Err(e) if is_unique_violation(&e) => Err(IdentityError::Duplicate(format!(
            "a profile named {name:?} already exists"
        ))),
        Err(e) => Err(IdentityError::Store(StoreError::Query(e))),
    }
}

/// Creates the built-in profile of a new account (in the account's creation transaction).
pub(crate) fn create_builtin(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    account: &AccountId,
) -> Result<Profile> {
    insert(conn, clock, account, ADMINISTRATOR, true, &Rights::all())
}

/// The built-in profile of `account`.
pub fn builtin(conn: &mut DbConnection, account: &AccountId) -> Result<Profile> {
    from_row(
        profiles::table
            .filter(profiles::account_id.eq(account.as_str()))
            .filter(profiles::builtin.eq(true))
            .select(select())
            .first(conn)
            .optional()?
            .ok_or_else(|| {
                IdentityError::Inconsistent(format!("account {account} has no built-in profile"))
            })?,
    )
}

/// The profile `id` of `account`.
pub fn get(conn: &mut DbConnection, account: &AccountId, id: &ProfileId) -> Result<Profile> {
    from_row(
        profiles::table
            .filter(profiles::account_id.eq(account.as_str()))
            .filter(profiles::id.eq(id.as_str()))
            .select(select())
            .first(conn)
            .optional()?
            .ok_or_else(|| IdentityError::not_found("profile", id.as_str()))?,
    )
}

/// The profile `id`, whatever its account.
pub(crate) fn get_any(conn: &mut DbConnection, id: &ProfileId) -> Result<Profile> {
    from_row(
        profiles::table
            .filter(profiles::id.eq(id.as_str()))
            .select(select())
            .first(conn)
            .optional()?
            .ok_or_else(|| IdentityError::not_found("profile", id.as_str()))?,
    )
}

/// The profiles of `account`, built-in first, then by name.
pub fn list(conn: &mut DbConnection, account: &AccountId) -> Result<Vec<Profile>> {
    profiles::table
        .filter(profiles::account_id.eq(account.as_str()))
        .order((profiles::builtin.desc(), profiles::name.asc()))
        .select(select())
        .load::<Row>(conn)?
        .into_iter()
        .map(from_row)
        .collect()
}

fn check_name(name: &str) -> Result<String> {
    crate::text::optional_text("name", Some(name), 100)?
        .ok_or_else(|| IdentityError::invalid("name", "is required"))
}

/// Creates a custom profile. The actor cannot hand out rights it does not hold.
pub fn create(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    account: &AccountId,
    name: &str,
    rights: &Rights,
) -> Result<Profile> {
    let name = check_name(name)?;
    write_transaction(conn, |conn| {
        authorize(conn, actor, Area::Profiles, Verb::Create, account)?;
        if !actor.rights.includes(rights) {
            return Err(IdentityError::Forbidden(
                "a profile cannot have rights you do not have".into(),
            ));
        }
        let profile = insert(conn, clock, account, &name, false, rights)?;
        history::record_by(
            conn,
            clock,
            actor,
            account,
            "Profiles",
            &format!("Profile created: {name}"),
        )?;
        Ok(profile)
    })
}

/// Changes a custom profile's name and rights.
pub fn update(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    account: &AccountId,
    id: &ProfileId,
    name: &str,
    rights: &Rights,
) -> Result<Profile> {
    let name = check_name(name)?;
    write_transaction(conn, |conn| {
        authorize(conn, actor, Area::Profiles, Verb::Edit, account)?;
        let current = get(conn, account, id)?;
        if current.builtin {
            return Err(IdentityError::NotAllowed(
                "the built-in Administrator profile cannot be changed".into(),
            ));
        }
        if !actor.rights.includes(rights) {
            return Err(IdentityError::Forbidden(
                "a profile cannot have rights you do not have".into(),
            ));
        }
        let had_full_admin = crate::admin::has_full_admin(conn, account)?;
        let changed = diesel::update(profiles::table.filter(profiles::id.eq(id.as_str())))
            .set((
                profiles::name.eq(&name),
                profiles::rights.eq(rights.encode()),
                profiles::can_order_credits.eq(rights.can_order_credits),
                profiles::can_transfer_credits.eq(rights.can_transfer_credits),
                profiles::updated_at.eq(clock.now().naive_utc()),
            ))
            .execute(conn);
        match changed {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(IdentityError::Duplicate(format!(
                    "a profile named {name:?} already exists"
                )));
            }
            Err(e) => return Err(IdentityError::Store(StoreError::Query(e))),
        }
        // Narrowing a profile must not leave the account without an administrator holding
        // every right (the same rule as for changing, disabling or deleting administrators).
        if had_full_admin && !crate::admin::has_full_admin(conn, account)? {
            return Err(IdentityError::NotAllowed(
                "this change would leave no administrator holding every right".into(),
            ));
        }
        history::record_by(
            conn,
            clock,
            actor,
            account,
            "Profiles",
            &format!("Profile updated: {name}"),
        )?;
        get(conn, account, id)
    })
}

/// Deletes a custom profile that no administrator or open invitation uses.
pub fn delete(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    account: &AccountId,
    id: &ProfileId,
) -> Result<()> {
    write_transaction(conn, |conn| {
        authorize(conn, actor, Area::Profiles, Verb::Delete, account)?;
        let current = get(conn, account, id)?;
        if current.builtin {
            return Err(IdentityError::NotAllowed(
                "the built-in Administrator profile cannot be deleted".into(),
            ));
        }
        let used: i64 = administrators::table
            .filter(administrators::profile_id.eq(id.as_str()))
            .count()
            .get_result(conn)?;
        let open: i64 = invitations::table
            .filter(invitations::profile_id.eq(id.as_str()))
            .filter(invitations::used_at.is_null())
            .filter(invitations::expires_at.gt(clock.now().naive_utc()))
            .count()
            .get_result(conn)?;
        if used + open > 0 {
            return Err(IdentityError::NotAllowed(format!(
                "the profile {:?} is used by {used} administrator(s) and {open} invitation(s)",
                current.name
            )));
        }
        diesel::delete(profiles::table.filter(profiles::id.eq(id.as_str()))).execute(conn)?;
        history::record_by(
            conn,
            clock,
            actor,
            account,
            "Profiles",
            &format!("Profile deleted: {}", current.name),
        )?;
        Ok(())
    })
}
