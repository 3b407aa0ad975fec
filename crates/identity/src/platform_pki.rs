//! The platform PKI (SPEC §4): a root CA and one issuing CA per purpose, created at bootstrap,
//! their private keys sealed under the master key. Rotation adds a new generation of an issuing
//! CA; the old one stops issuing but stays trusted and keeps publishing its CRL, so certificates
//! it issued keep working until they expire.

use crate::{IdentityError, Result};
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use diesel::prelude::*;
use lanyard_core::Clock;
use lanyard_pki::{Ca, KeySpec, MasterKey, PKey, Revoked, Subject, X509, generate_key};
use lanyard_store::schema::{certificate_authorities as cas, certificates};
use lanyard_store::{DbConnection, StoreError, is_unique_violation, write_transaction};

/// What an issuing CA certifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// The trust anchor.
    Root,
    /// Access keys (applications, management).
    AccessKeys,
    /// Devices.
    Devices,
    /// Evidence signing.
    Evidence,
    /// TLS server certificates for development.
    Tls,
}

impl Purpose {
    /// The issuing purposes.
    pub const ISSUING: [Self; 4] = [Self::AccessKeys, Self::Devices, Self::Evidence, Self::Tls];

    /// Stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Root => "root",
            Self::AccessKeys => "access-keys",
            Self::Devices => "devices",
            Self::Evidence => "evidence",
            Self::Tls => "tls",
        }
    }

    /// The purpose named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Root]
            .into_iter()
            .chain(Self::ISSUING)
            .find(|p| p.as_str() == name)
    }

    fn common_name(self) -> &'static str {
        match self {
            Self::Root => "Lanyard Root CA",
            Self::AccessKeys => "Lanyard Access Keys CA",
            Self::Devices => "Lanyard Devices CA",
            Self::Evidence => "Lanyard Evidence CA",
            Self::Tls => "Lanyard TLS CA",
        }
    }
}

/// Validity of the root CA.
pub const ROOT_VALIDITY: TimeDelta = TimeDelta::days(20 * 365);
/// Validity of an issuing CA.
pub const ISSUING_VALIDITY: TimeDelta = TimeDelta::days(10 * 365);
/// How long a published CRL is valid; a new one is made when half of it has passed or on a
/// revocation, whichever comes first.
pub const CRL_VALIDITY: TimeDelta = TimeDelta::days(7);

/// A CA loaded with its private key.
#[derive(Debug)]
pub struct LoadedCa {
    /// "<purpose>-<generation>".
    pub id: String,
    /// Certificate and key.
    pub ca: Ca,
}

/// Where the CRL of CA `id` is published under `crl_base` (the admin-api public URL).
pub fn crl_url(crl_base: &str, id: &str) -> String {
    format!("{}/crl/{id}.crl", crl_base.trim_end_matches('/'))
}

fn context(id: &str) -> String {
    format!("ca:{id}")
}

fn organization(installation: &str) -> Subject {
    Subject {
        common_name: String::new(),
        organization: Some(installation.to_owned()),
        organizational_unit: None,
    }
}

fn subject(installation: &str, purpose: Purpose) -> Subject {
    Subject {
        common_name: purpose.common_name().to_owned(),
        ..organization(installation)
    }
}

/// Whole seconds: certificates carry seconds, and the stored times must equal them.
fn second(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(at.timestamp(), 0).unwrap_or(at)
}

#[allow(clippy::too_many_arguments)] // one CA row's distinct parts
fn insert(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    master: &MasterKey,
    purpose: Purpose,
    generation: i32,
    parent: Option<&str>,
    ca: &Ca,
    not_after: DateTime<Utc>,
) -> Result<String> {
    let id = format!("{}-{generation}", purpose.as_str());
    let key_pem = ca
        .key
        .private_key_to_pem_pkcs8()
        .map_err(lanyard_pki::PkiError::from)?;
    let sealed = master.seal(&context(&id), &key_pem)?;
    diesel::insert_into(cas::table)
        .values((
            cas::id.eq(&id),
            cas::purpose.eq(purpose.as_str()),
            cas::generation.eq(generation),
            cas::parent_id.eq(parent),
            cas::cert_pem.eq(pem(&ca.cert)?),
            cas::key_sealed.eq(&sealed),
            cas::not_after.eq(not_after.naive_utc()),
            cas::active.eq(true),
            cas::crl_number.eq(0_i64),
            cas::created_at.eq(clock.now().naive_utc()),
        ))
        .execute(conn)?;
    Ok(id)
}

fn pem(cert: &X509) -> Result<String> {
    let bytes = cert.to_pem().map_err(lanyard_pki::PkiError::from)?;
    String::from_utf8(bytes).map_err(|e| IdentityError::Crypto(e.to_string()))
}

/// Creates the root and the issuing CAs if they do not exist yet; `true` when it created them.
/// Safe to run from several processes at once.
pub fn ensure(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    master: &MasterKey,
    installation: &str,
    crl_base: &str,
) -> Result<bool> {
    // Key generation happens before the transaction: it is the slow part, and a lost race
    // only wastes keys.
    let exists = |conn: &mut DbConnection| -> Result<bool> {
        Ok(cas::table
            .filter(cas::purpose.eq(Purpose::Root.as_str()))
            .count()
            .get_result::<i64>(conn)?
            > 0)
    };
    if exists(conn)? {
        return Ok(false);
    }
    let now = second(clock.now());
    let root = Ca::new_root(
        &subject(installation, Purpose::Root),
        generate_key(KeySpec::EcP256)?,
        now,
        now + ROOT_VALIDITY,
    )?;
    let root_id = format!("{}-1", Purpose::Root.as_str());
    let mut issuing = Vec::new();
    for purpose in Purpose::ISSUING {
        let ca = root.new_issuing(
            &subject(installation, purpose),
            generate_key(KeySpec::EcP256)?,
            now,
            now + ISSUING_VALIDITY,
            Some(&crl_url(crl_base, &root_id)),
        )?;
        issuing.push((purpose, ca));
    }
    let created = write_transaction(conn, |conn| {
        if exists(conn)? {
            return Ok(false);
        }
        insert(
            conn,
            clock,
            master,
            Purpose::Root,
            1,
            None,
            &root,
            now + ROOT_VALIDITY,
        )?;
        for (purpose, ca) in &issuing {
            insert(
                conn,
                clock,
                master,
                *purpose,
                1,
                Some(&root_id),
                ca,
                now + ISSUING_VALIDITY,
            )?;
        }
        Ok(true)
    });
    match created {
        // Another process created them first (PostgreSQL unique violation on the id).
        Err(IdentityError::Store(StoreError::Query(err))) if is_unique_violation(&err) => Ok(false),
        other => other,
    }
}

fn load(conn: &mut DbConnection, master: &MasterKey, id: &str) -> Result<LoadedCa> {
    let (cert_pem, sealed): (String, String) = cas::table
        .find(id)
        .select((cas::cert_pem, cas::key_sealed))
        .first(conn)
        .optional()?
        .ok_or_else(|| IdentityError::not_found("certificate authority", id))?;
    let key_pem = master.open(&context(id), &sealed)?;
    let key = PKey::private_key_from_pem(&key_pem).map_err(lanyard_pki::PkiError::from)?;
    let cert = X509::from_pem(cert_pem.as_bytes()).map_err(lanyard_pki::PkiError::from)?;
    Ok(LoadedCa {
        id: id.to_owned(),
        ca: Ca { cert, key },
    })
}

/// The CA of `purpose` that issues new certificates now.
pub fn active(conn: &mut DbConnection, master: &MasterKey, purpose: Purpose) -> Result<LoadedCa> {
    let id: String = cas::table
        .filter(cas::purpose.eq(purpose.as_str()))
        .filter(cas::active.eq(true))
        .order(cas::generation.desc())
        .select(cas::id)
        .first(conn)
        .optional()?
        .ok_or(IdentityError::NotBootstrapped)?;
    load(conn, master, &id)
}

/// The certificate of CA `id`.
pub fn certificate(conn: &mut DbConnection, id: &str) -> Result<X509> {
    let pem: String = cas::table
        .find(id)
        .select(cas::cert_pem)
        .first(conn)
        .optional()?
        .ok_or_else(|| IdentityError::not_found("certificate authority", id))?;
    Ok(lanyard_pki::certificate_from_pem(pem.as_bytes()).map_err(lanyard_pki::PkiError::from)?)
}

/// The end of validity of CA `id` (what certificates it issues may not outlast).
pub fn not_after(conn: &mut DbConnection, id: &str) -> Result<DateTime<Utc>> {
    let end: NaiveDateTime = cas::table.find(id).select(cas::not_after).first(conn)?;
    Ok(end.and_utc())
}

/// Every CA certificate (all purposes and generations, the root first): what a TLS server
/// trusts for client certificates and what `ca.pem` bundles.
pub fn all_certificates(conn: &mut DbConnection) -> Result<Vec<(String, X509)>> {
    let rows: Vec<(String, String, Option<String>)> = cas::table
        .order((cas::parent_id.is_not_null(), cas::id))
        .select((cas::id, cas::cert_pem, cas::parent_id))
        .load(conn)?;
    rows.into_iter()
        .map(|(id, pem, _)| {
            let cert = lanyard_pki::certificate_from_pem(pem.as_bytes())
                .map_err(lanyard_pki::PkiError::from)?;
            Ok((id, cert))
        })
        .collect()
}

/// The chain above a certificate issued by CA `id`: that CA, up to but without the root.
pub fn chain(conn: &mut DbConnection, id: &str) -> Result<Vec<X509>> {
    let mut out = Vec::new();
    let mut current = Some(id.to_owned());
    while let Some(ca) = current {
        let parent: Option<String> = cas::table.find(&ca).select(cas::parent_id).first(conn)?;
        if parent.is_some() {
            out.push(certificate(conn, &ca)?);
        }
        current = parent;
    }
    Ok(out)
}

/// The id of the master key that sealed the root CA's key (`None` before [`ensure`]).
pub fn sealed_by(conn: &mut DbConnection) -> Result<Option<String>> {
    let sealed: Option<String> = cas::table
        .filter(cas::purpose.eq(Purpose::Root.as_str()))
        .order(cas::generation.desc())
        .select(cas::key_sealed)
        .first(conn)
        .optional()?;
    Ok(sealed.and_then(|s| MasterKey::sealed_by(&s).map(str::to_owned)))
}

/// Makes a new generation of the issuing CA of `purpose`, which issues from now on; the previous
/// one stays trusted and keeps publishing its CRL. Returns the new CA's id.
pub fn rotate(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    master: &MasterKey,
    purpose: Purpose,
    installation: &str,
    crl_base: &str,
) -> Result<String> {
    if purpose == Purpose::Root {
        return Err(IdentityError::invalid(
            "purpose",
            "the root CA is not rotated in place; rotate the issuing CAs",
        ));
    }
    let key = generate_key(KeySpec::EcP256)?;
    write_transaction(conn, |conn| {
        let root = active(conn, master, Purpose::Root)?;
        let generation: i32 = cas::table
            .filter(cas::purpose.eq(purpose.as_str()))
            .select(diesel::dsl::max(cas::generation))
            .first::<Option<i32>>(conn)?
            .unwrap_or(0)
            + 1;
        let now = second(clock.now());
        let mut end = now + ISSUING_VALIDITY;
        let root_end_at: NaiveDateTime = cas::table
            .find(&root.id)
            .select(cas::not_after)
            .first(conn)?;
        if end > root_end_at.and_utc() {
            end = root_end_at.and_utc();
        }
        let ca = root.ca.new_issuing(
            &subject(installation, purpose),
            key,
            now,
            end,
            Some(&crl_url(crl_base, &root.id)),
        )?;
        diesel::update(cas::table.filter(cas::purpose.eq(purpose.as_str())))
            .set(cas::active.eq(false))
            .execute(conn)?;
        insert(
            conn,
            clock,
            master,
            purpose,
            generation,
            Some(&root.id),
            &ca,
            end,
        )
    })
}

/// Name (in `settings`) of the sealed key that derives link secrets.
const LINK_KEY: &str = "link_key_sealed";

/// The platform's link key: 32 random bytes, created on first use and stored sealed under the
/// master key. Secrets of links that must be shown again (enrollment URLs) are HMACs of their
/// public id under it, so only their hashes need storing.
pub fn link_key(conn: &mut DbConnection, master: &MasterKey) -> Result<Vec<u8>> {
    if let Some(sealed) = crate::settings::get(conn, LINK_KEY)? {
        return Ok(master.open(LINK_KEY, &sealed)?);
    }
    let mut key = [0u8; 32];
    openssl_rand(&mut key)?;
    let sealed = master.seal(LINK_KEY, &key)?;
    match write_transaction(conn, |conn| {
        crate::settings::insert(conn, LINK_KEY, &sealed)
    }) {
        Ok(()) => Ok(key.to_vec()),
        // Created concurrently: use the winner's.
        Err(IdentityError::Store(StoreError::Query(err))) if is_unique_violation(&err) => {
            let sealed =
                crate::settings::get(conn, LINK_KEY)?.ok_or(IdentityError::NotBootstrapped)?;
            Ok(master.open(LINK_KEY, &sealed)?)
        }
        Err(other) => Err(other),
    }
}

/// A signer: its certificate, key, and chain (issuing CA first, root last).
pub type Signer = (X509, PKey<lanyard_pki::Private>, Vec<X509>);

type SignerMemo = std::collections::HashMap<(String, String), Signer>;

/// Signers already loaded in this process, by their stored (certificate, sealed key).
fn signer_memo() -> std::sync::MutexGuard<'static, SignerMemo> {
    static MEMO: std::sync::LazyLock<std::sync::Mutex<SignerMemo>> =
        std::sync::LazyLock::new(Default::default);
    MEMO.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

const EVIDENCE_SIGNER_KEY: &str = "evidence_signer_key_sealed";
const EVIDENCE_SIGNER_CERT: &str = "evidence_signer_cert";

/// The certificate, key and chain (issuing CA first, root last) the server counter-signs
/// evidences with: a signer certificate (`emailProtection`, non-repudiation) of the evidence
/// CA, made on first use and kept (key sealed) in the settings.
pub fn evidence_signer(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    master: &MasterKey,
    crl_base: &str,
) -> Result<Signer> {
    let load = |conn: &mut DbConnection| -> Result<Option<Signer>> {
        let (Some(cert), Some(key)) = (
            crate::settings::get(conn, EVIDENCE_SIGNER_CERT)?,
            crate::settings::get(conn, EVIDENCE_SIGNER_KEY)?,
        ) else {
            return Ok(None);
        };
        // Every evidence is counter-signed: finding the signer's issuer among the evidence CA
        // generations (a signature check each) and walking its chain once per process is
        // enough — the same certificate always has the same chain.
        let memo_key = (cert, key);
        if let Some(found) = signer_memo().get(&memo_key) {
            return Ok(Some(found.clone()));
        }
        let (cert, key) = (&memo_key.0, &memo_key.1);
        let cert = lanyard_pki::certificate_from_pem(cert.as_bytes())
            .map_err(lanyard_pki::PkiError::from)?;
        let key = lanyard_pki::private_key_from_sealed(key.as_bytes(), || {
            master.open(EVIDENCE_SIGNER_KEY, key)
        })?;
        // The generation of the evidence CA that issued it (rotation keeps the old ones).
        let generations: Vec<String> = cas::table
            .filter(cas::purpose.eq(Purpose::Evidence.as_str()))
            .order(cas::generation.desc())
            .select(cas::id)
            .load(conn)?;
        let mut issuer = None;
        for id in generations {
            let ca = certificate(conn, &id)?;
            let signed = ca
                .public_key()
                .and_then(|k| cert.verify(&k))
                .unwrap_or(false);
            if signed {
                issuer = Some(id);
                break;
            }
        }
        let issuer = issuer.ok_or(IdentityError::NotBootstrapped)?;
        let mut chain = chain(conn, &issuer)?;
        // …and the root it hangs from, for a verifier that has nothing else.
        let mut top = issuer;
        while let Some(parent) = cas::table
            .find(&top)
            .select(cas::parent_id)
            .first::<Option<String>>(conn)?
        {
            top = parent;
        }
        chain.push(certificate(conn, &top)?);
        let signer = (cert, key, chain);
        let mut memo = signer_memo();
        // Only ever a generation or two: rotations are rare.
        if memo.len() > 16 {
            memo.clear();
        }
        memo.insert(memo_key.clone(), signer.clone());
        Ok(Some(signer))
    };
    if let Some(found) = load(conn)? {
        return Ok(found);
    }
    let ca = active(conn, master, Purpose::Evidence)?;
    let key = generate_key(KeySpec::EcP256)?;
    let public = PKey::public_key_from_der(
        &key.public_key_to_der()
            .map_err(lanyard_pki::PkiError::from)?,
    )
    .map_err(lanyard_pki::PkiError::from)?;
    let now = clock.now();
    let start = DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
    let end = (start + TimeDelta::days(2 * 365)).min(not_after(conn, &ca.id)?);
    let crl = crl_url(crl_base, &ca.id);
    let cert = ca.ca.issue(&lanyard_pki::Issue {
        subject: &Subject {
            common_name: "Lanyard evidence signer".into(),
            organization: None,
            organizational_unit: Some("Evidence".into()),
        },
        public_key: &public,
        profile: lanyard_pki::Profile::EvidenceSigner,
        not_before: start,
        not_after: end,
        crl_url: Some(&crl),
    })?;
    let cert_pem =
        String::from_utf8_lossy(&cert.to_pem().map_err(lanyard_pki::PkiError::from)?).into_owned();
    let sealed = master.seal(
        EVIDENCE_SIGNER_KEY,
        &key.private_key_to_der()
            .map_err(lanyard_pki::PkiError::from)?,
    )?;
    match write_transaction(conn, |conn| {
        crate::settings::insert(conn, EVIDENCE_SIGNER_KEY, &sealed)?;
        crate::settings::insert(conn, EVIDENCE_SIGNER_CERT, &cert_pem)
    }) {
        Ok(()) => {}
        // Made concurrently by another instance: use the winner's.
        Err(IdentityError::Store(StoreError::Query(err))) if is_unique_violation(&err) => {}
        Err(other) => return Err(other),
    }
    load(conn)?.ok_or(IdentityError::NotBootstrapped)
}

fn openssl_rand(buf: &mut [u8]) -> Result<()> {
    lanyard_pki::random_bytes(buf).map_err(IdentityError::from)
}

/// Re-seals identity's sealed secrets (the link and evidence keys, CA keys, generated client keys,
/// PFX passwords) from `old` to `new`, in one transaction (a savepoint in the caller's). Returns
/// how many values were re-sealed. The whole rotation — enrollment's push credentials too — is
/// orchestrated above identity and enrollment (`lanyard pki rotate-master-key`).
pub fn rotate_master_key(
    conn: &mut DbConnection,
    old: &MasterKey,
    new: &MasterKey,
) -> Result<usize> {
    write_transaction(conn, |conn| {
        let mut count = 0;
        for name in [LINK_KEY, EVIDENCE_SIGNER_KEY] {
            if let Some(sealed) = crate::settings::get(conn, name)? {
                let plain = old.open(name, &sealed)?;
                crate::settings::set(conn, name, &new.seal(name, &plain)?)?;
                count += 1;
            }
        }
        let rows: Vec<(String, String)> =
            cas::table.select((cas::id, cas::key_sealed)).load(conn)?;
        for (id, sealed) in rows {
            let plain = old.open(&context(&id), &sealed)?;
            diesel::update(cas::table.find(&id))
                .set(cas::key_sealed.eq(new.seal(&context(&id), &plain)?))
                .execute(conn)?;
            count += 1;
        }
        let rows: Vec<(String, Option<String>, Option<String>)> = certificates::table
            .filter(
                certificates::key_sealed
                    .is_not_null()
                    .or(certificates::pfx_password_sealed.is_not_null()),
            )
            .select((
                certificates::serial,
                certificates::key_sealed,
                certificates::pfx_password_sealed,
            ))
            .load(conn)?;
        for (serial, key, password) in rows {
            let reseal = |ctx: String, v: Option<String>| -> Result<Option<String>> {
                v.map(|v| {
                    let plain = old.open(&ctx, &v)?;
                    Ok(new.seal(&ctx, &plain)?)
                })
                .transpose()
            };
            let key = reseal(crate::access_key::key_context(&serial), key)?;
            let password = reseal(crate::access_key::password_context(&serial), password)?;
            count += usize::from(key.is_some()) + usize::from(password.is_some());
            diesel::update(certificates::table.find(&serial))
                .set((
                    certificates::key_sealed.eq(key),
                    certificates::pfx_password_sealed.eq(password),
                ))
                .execute(conn)?;
        }
        Ok(count)
    })
}

/// The current CRL of CA `id` (DER), made anew when none exists, when half of its validity has
/// passed, or when `force` (after a revocation). The CRL number grows with each new CRL.
pub fn crl(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    master: &MasterKey,
    id: &str,
    force: bool,
) -> Result<Vec<u8>> {
    let now = second(clock.now());
    let current: Option<(Option<Vec<u8>>, Option<NaiveDateTime>)> = cas::table
        .find(id)
        .select((cas::crl_der, cas::crl_next_update))
        .first(conn)
        .optional()?;
    let Some((der, next_update)) = current else {
        return Err(IdentityError::not_found("certificate authority", id));
    };
    if let (Some(der), Some(next), false) = (der, next_update, force)
        && now < next.and_utc() - CRL_VALIDITY / 2
    {
        return Ok(der);
    }
    write_transaction(conn, |conn| {
        let ca = load(conn, master, id)?;
        let number: i64 = diesel::update(cas::table.find(id))
            .set(cas::crl_number.eq(cas::crl_number + 1))
            .returning(cas::crl_number)
            .get_result(conn)?;
        let revoked: Vec<Revoked> =
            if Purpose::parse(id.rsplit_once('-').map_or(id, |(p, _)| p)) == Some(Purpose::Root) {
                // The root has issued only CAs, none revoked.
                Vec::new()
            } else {
                certificates::table
                    .filter(certificates::ca_id.eq(id))
                    .filter(certificates::status.eq("revoked"))
                    .select((certificates::serial, certificates::revoked_at))
                    .load::<(String, Option<NaiveDateTime>)>(conn)?
                    .into_iter()
                    .map(|(serial_hex, at)| Revoked {
                        serial_hex,
                        revoked_at: at.map_or(now, |a| a.and_utc()),
                    })
                    .collect()
            };
        let next = now + CRL_VALIDITY;
        let crl = ca
            .ca
            .crl(&revoked, u64::try_from(number).unwrap_or(0), now, next)?;
        let der = crl.to_der().map_err(lanyard_pki::PkiError::from)?;
        diesel::update(cas::table.find(id))
            .set((
                cas::crl_der.eq(&der),
                cas::crl_next_update.eq(next.naive_utc()),
            ))
            .execute(conn)?;
        Ok(der)
    })
}
