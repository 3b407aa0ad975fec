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
    /// The phone's app is older than the organization's minimum version.
    #[error(
        "app version {found} is older than the minimum {minimum} of this organization; update the app"
    )]
    AppVersion {
        /// The organization's minimum.
        minimum: String,
        /// The version the phone reported.
        found: String,
    },
    /// The enrollment sheet could not be drawn.
    #[error("enrollment sheet: {0}")]
    Sheet(String),
    /// A report could not be written.
    #[error("report: {0}")]
    Report(String),
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

impl EnrollmentError {
    /// As an identity error, for pages that show those (the console): not-found stays
    /// not-found, an old app version is "not allowed", anything else is internal.
    pub fn into_identity(self) -> IdentityError {
        match self {
            Self::Identity(i) => i,
            Self::NotFound(id) => IdentityError::NotFound {
                what: "enrollment",
                key: id,
            },
            e @ Self::AppVersion { .. } => IdentityError::NotAllowed(e.to_string()),
            e @ (Self::Qr(_) | Self::Sheet(_) | Self::Report(_)) => {
                IdentityError::Inconsistent(e.to_string())
            }
        }
    }
}

impl Coded for EnrollmentError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::Identity(e) => e.code(),
            Self::AppVersion { .. } => ErrorCode::UnsupportedAppVersion,
            Self::Qr(_) | Self::Sheet(_) | Self::Report(_) => ErrorCode::Internal,
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
