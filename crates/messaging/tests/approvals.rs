//! Console login approvals on both backends (SPEC §1 "Login"): asked of an administrator's own
//! phones, delivered to those phones' inbox only, answered through the same state machine,
//! expired to TIMEOUT, withdrawn to CANCELLED; nobody else's.

use chrono::TimeDelta;
use diesel::prelude::*;
use lanyard_core::id::AdministratorId;
use lanyard_core::{Clock, Email, FixedClock};
use lanyard_identity::account::{self, NewAccount};
use lanyard_identity::bootstrap::bootstrap;
use lanyard_identity::{AccountKind, admin};
use lanyard_messaging::approval;
use lanyard_messaging::evidence;
use lanyard_messaging::message;
use lanyard_messaging::status::{Event, RecipientStatus as S};
use lanyard_store::both_backends;
use lanyard_store::schema::devices;
use lanyard_store::testing::TestDb;

const PASSWORD: &str = "correct horse battery staple";

struct World {
    clock: FixedClock,
    ann: AdministratorId,
    bob: AdministratorId,
}

fn world(db: &TestDb) -> World {
    let clock = FixedClock::new(chrono::Utc::now());
    bootstrap(&mut db.conn(), &clock, None).expect("bootstrap");
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
    let make = |email: &str| {
        admin::create_first(
            &mut db.conn(),
            &clock,
            &org,
            &Email::parse(email).expect("email"),
            "Admin",
            PASSWORD,
        )
        .expect("admin")
        .id
    };
    let (ann, bob) = (make("ann@acme.example"), make("bob@acme.example"));
    World { clock, ann, bob }
}

impl World {
    /// An active phone of administrator `admin` (a row as enrollment writes it); its id.
    fn phone(&self, db: &TestDb, admin: &AdministratorId, name: &str) -> String {
        let now = self.clock.now().naive_utc();
        let account: String = lanyard_store::schema::administrators::table
            .find(admin.as_str())
            .select(lanyard_store::schema::administrators::account_id)
            .first(&mut db.conn())
            .expect("account");
        let id = format!("device-{name}");
        diesel::insert_into(devices::table)
            .values((
                devices::id.eq(&id),
                devices::account_id.eq(account),
                devices::administrator_id.eq(admin.as_str()),
                devices::enrollment_id.eq(format!("enrollment-{name}")),
                devices::name.eq(name),
                devices::vendor_id.eq(name),
                devices::device_type.eq("OTHER"),
                devices::app_version.eq("1.0"),
                devices::deactivation_hash.eq("x"),
                devices::status.eq("active"),
                devices::created_at.eq(now),
                devices::last_seen_at.eq(now),
            ))
            .execute(&mut db.conn())
            .expect("device");
        id
    }

    fn ask(&self, db: &TestDb, admin: &AdministratorId) -> approval::Approval {
        approval::request(
            &mut db.conn(),
            &self.clock,
            admin,
            "Log in to the Lanyard console",
            "ann@acme.example is logging in from 192.0.2.1.",
            30,
        )
        .expect("request")
    }

    fn status(&self, db: &TestDb, admin: &AdministratorId, id: &str) -> S {
        approval::status(&mut db.conn(), &self.clock, admin, id)
            .expect("status")
            .0
    }
}

fn an_approval_goes_to_the_administrators_own_phones(db: &TestDb) {
    let w = world(db);
    // No phone: nothing to ask.
    assert!(!approval::has_phone(&mut db.conn(), &w.ann).expect("has"));
    let refused =
        approval::request(&mut db.conn(), &w.clock, &w.ann, "s", "b", 30).expect_err("no phone");
    assert_eq!(lanyard_core::Coded::code(&refused).as_str(), "NO_DEVICE");

    let ann_phone = w.phone(db, &w.ann, "ann-phone");
    let bob_phone = w.phone(db, &w.bob, "bob-phone");
    let asked = w.ask(db, &w.ann);
    assert_eq!(asked.message_id.len(), 24);
    assert_eq!(asked.secure_id.len(), 6);
    let (status, secure_id, expires) =
        approval::status(&mut db.conn(), &w.clock, &w.ann, &asked.message_id).expect("status");
    assert_eq!((status, secure_id), (S::Pending, asked.secure_id.clone()));
    assert_eq!(expires, asked.expires_at);

    // Ann's phone has it, with the code the console shows; Bob's phone does not.
    let inbox = evidence::inbox(&mut db.conn(), &w.clock, &ann_phone).expect("inbox");
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0].id, asked.message_id);
    assert_eq!(
        inbox[0].secure_id.as_deref(),
        Some(asked.secure_id.as_str())
    );
    assert_eq!(inbox[0].recipient, "ann@acme.example");
    assert!(
        evidence::inbox(&mut db.conn(), &w.clock, &bob_phone)
            .expect("inbox")
            .is_empty()
    );
    // Bob cannot read or withdraw Ann's approval, nor answer it.
    for result in [
        approval::status(&mut db.conn(), &w.clock, &w.bob, &asked.message_id).map(|s| s.0),
        approval::withdraw(&mut db.conn(), &w.clock, &w.bob, &asked.message_id),
    ] {
        assert_eq!(
            lanyard_core::Coded::code(&result.expect_err("not Bob's")).as_str(),
            "NOT_FOUND"
        );
    }
    let answer = |who: &AdministratorId, event| {
        message::advance(
            &mut db.conn(),
            &w.clock,
            &asked.message_id,
            who.as_str(),
            event,
        )
        .expect("advance")
    };
    assert_eq!(answer(&w.bob, Event::Approve), None);
    assert_eq!(w.status(db, &w.ann, &asked.message_id), S::Pending);

    // Ann's phone approves through the state machine; nothing changes it afterwards.
    assert_eq!(answer(&w.ann, Event::Download), Some(S::Downloaded));
    assert_eq!(answer(&w.ann, Event::Approve), Some(S::Approved));
    assert_eq!(answer(&w.ann, Event::Deny), None);
    assert_eq!(
        approval::withdraw(&mut db.conn(), &w.clock, &w.ann, &asked.message_id).expect("late"),
        S::Approved
    );
    w.clock.advance(TimeDelta::seconds(31));
    assert_eq!(w.status(db, &w.ann, &asked.message_id), S::Approved);
}

fn unanswered_approvals_expire_and_withdrawn_ones_are_cancelled(db: &TestDb) {
    let w = world(db);
    let phone = w.phone(db, &w.ann, "ann-phone");
    let expiring = w.ask(db, &w.ann);
    let withdrawn = w.ask(db, &w.ann);
    // Seen on the phone, then nothing: TIMEOUT when the time is up, read on the spot.
    for event in [Event::Notify, Event::Download, Event::See] {
        message::advance(
            &mut db.conn(),
            &w.clock,
            &expiring.message_id,
            w.ann.as_str(),
            event,
        )
        .expect("advance");
    }
    assert_eq!(
        approval::withdraw(&mut db.conn(), &w.clock, &w.ann, &withdrawn.message_id)
            .expect("withdraw"),
        S::Cancelled
    );
    w.clock.advance(TimeDelta::seconds(29));
    assert_eq!(w.status(db, &w.ann, &expiring.message_id), S::Seen);
    w.clock.advance(TimeDelta::seconds(2));
    assert_eq!(w.status(db, &w.ann, &expiring.message_id), S::Timeout);
    assert_eq!(w.status(db, &w.ann, &withdrawn.message_id), S::Cancelled);
    // A late approval is refused; the phone's inbox is empty.
    assert_eq!(
        message::advance(
            &mut db.conn(),
            &w.clock,
            &expiring.message_id,
            w.ann.as_str(),
            Event::Approve
        )
        .expect("advance"),
        None
    );
    assert!(
        evidence::inbox(&mut db.conn(), &w.clock, &phone)
            .expect("inbox")
            .is_empty()
    );
}

both_backends!(
    an_approval_goes_to_the_administrators_own_phones,
    unanswered_approvals_expire_and_withdrawn_ones_are_cancelled,
);
