//! Device enrollment on both backends: a phone's own key certified by the devices CA, the
//! enrollment used exactly once even by 20 concurrent attempts, and clear refusals (used,
//! deleted, expired, malformed request, plan limit).

use lanyard_core::id::AccountId;
use lanyard_core::{FixedClock, Oid};
use lanyard_enrollment::EnrollmentError;
use lanyard_enrollment::device::{self, DeviceRequest, DeviceType};
use lanyard_enrollment::enrollment::{self, EnrollmentState, Holder, Links};
use lanyard_enrollment::mobile_app::{self, MobileApp};
use lanyard_identity::account::{self, NewAccount};
use lanyard_identity::bootstrap::bootstrap;
use lanyard_identity::end_user::{self, NewEndUser};
use lanyard_identity::rights::Actor;
use lanyard_identity::{AccountKind, IdentityError, platform_pki};
use lanyard_pki::{KeySpec, MasterKey, PKey, X509, generate_key};
use lanyard_store::both_backends;
use lanyard_store::testing::TestDb;

const DEVICE_API: &str = "https://device.lanyard.test";
const CRL_BASE: &str = "https://admin.lanyard.test";
const SERVICE: device::Service<'static> = device::Service {
    crl_base: CRL_BASE,
    device_api: DEVICE_API,
    mail_domain: "lanyard.test",
};

struct World {
    clock: FixedClock,
    master: MasterKey,
    org: AccountId,
    actor: Actor,
    user: Oid,
}

impl World {
    /// Enrolls `request` with enrollment link secret `secret`.
    fn enroll(
        &self,
        db: &TestDb,
        secret: &str,
        request: &DeviceRequest,
    ) -> Result<device::Enrolled, EnrollmentError> {
        device::enroll(
            &mut db.conn(),
            &self.clock,
            &self.master,
            secret,
            request,
            SERVICE,
        )
    }

    /// A new enrollment of the user and its secret (the last path segment of its link).
    fn enrollment(&self, db: &TestDb) -> (String, String) {
        let links = Links {
            device_api: DEVICE_API,
            master: &self.master,
            mail_domain: "lanyard.test",
        };
        let e = enrollment::create(
            &mut db.conn(),
            &self.clock,
            &self.actor,
            &self.org,
            Holder::User(&self.user),
            links,
        )
        .expect("enrollment");
        let secret = e
            .device_config_url
            .rsplit('/')
            .next()
            .expect("tail")
            .split('?')
            .next()
            .expect("secret")
            .to_owned();
        (e.id, secret)
    }
}

fn world(db: &TestDb) -> World {
    let clock = FixedClock::new(chrono::Utc::now());
    bootstrap(&mut db.conn(), &clock, None).expect("bootstrap");
    let master = MasterKey::generate().expect("key");
    platform_pki::ensure(&mut db.conn(), &clock, &master, "Test", CRL_BASE).expect("pki");
    let org = account::create(
        &mut db.conn(),
        &clock,
        NewAccount {
            kind: AccountKind::Organization,
            name: "Acme".into(),
            contact_email: None,
            parent: None,
        },
    )
    .expect("org")
    .id;
    let actor = Actor::api_token(org.clone(), "t");
    let user = end_user::create(
        &mut db.conn(),
        &clock,
        &actor,
        &org,
        NewEndUser::parse("dora", Some("dora@acme.example"), Some("Dora"), None, true)
            .expect("valid"),
    )
    .expect("user")
    .oid;
    World {
        clock,
        master,
        org,
        actor,
        user,
    }
}

fn phone() -> (PKey<lanyard_pki::Private>, DeviceRequest) {
    let key = generate_key(KeySpec::EcP256).expect("key");
    let mut req = openssl::x509::X509ReqBuilder::new().expect("req");
    req.set_pubkey(&key).expect("pubkey");
    req.sign(&key, openssl::hash::MessageDigest::sha256())
        .expect("sign");
    let csr = req.build().to_pem().expect("pem");
    (
        key,
        DeviceRequest {
            name: "Dora's phone".into(),
            vendor_id: "vendor-123".into(),
            device_type: DeviceType::Other,
            app_version: "1.0.0".into(),
            push_registration: None,
            csr,
        },
    )
}

fn a_phone_enrolls_once_with_its_own_key(db: &TestDb) {
    let w = world(db);
    let (enrollment_id, secret) = w.enrollment(db);
    let (key, request) = phone();
    let enrolled = w.enroll(db, &secret, &request).expect("enroll");
    assert_eq!(enrolled.deactivation_code.len(), 12);
    // The confirmation letter with the code is in the outbox, written with the device.
    let letter = lanyard_mail::recent_to(&mut db.conn(), "dora@acme.example", 1)
        .expect("mails")
        .pop()
        .expect("a confirmation letter");
    assert!(
        letter.text.contains(&enrolled.deactivation_code),
        "{}",
        letter.text
    );
    assert!(letter.text.contains("Dora's phone"));
    let chain = X509::stack_from_pem(enrolled.certificate_chain.as_bytes()).expect("chain");
    assert_eq!(chain.len(), 2);
    assert!(
        chain[0].public_key().expect("key").public_eq(&key),
        "the phone's own key is certified"
    );
    assert!(
        chain[0]
            .verify(&chain[1].public_key().expect("ca key"))
            .expect("verify"),
        "by the devices CA"
    );
    let devices_ca = platform_pki::certificate(&mut db.conn(), "devices-1").expect("ca");
    assert_eq!(
        chain[1].to_der().expect("der"),
        devices_ca.to_der().expect("der")
    );

    let links = Links {
        device_api: DEVICE_API,
        master: &w.master,
        mail_domain: "lanyard.test",
    };
    let state = enrollment::get(
        &mut db.conn(),
        &w.clock,
        &w.actor,
        &w.org,
        Holder::User(&w.user),
        &enrollment_id,
        links,
    )
    .expect("get")
    .state;
    assert_eq!(state, EnrollmentState::Used);

    let refused =
        |secret: &str, request: &DeviceRequest| w.enroll(db, secret, request).expect_err("refused");
    let message = |e: EnrollmentError| e.to_string();
    assert!(message(refused(&secret, &request)).contains("already used"));
    assert!(
        message(refused("0123456789abcdef0123456789abcdef", &request))
            .contains("unknown or was deleted")
    );
    let (deleted_id, deleted_secret) = w.enrollment(db);
    enrollment::delete(
        &mut db.conn(),
        &w.clock,
        &w.actor,
        &w.org,
        Holder::User(&w.user),
        &deleted_id,
    )
    .expect("delete");
    assert!(message(refused(&deleted_secret, &request)).contains("unknown or was deleted"));
    let (_, fresh) = w.enrollment(db);
    let mut bad = request.clone();
    bad.csr = b"not a request".to_vec();
    match refused(&fresh, &bad) {
        EnrollmentError::Identity(IdentityError::Invalid { field: "csr", .. }) => {}
        other => panic!("{other:?}"),
    }
    let mut nameless = request.clone();
    nameless.name = " ".into();
    match refused(&fresh, &nameless) {
        EnrollmentError::Identity(IdentityError::Invalid {
            field: "deviceName",
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    w.clock.advance(chrono::TimeDelta::days(30));
    assert!(message(refused(&fresh, &request)).contains("expired"));
}

fn twenty_concurrent_attempts_make_one_device(db: &TestDb) {
    let w = world(db);
    let (_, secret) = w.enrollment(db);
    let pool = db.pool().clone();
    let results: Vec<bool> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..20)
            .map(|_| {
                let (pool, secret, w) = (pool.clone(), secret.clone(), &w);
                scope.spawn(move || {
                    let (_, request) = phone();
                    let mut conn = pool.get().expect("connection");
                    device::enroll(&mut conn, &w.clock, &w.master, &secret, &request, SERVICE)
                        .is_ok()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    assert_eq!(
        results.iter().filter(|ok| **ok).count(),
        1,
        "exactly one attempt enrolls"
    );
    use diesel::prelude::*;
    let devices: i64 = lanyard_store::schema::devices::table
        .count()
        .get_result(&mut db.conn())
        .expect("count");
    assert_eq!(devices, 1);
}

fn the_plan_limits_devices_per_person(db: &TestDb) {
    let w = world(db);
    lanyard_identity::organization::assign_plan(&mut db.conn(), &w.clock, &w.org, "Free")
        .expect("plan");
    let max = lanyard_identity::organization::settings(&mut db.conn(), &w.org)
        .expect("settings")
        .plan
        .expect("plan")
        .max_devices_per_user;
    for _ in 0..max {
        let (_, secret) = w.enrollment(db);
        w.enroll(db, &secret, &phone().1).expect("within the limit");
    }
    let (_, secret) = w.enrollment(db);
    let over = w.enroll(db, &secret, &phone().1).expect_err("limit");
    assert_eq!(
        lanyard_core::Coded::code(&over).as_str(),
        "PRICING_LIMIT_DEVICE"
    );
}

fn deleting_a_person_deactivates_their_devices(db: &TestDb) {
    let w = world(db);
    let (_, secret) = w.enrollment(db);
    let (_, request) = phone();
    let enrolled = w.enroll(db, &secret, &request).expect("enroll");
    let der = X509::stack_from_pem(enrolled.certificate_chain.as_bytes()).expect("chain")[0]
        .to_der()
        .expect("der");
    assert!(
        device::authenticate_certificate(&mut db.conn(), &w.clock, &der, None)
            .expect("auth")
            .is_some()
    );
    device::delete_end_user(
        &mut db.conn(),
        &w.clock,
        &w.master,
        &w.actor,
        &w.org,
        &w.user,
    )
    .expect("delete");
    assert!(
        device::authenticate_certificate(&mut db.conn(), &w.clock, &der, None)
            .expect("auth")
            .is_none()
    );
    let crl = lanyard_pki::X509Crl::from_der(
        &platform_pki::crl(&mut db.conn(), &w.clock, &w.master, "devices-1", false).expect("crl"),
    )
    .expect("der");
    let listed: Vec<String> = crl
        .get_revoked()
        .expect("revoked")
        .iter()
        .map(|r| {
            r.serial_number()
                .to_bn()
                .expect("bn")
                .to_hex_str()
                .expect("hex")
                .to_string()
        })
        .collect();
    assert_eq!(listed, vec![enrolled.serial]);
    assert!(matches!(
        end_user::get(&mut db.conn(), &w.org, &w.user),
        Err(IdentityError::NotFound { .. })
    ));
}

/// The organization's minimum app versions: an older app cannot enroll, and an enrolled phone
/// whose app falls behind a raised minimum is refused until it reports a newer version.
fn old_apps_are_refused_at_enrollment_and_on_every_call(db: &TestDb) {
    let w = world(db);
    mobile_app::set(
        &mut db.conn(),
        &w.clock,
        &w.actor,
        &w.org,
        &MobileApp {
            min_android_version: Some("2.4".into()),
            ..MobileApp::default()
        },
    )
    .expect("minimum");
    let (_, secret) = w.enrollment(db);
    let (_, mut request) = phone();
    request.device_type = DeviceType::Android;
    request.app_version = "2.3.9".into();
    let refused = w.enroll(db, &secret, &request).expect_err("too old");
    assert_eq!(
        lanyard_core::Coded::code(&refused).as_str(),
        "UNSUPPORTED_APP_VERSION"
    );
    assert!(refused.to_string().contains("2.4"), "{refused}");
    // The refusal used nothing up: the same enrollment works with a current app.
    request.app_version = "2.10".into();
    let enrolled = w.enroll(db, &secret, &request).expect("enroll");
    let der = X509::stack_from_pem(enrolled.certificate_chain.as_bytes()).expect("chain")[0]
        .to_der()
        .expect("der");
    let auth = |version: Option<&str>| {
        device::authenticate_certificate(&mut db.conn(), &w.clock, &der, version)
    };
    assert!(auth(None).expect("auth").is_some());

    // The organization raises its minimum: the phone's next call is refused …
    mobile_app::set(
        &mut db.conn(),
        &w.clock,
        &w.actor,
        &w.org,
        &MobileApp {
            min_android_version: Some("3.0".into()),
            ..MobileApp::default()
        },
    )
    .expect("raise");
    let err = auth(None).expect_err("behind");
    assert_eq!(
        lanyard_core::Coded::code(&err).as_str(),
        "UNSUPPORTED_APP_VERSION"
    );
    assert!(auth(Some("2.99")).is_err());
    // … until the updated app says so; the new version is remembered.
    assert!(auth(Some("3.0.1")).expect("auth").is_some());
    assert!(auth(None).expect("auth").is_some());
}

/// The code in the newest confirmation letter to Dora.
fn letter_code(db: &TestDb) -> String {
    let mails = lanyard_mail::recent_to(&mut db.conn(), "dora@acme.example", 1).expect("mails");
    let text = &mails.first().expect("a letter").text;
    text.split("deactivation code is ")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .expect("code in the letter")
        .to_owned()
}

/// Resending the code makes a new one (only hashes are kept): the letter carries it, the old
/// code stops working, the new one deactivates.
fn a_resent_code_replaces_the_old_one(db: &TestDb) {
    let w = world(db);
    let (_, secret) = w.enrollment(db);
    let (_, request) = phone();
    let enrolled = w.enroll(db, &secret, &request).expect("enroll");
    assert_eq!(letter_code(db), enrolled.deactivation_code);
    // The device list shows the active certificate.
    let listed = device::list(&mut db.conn(), &w.actor, &w.org, None).expect("list");
    assert_eq!(
        listed[0].certificate.as_ref().map(|c| c.0.clone()),
        Some(enrolled.serial.clone())
    );
    w.clock.advance(chrono::TimeDelta::seconds(1));
    device::resend_code(
        &mut db.conn(),
        &w.clock,
        &w.actor,
        &w.org,
        "vendor-123",
        SERVICE,
    )
    .expect("resend");
    let fresh = letter_code(db);
    assert_ne!(fresh, enrolled.deactivation_code);
    let missing = device::resend_code(&mut db.conn(), &w.clock, &w.actor, &w.org, "nope", SERVICE)
        .expect_err("unknown");
    assert!(matches!(missing, EnrollmentError::NotFound(ref v) if v == "nope"));
    // Another organization's caller finds nothing to resend.
    let other = Actor::api_token(
        account::create(
            &mut db.conn(),
            &w.clock,
            NewAccount {
                kind: AccountKind::Organization,
                name: "Globex".into(),
                contact_email: None,
                parent: None,
            },
        )
        .expect("org")
        .id,
        "g",
    );
    assert!(
        device::resend_code(
            &mut db.conn(),
            &w.clock,
            &other,
            &w.org,
            "vendor-123",
            SERVICE
        )
        .is_err()
    );
    let old = device::deactivate_with_code(
        &mut db.conn(),
        &w.clock,
        &w.master,
        &w.org,
        Some("vendor-123"),
        &enrolled.deactivation_code,
        "test client",
    )
    .expect_err("old code");
    assert_eq!(lanyard_core::Coded::code(&old).as_str(), "FORBIDDEN");
    device::deactivate_with_code(
        &mut db.conn(),
        &w.clock,
        &w.master,
        &w.org,
        Some("vendor-123"),
        &fresh,
        "test client",
    )
    .expect("new code");
}

/// Devices past the account's maximum inactivity are removed (deactivated, certificate
/// revoked); a device that called recently stays, and accounts without the setting keep all.
fn inactive_devices_are_removed_after_the_accounts_limit(db: &TestDb) {
    let w = world(db);
    let enroll = |w: &World| {
        let (_, secret) = w.enrollment(db);
        let (_, mut request) = phone();
        request.vendor_id = format!("v-{secret}");
        let enrolled = w.enroll(db, &secret, &request).expect("enroll");
        X509::stack_from_pem(enrolled.certificate_chain.as_bytes()).expect("chain")[0]
            .to_der()
            .expect("der")
    };
    let (old, fresh) = (enroll(&w), enroll(&w));
    w.clock.advance(chrono::TimeDelta::days(40));
    // Without the setting nothing is removed.
    assert_eq!(
        device::purge_inactive(&mut db.conn(), &w.clock, &w.master).expect("purge"),
        0
    );
    lanyard_identity::organization::update_more(
        &mut db.conn(),
        &w.clock,
        &w.actor,
        &w.org,
        &lanyard_identity::organization::MoreSettings::parse("", "", "", "30").expect("valid"),
    )
    .expect("setting");
    // The fresh phone calls now; the old one has been silent for 40 days.
    assert!(
        device::authenticate_certificate(&mut db.conn(), &w.clock, &fresh, None)
            .expect("auth")
            .is_some()
    );
    assert_eq!(
        device::purge_inactive(&mut db.conn(), &w.clock, &w.master).expect("purge"),
        1
    );
    assert!(
        device::authenticate_certificate(&mut db.conn(), &w.clock, &old, None)
            .expect("auth")
            .is_none()
    );
    assert!(
        device::authenticate_certificate(&mut db.conn(), &w.clock, &fresh, None)
            .expect("auth")
            .is_some()
    );
    // Running again (another instance) removes nothing more.
    assert_eq!(
        device::purge_inactive(&mut db.conn(), &w.clock, &w.master).expect("purge"),
        0
    );
}

/// Master-key rotation re-seals the organizations' push credentials (enrollment's own table;
/// `lanyard pki rotate-master-key` runs this beside identity's re-sealing, in one transaction).
fn push_credentials_are_resealed_under_a_new_master_key(db: &TestDb) {
    let w = world(db);
    let key = generate_key(KeySpec::Rsa2048).expect("rsa");
    let pem = String::from_utf8(key.private_key_to_pem_pkcs8().expect("pem")).expect("utf-8");
    let account = serde_json::json!({"type": "service_account", "project_id": "acme-app",
        "private_key": pem, "client_email": "push@acme-app.iam.gserviceaccount.com",
        "token_uri": "https://oauth2.googleapis.com/token"});
    lanyard_enrollment::push::set_fcm(
        &mut db.conn(),
        &w.clock,
        &w.master,
        &w.actor,
        &w.org,
        &account.to_string(),
    )
    .expect("fcm");
    let next = MasterKey::generate().expect("key");
    assert_eq!(
        lanyard_enrollment::push::reseal(&mut db.conn(), &w.master, &next).expect("reseal"),
        1
    );
    // (The old key first: opened keys are remembered by their sealed bytes.)
    assert!(lanyard_enrollment::push::credentials(&mut db.conn(), &w.master, &w.org).is_err());
    let opened = lanyard_enrollment::push::credentials(&mut db.conn(), &next, &w.org)
        .expect("opens with the new key");
    assert!(opened.fcm.is_some());
}

both_backends!(
    push_credentials_are_resealed_under_a_new_master_key,
    inactive_devices_are_removed_after_the_accounts_limit,
    a_resent_code_replaces_the_old_one,
    old_apps_are_refused_at_enrollment_and_on_every_call,
    deleting_a_person_deactivates_their_devices,
    a_phone_enrolls_once_with_its_own_key,
    twenty_concurrent_attempts_make_one_device,
    the_plan_limits_devices_per_person,
);
