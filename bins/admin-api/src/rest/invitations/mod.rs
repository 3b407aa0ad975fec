//! Invitations of administrators (PassBy[ME] management API §5.3–5.5).

pub(crate) mod create;
pub(crate) mod delete;
pub(crate) mod list;

use serde::Serialize;

/// InvitationData (API §10.7). In lists `code` is the code's public part: the full code is
/// shown once, when created, because only its hash is stored.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct InvitationData {
    pub(crate) expiry_date: String,
    pub(crate) code: String,
}

pub(crate) use crate::rest::iso;
