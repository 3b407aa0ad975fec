//! Push gateways behind one interface (issue 6 item 3): Firebase Cloud Messaging HTTP v1 for
//! Android and APNs (HTTP/2, token authentication) for iOS, with each organization's credentials
//! (`lanyard_enrollment::push`). A push only wakes the app — it carries the message id, never the
//! subject or body, which the phone fetches over its own mutual TLS — so nothing a person reads
//! passes through Google or Apple.
//!
//! Wake-ups go through an outbox (`lanyard_messaging::push_outbox`): written in the message's
//! transaction, sent by [`deliver_due`] rounds on any instance, so a crash after the commit loses
//! no push.
//!
//! The real endpoints cannot be reached from the test machine; the tests run these clients
//! against local fakes (over TLS, HTTP/2 for APNs) that check every part of the request.

use crate::{ApiError, AppState};
use lanyard_enrollment::device::DeviceType;
use lanyard_enrollment::push::{Apns, Credentials, Fcm};
use lanyard_messaging::push_outbox::Outcome;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

/// Where the gateways are (production by default; `[push]` settings change them).
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// FCM, e.g. `https://fcm.googleapis.com`.
    pub fcm: String,
    /// Google's OAuth token endpoint for FCM, `https://oauth2.googleapis.com/token`. Fixed by the
    /// operator: a service account file's own `token_uri` is never used, so an organization
    /// cannot point the server at an address of its choosing.
    pub fcm_token: String,
    /// APNs, e.g. `https://api.push.apple.com` (`https://api.sandbox.push.apple.com` for
    /// development builds of the app).
    pub apns: String,
}

/// Why a push did not go out.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The gateway could not be reached.
    #[error("{gateway} unreachable: {detail}")]
    Unreachable {
        /// fcm or apns.
        gateway: &'static str,
        /// What failed.
        detail: String,
    },
    /// The gateway refused the push.
    #[error("{gateway} refused the push: HTTP {status} {reason}")]
    Refused {
        /// fcm or apns.
        gateway: &'static str,
        /// HTTP status.
        status: u16,
        /// The gateway's reason.
        reason: String,
    },
    /// The credentials could not be used (signing failed).
    #[error("push credentials: {0}")]
    Credentials(String),
}

/// What became of a push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// The gateway accepted it.
    Sent,
    /// The organization has no credentials for the phone's platform (or the phone is neither
    /// Android nor iOS): the real-time channel is the only way.
    NotConfigured,
    /// The gateway says the token is no longer valid (app uninstalled, token rotated).
    Unregistered,
}

/// One HTTP client for both gateways.
pub struct Gateways {
    client: awc::Client,
    endpoints: Endpoints,
}

fn b64url(data: &[u8]) -> String {
    lanyard_pki::base64_encode(data)
        .replace(['\n', '\r', '='], "")
        .replace('+', "-")
        .replace('/', "_")
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A JWT over `header` and `claims`, signed with `key`: RS256 for RSA, ES256 (raw r‖s, as JWS
/// requires, not DER) for EC P-256.
fn jwt(
    header: &serde_json::Value,
    claims: &serde_json::Value,
    key: &PKey<Private>,
) -> Result<String, PushError> {
    let fail = |e: openssl::error::ErrorStack| PushError::Credentials(e.to_string());
    let input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    );
    let mut signer = openssl::sign::Signer::new(MessageDigest::sha256(), key).map_err(fail)?;
    signer.update(input.as_bytes()).map_err(fail)?;
    let der = signer.sign_to_vec().map_err(fail)?;
    let signature = if key.ec_key().is_ok() {
        let sig = openssl::ecdsa::EcdsaSig::from_der(&der).map_err(fail)?;
        let mut raw = sig.r().to_vec_padded(32).map_err(fail)?;
        raw.extend(sig.s().to_vec_padded(32).map_err(fail)?);
        raw
    } else {
        der
    };
    Ok(format!("{input}.{}", b64url(&signature)))
}

/// Tokens in use, by issuer: FCM access tokens until shortly before they expire; APNs provider
/// tokens for 30 minutes (Apple refuses tokens refreshed more often than every 20 minutes and
/// older than an hour).
static TOKENS: LazyLock<Mutex<HashMap<String, (String, Instant)>>> = LazyLock::new(Mutex::default);

/// The cache key of a token: who issued it and with which key (a replaced key must not reuse
/// the old key's token).
fn token_key(issuer: &str, key: &PKey<Private>) -> String {
    let public = key.public_key_to_der().unwrap_or_default();
    let digest = openssl::sha::sha256(&public);
    format!("{issuer}:{}", b64url(&digest))
}

fn cached(key: &str) -> Option<String> {
    let tokens = TOKENS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    tokens
        .get(key)
        .filter(|(_, until)| Instant::now() < *until)
        .map(|(t, _)| t.clone())
}

fn remember(key: &str, token: &str, valid: Duration) {
    TOKENS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(key.to_owned(), (token.to_owned(), Instant::now() + valid));
}

impl Gateways {
    /// Gateways at `endpoints` through `client` (its TLS connector must offer `h2` for APNs).
    pub fn new(client: awc::Client, endpoints: Endpoints) -> Self {
        Self { client, endpoints }
    }

    /// A client that trusts the system's roots and, when given, the CAs in `ca_file`; HTTP/2
    /// offered (APNs requires it).
    pub fn connect(endpoints: Endpoints, ca_file: Option<&str>) -> Result<Self, PushError> {
        use openssl::ssl::{SslConnector, SslMethod};
        let fail = |e: openssl::error::ErrorStack| PushError::Credentials(e.to_string());
        let mut builder = SslConnector::builder(SslMethod::tls_client()).map_err(fail)?;
        if let Some(file) = ca_file.filter(|f| !f.is_empty()) {
            builder.set_ca_file(file).map_err(fail)?;
        }
        builder
            .set_alpn_protos(b"\x02h2\x08http/1.1")
            .map_err(fail)?;
        let client = awc::Client::builder()
            .connector(
                awc::Connector::new()
                    .openssl(builder.build())
                    .timeout(Duration::from_secs(10)),
            )
            .timeout(Duration::from_secs(15))
            .disable_redirects()
            .finish();
        Ok(Self::new(client, endpoints))
    }

    /// Wakes the app on one phone about message `message_id`.
    pub async fn push(
        &self,
        credentials: &Credentials,
        device_type: DeviceType,
        token: &str,
        message_id: &str,
    ) -> Result<Pushed, PushError> {
        match (device_type, &credentials.fcm, &credentials.apns) {
            (DeviceType::Android, Some(fcm), _) => self.fcm(fcm, token, message_id).await,
            (DeviceType::Apple, _, Some(apns)) => self.apns(apns, token, message_id).await,
            _ => Ok(Pushed::NotConfigured),
        }
    }

    async fn fcm_token(&self, fcm: &Fcm) -> Result<String, PushError> {
        let key = token_key(&format!("fcm:{}", fcm.client_email), &fcm.key);
        if let Some(token) = cached(&key) {
            return Ok(token);
        }
        let now = now_secs();
        let assertion = jwt(
            &serde_json::json!({"alg": "RS256", "typ": "JWT"}),
            &serde_json::json!({
                "iss": fcm.client_email,
                "scope": "https://www.googleapis.com/auth/firebase.messaging",
                "aud": self.endpoints.fcm_token,
                "iat": now,
                "exp": now + 3600,
            }),
            &fcm.key,
        )?;
        let unreachable = |detail: String| PushError::Unreachable {
            gateway: "fcm",
            detail,
        };
        let mut response = self
            .client
            .post(&self.endpoints.fcm_token)
            .send_form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", assertion.as_str()),
            ])
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let body = response
            .body()
            .limit(64 * 1024)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        if !response.status().is_success() {
            return Err(PushError::Refused {
                gateway: "fcm",
                status: response.status().as_u16(),
                reason: String::from_utf8_lossy(&body).chars().take(300).collect(),
            });
        }
        #[derive(serde::Deserialize)]
        struct Granted {
            access_token: String,
            expires_in: u64,
        }
        let granted: Granted =
            serde_json::from_slice(&body).map_err(|e| unreachable(format!("token answer: {e}")))?;
        remember(
            &key,
            &granted.access_token,
            Duration::from_secs(granted.expires_in.saturating_sub(60)),
        );
        Ok(granted.access_token)
    }

    async fn fcm(&self, fcm: &Fcm, token: &str, message_id: &str) -> Result<Pushed, PushError> {
        let access = self.fcm_token(fcm).await?;
        let url = format!(
            "{}/v1/projects/{}/messages:send",
            self.endpoints.fcm.trim_end_matches('/'),
            fcm.project_id
        );
        // Data only (the app shows nothing by itself) at high priority, so that a dozing
        // phone wakes for an authorization; it expires with no point in late delivery.
        let body = serde_json::json!({
            "message": {
                "token": token,
                "data": {"type": "lanyard.message", "messageId": message_id},
                "android": {"priority": "HIGH", "ttl": "300s"},
            }
        });
        let mut response = self
            .client
            .post(&url)
            .bearer_auth(&access)
            .send_json(&body)
            .await
            .map_err(|e| PushError::Unreachable {
                gateway: "fcm",
                detail: e.to_string(),
            })?;
        let status = response.status().as_u16();
        let answer = response.body().limit(64 * 1024).await.unwrap_or_default();
        let reason = String::from_utf8_lossy(&answer);
        match status {
            200..=299 => Ok(Pushed::Sent),
            404 if reason.contains("UNREGISTERED") => Ok(Pushed::Unregistered),
            _ => Err(PushError::Refused {
                gateway: "fcm",
                status,
                reason: reason.chars().take(300).collect(),
            }),
        }
    }

    fn apns_token(apns: &Apns) -> Result<String, PushError> {
        let key = token_key(&format!("apns:{}:{}", apns.team_id, apns.key_id), &apns.key);
        if let Some(token) = cached(&key) {
            return Ok(token);
        }
        let token = jwt(
            &serde_json::json!({"alg": "ES256", "kid": apns.key_id}),
            &serde_json::json!({"iss": apns.team_id, "iat": now_secs()}),
            &apns.key,
        )?;
        remember(&key, &token, Duration::from_secs(30 * 60));
        Ok(token)
    }

    async fn apns(&self, apns: &Apns, token: &str, message_id: &str) -> Result<Pushed, PushError> {
        // A device token is hex; anything else would change the path.
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(Pushed::Unregistered);
        }
        let url = format!(
            "{}/3/device/{token}",
            self.endpoints.apns.trim_end_matches('/')
        );
        let body = serde_json::json!({
            "aps": {
                "alert": {"title": "Lanyard", "body": "You have a new request to look at."},
                "sound": "default",
                "mutable-content": 1,
            },
            "messageId": message_id,
        });
        let expires = now_secs() + 300;
        let mut response = self
            .client
            .post(&url)
            .insert_header((
                "authorization",
                format!("bearer {}", Self::apns_token(apns)?),
            ))
            .insert_header(("apns-topic", apns.topic.as_str()))
            .insert_header(("apns-push-type", "alert"))
            .insert_header(("apns-priority", "10"))
            .insert_header(("apns-expiration", expires.to_string()))
            .insert_header(("apns-collapse-id", message_id))
            .send_json(&body)
            .await
            .map_err(|e| PushError::Unreachable {
                gateway: "apns",
                detail: e.to_string(),
            })?;
        let status = response.status().as_u16();
        let answer = response.body().limit(64 * 1024).await.unwrap_or_default();
        let reason = serde_json::from_slice::<serde_json::Value>(&answer)
            .ok()
            .and_then(|v| v["reason"].as_str().map(str::to_owned))
            .unwrap_or_default();
        match status {
            200 => Ok(Pushed::Sent),
            410 => Ok(Pushed::Unregistered),
            400 if reason == "BadDeviceToken" => Ok(Pushed::Unregistered),
            _ => Err(PushError::Refused {
                gateway: "apns",
                status,
                reason,
            }),
        }
    }
}

/// Wake-ups claimed per round.
const BATCH: i64 = 50;
/// How often the push outbox is looked at.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// After message `sent` is committed: wakes, in this process, the real-time channels of its
/// pending recipients at once. Only a shortcut: other processes hear of it through the database
/// (`lanyard_store::notify`, or their next poll), and the apps' pushes went into the outbox with
/// the message ([`deliver_due`] sends them).
pub fn wake_channels(state: &AppState, sent: &lanyard_messaging::message::Message) {
    for r in &sent.recipients {
        if let (lanyard_messaging::status::RecipientStatus::Pending, Some(user)) =
            (r.status, &r.end_user_id)
        {
            state.wakeups.wake(user);
        }
    }
}

/// After an approval for administrator `admin` was asked: wakes their phones' channels in this
/// process at once (their apps' pushes are in the outbox).
pub fn wake_administrator(state: &AppState, admin: &str) {
    state.wakeups.wake(admin);
}

/// The gateways of the settings' endpoints.
pub fn gateways_of(state: &AppState) -> Result<Gateways, PushError> {
    let endpoints = Endpoints {
        fcm: state.settings.push.fcm_url.clone(),
        fcm_token: state.settings.push.fcm_token_url.clone(),
        apns: state.settings.push.apns_url.clone(),
    };
    Gateways::connect(endpoints, Some(&state.settings.push.ca_file))
}

/// One round of the push outbox: claims the due wake-ups, pushes each to its person's phones
/// that registered a token, and records the outcome — done, or retried with backoff when a
/// gateway could not be reached. A token the gateway no longer knows is forgotten. Returns how
/// many wake-ups were done. Failures are logged, never the token.
pub async fn deliver_due(state: &AppState, gateways: &Gateways) -> Result<usize, ApiError> {
    let due = state
        .db(|conn, clock| lanyard_messaging::push_outbox::claim(conn, clock, BATCH))
        .await?;
    let mut done = 0;
    for item in due {
        let (master, account, person) = (
            state.master_key.clone(),
            item.account.clone(),
            item.person.clone(),
        );
        let found = state
            .db(move |conn, _| {
                let targets = lanyard_enrollment::push::targets(conn, &person)?;
                if targets.is_empty() {
                    return Ok((targets, Credentials::default()));
                }
                let credentials = lanyard_enrollment::push::credentials(conn, &master, &account)?;
                Ok::<_, lanyard_enrollment::EnrollmentError>((targets, credentials))
            })
            .await?;
        let (targets, credentials) = found;
        let mut outcome = Outcome::Done;
        for (device, kind, token) in targets {
            match gateways
                .push(&credentials, kind, &token, &item.message_id)
                .await
            {
                Ok(Pushed::Sent | Pushed::NotConfigured) => {}
                Ok(Pushed::Unregistered) => {
                    tracing::info!(device = %device, "push token no longer valid: forgotten");
                    state
                        .db(move |conn, _| {
                            lanyard_enrollment::push::forget_token(conn, &device, &token)
                        })
                        .await?;
                }
                Err(err @ PushError::Unreachable { .. }) => {
                    tracing::warn!(device = %device, error = %err, "push gateway unreachable; will retry");
                    outcome = Outcome::Retry;
                }
                Err(err) => tracing::warn!(device = %device, error = %err, "push failed"),
            }
        }
        let gone = state
            .db(move |conn, clock| {
                lanyard_messaging::push_outbox::record(conn, clock, &item, outcome)
            })
            .await?;
        if gone && outcome == Outcome::Done {
            done += 1;
        }
    }
    Ok(done)
}

/// Starts the push outbox's sender on the current actix runtime (safe on any number of
/// instances: rows are claimed under leases).
pub fn spawn(state: AppState) {
    actix_web::rt::spawn(async move {
        let gateways = match gateways_of(&state) {
            Ok(g) => g,
            Err(err) => {
                tracing::error!(error = %err, "push gateways unavailable");
                return;
            }
        };
        let mut ticks = actix_web::rt::time::interval(POLL_INTERVAL);
        loop {
            ticks.tick().await;
            if let Err(err) = deliver_due(&state, &gateways).await {
                tracing::warn!(error = %err, "push round failed");
            }
        }
    });
}
