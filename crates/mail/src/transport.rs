//! Where mail goes: files (development default) or an SMTP server.

use crate::outbox::Mail;
use lanyard_core::SecretString;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart, header};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Message, Transport as _};
use std::path::PathBuf;
use std::time::Duration;

/// A delivery failure; the outbox retries it.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The message could not be built (bad address, header).
    #[error("cannot build message: {0}")]
    Build(String),
    /// The transport refused or could not be reached.
    #[error("delivery failed: {0}")]
    Delivery(String),
}

/// Delivers one e-mail.
pub trait Transport: Send + Sync {
    /// Sends `mail` from `from`; `Ok` once the transport has accepted it.
    fn send(&self, from: &Mailbox, mail: &Mail) -> Result<(), TransportError>;
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn send(&self, from: &Mailbox, mail: &Mail) -> Result<(), TransportError> {
        (**self).send(from, mail)
    }
}

/// Builds the MIME message: plain text, or plain text and HTML as alternatives, with the
/// outbox's Message-ID.
pub(crate) fn build(from: &Mailbox, mail: &Mail) -> Result<Message, TransportError> {
    let to: Mailbox = mail
        .to
        .parse()
        .map_err(|e| TransportError::Build(format!("to: {e}")))?;
    let builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(&mail.subject)
        .message_id(Some(format!("<{}>", mail.message_id)));
    let text = || {
        SinglePart::builder()
            .header(header::ContentType::TEXT_PLAIN)
            .body(mail.text.clone())
    };
    let alternatives = mail.html.as_ref().map(|html| {
        MultiPart::alternative().singlepart(text()).singlepart(
            SinglePart::builder()
                .header(header::ContentType::TEXT_HTML)
                .body(html.clone()),
        )
    });
    let message = if mail.attachments.is_empty() {
        match alternatives {
            Some(parts) => builder.multipart(parts),
            None => builder.singlepart(text()),
        }
    } else {
        // multipart/mixed: the text (or its alternatives) first, then each file.
        let mut mixed = match alternatives {
            Some(parts) => MultiPart::mixed().multipart(parts),
            None => MultiPart::mixed().singlepart(text()),
        };
        for file in &mail.attachments {
            let kind = header::ContentType::parse(&file.content_type)
                .map_err(|e| TransportError::Build(format!("attachment type: {e}")))?;
            mixed = mixed
                .singlepart(Attachment::new(file.filename.clone()).body(file.data.clone(), kind));
        }
        builder.multipart(mixed)
    };
    message.map_err(|e| TransportError::Build(e.to_string()))
}

/// Writes each e-mail as an `.eml` file into a directory (the default transport: mail to files).
#[derive(Debug, Clone)]
pub struct FileTransport {
    dir: PathBuf,
}

impl FileTransport {
    /// A transport writing into `dir` (created when missing).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }
}

impl Transport for FileTransport {
    fn send(&self, from: &Mailbox, mail: &Mail) -> Result<(), TransportError> {
        let message = build(from, mail)?;
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| TransportError::Delivery(format!("{}: {e}", self.dir.display())))?;
        // Named after the outbox id, so a repeated delivery overwrites instead of duplicating.
        let path = self.dir.join(format!("{}.eml", mail.id));
        let partial = self.dir.join(format!(".{}.eml.part", mail.id));
        std::fs::write(&partial, message.formatted())
            .and_then(|()| std::fs::rename(&partial, &path))
            .map_err(|e| TransportError::Delivery(format!("{}: {e}", path.display())))
    }
}

/// How to secure the SMTP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// No TLS (only for a relay on the same host or network).
    None,
    /// Plain connection upgraded with STARTTLS (required).
    StartTls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
}

/// SMTP connection settings.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    /// Server host name.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// Connection security.
    pub security: SmtpSecurity,
    /// User name and password, when the server requires them.
    pub credentials: Option<(String, SecretString)>,
    /// Connect and command timeout.
    pub timeout: Duration,
}

/// Sends through an SMTP server with lettre.
#[derive(Clone)]
pub struct SmtpTransport {
    inner: lettre::SmtpTransport,
}

impl std::fmt::Debug for SmtpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SmtpTransport")
    }
}

impl SmtpTransport {
    /// A transport for `settings`; connects per delivery round, lazily.
    pub fn new(settings: &SmtpSettings) -> Result<Self, TransportError> {
        let tls = || {
            TlsParameters::new(settings.host.clone())
                .map_err(|e| TransportError::Build(format!("TLS: {e}")))
        };
        let mut builder = lettre::SmtpTransport::builder_dangerous(&settings.host)
            .port(settings.port)
            .timeout(Some(settings.timeout));
        builder = match settings.security {
            SmtpSecurity::None => builder.tls(Tls::None),
            SmtpSecurity::StartTls => builder.tls(Tls::Required(tls()?)),
            SmtpSecurity::Tls => builder.tls(Tls::Wrapper(tls()?)),
        };
        if let Some((user, password)) = &settings.credentials {
            builder =
                builder.credentials(Credentials::new(user.clone(), password.expose().to_owned()));
        }
        Ok(Self {
            inner: builder.build(),
        })
    }

    /// Checks that the server answers (a start-up check; failure is not fatal, mail waits).
    pub fn test_connection(&self) -> Result<bool, TransportError> {
        self.inner
            .test_connection()
            .map_err(|e| TransportError::Delivery(e.to_string()))
    }
}

impl Transport for SmtpTransport {
    fn send(&self, from: &Mailbox, mail: &Mail) -> Result<(), TransportError> {
        let message = build(from, mail)?;
        self.inner
            .send(&message)
            .map(drop)
            .map_err(|e| TransportError::Delivery(e.to_string()))
    }
}
