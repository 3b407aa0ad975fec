//! The platform PKI and access keys on both backends: CAs at bootstrap with sealed keys,
//! certificates from generated keys and from requests, downloads, revocation with CRLs,
//! rotation of CAs and of the master key, and tenancy.

use lanyard_core::id::AccountId;
use lanyard_core::{FixedClock, SecretString};
use lanyard_identity::access_key::{self, CertificateStatus, KeyKind, KeySource};
use lanyard_identity::account::{self, NewAccount};
use lanyard_identity::bootstrap::bootstrap;
use lanyard_identity::platform_pki::{self, Purpose};
use lanyard_identity::rights::Actor;
use lanyard_identity::{AccountKind, IdentityError, application};
use lanyard_pki::{MasterKey, X509, X509Crl};
use lanyard_store::both_backends;
use lanyard_store::testing::TestDb;

const CRL_BASE: &str = "https://admin.lanyard.test";

struct World {
    clock: FixedClock,
    master: MasterKey,
    org_a: AccountId,
    a: Actor,
    b: Actor,
}

fn world(db: &TestDb) -> World {
    let clock = FixedClock::new(chrono::Utc::now());
    bootstrap(&mut db.conn(), &clock, None).expect("bootstrap");
    let master = MasterKey::generate().expect("master key");
    assert!(
        platform_pki::ensure(&mut db.conn(), &clock, &master, "Lanyard Test", CRL_BASE)
            .expect("pki")
    );
    assert!(
        !platform_pki::ensure(&mut db.conn(), &clock, &master, "Lanyard Test", CRL_BASE)
            .expect("again"),
        "a second bootstrap changes nothing"
    );
    let org = |name: &str| {
        account::create(
            &mut db.conn(),
            &clock,
            NewAccount {
                kind: AccountKind::Organization,
                name: name.into(),
                contact_email: None,
                parent: None,
            },
        )
        .expect("org")
        .id
    };
    let (org_a, org_b) = (org("Acme"), org("Globex"));
    World {
        a: Actor::api_token(org_a.clone(), "a"),
        b: Actor::api_token(org_b.clone(), "b"),
        clock,
        master,
        org_a,
    }
}

fn management_key(db: &TestDb, w: &World, source: KeySource<'_>) -> access_key::Issued {
    access_key::create(
        &mut db.conn(),
        &w.clock,
        &w.master,
        &w.a,
        &w.org_a,
        KeyKind::Management,
        "ops tool",
        None,
        source,
        CRL_BASE,
    )
    .expect("key")
}

fn ca_rows(db: &TestDb) -> Vec<(String, String, String)> {
    use diesel::prelude::*;
    use lanyard_store::schema::certificate_authorities as cas;
    cas::table
        .select((cas::id, cas::cert_pem, cas::key_sealed))
        .order(cas::id)
        .load(&mut db.conn())
        .expect("rows")
}

fn ca_keys_are_sealed_and_keys_work(db: &TestDb) {
    let w = world(db);
    let rows = ca_rows(db);
    let ids: Vec<&str> = rows.iter().map(|(id, _, _)| id.as_str()).collect();
    assert_eq!(
        ids,
        vec![
            "access-keys-1",
            "devices-1",
            "evidence-1",
            "root-1",
            "tls-1"
        ]
    );
    for (id, cert, sealed) in &rows {
        assert!(cert.contains("BEGIN CERTIFICATE"), "{id}");
        assert!(
            !sealed.contains("PRIVATE KEY") && sealed.starts_with("v1."),
            "{id}: the key is sealed"
        );
        assert_eq!(MasterKey::sealed_by(sealed), Some(w.master.id()));
    }
    // Generated client keys and PFX passwords are sealed too.
    let issued = management_key(db, &w, KeySource::Generate);
    let password = issued
        .pfx_password
        .expect("a generated key has a PFX password");
    use diesel::prelude::*;
    use lanyard_store::schema::certificates as c;
    let (key, pw): (Option<String>, Option<String>) = c::table
        .find(&issued.certificate.serial)
        .select((c::key_sealed, c::pfx_password_sealed))
        .first(&mut db.conn())
        .expect("row");
    let (key, pw) = (key.expect("key"), pw.expect("password"));
    assert!(!key.contains("PRIVATE KEY") && !pw.contains(password.expose()));
    // The CA loads only with the right master key.
    let other = MasterKey::generate().expect("key");
    assert!(matches!(
        platform_pki::active(&mut db.conn(), &other, Purpose::AccessKeys),
        Err(IdentityError::Crypto(_))
    ));
}

fn generated_keys_download_as_pfx_and_pem(db: &TestDb) {
    let w = world(db);
    let issued = management_key(db, &w, KeySource::Generate);
    let serial = issued.certificate.serial.clone();
    let password = issued.pfx_password.expect("password");
    assert_eq!(
        access_key::pfx_password(&mut db.conn(), &w.master, &w.a, &w.org_a, &serial)
            .expect("show password")
            .expose(),
        password.expose()
    );
    let pfx =
        access_key::download_pfx(&mut db.conn(), &w.clock, &w.master, &w.a, &w.org_a, &serial)
            .expect("pfx");
    let parsed = openssl::pkcs12::Pkcs12::from_der(&pfx)
        .expect("der")
        .parse2(password.expose())
        .expect("opens with the shown password");
    let cert = parsed.cert.expect("cert");
    assert_eq!(lanyard_pki::serial_hex(&cert).expect("serial"), serial);
    assert_eq!(parsed.ca.map(|c| c.len()), Some(1), "with the issuing CA");
    // The private key is handed out once: after the PFX, the PEM has the chain only, and a
    // second PFX is refused.
    let pem = String::from_utf8(
        access_key::download_pem(&mut db.conn(), &w.clock, &w.master, &w.a, &w.org_a, &serial)
            .expect("pem"),
    )
    .expect("utf-8");
    assert_eq!(pem.matches("BEGIN CERTIFICATE").count(), 2);
    assert!(!pem.contains("PRIVATE KEY"), "the key was taken already");
    assert!(matches!(
        access_key::download_pfx(&mut db.conn(), &w.clock, &w.master, &w.a, &w.org_a, &serial),
        Err(IdentityError::NotAllowed(_))
    ));
    // The chain verifies against the root.
    let root = platform_pki::certificate(&mut db.conn(), "root-1").expect("root");
    let issuing = platform_pki::certificate(&mut db.conn(), "access-keys-1").expect("issuing");
    assert!(
        cert.verify(&issuing.public_key().expect("key"))
            .expect("verify")
    );
    assert!(
        issuing
            .verify(&root.public_key().expect("key"))
            .expect("verify")
    );
    // Another organization sees nothing of it.
    for result in [
        access_key::download_pem(&mut db.conn(), &w.clock, &w.master, &w.b, &w.org_a, &serial)
            .map(|_| ()),
        access_key::pfx_password(&mut db.conn(), &w.master, &w.b, &w.org_a, &serial).map(|_| ()),
        access_key::list(&mut db.conn(), &w.b, &w.org_a, KeyKind::Management).map(|_| ()),
    ] {
        assert!(
            matches!(result, Err(IdentityError::NotFound { .. })),
            "{result:?}"
        );
    }
}

/// The generated private key is handed out once, also to concurrent downloads by its maker:
/// exactly one gets it (a conditional update erases it), the others are refused.
fn a_generated_key_is_taken_once_under_concurrent_downloads(db: &TestDb) {
    let w = world(db);
    let issued = management_key(db, &w, KeySource::Generate);
    let serial = issued.certificate.serial.clone();
    let pool = db.pool().clone();
    let results: Vec<bool> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let (pool, serial, w) = (pool.clone(), serial.clone(), &w);
                scope.spawn(move || {
                    let mut conn = pool.get().expect("connection");
                    match access_key::download_pfx(
                        &mut conn, &w.clock, &w.master, &w.a, &w.org_a, &serial,
                    ) {
                        Ok(_) => true,
                        Err(IdentityError::NotAllowed(_)) => false,
                        Err(other) => panic!("unexpected: {other:?}"),
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    assert_eq!(results.iter().filter(|ok| **ok).count(), 1, "{results:?}");
}

fn a_request_keeps_its_key_and_bad_requests_are_refused(db: &TestDb) {
    let w = world(db);
    let own = lanyard_pki::generate_key(lanyard_pki::KeySpec::EcP256).expect("key");
    let mut req = openssl::x509::X509ReqBuilder::new().expect("req");
    req.set_pubkey(&own).expect("pubkey");
    req.sign(&own, openssl::hash::MessageDigest::sha256())
        .expect("sign");
    let csr = req.build().to_pem().expect("pem");
    let issued = management_key(db, &w, KeySource::Csr(&csr));
    assert!(issued.pfx_password.is_none() && !issued.certificate.generated);
    let pem = access_key::download_pem(
        &mut db.conn(),
        &w.clock,
        &w.master,
        &w.a,
        &w.org_a,
        &issued.certificate.serial,
    )
    .expect("pem");
    assert!(
        !String::from_utf8_lossy(&pem).contains("PRIVATE KEY"),
        "the server never had the key"
    );
    let cert = X509::from_pem(&pem).expect("cert");
    assert!(
        cert.public_key().expect("key").public_eq(&own),
        "the requested key is certified"
    );
    assert!(matches!(
        access_key::download_pfx(
            &mut db.conn(),
            &w.clock,
            &w.master,
            &w.a,
            &w.org_a,
            &issued.certificate.serial
        ),
        Err(IdentityError::NotAllowed(_))
    ));
    let weak = openssl::rsa::Rsa::generate(1024).expect("rsa");
    let weak = openssl::pkey::PKey::from_rsa(weak).expect("pkey");
    let mut req = openssl::x509::X509ReqBuilder::new().expect("req");
    req.set_pubkey(&weak).expect("pubkey");
    req.sign(&weak, openssl::hash::MessageDigest::sha256())
        .expect("sign");
    let weak_csr = req.build().to_pem().expect("pem");
    for (bad, rule) in [
        (&weak_csr[..], "too weak"),
        (b"garbage".as_slice(), "PKCS#10"),
    ] {
        let result = access_key::create(
            &mut db.conn(),
            &w.clock,
            &w.master,
            &w.a,
            &w.org_a,
            KeyKind::Management,
            "x",
            None,
            KeySource::Csr(bad),
            CRL_BASE,
        );
        match result {
            Err(IdentityError::Invalid {
                field: "csr",
                rule: r,
            }) => assert!(r.contains(rule), "{r}"),
            other => panic!("{other:?}"),
        }
    }
}

fn revocation_is_immediate_and_listed_in_the_crl(db: &TestDb) {
    let w = world(db);
    let issued = management_key(db, &w, KeySource::Generate);
    let serial = issued.certificate.serial.clone();
    let who = access_key::authenticate(&mut db.conn(), &w.clock, &serial)
        .expect("auth")
        .expect("known");
    assert_eq!(
        (who.account.clone(), who.kind),
        (w.org_a.clone(), KeyKind::Management)
    );
    let before = X509Crl::from_der(
        &platform_pki::crl(&mut db.conn(), &w.clock, &w.master, "access-keys-1", false)
            .expect("crl"),
    )
    .expect("der");
    assert!(before.get_revoked().is_none_or(|r| r.is_empty()));
    assert!(
        matches!(
            access_key::revoke(&mut db.conn(), &w.clock, &w.master, &w.b, &w.org_a, &serial),
            Err(IdentityError::NotFound { .. })
        ),
        "another organization cannot revoke it"
    );
    access_key::revoke(&mut db.conn(), &w.clock, &w.master, &w.a, &w.org_a, &serial)
        .expect("revoke");
    assert_eq!(
        access_key::authenticate(&mut db.conn(), &w.clock, &serial).expect("auth"),
        None
    );
    let after = X509Crl::from_der(
        &platform_pki::crl(&mut db.conn(), &w.clock, &w.master, "access-keys-1", false)
            .expect("crl"),
    )
    .expect("der");
    let listed: Vec<String> = after
        .get_revoked()
        .expect("revoked entries")
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
    assert_eq!(listed, vec![serial.clone()]);
    let number = {
        use diesel::prelude::*;
        use lanyard_store::schema::certificate_authorities as cas;
        cas::table
            .find("access-keys-1")
            .select(cas::crl_number)
            .first::<i64>(&mut db.conn())
            .expect("number")
    };
    assert_eq!(
        number, 2,
        "the revocation made a second CRL, with a new number"
    );
    assert_ne!(before.to_der().expect("der"), after.to_der().expect("der"));
    let certs =
        access_key::certificates_of(&mut db.conn(), &w.clock, &w.a, &w.org_a, &issued.key.id)
            .expect("list");
    assert_eq!(certs[0].status, CertificateStatus::Revoked);

    // Expiry: a second certificate stops authenticating when it expires.
    let second = access_key::issue_certificate(
        &mut db.conn(),
        &w.clock,
        &w.master,
        &w.a,
        &w.org_a,
        &issued.key.id,
        KeySource::Generate,
        CRL_BASE,
    )
    .expect("second");
    assert!(
        access_key::authenticate(&mut db.conn(), &w.clock, &second.certificate.serial)
            .expect("auth")
            .is_some()
    );
    w.clock
        .advance(access_key::CERTIFICATE_VALIDITY + chrono::TimeDelta::seconds(1));
    assert_eq!(
        access_key::authenticate(&mut db.conn(), &w.clock, &second.certificate.serial)
            .expect("auth"),
        None
    );

    // Deleting the key revokes every certificate.
    let third = management_key(db, &w, KeySource::Generate);
    access_key::delete(
        &mut db.conn(),
        &w.clock,
        &w.master,
        &w.a,
        &w.org_a,
        &third.key.id,
    )
    .expect("delete");
    assert_eq!(
        access_key::authenticate(&mut db.conn(), &w.clock, &third.certificate.serial)
            .expect("auth"),
        None
    );
    assert!(
        access_key::list(&mut db.conn(), &w.a, &w.org_a, KeyKind::Management)
            .expect("list")
            .iter()
            .all(|k| k.id != third.key.id)
    );
}

fn rotation_keeps_existing_certificates_working(db: &TestDb) {
    let w = world(db);
    let old = management_key(db, &w, KeySource::Generate);
    let new_ca = platform_pki::rotate(
        &mut db.conn(),
        &w.clock,
        &w.master,
        Purpose::AccessKeys,
        "Lanyard Test",
        CRL_BASE,
    )
    .expect("rotate");
    assert_eq!(new_ca, "access-keys-2");
    let new = management_key(db, &w, KeySource::Generate);
    let issuer = |serial: &str| {
        let pem =
            access_key::download_pem(&mut db.conn(), &w.clock, &w.master, &w.a, &w.org_a, serial)
                .expect("pem");
        let cert = X509::from_pem(&pem).expect("cert");
        let ca1 = platform_pki::certificate(&mut db.conn(), "access-keys-1").expect("ca");
        let ca2 = platform_pki::certificate(&mut db.conn(), "access-keys-2").expect("ca");
        if cert.verify(&ca1.public_key().expect("k")).expect("v") {
            1
        } else if cert.verify(&ca2.public_key().expect("k")).expect("v") {
            2
        } else {
            0
        }
    };
    assert_eq!(issuer(&old.certificate.serial), 1);
    assert_eq!(issuer(&new.certificate.serial), 2);
    assert!(
        access_key::authenticate(&mut db.conn(), &w.clock, &old.certificate.serial)
            .expect("auth")
            .is_some()
    );
    access_key::revoke(
        &mut db.conn(),
        &w.clock,
        &w.master,
        &w.a,
        &w.org_a,
        &old.certificate.serial,
    )
    .expect("revoke");
    let crl = X509Crl::from_der(
        &platform_pki::crl(&mut db.conn(), &w.clock, &w.master, "access-keys-1", false)
            .expect("crl"),
    )
    .expect("der");
    assert_eq!(
        crl.get_revoked().map(|r| r.len()),
        Some(1),
        "the old CA still publishes its CRL"
    );
    let all = platform_pki::all_certificates(&mut db.conn()).expect("all");
    assert_eq!(all.first().map(|(id, _)| id.as_str()), Some("root-1"));
    assert_eq!(all.len(), 6);

    // Master key rotation re-seals everything; only the new key opens it afterwards.
    let next = MasterKey::generate().expect("key");
    let count =
        platform_pki::rotate_master_key(&mut db.conn(), &w.master, &next).expect("rotate master");
    assert_eq!(
        count,
        6 + 2,
        "six CA keys and two PFX passwords (the PEM downloads above took the generated keys)"
    );
    assert!(platform_pki::active(&mut db.conn(), &next, Purpose::AccessKeys).is_ok());
    assert!(platform_pki::active(&mut db.conn(), &w.master, Purpose::AccessKeys).is_err());
    let pw: SecretString = access_key::pfx_password(
        &mut db.conn(),
        &next,
        &w.a,
        &w.org_a,
        &new.certificate.serial,
    )
    .expect("password");
    assert_eq!(pw.expose(), new.pfx_password.expect("pw").expose());
}

fn applications_crud_and_application_keys(db: &TestDb) {
    let w = world(db);
    let app =
        application::create(&mut db.conn(), &w.clock, &w.a, &w.org_a, "Billing").expect("create");
    assert!(matches!(
        application::get(&mut db.conn(), &w.b, &w.org_a, &app.id),
        Err(IdentityError::NotFound { .. })
    ));
    let svg = br#"<svg xmlns="http://www.w3.org/2000/svg"><circle r="4"/></svg>"#;
    assert_eq!(
        application::icon(&mut db.conn(), &w.a, &w.org_a, &app.id).expect("icon"),
        application::DEFAULT_ICON.as_bytes()
    );
    application::set_icon(&mut db.conn(), &w.clock, &w.a, &w.org_a, &app.id, Some(svg))
        .expect("icon");
    assert_eq!(
        application::icon(&mut db.conn(), &w.a, &w.org_a, &app.id).expect("icon"),
        svg
    );
    for bad in [&b"\x89PNG"[..], b"<html></html>", b""] {
        assert!(matches!(
            application::set_icon(&mut db.conn(), &w.clock, &w.a, &w.org_a, &app.id, Some(bad)),
            Err(IdentityError::Invalid { field: "icon", .. })
        ));
    }
    assert!(matches!(
        application::icon(&mut db.conn(), &w.b, &w.org_a, &app.id),
        Err(IdentityError::NotFound { .. })
    ));
    application::set_icon(&mut db.conn(), &w.clock, &w.a, &w.org_a, &app.id, None)
        .expect("default");
    let renamed = application::modify(
        &mut db.conn(),
        &w.clock,
        &w.a,
        &w.org_a,
        &app.id,
        "Billing 2",
    )
    .expect("modify");
    assert_eq!(renamed.name, "Billing 2");
    assert!(matches!(
        application::create(&mut db.conn(), &w.clock, &w.a, &w.org_a, "  "),
        Err(IdentityError::Invalid { field: "name", .. })
    ));
    let no_app = access_key::create(
        &mut db.conn(),
        &w.clock,
        &w.master,
        &w.a,
        &w.org_a,
        KeyKind::Application,
        "k",
        None,
        KeySource::Generate,
        CRL_BASE,
    );
    assert!(matches!(
        no_app,
        Err(IdentityError::Invalid {
            field: "applicationId",
            ..
        })
    ));
    let key = access_key::create(
        &mut db.conn(),
        &w.clock,
        &w.master,
        &w.a,
        &w.org_a,
        KeyKind::Application,
        "billing-prod",
        Some(&app.id),
        KeySource::Generate,
        CRL_BASE,
    )
    .expect("application key");
    let who = access_key::authenticate(&mut db.conn(), &w.clock, &key.certificate.serial)
        .expect("auth")
        .expect("known");
    assert_eq!(who.application_id.as_deref(), Some(app.id.as_str()));
    assert!(matches!(
        application::delete(&mut db.conn(), &w.clock, &w.a, &w.org_a, &app.id),
        Err(IdentityError::NotAllowed(_))
    ));
    access_key::delete(
        &mut db.conn(),
        &w.clock,
        &w.master,
        &w.a,
        &w.org_a,
        &key.key.id,
    )
    .expect("delete key");
    application::delete(&mut db.conn(), &w.clock, &w.a, &w.org_a, &app.id).expect("delete app");
    assert!(
        application::list(&mut db.conn(), &w.a, &w.org_a)
            .expect("list")
            .is_empty()
    );
}

fn maintenance_states_texts_and_scope(db: &TestDb) {
    use lanyard_core::Clock;
    use lanyard_identity::maintenance::{self, Draft, MaintenanceState, Text};
    let w = world(db);
    let app =
        application::create(&mut db.conn(), &w.clock, &w.a, &w.org_a, "Billing").expect("app");
    let other =
        application::create(&mut db.conn(), &w.clock, &w.a, &w.org_a, "Portal").expect("app");
    let text = |language: &str| Text {
        language: language.into(),
        subject: format!("Down ({language})"),
        body: "We are upgrading.".into(),
    };
    let draft = |app: Option<&str>, from: i64, to: i64, texts: Vec<Text>| Draft {
        application_id: app.map(str::to_owned),
        starts_at: w.clock.now() + chrono::TimeDelta::hours(from),
        ends_at: w.clock.now() + chrono::TimeDelta::hours(to),
        texts,
    };
    let create = |d: &Draft| maintenance::create(&mut db.conn(), &w.clock, &w.a, &w.org_a, d);
    for (bad, field) in [
        (draft(Some(&app.id), 1, 2, vec![text("hu")]), "subject"),
        (draft(Some(&app.id), 2, 1, vec![text("en")]), "endsAt"),
        (
            draft(Some(&app.id), 1, 2, vec![text("en"), text("english")]),
            "language",
        ),
        (draft(Some("nope"), 1, 2, vec![text("en")]), "applicationId"),
    ] {
        match create(&bad) {
            Err(IdentityError::Invalid { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    let m = create(&draft(Some(&app.id), 1, 3, vec![text("hu"), text("en")])).expect("create");
    assert_eq!(m.state, MaintenanceState::Scheduled);
    assert_eq!(m.texts[0].language, "en", "English first");
    assert!(
        maintenance::active_for(&mut db.conn(), &w.clock, &w.org_a, Some(&app.id))
            .expect("q")
            .is_none()
    );
    w.clock.advance(chrono::TimeDelta::hours(2));
    let active =
        maintenance::active_for(&mut db.conn(), &w.clock, &w.org_a, Some(&app.id)).expect("q");
    assert_eq!(active.map(|a| a.id), Some(m.id.clone()));
    assert!(
        maintenance::active_for(&mut db.conn(), &w.clock, &w.org_a, Some(&other.id))
            .expect("q")
            .is_none(),
        "another application is not affected"
    );
    // A maintenance of the whole organization covers every application.
    let all = create(&draft(None, -1, 1, vec![text("en")])).expect("organization-wide");
    let covering =
        maintenance::active_for(&mut db.conn(), &w.clock, &w.org_a, Some(&other.id)).expect("q");
    assert_eq!(covering.map(|c| c.id), Some(all.id.clone()));
    // Stop now; a stopped one cannot change; another organization sees none of it.
    let stopped = maintenance::stop(&mut db.conn(), &w.clock, &w.a, &w.org_a, &m.id).expect("stop");
    assert_eq!(stopped.state, MaintenanceState::Stopped);
    assert!(matches!(
        maintenance::modify(
            &mut db.conn(),
            &w.clock,
            &w.a,
            &w.org_a,
            &m.id,
            &draft(None, 0, 5, vec![text("en")])
        ),
        Err(IdentityError::NotAllowed(_))
    ));
    assert!(matches!(
        maintenance::get(&mut db.conn(), &w.clock, &w.b, &w.org_a, &all.id),
        Err(IdentityError::NotFound { .. })
    ));
    let changed = maintenance::modify(
        &mut db.conn(),
        &w.clock,
        &w.a,
        &w.org_a,
        &all.id,
        &draft(Some(&other.id), -1, 4, vec![text("en"), text("de")]),
    )
    .expect("modify");
    assert_eq!(
        (changed.application_name.as_deref(), changed.texts.len()),
        (Some("Portal"), 2)
    );
    assert_eq!(
        maintenance::list(&mut db.conn(), &w.clock, &w.a, &w.org_a)
            .expect("list")
            .len(),
        2
    );
    maintenance::delete(&mut db.conn(), &w.clock, &w.a, &w.org_a, &m.id).expect("delete");
    application::delete(&mut db.conn(), &w.clock, &w.a, &w.org_a, &other.id)
        .expect("its maintenance goes with it");
    assert!(
        maintenance::list(&mut db.conn(), &w.clock, &w.a, &w.org_a)
            .expect("list")
            .is_empty()
    );
}

both_backends!(
    maintenance_states_texts_and_scope,
    ca_keys_are_sealed_and_keys_work,
    generated_keys_download_as_pfx_and_pem,
    a_generated_key_is_taken_once_under_concurrent_downloads,
    a_request_keeps_its_key_and_bad_requests_are_refused,
    revocation_is_immediate_and_listed_in_the_crl,
    rotation_keeps_existing_certificates_working,
    applications_crud_and_application_keys,
);
