use crate::Result;
use openssl::pkcs12::Pkcs12;
use openssl::pkey::{PKeyRef, Private};
use openssl::stack::Stack;
use openssl::x509::{X509, X509Ref};

const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";

/// A random password of `len` characters from the CSPRNG (letters and digits without the
/// look-alikes 0/O, 1/l/I), for PKCS#12 files an administrator may have to type.
pub fn random_password(len: usize) -> Result<String> {
    let mut out = String::with_capacity(len);
    let limit = 256 - (256 % ALPHABET.len());
    while out.len() < len {
        let mut buf = [0u8; 32];
        openssl::rand::rand_bytes(&mut buf)?;
        // Rejection sampling: no modulo bias.
        for b in buf {
            if (b as usize) < limit && out.len() < len {
                out.push(ALPHABET[b as usize % ALPHABET.len()] as char);
            }
        }
    }
    Ok(out)
}

/// A PKCS#12 file with `key`, `cert` and its `chain`, under `password`: AES-256-CBC with
/// PBKDF2 and an HMAC-SHA-256 MAC (OpenSSL 3's defaults), readable by curl, browsers and
/// `openssl pkcs12` without the legacy provider.
pub fn pkcs12(
    friendly_name: &str,
    key: &PKeyRef<Private>,
    cert: &X509Ref,
    chain: &[X509],
    password: &str,
) -> Result<Vec<u8>> {
    let mut ca = Stack::new()?;
    for c in chain {
        ca.push(c.clone())?;
    }
    let mut builder = Pkcs12::builder();
    builder.name(friendly_name).pkey(key).cert(cert).ca(ca);
    Ok(builder.build2(password)?.to_der()?)
}

/// PEM of `cert` followed by its `chain`, and of `key` (PKCS#8) when given.
pub fn pem_chain(
    cert: &X509Ref,
    chain: &[X509],
    key: Option<&PKeyRef<Private>>,
) -> Result<Vec<u8>> {
    let mut out = cert.to_pem()?;
    for c in chain {
        out.extend_from_slice(&c.to_pem()?);
    }
    if let Some(key) = key {
        out.extend_from_slice(&key.private_key_to_pem_pkcs8()?);
    }
    Ok(out)
}
