//! Applications (PassBy[ME] management API §6, ApplicationData §10.4).

pub(crate) mod callback_secret;
pub(crate) mod create;
pub(crate) mod delete;
pub(crate) mod get;
pub(crate) mod list;
pub(crate) mod update;

use lanyard_identity::application::Application;
use lanyard_identity::{IdentityError, account};
use lanyard_store::DbConnection;
use serde::{Deserialize, Serialize};

/// ApplicationData.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ApplicationData {
    id: String,
    name: String,
    organization_id: String,
}

/// The body of create and modify.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NameRequest {
    pub(crate) name: String,
}

impl ApplicationData {
    pub(crate) fn of(app: &Application, organization_oid: &str) -> Self {
        Self {
            id: app.id.clone(),
            name: app.name.clone(),
            organization_id: organization_oid.to_owned(),
        }
    }
}

/// The OID of `caller`'s account, for ApplicationData and messages.
pub(crate) fn organization_oid(
    conn: &mut DbConnection,
    account: &lanyard_core::id::AccountId,
) -> Result<String, IdentityError> {
    Ok(account::get(conn, account)?.oid.to_string())
}

/// PassBy[ME]'s wording of an unknown application.
pub(crate) fn not_found(
    conn: &mut DbConnection,
    account: &lanyard_core::id::AccountId,
    id: &str,
    err: IdentityError,
) -> IdentityError {
    match err {
        IdentityError::NotFound { what, .. } => IdentityError::NotFound {
            what,
            key: format!(
                "Application with id {id} not exists organization {} !",
                organization_oid(conn, account).unwrap_or_default()
            ),
        },
        other => other,
    }
}
