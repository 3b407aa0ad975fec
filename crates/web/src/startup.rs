//! Starting a service: settings, logs, database (migrate, bootstrap), listener.

use crate::config::{ConfigError, Settings};
use crate::server;
use crate::state::AppState;
use actix_web::web;
use lanyard_core::SystemClock;
use lanyard_identity::bootstrap::{Bootstrapped, bootstrap};
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
    drop(conn);
    Ok((
        AppState {
            pool,
            clock: Arc::new(clock),
            settings: Arc::new(settings),
        },
        booted,
    ))
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
    let section = match service {
        Service::Admin => &mut settings.admin_api,
        Service::Auth => &mut settings.auth_api,
        Service::Device => &mut settings.device_api,
    };
    if section.public_url.trim().is_empty() {
        section.public_url = format!("http://{address}");
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
        if service == Service::Admin {
            crate::mail_sender::spawn(state.clone()).map_err(|e| StartError::Bind {
                key: "mail",
                address: String::new(),
                source: std::io::Error::other(e.to_string()),
            })?;
        }
        server::serve(service.name(), listener, state, configure).map_err(|source| {
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
