//! Periodic upkeep that belongs to no request: today, removing devices past their account's
//! maximum inactivity. Safe on any number of instances (each device is deactivated once).

use crate::state::AppState;
use actix_web::web;
use std::time::Duration;

/// How often the upkeep runs (also once at start).
pub const INTERVAL: Duration = Duration::from_secs(3600);

/// Starts the upkeep loop on the current actix runtime.
pub fn spawn(state: AppState) {
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
