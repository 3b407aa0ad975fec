//! Applications of an organization (API §6, ApplicationData `id`, `name`, `organizationId`):
//! the senders of messages; application access keys belong to one.

use crate::rights::{Actor, Area, Verb, authorize};
use crate::{IdentityError, Result, history};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use lanyard_core::Clock;
use lanyard_core::id::AccountId;
use lanyard_store::schema::{access_keys, applications};
use lanyard_store::{DbConnection, write_transaction};

/// An application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    /// Id (`applicationId`).
    pub id: String,
    /// Its organization.
    pub account: AccountId,
    /// Name.
    pub name: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

fn valid_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(IdentityError::invalid(
            "name",
            "is required, at most 100 characters",
        ));
    }
    Ok(name.to_owned())
}

type Row = (String, String, String, NaiveDateTime);

fn of(row: Row) -> Application {
    let (id, account, name, created_at) = row;
    Application {
        id,
        account: AccountId::from_stored(account),
        name,
        created_at: created_at.and_utc(),
    }
}

fn find(conn: &mut DbConnection, account: &AccountId, id: &str) -> Result<Application> {
    applications::table
        .filter(applications::id.eq(id))
        .filter(applications::account_id.eq(account.as_str()))
        .select((
            applications::id,
            applications::account_id,
            applications::name,
            applications::created_at,
        ))
        .first::<Row>(conn)
        .optional()?
        .map(of)
        .ok_or_else(|| IdentityError::not_found("application", id))
}

/// Creates an application in `account`.
pub fn create(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    account: &AccountId,
    name: &str,
) -> Result<Application> {
    let name = valid_name(name)?;
    write_transaction(conn, |conn| {
        authorize(conn, actor, Area::AccessKeys, Verb::Create, account)?;
        let now = clock.now();
        let app = Application {
            id: uuid::Uuid::new_v4().to_string(),
            account: account.clone(),
            name,
            created_at: now,
        };
        diesel::insert_into(applications::table)
            .values((
                applications::id.eq(&app.id),
                applications::account_id.eq(account.as_str()),
                applications::name.eq(&app.name),
                applications::created_at.eq(now.naive_utc()),
                applications::updated_at.eq(now.naive_utc()),
            ))
            .execute(conn)?;
        history::record_by(
            conn,
            clock,
            actor,
            account,
            "Applications",
            &format!("Application {} created", app.name),
        )?;
        Ok(app)
    })
}

/// The applications of `account`, by name.
pub fn list(
    conn: &mut DbConnection,
    actor: &Actor,
    account: &AccountId,
) -> Result<Vec<Application>> {
    authorize(conn, actor, Area::AccessKeys, Verb::View, account)?;
    Ok(applications::table
        .filter(applications::account_id.eq(account.as_str()))
        .order((applications::name, applications::id))
        .select((
            applications::id,
            applications::account_id,
            applications::name,
            applications::created_at,
        ))
        .load::<Row>(conn)?
        .into_iter()
        .map(of)
        .collect())
}

/// Application `id` of `account` (`NOT_FOUND` when it is another account's).
pub fn get(
    conn: &mut DbConnection,
    actor: &Actor,
    account: &AccountId,
    id: &str,
) -> Result<Application> {
    authorize(conn, actor, Area::AccessKeys, Verb::View, account)?;
    find(conn, account, id)
}

/// Renames application `id`.
pub fn modify(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    account: &AccountId,
    id: &str,
    name: &str,
) -> Result<Application> {
    let name = valid_name(name)?;
    write_transaction(conn, |conn| {
        authorize(conn, actor, Area::AccessKeys, Verb::Edit, account)?;
        let mut app = find(conn, account, id)?;
        diesel::update(applications::table.find(id))
            .set((
                applications::name.eq(&name),
                applications::updated_at.eq(clock.now().naive_utc()),
            ))
            .execute(conn)?;
        history::record_by(
            conn,
            clock,
            actor,
            account,
            "Applications",
            &format!("Application {} renamed to {name}", app.name),
        )?;
        app.name = name;
        Ok(app)
    })
}

/// Deletes application `id`; refused while an access key of it exists (delete the keys first,
/// which revokes their certificates).
pub fn delete(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    account: &AccountId,
    id: &str,
) -> Result<()> {
    write_transaction(conn, |conn| {
        authorize(conn, actor, Area::AccessKeys, Verb::Delete, account)?;
        let app = find(conn, account, id)?;
        let keys: i64 = access_keys::table
            .filter(access_keys::application_id.eq(id))
            .filter(access_keys::deleted_at.is_null())
            .count()
            .get_result(conn)?;
        if keys > 0 {
            return Err(IdentityError::NotAllowed(format!(
                "application {} still has {keys} access key(s); delete them first",
                app.name
            )));
        }
        // Deleted keys keep their (revoked) certificates for the CRL; they just forget the
        // application.
        diesel::update(access_keys::table.filter(access_keys::application_id.eq(id)))
            .set(access_keys::application_id.eq(None::<String>))
            .execute(conn)?;
        diesel::delete(applications::table.find(id)).execute(conn)?;
        history::record_by(
            conn,
            clock,
            actor,
            account,
            "Applications",
            &format!("Application {} deleted", app.name),
        )
    })
}
