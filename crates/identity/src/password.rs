//! Administrator passwords: a length-based policy with a check against common and guessable
//! passwords (NIST SP 800-63B §5.1.1.2), hashed with argon2id.

use crate::{IdentityError, Result};
use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// Shortest password accepted (NIST: at least 8 when a second factor protects the account).
pub const MIN_CHARS: usize = 8;
/// Longest password accepted (NIST: at least 64 must be allowed).
pub const MAX_CHARS: usize = 256;

/// The policy in words, shown next to every password field.
pub const POLICY: &str = "At least 8 characters (spaces and any letters allowed; a long phrase is best). \
    Common, breached or easily guessed passwords, and ones built from your name or e-mail, are refused.";

/// Checks `password` against the policy; `context` holds words the password must not be built
/// from (e-mail, name). The error names the field `field`.
pub fn check_policy(field: &'static str, password: &str, context: &[&str]) -> Result<()> {
    let chars = password.chars().count();
    if chars < MIN_CHARS {
        return Err(IdentityError::invalid(
            field,
            format!("must be at least {MIN_CHARS} characters"),
        ));
    }
    if chars > MAX_CHARS {
        return Err(IdentityError::invalid(
            field,
            format!("must be at most {MAX_CHARS} characters"),
        ));
    }
    // zxcvbn matches against lists of common passwords, names and words, keyboard patterns,
    // dates and the context words; score 3 means "safely unguessable: ~10^8 guesses or more".
    // zxcvbn matches user inputs as whole words, so an e-mail or a full name is split into its
    // parts ("anna.smith@example.com" → anna, smith, example).
    let words: Vec<String> = context
        .iter()
        .flat_map(|c| c.split(|ch: char| !ch.is_alphanumeric()))
        .filter(|w| w.chars().count() >= 3)
        .map(str::to_lowercase)
        .collect();
    // A password made of those words and digits only is refused outright.
    let mut rest: String = password
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect();
    for word in &words {
        rest = rest.replace(word.as_str(), "");
    }
    if rest.chars().filter(|c| !c.is_ascii_digit()).count() < 4 {
        return Err(IdentityError::invalid(
            field,
            "must not be built from your name or e-mail",
        ));
    }
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let estimate = zxcvbn::zxcvbn(password, &words);
    if (estimate.score() as u8) < 3 {
        return Err(IdentityError::invalid(
            field,
            "is too easy to guess (a common password, or built from words, names, dates or your e-mail); use a longer phrase",
        ));
    }
    Ok(())
}

/// The argon2id PHC string of `password` (random salt, the crate's default parameters:
/// 19 MiB, 2 passes — OWASP's recommended minimum).
pub fn hash(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| IdentityError::Inconsistent(format!("password hashing failed: {e}")))
}

/// Whether `password` matches the stored `phc` string (constant time in the crate).
pub fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// Spends the time of one verification without a stored hash, so that a login with an unknown
/// e-mail takes as long as one with a wrong password.
pub fn verify_dummy(password: &str) {
    const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$5SVYTcZFmpm0ASSnlpa6AGvqoK6ovr+7NjfFzWtwXsA";
    let _same_time = verify(password, DUMMY);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_is_length_based_and_refuses_common_passwords() {
        assert!(check_policy("password", "short", &[]).is_err());
        for common in [
            "password123",
            "qwertyuiop",
            "12345678",
            "iloveyou1",
            "Password1!",
        ] {
            assert!(
                check_policy("password", common, &[]).is_err(),
                "{common} accepted"
            );
        }
        assert!(
            check_policy(
                "password",
                "bosspersondist",
                &["boss@dist.example", "Boss Person"]
            )
            .is_err()
        );
        assert!(check_policy("password", "Anna.Smith-1990", &["anna.smith@example.com"]).is_err());
        assert!(check_policy("password", "correct horse battery staple", &[]).is_ok());
        assert!(check_policy("password", "Tükörfúrógép-hajnal-7", &[]).is_ok());
        match check_policy("newPassword", "x", &[]) {
            Err(IdentityError::Invalid { field, .. }) => assert_eq!(field, "newPassword"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let h = hash("correct horse battery staple").expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse battery staple", &h));
        assert!(!verify("correct horse battery stapler", &h));
        assert!(!verify("anything", "not a hash"));
        verify_dummy("x");
    }
}
