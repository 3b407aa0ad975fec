//! The wire form of times: ISO 8601, UTC, with milliseconds and `Z`
//! (`2026-12-07T22:13:07.123Z`) — how the PassBy[ME] APIs, Lanyard's own APIs, callbacks,
//! evidences' statements and reports write a time. One place, so that none drifts.

use chrono::{DateTime, Utc};

/// The `chrono` format of [`timestamp`].
pub const TIMESTAMP_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.3fZ";

/// `at` as the wire writes it.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.format(TIMESTAMP_FORMAT).to_string()
}

/// For `#[serde(serialize_with = "lanyard_core::wire::serialize_timestamp")]`.
pub fn serialize_timestamp<S: serde::Serializer>(
    at: &DateTime<Utc>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&timestamp(*at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_and_z() {
        let at = DateTime::parse_from_rfc3339("2026-12-07T22:13:07.123456+01:00")
            .expect("time")
            .with_timezone(&Utc);
        assert_eq!(timestamp(at), "2026-12-07T21:13:07.123Z");
    }
}
