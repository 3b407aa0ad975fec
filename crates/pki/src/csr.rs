use crate::{PkiError, Result};
use openssl::nid::Nid;
use openssl::pkey::{PKey, Public};
use openssl::x509::X509Req;

/// A PKCS#10 request whose signature verifies and whose key passes the policy.
#[derive(Debug)]
pub struct Csr {
    /// The requested public key (what the certificate will certify).
    pub public_key: PKey<Public>,
    /// The common name it asks for, if any (informative only: Lanyard sets subjects itself).
    pub common_name: Option<String>,
}

/// Parses a PKCS#10 request (PEM or DER), verifies its self-signature (proof of possession of
/// the private key) and checks its key against [`crate::check_key`]. Errors name the field `csr`.
pub fn parse_csr(input: &[u8]) -> Result<Csr> {
    let trimmed = input.trim_ascii();
    if trimmed.is_empty() {
        return Err(PkiError::invalid("csr", "is required"));
    }
    if trimmed.len() > 64 * 1024 {
        return Err(PkiError::invalid("csr", "is too long (at most 64 KiB)"));
    }
    let req = if trimmed.starts_with(b"-----BEGIN") {
        X509Req::from_pem(trimmed)
    } else {
        // DER is binary: its last byte may look like whitespace, so it is read untrimmed.
        X509Req::from_der(input)
    }
    .map_err(|_| PkiError::invalid("csr", "is not a PEM or DER PKCS#10 certificate request"))?;
    let public_key = req
        .public_key()
        .map_err(|_| PkiError::invalid("csr", "has a public key that cannot be read"))?;
    // `verify` answers Ok(false) for a wrong signature: the boolean matters.
    if !req.verify(&public_key).unwrap_or(false) {
        return Err(PkiError::invalid(
            "csr",
            "has a signature that does not verify with its own public key",
        ));
    }
    crate::check_key("csr", &public_key)?;
    let common_name = req
        .subject_name()
        .entries_by_nid(Nid::COMMONNAME)
        .next()
        .and_then(|e| e.data().to_string().ok());
    Ok(Csr {
        public_key,
        common_name,
    })
}

#[cfg(test)]
mod tests {
    use super::parse_csr;
    use crate::{KeySpec, generate_key};

    /// A DER request whose last byte is a whitespace code (0x0a, 0x20, …) must still parse:
    /// trimming it as text would cut the signature. Many keys are tried, so some requests end
    /// in such a byte.
    #[test]
    fn der_requests_are_not_trimmed() {
        let mut seen_whitespace_end = false;
        for _ in 0..400 {
            let key = generate_key(KeySpec::EcP256).expect("key");
            let mut req = openssl::x509::X509ReqBuilder::new().expect("req");
            req.set_pubkey(&key).expect("pubkey");
            req.sign(&key, openssl::hash::MessageDigest::sha256())
                .expect("sign");
            let der = req.build().to_der().expect("der");
            seen_whitespace_end |= der.last().is_some_and(u8::is_ascii_whitespace);
            parse_csr(&der).expect("a good DER request parses");
        }
        assert!(seen_whitespace_end, "the case was exercised");
    }
}
