//! Isolated, migrated databases for tests, on both backends.
//!
//! Every test gets its own database: a SQLite file in a temporary directory, or a PostgreSQL
//! schema of its own (the connection's `search_path` points at it) that is dropped afterwards.
//! Nothing is shared between tests, so they run in parallel without `#[serial]`.
//!
//! PostgreSQL runs when `LANYARD_TEST_POSTGRES_URL` is set. In CI (`CI` set) its absence is a
//! failure, so a misconfigured CI cannot pass by silently skipping half of the suite.

use crate::{Backend, DatabaseTarget, Pool, PoolOptions, PooledConnection, migrate, pool};
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use lanyard_core::SecretString;
use lanyard_core::codes::random_base62;

/// Environment variable naming the PostgreSQL server for tests.
pub const POSTGRES_URL_VAR: &str = "LANYARD_TEST_POSTGRES_URL";

/// A migrated database that exists for the lifetime of this value.
pub struct TestDb {
    backend: Backend,
    target: DatabaseTarget,
    pool: Pool,
    pg_cleanup: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for TestDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDb")
            .field("backend", &self.backend)
            .finish()
    }
}

impl TestDb {
    /// A fresh SQLite database in a temporary directory.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let target = DatabaseTarget::Sqlite(dir.path().join("lanyard.db"));
        Self::ready(Backend::Sqlite, target, None, Some(dir))
    }

    /// A fresh PostgreSQL schema, or `None` (with a note on stderr) when
    /// `LANYARD_TEST_POSTGRES_URL` is not set outside CI.
    pub fn postgres() -> Option<Self> {
        let Ok(base) = std::env::var(POSTGRES_URL_VAR) else {
            assert!(
                std::env::var_os("CI").is_none(),
                "{POSTGRES_URL_VAR} must be set in CI: every domain test runs on PostgreSQL too"
            );
            eprintln!("{POSTGRES_URL_VAR} is not set: PostgreSQL half of this test skipped");
            return None;
        };
        let schema = format!("t_{}", random_base62(20).to_lowercase());
        let mut admin = PgConnection::establish(&base).expect("connect to the test PostgreSQL");
        admin
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .expect("create test schema");
        let separator = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{separator}options=-csearch_path%3D{schema}");
        let target = DatabaseTarget::Postgres(SecretString::new(url));
        Some(Self::ready(
            Backend::Postgres,
            target,
            Some((base, schema)),
            None,
        ))
    }

    /// A database of the given backend (`None` as in [`TestDb::postgres`]).
    pub fn of(backend: Backend) -> Option<Self> {
        match backend {
            Backend::Sqlite => Some(Self::sqlite()),
            Backend::Postgres => Self::postgres(),
        }
    }

    fn ready(
        backend: Backend,
        target: DatabaseTarget,
        pg_cleanup: Option<(String, String)>,
        dir: Option<tempfile::TempDir>,
    ) -> Self {
        let options = PoolOptions {
            max_size: 16,
            ..PoolOptions::default()
        };
        let pool = pool(target.clone(), &options);
        let db = Self {
            backend,
            target,
            pool,
            pg_cleanup,
            _dir: dir,
        };
        migrate(&mut db.conn()).expect("migrate test database");
        db
    }

    /// The backend of this database.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool of this database.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Where this database lives.
    pub fn target(&self) -> &DatabaseTarget {
        &self.target
    }

    /// A connection from the pool.
    pub fn conn(&self) -> PooledConnection {
        self.pool.get().expect("test database connection")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((base, schema)) = &self.pg_cleanup {
            match PgConnection::establish(base) {
                Ok(mut admin) => {
                    if let Err(err) =
                        admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                    {
                        eprintln!("could not drop test schema {schema}: {err}");
                    }
                }
                Err(err) => eprintln!("could not drop test schema {schema}: {err}"),
            }
        }
    }
}

/// Whose phone a test device is.
#[derive(Debug, Clone, Copy)]
pub enum DeviceOwner<'a> {
    /// An end user's (their id).
    EndUser(&'a str),
    /// An administrator's (their id).
    Administrator(&'a str),
}

/// An active device `id` of account `account`, as enrollment writes it (type `ANDROID`,
/// `APPLE` or `OTHER`, with a push token or none): for tests of what reads devices — messaging,
/// push — without enrolling a real phone.
pub fn active_device(
    conn: &mut crate::DbConnection,
    id: &str,
    account: &str,
    owner: DeviceOwner<'_>,
    device_type: &str,
    push_token: Option<&str>,
) {
    use crate::schema::devices;
    use diesel::prelude::*;
    let now = chrono::Utc::now().naive_utc();
    let (end_user, administrator) = match owner {
        DeviceOwner::EndUser(user) => (Some(user), None),
        DeviceOwner::Administrator(admin) => (None, Some(admin)),
    };
    diesel::insert_into(devices::table)
        .values((
            devices::id.eq(id),
            devices::account_id.eq(account),
            devices::end_user_id.eq(end_user),
            devices::administrator_id.eq(administrator),
            devices::enrollment_id.eq(format!("enrollment-{id}")),
            devices::name.eq(id),
            devices::vendor_id.eq(id),
            devices::device_type.eq(device_type),
            devices::app_version.eq("1.0"),
            devices::deactivation_hash.eq("x"),
            devices::status.eq("active"),
            devices::created_at.eq(now),
            devices::last_seen_at.eq(now),
            devices::push_registration.eq(push_token),
        ))
        .execute(conn)
        .expect("test device");
}

/// Declares, for each named function `fn name(db: &TestDb)`, a module `name` with two tests,
/// `sqlite` and `postgres`, that call it with a fresh database of each backend.
///
/// ```ignore
/// fn aliases_are_unique(db: &TestDb) { /* ... */ }
/// lanyard_store::both_backends!(aliases_are_unique);
/// ```
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[test]
                fn sqlite() {
                    super::$name(&$crate::testing::TestDb::sqlite());
                }

                #[test]
                fn postgres() {
                    if let Some(db) = $crate::testing::TestDb::postgres() {
                        super::$name(&db);
                    }
                }
            }
        )+
    };
}
