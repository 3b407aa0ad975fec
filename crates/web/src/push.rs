//! Push gateways behind one interface (issue 6 item 3): Firebase Cloud Messaging HTTP v1 for
//! Android and APNs (HTTP/2, token authentication) for iOS, with each organization's credentials
//! (`lanyard_enrollment::push`). A push only wakes the app — it carries the message id, never the
//! subject or body, which the phone fetches over its own mutual TLS — so nothing a person reads
//! passes through Google or Apple.
//!
//! The real endpoints cannot be reached from the test machine; the tests run these clients
//! against local fakes (over TLS, HTTP/2 for APNs) that check every part of the request.

use crate::AppState;
use diesel::prelude::*;
use lanyard_core::id::AccountId;
use lanyard_enrollment::device::DeviceType;
use lanyard_enrollment::push::{Apns, Credentials, Fcm};
use lanyard_store::schema::devices;
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

/// The phones of `people` (end user or administrator ids) with a push token: (device id, type,
/// token).
fn push_targets(
    conn: &mut lanyard_store::DbConnection,
    people: &[String],
) -> Result<Vec<(String, DeviceType, String)>, diesel::result::Error> {
    let rows: Vec<(String, String, Option<String>)> = devices::table
        .filter(
            devices::end_user_id
                .eq_any(people)
                .or(devices::administrator_id.eq_any(people)),
        )
        .filter(devices::status.eq("active"))
        .filter(devices::push_registration.is_not_null())
        .select((
            devices::id,
            devices::device_type,
            devices::push_registration,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, kind, token)| Some((id, DeviceType::parse(&kind).ok()?, token?)))
        .collect())
}

thread_local! {
    /// The gateways of this worker thread (an HTTP client belongs to one thread).
    static GATEWAYS: std::cell::OnceCell<Option<std::rc::Rc<Gateways>>> = const { std::cell::OnceCell::new() };
}

/// After message `sent` of `account` is committed: wakes its pending recipients' phones that
/// listen to this process at once, and, unless the message is `unlisted` (never announced),
/// those that registered for pushes.
pub fn deliver(
    state: &AppState,
    account: AccountId,
    sent: &lanyard_messaging::message::Message,
    unlisted: bool,
) {
    let mut people = Vec::new();
    for r in &sent.recipients {
        if let (lanyard_messaging::status::RecipientStatus::Pending, Some(user)) =
            (r.status, &r.end_user_id)
        {
            state.wakeups.wake(user);
            people.push(user.clone());
        }
    }
    if !unlisted {
        wake_phones(state, account, people, sent.id.clone());
    }
}

/// After an approval for administrator `admin` of `account` was asked (message `message_id`):
/// wakes their phones' channels in this process at once, and their apps by push.
pub fn wake_administrator(state: &AppState, account: AccountId, admin: &str, message_id: String) {
    state.wakeups.wake(admin);
    wake_phones(state, account, vec![admin.to_owned()], message_id);
}

/// After a message was committed: wakes the apps on the phones of `people` of `account` that
/// registered a push token, in the background (failures are logged, never the token; the
/// real-time channel and the app's own polling still deliver).
pub fn wake_phones(state: &AppState, account: AccountId, people: Vec<String>, message_id: String) {
    if people.is_empty() {
        return;
    }
    let Some(gateways) = GATEWAYS.with(|g| {
        g.get_or_init(|| {
            let endpoints = Endpoints {
                fcm: state.settings.push.fcm_url.clone(),
                fcm_token: state.settings.push.fcm_token_url.clone(),
                apns: state.settings.push.apns_url.clone(),
            };
            match Gateways::connect(endpoints, Some(&state.settings.push.ca_file)) {
                Ok(g) => Some(std::rc::Rc::new(g)),
                Err(err) => {
                    tracing::error!(error = %err, "push gateways unavailable");
                    None
                }
            }
        })
        .clone()
    }) else {
        return;
    };
    let state = state.clone();
    actix_web::rt::spawn(async move {
        let master = state.master_key.clone();
        let found = state
            .db(move |conn, _| {
                let targets =
                    push_targets(conn, &people).map_err(lanyard_identity::IdentityError::from)?;
                if targets.is_empty() {
                    return Ok((targets, Credentials::default()));
                }
                let credentials = lanyard_enrollment::push::credentials(conn, &master, &account)?;
                Ok::<_, lanyard_enrollment::EnrollmentError>((targets, credentials))
            })
            .await;
        let (targets, credentials) = match found {
            Ok(found) => found,
            Err(err) => {
                tracing::warn!(error = %err, "push targets could not be read");
                return;
            }
        };
        for (device, kind, token) in targets {
            match gateways.push(&credentials, kind, &token, &message_id).await {
                Ok(Pushed::Sent | Pushed::NotConfigured) => {}
                Ok(Pushed::Unregistered) => {
                    tracing::info!(device = %device, "push token no longer valid: forgotten");
                    let forgotten = state
                        .db(move |conn, _| {
                            lanyard_enrollment::push::forget_token(conn, &device, &token)
                        })
                        .await;
                    if let Err(err) = forgotten {
                        tracing::warn!(error = %err, "an invalid push token could not be forgotten");
                    }
                }
                Err(err) => tracing::warn!(device = %device, error = %err, "push failed"),
            }
        }
    });
}
