//! Deactivation of phones: by an administrator, with the deactivation code (API and
//! self-service page, rate-limited per client), after inactivity, and with a deleted end user.

use super::*;

/// Deactivates device `device_id` of `account`: its certificates are revoked at once and a new
/// CRL of their CA is made. `by` is recorded in the account history. `false` when it was not
/// active.
pub fn deactivate(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    master: &MasterKey,
    account: &AccountId,
    device_id: &str,
    by: &str,
) -> Result<bool> {
    let now = clock.now().naive_utc();
    let (changed, cas) = write_transaction(conn, |conn| {
        let name: Option<String> = devices::table
            .filter(devices::id.eq(device_id))
            .filter(devices::account_id.eq(account.as_str()))
            .select(devices::name)
            .first(conn)
            .optional()?;
        let Some(name) = name else {
            return Err(EnrollmentError::NotFound(device_id.to_owned()));
        };
        let changed = diesel::update(
            devices::table
                .find(device_id)
                .filter(devices::status.eq("active")),
        )
        .set((
            devices::status.eq("deactivated"),
            devices::deactivated_at.eq(now),
        ))
        .execute(conn)?;
        let cas: Vec<String> = certificates::table
            .filter(certificates::device_id.eq(device_id))
            .filter(certificates::status.eq("active"))
            .select(certificates::ca_id)
            .distinct()
            .load(conn)?;
        diesel::update(
            certificates::table
                .filter(certificates::device_id.eq(device_id))
                .filter(certificates::status.eq("active")),
        )
        .set((
            certificates::status.eq("revoked"),
            certificates::revoked_at.eq(now),
        ))
        .execute(conn)?;
        if changed > 0 {
            history::record(
                conn,
                clock,
                account,
                "Devices",
                &format!("Device {name} deactivated"),
                by,
                None,
            )?;
        }
        Ok::<_, EnrollmentError>((changed > 0, cas))
    })?;
    for ca in cas {
        platform_pki::crl(conn, clock, master, &ca, true)?;
    }
    Ok(changed)
}

/// Wrong deactivation codes allowed per (client, account) in a quarter of an hour.
pub(super) const DEACTIVATION_ATTEMPTS: lanyard_identity::throttle::Limit =
    lanyard_identity::throttle::Limit {
        max: 10,
        window: TimeDelta::minutes(15),
    };

/// Deactivates the device of `account` whose deactivation code is `code` (API §7.4; the
/// self-service page): `vendor_id`, when given, names the device (`NOT_FOUND` when there is no
/// such active device). A wrong code is `FORBIDDEN`. Wrong codes are counted per (`client`,
/// account) — the page's client address, the API caller — so a stranger's guesses never stop
/// the right code from another client.
pub fn deactivate_with_code(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    master: &MasterKey,
    account: &AccountId,
    vendor_id: Option<&str>,
    code: &str,
    client: &str,
) -> Result<String> {
    let key = format!("deactivation-code:{}:{client}", account.as_str());
    lanyard_identity::throttle::check(conn, clock, &key, DEACTIVATION_ATTEMPTS)?;
    let mut q = devices::table
        .filter(devices::account_id.eq(account.as_str()))
        .filter(devices::status.eq("active"))
        .into_boxed();
    if let Some(vendor) = vendor_id {
        q = q.filter(devices::vendor_id.eq(vendor.to_owned()));
    }
    let candidates: Vec<(String, String)> = q
        .select((devices::id, devices::deactivation_hash))
        .load(conn)?;
    if vendor_id.is_some() && candidates.is_empty() {
        return Err(EnrollmentError::NotFound(
            vendor_id.unwrap_or_default().to_owned(),
        ));
    }
    let presented = hash_token(code.trim());
    let Some((device_id, _)) = candidates.into_iter().find(|(_, hash)| {
        lanyard_core::secret::constant_time_eq(hash.as_bytes(), presented.as_bytes())
    }) else {
        lanyard_identity::throttle::hit(conn, clock, &key, DEACTIVATION_ATTEMPTS)?;
        return Err(EnrollmentError::Identity(IdentityError::Forbidden(
            "the deactivation code is not valid".into(),
        )));
    };
    deactivate(
        conn,
        clock,
        master,
        account,
        &device_id,
        "deactivation code",
    )?;
    Ok(device_id)
}

/// Removes (deactivates, revoking their certificates) the devices that have not called for
/// longer than their account's maximum device inactivity (SPEC §1 account settings); accounts
/// without the setting keep their devices. Safe to run on every instance at once: a device is
/// deactivated once. Returns how many were removed.
pub fn purge_inactive(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    master: &MasterKey,
) -> Result<usize> {
    use lanyard_store::schema::account_settings as settings;
    let now = clock.now();
    let limits: Vec<(String, i64)> = settings::table
        .filter(settings::max_device_inactivity_days.is_not_null())
        .select((
            settings::account_id,
            settings::max_device_inactivity_days.assume_not_null(),
        ))
        .load(conn)?;
    let mut removed = 0;
    for (account, days) in limits {
        let cutoff = (now - TimeDelta::days(days.max(1))).naive_utc();
        let stale: Vec<(String, String)> = devices::table
            .filter(devices::account_id.eq(&account))
            .filter(devices::status.eq("active"))
            .filter(devices::last_seen_at.lt(cutoff))
            .select((devices::id, devices::name))
            .load(conn)?;
        let account = AccountId::from_stored(account);
        for (device_id, _) in stale {
            let by = format!("inactivity (no call for {days} days)");
            if deactivate(conn, clock, master, &account, &device_id, &by)? {
                removed += 1;
            }
        }
    }
    Ok(removed)
}

/// Attempts at the self-service page allowed per client address in a quarter of an hour.
pub(super) const SELF_SERVICE_ATTEMPTS: lanyard_identity::throttle::Limit =
    lanyard_identity::throttle::Limit {
        max: 20,
        window: TimeDelta::minutes(15),
    };

/// The self-service deactivation page (SPEC §3): the person names the organization (its OID,
/// from the confirmation letter's link) and the deactivation code. Failed attempts count per
/// client address, and per (client address, organization); the human check is the caller's (see
/// [`crate::human_check`]). An unknown organization and a wrong code get the same answer, so
/// the page does not tell which organizations exist. Returns the deactivated device's name.
pub fn deactivate_self_service(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    master: &MasterKey,
    organization: &str,
    code: &str,
    client: &str,
) -> Result<String> {
    let key = format!("deactivation-page:{client}");
    lanyard_identity::throttle::check(conn, clock, &key, SELF_SERVICE_ATTEMPTS)?;
    let outcome = (|| {
        let oid = lanyard_core::Oid::parse(organization.trim()).map_err(|_| {
            EnrollmentError::Identity(IdentityError::Invalid {
                field: "organization",
                rule: "the organization ID from your confirmation letter, e.g. 2.25.1234.3.2.7"
                    .into(),
            })
        })?;
        let refused = || {
            EnrollmentError::Identity(IdentityError::Forbidden(
                "the organization ID or the deactivation code is not valid".into(),
            ))
        };
        let account = match account::find_by_oid(conn, &oid) {
            Ok(account) => account,
            Err(IdentityError::NotFound { .. }) => return Err(refused()),
            Err(other) => return Err(other.into()),
        };
        let device_id =
            match deactivate_with_code(conn, clock, master, &account.id, None, code, client) {
                Err(EnrollmentError::Identity(IdentityError::Forbidden(_))) => {
                    return Err(refused());
                }
                other => other?,
            };
        let name: String = devices::table
            .find(&device_id)
            .select(devices::name)
            .first(conn)?;
        Ok(name)
    })();
    if outcome.is_err() {
        lanyard_identity::throttle::hit(conn, clock, &key, SELF_SERVICE_ATTEMPTS)?;
    }
    outcome
}

/// An administrator deactivates device `device_id` of `account` (console "Device management"):
/// authorized like every change, recorded under the administrator's name.
pub fn deactivate_by(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    master: &MasterKey,
    actor: &Actor,
    account: &AccountId,
    device_id: &str,
) -> Result<bool> {
    use lanyard_identity::rights::{Area, Verb, authorize};
    authorize(conn, actor, Area::Devices, Verb::Delete, account)?;
    deactivate(conn, clock, master, account, device_id, &actor.name)
}

/// Deletes end user `oid` of `account` with everything that hangs on it (SPEC §2): active devices
/// are deactivated (their certificates revoked and listed in new CRLs), enrollments go with the
/// user. One transaction.
pub fn delete_end_user(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    master: &MasterKey,
    actor: &Actor,
    account: &AccountId,
    oid: &lanyard_core::Oid,
) -> Result<()> {
    write_transaction(conn, |conn| {
        let active: Vec<String> = {
            let user = lanyard_identity::end_user::get(conn, account, oid)?;
            devices::table
                .filter(devices::end_user_id.eq(user.id.as_str()))
                .filter(devices::status.eq("active"))
                .select(devices::id)
                .load(conn)?
        };
        for device_id in active {
            deactivate_by(conn, clock, master, actor, account, &device_id)?;
        }
        lanyard_identity::end_user::delete(conn, clock, actor, account, oid)?;
        Ok(())
    })
}
