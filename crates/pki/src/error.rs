/// What went wrong in a PKI operation.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// Input that breaks a rule: `field` names the input, `rule` says what is expected.
    #[error("{field} {rule}")]
    Invalid {
        /// The input at fault (e.g. `csr`).
        field: &'static str,
        /// The rule it breaks, readable by the person who sent it.
        rule: String,
    },
    /// A sealed secret did not open: wrong master key, or the stored value was altered.
    #[error("a sealed secret does not open with this master key")]
    Unseal,
    /// OpenSSL failed where it should not (a bug or an exhausted system).
    #[error("openssl: {0}")]
    Crypto(#[from] openssl::error::ErrorStack),
}

impl PkiError {
    pub(crate) fn invalid(field: &'static str, rule: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            rule: rule.into(),
        }
    }
}

/// Result of PKI operations.
pub type Result<T> = std::result::Result<T, PkiError>;
