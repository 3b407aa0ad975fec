//! Administrators (PassBy[ME] management API §5.1–5.2).

pub(crate) mod add_as_user;
pub(crate) mod list;
