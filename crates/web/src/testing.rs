//! A service under test: the real application on a real socket, over a fresh database.

use crate::config::Settings;
use crate::server;
use crate::state::AppState;
use actix_web::http::{Method, StatusCode};
use actix_web::web;
use lanyard_core::id::AccountId;
use lanyard_core::{Email, Oid, OidRoot, SystemClock};
use lanyard_identity::account::{self, NewAccount};
use lanyard_identity::{AccountKind, api_token, bootstrap::bootstrap};
use lanyard_store::Backend;
use lanyard_store::testing::TestDb;
use serde_json::Value;
use std::sync::Arc;

/// The OID root of test installations.
pub const TEST_OID_ROOT: &str = "1.3.6.1.4.1.21528";

/// An organization created for a test, with a management API token.
#[derive(Debug, Clone)]
pub struct TestOrg {
    /// Internal id.
    pub id: AccountId,
    /// OID.
    pub oid: Oid,
    /// A valid API token for it.
    pub token: String,
}

/// A running service over a fresh, bootstrapped database.
pub struct TestApp {
    /// The database.
    pub db: TestDb,
    /// The running server.
    pub server: actix_test::TestServer,
    /// The master key the server's platform PKI is sealed with.
    pub master_key: Arc<lanyard_pki::MasterKey>,
}

/// A fresh, bootstrapped database with the platform PKI, and the state a service gets.
fn prepared(backend: Backend) -> Option<(TestDb, AppState)> {
    let db = TestDb::of(backend)?;
    let clock = SystemClock;
    let root = OidRoot::parse(TEST_OID_ROOT).expect("root");
    bootstrap(&mut db.conn(), &clock, Some(root)).expect("bootstrap");
    let settings = Settings::load_from(None, Vec::new()).expect("default settings");
    let master = lanyard_pki::MasterKey::generate().expect("master key");
    lanyard_identity::platform_pki::ensure(
        &mut db.conn(),
        &clock,
        &master,
        "Lanyard Test",
        &settings.admin_api.url(),
    )
    .expect("platform PKI");
    let state = AppState {
        pool: db.pool().clone(),
        clock: Arc::new(clock),
        settings: Arc::new(settings),
        master_key: Arc::new(master),
        wakeups: crate::wakeups::Wakeups::listening(db.target()),
    };
    Some((db, state))
}

/// How a service adds its routes (each binary's `configure`).
pub type Configure = fn(&mut web::ServiceConfig);

/// A service under test over real TLS, as deployed: development certificate from the platform
/// PKI, client certificates read at the handshake (mutual TLS) — for the APIs whose callers
/// authenticate with certificates.
pub struct TlsTestApp {
    /// The database.
    pub db: TestDb,
    /// `https://127.0.0.1:<port>`.
    pub base: String,
    /// The master key of the platform PKI.
    pub master_key: Arc<lanyard_pki::MasterKey>,
    /// The platform root certificate (PEM), which the server certificate chains to.
    pub root_pem: Vec<u8>,
    state: AppState,
    bases: Vec<String>,
    handles: Vec<actix_web::dev::ServerHandle>,
}

impl TlsTestApp {
    /// Starts `configure` as `service` on `backend`; `None` when PostgreSQL is not configured.
    pub async fn start(
        backend: Backend,
        service: crate::startup::Service,
        configure: fn(&mut web::ServiceConfig),
    ) -> Option<Self> {
        Self::start_many(backend, &[(service, configure)]).await
    }

    /// Starts several services on one database and one state, as `lanyard up` runs them in
    /// one process: each listens on its own port, recorded in the settings as its public URL
    /// (so links between them work). `base` is the first one's; [`Self::bases`] has them all.
    pub async fn start_many(
        backend: Backend,
        services: &[(crate::startup::Service, Configure)],
    ) -> Option<Self> {
        let (db, mut state) = prepared(backend)?;
        let mut settings = (*state.settings).clone();
        let listeners: Vec<_> = services
            .iter()
            .map(|(service, _)| {
                let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
                crate::startup::record_bound_address(&mut settings, *service, &listener)
                    .expect("address");
                listener
            })
            .collect();
        state.settings = Arc::new(settings);
        let root =
            lanyard_identity::platform_pki::certificate(&mut db.conn(), "root-1").expect("root");
        let mut bases = Vec::new();
        let mut handles = Vec::new();
        for ((service, configure), listener) in services.iter().zip(listeners) {
            bases.push(format!(
                "https://{}",
                listener.local_addr().expect("address")
            ));
            let tls = crate::startup::tls_acceptor(&state, *service, &listener).expect("tls");
            let server =
                server::serve_without_signals("test", listener, state.clone(), *configure, tls)
                    .expect("serve");
            handles.push(server.handle());
            actix_web::rt::spawn(server);
        }
        Some(Self {
            db,
            base: bases[0].clone(),
            master_key: state.master_key.clone(),
            root_pem: root.to_pem().expect("pem"),
            state,
            bases,
            handles,
        })
    }

    /// The base URLs of the services, in the order they were started.
    pub fn bases(&self) -> &[String] {
        &self.bases
    }

    /// The state the services share (to start background tasks with it).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// A client that trusts the platform root and presents `identity` (a PEM bundle of
    /// certificate, chain and private key), if given.
    pub fn client(&self, identity: Option<&[u8]>) -> awc::Client {
        use openssl::ssl::{SslConnector, SslMethod};
        let mut builder = SslConnector::builder(SslMethod::tls_client()).expect("connector");
        let root = openssl::x509::X509::from_pem(&self.root_pem).expect("root");
        builder.cert_store_mut().add_cert(root).expect("trust");
        if let Some(pem) = identity {
            let certs = openssl::x509::X509::stack_from_pem(pem).expect("certificates");
            let key = openssl::pkey::PKey::private_key_from_pem(pem).expect("key");
            builder.set_certificate(&certs[0]).expect("certificate");
            for ca in &certs[1..] {
                builder.add_extra_chain_cert(ca.clone()).expect("chain");
            }
            builder.set_private_key(&key).expect("key");
        }
        // awc gives up after 5 s by default; a loaded 2-core CI machine can take longer for one
        // request, and a test should fail on what it asserts, not on the machine's load.
        awc::Client::builder()
            .connector(awc::Connector::new().openssl(builder.build()))
            .timeout(std::time::Duration::from_secs(60))
            .finish()
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for TlsTestApp {
    fn drop(&mut self) {
        // Stops accepting at once; the runtime ends the rest with the test.
        for handle in &self.handles {
            drop(handle.stop(false));
        }
    }
}

impl TestApp {
    /// Starts `configure` on `backend`; `None` when PostgreSQL is not configured (outside CI).
    pub async fn start(backend: Backend, configure: fn(&mut web::ServiceConfig)) -> Option<Self> {
        let (db, state) = prepared(backend)?;
        let master_key = state.master_key.clone();
        let server = actix_test::start(move || server::app(state.clone(), configure));
        Some(Self {
            db,
            server,
            master_key,
        })
    }

    /// Creates an organization with an API token.
    pub fn org(&self, name: &str) -> TestOrg {
        let mut conn = self.db.conn();
        let created = account::create(
            &mut conn,
            &SystemClock,
            NewAccount {
                kind: AccountKind::Organization,
                name: name.into(),
                contact_email: Some(Email::parse("contact@example.com").expect("email")),
                parent: None,
            },
        )
        .expect("organization");
        let token =
            api_token::create(&mut conn, &SystemClock, &created.oid, "test").expect("token");
        TestOrg {
            id: created.id,
            oid: created.oid,
            token: token.secret.expose().to_owned(),
        }
    }

    /// A request with the API version header and, when given, a bearer token.
    pub fn request(&self, method: Method, path: &str, token: Option<&str>) -> awc::ClientRequest {
        let mut req = self
            .server
            .request(method, self.server.url(path))
            .insert_header(("X-PBM-API-VERSION", "2"));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req
    }

    /// Sends a request (with a JSON body when given) and returns the status and the JSON answer
    /// (`Value::Null` for an empty body).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let req = self.request(method, path, token);
        let response = match body {
            Some(body) => req.send_json(&body).await,
            None => req.send().await,
        };
        read(response.expect("request sent")).await
    }
}

/// Status and JSON body of a response (`Value::Null` when empty, a string when not JSON).
pub async fn read<S>(mut response: awc::ClientResponse<S>) -> (StatusCode, Value)
where
    S: futures_util::Stream<Item = Result<web::Bytes, actix_web::error::PayloadError>> + Unpin,
{
    let status = response.status();
    let bytes = response.body().limit(64 * 1024 * 1024).await.expect("body");
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    (status, value)
}

/// Declares, for each `async fn name(app: TestApp)`, a module `name` with tests `sqlite` and
/// `postgres` that start `$configure` on a fresh database of each backend.
#[macro_export]
macro_rules! http_tests {
    ($configure:path; $($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[actix_rt::test]
                async fn sqlite() {
                    let app = $crate::testing::TestApp::start(
                        lanyard_store::Backend::Sqlite, $configure).await.expect("sqlite");
                    super::$name(app).await;
                }

                #[actix_rt::test]
                async fn postgres() {
                    if let Some(app) = $crate::testing::TestApp::start(
                        lanyard_store::Backend::Postgres, $configure).await {
                        super::$name(app).await;
                    }
                }
            }
        )+
    };
}

/// A customer organization `name` as the customer-account form makes it (required details
/// filled in), created by the platform operator and then Activated as if its first
/// administrator had activated it — so it can be disabled, reactivated and deleted. Returns it
/// with the operator acting on it.
pub fn activated_customer(
    conn: &mut lanyard_store::DbConnection,
    links: &lanyard_identity::admin::Links,
    name: &str,
) -> (
    lanyard_identity::customer::Customer,
    lanyard_identity::rights::Actor,
) {
    use diesel::prelude::*;
    use lanyard_identity::customer::{self, DetailsInput};
    let platform = account::platform(conn).expect("platform");
    let operator = lanyard_identity::rights::Actor::operator(platform.id, "operator");
    let details = DetailsInput {
        manager: Some("Ann Manager".into()),
        city: Some("Budapest".into()),
        street: Some("Fő utca 1".into()),
        zip: Some("1011".into()),
        country: Some("Hungary".into()),
        contact_title: Some("Ms".into()),
        contact_first_name: Some("Ann".into()),
        contact_last_name: Some("Manager".into()),
        contact_job_title: Some("CEO".into()),
        ..DetailsInput::default()
    };
    let created = customer::create(
        conn,
        &SystemClock,
        links,
        &operator,
        AccountKind::Organization,
        name,
        &Email::parse(&format!("main@{}.example", name.to_lowercase())).expect("email"),
        &details.parse().expect("details"),
    )
    .expect("customer");
    diesel::update(lanyard_store::schema::accounts::table.find(created.account.id.as_str()))
        .set(lanyard_store::schema::accounts::status.eq("activated"))
        .execute(conn)
        .expect("activated");
    let customer = customer::get(conn, &operator, &created.account.oid).expect("customer");
    (customer, operator)
}
