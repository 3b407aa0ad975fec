//! Parsed certificates and keys, remembered by the SHA-256 of the bytes they were parsed from.
//!
//! OpenSSL 3 decodes the public key of every certificate it parses through its provider
//! decoders, which costs far more than the signature checks around it: measured with the
//! authorization benchmark, parsing the same few CA, device and signer certificates again on
//! every request was half of the server's CPU time. The stored bytes stay the source of truth
//! (callers still read them from the database); only the parse is skipped when the bytes are
//! the same, so a rotated or changed certificate is parsed afresh.

use openssl::pkey::{PKey, Private};
use openssl::x509::X509;
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

/// More distinct inputs than this and the memo starts over (it holds CA, signer and recently
/// seen client certificates, far fewer in practice).
const CAPACITY: usize = 4096;

type Digest = [u8; 32];

struct Memo<T> {
    entries: Mutex<HashMap<Digest, T>>,
}

impl<T: Clone> Memo<T> {
    fn new() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn get_or<E>(
        &self,
        tag: &[u8],
        input: &[u8],
        parse: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        let mut hasher = openssl::sha::Sha256::new();
        hasher.update(tag);
        hasher.update(input);
        let digest = hasher.finish();
        if let Some(found) = self.lock().get(&digest) {
            return Ok(found.clone());
        }
        let parsed = parse()?;
        let mut entries = self.lock();
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(digest, parsed.clone());
        Ok(parsed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Digest, T>> {
        // A panic while holding the lock cannot leave a half-made entry: insert is one call.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

static CERTIFICATES: LazyLock<Memo<X509>> = LazyLock::new(Memo::new);
static PRIVATE_KEYS: LazyLock<Memo<PKey<Private>>> = LazyLock::new(Memo::new);

/// `X509::from_pem`, remembered (cloning an `X509` only counts a reference).
pub fn certificate_from_pem(pem: &[u8]) -> Result<X509, openssl::error::ErrorStack> {
    CERTIFICATES.get_or(b"pem", pem, || X509::from_pem(pem))
}

/// `X509::from_der`, remembered.
pub fn certificate_from_der(der: &[u8]) -> Result<X509, openssl::error::ErrorStack> {
    CERTIFICATES.get_or(b"der", der, || X509::from_der(der))
}

/// A private key from its sealed form: `open` unseals it to DER, once per distinct `sealed`
/// (the digest of the sealed bytes is the map key, never the plain key). For the platform's own
/// signing keys, which every evidence would otherwise unseal and decode.
pub fn private_key_from_sealed(
    sealed: &[u8],
    open: impl FnOnce() -> crate::Result<Vec<u8>>,
) -> crate::Result<PKey<Private>> {
    PRIVATE_KEYS.get_or(b"sealed", sealed, || {
        let der = open()?;
        Ok(PKey::private_key_from_der(&der)?)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{KeySpec, generate_key};

    #[test]
    fn the_same_bytes_give_the_same_certificate_and_other_bytes_another() {
        let key = generate_key(KeySpec::EcP256).expect("key");
        let now = chrono::Utc::now();
        let ca = crate::Ca::new_root(
            &crate::Subject::cn("Memo Root"),
            key,
            now,
            now + chrono::TimeDelta::days(1),
        )
        .expect("ca");
        let pem = ca.cert.to_pem().expect("pem");
        let a = certificate_from_pem(&pem).expect("parse");
        let b = certificate_from_pem(&pem).expect("parse");
        assert_eq!(a.to_der().expect("der"), b.to_der().expect("der"));
        let der = a.to_der().expect("der");
        assert_eq!(
            certificate_from_der(&der)
                .expect("der")
                .to_der()
                .expect("der"),
            der
        );
        assert!(certificate_from_pem(b"not a certificate").is_err());
        assert!(certificate_from_der(b"\x30\x03\x02\x01\x01").is_err());
    }
}
