//! The little DER the openssl crate has no builder for (CRL distribution points, CRL numbers,
//! authority key identifiers of CRLs).

/// One tag-length-value.
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// A non-negative INTEGER from big-endian magnitude bytes.
pub(crate) fn unsigned_integer(magnitude: &[u8]) -> Vec<u8> {
    let trimmed: Vec<u8> = match magnitude.iter().position(|b| *b != 0) {
        Some(i) => magnitude[i..].to_vec(),
        None => vec![0],
    };
    let mut content = Vec::with_capacity(trimmed.len() + 1);
    if trimmed[0] & 0x80 != 0 {
        content.push(0);
    }
    content.extend_from_slice(&trimmed);
    tlv(0x02, &content)
}

/// CRLDistributionPoints with one distribution point naming `url` (RFC 5280 §4.2.1.13).
pub(crate) fn crl_distribution_points(url: &str) -> Vec<u8> {
    let uri = tlv(0x86, url.as_bytes()); // [6] IMPLICIT IA5String
    let full_name = tlv(0xA0, &uri); // fullName [0] IMPLICIT GeneralNames
    let dp_name = tlv(0xA0, &full_name); // distributionPoint [0] DistributionPointName
    let dp = tlv(0x30, &dp_name);
    tlv(0x30, &dp)
}

/// AuthorityKeyIdentifier with only the keyIdentifier (RFC 5280 §4.2.1.1).
pub(crate) fn authority_key_identifier(key_id: &[u8]) -> Vec<u8> {
    tlv(0x30, &tlv(0x80, key_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_integers_encode_as_der() {
        assert_eq!(tlv(0x04, &[1, 2]), vec![0x04, 2, 1, 2]);
        let long = tlv(0x04, &[0; 300]);
        assert_eq!(&long[..4], &[0x04, 0x82, 0x01, 0x2C]);
        assert_eq!(unsigned_integer(&[0, 0, 5]), vec![0x02, 1, 5]);
        assert_eq!(unsigned_integer(&[0x80]), vec![0x02, 2, 0, 0x80]);
        assert_eq!(unsigned_integer(&[0, 0]), vec![0x02, 1, 0]);
    }
}
