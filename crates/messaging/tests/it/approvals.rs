//! Console login approvals on both backends (SPEC §1 "Login"): asked of an administrator's own
//! phones, delivered to those phones' inbox only, answered through the same state machine,
//! expired to TIMEOUT, withdrawn to CANCELLED; nobody else's.

use chrono::TimeDelta;
use diesel::prelude::*;
use lanyard_core::id::AdministratorId;
use lanyard_core::{Email, FixedClock};
use lanyard_identity::account::{self, NewAccount};
use lanyard_identity::admin;
use lanyard_identity::bootstrap::bootstrap;
use lanyard_messaging::approval;
use lanyard_messaging::evidence;
use lanyard_messaging::message;
use lanyard_messaging::status::{Event, RecipientStatus as S};
use lanyard_store::both_backends;
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
    let org = account::create(&mut db.conn(), &clock, NewAccount::organization("Acme"))
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
        let account: String = lanyard_store::schema::administrators::table
            .find(admin.as_str())
            .select(lanyard_store::schema::administrators::account_id)
            .first(&mut db.conn())
            .expect("account");
        let id = format!("device-{name}");
        lanyard_store::testing::active_device(
            &mut db.conn(),
            &id,
            &account,
            lanyard_store::testing::DeviceOwner::Administrator(admin.as_str()),
            "OTHER",
            None,
        );
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

/// A change waiting for the phone (SPEC §1 "forgotten password"): a password reset is checked,
/// kept while the phone decides, and made once when it approves — also when two pages settle it
/// at the same moment; denied or expired, it is dropped and the password stays.
fn a_pending_change_is_made_once_when_the_phone_approves(db: &TestDb) {
    use lanyard_identity::admin::{self as identity_admin, PendingReset};
    use lanyard_messaging::MessagingError;
    use lanyard_messaging::approval::Settled;
    let w = world(db);
    w.phone(db, &w.ann, "ann-phone");
    let links = identity_admin::Links {
        console: "https://console.example".into(),
        mail_domain: "console.example".into(),
    };
    let new_password = "a brand new passphrase for ann";
    // A reset link, as the e-mail carries it.
    let reset_token = |db: &TestDb| -> String {
        // A second apart, so that the newest letter is the newest link.
        w.clock.advance(TimeDelta::seconds(1));
        identity_admin::request_password_reset(
            &mut db.conn(),
            &w.clock,
            &links,
            "ann@acme.example",
        )
        .expect("reset mail");
        let mail = lanyard_mail::recent_to(&mut db.conn(), "ann@acme.example", 1).expect("mail");
        let text = &mail[0].text;
        let at = text.find("token=").expect("link") + "token=".len();
        text[at..]
            .chars()
            .take_while(|c| !c.is_whitespace())
            .collect()
    };
    let ask = |db: &TestDb, token: &str| {
        let reset =
            identity_admin::check_password_reset(&mut db.conn(), &w.clock, token, new_password)
                .expect("checked");
        let asked = approval::ask(
            &mut db.conn(),
            &w.clock,
            &w.ann,
            (
                "password_reset",
                &reset.token_id,
                Some(&reset.password_hash),
            ),
            "Reset your console password",
            "Approve only if it is you.",
            30,
        )
        .expect("asked");
        (reset, asked)
    };
    let settle = |db: &TestDb, id: &str| {
        approval::settle(&mut db.conn(), &w.clock, id, "password_reset", |conn, p| {
            identity_admin::finish_password_reset(
                conn,
                &w.clock,
                &PendingReset {
                    administrator: p.administrator.clone(),
                    token_id: p.target.clone(),
                    password_hash: p.payload.clone().unwrap_or_default(),
                },
            )
            .map(|a| a.id)
            .map_err(MessagingError::from)
        })
    };
    let logs_in = |db: &TestDb, password: &str| {
        identity_admin::login(
            &mut db.conn(),
            &w.clock,
            "ann@acme.example",
            password,
            "192.0.2.1",
        )
        .is_ok()
    };
    let answer = |db: &TestDb, id: &str, event| {
        message::advance(&mut db.conn(), &w.clock, id, w.ann.as_str(), event).expect("advance")
    };

    // Denied: dropped, the old password stays; settling again finds nothing.
    let token = reset_token(db);
    let (_, asked) = ask(db, &token);
    assert!(matches!(
        settle(db, &asked.message_id).expect("settle"),
        Settled::Waiting { .. }
    ));
    answer(db, &asked.message_id, Event::Download);
    answer(db, &asked.message_id, Event::Deny);
    assert_eq!(
        settle(db, &asked.message_id).expect("settle"),
        Settled::Refused(S::Denied)
    );
    assert!(matches!(
        settle(db, &asked.message_id),
        Err(MessagingError::NotFound(_))
    ));
    assert!(logs_in(db, PASSWORD) && !logs_in(db, new_password));

    // Approved, with two pages settling at once: the password is set by exactly one of them.
    let (_, asked) = ask(db, &token);
    answer(db, &asked.message_id, Event::Download);
    answer(db, &asked.message_id, Event::Approve);
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| settle(db, &asked.message_id));
        let b = s.spawn(|| settle(db, &asked.message_id));
        (a.join().expect("thread"), b.join().expect("thread"))
    });
    let done = [&a, &b]
        .iter()
        .filter(|r| matches!(r, Ok(Settled::Done(id)) if *id == w.ann))
        .count();
    let gone = [&a, &b]
        .iter()
        .filter(|r| matches!(r, Err(MessagingError::NotFound(_))))
        .count();
    assert_eq!((done, gone), (1, 1), "{a:?} {b:?}");
    assert!(logs_in(db, new_password) && !logs_in(db, PASSWORD));
    // The link is used: it cannot start another reset.
    let again = identity_admin::check_password_reset(
        &mut db.conn(),
        &w.clock,
        &token,
        "yet another passphrase here",
    )
    .expect_err("used");
    assert_eq!(
        lanyard_core::Coded::code(&again).as_str(),
        "MALFORMED_INPUT"
    );

    // Asked twice with one link: the first request is withdrawn, only the second can change
    // anything. A change that can no longer be made (its link used meanwhile) is dropped when
    // approved, with the reason, and cannot be made later.
    let token = reset_token(db);
    let (_, first) = ask(db, &token);
    let (_, second) = ask(db, &token);
    assert_eq!(w.status(db, &w.ann, &first.message_id), S::Cancelled);
    assert!(matches!(
        settle(db, &first.message_id),
        Err(MessagingError::NotFound(_))
    ));
    identity_admin::reset_password(&mut db.conn(), &w.clock, &token, "set by the link itself")
        .expect("reset meanwhile");
    answer(db, &second.message_id, Event::Download);
    answer(db, &second.message_id, Event::Approve);
    let failed = settle(db, &second.message_id).expect_err("the link is used");
    assert_eq!(
        lanyard_core::Coded::code(&failed).as_str(),
        "MALFORMED_INPUT"
    );
    assert!(matches!(
        settle(db, &second.message_id),
        Err(MessagingError::NotFound(_))
    ));
    assert!(logs_in(db, "set by the link itself"));
    let new_password = "set by the link itself";

    // Unanswered: expired, dropped.
    let token = reset_token(db);
    let (_, asked) = ask(db, &token);
    w.clock.advance(TimeDelta::seconds(31));
    assert_eq!(
        settle(db, &asked.message_id).expect("settle"),
        Settled::Refused(S::NotNotified)
    );
    assert!(logs_in(db, new_password));
}

both_backends!(
    a_pending_change_is_made_once_when_the_phone_approves,
    an_approval_goes_to_the_administrators_own_phones,
    unanswered_approvals_expire_and_withdrawn_ones_are_cancelled,
);
