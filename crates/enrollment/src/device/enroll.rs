//! Enrollment of a phone (SPEC §3): the device configuration behind an enrollment link,
//! and the enroll step — once only, even under concurrent attempts — that issues the device
//! certificate and the deactivation code.

use super::*;

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
pub(super) fn require_live_account(conn: &mut DbConnection, account: &AccountId) -> Result<()> {
    use lanyard_identity::AccountStatus;
    match account::get(conn, account)?.status {
        AccountStatus::Disabled | AccountStatus::Deleted => Err(not_allowed(
            "this organization is disabled: its phones cannot enroll",
        )),
        AccountStatus::Created | AccountStatus::Activated => Ok(()),
    }
}

pub(super) fn not_allowed(message: &str) -> EnrollmentError {
    EnrollmentError::Identity(IdentityError::NotAllowed(message.to_owned()))
}

/// A fresh random device id (a UUID, as the other ids).
pub(super) fn uuid_like() -> String {
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
