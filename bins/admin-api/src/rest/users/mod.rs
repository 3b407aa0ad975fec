//! End users (PassBy[ME] management API §4.1–4.6).

pub(crate) mod count;
pub(crate) mod create;
pub(crate) mod delete;
pub(crate) mod get;
pub(crate) mod list;
pub(crate) mod update;

use lanyard_identity::EndUser;
use serde::Serialize;

/// UserData (API §10.10). Absent text fields are `""`, as in the PassBy[ME] examples.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserData {
    oid: String,
    #[serde(rename = "shortOID")]
    short_oid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<String>,
    full_name: String,
    email: String,
    phone_number: String,
    disabled: bool,
}

impl From<&EndUser> for UserData {
    fn from(user: &EndUser) -> Self {
        Self {
            oid: user.oid.to_string(),
            short_oid: user.oid.short().to_owned(),
            user_id: user.primary_alias().map(str::to_owned),
            full_name: user.full_name.clone().unwrap_or_default(),
            email: user.email.clone().unwrap_or_default(),
            phone_number: user.phone_number.clone().unwrap_or_default(),
            disabled: user.disabled,
        }
    }
}
