use crate::{PkiError, Result};
use openssl::cms::{CMSOptions, CmsContentInfo};
use openssl::pkey::{PKeyRef, Private};
use openssl::stack::Stack;
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::{X509, X509Ref};

/// CMS SignedData (DER) over `data` by `signer` (certificate, key), carrying `chain` so a
/// verifier needs only the root. `detached`: the content is not embedded.
pub fn cms_sign(
    signer: &X509Ref,
    key: &PKeyRef<Private>,
    chain: &[X509],
    data: &[u8],
    detached: bool,
) -> Result<Vec<u8>> {
    let mut certs = Stack::new()?;
    for c in chain {
        certs.push(c.clone())?;
    }
    let mut flags = CMSOptions::BINARY;
    if detached {
        flags |= CMSOptions::DETACHED;
    }
    let cms = CmsContentInfo::sign(Some(signer), Some(key), Some(&certs), Some(data), flags)?;
    Ok(cms.to_der()?)
}

/// Verifies CMS SignedData (DER) against the trust anchors `roots` and returns the signed
/// content (`detached`: the content that was signed separately).
pub fn cms_verify(cms_der: &[u8], detached: Option<&[u8]>, roots: &[X509]) -> Result<Vec<u8>> {
    let mut cms = CmsContentInfo::from_der(cms_der)
        .map_err(|_| PkiError::invalid("cms", "is not a CMS message"))?;
    let mut store = X509StoreBuilder::new()?;
    for r in roots {
        store.add_cert(r.clone())?;
    }
    let store = store.build();
    let mut out = Vec::new();
    cms.verify(
        None,
        Some(&store),
        detached,
        Some(&mut out),
        CMSOptions::BINARY,
    )
    .map_err(|_| PkiError::invalid("cms", "does not verify against the trusted CAs"))?;
    Ok(out)
}

/// Verifies CMS SignedData (DER, content attached) signed by exactly `signer` — whatever other
/// certificates the message carries — whose chain leads through `chain` to a trusted root in
/// `chain`; returns the signed content. Any key purpose is accepted: the signer may be a
/// client-authentication certificate (a device's).
pub fn cms_verify_signed_by(cms_der: &[u8], signer: &X509, chain: &[X509]) -> Result<Vec<u8>> {
    let mut cms = CmsContentInfo::from_der(cms_der)
        .map_err(|_| PkiError::invalid("cms", "is not a CMS message"))?;
    let mut store = X509StoreBuilder::new()?;
    for c in chain {
        store.add_cert(c.clone())?;
    }
    store.set_purpose(openssl::x509::X509PurposeId::ANY)?;
    let store = store.build();
    let mut certs = Stack::new()?;
    certs.push(signer.clone())?;
    let mut out = Vec::new();
    // NOINTERN: the signer is looked for only in `certs`, so another certificate in the message
    // cannot stand in for it.
    cms.verify(
        Some(&certs),
        Some(&store),
        None,
        Some(&mut out),
        CMSOptions::BINARY | CMSOptions::NOINTERN,
    )
    .map_err(|_| PkiError::invalid("cms", "is not signed by this device's key"))?;
    Ok(out)
}
