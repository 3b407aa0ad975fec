use lanyard_core::{Coded, ErrorCode};
use lanyard_identity::IdentityError;

/// Errors of the enrollment domain.
#[derive(Debug, thiserror::Error)]
pub enum EnrollmentError {
    /// The enrollment does not exist for this person (the id is the message, as PassBy[ME]).
    #[error("{0}")]
    NotFound(String),
    /// An identity-domain failure (unknown person, rights, database).
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// The QR code could not be made (the URL is too long for a QR code).
    #[error("qr code: {0}")]
    Qr(String),
}

impl From<diesel::result::Error> for EnrollmentError {
    fn from(err: diesel::result::Error) -> Self {
        Self::Identity(IdentityError::from(err))
    }
}

impl From<lanyard_pki::PkiError> for EnrollmentError {
    fn from(err: lanyard_pki::PkiError) -> Self {
        Self::Identity(IdentityError::from(err))
    }
}

impl Coded for EnrollmentError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::Identity(e) => e.code(),
            Self::Qr(_) => ErrorCode::Internal,
        }
    }

    fn public_message(&self) -> String {
        match self {
            Self::Identity(e) => e.public_message(),
            other if other.code() == ErrorCode::Internal => "internal error".into(),
            other => other.to_string(),
        }
    }
}

/// Result of enrollment operations.
pub type Result<T> = std::result::Result<T, EnrollmentError>;
