use lanyard_core::{Coded, ErrorCode};
use lanyard_store::StoreError;

/// Errors of the identity domain.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The addressed thing does not exist in the caller's account.
    #[error("{key}")]
    NotFound {
        /// What was looked for (for logs).
        what: &'static str,
        /// The key the caller gave; echoed as the message, as PassBy[ME] does.
        key: String,
    },
    /// An input field broke a rule.
    #[error("{field}: {rule}")]
    Invalid {
        /// The field as named on the wire.
        field: &'static str,
        /// The rule it broke.
        rule: String,
    },
    /// The alias is already used by an end user of this organization.
    #[error("alias {0:?} already exists in this organization")]
    AliasTaken(String),
    /// Deleting this alias would leave its end user without one.
    #[error("the last alias of an end user cannot be deleted")]
    LastAlias,
    /// The installation has not been bootstrapped.
    #[error("the installation is not bootstrapped; run `lanyard bootstrap`")]
    NotBootstrapped,
    /// Stored data breaks an invariant the code relies on.
    #[error("inconsistent data: {0}")]
    Inconsistent(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for IdentityError {
    fn from(err: diesel::result::Error) -> Self {
        Self::Store(StoreError::Query(err))
    }
}

impl IdentityError {
    pub(crate) fn not_found(what: &'static str, key: impl Into<String>) -> Self {
        Self::NotFound {
            what,
            key: key.into(),
        }
    }

    pub(crate) fn invalid(field: &'static str, rule: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            rule: rule.into(),
        }
    }
}

impl Coded for IdentityError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::NotFound { .. } => ErrorCode::NotFound,
            Self::Invalid { .. } => ErrorCode::MalformedInput,
            Self::AliasTaken(_) => ErrorCode::AlreadyExists,
            Self::LastAlias => ErrorCode::LastAlias,
            Self::NotBootstrapped | Self::Inconsistent(_) | Self::Store(_) => ErrorCode::Internal,
        }
    }
}
