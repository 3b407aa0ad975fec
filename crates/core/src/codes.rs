//! Random codes from the operating system's CSPRNG.

use rand::Rng;
use rand::distr::Alphanumeric;

/// A base62 string of `len` characters from a CSPRNG (`rand`'s thread RNG is a CSPRNG reseeded
/// from the operating system).
///
/// Used for enrollment ids, invitation codes, message ids, one-time link tokens and API tokens;
/// 16 characters carry 95 bits.
pub fn random_base62(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_base62_of_the_asked_length_and_differ() {
        let a = random_base62(24);
        let b = random_base62(24);
        assert_eq!(a.len(), 24);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }
}
