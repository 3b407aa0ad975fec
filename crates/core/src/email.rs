//! E-mail addresses, parsed at the boundary.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A syntactically plausible e-mail address: `local@domain`, at most 254 characters, no
/// whitespace or control characters, a domain with at least one dot and no empty labels.
///
/// Deliverability is proven by sending mail, not by parsing; this only refuses what can never
/// be an address. The domain is lower-cased, the local part is kept as given.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

/// Why a string is not an [`Email`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidEmail(&'static str);

impl Email {
    /// Parses and normalizes an address.
    pub fn parse(raw: &str) -> Result<Self, InvalidEmail> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(InvalidEmail("must not be empty"));
        }
        if raw.len() > 254 {
            return Err(InvalidEmail("must be at most 254 characters"));
        }
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(InvalidEmail(
                "must not contain spaces or control characters",
            ));
        }
        let (local, domain) = raw
            .rsplit_once('@')
            .ok_or(InvalidEmail("must contain '@'"))?;
        if local.is_empty() || local.len() > 64 {
            return Err(InvalidEmail(
                "the part before '@' must have 1 to 64 characters",
            ));
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2
            || labels.iter().any(|l| {
                l.is_empty()
                    || l.starts_with('-')
                    || l.ends_with('-')
                    || !l.chars().all(|c| c.is_alphanumeric() || c == '-')
            })
        {
            return Err(InvalidEmail("the domain after '@' is not valid"));
        }
        Ok(Self(format!("{local}@{}", domain.to_lowercase())))
    }

    /// The address as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = InvalidEmail;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Email> for String {
    fn from(value: Email) -> Self {
        value.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_addresses_and_lowercases_the_domain() {
        assert_eq!(
            Email::parse(" User.01+x@Example.COM ").map(|e| e.0),
            Ok("User.01+x@example.com".to_owned())
        );
        assert!(Email::parse("a@b.hu").is_ok());
        assert!(Email::parse("józsef@példa.hu").is_ok());
    }

    #[test]
    fn refuses_what_cannot_be_an_address() {
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@localhost",
            "a@b..com",
            "a b@example.com",
            "a@-x.com",
            "a@exa mple.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(Email::parse(&format!("{}@example.com", "a".repeat(65))).is_err());
    }
}
