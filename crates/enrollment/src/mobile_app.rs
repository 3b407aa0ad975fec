//! Custom mobile app settings of an organization (SPEC §1 "Custom mobile app"): the URL scheme
//! its own app registers for enrollment links, and the oldest Android and iOS app versions it
//! still accepts — checked at enrollment and on every device call. (Push credentials join these
//! settings with message delivery.)

use crate::device::DeviceType;
use crate::{EnrollmentError, Result};
use diesel::prelude::*;
use lanyard_core::Clock;
use lanyard_core::id::AccountId;
use lanyard_identity::rights::{Actor, Area, Verb, authorize};
use lanyard_identity::{IdentityError, history};
use lanyard_store::schema::mobile_app_settings;
use lanyard_store::{DbConnection, write_transaction};
use std::cmp::Ordering;

/// The settings; `None` everywhere is the default (https links, any app version).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MobileApp {
    /// Scheme that replaces `https` in enrollment links (QR codes), e.g. `acme-id`.
    pub enrollment_scheme: Option<String>,
    /// Oldest Android app version accepted, e.g. `2.4`.
    pub min_android_version: Option<String>,
    /// Oldest iOS app version accepted.
    pub min_ios_version: Option<String>,
}

type Row = (Option<String>, Option<String>, Option<String>);

/// The settings of `account` (no rights check: used by the device protocol).
pub fn of(conn: &mut DbConnection, account: &AccountId) -> Result<MobileApp> {
    let row: Option<Row> = mobile_app_settings::table
        .find(account.as_str())
        .select((
            mobile_app_settings::enrollment_scheme,
            mobile_app_settings::min_android_version,
            mobile_app_settings::min_ios_version,
        ))
        .first(conn)
        .optional()?;
    Ok(
        row.map_or_else(MobileApp::default, |(scheme, android, ios)| MobileApp {
            enrollment_scheme: scheme,
            min_android_version: android,
            min_ios_version: ios,
        }),
    )
}

/// The settings of `account`, for an administrator who may see its devices.
pub fn get(conn: &mut DbConnection, actor: &Actor, account: &AccountId) -> Result<MobileApp> {
    authorize(conn, actor, Area::Devices, Verb::View, account)?;
    of(conn, account)
}

fn invalid(field: &'static str, rule: &str) -> EnrollmentError {
    EnrollmentError::Identity(IdentityError::Invalid {
        field,
        rule: rule.into(),
    })
}

fn check_version(field: &'static str, raw: Option<&str>) -> Result<Option<String>> {
    let Some(v) = raw.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let parts: Vec<&str> = v.split('.').collect();
    if parts.len() > 4
        || parts
            .iter()
            .any(|p| p.is_empty() || p.len() > 6 || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(invalid(
            field,
            "a version is 1 to 4 numbers separated by dots, e.g. 2.4.1",
        ));
    }
    Ok(Some(v.to_owned()))
}

fn check_scheme(raw: Option<&str>) -> Result<Option<String>> {
    let Some(s) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let s = s.to_ascii_lowercase();
    let valid = s.len() <= 40
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+.-".contains(&b));
    if !valid || s == "http" || s == "https" {
        return Err(invalid(
            "enrollmentScheme",
            "a URL scheme: a letter, then letters, digits, '+', '.' or '-' (not http or https)",
        ));
    }
    Ok(Some(s))
}

/// Saves the settings of `account` after checking them (each field named in the error).
pub fn set(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    account: &AccountId,
    settings: &MobileApp,
) -> Result<MobileApp> {
    let clean = MobileApp {
        enrollment_scheme: check_scheme(settings.enrollment_scheme.as_deref())?,
        min_android_version: check_version(
            "minAndroidVersion",
            settings.min_android_version.as_deref(),
        )?,
        min_ios_version: check_version("minIosVersion", settings.min_ios_version.as_deref())?,
    };
    write_transaction(conn, |conn| {
        authorize(conn, actor, Area::Devices, Verb::Edit, account)?;
        let now = clock.now().naive_utc();
        let values = (
            mobile_app_settings::enrollment_scheme.eq(&clean.enrollment_scheme),
            mobile_app_settings::min_android_version.eq(&clean.min_android_version),
            mobile_app_settings::min_ios_version.eq(&clean.min_ios_version),
            mobile_app_settings::updated_at.eq(now),
        );
        // Update, else insert: inside the write transaction no other writer interleaves.
        let changed = diesel::update(mobile_app_settings::table.find(account.as_str()))
            .set(values)
            .execute(conn)?;
        if changed == 0 {
            diesel::insert_into(mobile_app_settings::table)
                .values((mobile_app_settings::account_id.eq(account.as_str()), values))
                .execute(conn)?;
        }
        history::record_by(
            conn,
            clock,
            actor,
            account,
            "Settings",
            &format!(
                "Custom mobile app: enrollment scheme {}, minimum Android version {}, minimum iOS version {}",
                clean
                    .enrollment_scheme
                    .as_deref()
                    .unwrap_or("https (default)"),
                clean.min_android_version.as_deref().unwrap_or("any"),
                clean.min_ios_version.as_deref().unwrap_or("any"),
            ),
        )?;
        Ok(clean.clone())
    })
}

/// What the QR code of `device_config_url` carries for `account`: the URL itself, or with the
/// organization's own scheme instead of `https` (its app then opens the link directly).
pub fn enrollment_link(
    conn: &mut DbConnection,
    account: &AccountId,
    device_config_url: &str,
) -> Result<String> {
    Ok(
        match (
            of(conn, account)?.enrollment_scheme,
            device_config_url.strip_prefix("https://"),
        ) {
            (Some(scheme), Some(rest)) => format!("{scheme}://{rest}"),
            _ => device_config_url.to_owned(),
        },
    )
}

/// Compares dotted versions number by number (`2.10` is newer than `2.9`; missing parts are 0).
/// A version that is not dotted numbers sorts before every real one.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let parse = |v: &str| -> Option<Vec<u64>> {
        v.trim()
            .split('.')
            .map(|p| p.parse::<u64>().ok())
            .collect::<Option<Vec<u64>>>()
    };
    match (parse(a), parse(b)) {
        (Some(mut x), Some(mut y)) => {
            let n = x.len().max(y.len());
            x.resize(n, 0);
            y.resize(n, 0);
            x.cmp(&y)
        }
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// The minimum version for `kind` under `settings`, if one applies.
pub fn minimum_for(settings: &MobileApp, kind: DeviceType) -> Option<&str> {
    match kind {
        DeviceType::Android => settings.min_android_version.as_deref(),
        DeviceType::Apple => settings.min_ios_version.as_deref(),
        DeviceType::Other => None,
    }
}

/// Refuses `app_version` of a `kind` phone when it is older than the organization accepts
/// (UNSUPPORTED_APP_VERSION, naming the minimum so the app can ask its user to update).
pub fn require_version(settings: &MobileApp, kind: DeviceType, app_version: &str) -> Result<()> {
    match minimum_for(settings, kind) {
        Some(min) if compare_versions(app_version, min) == Ordering::Less => {
            Err(EnrollmentError::AppVersion {
                minimum: min.to_owned(),
                found: app_version.to_owned(),
            })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_by_number() {
        assert_eq!(compare_versions("2.10", "2.9"), Ordering::Greater);
        assert_eq!(compare_versions("2.0", "2"), Ordering::Equal);
        assert_eq!(compare_versions("1.9.9", "2"), Ordering::Less);
        assert_eq!(compare_versions("beta", "1"), Ordering::Less);
    }

    #[test]
    fn settings_are_checked_by_field() {
        assert!(check_version("minAndroidVersion", Some("2.4.1")).is_ok());
        for bad in ["2..4", "v2", "1.2.3.4.5", "-1"] {
            let err = check_version("minAndroidVersion", Some(bad)).expect_err(bad);
            assert!(err.to_string().contains("minAndroidVersion"), "{err}");
        }
        assert_eq!(
            check_scheme(Some("Acme-ID")).expect("ok"),
            Some("acme-id".into())
        );
        for bad in ["https", "1abc", "a b", "x:y"] {
            assert!(check_scheme(Some(bad)).is_err(), "{bad}");
        }
    }
}
