//! Aliases, called loginNames by the PassBy[ME] management API (§4.12–4.15).

pub(crate) mod create;
pub(crate) mod delete;
pub(crate) mod find;
pub(crate) mod list;

use lanyard_identity::alias::LoginName;
use serde::Serialize;

/// LoginNameData (API §10.11).
#[derive(Debug, Serialize)]
pub(crate) struct LoginNameData {
    #[serde(rename = "userId")]
    user_id: String,
    oid: String,
    #[serde(rename = "shortOID")]
    short_oid: String,
}

impl From<&LoginName> for LoginNameData {
    fn from(name: &LoginName) -> Self {
        Self {
            user_id: name.alias.clone(),
            oid: name.oid.to_string(),
            short_oid: name.oid.short().to_owned(),
        }
    }
}
