//! Who a client certificate belongs to, read from the database on every mutual-TLS
//! request: active, unexpired, its key not deleted, its account neither disabled nor deleted.

use super::*;

/// Who the presented client certificate (DER) belongs to, if it may authenticate now: it must be
/// exactly a certificate the platform issued (same bytes, not merely the same serial) — see
/// [`authenticate`] for the other conditions. One query: this runs on every mTLS request.
pub fn authenticate_certificate(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    der: &[u8],
) -> Result<Option<KeyIdentity>> {
    let Ok(cert) = lanyard_pki::certificate_from_der(der) else {
        return Ok(None);
    };
    let serial = lanyard_pki::serial_hex(&cert)?;
    Ok(active_key(conn, clock, &serial)?
        .filter(|(pem, _)| lanyard_pki::same_certificate(pem, der))
        .map(|(_, identity)| identity))
}

/// Whether `der` is exactly a certificate this platform issued and then revoked (so that the
/// messaging API can answer PassBy[ME]'s `CERTIFICATE_REVOKED` instead of a bare refusal).
pub fn is_revoked(conn: &mut DbConnection, der: &[u8]) -> Result<bool> {
    let Ok(cert) = lanyard_pki::certificate_from_der(der) else {
        return Ok(false);
    };
    let serial = lanyard_pki::serial_hex(&cert)?;
    let pem: Option<String> = certificates::table
        .filter(certificates::serial.eq(&serial))
        .filter(certificates::status.eq("revoked"))
        .select(certificates::cert_pem)
        .first(conn)
        .optional()?;
    Ok(pem.is_some_and(|pem| lanyard_pki::same_certificate(&pem, der)))
}

/// Who the client certificate with `serial` belongs to, if it may authenticate now: issued by
/// the platform to an access key that still exists, active (not revoked), within its validity.
pub fn authenticate(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    serial: &str,
) -> Result<Option<KeyIdentity>> {
    Ok(active_key(conn, clock, serial)?.map(|(_, identity)| identity))
}

/// The stored certificate (PEM) with serial `serial` and its key, when it may authenticate now:
/// also never while the key's account is disabled or deleted.
pub(super) fn active_key(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    serial: &str,
) -> Result<Option<(String, KeyIdentity)>> {
    let now = clock.now().naive_utc();
    type Found = (
        String,
        (String, String, String, String, Option<String>),
        (Option<String>, bool, bool, Option<String>),
    );
    let row: Option<Found> = certificates::table
        .inner_join(access_keys::table)
        .inner_join(accounts::table.on(accounts::id.eq(access_keys::account_id)))
        .filter(certificates::serial.eq(serial))
        .filter(certificates::status.eq("active"))
        .filter(certificates::not_before.le(now))
        .filter(certificates::not_after.gt(now))
        .filter(access_keys::deleted_at.is_null())
        // Two plain comparisons rather than NOT IN: diesel caches this statement (hot path).
        .filter(accounts::status.ne(AccountStatus::Disabled.as_str()))
        .filter(accounts::status.ne(AccountStatus::Deleted.as_str()))
        .select((
            certificates::cert_pem,
            (
                access_keys::account_id,
                access_keys::id,
                access_keys::name,
                access_keys::kind,
                access_keys::application_id,
            ),
            (
                access_keys::rights,
                access_keys::can_order_credits,
                access_keys::can_transfer_credits,
                access_keys::scope_accounts,
            ),
        ))
        .first(conn)
        .optional()?;
    row.map(
        |(
            pem,
            (account, key_id, key_name, kind, application_id),
            (rights, order, transfer, scope),
        )| {
            Ok((
                pem,
                KeyIdentity {
                    account: AccountId::from_stored(account),
                    key_id,
                    key_name,
                    kind: KeyKind::parse(&kind)?,
                    application_id,
                    rights: stored_rights(rights.as_deref(), order, transfer)?,
                    scope: Scope::decode(scope.as_deref()),
                },
            ))
        },
    )
    .transpose()
}
