//! Who a device certificate belongs to, on every device-api call (mutual TLS).

use super::*;

/// Who a verified device certificate belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceIdentity {
    /// Device id.
    pub device_id: String,
    /// Its account.
    pub account: AccountId,
    /// Device name.
    pub name: String,
    /// Serial of the presented certificate.
    pub serial: String,
}

/// The device a presented client certificate (DER) belongs to, if it may call now: exactly a
/// certificate the platform issued to a device (same bytes), active, within its validity, and
/// the device not deactivated. Read from the database on every call (one query), so a
/// deactivation or revocation on any instance refuses the next call.
///
/// `app_version` is what the app says it is now (the `X-App-Version` header); it is remembered
/// when it changed, and the device's version must meet the organization's minimum
/// (UNSUPPORTED_APP_VERSION otherwise).
pub fn authenticate_certificate(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    der: &[u8],
    app_version: Option<&str>,
) -> Result<Option<DeviceIdentity>> {
    use lanyard_store::schema::mobile_app_settings as apps;
    let Ok(cert) = lanyard_pki::certificate_from_der(der) else {
        return Ok(None);
    };
    let serial = lanyard_pki::serial_hex(&cert)?;
    let now = clock.now().naive_utc();
    type Found = (
        String,
        String,
        String,
        String,
        String,
        String,
        NaiveDateTime,
        Option<String>,
        Option<String>,
    );
    use lanyard_store::schema::accounts;
    let found: Option<Found> = certificates::table
        .inner_join(devices::table.on(certificates::device_id.eq(devices::id.nullable())))
        .inner_join(accounts::table.on(accounts::id.eq(devices::account_id)))
        .left_join(apps::table.on(apps::account_id.eq(devices::account_id)))
        .filter(certificates::serial.eq(&serial))
        .filter(certificates::status.eq("active"))
        .filter(certificates::not_before.le(now))
        .filter(certificates::not_after.gt(now))
        .filter(devices::status.eq("active"))
        // A disabled account's phones are refused at once (and again usable on reactivation);
        // a deleted account's certificates are revoked as well.
        .filter(accounts::status.ne(lanyard_identity::AccountStatus::Disabled.as_str()))
        .filter(accounts::status.ne(lanyard_identity::AccountStatus::Deleted.as_str()))
        .select((
            certificates::cert_pem,
            devices::id,
            devices::account_id,
            devices::name,
            devices::device_type,
            devices::app_version,
            devices::last_seen_at,
            apps::min_android_version.nullable(),
            apps::min_ios_version.nullable(),
        ))
        .first(conn)
        .optional()?;
    let Some((pem, device_id, account, name, kind, stored_version, last_seen, android, ios)) =
        found
    else {
        return Ok(None);
    };
    if !lanyard_pki::same_certificate(&pem, der) {
        return Ok(None);
    }
    let reported = app_version
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.len() <= 40);
    let version = reported.unwrap_or(&stored_version);
    let minimums = crate::mobile_app::MobileApp {
        enrollment_scheme: None,
        min_android_version: android,
        min_ios_version: ios,
    };
    crate::mobile_app::require_version(&minimums, DeviceType::parse(&kind)?, version)?;
    // A call is not a write, except a changed app version, and last-seen at most once a minute.
    if reported.is_some_and(|v| v != stored_version) || last_seen < now - TimeDelta::minutes(1) {
        diesel::update(devices::table.find(&device_id))
            .set((
                devices::last_seen_at.eq(now),
                devices::app_version.eq(version),
            ))
            .execute(conn)?;
    }
    Ok(Some(DeviceIdentity {
        device_id,
        account: AccountId::from_stored(account),
        name,
        serial,
    }))
}
