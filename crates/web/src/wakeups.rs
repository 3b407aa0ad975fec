//! In-process wake-ups of the devices' real-time channels: sending a message wakes the channels
//! of its recipients in this process at once; channels served by another process (sharing the
//! database) find it at their next poll.

use tokio::sync::broadcast;

/// Fan-out of "this person has a new message" (end user ids), cheap to clone.
#[derive(Debug, Clone)]
pub struct Wakeups(broadcast::Sender<String>);

impl Default for Wakeups {
    fn default() -> Self {
        // A slow listener that falls behind only misses wake-ups, never messages: it polls.
        Self(broadcast::channel(4096).0)
    }
}

impl Wakeups {
    /// Wakes the channels of end user `user`.
    pub fn wake(&self, user: &str) {
        // No channel listening is fine.
        let _delivered = self.0.send(user.to_owned());
    }

    /// A receiver of every wake-up from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.0.subscribe()
    }
}
