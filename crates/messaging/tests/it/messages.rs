//! Messages on both backends: per-recipient statuses at sending, the request-level refusals,
//! expiry as the state machine says, cancellation, tenancy between applications, late reports
//! after a final status, and a decision racing a cancellation.

use chrono::TimeDelta;
use diesel::prelude::*;
use lanyard_core::Clock;
use lanyard_identity::application;
use lanyard_identity::end_user::{self, EndUserChanges};
use lanyard_messaging::MessagingError;
use lanyard_messaging::message::{self, NewMessage, Sender};
use lanyard_messaging::status::{Event, RecipientStatus as S};
use lanyard_store::both_backends;
use lanyard_store::testing::TestDb;

use crate::common::world;

fn each_recipient_gets_its_status_and_refusals_name_the_reason(db: &TestDb) {
    let w = world(db);
    w.person(db, "ann", true);
    w.person(db, "bob", false);
    w.person(db, "cid", true);
    end_user::update(
        &mut db.conn(),
        &w.clock,
        &w.actor,
        &w.org,
        &end_user::find_by_alias(&mut db.conn(), &w.org, "cid")
            .expect("find")
            .expect("cid")
            .oid,
        EndUserChanges {
            disabled: Some(true),
            ..EndUserChanges::default()
        },
    )
    .expect("disable");
    let sent = w
        .send(db, &["ann", "bob", "cid", "ann"], "authorization")
        .expect("send");
    assert_eq!(sent.id.len(), 24);
    assert!(sent.id.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(sent.secure_id.as_deref().map(str::len), Some(6));
    assert_eq!(
        sent.expires_at,
        w.clock.now() + TimeDelta::seconds(60),
        "sent at + availability"
    );
    let got: Vec<(&str, S)> = sent
        .recipients
        .iter()
        .map(|r| (r.user_id.as_str(), r.status))
        .collect();
    assert_eq!(
        got,
        [
            ("ann", S::Pending),
            ("bob", S::NoDevice),
            ("cid", S::Disabled)
        ],
        "in request order, repeats once"
    );

    // Request-level refusals: nothing is stored.
    let count = |db: &TestDb| -> i64 {
        lanyard_store::schema::messages::table
            .count()
            .get_result(&mut db.conn())
            .expect("count")
    };
    let before = count(db);
    let unknown = w.send(db, &["ann", "zed"], "message").expect_err("unknown");
    assert!(matches!(unknown, MessagingError::NotFound(ref a) if a == "zed"));
    let disabled = w.send(db, &["cid"], "message").expect_err("disabled");
    assert_eq!(
        lanyard_core::Coded::code(&disabled).as_str(),
        "USER_DISABLED"
    );
    let no_device = w
        .send(db, &["bob", "cid"], "message")
        .expect_err("no device");
    assert_eq!(lanyard_core::Coded::code(&no_device).as_str(), "NO_DEVICE");
    assert_eq!(count(db), before);

    // Field rules, by wire name.
    for (field, parsed) in [
        (
            "recipients",
            NewMessage::parse(vec![], None, None, 60, "message", None),
        ),
        (
            "subject",
            NewMessage::parse(
                vec!["a".into()],
                Some(&"s".repeat(255)),
                None,
                60,
                "message",
                None,
            ),
        ),
        (
            "body",
            NewMessage::parse(
                vec!["a".into()],
                None,
                Some(&"b".repeat(4095)),
                60,
                "message",
                None,
            ),
        ),
        (
            "availability",
            NewMessage::parse(vec!["a".into()], None, None, 0, "message", None),
        ),
        (
            "type",
            NewMessage::parse(vec!["a".into()], None, None, 60, "sms", None),
        ),
        (
            "callbackUrl",
            NewMessage::parse(vec!["a".into()], None, None, 60, "message", Some("ftp://x")),
        ),
    ] {
        match parsed {
            Err(MessagingError::Invalid { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
    }
}

fn expiry_follows_the_state_machine(db: &TestDb) {
    let w = world(db);
    let ids: Vec<String> = ["p", "n", "d", "s"]
        .iter()
        .map(|a| w.person(db, a, true))
        .collect();
    let auth = w
        .send(db, &["p", "n", "d", "s"], "authorization")
        .expect("send");
    let general = w.send(db, &["p", "n", "d", "s"], "message").expect("send");
    for m in [&auth.id, &general.id] {
        let step = |user: &str, event| {
            message::advance(&mut db.conn(), &w.clock, m, user, event).expect("advance")
        };
        assert_eq!(step(&ids[1], Event::Notify), Some(S::Notified));
        assert_eq!(step(&ids[2], Event::Download), Some(S::Downloaded));
        assert_eq!(step(&ids[3], Event::Download), Some(S::Downloaded));
        assert_eq!(step(&ids[3], Event::See), Some(S::Seen));
    }
    // A general message is not approved.
    assert_eq!(
        message::advance(
            &mut db.conn(),
            &w.clock,
            &general.id,
            &ids[2],
            Event::Approve
        )
        .expect("advance"),
        None
    );
    w.clock.advance(TimeDelta::seconds(61));
    // The expiry work (any instance), then tracking shows the result.
    assert_eq!(
        message::expire_due(&mut db.conn(), &w.clock, 100).expect("expire"),
        2
    );
    assert_eq!(
        message::expire_due(&mut db.conn(), &w.clock, 100).expect("again"),
        0
    );
    assert_eq!(
        w.statuses(db, &auth.id),
        [S::NotNotified, S::NotDownloaded, S::Timeout, S::Timeout]
    );
    assert_eq!(
        w.statuses(db, &general.id),
        [S::NotNotified, S::NotDownloaded, S::NotSeen, S::Seen]
    );
    // A late approval changes nothing.
    assert_eq!(
        message::advance(&mut db.conn(), &w.clock, &auth.id, &ids[3], Event::Approve)
            .expect("advance"),
        None
    );
    assert_eq!(w.statuses(db, &auth.id)[3], S::Timeout);
    let done = message::cancel(&mut db.conn(), &w.clock, &w.sender, &auth.id).expect_err("done");
    assert_eq!(
        lanyard_core::Coded::code(&done).as_str(),
        "ALREADY_COMPLETED"
    );

    // Tracking alone expires a message whose time is up (no expiry work ran).
    let later = w.send(db, &["p"], "authorization").expect("send");
    w.clock.advance(TimeDelta::seconds(61));
    assert_eq!(w.statuses(db, &later.id), [S::NotNotified]);
}

fn cancel_and_tenancy(db: &TestDb) {
    let w = world(db);
    let ann = w.person(db, "ann", true);
    w.person(db, "bea", true);
    let sent = w.send(db, &["ann", "bea"], "authorization").expect("send");
    message::advance(&mut db.conn(), &w.clock, &sent.id, &ann, Event::Download).expect("dl");
    message::advance(&mut db.conn(), &w.clock, &sent.id, &ann, Event::Approve).expect("ok");
    // Another application of the same organization sees no such message.
    let other = Sender {
        account: w.org.clone(),
        application_id: application::create(&mut db.conn(), &w.clock, &w.actor, &w.org, "Shop")
            .expect("app")
            .id,
    };
    for outcome in [
        message::track(&mut db.conn(), &w.clock, &other, &sent.id),
        message::cancel(&mut db.conn(), &w.clock, &other, &sent.id),
    ] {
        assert!(matches!(outcome, Err(MessagingError::NotFound(ref id)) if *id == sent.id));
    }
    let cancelled = message::cancel(&mut db.conn(), &w.clock, &w.sender, &sent.id).expect("cancel");
    let got: Vec<S> = cancelled.recipients.iter().map(|r| r.status).collect();
    assert_eq!(got, [S::Approved, S::Cancelled], "a decision stays");
    let again = message::cancel(&mut db.conn(), &w.clock, &w.sender, &sent.id).expect_err("twice");
    assert_eq!(
        lanyard_core::Coded::code(&again).as_str(),
        "ALREADY_COMPLETED"
    );
}

/// An approval and a cancellation race on separate connections: exactly one of them decides
/// the recipient's final status, and it stays.
fn a_decision_racing_a_cancellation_ends_once(db: &TestDb) {
    let w = world(db);
    let ann = w.person(db, "ann", true);
    for _ in 0..5 {
        let sent = w.send(db, &["ann"], "authorization").expect("send");
        message::advance(&mut db.conn(), &w.clock, &sent.id, &ann, Event::Download).expect("dl");
        let (approve, cancel) = std::thread::scope(|s| {
            let a = s.spawn(|| {
                message::advance(&mut db.conn(), &w.clock, &sent.id, &ann, Event::Approve)
                    .expect("approve")
            });
            let c = s.spawn(|| message::cancel(&mut db.conn(), &w.clock, &w.sender, &sent.id));
            (a.join().expect("thread"), c.join().expect("thread"))
        });
        let status = w.statuses(db, &sent.id)[0];
        match (approve, cancel) {
            (Some(S::Approved), Err(e)) => {
                assert_eq!(lanyard_core::Coded::code(&e).as_str(), "ALREADY_COMPLETED");
                assert_eq!(status, S::Approved);
            }
            (None, Ok(m)) => {
                assert_eq!(m.recipients[0].status, S::Cancelled);
                assert_eq!(status, S::Cancelled);
            }
            other => panic!("both or neither won: {other:?}"),
        }
    }
}

/// Callbacks: every status change is enqueued in its transaction; racing senders never take one
/// twice; failures back off and, after the last attempt, the failed-callback address is told.
fn callbacks_are_enqueued_retried_and_given_up_with_an_email(db: &TestDb) {
    use lanyard_messaging::callback;
    let w = world(db);
    let ann = w.person(db, "ann", true);
    lanyard_identity::organization::update_more(
        &mut db.conn(),
        &w.clock,
        &w.actor,
        &w.org,
        &lanyard_identity::organization::MoreSettings::parse("ops@acme.example", "", "", "")
            .expect("valid"),
    )
    .expect("settings");
    let new = NewMessage::parse(
        vec!["ann".into()],
        Some("s"),
        Some("b"),
        60,
        "authorization",
        Some("https://hooks.acme.example/lanyard"),
    )
    .expect("valid");
    let sent = message::send(&mut db.conn(), &w.clock, &w.sender, &new).expect("send");
    let master = lanyard_pki::MasterKey::generate().expect("key");
    // Sending is no status change; the download and the approval are.
    assert!(
        callback::claim(&mut db.conn(), &w.clock, &master, 10)
            .expect("claim")
            .is_empty()
    );
    message::advance(&mut db.conn(), &w.clock, &sent.id, &ann, Event::Download).expect("dl");
    message::advance(&mut db.conn(), &w.clock, &sent.id, &ann, Event::Approve).expect("ok");
    let mut due = callback::claim(&mut db.conn(), &w.clock, &master, 10).expect("claim");
    assert_eq!(due.len(), 2);
    // Same instant under the test clock: order them by what they say.
    due.sort_by_key(|d| d.payload.contains("APPROVED"));
    assert!(due[0].payload.contains("DOWNLOADED"), "{}", due[0].payload);
    assert!(due[1].payload.contains("APPROVED"), "{}", due[1].payload);
    assert!(due[0].signature.starts_with("t="));
    // Leased: another sender gets nothing.
    assert!(
        callback::claim(&mut db.conn(), &w.clock, &master, 10)
            .expect("claim")
            .is_empty()
    );
    assert_eq!(
        callback::record(&mut db.conn(), &w.clock, "lanyard.test", &due[0], Ok(())).expect("rec"),
        "sent"
    );
    let mut item = due[1].clone();
    for attempt in 1..=callback::MAX_ATTEMPTS {
        let status = callback::record(
            &mut db.conn(),
            &w.clock,
            "lanyard.test",
            &item,
            Err("HTTP 503".into()),
        )
        .expect("record");
        if attempt < callback::MAX_ATTEMPTS {
            assert_eq!(status, "pending");
            // Not due before the backoff has passed.
            assert!(
                callback::claim(&mut db.conn(), &w.clock, &master, 10)
                    .expect("claim")
                    .is_empty()
            );
            w.clock.advance(TimeDelta::minutes(16));
            item = callback::claim(&mut db.conn(), &w.clock, &master, 10)
                .expect("claim")
                .pop()
                .expect("due again");
        } else {
            assert_eq!(status, "failed");
        }
    }
    let mails = lanyard_mail::recent_to(&mut db.conn(), "ops@acme.example", 5).expect("mails");
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].template, "callback_failed");
    assert!(mails[0].text.contains(&sent.id), "{}", mails[0].text);
}

both_backends!(
    callbacks_are_enqueued_retried_and_given_up_with_an_email,
    each_recipient_gets_its_status_and_refusals_name_the_reason,
    expiry_follows_the_state_machine,
    cancel_and_tenancy,
    a_decision_racing_a_cancellation_ends_once,
);
