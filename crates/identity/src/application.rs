//! Applications of an organization (API §6, ApplicationData `id`, `name`, `organizationId`):
//! the senders of messages; application access keys belong to one.

use crate::rights::{Actor, Area, Verb, authorize};
use crate::{IdentityError, Result, history};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use lanyard_core::Clock;
use lanyard_core::id::AccountId;
use lanyard_store::schema::{access_keys, applications, maintenance_texts, maintenances};
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
        // Its maintenance periods go with it.
        let periods = maintenances::table
            .filter(maintenances::application_id.eq(id))
            .select(maintenances::id);
        diesel::delete(
            maintenance_texts::table.filter(maintenance_texts::maintenance_id.eq_any(periods)),
        )
        .execute(conn)?;
        diesel::delete(maintenances::table.filter(maintenances::application_id.eq(id)))
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

/// Largest accepted application icon.
pub const MAX_ICON_BYTES: usize = 64 * 1024;

/// The icon of an application that has none of its own.
pub const DEFAULT_ICON: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64" width="64" height="64"><rect width="64" height="64" rx="12" fill="#1f5fbf"/><path d="M20 18h8v22h16v6H20z" fill="#fff"/></svg>"##;

/// Checks an uploaded icon: an SVG document (UTF-8, `<svg` root) of at most
/// [`MAX_ICON_BYTES`]. Its content is not trusted: it is only ever served as an image under a
/// policy that forbids scripts (see the console), never inlined into a page.
pub fn check_icon(data: &[u8]) -> Result<()> {
    const FIELD: &str = "icon";
    if data.is_empty() {
        return Err(IdentityError::invalid(FIELD, "choose an SVG file"));
    }
    if data.len() > MAX_ICON_BYTES {
        return Err(IdentityError::invalid(
            FIELD,
            format!("must be at most {} KiB", MAX_ICON_BYTES / 1024),
        ));
    }
    let text = std::str::from_utf8(data)
        .map_err(|_| IdentityError::invalid(FIELD, "must be an SVG file (UTF-8 text)"))?;
    let lower = text.trim().to_ascii_lowercase();
    if !lower.contains("<svg") || !lower.ends_with("</svg>") {
        return Err(IdentityError::invalid(
            FIELD,
            "must be an SVG image (<svg> … </svg>)",
        ));
    }
    Ok(())
}

/// Sets the icon of application `id` (`None`: back to the default).
pub fn set_icon(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    account: &AccountId,
    id: &str,
    svg: Option<&[u8]>,
) -> Result<()> {
    if let Some(data) = svg {
        check_icon(data)?;
    }
    write_transaction(conn, |conn| {
        authorize(conn, actor, Area::AccessKeys, Verb::Edit, account)?;
        let app = find(conn, account, id)?;
        diesel::update(applications::table.find(id))
            .set((
                applications::icon_svg.eq(svg),
                applications::updated_at.eq(clock.now().naive_utc()),
            ))
            .execute(conn)?;
        let what = if svg.is_some() {
            "uploaded"
        } else {
            "restored to the default"
        };
        history::record_by(
            conn,
            clock,
            actor,
            account,
            "Applications",
            &format!("Icon of application {} {what}", app.name),
        )
    })
}

/// The icon of application `id`: its own, or the default.
pub fn icon(
    conn: &mut DbConnection,
    actor: &Actor,
    account: &AccountId,
    id: &str,
) -> Result<Vec<u8>> {
    authorize(conn, actor, Area::AccessKeys, Verb::View, account)?;
    find(conn, account, id)?;
    let own: Option<Vec<u8>> = applications::table
        .find(id)
        .select(applications::icon_svg)
        .first(conn)?;
    Ok(own.unwrap_or_else(|| DEFAULT_ICON.as_bytes().to_vec()))
}
