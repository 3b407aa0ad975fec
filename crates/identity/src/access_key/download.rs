//! Downloads of a certificate: the PEM chain for anyone who may view the key; the
//! server-generated private key (PEM or PKCS#12) and its PFX password for the certificate's
//! maker, once.

use super::*;

pub(super) struct Stored {
    pub(super) ca_id: String,
    pub(super) cert_pem: String,
    pub(super) key_sealed: Option<String>,
    pub(super) password_sealed: Option<String>,
    pub(super) key_name: String,
    pub(super) issued_by: Option<String>,
}

impl Stored {
    /// Whether `actor` made this certificate: the only one who may take its generated key or
    /// see its PFX password.
    fn made_by(&self, actor: &Actor) -> bool {
        self.issued_by.as_deref() == Some(actor.principal.as_str())
    }
}

pub(super) fn stored(conn: &mut DbConnection, account: &AccountId, serial: &str) -> Result<Stored> {
    type StoredRow = (
        String,
        String,
        Option<String>,
        Option<String>,
        String,
        Option<String>,
    );
    let row: Option<StoredRow> = certificates::table
        .inner_join(access_keys::table)
        .filter(certificates::serial.eq(serial))
        .filter(certificates::account_id.eq(account.as_str()))
        .filter(access_keys::deleted_at.is_null())
        .select((
            certificates::ca_id,
            certificates::cert_pem,
            certificates::key_sealed,
            certificates::pfx_password_sealed,
            access_keys::name,
            certificates::issued_by,
        ))
        .first(conn)
        .optional()?;
    let (ca_id, cert_pem, key_sealed, password_sealed, key_name, issued_by) =
        row.ok_or_else(|| IdentityError::not_found("certificate", serial))?;
    Ok(Stored {
        ca_id,
        cert_pem,
        key_sealed,
        password_sealed,
        key_name,
        issued_by,
    })
}

/// Takes the server-generated private key of certificate `serial` out of the database: for its
/// maker, once (the sealed key is erased by a conditional update, so of two concurrent downloads
/// one gets it). An error says why not: never generated, not the maker, already taken.
pub(super) fn take_key(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    master: &MasterKey,
    actor: &Actor,
    account: &AccountId,
    serial: &str,
    s: &Stored,
) -> Result<PKey<lanyard_pki::Private>> {
    if s.password_sealed.is_none() {
        return Err(IdentityError::NotAllowed(
            "this certificate was issued for your own request: the key is yours, so there is no PFX to download; download the PEM".into(),
        ));
    }
    if !s.made_by(actor) {
        return Err(IdentityError::Forbidden(
            "only whoever issued this certificate can download its private key".into(),
        ));
    }
    let already = || {
        IdentityError::NotAllowed(
            "the private key of this certificate was downloaded already (it is handed out once); issue a new certificate".into(),
        )
    };
    let sealed = s.key_sealed.as_deref().ok_or_else(already)?;
    let pem = master.open(&key_context(serial), sealed)?;
    let key = PKey::private_key_from_pem(&pem).map_err(lanyard_pki::PkiError::from)?;
    let taken = diesel::update(
        certificates::table
            .filter(certificates::serial.eq(serial))
            .filter(certificates::key_sealed.is_not_null()),
    )
    .set((
        certificates::key_sealed.eq(None::<String>),
        certificates::key_taken_at.eq(clock.now().naive_utc()),
    ))
    .execute(conn)?;
    if taken != 1 {
        return Err(already());
    }
    history::record_by(
        conn,
        clock,
        actor,
        account,
        "Access keys",
        &format!(
            "Private key of certificate {serial} (key {}) downloaded",
            s.key_name
        ),
    )?;
    Ok(key)
}

pub(super) fn pfx_of(
    conn: &mut DbConnection,
    master: &MasterKey,
    serial: &str,
    s: &Stored,
    key: &PKey<lanyard_pki::Private>,
) -> Result<Vec<u8>> {
    let sealed = s.password_sealed.as_deref().unwrap_or_default();
    let password = master.open(&password_context(serial), sealed)?;
    let password = String::from_utf8(password).map_err(|e| IdentityError::Crypto(e.to_string()))?;
    let cert = X509::from_pem(s.cert_pem.as_bytes()).map_err(lanyard_pki::PkiError::from)?;
    let chain = platform_pki::chain(conn, &s.ca_id)?;
    Ok(lanyard_pki::pkcs12(
        &s.key_name,
        key,
        &cert,
        &chain,
        &password,
    )?)
}

pub(super) fn pem_of(
    conn: &mut DbConnection,
    s: &Stored,
    key: Option<&PKey<lanyard_pki::Private>>,
) -> Result<Vec<u8>> {
    let cert = X509::from_pem(s.cert_pem.as_bytes()).map_err(lanyard_pki::PkiError::from)?;
    let chain = platform_pki::chain(conn, &s.ca_id)?;
    Ok(lanyard_pki::pem_chain(&cert, &chain, key.map(|k| &**k))?)
}

/// PEM download: the certificate and its chain, plus — for its maker, the first time — the
/// private key when the server generated it. Anyone else, and the maker later, get the
/// certificate and chain only.
pub fn download_pem(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    master: &MasterKey,
    actor: &Actor,
    account: &AccountId,
    serial: &str,
) -> Result<Vec<u8>> {
    write_transaction(conn, |conn| {
        authorize(conn, actor, Area::AccessKeys, Verb::View, account)?;
        let s = stored(conn, account, serial)?;
        let key = if s.key_sealed.is_some() && s.made_by(actor) {
            Some(take_key(conn, clock, master, actor, account, serial, &s)?)
        } else {
            None
        };
        pem_of(conn, &s, key.as_ref())
    })
}

/// PKCS#12 download (only for a server-generated key pair), under the certificate's password:
/// for the certificate's maker, once.
pub fn download_pfx(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    master: &MasterKey,
    actor: &Actor,
    account: &AccountId,
    serial: &str,
) -> Result<Vec<u8>> {
    write_transaction(conn, |conn| {
        authorize(conn, actor, Area::AccessKeys, Verb::View, account)?;
        let s = stored(conn, account, serial)?;
        let key = take_key(conn, clock, master, actor, account, serial, &s)?;
        pfx_of(conn, master, serial, &s, &key)
    })
}

/// A new certificate's keystore as its maker receives it once: the PEM (chain, and the private
/// key when the server generated it) and, for a generated key, the PKCS#12.
#[derive(Debug)]
pub struct Keystore {
    /// Certificate, chain and (generated) private key, PEM.
    pub pem: Vec<u8>,
    /// PKCS#12 under the PFX password, for a generated key.
    pub pfx: Option<Vec<u8>>,
}

/// Takes the keystore of the certificate `serial` that `actor` just issued (the management
/// API's answer to a new key or certificate): the generated key is taken once for both forms.
pub fn keystore(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    master: &MasterKey,
    actor: &Actor,
    account: &AccountId,
    serial: &str,
) -> Result<Keystore> {
    write_transaction(conn, |conn| {
        authorize(conn, actor, Area::AccessKeys, Verb::View, account)?;
        let s = stored(conn, account, serial)?;
        if s.password_sealed.is_none() {
            return Ok(Keystore {
                pem: pem_of(conn, &s, None)?,
                pfx: None,
            });
        }
        let key = take_key(conn, clock, master, actor, account, serial, &s)?;
        Ok(Keystore {
            pem: pem_of(conn, &s, Some(&key))?,
            pfx: Some(pfx_of(conn, master, serial, &s, &key)?),
        })
    })
}

/// The PFX password of a server-generated certificate ("show password"), for its maker only.
pub fn pfx_password(
    conn: &mut DbConnection,
    master: &MasterKey,
    actor: &Actor,
    account: &AccountId,
    serial: &str,
) -> Result<SecretString> {
    authorize(conn, actor, Area::AccessKeys, Verb::View, account)?;
    let s = stored(conn, account, serial)?;
    let sealed = s.password_sealed.clone().ok_or_else(|| {
        IdentityError::NotAllowed(
            "this certificate has no PFX password (it was issued for your own request)".into(),
        )
    })?;
    if !s.made_by(actor) {
        return Err(IdentityError::Forbidden(
            "only whoever issued this certificate can see its PFX password".into(),
        ));
    }
    let password = master.open(&password_context(serial), &sealed)?;
    Ok(SecretString::new(
        String::from_utf8(password).map_err(|e| IdentityError::Crypto(e.to_string()))?,
    ))
}
