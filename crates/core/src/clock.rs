//! Time as a parameter, so that expiry and validity are testable.

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use std::sync::{Arc, Mutex};

/// A source of the current time.
///
/// Times are truncated to microseconds: PostgreSQL keeps microseconds and SQLite keeps whatever it
/// is given, so truncating here makes a value read back from either backend equal to the value
/// written.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time in UTC, truncated to microseconds.
    fn now(&self) -> DateTime<Utc>;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
    }
}

/// A clock that stands still until it is moved; for tests.
#[derive(Debug, Clone)]
pub struct FixedClock(Arc<Mutex<DateTime<Utc>>>);

impl FixedClock {
    /// A clock showing `at` (truncated to microseconds).
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(Arc::new(Mutex::new(at.trunc_subsecs(6))))
    }

    /// Moves the clock forward (or back, with a negative delta).
    pub fn advance(&self, by: TimeDelta) {
        let mut at = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *at += by;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_clock_has_microsecond_precision() {
        let now = SystemClock.now();
        assert_eq!(now.timestamp_subsec_nanos() % 1000, 0);
    }

    #[test]
    fn fixed_clock_moves_only_when_told() {
        let start = DateTime::parse_from_rfc3339("2026-01-02T03:04:05.123456789Z")
            .expect("valid time")
            .with_timezone(&Utc);
        let clock = FixedClock::new(start);
        assert_eq!(clock.now().timestamp_subsec_nanos(), 123_456_000);
        clock.advance(TimeDelta::hours(1));
        assert_eq!(clock.now() - start.trunc_subsecs(6), TimeDelta::hours(1));
    }
}
