//! Lanyard's public-key infrastructure, on OpenSSL: key pairs, PKCS#10 requests checked against a
//! policy, certificates with the RFC 5280 extensions of each profile, CRLs, PKCS#12 and PEM
//! bundles, CMS SignedData, and sealing of secrets (CA keys, PFX passwords) under a master key.
//!
//! A leaf crate: it knows nothing of accounts or databases. Time is a parameter (validity and
//! CRL dates are always explicit, never a library default); serial numbers and passwords come
//! from OpenSSL's CSPRNG.

mod bundle;
mod cert;
mod cms;
mod crl;
mod csr;
mod der;
mod error;
mod key;
mod memo;
mod seal;

pub use bundle::{pem_chain, pkcs12, random_password};
pub use cert::{Ca, Issue, Profile, Subject, same_certificate, serial_hex};
pub use cms::{cms_sign, cms_verify, cms_verify_signed_by};
pub use crl::Revoked;
pub use csr::{Csr, parse_csr};
pub use error::{PkiError, Result};
pub use key::{KeySpec, check_key, generate_key};
pub use memo::{certificate_from_der, certificate_from_pem, private_key_from_sealed};
pub use seal::{
    MASTER_KEY_LEN, MasterKey, base64_decode, base64_encode, hmac_sha256, random_bytes,
};

pub use openssl::pkey::{PKey, Private, Public};
pub use openssl::x509::{X509, X509Crl};
