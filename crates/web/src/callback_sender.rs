//! Delivers callbacks from the callback outbox (`lanyard_messaging::callback`): every second,
//! the due ones are POSTed, signed, with a 10-second timeout; the outcome is recorded (sent,
//! retried with backoff, or given up with an e-mail). Safe on any number of instances.
//!
//! A callback URL is chosen by whoever configures an application, so the server must not become
//! their way into its own network (SSRF): a target that is, or resolves to, an internal address
//! (loopback, private, link-local, shared, multicast, unspecified) is refused unless
//! `callbacks.allowed_networks` lists it. The check runs at every delivery, in the resolver the
//! connection itself uses, so the addresses checked are the addresses connected to (a name that
//! resolves to a public address at configuration time and to 127.0.0.1 later gets nowhere).

use crate::state::AppState;
use actix_tls::connect::{Resolve, Resolver};
use actix_web::web;
use futures_util::future::LocalBoxFuture;
use lanyard_identity::api_token::AllowList;
use lanyard_messaging::callback::{self, Due};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// How often the outbox is looked at.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Callbacks per round.
const BATCH: i64 = 50;

/// Which addresses callbacks may reach.
#[derive(Debug, Clone, Default)]
pub struct TargetPolicy {
    allowed: Option<AllowList>,
}

impl TargetPolicy {
    /// The policy of `callbacks.allowed_networks` (validated when the settings were loaded).
    pub fn from_settings(settings: &crate::config::Settings) -> Self {
        Self {
            allowed: AllowList::parse(
                "callbacks.allowed_networks",
                &settings.callbacks.allowed_networks,
            )
            .ok()
            .flatten(),
        }
    }

    /// Whether a callback may connect to `ip`.
    pub fn permits(&self, ip: IpAddr) -> bool {
        !is_internal(ip) || self.allowed.as_ref().is_some_and(|a| a.allows(ip))
    }

    fn check(&self, host: &str, ip: IpAddr) -> Result<(), String> {
        if self.permits(ip) {
            Ok(())
        } else {
            Err(format!(
                "refused: {host} is an internal address ({ip}); callbacks go to public addresses only"
            ))
        }
    }
}

/// Loopback, private, link-local, shared (RFC 6598), multicast, broadcast, unspecified and
/// documentation addresses: none of them is an application's public callback receiver.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && v4.octets()[2] == 0)
                || a >= 240
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || (first & 0xffc0) == 0xfec0
                || first == 0x2001 && v6.segments()[1] == 0x0db8
                || first == 0x0064 && v6.segments()[1] == 0xff9b
        }
    }
}

/// The resolver of callback connections: resolves, then refuses the whole lookup if any address
/// is internal — the connection only ever goes to addresses that passed.
struct GuardedResolver(Arc<TargetPolicy>);

impl Resolve for GuardedResolver {
    fn lookup<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> LocalBoxFuture<'a, Result<Vec<SocketAddr>, Box<dyn std::error::Error>>> {
        Box::pin(async move {
            let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host, port)).await?.collect();
            if addresses.is_empty() {
                return Err(format!("{host} has no address").into());
            }
            for address in &addresses {
                self.0.check(host, address.ip())?;
            }
            Ok(addresses)
        })
    }
}

/// The HTTP client of callbacks with its target policy.
pub struct CallbackClient {
    http: awc::Client,
    policy: Arc<TargetPolicy>,
}

impl CallbackClient {
    /// A client that delivers only where `policy` permits.
    pub fn new(policy: TargetPolicy) -> Self {
        let policy = Arc::new(policy);
        let tcp = actix_tls::connect::Connector::new(Resolver::custom(GuardedResolver(
            Arc::clone(&policy),
        )))
        .service();
        // The system's roots verify https callback URLs; redirects are not followed (a
        // callback receiver answers itself, and a redirect could point anywhere).
        let connector = awc::Connector::new().connector(tcp);
        let connector =
            match openssl::ssl::SslConnector::builder(openssl::ssl::SslMethod::tls_client()) {
                Ok(b) => connector.openssl(b.build()),
                Err(_) => connector,
            };
        let http = awc::Client::builder()
            .timeout(Duration::from_secs(10))
            .disable_redirects()
            .add_default_header(("User-Agent", "Lanyard-Callback/1"))
            .connector(connector)
            .finish();
        Self { http, policy }
    }

    /// The client for `state`'s settings.
    pub fn for_state(state: &AppState) -> Self {
        Self::new(TargetPolicy::from_settings(&state.settings))
    }
}

async fn post(client: &CallbackClient, due: &Due) -> Result<(), String> {
    // An address written into the URL never goes through the resolver: checked here.
    let url = url::Url::parse(&due.url).map_err(|e| format!("bad URL: {e}"))?;
    let literal = match url.host() {
        Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        _ => None,
    };
    if let Some(ip) = literal {
        client.policy.check(&ip.to_string(), ip)?;
    }
    let response = client
        .http
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
pub async fn deliver_due(state: &AppState, client: &CallbackClient) -> Result<usize, String> {
    let (pool, clock, master) = (
        state.pool.clone(),
        Arc::clone(&state.clock),
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
            Arc::clone(&state.clock),
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
        let client = CallbackClient::for_state(&state);
        let mut ticks = actix_web::rt::time::interval(POLL_INTERVAL);
        loop {
            ticks.tick().await;
            if let Err(err) = deliver_due(&state, &client).await {
                tracing::warn!(error = %err, "callback round failed");
            }
        }
    });
}
