//! Storage for Lanyard: one diesel schema and one connection type over SQLite and PostgreSQL.
//!
//! - [`DbConnection`] is a diesel `MultiConnection`: the same query code runs on both backends.
//! - [`DatabaseTarget`] chooses the backend from the configured URL.
//! - [`Pool`] is an r2d2 pool whose SQLite connections get their pragmas on connect.
//! - [`write_transaction`] starts SQLite write transactions with `BEGIN IMMEDIATE` (a deferred
//!   `BEGIN` that later upgrades to a write lock bypasses `busy_timeout` and fails under
//!   contention) and PostgreSQL ones with a plain `BEGIN`.
//! - [`migrate`] runs the embedded migrations of the connection's backend.
//!
//! Domain crates own their row structs and queries; this crate owns only the schema.

pub mod schema;
#[cfg(feature = "testing")]
pub mod testing;

pub mod notify;
mod target;

pub use target::DatabaseTarget;

use diesel::ConnectionError;
use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use std::time::Duration;

mod connection {
    #![expect(
        missing_docs,
        reason = "diesel's MultiConnection derive generates items without doc comments"
    )]
    use diesel::{PgConnection, SqliteConnection};

    /// A connection to either backend. Queries written against it compile once and run on both.
    #[derive(diesel::MultiConnection)]
    pub enum DbConnection {
        /// PostgreSQL (production).
        Pg(PgConnection),
        /// SQLite (the embedded default).
        Sqlite(SqliteConnection),
    }
}

pub use connection::{DbConnection, MultiBackend};

/// Which backend a connection or URL uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

impl DbConnection {
    /// The backend of this connection.
    pub fn backend(&self) -> Backend {
        match self {
            Self::Pg(_) => Backend::Postgres,
            Self::Sqlite(_) => Backend::Sqlite,
        }
    }
}

/// A pool of connections.
pub type Pool = r2d2::Pool<ConnectionManager>;
/// A connection borrowed from a [`Pool`].
pub type PooledConnection = r2d2::PooledConnection<ConnectionManager>;

/// Storage failures. Domain crates wrap this and map it to an internal error, except for the
/// unique and foreign-key violations they expect and name themselves.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A query failed.
    #[error("database query failed: {0}")]
    Query(#[from] DieselError),
    /// No connection could be had from the pool in time.
    #[error("no database connection available: {0}")]
    Pool(#[from] r2d2::Error),
    /// Connecting failed.
    #[error("cannot connect to the database: {0}")]
    Connect(#[from] ConnectError),
    /// Migrations failed.
    #[error("database migration failed: {0}")]
    Migration(String),
    /// The configured database URL is unusable.
    #[error("database.url: {0}")]
    InvalidUrl(String),
}

impl lanyard_core::Coded for StoreError {
    fn code(&self) -> lanyard_core::ErrorCode {
        lanyard_core::ErrorCode::Internal
    }
}

/// Why a connection could not be made or prepared.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The server or file refused the connection.
    #[error(transparent)]
    Connection(#[from] ConnectionError),
    /// Preparing the connection (pragmas) failed.
    #[error(transparent)]
    Setup(#[from] DieselError),
}

/// Opens connections for the pool, choosing the backend from the target, and prepares SQLite
/// connections (WAL, `synchronous=NORMAL`, `busy_timeout`, foreign keys).
#[derive(Debug, Clone)]
pub struct ConnectionManager {
    target: DatabaseTarget,
}

/// Pragmas applied to every SQLite connection. `busy_timeout` first so that switching the
/// journal mode waits for a concurrent connection instead of failing.
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;";

impl ConnectionManager {
    /// A manager for `target`.
    pub fn new(target: DatabaseTarget) -> Self {
        Self { target }
    }

    /// Opens one connection outside any pool.
    pub fn establish(&self) -> Result<DbConnection, ConnectError> {
        match &self.target {
            DatabaseTarget::Postgres(url) => {
                Ok(DbConnection::Pg(PgConnection::establish(url.expose())?))
            }
            DatabaseTarget::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(&path.to_string_lossy())?;
                conn.batch_execute(SQLITE_PRAGMAS)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = ConnectError;

    fn connect(&self) -> Result<DbConnection, ConnectError> {
        self.establish()
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), ConnectError> {
        conn.batch_execute("SELECT 1").map_err(ConnectError::Setup)
    }

    fn has_broken(&self, _conn: &mut DbConnection) -> bool {
        false
    }
}

/// Pool settings.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// Maximum number of open connections.
    pub max_size: u32,
    /// How long a caller waits for a free connection.
    pub connection_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_size: 10,
            connection_timeout: Duration::from_secs(10),
        }
    }
}

/// Builds a pool. Connects lazily (`min_idle` 0) so a service can start and report "not ready"
/// while the database is down, instead of refusing to start.
pub fn pool(target: DatabaseTarget, options: &PoolOptions) -> Pool {
    r2d2::Pool::builder()
        .max_size(options.max_size)
        .min_idle(Some(0))
        .connection_timeout(options.connection_timeout)
        .test_on_check_out(false)
        .build_unchecked(ConnectionManager::new(target))
}

/// SQLite has one writer at a time. Writers of this process queue here, in order, instead of in
/// SQLite's busy handler, which sleeps in growing steps (up to 100 ms) and left the database
/// idle between transactions under load: the authorization benchmark at 64 concurrent spent
/// most of its latency there. Other processes on the same file still meet `busy_timeout`.
static SQLITE_WRITER: parking_lot::Mutex<()> = parking_lot::Mutex::new(());

/// How long a writer waits for the queue before going to SQLite anyway (so that a transaction
/// that itself waits for another writer of this process — none should — cannot hang forever).
const SQLITE_WRITER_WAIT: Duration = Duration::from_secs(5);

/// Runs `f` in a write transaction: `BEGIN IMMEDIATE` on SQLite (a savepoint when already inside
/// one), `BEGIN` on PostgreSQL. Commits when `f` returns `Ok`, rolls back otherwise.
pub fn write_transaction<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<DieselError>,
{
    // Held until the transaction ends (dropped after the match below).
    let mut _writer = None;
    match conn {
        DbConnection::Sqlite(c) => {
            let depth = AnsiTransactionManager::transaction_manager_status_mut(c)
                .transaction_depth()
                .map_err(E::from)?;
            if depth.is_none() {
                _writer = SQLITE_WRITER.try_lock_for(SQLITE_WRITER_WAIT);
                AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?;
            } else {
                AnsiTransactionManager::begin_transaction(c)?;
            }
        }
        DbConnection::Pg(c) => AnsiTransactionManager::begin_transaction(c)?,
    }
    match f(conn) {
        Ok(value) => {
            <DbConnection as Connection>::TransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(err) => {
            if let Err(rollback) =
                <DbConnection as Connection>::TransactionManager::rollback_transaction(conn)
            {
                // The original error is what the caller needs; the failed rollback is logged
                // because the connection may now be unusable (r2d2 will test it).
                tracing::error!(error = %rollback, "rollback failed");
            }
            Err(err)
        }
    }
}

/// Whether `err` is a unique-constraint violation (the same kind on both backends).
pub fn is_unique_violation(err: &DieselError) -> bool {
    matches!(
        err,
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)
    )
}

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// Key of the PostgreSQL advisory lock that serializes migrations of several instances
/// starting at once (the bytes of "lanyard1").
const MIGRATION_LOCK_KEY: i64 = 0x6c61_6e79_6172_6431;

/// Runs the pending migrations of the connection's backend; returns the names of those applied.
/// Safe to run from several processes at once: SQLite serializes them with an immediate
/// transaction, PostgreSQL with an advisory lock.
pub fn migrate(conn: &mut DbConnection) -> Result<Vec<String>, StoreError> {
    let names = |applied: Vec<diesel::migration::MigrationVersion<'_>>| {
        applied.iter().map(ToString::to_string).collect::<Vec<_>>()
    };
    match conn {
        DbConnection::Sqlite(c) => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?;
            match c.run_pending_migrations(SQLITE_MIGRATIONS) {
                Ok(applied) => {
                    let applied = names(applied);
                    AnsiTransactionManager::commit_transaction(c)?;
                    Ok(applied)
                }
                Err(err) => {
                    AnsiTransactionManager::rollback_transaction(c)?;
                    Err(StoreError::Migration(err.to_string()))
                }
            }
        }
        DbConnection::Pg(c) => {
            diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))
                .execute(c)?;
            let result = c
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(names)
                .map_err(|err| StoreError::Migration(err.to_string()));
            diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"))
                .execute(c)?;
            result
        }
    }
}

/// Checks that the database answers (readiness).
pub fn ping(conn: &mut DbConnection) -> Result<(), StoreError> {
    conn.batch_execute("SELECT 1")?;
    Ok(())
}

/// The tables and their columns as the database reports them, sorted; used to check that the
/// two backends' migrations produce the same schema.
pub fn describe_schema(conn: &mut DbConnection) -> Result<Vec<(String, String)>, StoreError> {
    #[derive(QueryableByName)]
    struct Column {
        #[diesel(sql_type = diesel::sql_types::Text)]
        table_name: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        column_name: String,
    }
    let sql = match conn.backend() {
        Backend::Sqlite => {
            "SELECT m.name AS table_name, p.name AS column_name \
             FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' \
             AND m.name <> '__diesel_schema_migrations'"
        }
        Backend::Postgres => {
            "SELECT table_name::text AS table_name, column_name::text AS column_name \
             FROM information_schema.columns WHERE table_schema = current_schema() \
             AND table_name <> '__diesel_schema_migrations'"
        }
    };
    let mut columns: Vec<(String, String)> = diesel::sql_query(sql)
        .load::<Column>(conn)?
        .into_iter()
        .map(|c| (c.table_name, c.column_name))
        .collect();
    columns.sort();
    Ok(columns)
}
