//! Rate limits and backoff: fixed windows counted in the database, so they hold across every
//! instance of every service.

use crate::{IdentityError, Result};
use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use lanyard_core::Clock;
use lanyard_store::schema::rate_limits;
use lanyard_store::{DbConnection, write_transaction};

/// A limit: at most `max` hits per `window`.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    /// Hits allowed in a window.
    pub max: i64,
    /// Window length.
    pub window: TimeDelta,
}

fn current(conn: &mut DbConnection, key: &str, lock: bool) -> Result<Option<(NaiveDateTime, i64)>> {
    let query = rate_limits::table
        .filter(rate_limits::key.eq(key))
        .select((rate_limits::window_start, rate_limits::hits));
    Ok(match conn {
        // Concurrent hits of one key queue on the row lock, so none is lost.
        DbConnection::Pg(pg) if lock => query.for_update().first(pg).optional()?,
        _ => query.first(conn).optional()?,
    })
}

fn limited(start: NaiveDateTime, limit: Limit, now: NaiveDateTime) -> IdentityError {
    IdentityError::RateLimited {
        retry_after_seconds: ((start + limit.window) - now).num_seconds().max(1),
    }
}

/// Fails with [`IdentityError::RateLimited`] when `key` has used up its window, without counting.
pub fn check(conn: &mut DbConnection, clock: &dyn Clock, key: &str, limit: Limit) -> Result<()> {
    let now = clock.now().naive_utc();
    match current(conn, key, false)? {
        Some((start, hits)) if start + limit.window > now && hits >= limit.max => {
            Err(limited(start, limit, now))
        }
        _ => Ok(()),
    }
}

/// Counts one hit of `key`; fails (without counting) when the window is used up.
pub fn hit(conn: &mut DbConnection, clock: &dyn Clock, key: &str, limit: Limit) -> Result<()> {
    match hit_once(conn, clock, key, limit) {
        // A concurrent first hit inserted the row first: count on it.
        Err(IdentityError::Store(lanyard_store::StoreError::Query(e)))
            if lanyard_store::is_unique_violation(&e) =>
        {
            hit_once(conn, clock, key, limit)
        }
        other => other,
    }
}

fn hit_once(conn: &mut DbConnection, clock: &dyn Clock, key: &str, limit: Limit) -> Result<()> {
    let now = clock.now().naive_utc();
    write_transaction(conn, |conn| {
        match current(conn, key, true)? {
            Some((start, hits)) if start + limit.window > now => {
                if hits >= limit.max {
                    return Err(limited(start, limit, now));
                }
                diesel::update(rate_limits::table.filter(rate_limits::key.eq(key)))
                    .set(rate_limits::hits.eq(rate_limits::hits + 1))
                    .execute(conn)?;
            }
            Some(_) => {
                diesel::update(rate_limits::table.filter(rate_limits::key.eq(key)))
                    .set((rate_limits::window_start.eq(now), rate_limits::hits.eq(1)))
                    .execute(conn)?;
            }
            None => {
                diesel::insert_into(rate_limits::table)
                    .values((
                        rate_limits::key.eq(key),
                        rate_limits::window_start.eq(now),
                        rate_limits::hits.eq(1),
                    ))
                    .execute(conn)?;
            }
        }
        Ok(())
    })
}

/// Forgets `key` (e.g. after a successful login).
pub fn clear(conn: &mut DbConnection, key: &str) -> Result<()> {
    diesel::delete(rate_limits::table.filter(rate_limits::key.eq(key))).execute(conn)?;
    Ok(())
}

/// Records the first use of `key` (a single-use token such as a solved proof of work); `false`
/// when it was used before. Concurrent uses race on the primary key, so exactly one wins.
pub fn first_use(conn: &mut DbConnection, clock: &dyn Clock, key: &str) -> Result<bool> {
    // In a transaction of its own (a savepoint inside the caller's): on PostgreSQL a unique
    // violation would otherwise abort the caller's transaction.
    let inserted = write_transaction(conn, |conn| {
        Ok::<_, IdentityError>(
            diesel::insert_into(rate_limits::table)
                .values((
                    rate_limits::key.eq(key),
                    rate_limits::window_start.eq(clock.now().naive_utc()),
                    rate_limits::hits.eq(1),
                ))
                .execute(conn)?,
        )
    });
    match inserted {
        Ok(_) => Ok(true),
        Err(IdentityError::Store(lanyard_store::StoreError::Query(e)))
            if lanyard_store::is_unique_violation(&e) =>
        {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}
