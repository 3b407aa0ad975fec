//! Revocation of certificates and deletion of keys (each makes a new CRL), and the
//! revocation of everything an account holds when it is deleted.

use super::*;

/// Marks certificate `serial` revoked (once: a second revocation changes nothing); `true`
/// when this call revoked it. The caller publishes a new CRL.
pub(super) fn revoke_row(conn: &mut DbConnection, clock: &dyn Clock, serial: &str) -> Result<bool> {
    let changed = diesel::update(
        certificates::table
            .filter(certificates::serial.eq(serial))
            .filter(certificates::status.eq("active")),
    )
    .set((
        certificates::status.eq("revoked"),
        certificates::revoked_at.eq(clock.now().naive_utc()),
    ))
    .execute(conn)?;
    Ok(changed > 0)
}

/// Revokes every active certificate of `account` — its access keys' and its phones' — when the
/// account is deleted (in the deletion's transaction); returns the CAs whose CRLs must be made
/// anew.
pub(crate) fn revoke_all_of_account(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    account: &AccountId,
) -> Result<Vec<String>> {
    let mut cas: Vec<String> = certificates::table
        .filter(certificates::account_id.eq(account.as_str()))
        .filter(certificates::status.eq("active"))
        .select(certificates::ca_id)
        .distinct()
        .load(conn)?;
    cas.sort();
    diesel::update(
        certificates::table
            .filter(certificates::account_id.eq(account.as_str()))
            .filter(certificates::status.eq("active")),
    )
    .set((
        certificates::status.eq("revoked"),
        certificates::revoked_at.eq(clock.now().naive_utc()),
    ))
    .execute(conn)?;
    Ok(cas)
}

/// Revokes certificate `serial` of `account` and publishes a new CRL of its CA.
pub fn revoke(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    master: &MasterKey,
    actor: &Actor,
    account: &AccountId,
    serial: &str,
) -> Result<()> {
    let ca_id = write_transaction(conn, |conn| {
        authorize(conn, actor, Area::AccessKeys, Verb::Edit, account)?;
        let s = stored(conn, account, serial)?;
        if revoke_row(conn, clock, serial)? {
            history::record_by(
                conn,
                clock,
                actor,
                account,
                "Access keys",
                &format!("Certificate {serial} of key {} revoked", s.key_name),
            )?;
        }
        Ok::<_, IdentityError>(s.ca_id)
    })?;
    platform_pki::crl(conn, clock, master, &ca_id, true)?;
    Ok(())
}

/// Deletes key `key_id`: all its certificates are revoked, then it is gone from lists.
pub fn delete(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    master: &MasterKey,
    actor: &Actor,
    account: &AccountId,
    key_id: &str,
) -> Result<()> {
    let cas = write_transaction(conn, |conn| {
        authorize(conn, actor, Area::AccessKeys, Verb::Delete, account)?;
        let key = find_key(conn, account, key_id)?;
        let certs: Vec<(String, String)> = certificates::table
            .filter(certificates::access_key_id.eq(key_id))
            .select((certificates::serial, certificates::ca_id))
            .load(conn)?;
        let mut cas = Vec::new();
        for (serial, ca) in certs {
            if revoke_row(conn, clock, &serial)? && !cas.contains(&ca) {
                cas.push(ca);
            }
        }
        diesel::update(access_keys::table.find(key_id))
            .set(access_keys::deleted_at.eq(clock.now().naive_utc()))
            .execute(conn)?;
        history::record_by(
            conn,
            clock,
            actor,
            account,
            "Access keys",
            &format!("Key {} deleted; its certificates are revoked", key.name),
        )?;
        Ok::<_, IdentityError>(cas)
    })?;
    for ca in cas {
        platform_pki::crl(conn, clock, master, &ca, true)?;
    }
    Ok(())
}
