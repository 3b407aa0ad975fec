use crate::{PkiError, Result};
use openssl::ec::{EcGroup, EcKey};
use openssl::nid::Nid;
use openssl::pkey::{HasPublic, Id, PKey, PKeyRef, Private};
use openssl::rsa::Rsa;

/// Kinds of key pair Lanyard generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySpec {
    /// RSA, 2048-bit modulus (what older PassBy[ME] clients expect).
    Rsa2048,
    /// RSA, 3072-bit modulus (CAs).
    Rsa3072,
    /// ECDSA on NIST P-256 (fast; devices and development TLS).
    EcP256,
}

/// Generates a key pair. RSA takes 0.1–1 s: keep it off hot paths.
pub fn generate_key(spec: KeySpec) -> Result<PKey<Private>> {
    Ok(match spec {
        KeySpec::Rsa2048 => PKey::from_rsa(Rsa::generate(2048)?)?,
        KeySpec::Rsa3072 => PKey::from_rsa(Rsa::generate(3072)?)?,
        KeySpec::EcP256 => {
            let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
            PKey::from_ec_key(EcKey::generate(&group)?)?
        }
    })
}

/// The key policy of everything Lanyard certifies: RSA of 2048 to 8192 bits, or ECDSA on P-256
/// or P-384. Anything weaker or unusual is refused, naming `field`.
pub fn check_key<T: HasPublic>(field: &'static str, key: &PKeyRef<T>) -> Result<()> {
    match key.id() {
        Id::RSA => {
            let bits = key.bits();
            if bits < 2048 {
                Err(PkiError::invalid(
                    field,
                    format!("has an RSA key of {bits} bits, which is too weak: at least 2048"),
                ))
            } else if bits > 8192 {
                Err(PkiError::invalid(
                    field,
                    format!("has an RSA key of {bits} bits: at most 8192"),
                ))
            } else {
                Ok(())
            }
        }
        Id::EC => {
            let curve = key.ec_key()?.group().curve_name();
            match curve {
                Some(Nid::X9_62_PRIME256V1 | Nid::SECP384R1) => Ok(()),
                other => Err(PkiError::invalid(
                    field,
                    format!(
                        "has an EC key on {}, which is not accepted: use P-256 or P-384",
                        other
                            .and_then(|n| n.short_name().ok())
                            .unwrap_or("an unnamed curve")
                    ),
                )),
            }
        }
        _ => Err(PkiError::invalid(
            field,
            "has a key type that is not accepted: use RSA (2048 bits or more) or EC P-256/P-384",
        )),
    }
}
