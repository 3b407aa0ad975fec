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
    /// The caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The name or address is already used.
    #[error("{0}")]
    Duplicate(String),
    /// The state of the thing does not allow this action.
    #[error("{0}")]
    NotAllowed(String),
    /// Too many attempts; wait before trying again.
    #[error("too many attempts; try again in {retry_after_seconds} s")]
    RateLimited {
        /// Seconds until the next attempt is allowed.
        retry_after_seconds: i64,
    },
    /// A limit of the account's plan is reached.
    #[error("{message}")]
    PricingLimit {
        /// The PassBy[ME] code (`PRICING_LIMIT_…`).
        code: ErrorCode,
        /// Explanation.
        message: String,
    },
    /// The installation has not been bootstrapped.
    #[error("the installation is not bootstrapped; run `lanyard bootstrap`")]
    NotBootstrapped,
    /// Stored data breaks an invariant the code relies on.
    #[error("inconsistent data: {0}")]
    Inconsistent(String),
    /// A cryptographic operation failed, or a sealed secret did not open (wrong master key).
    #[error("pki: {0}")]
    Crypto(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<lanyard_pki::PkiError> for IdentityError {
    fn from(err: lanyard_pki::PkiError) -> Self {
        match err {
            lanyard_pki::PkiError::Invalid { field, rule } => Self::Invalid { field, rule },
            other => Self::Crypto(other.to_string()),
        }
    }
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
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::Duplicate(_) => ErrorCode::AlreadyExists,
            Self::NotAllowed(_) => ErrorCode::NotAllowed,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
            Self::PricingLimit { code, .. } => *code,
            Self::NotBootstrapped | Self::Inconsistent(_) | Self::Crypto(_) | Self::Store(_) => {
                ErrorCode::Internal
            }
        }
    }
}
