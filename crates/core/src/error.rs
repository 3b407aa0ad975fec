//! Stable error codes shared by every domain.
//!
//! Each domain crate has its own `thiserror` enum; every variant maps to one [`ErrorCode`]
//! through [`Coded`]. The `web` crate renders a code once, in one place: HTTP 420
//! `{"code","message"}` on the PassBy[ME]-compatible surfaces, 500 for [`ErrorCode::Internal`].
//! The strings are part of the wire format: never rename one.

use std::fmt;

/// A stable, machine-readable error code (the PassBy[ME] code where one exists).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The addressed thing does not exist, or the caller may not see it.
    NotFound,
    /// A unique value (alias, name, ...) is already taken.
    AlreadyExists,
    /// The request is malformed: bad JSON, a missing or invalid field.
    MalformedInput,
    /// The caller is authenticated but may not do this.
    Forbidden,
    /// The caller did not present valid credentials.
    Unauthorized,
    /// `X-PBM-API-VERSION` is missing or names a version this service does not speak.
    UnsupportedApiVersion,
    /// The end user is disabled.
    UserDisabled,
    /// The last alias of an end user cannot be deleted.
    LastAlias,
    /// Not enough credits.
    InsufficientBalance,
    /// The plan's limit of end users is reached.
    PricingLimitUsers,
    /// Too many attempts; try again later.
    RateLimited,
    /// The thing's current state does not allow the action.
    NotAllowed,
    /// The plan's limit of administrators is reached.
    PricingLimitAdmin,
    /// The plan's limit of invitations is reached.
    PricingLimitInvitation,
    /// The plan's limit of devices per person is reached.
    PricingLimitDevice,
    /// The phone's app is older than its organization accepts: it must be updated.
    UnsupportedAppVersion,
    /// The message is complete: no recipient can change any more.
    AlreadyCompleted,
    /// No recipient has an active device.
    NoDevice,
    /// The client certificate was revoked.
    CertificateRevoked,
    /// The message expired.
    Timeout,
    /// Anything unexpected: rendered as HTTP 500 without details.
    Internal,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::NotFound => "NOT_FOUND",
            Self::AlreadyExists => "ALREADY_EXISTS",
            Self::MalformedInput => "MALFORMED_INPUT",
            Self::Forbidden => "FORBIDDEN",
            Self::Unauthorized => "UNAUTHORIZED",
            Self::UnsupportedApiVersion => "UNSUPPORTED_API_VERSION",
            Self::UserDisabled => "USER_DISABLED",
            Self::LastAlias => "LAST_ALIAS",
            Self::InsufficientBalance => "INSUFFICIENT_BALANCE",
            Self::PricingLimitUsers => "PRICING_LIMIT_USERS",
            Self::RateLimited => "RATE_LIMITED",
            Self::NotAllowed => "NOT_ALLOWED",
            Self::PricingLimitAdmin => "PRICING_LIMIT_ADMIN",
            Self::PricingLimitInvitation => "PRICING_LIMIT_INVITATION",
            Self::PricingLimitDevice => "PRICING_LIMIT_DEVICE",
            Self::UnsupportedAppVersion => "UNSUPPORTED_APP_VERSION",
            Self::AlreadyCompleted => "ALREADY_COMPLETED",
            Self::NoDevice => "NO_DEVICE",
            Self::CertificateRevoked => "CERTIFICATE_REVOKED",
            Self::Timeout => "TIMEOUT",
            Self::Internal => "INTERNAL_ERROR",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error that knows its stable code and what may be told to the caller.
pub trait Coded: std::error::Error {
    /// The stable code of this error.
    fn code(&self) -> ErrorCode;

    /// The message shown to the caller. Defaults to the error's `Display`; internal errors must
    /// override nothing — the web layer never shows their message.
    fn public_message(&self) -> String {
        self.to_string()
    }
}
