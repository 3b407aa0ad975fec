//! Installation-wide settings stored at bootstrap.

use crate::Result;
use diesel::prelude::*;
use lanyard_store::DbConnection;
use lanyard_store::schema::settings;

/// Name of the setting holding the OID root arc.
pub const OID_ROOT: &str = "oid_root";

/// Reads a setting.
pub fn get(conn: &mut DbConnection, name: &str) -> Result<Option<String>> {
    Ok(settings::table
        .filter(settings::name.eq(name))
        .select(settings::value)
        .first(conn)
        .optional()?)
}

/// Inserts a setting; fails with a unique violation when it exists.
pub(crate) fn insert(conn: &mut DbConnection, name: &str, value: &str) -> Result<()> {
    diesel::insert_into(settings::table)
        .values((settings::name.eq(name), settings::value.eq(value)))
        .execute(conn)?;
    Ok(())
}

/// Replaces the value of an existing setting.
pub(crate) fn set(conn: &mut DbConnection, name: &str, value: &str) -> Result<()> {
    diesel::update(settings::table.filter(settings::name.eq(name)))
        .set(settings::value.eq(value))
        .execute(conn)?;
    Ok(())
}
