//! Periodic upkeep that belongs to no request: expiring messages whose availability ran out
//! (every second), and removing devices past their account's maximum inactivity (hourly). Safe
//! on any number of instances: every change is a conditional update.

use crate::state::AppState;
use actix_web::web;
use std::time::Duration;

/// How often the device upkeep runs (also once at start).
pub const INTERVAL: Duration = Duration::from_secs(3600);
/// How often expired messages are looked for (tracking also expires a message on the spot).
pub const EXPIRY_INTERVAL: Duration = Duration::from_secs(1);
/// Messages expired per round.
const EXPIRY_BATCH: i64 = 500;

/// Starts the upkeep loops on the current actix runtime.
pub fn spawn(state: AppState) {
    spawn_messaging(state.clone());
    actix_web::rt::spawn(async move {
        let mut ticks = actix_web::rt::time::interval(INTERVAL);
        loop {
            ticks.tick().await;
            let (pool, clock, master) = (
                state.pool.clone(),
                std::sync::Arc::clone(&state.clock),
                state.master_key.clone(),
            );
            let round = web::block(move || -> Result<usize, String> {
                let mut conn = pool.get().map_err(|e| e.to_string())?;
                lanyard_enrollment::device::purge_inactive(&mut conn, clock.as_ref(), &master)
                    .map_err(|e| e.to_string())
            })
            .await;
            match round {
                Ok(Ok(0)) => {}
                Ok(Ok(removed)) => tracing::info!(removed, "inactive devices removed"),
                Ok(Err(err)) => tracing::warn!(error = %err, "device upkeep failed"),
                Err(err) => tracing::warn!(error = %err, "device upkeep did not run"),
            }
        }
    });
}

/// Starts the messaging loops only — expiry, callbacks and push wake-ups (auth-api runs them
/// too, beside admin-api).
pub fn spawn_messaging(state: AppState) {
    crate::callback_sender::spawn(state.clone());
    crate::push::spawn(state.clone());
    spawn_expiry(state);
}

fn spawn_expiry(state: AppState) {
    actix_web::rt::spawn(async move {
        let mut ticks = actix_web::rt::time::interval(EXPIRY_INTERVAL);
        loop {
            ticks.tick().await;
            let (pool, clock) = (state.pool.clone(), std::sync::Arc::clone(&state.clock));
            let round = web::block(move || -> Result<usize, String> {
                let mut conn = pool.get().map_err(|e| e.to_string())?;
                lanyard_messaging::message::expire_due(&mut conn, clock.as_ref(), EXPIRY_BATCH)
                    .map_err(|e| e.to_string())
            })
            .await;
            match round {
                Ok(Ok(0)) => {}
                Ok(Ok(expired)) => tracing::debug!(expired, "messages expired"),
                Ok(Err(err)) => tracing::warn!(error = %err, "message expiry failed"),
                Err(err) => tracing::warn!(error = %err, "message expiry did not run"),
            }
        }
    });
}
