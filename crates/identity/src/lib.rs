//! Identity: the tenancy tree, end users and their aliases, API tokens, and the installation's
//! bootstrap (OID root and platform account).
//!
//! Functions take a [`DbConnection`](lanyard_store::DbConnection) and plain, already parsed
//! inputs, and return typed results or an [`IdentityError`]. Every function that reads or
//! changes an end user takes the caller's organization and never reaches outside it: an OID of
//! another organization is simply [`IdentityError::NotFound`].

pub mod access_key;
pub mod account;
pub mod admin;
pub mod alias;
pub mod api_token;
pub mod application;
pub mod bootstrap;
pub mod branding;
pub mod customer;
pub mod end_user;
mod error;
pub mod history;
pub mod maintenance;
pub mod oid;
pub mod organization;
pub mod password;
pub mod platform_pki;
pub mod profile;
pub mod report;
pub mod rights;
pub mod session;
pub mod settings;
mod text;
pub mod throttle;
pub mod token_request;

pub use account::{Account, AccountKind, AccountStatus};
pub use alias::Alias;
pub use end_user::{EndUser, EndUserChanges, NewEndUser};
pub use error::IdentityError;

/// Result of identity operations.
pub type Result<T, E = IdentityError> = std::result::Result<T, E>;
