//! Devices (SPEC §3): a phone enrolls once with an enrollment's secret and its own PKCS#10
//! request, and gets a certificate of the platform's devices CA. Later device calls authenticate
//! with that certificate (mutual TLS) and are checked against the database, like access keys.

use crate::{EnrollmentError, Result};
use chrono::{DateTime, NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use lanyard_core::id::AccountId;
use lanyard_core::secret::hash_token;
use lanyard_core::{Clock, ErrorCode};
use lanyard_identity::platform_pki::{self, Purpose};
use lanyard_identity::rights::{Actor, Area, Verb, authorize};
use lanyard_identity::{IdentityError, account, history, organization};
use lanyard_pki::{Issue, MasterKey, Profile, Subject};
use lanyard_store::schema::{certificates, devices, enrollments};
use lanyard_store::{DbConnection, write_transaction};

/// Validity of a device certificate.
pub const CERTIFICATE_VALIDITY: TimeDelta = TimeDelta::days(2 * 365);

/// Kind of phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceType {
    /// Android.
    Android,
    /// iOS.
    Apple,
    /// Anything else (the reference client, desktop tools).
    Other,
}

impl DeviceType {
    /// Wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Android => "ANDROID",
            Self::Apple => "APPLE",
            Self::Other => "OTHER",
        }
    }

    /// Parses the wire name, naming the field `deviceType`.
    pub fn parse(raw: &str) -> Result<Self> {
        match raw {
            "ANDROID" => Ok(Self::Android),
            "APPLE" => Ok(Self::Apple),
            "OTHER" => Ok(Self::Other),
            _ => Err(invalid("deviceType", "must be ANDROID, APPLE or OTHER")),
        }
    }
}

fn invalid(field: &'static str, rule: &str) -> EnrollmentError {
    EnrollmentError::Identity(IdentityError::Invalid {
        field,
        rule: rule.to_owned(),
    })
}

/// What a phone sends to enroll.
#[derive(Debug, Clone)]
pub struct DeviceRequest {
    /// Device name shown to administrators.
    pub name: String,
    /// Vendor's unique id of the device.
    pub vendor_id: String,
    /// Kind.
    pub device_type: DeviceType,
    /// App version (`major.minor.patch`).
    pub app_version: String,
    /// Push registration token, if the app has one.
    pub push_registration: Option<String>,
    /// PKCS#10 request (PEM or DER) of the key the phone generated.
    pub csr: Vec<u8>,
}

/// A new device.
#[derive(Debug, Clone)]
pub struct Enrolled {
    /// Device id.
    pub device_id: String,
    /// Its certificate followed by the devices CA (PEM).
    pub certificate_chain: String,
    /// Serial of the certificate.
    pub serial: String,
    /// The deactivation code (shown to the person once; stored hashed).
    pub deactivation_code: String,
}

fn text(field: &'static str, value: &str, max: usize) -> Result<String> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(invalid(
            field,
            &format!("is required, at most {max} characters, no control characters"),
        ));
    }
    Ok(v.to_owned())
}

/// A push registration token: optional, at most 4096 characters, no control characters.
fn push_token(value: Option<&str>) -> Result<Option<String>> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => text("pushRegistration", v, 4096).map(Some),
    }
}

/// Where this installation's services are, as enrollment needs them.
#[derive(Debug, Clone, Copy)]
pub struct Service<'a> {
    /// Base URL of the published CRLs (admin-api).
    pub crl_base: &'a str,
    /// device-api's public URL (the self-service deactivation page is there).
    pub device_api: &'a str,
    /// Domain of outgoing Message-IDs.
    pub mail_domain: &'a str,
}

impl Service<'_> {
    /// The self-service deactivation page.
    pub fn deactivation_page(&self) -> String {
        format!("{}/deactivate", self.device_api.trim_end_matches('/'))
    }
}

/// Enrolls a phone with the secret of an enrollment link. The enrollment is used exactly once,
/// also under concurrent attempts (a conditional update inside the write transaction).
pub fn enroll(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    master: &MasterKey,
    secret: &str,
    request: &DeviceRequest,
    service: Service<'_>,
) -> Result<Enrolled> {
    let crl_base = service.crl_base;
    let name = text("deviceName", &request.name, 100)?;
    let vendor_id = text("vendorId", &request.vendor_id, 200)?;
    let app_version = text("appVersion", &request.app_version, 40)?;
    let push = push_token(request.push_registration.as_deref())?;
    // The request's signature and key are checked before any lock is taken.
    let csr = lanyard_pki::parse_csr(&request.csr)?;
    let code = lanyard_core::codes::random_base62(12);
    write_transaction(conn, |conn| {
        type Found = (
            String,
            String,
            Option<String>,
            Option<String>,
            NaiveDateTime,
            Option<NaiveDateTime>,
        );
        let found: Option<Found> = enrollments::table
            .filter(enrollments::secret_hash.eq(hash_token(secret)))
            .select((
                enrollments::id,
                enrollments::account_id,
                enrollments::end_user_id,
                enrollments::administrator_id,
                enrollments::expires_at,
                enrollments::used_at,
            ))
            .first(conn)
            .optional()?;
        let Some((enrollment_id, account_id, user, administrator, expires, used)) = found else {
            return Err(not_allowed(
                "this enrollment link is unknown or was deleted",
            ));
        };
        let now = clock.now();
        if used.is_some() {
            return Err(not_allowed("this enrollment was already used"));
        }
        if now >= expires.and_utc() {
            return Err(not_allowed(
                "this enrollment has expired; ask for a new one",
            ));
        }
        // A disabled account enrolls nothing; the enrollment stays unused for its reactivation.
        require_live_account(conn, &AccountId::from_stored(account_id.clone()))?;
        // Once only: of concurrent attempts exactly one changes the row.
        let claimed = diesel::update(
            enrollments::table
                .filter(enrollments::id.eq(&enrollment_id))
                .filter(enrollments::used_at.is_null()),
        )
        .set(enrollments::used_at.eq(now.naive_utc()))
        .execute(conn)?;
        if claimed == 0 {
            return Err(not_allowed("this enrollment was already used"));
        }
        let account = AccountId::from_stored(account_id);
        let app = crate::mobile_app::of(conn, &account)?;
        crate::mobile_app::require_version(&app, request.device_type, &app_version)?;
        let settings = organization::settings(conn, &account)?;
        if let Some(max) = settings.plan.as_ref().map(|p| p.max_devices_per_user) {
            let mut q = devices::table
                .filter(devices::status.eq("active"))
                .into_boxed();
            q = match (&user, &administrator) {
                (Some(u), _) => q.filter(devices::end_user_id.eq(u)),
                (None, Some(a)) => q.filter(devices::administrator_id.eq(a)),
                (None, None) => q,
            };
            let count: i64 = q.count().get_result(conn)?;
            if count >= max {
                return Err(EnrollmentError::Identity(IdentityError::PricingLimit {
                    code: ErrorCode::PricingLimitDevice,
                    message: format!("the plan allows {max} devices per person"),
                }));
            }
        }
        let device_id = uuid_like();
        let organization_name = account::get(conn, &account)?.name;
        let ca = platform_pki::active(conn, master, Purpose::Devices)?;
        let start = DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
        let end = (start + CERTIFICATE_VALIDITY).min(platform_pki::not_after(conn, &ca.id)?);
        let crl_url = platform_pki::crl_url(crl_base, &ca.id);
        let subject = Subject {
            common_name: name.clone(),
            organization: Some(organization_name),
            organizational_unit: Some("Device".into()),
        };
        let cert = ca.ca.issue(&Issue {
            subject: &subject,
            public_key: &csr.public_key,
            profile: Profile::Client,
            not_before: start,
            not_after: end,
            crl_url: Some(&crl_url),
        })?;
        let serial = lanyard_pki::serial_hex(&cert)?;
        let pem = |c: &lanyard_pki::X509| -> Result<String> {
            let bytes = c.to_pem().map_err(lanyard_pki::PkiError::from)?;
            Ok(String::from_utf8_lossy(&bytes).into_owned())
        };
        let cert_pem = pem(&cert)?;
        diesel::insert_into(devices::table)
            .values((
                devices::id.eq(&device_id),
                devices::account_id.eq(account.as_str()),
                devices::end_user_id.eq(&user),
                devices::administrator_id.eq(&administrator),
                devices::enrollment_id.eq(&enrollment_id),
                devices::name.eq(&name),
                devices::vendor_id.eq(&vendor_id),
                devices::device_type.eq(request.device_type.as_str()),
                devices::app_version.eq(&app_version),
                devices::push_registration.eq(push.as_deref()),
                devices::deactivation_hash.eq(hash_token(&code)),
                devices::status.eq("active"),
                devices::created_at.eq(now.naive_utc()),
                devices::last_seen_at.eq(now.naive_utc()),
            ))
            .execute(conn)?;
        diesel::insert_into(certificates::table)
            .values((
                certificates::serial.eq(&serial),
                certificates::ca_id.eq(&ca.id),
                certificates::account_id.eq(account.as_str()),
                certificates::device_id.eq(&device_id),
                certificates::subject.eq(format!("CN={name}, OU=Device")),
                certificates::not_before.eq(start.naive_utc()),
                certificates::not_after.eq(end.naive_utc()),
                certificates::status.eq("active"),
                certificates::cert_pem.eq(&cert_pem),
                certificates::created_at.eq(now.naive_utc()),
            ))
            .execute(conn)?;
        // The confirmation letter (when the account sends them and the person has an e-mail),
        // in the same transaction: it goes out exactly when the device exists.
        if settings.confirmation_letter_enabled {
            let (person, address) = person_and_email(conn, user.clone(), administrator.clone())?;
            if let Some(address) = address {
                send_letter(
                    conn,
                    clock,
                    service,
                    &account,
                    (&person, &address),
                    &name,
                    &code,
                )?;
            }
        }
        history::record(
            conn,
            clock,
            &account,
            "Devices",
            &format!(
                "Device {name} ({}) enrolled with enrollment {enrollment_id}",
                request.device_type.as_str()
            ),
            "Device enrollment",
            None,
        )?;
        Ok(Enrolled {
            device_id,
            certificate_chain: format!("{cert_pem}{}", pem(&ca.ca.cert)?),
            serial,
            deactivation_code: code.clone(),
        })
    })
}

/// Refuses enrollment in an account that is disabled or deleted (docs/security.md).
fn require_live_account(conn: &mut DbConnection, account: &AccountId) -> Result<()> {
    use lanyard_identity::AccountStatus;
    match account::get(conn, account)?.status {
        AccountStatus::Disabled | AccountStatus::Deleted => Err(not_allowed(
            "this organization is disabled: its phones cannot enroll",
        )),
        AccountStatus::Created | AccountStatus::Activated => Ok(()),
    }
}

fn not_allowed(message: &str) -> EnrollmentError {
    EnrollmentError::Identity(IdentityError::NotAllowed(message.to_owned()))
}

/// A fresh random device id (a UUID, as the other ids).
fn uuid_like() -> String {
    AccountId::new_random().as_str().to_owned()
}

/// What a phone receives when it opens an enrollment link (see `docs/device-protocol.md`).
#[derive(Debug, Clone)]
pub struct Configuration {
    /// The organization's OID.
    pub organization_oid: String,
    /// Its name.
    pub organization_name: String,
    /// Its contact e-mail.
    pub contact_email: Option<String>,
    /// The person's name (full name, or alias / e-mail).
    pub person_name: String,
    /// The person's alias (end user) or login e-mail (administrator).
    pub person_id: String,
    /// Until when the link can be used.
    pub expires_at: DateTime<chrono::Utc>,
    /// The certificates a device must trust: the platform root, then the devices CA (PEM).
    pub trust_chain: Vec<String>,
    /// The organization's custom mobile app settings (minimum app versions).
    pub mobile_app: crate::mobile_app::MobileApp,
}

/// The configuration behind enrollment link `secret`, while the enrollment is usable.
pub fn configuration(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    secret: &str,
) -> Result<Configuration> {
    type Found = (
        String,
        Option<String>,
        Option<String>,
        NaiveDateTime,
        Option<NaiveDateTime>,
    );
    let found: Option<Found> = enrollments::table
        .filter(enrollments::secret_hash.eq(hash_token(secret)))
        .select((
            enrollments::account_id,
            enrollments::end_user_id,
            enrollments::administrator_id,
            enrollments::expires_at,
            enrollments::used_at,
        ))
        .first(conn)
        .optional()?;
    let Some((account_id, user, administrator, expires, used)) = found else {
        return Err(not_allowed(
            "this enrollment link is unknown or was deleted",
        ));
    };
    if used.is_some() {
        return Err(not_allowed("this enrollment was already used"));
    }
    if clock.now() >= expires.and_utc() {
        return Err(not_allowed(
            "this enrollment has expired; ask for a new one",
        ));
    }
    let account = AccountId::from_stored(account_id);
    require_live_account(conn, &account)?;
    let org = account::get(conn, &account)?;
    let mobile_app = crate::mobile_app::of(conn, &account)?;
    let (person_name, person_id) = match (user, administrator) {
        (Some(u), _) => {
            let user = lanyard_identity::end_user::get_by_id(
                conn,
                &lanyard_core::id::EndUserId::from_stored(u),
            )?;
            let alias = user.primary_alias().unwrap_or_default().to_owned();
            (
                user.full_name.clone().unwrap_or_else(|| alias.clone()),
                alias,
            )
        }
        (None, Some(a)) => {
            let admin = lanyard_identity::admin::get(
                conn,
                &lanyard_core::id::AdministratorId::from_stored(a),
            )?;
            (admin.full_name, admin.email)
        }
        (None, None) => return Err(not_allowed("this enrollment has no holder")),
    };
    let pem = |c: &lanyard_pki::X509| -> Result<String> {
        let bytes = c.to_pem().map_err(lanyard_pki::PkiError::from)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    let root = platform_pki::certificate(conn, "root-1")?;
    let devices_id: String = lanyard_store::schema::certificate_authorities::table
        .filter(
            lanyard_store::schema::certificate_authorities::purpose.eq(Purpose::Devices.as_str()),
        )
        .filter(lanyard_store::schema::certificate_authorities::active.eq(true))
        .select(lanyard_store::schema::certificate_authorities::id)
        .first(conn)?;
    let devices = platform_pki::certificate(conn, &devices_id)?;
    Ok(Configuration {
        organization_oid: org.oid.to_string(),
        organization_name: org.name,
        contact_email: org.contact_email,
        person_name,
        person_id,
        expires_at: expires.and_utc(),
        trust_chain: vec![pem(&root)?, pem(&devices)?],
        mobile_app,
    })
}

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

type InfoRow = (
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

fn list_page(
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

/// Wrong deactivation codes allowed per (client, account) in a quarter of an hour.
const DEACTIVATION_ATTEMPTS: lanyard_identity::throttle::Limit =
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

/// The device changes its push registration (the platform's push service gave the app a new
/// token, or none); `None` stops push notifications to it.
pub fn set_push_registration(
    conn: &mut DbConnection,
    device: &DeviceIdentity,
    token: Option<&str>,
) -> Result<Option<String>> {
    let token = push_token(token)?;
    diesel::update(
        devices::table
            .find(&device.device_id)
            .filter(devices::status.eq("active")),
    )
    .set(devices::push_registration.eq(token.as_deref()))
    .execute(conn)?;
    Ok(token)
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
const SELF_SERVICE_ATTEMPTS: lanyard_identity::throttle::Limit =
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

/// The holder's display name and e-mail address, if any.
/// Enqueues the confirmation letter (`device_confirmation`) with the deactivation `code` of
/// device `device` to the person, in the caller's transaction. An address that is not a valid
/// e-mail sends nothing.
fn send_letter(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    service: Service<'_>,
    account: &AccountId,
    (person, address): (&str, &str),
    device: &str,
    code: &str,
) -> Result<bool> {
    let Ok(to) = lanyard_core::Email::parse(address) else {
        return Ok(false);
    };
    let chain = account::ancestors(conn, account)?;
    let org = account::get(conn, account)?;
    let vars = minijinja::context! {
        name => person,
        device => device,
        code => code,
        account_name => org.name,
        link => format!("{}?organization={}", service.deactivation_page(), org.oid),
    };
    lanyard_mail::templates::send(
        conn,
        clock,
        service.mail_domain,
        &chain,
        "device_confirmation",
        &to,
        vars,
    )
    .map_err(|e| EnrollmentError::Identity(IdentityError::Inconsistent(e.to_string())))?;
    Ok(true)
}

/// Resends the deactivation code of the active device `vendor_id` of `account` (API §7.5,
/// `suspensionpass` / `deactivationpass`). Only the code's hash is kept, so a new code is made:
/// the old one stops working, and the new one goes out in a confirmation letter to the person.
/// NOT_FOUND (the vendor id as the message) when there is no such device; NOT_ALLOWED when the
/// person has no e-mail address.
pub fn resend_code(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    account: &AccountId,
    vendor_id: &str,
    service: Service<'_>,
) -> Result<()> {
    let code = lanyard_core::codes::random_base62(12);
    write_transaction(conn, |conn| {
        authorize(conn, actor, Area::Devices, Verb::Edit, account)?;
        type Found = (String, String, Option<String>, Option<String>);
        let found: Option<Found> = devices::table
            .filter(devices::account_id.eq(account.as_str()))
            .filter(devices::vendor_id.eq(vendor_id))
            .filter(devices::status.eq("active"))
            .order(devices::created_at.desc())
            .select((
                devices::id,
                devices::name,
                devices::end_user_id,
                devices::administrator_id,
            ))
            .first(conn)
            .optional()?;
        let Some((device_id, name, user, administrator)) = found else {
            return Err(EnrollmentError::NotFound(vendor_id.to_owned()));
        };
        let (person, address) = person_and_email(conn, user, administrator)?;
        let sent = match address {
            Some(address) => send_letter(
                conn,
                clock,
                service,
                account,
                (&person, &address),
                &name,
                &code,
            )?,
            None => false,
        };
        if !sent {
            return Err(not_allowed(
                "the device's owner has no e-mail address to send the code to",
            ));
        }
        diesel::update(devices::table.find(&device_id))
            .set(devices::deactivation_hash.eq(hash_token(&code)))
            .execute(conn)?;
        history::record_by(
            conn,
            clock,
            actor,
            account,
            "Devices",
            &format!("A new deactivation code of device {name} was sent to {person}"),
        )?;
        Ok(())
    })
}

fn person_and_email(
    conn: &mut DbConnection,
    user: Option<String>,
    administrator: Option<String>,
) -> Result<(String, Option<String>)> {
    Ok(match (user, administrator) {
        (Some(u), _) => {
            let user = lanyard_identity::end_user::get_by_id(
                conn,
                &lanyard_core::id::EndUserId::from_stored(u),
            )?;
            let name = user
                .full_name
                .clone()
                .unwrap_or_else(|| user.primary_alias().unwrap_or_default().to_owned());
            (name, user.email.clone())
        }
        (None, Some(a)) => {
            let admin = lanyard_identity::admin::get(
                conn,
                &lanyard_core::id::AdministratorId::from_stored(a),
            )?;
            (admin.full_name, Some(admin.email))
        }
        (None, None) => (String::new(), None),
    })
}
