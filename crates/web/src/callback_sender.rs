//! Delivers callbacks from the callback outbox (`lanyard_messaging::callback`): every second,
//! the due ones are POSTed, signed, with a 10-second timeout; the outcome is recorded (sent,
//! retried with backoff, or given up with an e-mail). Safe on any number of instances.

use crate::state::AppState;
use actix_web::web;
use lanyard_messaging::callback::{self, Due};
use std::time::Duration;

/// How often the outbox is looked at.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Callbacks per round.
const BATCH: i64 = 50;

fn client() -> awc::Client {
    // The system's roots verify https callback URLs; redirects are not followed (a callback
    // receiver answers itself).
    let connector = openssl::ssl::SslConnector::builder(openssl::ssl::SslMethod::tls_client())
        .map(|b| awc::Connector::new().openssl(b.build()));
    let builder = awc::Client::builder()
        .timeout(Duration::from_secs(10))
        .disable_redirects()
        .add_default_header(("User-Agent", "Lanyard-Callback/1"));
    match connector {
        Ok(connector) => builder.connector(connector).finish(),
        Err(_) => builder.finish(),
    }
}

async fn post(client: &awc::Client, due: &Due) -> Result<(), String> {
    let response = client
        .post(&due.url)
        .insert_header(("Content-Type", "application/json"))
        .insert_header(("X-Lanyard-Signature", due.signature.as_str()))
        .send_body(due.payload.clone())
        .await
        .map_err(|e| e.to_string())?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("HTTP {}", response.status()))
    }
}

/// One round: claims the due callbacks, POSTs them, records each outcome; returns how many were
/// delivered.
pub async fn deliver_due(state: &AppState, client: &awc::Client) -> Result<usize, String> {
    let (pool, clock, master) = (
        state.pool.clone(),
        std::sync::Arc::clone(&state.clock),
        state.master_key.clone(),
    );
    let due = web::block(move || -> Result<Vec<Due>, String> {
        let mut conn = pool.get().map_err(|e| e.to_string())?;
        callback::claim(&mut conn, clock.as_ref(), &master, BATCH).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())??;
    let mut sent = 0;
    for item in due {
        let outcome = post(client, &item).await;
        if outcome.is_ok() {
            sent += 1;
        } else if let Err(error) = &outcome {
            tracing::warn!(callback = %item.id, url = %item.url, %error, "callback failed");
        }
        let (pool, clock, domain) = (
            state.pool.clone(),
            std::sync::Arc::clone(&state.clock),
            state.settings.mail_domain(),
        );
        web::block(move || -> Result<&'static str, String> {
            let mut conn = pool.get().map_err(|e| e.to_string())?;
            callback::record(&mut conn, clock.as_ref(), &domain, &item, outcome)
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())??;
    }
    Ok(sent)
}

/// Starts the callback loop on the current actix runtime.
pub fn spawn(state: AppState) {
    actix_web::rt::spawn(async move {
        let client = client();
        let mut ticks = actix_web::rt::time::interval(POLL_INTERVAL);
        loop {
            ticks.tick().await;
            if let Err(err) = deliver_due(&state, &client).await {
                tracing::warn!(error = %err, "callback round failed");
            }
        }
    });
}
