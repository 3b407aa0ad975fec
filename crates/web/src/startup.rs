//! Starting a service: settings, logs, database (migrate, bootstrap), listener.

use crate::config::{ConfigError, Settings};
use crate::server;
use crate::state::AppState;
use actix_web::web;
use lanyard_core::SystemClock;
use lanyard_identity::bootstrap::{Bootstrapped, bootstrap};
use lanyard_identity::platform_pki;
use lanyard_pki::MasterKey;
use lanyard_store::{DatabaseTarget, PoolOptions};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Environment variable naming the configuration file.
pub const CONFIG_VAR: &str = "LANYARD_CONFIG";

/// The three services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// Management API and console.
    Admin,
    /// Messaging API for applications.
    Auth,
    /// Device protocol.
    Device,
}

impl Service {
    /// The service's name in logs.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Admin => "admin-api",
            Self::Auth => "auth-api",
            Self::Device => "device-api",
        }
    }

    /// The service's settings section.
    pub fn settings(self, settings: &Settings) -> &crate::config::ServiceSettings {
        match self {
            Self::Admin => &settings.admin_api,
            Self::Auth => &settings.auth_api,
            Self::Device => &settings.device_api,
        }
    }

    /// The configured listen address.
    pub fn bind(self, settings: &Settings) -> &str {
        match self {
            Self::Admin => &settings.admin_api.bind,
            Self::Auth => &settings.auth_api.bind,
            Self::Device => &settings.device_api.bind,
        }
    }
}

/// Why a service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The data directory could not be created.
    #[error("data.dir {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The database could not be prepared.
    #[error(transparent)]
    Store(#[from] lanyard_store::StoreError),
    /// Bootstrap failed.
    #[error("bootstrap failed: {0}")]
    Bootstrap(#[from] lanyard_identity::IdentityError),
    /// The master key is missing, unreadable or not the one that sealed the CAs.
    #[error("{key}: {message}")]
    MasterKey {
        /// The setting to look at.
        key: &'static str,
        /// What is wrong.
        message: String,
    },
    /// HTTPS could not be set up.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// The listen address could not be bound.
    #[error("{key}: cannot listen on {address}: {source}")]
    Bind {
        /// The setting.
        key: &'static str,
        /// The address.
        address: String,
        /// Why.
        source: std::io::Error,
    },
}

/// The configuration file named by `LANYARD_CONFIG`, if any.
pub fn config_file_from_env() -> Option<PathBuf> {
    std::env::var_os(CONFIG_VAR).map(PathBuf::from)
}

/// Prepares the database (creating the data directory for the embedded default, migrating,
/// bootstrapping on first start) and returns the shared state and what bootstrap found.
pub fn prepare(settings: Settings) -> Result<(AppState, Bootstrapped), StartError> {
    let target = settings.database_target()?;
    if let DatabaseTarget::Sqlite(path) = &target
        && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir).map_err(|source| StartError::DataDir {
            path: dir.to_owned(),
            source,
        })?;
    }
    tracing::info!(database = %target.redacted(), "opening database");
    let pool = lanyard_store::pool(
        target,
        &PoolOptions {
            max_size: settings.database.pool_size,
            ..PoolOptions::default()
        },
    );
    let mut conn = pool.get().map_err(lanyard_store::StoreError::from)?;
    let applied = lanyard_store::migrate(&mut conn)?;
    if !applied.is_empty() {
        tracing::info!(migrations = ?applied, "database migrated");
    }
    let clock = SystemClock;
    let oid_root = settings.oid_root().map_err(|e| ConfigError::Invalid {
        key: "bootstrap.oid_root",
        rule: e.to_string(),
    })?;
    let booted = bootstrap(&mut conn, &clock, oid_root)?;
    if booted.created {
        tracing::info!(
            oid_root = booted.oid_root.as_str(),
            "installation bootstrapped"
        );
    }
    let master = master_key(&settings)?;
    if platform_pki::ensure(
        &mut conn,
        &clock,
        &master,
        settings.pki.installation_name.trim(),
        &settings.admin_api.url(),
    )? {
        tracing::info!("platform PKI created: root and issuing CAs");
    }
    if let Some(sealed_by) = platform_pki::sealed_by(&mut conn)?
        && sealed_by != master.id()
    {
        return Err(StartError::MasterKey {
            key: "pki.master_key",
            message: format!(
                "the CAs were sealed with master key {sealed_by}, this is {}; restore the right key file ({}) or LANYARD_PKI__MASTER_KEY",
                master.id(),
                settings.master_key_file().display()
            ),
        });
    }
    write_ca_bundle(&mut conn, &settings)?;
    drop(conn);
    Ok((
        AppState {
            pool,
            clock: Arc::new(clock),
            settings: Arc::new(settings),
            master_key: Arc::new(master),
            wakeups: crate::wakeups::Wakeups::default(),
        },
        booted,
    ))
}

/// The master key: `pki.master_key` when set, else the key file, created with permissions 0600
/// when it does not exist yet.
pub fn master_key(settings: &Settings) -> Result<MasterKey, StartError> {
    let inline = settings.pki.master_key.expose().trim();
    if !inline.is_empty() {
        return MasterKey::from_text(inline).map_err(|e| StartError::MasterKey {
            key: "pki.master_key",
            message: e.to_string(),
        });
    }
    let path = settings.master_key_file();
    let invalid = |message: String| StartError::MasterKey {
        key: "pki.master_key_file",
        message: format!("{}: {message}", path.display()),
    };
    for _ in 0..50 {
        match std::fs::read_to_string(&path) {
            // Another process is between creating and writing the file.
            Ok(text) if text.trim().is_empty() => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Ok(text) => return MasterKey::from_text(&text).map_err(|e| invalid(e.to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| invalid(e.to_string()))?;
                }
                use std::io::Write;
                use std::os::unix::fs::OpenOptionsExt;
                match std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&path)
                {
                    Ok(mut file) => {
                        let key = MasterKey::generate().map_err(|e| invalid(e.to_string()))?;
                        file.write_all(format!("{}\n", key.to_text()).as_bytes())
                            .and_then(|()| file.sync_all())
                            .map_err(|e| invalid(e.to_string()))?;
                        tracing::info!(file = %path.display(), key_id = key.id(), "master key created; back it up apart from the database");
                        return Ok(key);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(invalid(e.to_string())),
                }
            }
            Err(e) => return Err(invalid(e.to_string())),
        }
    }
    Err(invalid("stays empty".into()))
}

/// Writes `<data.dir>/ca.pem`, the platform's root CA certificate: what clients trust to reach
/// the services' development certificates and to verify issued certificates.
fn write_ca_bundle(
    conn: &mut lanyard_store::DbConnection,
    settings: &Settings,
) -> Result<(), StartError> {
    let root = platform_pki::certificate(conn, "root-1")?;
    let pem = root.to_pem().map_err(|e| {
        StartError::Bootstrap(lanyard_identity::IdentityError::Crypto(e.to_string()))
    })?;
    let path = ca_bundle_path(settings);
    if std::fs::read(&path).ok().as_deref() != Some(pem.as_slice()) {
        std::fs::create_dir_all(&settings.data.dir).map_err(|source| StartError::DataDir {
            path: settings.data.dir.clone(),
            source,
        })?;
        std::fs::write(&path, &pem).map_err(|source| StartError::DataDir {
            path: path.clone(),
            source,
        })?;
    }
    Ok(())
}

/// Where the root CA certificate is written for clients.
pub fn ca_bundle_path(settings: &Settings) -> PathBuf {
    settings.data.dir.join("ca.pem")
}

/// The HTTPS acceptor of `service` (None when `tls.mode` is off).
pub fn tls_acceptor(
    state: &AppState,
    service: Service,
    listener: &TcpListener,
) -> Result<Option<openssl::ssl::SslAcceptorBuilder>, StartError> {
    let mut conn = state.pool.get().map_err(lanyard_store::StoreError::from)?;
    let public_url = service.settings(&state.settings).url();
    Ok(crate::tls::acceptor(
        &mut conn,
        state.clock.as_ref(),
        &state.master_key,
        &state.settings,
        &public_url,
        listener.local_addr().ok(),
    )?)
}

/// Binds the service's configured address.
pub fn listen(service: Service, settings: &Settings) -> Result<TcpListener, StartError> {
    let address = service.bind(settings);
    TcpListener::bind(address).map_err(|source| StartError::Bind {
        key: match service {
            Service::Admin => "admin_api.bind",
            Service::Auth => "auth_api.bind",
            Service::Device => "device_api.bind",
        },
        address: address.to_owned(),
        source,
    })
}

/// Fills an empty `public_url` of `service` with the address its listener actually got (so
/// that a port chosen by the system, `:0`, appears in links).
pub fn record_bound_address(
    settings: &mut Settings,
    service: Service,
    listener: &TcpListener,
) -> std::io::Result<()> {
    let address = listener.local_addr()?;
    if service.settings(settings).public_url.trim().is_empty() {
        let scheme = if settings.tls_enabled() {
            "https"
        } else {
            "http"
        };
        let section = match service {
            Service::Admin => &mut settings.admin_api,
            Service::Auth => &mut settings.auth_api,
            Service::Device => &mut settings.device_api,
        };
        section.public_url = format!("{scheme}://{address}");
    }
    Ok(())
}

/// The `main` of a service binary: load, prepare, serve until a stop signal.
pub async fn run_service(service: Service, configure: fn(&mut web::ServiceConfig)) -> ExitCode {
    let mut settings = match Settings::load(config_file_from_env().as_deref()) {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("{}: {err}", service.name());
            return ExitCode::FAILURE;
        }
    };
    crate::telemetry::init(&settings.log);
    let started = async {
        let listener = listen(service, &settings)?;
        record_bound_address(&mut settings, service, &listener).map_err(|source| {
            StartError::Bind {
                key: "bind",
                address: String::new(),
                source,
            }
        })?;
        let (state, _) =
            web::block(move || prepare(settings))
                .await
                .map_err(|e| StartError::DataDir {
                    path: PathBuf::new(),
                    source: std::io::Error::other(e.to_string()),
                })??;
        let mut state = state;
        if service == Service::Device {
            // Only device-api serves real-time channels: it alone listens for the other
            // processes' wake-ups (one connection of its own, on PostgreSQL).
            state.listen_for_wakeups()?;
        }
        if service == Service::Admin {
            crate::mail_sender::spawn(state.clone()).map_err(|e| StartError::Bind {
                key: "mail",
                address: String::new(),
                source: std::io::Error::other(e.to_string()),
            })?;
            crate::housekeeping::spawn(state.clone());
        }
        if service == Service::Auth {
            crate::housekeeping::spawn_messaging(state.clone());
        }
        let tls = {
            let (state, listener) = (
                state.clone(),
                listener.try_clone().map_err(|source| StartError::Bind {
                    key: "bind",
                    address: String::new(),
                    source,
                })?,
            );
            web::block(move || tls_acceptor(&state, service, &listener))
                .await
                .map_err(|e| StartError::DataDir {
                    path: PathBuf::new(),
                    source: std::io::Error::other(e.to_string()),
                })??
        };
        server::serve(service.name(), listener, state, configure, tls).map_err(|source| {
            StartError::Bind {
                key: "bind",
                address: String::new(),
                source,
            }
        })
    };
    match started.await {
        Ok(server) => match server.await {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                tracing::error!(service = service.name(), error = %err, "server failed");
                ExitCode::FAILURE
            }
        },
        Err(err) => {
            tracing::error!(service = service.name(), error = %err, "cannot start");
            eprintln!("{}: {err}", service.name());
            ExitCode::FAILURE
        }
    }
}
