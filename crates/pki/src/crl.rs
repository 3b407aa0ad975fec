use crate::{Ca, PkiError, Result, der};
use chrono::{DateTime, Utc};
use openssl::asn1::{Asn1Object, Asn1OctetString, Asn1Time};
use openssl::bn::BigNum;
use openssl::x509::{X509Crl, X509CrlBuilder, X509Extension, X509RevokedBuilder};

/// A revoked certificate, as a CRL lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revoked {
    /// Serial number, hex.
    pub serial_hex: String,
    /// When it was revoked.
    pub revoked_at: DateTime<Utc>,
}

impl Ca {
    /// This CA's CRL number `number`, listing `revoked`, valid from `this_update` until
    /// `next_update` (RFC 5280 §5: v2, AKI and CRL number present, both dates explicit).
    pub fn crl(
        &self,
        revoked: &[Revoked],
        number: u64,
        this_update: DateTime<Utc>,
        next_update: DateTime<Utc>,
    ) -> Result<X509Crl> {
        if next_update <= this_update {
            return Err(PkiError::invalid("nextUpdate", "must be after thisUpdate"));
        }
        let mut b = X509CrlBuilder::new()?;
        b.set_issuer_name(self.cert.subject_name())?;
        let (this, next) = (
            Asn1Time::from_unix(this_update.timestamp())?,
            Asn1Time::from_unix(next_update.timestamp())?,
        );
        b.set_last_update(&this)?;
        b.set_next_update(&next)?;
        for r in revoked {
            let serial = BigNum::from_hex_str(&r.serial_hex)
                .map_err(|_| PkiError::invalid("serial", "is not a hexadecimal serial number"))?;
            let mut entry = X509RevokedBuilder::new()?;
            let (serial, at) = (
                serial.to_asn1_integer()?,
                Asn1Time::from_unix(r.revoked_at.timestamp())?,
            );
            entry.set_serial_number(&serial)?;
            entry.set_revocation_date(&at)?;
            b.add_revoked(entry.build())?;
        }
        let key_id = self
            .cert
            .subject_key_id()
            .ok_or_else(|| PkiError::invalid("ca", "has no subject key identifier"))?;
        let aki = der::authority_key_identifier(key_id.as_slice());
        let number = der::unsigned_integer(&number.to_be_bytes());
        for (oid, value) in [("2.5.29.35", aki), ("2.5.29.20", number)] {
            let (oid, value) = (
                Asn1Object::from_str(oid)?,
                Asn1OctetString::new_from_bytes(&value)?,
            );
            b.append_extension(X509Extension::new_from_der(&oid, false, &value)?)?;
        }
        b.sort()?;
        b.sign(&self.key, openssl::hash::MessageDigest::sha256())?;
        Ok(b.build()?)
    }
}
