//! The storage layer on both backends: migrations in lockstep, identical schemas, idempotent
//! migration, and write transactions that hold under contention.

use diesel::prelude::*;
use lanyard_store::schema::counters;
use lanyard_store::testing::TestDb;
use lanyard_store::{Backend, DbConnection, both_backends, describe_schema, migrate};
use std::collections::BTreeSet;
use std::path::Path;

fn migration_dirs(backend: &str) -> BTreeSet<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../migrations")
        .join(backend);
    std::fs::read_dir(&dir)
        .expect("migrations folder")
        .map(|e| {
            let e = e.expect("entry");
            let name = e.file_name().to_string_lossy().into_owned();
            assert!(
                e.path().join("up.sql").is_file(),
                "{backend}/{name} has no up.sql"
            );
            assert!(
                e.path().join("down.sql").is_file(),
                "{backend}/{name} has no down.sql"
            );
            name
        })
        .collect()
}

#[test]
fn both_migration_folders_list_the_same_migrations() {
    let sqlite = migration_dirs("sqlite");
    let postgres = migration_dirs("postgres");
    assert!(!sqlite.is_empty());
    assert_eq!(
        sqlite, postgres,
        "migrations/sqlite and migrations/postgres differ"
    );
}

#[test]
fn schema_matches_on_both_backends() {
    let sqlite = TestDb::sqlite();
    let sqlite_columns = describe_schema(&mut sqlite.conn()).expect("describe sqlite");
    assert!(sqlite_columns.contains(&("end_users".into(), "oid".into())));
    if let Some(pg) = TestDb::postgres() {
        let pg_columns = describe_schema(&mut pg.conn()).expect("describe postgres");
        assert_eq!(
            sqlite_columns, pg_columns,
            "the two backends' schemas differ"
        );
    }
}

fn migrate_twice_is_a_no_op(db: &TestDb) {
    let applied = migrate(&mut db.conn()).expect("second migration");
    assert!(applied.is_empty(), "migrated again: {applied:?}");
}

fn contended_increments_are_never_lost(db: &TestDb) {
    diesel::insert_into(counters::table)
        .values((counters::name.eq("c"), counters::value.eq(0_i64)))
        .execute(&mut *db.conn())
        .expect("insert counter");
    // Read-then-write in one transaction from many threads: with a deferred BEGIN on SQLite most
    // would fail with "database is locked"; with BEGIN IMMEDIATE and row locks none may.
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                for _ in 0..25 {
                    let mut conn = db.conn();
                    lanyard_store::write_transaction(&mut conn, |c: &mut DbConnection| {
                        let q = counters::table
                            .filter(counters::name.eq("c"))
                            .select(counters::value);
                        // The row lock on PostgreSQL; SQLite's immediate transaction already
                        // holds the only write lock.
                        let v: i64 = match c {
                            DbConnection::Pg(pg) => q.for_update().first(pg)?,
                            DbConnection::Sqlite(lite) => q.first(lite)?,
                        };
                        diesel::update(counters::table.filter(counters::name.eq("c")))
                            .set(counters::value.eq(v + 1))
                            .execute(c)?;
                        Ok::<_, diesel::result::Error>(())
                    })
                    .expect("transaction");
                }
            });
        }
    });
    let v: i64 = counters::table
        .select(counters::value)
        .first(&mut *db.conn())
        .expect("read");
    assert_eq!(v, 200);
}

fn nested_write_transactions_roll_back_inner_only(db: &TestDb) {
    let mut conn = db.conn();
    lanyard_store::write_transaction(&mut conn, |c: &mut DbConnection| {
        diesel::insert_into(counters::table)
            .values((counters::name.eq("outer"), counters::value.eq(1_i64)))
            .execute(c)?;
        let inner: Result<(), diesel::result::Error> =
            lanyard_store::write_transaction(c, |c: &mut DbConnection| {
                diesel::insert_into(counters::table)
                    .values((counters::name.eq("inner"), counters::value.eq(1_i64)))
                    .execute(c)?;
                Err(diesel::result::Error::RollbackTransaction)
            });
        assert!(inner.is_err());
        Ok::<_, diesel::result::Error>(())
    })
    .expect("outer");
    let names: Vec<String> = counters::table
        .select(counters::name)
        .load(&mut *conn)
        .expect("read");
    assert_eq!(names, vec!["outer".to_owned()]);
    assert!(matches!(db.backend(), Backend::Sqlite | Backend::Postgres));
}

both_backends!(
    migrate_twice_is_a_no_op,
    contended_increments_are_never_lost,
    nested_write_transactions_roll_back_inner_only
);
