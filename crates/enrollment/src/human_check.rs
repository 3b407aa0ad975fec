//! A human check that needs no third-party service: a proof of work the person's browser does
//! while they type (the ALTCHA idea). The server hands out a challenge bound to the client's
//! address and signed with a platform key; the browser finds a `nonce` such that
//! `SHA-256(challenge ":" nonce)` starts with [`DIFFICULTY`] zero bits (about 65,000 hashes,
//! a second in a browser) and sends it with the form. A script that wants to try many codes
//! pays that for every attempt, on top of the rate limits.

use chrono::{DateTime, TimeDelta, Utc};
use sha2::{Digest, Sha256};

/// Leading zero bits the hash must have.
pub const DIFFICULTY: u32 = 16;

/// How long a challenge may be used.
const VALIDITY: TimeDelta = TimeDelta::minutes(10);

/// A challenge as the page embeds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// `<expiry unix seconds>.<random hex>`.
    pub challenge: String,
    /// HMAC of the challenge and the client address (hex).
    pub signature: String,
    /// Leading zero bits required.
    pub difficulty: u32,
}

/// Why a check failed (shown to the person).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CheckFailed {
    /// The challenge was not made by this platform for this client.
    #[error("the page's check is not valid; reload the page")]
    Forged,
    /// Too old.
    #[error("the page is too old; reload it and try again")]
    Expired,
    /// This solved challenge was used for an attempt already.
    #[error("the page's check was used already; reload the page and try again")]
    Spent,
    /// The proof of work is missing or wrong (JavaScript off?).
    #[error("the human check was not done; allow JavaScript on this page and try again")]
    NotSolved,
}

/// The platform's key for challenges: derived from its sealed link key, so every instance of
/// device-api signs and checks alike.
pub fn key(
    conn: &mut lanyard_store::DbConnection,
    master: &lanyard_pki::MasterKey,
) -> crate::Result<[u8; 32]> {
    let link_key = lanyard_identity::platform_pki::link_key(conn, master)?;
    Ok(lanyard_pki::hmac_sha256(&link_key, b"human-check")?)
}

fn sign(key: &[u8], client: &str, challenge: &str) -> String {
    let mac = lanyard_pki::hmac_sha256(key, format!("human-check:{client}:{challenge}").as_bytes())
        .unwrap_or_default();
    mac.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new challenge for `client` (its address), signed with `key`.
pub fn issue(key: &[u8], client: &str, now: DateTime<Utc>) -> Challenge {
    let mut bytes = [0u8; 12];
    // A failed random source leaves zeros: the challenge is then predictable but still signed,
    // bound to the client and short-lived.
    let _filled = lanyard_pki::random_bytes(&mut bytes);
    let salt: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let challenge = format!("{}.{salt}", (now + VALIDITY).timestamp());
    Challenge {
        signature: sign(key, client, &challenge),
        challenge,
        difficulty: DIFFICULTY,
    }
}

fn leading_zero_bits(hash: &[u8]) -> u32 {
    let mut bits = 0;
    for byte in hash {
        if *byte == 0 {
            bits += 8;
        } else {
            bits += byte.leading_zeros();
            break;
        }
    }
    bits
}

fn work(challenge: &str, nonce: u64) -> u32 {
    leading_zero_bits(&Sha256::digest(format!("{challenge}:{nonce}").as_bytes()))
}

/// Checks a solved challenge of `client`.
pub fn verify(
    key: &[u8],
    client: &str,
    now: DateTime<Utc>,
    challenge: &str,
    signature: &str,
    nonce: &str,
) -> Result<(), CheckFailed> {
    let expected = sign(key, client, challenge);
    if !lanyard_core::secret::constant_time_eq(expected.as_bytes(), signature.as_bytes()) {
        return Err(CheckFailed::Forged);
    }
    let expires = challenge
        .split('.')
        .next()
        .and_then(|t| t.parse::<i64>().ok())
        .ok_or(CheckFailed::Forged)?;
    if now.timestamp() > expires {
        return Err(CheckFailed::Expired);
    }
    let nonce: u64 = nonce.trim().parse().map_err(|_| CheckFailed::NotSolved)?;
    if work(challenge, nonce) < DIFFICULTY {
        return Err(CheckFailed::NotSolved);
    }
    Ok(())
}

/// Spends a verified challenge: a solved proof of work is good for one attempt only, so a
/// script cannot solve once and try codes for the challenge's whole validity.
pub fn spend(
    conn: &mut lanyard_store::DbConnection,
    clock: &dyn lanyard_core::Clock,
    challenge: &str,
) -> crate::Result<Result<(), CheckFailed>> {
    let first =
        lanyard_identity::throttle::first_use(conn, clock, &format!("human-check:{challenge}"))?;
    Ok(if first {
        Ok(())
    } else {
        Err(CheckFailed::Spent)
    })
}

/// Solves a challenge as the page's script does (for clients without a browser and tests).
pub fn solve(challenge: &str, difficulty: u32) -> u64 {
    (0..u64::MAX)
        .find(|n| work(challenge, *n) >= difficulty)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_solved_challenge_passes_only_for_its_client_and_time() {
        let key = b"0123456789abcdef0123456789abcdef";
        let now = Utc::now();
        let c = issue(key, "192.0.2.1", now);
        let nonce = solve(&c.challenge, c.difficulty).to_string();
        assert_eq!(
            verify(key, "192.0.2.1", now, &c.challenge, &c.signature, &nonce),
            Ok(())
        );
        assert_eq!(
            verify(key, "192.0.2.9", now, &c.challenge, &c.signature, &nonce),
            Err(CheckFailed::Forged)
        );
        assert_eq!(
            verify(
                key,
                "192.0.2.1",
                now + TimeDelta::minutes(11),
                &c.challenge,
                &c.signature,
                &nonce
            ),
            Err(CheckFailed::Expired)
        );
        let wrong = (nonce.parse::<u64>().expect("n") + 1).to_string();
        // The next number is a solution only by a 1-in-65,536 chance; search for a non-solution.
        let unsolved = (0..)
            .map(|n: u64| n.to_string())
            .find(|n| work(&c.challenge, n.parse().expect("n")) < DIFFICULTY)
            .unwrap_or(wrong);
        assert_eq!(
            verify(key, "192.0.2.1", now, &c.challenge, &c.signature, &unsolved),
            Err(CheckFailed::NotSolved)
        );
        assert_eq!(
            verify(key, "192.0.2.1", now, &c.challenge, &c.signature, ""),
            Err(CheckFailed::NotSolved)
        );
    }
}
