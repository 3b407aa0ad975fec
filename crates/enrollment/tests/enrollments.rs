//! Enrollments on both backends: creation with the account's expiry, derived links whose secret
//! is stored only hashed, states, holders (end users and administrators), tenancy, deletion, and
//! QR codes that an independent decoder (zbarimg) reads back exactly.

use lanyard_core::id::AccountId;
use lanyard_core::{Clock, Email, FixedClock, Oid};
use lanyard_enrollment::enrollment::{self, EnrollmentState, Holder, Links};
use lanyard_enrollment::{EnrollmentError, qr};
use lanyard_identity::account::{self, NewAccount};
use lanyard_identity::bootstrap::bootstrap;
use lanyard_identity::end_user::{self, NewEndUser};
use lanyard_identity::rights::Actor;
use lanyard_identity::{AccountKind, IdentityError, admin};
use lanyard_pki::MasterKey;
use lanyard_store::both_backends;
use lanyard_store::testing::TestDb;
use std::process::Command;

const DEVICE_API: &str = "https://device.lanyard.test:7403";

struct World {
    clock: FixedClock,
    master: MasterKey,
    org_a: AccountId,
    org_oid: Oid,
    a: Actor,
    b: Actor,
    alice: Oid,
}

impl World {
    fn links(&self) -> Links<'_> {
        Links {
            device_api: DEVICE_API,
            master: &self.master,
        }
    }
}

fn world(db: &TestDb) -> World {
    let clock = FixedClock::new(chrono::Utc::now());
    bootstrap(&mut db.conn(), &clock, None).expect("bootstrap");
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
    };
    let (a, b) = (org("Acme"), org("Globex"));
    let actor_a = Actor::api_token(a.id.clone(), "a");
    let alice = end_user::create(
        &mut db.conn(),
        &clock,
        &actor_a,
        &a.id,
        NewEndUser::parse(
            "alice",
            Some("alice@acme.example"),
            Some("Alice"),
            None,
            true,
        )
        .expect("valid"),
    )
    .expect("alice")
    .oid;
    World {
        clock,
        master: MasterKey::generate().expect("key"),
        org_a: a.id.clone(),
        org_oid: a.oid,
        a: actor_a,
        b: Actor::api_token(b.id, "b"),
        alice,
    }
}

fn enrollments_link_expire_and_stay_in_their_organization(db: &TestDb) {
    let w = world(db);
    let holder = Holder::User(&w.alice);
    let created = enrollment::create(&mut db.conn(), &w.clock, &w.a, &w.org_a, holder, w.links())
        .expect("create");
    assert_eq!(created.state, EnrollmentState::Active);
    assert!(!created.sent);
    assert_eq!(created.id.len(), 16);
    let hours = lanyard_identity::organization::settings(&mut db.conn(), &w.org_a)
        .expect("settings")
        .enrollment_expiration_hours;
    assert_eq!(
        created.expires_at,
        w.clock.now() + chrono::TimeDelta::hours(hours)
    );
    let prefix = format!(
        "https://device.lanyard.test:7403/deviceConfig/{}/",
        w.org_oid
    );
    assert!(
        created.device_config_url.starts_with(&prefix),
        "{}",
        created.device_config_url
    );
    assert!(created.device_config_url.contains("?expireDate="));

    // The secret is in the URL only; the database has its hash.
    let secret = created.device_config_url[prefix.len()..]
        .split('?')
        .next()
        .expect("secret")
        .to_owned();
    use diesel::prelude::*;
    use lanyard_store::schema::enrollments as e;
    let stored: Vec<(String, String)> = e::table
        .select((e::id, e::secret_hash))
        .load(&mut db.conn())
        .expect("rows");
    assert_eq!(
        stored,
        vec![(
            created.id.clone(),
            lanyard_core::secret::hash_token(&secret)
        )]
    );

    // The list shows the same link again (derived, not stored).
    let listed = enrollment::list(&mut db.conn(), &w.clock, &w.a, &w.org_a, holder, w.links())
        .expect("list");
    assert_eq!(listed, vec![created.clone()]);

    // Another organization: NOT_FOUND with the OID, as PassBy[ME].
    match enrollment::create(&mut db.conn(), &w.clock, &w.b, &w.org_a, holder, w.links()) {
        Err(EnrollmentError::Identity(IdentityError::NotFound { .. })) => {}
        other => panic!("{other:?}"),
    }
    match enrollment::delete(&mut db.conn(), &w.clock, &w.a, &w.org_a, holder, "nope") {
        Err(EnrollmentError::NotFound(id)) => assert_eq!(id, "nope"),
        other => panic!("{other:?}"),
    }

    // Expiry.
    w.clock
        .advance(chrono::TimeDelta::hours(hours) + chrono::TimeDelta::seconds(1));
    let later = enrollment::get(
        &mut db.conn(),
        &w.clock,
        &w.a,
        &w.org_a,
        holder,
        &created.id,
        w.links(),
    )
    .expect("get");
    assert_eq!(later.state, EnrollmentState::Expired);

    // Administrators have enrollments too, by login e-mail.
    let boss = admin::create_first(
        &mut db.conn(),
        &w.clock,
        &w.org_a,
        &Email::parse("boss@acme.example").expect("email"),
        "Boss",
        "correct horse battery staple",
    )
    .expect("admin");
    let mine = enrollment::create(
        &mut db.conn(),
        &w.clock,
        &w.a,
        &w.org_a,
        Holder::Administrator(&boss.email),
        w.links(),
    )
    .expect("admin enrollment");
    assert_ne!(mine.device_config_url, created.device_config_url);
    enrollment::delete(
        &mut db.conn(),
        &w.clock,
        &w.a,
        &w.org_a,
        holder,
        &created.id,
    )
    .expect("delete");
    assert!(
        enrollment::list(&mut db.conn(), &w.clock, &w.a, &w.org_a, holder, w.links())
            .expect("list")
            .is_empty()
    );
}

fn the_qr_code_decodes_to_exactly_the_link(db: &TestDb) {
    let w = world(db);
    let created = enrollment::create(
        &mut db.conn(),
        &w.clock,
        &w.a,
        &w.org_a,
        Holder::User(&w.alice),
        w.links(),
    )
    .expect("create");
    let dir = tempfile::tempdir().expect("dir");
    let png = dir.path().join("qr.png");
    std::fs::write(&png, qr::png(&created.device_config_url, 6).expect("png")).expect("write");
    let svg = qr::svg(&created.device_config_url).expect("svg");
    assert!(svg.contains("<svg") && !svg.contains("<script"));
    match Command::new("zbarimg")
        .args(["--quiet", "--raw"])
        .arg(&png)
        .output()
    {
        Ok(out) => {
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                String::from_utf8_lossy(&out.stdout).trim_end(),
                created.device_config_url
            );
        }
        Err(_) if std::env::var_os("CI").is_none() => {
            eprintln!("zbarimg is missing: scripts/setup --test")
        }
        Err(e) => panic!("zbarimg must run under CI: {e}"),
    }
}

both_backends!(
    enrollments_link_expire_and_stay_in_their_organization,
    the_qr_code_decodes_to_exactly_the_link,
);
