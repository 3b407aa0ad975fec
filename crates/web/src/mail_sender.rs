//! The background task that drains the e-mail outbox. Safe on any number of instances: mails are
//! claimed with leases.

use crate::config::{MailTransportKind, Settings, SmtpSecurityKind};
use crate::state::AppState;
use actix_web::web;
use lanyard_mail::{
    FileTransport, RetryPolicy, Sender, SmtpSecurity, SmtpSettings, SmtpTransport, Transport,
};
use std::sync::Arc;
use std::time::Duration;

/// How often the outbox is looked at.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);
/// Mails per round.
const BATCH: usize = 100;

/// The configured transport.
pub fn transport(settings: &Settings) -> Result<Box<dyn Transport>, lanyard_mail::TransportError> {
    Ok(match settings.mail.transport {
        MailTransportKind::File => Box::new(FileTransport::new(settings.data.dir.join("mail"))),
        MailTransportKind::Smtp => {
            let user = settings.mail.smtp_username.trim();
            Box::new(SmtpTransport::new(&SmtpSettings {
                host: settings.mail.smtp_host.clone(),
                port: settings.mail.smtp_port,
                security: match settings.mail.smtp_security {
                    SmtpSecurityKind::Starttls => SmtpSecurity::StartTls,
                    SmtpSecurityKind::Tls => SmtpSecurity::Tls,
                    SmtpSecurityKind::None => SmtpSecurity::None,
                },
                credentials: (!user.is_empty())
                    .then(|| (user.to_owned(), settings.mail.smtp_password.clone())),
                timeout: Duration::from_secs(20),
            })?)
        }
    })
}

/// Starts the sender loop on the current actix runtime.
pub fn spawn(state: AppState) -> Result<(), lanyard_mail::TransportError> {
    let from = state
        .settings
        .mail
        .from
        .parse()
        .map_err(|e| lanyard_mail::TransportError::Build(format!("mail.from: {e}")))?;
    let sender = Arc::new(Sender::new(
        transport(&state.settings)?,
        from,
        RetryPolicy::default(),
    ));
    actix_web::rt::spawn(async move {
        let mut ticks = actix_web::rt::time::interval(POLL_INTERVAL);
        loop {
            ticks.tick().await;
            let (sender, pool, clock) = (
                Arc::clone(&sender),
                state.pool.clone(),
                Arc::clone(&state.clock),
            );
            let round = web::block(move || -> Result<lanyard_mail::DeliveryReport, String> {
                let mut conn = pool.get().map_err(|e| e.to_string())?;
                sender
                    .deliver_due(&mut conn, clock.as_ref(), BATCH)
                    .map_err(|e| e.to_string())
            })
            .await;
            match round {
                Ok(Ok(report)) if report != lanyard_mail::DeliveryReport::default() => {
                    tracing::debug!(?report, "mail round");
                }
                Ok(Ok(_)) => {}
                Ok(Err(err)) => tracing::warn!(error = %err, "mail round failed"),
                Err(err) => tracing::warn!(error = %err, "mail round did not run"),
            }
        }
    });
    Ok(())
}
