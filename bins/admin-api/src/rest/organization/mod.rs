//! The caller's organization (PassBy[ME] management API §8).

pub(crate) mod get;
pub(crate) mod pricing;
pub(crate) mod update;
