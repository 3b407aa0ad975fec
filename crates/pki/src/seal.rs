//! Secrets at rest (CA private keys, PFX passwords) sealed with AES-256-GCM under the master key.
//! The stored form is `v1.<key id>.<base64 nonce|ciphertext|tag>`; the key id tells which master
//! key sealed it (rotation re-seals), and the associated data binds a value to its row, so a
//! sealed value copied to another row does not open.

use crate::{PkiError, Result};
use openssl::hash::{MessageDigest, hash};
use openssl::symm::{Cipher, decrypt_aead, encrypt_aead};

/// Length of a master key in bytes.
pub const MASTER_KEY_LEN: usize = 32;

/// The master key.
#[derive(Clone)]
pub struct MasterKey {
    key: [u8; MASTER_KEY_LEN],
    id: String,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey({})", self.id)
    }
}

impl MasterKey {
    /// A new random master key.
    pub fn generate() -> Result<Self> {
        let mut key = [0u8; MASTER_KEY_LEN];
        openssl::rand::rand_bytes(&mut key)?;
        Self::from_bytes(&key)
    }

    /// The master key from its raw bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let key: [u8; MASTER_KEY_LEN] = bytes.try_into().map_err(|_| {
            PkiError::invalid("masterKey", format!("must be {MASTER_KEY_LEN} bytes"))
        })?;
        let digest = hash(MessageDigest::sha256(), &key)?;
        let id = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        Ok(Self { key, id })
    }

    /// The master key from its text form (base64 of 32 bytes, as in the key file).
    pub fn from_text(text: &str) -> Result<Self> {
        let bytes = openssl::base64::decode_block(text.trim())
            .map_err(|_| PkiError::invalid("masterKey", "must be base64"))?;
        Self::from_bytes(&bytes)
    }

    /// Text form for the key file.
    pub fn to_text(&self) -> String {
        openssl::base64::encode_block(&self.key)
    }

    /// Short public identifier (first bytes of its SHA-256), stored beside sealed values.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Seals `plain`, bound to `context` (e.g. the row it is stored in).
    pub fn seal(&self, context: &str, plain: &[u8]) -> Result<String> {
        let mut nonce = [0u8; 12];
        openssl::rand::rand_bytes(&mut nonce)?;
        let mut tag = [0u8; 16];
        let ct = encrypt_aead(
            Cipher::aes_256_gcm(),
            &self.key,
            Some(&nonce),
            context.as_bytes(),
            plain,
            &mut tag,
        )?;
        let mut blob = Vec::with_capacity(12 + ct.len() + 16);
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&ct);
        blob.extend_from_slice(&tag);
        Ok(format!(
            "v1.{}.{}",
            self.id,
            openssl::base64::encode_block(&blob)
        ))
    }

    /// Which master key sealed `sealed` (its id), if it is a sealed value at all.
    pub fn sealed_by(sealed: &str) -> Option<&str> {
        let mut parts = sealed.splitn(3, '.');
        (parts.next() == Some("v1")).then(|| parts.next()).flatten()
    }

    /// Opens what [`Self::seal`] sealed with the same `context`.
    pub fn open(&self, context: &str, sealed: &str) -> Result<Vec<u8>> {
        let mut parts = sealed.splitn(3, '.');
        let (Some("v1"), Some(id), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(PkiError::Unseal);
        };
        if id != self.id {
            return Err(PkiError::Unseal);
        }
        let blob = openssl::base64::decode_block(body).map_err(|_| PkiError::Unseal)?;
        if blob.len() < 28 {
            return Err(PkiError::Unseal);
        }
        let (nonce, rest) = blob.split_at(12);
        let (ct, tag) = rest.split_at(rest.len() - 16);
        decrypt_aead(
            Cipher::aes_256_gcm(),
            &self.key,
            Some(nonce),
            context.as_bytes(),
            ct,
            tag,
        )
        .map_err(|_| PkiError::Unseal)
    }
}

/// HMAC-SHA-256 of `data` under `key`: derives values that must be reproducible without being
/// stored (e.g. the secret of an enrollment link from its public id).
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> Result<[u8; 32]> {
    let pkey = openssl::pkey::PKey::hmac(key)?;
    let mut signer = openssl::sign::Signer::new(MessageDigest::sha256(), &pkey)?;
    signer.update(data)?;
    let mut out = [0u8; 32];
    let bytes = signer.sign_to_vec()?;
    out.copy_from_slice(&bytes[..32]);
    Ok(out)
}

/// Fills `buf` from OpenSSL's CSPRNG.
pub fn random_bytes(buf: &mut [u8]) -> Result<()> {
    Ok(openssl::rand::rand_bytes(buf)?)
}

/// Standard base64 (with padding) of `data`.
pub fn base64_encode(data: &[u8]) -> String {
    openssl::base64::encode_block(data)
}

/// Decodes standard base64 (line breaks allowed); `None` when it is not base64.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    openssl::base64::decode_block(&compact).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_context() {
        let k = MasterKey::generate().expect("key");
        let sealed = k.seal("ca:1", b"secret").expect("seal");
        assert!(!sealed.contains("secret"));
        assert_eq!(MasterKey::sealed_by(&sealed), Some(k.id()));
        assert_eq!(k.open("ca:1", &sealed).expect("open"), b"secret");
        assert!(matches!(k.open("ca:2", &sealed), Err(PkiError::Unseal)));
        let other = MasterKey::generate().expect("key");
        assert!(matches!(other.open("ca:1", &sealed), Err(PkiError::Unseal)));
        let mut tampered = sealed.clone();
        let at = sealed.len() - 6;
        let flipped = if &sealed[at..=at] == "A" { "B" } else { "A" };
        tampered.replace_range(at..=at, flipped);
        assert!(k.open("ca:1", &tampered).is_err());
        let again = MasterKey::from_text(&k.to_text()).expect("text");
        assert_eq!(again.id(), k.id());
    }
}
