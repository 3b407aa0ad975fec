use crate::{PkiError, Result, der};
use chrono::{DateTime, Utc};
use openssl::asn1::{Asn1Integer, Asn1Object, Asn1OctetString, Asn1Time};
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::pkey::{Id, PKey, PKeyRef, Private, Public};
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
    SubjectKeyIdentifier,
};
use openssl::x509::{X509, X509Builder, X509Extension, X509Name, X509NameBuilder, X509Ref};
use std::net::IpAddr;

/// The subject of a certificate. Lanyard sets it itself (from the key's name and account), never
/// from what a CSR asks, so a request cannot claim another organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// CN.
    pub common_name: String,
    /// O.
    pub organization: Option<String>,
    /// OU.
    pub organizational_unit: Option<String>,
}

impl Subject {
    /// A subject with only a common name.
    pub fn cn(common_name: impl Into<String>) -> Self {
        Self {
            common_name: common_name.into(),
            organization: None,
            organizational_unit: None,
        }
    }

    fn to_name(&self) -> Result<X509Name> {
        let mut name = X509NameBuilder::new()?;
        // Upper bounds of RFC 5280 Appendix A (ub-common-name and friends are 64).
        let clip = |s: &str| s.chars().take(64).collect::<String>();
        if let Some(o) = &self.organization {
            name.append_entry_by_text("O", &clip(o))?;
        }
        if let Some(ou) = &self.organizational_unit {
            name.append_entry_by_text("OU", &clip(ou))?;
        }
        name.append_entry_by_text("CN", &clip(&self.common_name))?;
        Ok(name.build())
    }
}

/// What a certificate is for; each profile has its own extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Profile {
    /// Self-signed trust anchor.
    RootCa,
    /// CA below the root that issues end-entity certificates (path length 0).
    IssuingCa,
    /// TLS client: access keys (applications, management) and devices.
    Client,
    /// Signs evidences (CMS); emailProtection so `openssl cms -verify` accepts it by default.
    EvidenceSigner,
    /// TLS server for these names and addresses.
    TlsServer {
        /// DNS names.
        dns: Vec<String>,
        /// IP addresses.
        ips: Vec<IpAddr>,
    },
}

/// What to certify.
#[allow(missing_debug_implementations)]
pub struct Issue<'a> {
    /// Subject.
    pub subject: &'a Subject,
    /// The key to certify.
    pub public_key: &'a PKeyRef<Public>,
    /// Profile.
    pub profile: Profile,
    /// Start of validity.
    pub not_before: DateTime<Utc>,
    /// End of validity.
    pub not_after: DateTime<Utc>,
    /// Where the issuer's CRL is published (CRL distribution point), if anywhere.
    pub crl_url: Option<&'a str>,
}

/// A certificate authority: its certificate and private key.
pub struct Ca {
    /// The CA certificate.
    pub cert: X509,
    /// Its private key.
    pub key: PKey<Private>,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.debug_struct("Ca")
            .field("subject", &self.cert.subject_name())
            .finish_non_exhaustive()
    }
}

/// A fresh serial number: 159 random bits from the CSPRNG, so positive and at most 20 octets
/// (RFC 5280 §4.1.2.2), with at least 64 bits of entropy (CA/B Forum).
fn random_serial() -> Result<Asn1Integer> {
    loop {
        let mut bn = BigNum::new()?;
        bn.rand(159, MsbOption::MAYBE_ZERO, false)?;
        if bn.num_bits() > 64 {
            return Ok(bn.to_asn1_integer()?);
        }
    }
}

/// Whether `der` is exactly the certificate stored as `pem` (byte for byte, in constant time):
/// how a presented client certificate is matched to the one the platform issued.
pub fn same_certificate(pem: &str, der: &[u8]) -> bool {
    crate::certificate_from_pem(pem.as_bytes())
        .ok()
        .and_then(|c| c.to_der().ok())
        .is_some_and(|stored| stored.len() == der.len() && openssl::memcmp::eq(&stored, der))
}

/// The serial number of `cert` as upper-case hex (how Lanyard stores and shows it).
pub fn serial_hex(cert: &X509Ref) -> Result<String> {
    Ok(cert.serial_number().to_bn()?.to_hex_str()?.to_string())
}

fn time(at: DateTime<Utc>) -> Result<Asn1Time> {
    Ok(Asn1Time::from_unix(at.timestamp())?)
}

fn digest_for(key: &PKeyRef<Private>) -> MessageDigest {
    match key.id() {
        Id::EC if key.bits() > 256 => MessageDigest::sha384(),
        _ => MessageDigest::sha256(),
    }
}

fn builder(
    issue: &Issue<'_>,
    issuer: Option<&X509Ref>,
    issuer_name: Option<&openssl::x509::X509NameRef>,
) -> Result<X509Builder> {
    if issue.not_after <= issue.not_before {
        return Err(PkiError::invalid("validity", "must end after it starts"));
    }
    let mut b = X509Builder::new()?;
    b.set_version(2)?;
    let serial = random_serial()?;
    b.set_serial_number(&serial)?;
    let subject = issue.subject.to_name()?;
    b.set_subject_name(&subject)?;
    b.set_issuer_name(issuer_name.unwrap_or(&subject))?;
    b.set_pubkey(issue.public_key)?;
    let (start, end) = (time(issue.not_before)?, time(issue.not_after)?);
    b.set_not_before(&start)?;
    b.set_not_after(&end)?;
    let rsa = issue.public_key.id() == Id::RSA;
    match &issue.profile {
        Profile::RootCa | Profile::IssuingCa => {
            let mut bc = BasicConstraints::new();
            bc.critical().ca();
            if issue.profile == Profile::IssuingCa {
                bc.pathlen(0);
            }
            b.append_extension(bc.build()?)?;
            b.append_extension(
                KeyUsage::new()
                    .critical()
                    .key_cert_sign()
                    .crl_sign()
                    .digital_signature()
                    .build()?,
            )?;
        }
        Profile::Client | Profile::EvidenceSigner | Profile::TlsServer { .. } => {
            b.append_extension(BasicConstraints::new().critical().build()?)?;
            let mut ku = KeyUsage::new();
            ku.critical().digital_signature();
            match &issue.profile {
                Profile::EvidenceSigner => {
                    ku.non_repudiation();
                }
                _ if rsa => {
                    ku.key_encipherment();
                }
                _ => {}
            }
            b.append_extension(ku.build()?)?;
            let mut eku = ExtendedKeyUsage::new();
            match &issue.profile {
                Profile::Client => eku.client_auth(),
                Profile::EvidenceSigner => eku.email_protection(),
                _ => eku.server_auth(),
            };
            b.append_extension(eku.build()?)?;
        }
    }
    let ctx_ext = {
        let ctx = b.x509v3_context(issuer, None);
        SubjectKeyIdentifier::new().build(&ctx)?
    };
    b.append_extension(ctx_ext)?;
    if issue.profile != Profile::RootCa {
        let aki = {
            let ctx = b.x509v3_context(issuer, None);
            AuthorityKeyIdentifier::new().keyid(true).build(&ctx)?
        };
        b.append_extension(aki)?;
    }
    if let Profile::TlsServer { dns, ips } = &issue.profile {
        if dns.is_empty() && ips.is_empty() {
            return Err(PkiError::invalid(
                "names",
                "a server certificate needs a name",
            ));
        }
        let mut san = SubjectAlternativeName::new();
        for d in dns {
            san.dns(d);
        }
        for ip in ips {
            san.ip(&ip.to_string());
        }
        let ext = {
            let ctx = b.x509v3_context(issuer, None);
            san.build(&ctx)?
        };
        b.append_extension(ext)?;
    }
    if let Some(url) = issue.crl_url {
        let (oid, value) = (
            Asn1Object::from_str("2.5.29.31")?,
            Asn1OctetString::new_from_bytes(&der::crl_distribution_points(url))?,
        );
        b.append_extension(X509Extension::new_from_der(&oid, false, &value)?)?;
    }
    Ok(b)
}

impl Ca {
    /// A new self-signed root CA over `key`.
    pub fn new_root(
        subject: &Subject,
        key: PKey<Private>,
        not_before: DateTime<Utc>,
        not_after: DateTime<Utc>,
    ) -> Result<Self> {
        let public = PKey::public_key_from_der(&key.public_key_to_der()?)?;
        let issue = Issue {
            subject,
            public_key: &public,
            profile: Profile::RootCa,
            not_before,
            not_after,
            crl_url: None,
        };
        let mut b = builder(&issue, None, None)?;
        b.sign(&key, digest_for(&key))?;
        Ok(Self {
            cert: b.build(),
            key,
        })
    }

    /// Certifies `issue.public_key` under this CA. An issuing CA's validity may not outlast
    /// this CA's.
    pub fn issue(&self, issue: &Issue<'_>) -> Result<X509> {
        crate::check_key("publicKey", issue.public_key)?;
        let ca_end = self.cert.not_after();
        let end = time(issue.not_after)?;
        if end.compare(ca_end)? == std::cmp::Ordering::Greater {
            return Err(PkiError::invalid(
                "validity",
                "cannot end after the issuing CA's certificate",
            ));
        }
        let mut b = builder(issue, Some(&self.cert), Some(self.cert.subject_name()))?;
        b.sign(&self.key, digest_for(&self.key))?;
        Ok(b.build())
    }

    /// A new issuing CA below this one, over `key`.
    pub fn new_issuing(
        &self,
        subject: &Subject,
        key: PKey<Private>,
        not_before: DateTime<Utc>,
        not_after: DateTime<Utc>,
        crl_url: Option<&str>,
    ) -> Result<Self> {
        let public = PKey::public_key_from_der(&key.public_key_to_der()?)?;
        let cert = self.issue(&Issue {
            subject,
            public_key: &public,
            profile: Profile::IssuingCa,
            not_before,
            not_after,
            crl_url,
        })?;
        Ok(Self { cert, key })
    }
}
