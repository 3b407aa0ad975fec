//! Adding a key and issuing certificates: the maker's rights and scope recorded with a
//! key, and a new certificate only for someone whose rights and scope include the key's.

use super::*;

pub(super) fn subject_line(subject: &Subject) -> String {
    let mut parts = vec![format!("CN={}", subject.common_name)];
    if let Some(ou) = &subject.organizational_unit {
        parts.push(format!("OU={ou}"));
    }
    if let Some(o) = &subject.organization {
        parts.push(format!("O={o}"));
    }
    parts.join(", ")
}

/// Issues a certificate for `key` and stores it; returns it with the PFX password when the key
/// pair was generated.
#[expect(
    clippy::too_many_arguments,
    reason = "the certificate's parts and who asked for it"
)]
pub(super) fn issue_for(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    master: &MasterKey,
    actor: &Actor,
    key: &AccessKey,
    generated: Option<&PKey<lanyard_pki::Private>>,
    public_key: &PKey<lanyard_pki::Public>,
    crl_base: &str,
) -> Result<(CertificateInfo, Option<SecretString>)> {
    let account_name = crate::account::get(conn, &key.account)?.name;
    let ca = platform_pki::active(conn, master, Purpose::AccessKeys)?;
    let now = DateTime::from_timestamp(clock.now().timestamp(), 0).unwrap_or_else(|| clock.now());
    let not_after = (now + CERTIFICATE_VALIDITY).min(platform_pki::not_after(conn, &ca.id)?);
    let subject = Subject {
        common_name: key.name.clone(),
        organization: Some(account_name),
        organizational_unit: Some(match key.kind {
            KeyKind::Application => "Application key".to_owned(),
            KeyKind::Management => "Management key".to_owned(),
        }),
    };
    let crl_url = platform_pki::crl_url(crl_base, &ca.id);
    let cert = ca.ca.issue(&Issue {
        subject: &subject,
        public_key,
        profile: Profile::Client,
        not_before: now,
        not_after,
        crl_url: Some(&crl_url),
    })?;
    let serial = lanyard_pki::serial_hex(&cert)?;
    let cert_pem = String::from_utf8(cert.to_pem().map_err(lanyard_pki::PkiError::from)?)
        .map_err(|e| IdentityError::Crypto(e.to_string()))?;
    let (key_sealed, password, password_sealed) = match generated {
        Some(private) => {
            let pem = private
                .private_key_to_pem_pkcs8()
                .map_err(lanyard_pki::PkiError::from)?;
            let password = lanyard_pki::random_password(20)?;
            (
                Some(master.seal(&key_context(&serial), &pem)?),
                Some(SecretString::new(password.clone())),
                Some(master.seal(&password_context(&serial), password.as_bytes())?),
            )
        }
        None => (None, None, None),
    };
    let subject = subject_line(&subject);
    diesel::insert_into(certificates::table)
        .values((
            certificates::serial.eq(&serial),
            certificates::ca_id.eq(&ca.id),
            certificates::account_id.eq(key.account.as_str()),
            certificates::access_key_id.eq(&key.id),
            certificates::subject.eq(&subject),
            certificates::not_before.eq(now.naive_utc()),
            certificates::not_after.eq(not_after.naive_utc()),
            certificates::status.eq("active"),
            certificates::cert_pem.eq(&cert_pem),
            certificates::key_sealed.eq(key_sealed),
            certificates::pfx_password_sealed.eq(password_sealed),
            certificates::created_at.eq(clock.now().naive_utc()),
            certificates::issued_by.eq(&actor.principal),
        ))
        .execute(conn)?;
    Ok((
        CertificateInfo {
            serial,
            subject,
            not_before: now,
            not_after,
            status: CertificateStatus::Active,
            revoked_at: None,
            generated: generated.is_some(),
            key_available: generated.is_some(),
        },
        password,
    ))
}

/// The public key to certify: a fresh RSA pair, or the request's key after its checks.
pub(super) fn key_material(
    source: KeySource<'_>,
) -> Result<(
    Option<PKey<lanyard_pki::Private>>,
    PKey<lanyard_pki::Public>,
)> {
    match source {
        KeySource::Generate => {
            let private = generate_key(KeySpec::Rsa2048)?;
            let public = PKey::public_key_from_der(
                &private
                    .public_key_to_der()
                    .map_err(lanyard_pki::PkiError::from)?,
            )
            .map_err(lanyard_pki::PkiError::from)?;
            Ok((Some(private), public))
        }
        KeySource::Csr(bytes) => Ok((None, lanyard_pki::parse_csr(bytes)?.public_key)),
    }
}

/// What [`create`] and [`issue_certificate`] return.
#[derive(Debug)]
pub struct Issued {
    /// The key.
    pub key: AccessKey,
    /// The new certificate.
    pub certificate: CertificateInfo,
    /// The PFX password, when the server generated the key pair.
    pub pfx_password: Option<SecretString>,
}

/// Adds an access key to `account` with its first certificate.
#[allow(clippy::too_many_arguments)]
pub fn create(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    master: &MasterKey,
    actor: &Actor,
    account: &AccountId,
    kind: KeyKind,
    name: &str,
    application_id: Option<&str>,
    source: KeySource<'_>,
    crl_base: &str,
) -> Result<Issued> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(IdentityError::invalid(
            "name",
            "is required, at most 64 characters",
        ));
    }
    // Key generation and CSR checks before the write transaction (RSA takes a while).
    let (private, public) = key_material(source)?;
    write_transaction(conn, |conn| {
        authorize(conn, actor, Area::AccessKeys, Verb::Create, account)?;
        require_messaging(actor, kind)?;
        let (rights, scope) = grant_of(conn, actor, account)?;
        let application_id = match (
            kind,
            application_id.map(str::trim).filter(|a| !a.is_empty()),
        ) {
            (KeyKind::Application, Some(app)) => {
                let found: i64 = applications::table
                    .filter(applications::id.eq(app))
                    .filter(applications::account_id.eq(account.as_str()))
                    .count()
                    .get_result(conn)?;
                if found == 0 {
                    return Err(IdentityError::invalid(
                        "applicationId",
                        "is not an application of this organization",
                    ));
                }
                Some(app.to_owned())
            }
            (KeyKind::Application, None) => {
                return Err(IdentityError::invalid(
                    "applicationId",
                    "is required for an application key",
                ));
            }
            (KeyKind::Management, Some(_)) => {
                return Err(IdentityError::invalid(
                    "applicationId",
                    "is only for application keys",
                ));
            }
            (KeyKind::Management, None) => None,
        };
        let key = AccessKey {
            id: uuid::Uuid::new_v4().to_string(),
            account: account.clone(),
            kind,
            name: name.to_owned(),
            application_id,
            created_at: clock.now(),
        };
        diesel::insert_into(access_keys::table)
            .values((
                access_keys::id.eq(&key.id),
                access_keys::account_id.eq(account.as_str()),
                access_keys::kind.eq(kind.as_str()),
                access_keys::name.eq(&key.name),
                access_keys::application_id.eq(key.application_id.as_deref()),
                access_keys::created_at.eq(key.created_at.naive_utc()),
                access_keys::rights.eq(rights.encode()),
                access_keys::can_order_credits.eq(rights.can_order_credits),
                access_keys::can_transfer_credits.eq(rights.can_transfer_credits),
                access_keys::scope_accounts.eq(scope.encode()),
                access_keys::created_by.eq(&actor.principal),
            ))
            .execute(conn)?;
        let (certificate, pfx_password) = issue_for(
            conn,
            clock,
            master,
            actor,
            &key,
            private.as_ref(),
            &public,
            crl_base,
        )?;
        history::record_by(
            conn,
            clock,
            actor,
            account,
            "Access keys",
            &format!(
                "{} key {} added (certificate {})",
                if kind == KeyKind::Application {
                    "Application"
                } else {
                    "Management"
                },
                key.name,
                certificate.serial
            ),
        )?;
        Ok(Issued {
            key,
            certificate,
            pfx_password,
        })
    })
}

/// Issues a new certificate for key `key_id` of `account`.
#[allow(clippy::too_many_arguments)]
pub fn issue_certificate(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    master: &MasterKey,
    actor: &Actor,
    account: &AccountId,
    key_id: &str,
    source: KeySource<'_>,
    crl_base: &str,
) -> Result<Issued> {
    let (private, public) = key_material(source)?;
    write_transaction(conn, |conn| {
        authorize(conn, actor, Area::AccessKeys, Verb::Edit, account)?;
        let key = find_key(conn, account, key_id)?;
        // A new certificate is the key's power in new hands: only for someone holding it all.
        require_messaging(actor, key.kind)?;
        let (rights, scope) = grant(conn, key_id)?;
        require_within(conn, actor, &rights, account, &scope, "this key")?;
        let (certificate, pfx_password) = issue_for(
            conn,
            clock,
            master,
            actor,
            &key,
            private.as_ref(),
            &public,
            crl_base,
        )?;
        history::record_by(
            conn,
            clock,
            actor,
            account,
            "Access keys",
            &format!(
                "Certificate {} issued for key {}",
                certificate.serial, key.name
            ),
        )?;
        Ok(Issued {
            key,
            certificate,
            pfx_password,
        })
    })
}
