//! Wake-ups of the devices' real-time channels: sending a message wakes the channels of its
//! recipients in this process at once. On PostgreSQL the send also notifies the other processes
//! sharing the database (`lanyard_store::notify`), whose listener wakes their channels within
//! milliseconds (and skips its own process's notifications); on SQLite they find it at their
//! next poll.

use lanyard_store::DatabaseTarget;
use lanyard_store::notify::Heard;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::broadcast;

/// How often a channel polls when only its own process wakes it (SQLite).
const POLL_ALONE: Duration = Duration::from_millis(500);
/// How often a channel polls when other processes' wake-ups arrive too (PostgreSQL): only a
/// safety net for wake-ups missed while the listener reconnects.
const POLL_LISTENING: Duration = Duration::from_secs(5);

/// Fan-out of "this person has a new message" (end user or administrator ids), cheap to clone.
#[derive(Debug, Clone)]
pub struct Wakeups {
    sender: broadcast::Sender<String>,
    /// Whether other processes' wake-ups arrive now (the listener is connected).
    across_processes: Arc<AtomicBool>,
}

impl Default for Wakeups {
    fn default() -> Self {
        Self {
            // A slow listener that falls behind only misses wake-ups, never messages: it polls.
            sender: broadcast::channel(4096).0,
            across_processes: Arc::new(AtomicBool::new(false)),
        }
    }
}

impl Wakeups {
    /// Wake-ups of this process and, on PostgreSQL, of every process sharing `target`: a thread
    /// listens for the others' notifications until the last clone of these wake-ups is gone.
    pub fn listening(target: &DatabaseTarget) -> Self {
        let wakeups = Self::default();
        if matches!(target, DatabaseTarget::Postgres(_)) {
            let (target, weak) = (target.clone(), wakeups.sender.downgrade());
            let listening = Arc::clone(&wakeups.across_processes);
            let spawned = std::thread::Builder::new()
                .name("lanyard-wakeups".into())
                .spawn(move || {
                    lanyard_store::notify::listen(
                        &target,
                        lanyard_store::notify::WAKEUPS,
                        |heard| {
                            let Some(sender) = weak.upgrade() else {
                                return false;
                            };
                            match heard {
                                Heard::Listening => listening.store(true, Ordering::Relaxed),
                                // Until it listens again, channels poll as often as alone.
                                Heard::Deaf => listening.store(false, Ordering::Relaxed),
                                Heard::Payload(payload) => {
                                    let mut words = payload.split_whitespace();
                                    // This process's own sends woke its channels already.
                                    if words.next() != Some(lanyard_store::notify::instance()) {
                                        for id in words {
                                            // No channel listening is fine.
                                            let _delivered = sender.send(id.to_owned());
                                        }
                                    }
                                }
                                Heard::Nothing => {}
                            }
                            true
                        },
                    );
                });
            if let Err(err) = spawned {
                tracing::error!(error = %err, "cannot listen for other processes' wake-ups; channels poll");
            }
        }
        wakeups
    }

    /// How often a real-time channel looks for messages by itself: every half second when only
    /// this process wakes it (SQLite, or the listener not connected), every few seconds as a
    /// safety net while other processes' wake-ups arrive too.
    pub fn poll_interval(&self) -> Duration {
        if self.across_processes.load(Ordering::Relaxed) {
            POLL_LISTENING
        } else {
            POLL_ALONE
        }
    }

    /// Wakes the channels of end user `user`.
    pub fn wake(&self, user: &str) {
        // No channel listening is fine.
        let _delivered = self.sender.send(user.to_owned());
    }

    /// A receiver of every wake-up from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.sender.subscribe()
    }
}
