//! Object identifiers (OIDs) of accounts and end users.
//!
//! An installation chooses a root arc at bootstrap. Accounts get `<root>.3.2.<n>`, end users
//! `<root>.3.3.<n>`; the `shortOID` is the last three arcs (`3.3.148`), as in the PassBy[ME] API.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a string is not an OID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a dotted OID (digits separated by dots, first arc 0, 1 or 2): {0}")]
pub struct InvalidOid(String);

fn valid_dotted(s: &str) -> bool {
    let mut arcs = s.split('.');
    let Some(first) = arcs.next() else {
        return false;
    };
    if !matches!(first, "0" | "1" | "2") {
        return false;
    }
    let mut count = 1;
    for arc in arcs {
        count += 1;
        if arc.is_empty()
            || !arc.bytes().all(|b| b.is_ascii_digit())
            || (arc.len() > 1 && arc.starts_with('0'))
        {
            return false;
        }
    }
    count >= 2 && s.len() <= 200
}

/// The root arc of an installation, under which all its OIDs are allocated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OidRoot(String);

impl OidRoot {
    /// Parses a configured root arc such as `1.3.6.1.4.1.21528`.
    pub fn parse(s: &str) -> Result<Self, InvalidOid> {
        if valid_dotted(s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidOid(s.to_owned()))
        }
    }

    /// A fresh root under `2.25` from a random UUID (ITU-T X.667): unique without registration.
    pub fn random_uuid_arc() -> Self {
        Self(format!("2.25.{}", uuid::Uuid::new_v4().as_u128()))
    }

    /// The OID of the `n`th account.
    pub fn account(&self, n: i64) -> Oid {
        Oid(format!("{}.3.2.{n}", self.0))
    }

    /// The OID of the `n`th end user.
    pub fn end_user(&self, n: i64) -> Oid {
        Oid(format!("{}.3.3.{n}", self.0))
    }

    /// The root as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for OidRoot {
    type Error = InvalidOid;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<OidRoot> for String {
    fn from(value: OidRoot) -> Self {
        value.0
    }
}

/// A full OID of an account or end user.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Oid(String);

impl Oid {
    /// Parses a dotted OID.
    pub fn parse(s: &str) -> Result<Self, InvalidOid> {
        if valid_dotted(s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidOid(s.to_owned()))
        }
    }

    /// Wraps an OID read from storage.
    pub fn from_stored(value: String) -> Self {
        Self(value)
    }

    /// The last three arcs, e.g. `3.3.148`.
    pub fn short(&self) -> &str {
        let mut dots = self.0.rmatch_indices('.').map(|(i, _)| i);
        match (dots.next(), dots.next(), dots.next()) {
            (Some(_), Some(_), Some(third)) => &self.0[third + 1..],
            _ => &self.0,
        }
    }

    /// The OID as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Oid {
    type Error = InvalidOid;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Oid> for String {
    fn from(value: Oid) -> Self {
        value.0
    }
}

impl fmt::Display for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocates_under_the_root_with_the_passbyme_short_form() {
        let root = OidRoot::parse("1.3.6.1.4.1.21528").expect("valid root");
        let user = root.end_user(148);
        assert_eq!(user.as_str(), "1.3.6.1.4.1.21528.3.3.148");
        assert_eq!(user.short(), "3.3.148");
        assert_eq!(root.account(100).as_str(), "1.3.6.1.4.1.21528.3.2.100");
        assert_eq!(root.account(100).short(), "3.2.100");
    }

    #[test]
    fn random_root_is_under_2_25_and_parses() {
        let root = OidRoot::random_uuid_arc();
        assert!(root.as_str().starts_with("2.25."));
        assert!(OidRoot::parse(root.as_str()).is_ok());
        assert_ne!(root, OidRoot::random_uuid_arc());
    }

    #[test]
    fn refuses_non_oids() {
        for bad in [
            "", "1", "3.1", "1..2", "1.02", "1.a", "1.2.", ".1.2", "1.2 ",
        ] {
            assert!(Oid::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(Oid::parse("0.1").is_ok());
    }
}
