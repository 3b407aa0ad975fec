//! E-mail for Lanyard: a transactional outbox and the sender that drains it.
//!
//! - [`enqueue`] writes an e-mail into the outbox **in the caller's transaction**: the mail exists
//!   exactly when the change that caused it was committed.
//! - [`Sender::deliver_due`] claims due e-mails one at a time with a lease (a conditional update
//!   checked by its affected-row count), hands each to a [`Transport`], and marks it sent, or
//!   schedules a retry with exponential backoff. Several senders (service instances) may run at
//!   once; a sender that dies mid-delivery loses its lease and another retries the mail.
//! - Transports: [`FileTransport`] (`.eml` files; the default) and [`SmtpTransport`] (lettre;
//!   plain, STARTTLS or TLS, with credentials).
//!
//! Delivery is at least once: if a process dies after the SMTP server accepted a message and
//! before the outbox row was marked sent, the message is sent again with the same Message-ID.

mod outbox;
pub mod templates;
mod transport;

pub use outbox::{
    Attachment, DeliveryReport, Mail, NewMail, OutboxStatus, RetryPolicy, Sender, enqueue, get,
    recent_to,
};
pub use transport::{
    FileTransport, SmtpSecurity, SmtpSettings, SmtpTransport, Transport, TransportError,
};

/// Errors of the mail domain.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// An address or header is not acceptable.
    #[error("{field}: {rule}")]
    Invalid {
        /// The offending field.
        field: &'static str,
        /// The rule.
        rule: String,
    },
    /// A template does not render.
    #[error("template {name}: {detail}")]
    Template {
        /// Template name.
        name: String,
        /// What is wrong.
        detail: String,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] lanyard_store::StoreError),
}

impl From<diesel::result::Error> for MailError {
    fn from(err: diesel::result::Error) -> Self {
        Self::Store(lanyard_store::StoreError::Query(err))
    }
}

impl lanyard_core::Coded for MailError {
    fn code(&self) -> lanyard_core::ErrorCode {
        match self {
            Self::Invalid { .. } | Self::Template { .. } => lanyard_core::ErrorCode::MalformedInput,
            Self::Store(_) => lanyard_core::ErrorCode::Internal,
        }
    }
}
