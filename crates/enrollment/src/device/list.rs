//! Lists of devices (per organization, per person) and the devices report's pages.

use super::*;

/// A device as lists show it (DeviceData).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Id.
    pub id: String,
    /// `deviceName`.
    pub name: String,
    /// `vendorId`.
    pub vendor_id: String,
    /// `customerFullName`: the owner's full name (or alias / e-mail).
    pub owner_name: String,
    /// `deviceType`.
    pub device_type: String,
    /// `active` or `deactivated`.
    pub status: String,
    /// App version.
    pub app_version: String,
    /// Enrolled at.
    pub created_at: DateTime<chrono::Utc>,
    /// Last call.
    pub last_seen_at: DateTime<chrono::Utc>,
    /// Its active certificate: serial (hex) and end of validity.
    pub certificate: Option<(String, DateTime<chrono::Utc>)>,
}

pub(super) type InfoRow = (
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    String,
    String,
    NaiveDateTime,
    NaiveDateTime,
);

/// The active devices of `account` (whose: `holder`, or everyone's), newest first.
pub fn list(
    conn: &mut DbConnection,
    actor: &Actor,
    account: &AccountId,
    holder: Option<crate::enrollment::Holder<'_>>,
) -> Result<Vec<DeviceInfo>> {
    list_page(conn, actor, account, holder, None)
}

/// As [`list`], one page: `(start, length)` rows from `start` in the same order (newest
/// first), with the total count of active devices.
pub fn page(
    conn: &mut DbConnection,
    actor: &Actor,
    account: &AccountId,
    (start, length): (i64, i64),
) -> Result<(i64, Vec<DeviceInfo>)> {
    let rows = list_page(conn, actor, account, None, Some((start, length)))?;
    let total: i64 = devices::table
        .filter(devices::account_id.eq(account.as_str()))
        .filter(devices::status.eq("active"))
        .count()
        .get_result(conn)?;
    Ok((total, rows))
}

pub(super) fn list_page(
    conn: &mut DbConnection,
    actor: &Actor,
    account: &AccountId,
    holder: Option<crate::enrollment::Holder<'_>>,
    window: Option<(i64, i64)>,
) -> Result<Vec<DeviceInfo>> {
    authorize(conn, actor, Area::Devices, Verb::View, account)?;
    let mut q = devices::table
        .filter(devices::account_id.eq(account.as_str()))
        .filter(devices::status.eq("active"))
        .into_boxed();
    match holder {
        Some(crate::enrollment::Holder::User(oid)) => {
            let user = lanyard_identity::end_user::get(conn, account, oid)?;
            q = q.filter(devices::end_user_id.eq(user.id.as_str().to_owned()));
        }
        Some(crate::enrollment::Holder::Administrator(email)) => {
            match lanyard_identity::admin::find_by_email(conn, email)? {
                Some(a) if &a.account == account => {
                    q = q.filter(devices::administrator_id.eq(a.id.as_str().to_owned()))
                }
                _ => {
                    return Err(EnrollmentError::Identity(IdentityError::NotFound {
                        what: "administrator",
                        key: email.to_owned(),
                    }));
                }
            }
        }
        None => {}
    }
    if let Some((start, length)) = window {
        q = q.offset(start.max(0)).limit(length.clamp(1, 10_000));
    }
    let rows: Vec<InfoRow> = q
        .order((devices::created_at.desc(), devices::id))
        .select((
            devices::id,
            devices::name,
            devices::vendor_id,
            devices::end_user_id,
            devices::administrator_id,
            devices::device_type,
            devices::status,
            devices::app_version,
            devices::created_at,
            devices::last_seen_at,
        ))
        .load(conn)?;
    // The active certificates of the listed devices, in a few queries rather than one per row.
    let ids: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    let mut certs: std::collections::HashMap<String, (String, NaiveDateTime)> =
        std::collections::HashMap::new();
    for chunk in ids.chunks(500) {
        let found: Vec<(Option<String>, String, NaiveDateTime)> = certificates::table
            .filter(certificates::device_id.eq_any(chunk))
            .filter(certificates::status.eq("active"))
            .select((
                certificates::device_id,
                certificates::serial,
                certificates::not_after,
            ))
            .load(conn)?;
        for (device, serial, until) in found {
            if let Some(device) = device {
                certs.insert(device, (serial, until));
            }
        }
    }
    // One lookup per person, not per device: a person often has several.
    let mut owners: std::collections::HashMap<(Option<String>, Option<String>), String> =
        std::collections::HashMap::new();
    rows.into_iter()
        .map(
            |(
                id,
                name,
                vendor_id,
                user,
                administrator,
                device_type,
                status,
                app_version,
                created,
                seen,
            )| {
                let holder = (user, administrator);
                let owner_name = match owners.get(&holder) {
                    Some(name) => name.clone(),
                    None => {
                        let (name, _) = person_and_email(conn, holder.0.clone(), holder.1.clone())?;
                        owners.insert(holder, name.clone());
                        name
                    }
                };
                let certificate = certs
                    .remove(&id)
                    .map(|(serial, until)| (serial, until.and_utc()));
                Ok(DeviceInfo {
                    owner_name,
                    certificate,
                    id,
                    name,
                    vendor_id,
                    device_type,
                    status,
                    app_version,
                    created_at: created.and_utc(),
                    last_seen_at: seen.and_utc(),
                })
            },
        )
        .collect()
}
