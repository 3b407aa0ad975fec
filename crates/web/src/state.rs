//! What every handler gets: the pool, the clock and the settings.

use crate::config::Settings;
use crate::error::ApiError;
use actix_web::web;
use lanyard_core::{Clock, Coded};
use lanyard_store::{DbConnection, Pool};
use std::sync::Arc;

/// Shared state of a service, cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The database pool.
    pub pool: Pool,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// The settings the service started with.
    pub settings: Arc<Settings>,
    /// The master key that opens the platform CAs' sealed private keys.
    pub master_key: Arc<lanyard_pki::MasterKey>,
    /// Wake-ups of the devices' real-time channels in this process.
    pub wakeups: crate::wakeups::Wakeups,
}

impl AppState {
    /// Wakes this process's real-time channels also for messages sent by other processes
    /// sharing the database (PostgreSQL; nothing changes on SQLite).
    pub fn listen_for_wakeups(&mut self) -> Result<(), lanyard_store::StoreError> {
        let target = self.settings.database_target()?;
        self.wakeups = crate::wakeups::Wakeups::listening(&target);
        Ok(())
    }

    /// Where e-mailed links point.
    pub fn links(&self) -> lanyard_identity::admin::Links {
        lanyard_identity::admin::Links {
            console: self.settings.admin_api.url(),
            mail_domain: self.settings.mail_domain(),
        }
    }

    /// The base of the CRL URLs written into certificates (admin-api's public URL).
    pub fn crl_base(&self) -> String {
        self.settings.admin_api.url()
    }

    /// Runs `f` with a pooled connection on the blocking thread pool: diesel is synchronous and
    /// must not stall the async executor.
    pub async fn db<T, E, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConnection, &dyn Clock) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Coded + Send + 'static,
    {
        let pool = self.pool.clone();
        let clock = Arc::clone(&self.clock);
        web::block(move || -> Result<T, ApiError> {
            let mut conn = pool.get().map_err(ApiError::internal)?;
            f(&mut conn, clock.as_ref()).map_err(ApiError::from)
        })
        .await
        .map_err(ApiError::internal)?
    }
}
