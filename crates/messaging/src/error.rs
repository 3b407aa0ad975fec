use lanyard_core::{Coded, ErrorCode};
use lanyard_identity::IdentityError;

/// Errors of the messaging domain.
#[derive(Debug, thiserror::Error)]
pub enum MessagingError {
    /// No such message for this application, or a recipient that is no end user of the
    /// organization (the id or alias is the message, as PassBy[ME]).
    #[error("{0}")]
    NotFound(String),
    /// A field breaks a rule.
    #[error("{field}: {rule}")]
    Invalid {
        /// The field as named on the wire.
        field: &'static str,
        /// The rule.
        rule: String,
    },
    /// The message cannot change any more (every recipient has a final status).
    #[error("{0}")]
    AlreadyCompleted(String),
    /// Every recipient is disabled.
    #[error("{0}")]
    UserDisabled(String),
    /// No recipient has an active device.
    #[error("{0}")]
    NoDevice(String),
    /// The message expired before the report arrived.
    #[error("{0}")]
    Timeout(String),
    /// An identity or storage failure.
    #[error(transparent)]
    Identity(#[from] IdentityError),
}

impl From<diesel::result::Error> for MessagingError {
    fn from(err: diesel::result::Error) -> Self {
        Self::Identity(IdentityError::from(err))
    }
}

impl From<lanyard_pki::PkiError> for MessagingError {
    fn from(err: lanyard_pki::PkiError) -> Self {
        Self::Identity(IdentityError::from(err))
    }
}

impl Coded for MessagingError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::Invalid { .. } => ErrorCode::MalformedInput,
            Self::AlreadyCompleted(_) => ErrorCode::AlreadyCompleted,
            Self::UserDisabled(_) => ErrorCode::UserDisabled,
            Self::NoDevice(_) => ErrorCode::NoDevice,
            Self::Timeout(_) => ErrorCode::Timeout,
            Self::Identity(e) => e.code(),
        }
    }

    fn public_message(&self) -> String {
        match self {
            Self::Identity(e) => e.public_message(),
            other => other.to_string(),
        }
    }
}

/// Result of messaging operations.
pub type Result<T> = std::result::Result<T, MessagingError>;
