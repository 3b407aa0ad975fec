//! Messages from the console on both backends (seed 000 "Messaging to users", "Advanced
//! messages"): every advanced field checked by its rule, sending to all users, what the phone
//! gets (unlisted messages fetched by id only), the structured bodies, the message history of
//! the organization and of one person, a message in full, and tenancy.

use chrono::TimeDelta;
use lanyard_core::{Coded, Email, FixedClock};
use lanyard_identity::admin;
use lanyard_identity::rights::{Area, Rights, VerbSet};
use lanyard_messaging::MessagingError;
use lanyard_messaging::evidence;
use lanyard_messaging::history::{self, Whose};
use lanyard_messaging::message::{self, ConsoleMessage};
use lanyard_messaging::status::{MessageKind, RecipientStatus as S};
use lanyard_store::both_backends;
use lanyard_store::testing::TestDb;
use std::collections::BTreeMap;

use crate::common::{World, organization, world};

fn form(kind: &str, recipients: &str, subject: &str, body: &str) -> ConsoleMessage {
    ConsoleMessage {
        recipients: recipients.into(),
        subject: subject.into(),
        body: body.into(),
        availability: "600".into(),
        kind: kind.into(),
        ..ConsoleMessage::default()
    }
}

fn field_of(result: Result<message::NewMessage, MessagingError>) -> String {
    match result {
        Err(MessagingError::Invalid { field, rule }) => format!("{field}: {rule}"),
        other => panic!("expected a field error, got {other:?}"),
    }
}

#[test]
fn every_advanced_field_has_its_rule() {
    let clock = FixedClock::new(chrono::Utc::now());
    let check = |m: ConsoleMessage| field_of(m.check(&clock, "admin"));
    let base = || form("authorization", "ann", "Log in?", "Approve");
    let starts = |got: String, want: &str| assert!(got.starts_with(want), "{got} ≠ {want}…");

    starts(check(form("sms", "ann", "", "")), "type: ");
    starts(check(form("message", "", "Hi", "")), "recipients: ");
    starts(
        check(ConsoleMessage {
            availability: "0".into(),
            ..base()
        }),
        "availability: ",
    );
    starts(
        check(ConsoleMessage {
            availability: "ten".into(),
            ..base()
        }),
        "availability: ",
    );
    starts(
        check(ConsoleMessage {
            all_users: true,
            ..form("otp", "", "Code", r#"{"otp":"123456"}"#)
        }),
        "allUsers: only for general",
    );
    starts(
        check(ConsoleMessage {
            secure_id: "ABC123".into(),
            ..form("message", "ann", "Hi", "")
        }),
        "secureId: only for authentication",
    );
    starts(
        check(ConsoleMessage {
            secure_id: "AB-12".into(),
            ..base()
        }),
        "secureId: letters and digits",
    );
    starts(
        check(ConsoleMessage {
            enforce_secure_id: true,
            ..form("esign", "ann", "Sign", "")
        }),
        "enforceSecureId: ",
    );
    starts(
        check(ConsoleMessage {
            unlisted: true,
            ..form(
                "configuration",
                "ann",
                "Update",
                r#"{"minIosVersion":"2.1"}"#,
            )
        }),
        "unlisted: not available for configuration",
    );
    starts(
        check(ConsoleMessage {
            preview: "x".repeat(255),
            ..base()
        }),
        "preview: at most 254",
    );
    starts(
        check(ConsoleMessage {
            external_identity: "Bank\nof Acme".into(),
            ..base()
        }),
        "externalIdentity: must be one line",
    );
    starts(
        check(ConsoleMessage {
            attachment_url: "https://docs.example/contract.pdf".into(),
            ..base()
        }),
        "attachmentName: ",
    );
    starts(
        check(ConsoleMessage {
            attachment_name: "Contract".into(),
            attachment_url: "ftp://docs.example/contract.pdf".into(),
            attachment_expires: "2099-01-01T00:00".into(),
            ..base()
        }),
        "attachmentUrl: must be an http or https URL",
    );
    starts(
        check(ConsoleMessage {
            attachment_name: "Contract".into(),
            attachment_url: "https://docs.example/contract.pdf".into(),
            attachment_expires: "2001-01-01T00:00".into(),
            ..base()
        }),
        "attachmentExpires: must be in the future",
    );
    starts(
        check(ConsoleMessage {
            callback_url: "mailto:ops@acme.example".into(),
            ..base()
        }),
        "callbackUrl: ",
    );
    // Structured bodies.
    starts(
        check(form("otp", "ann", "Code", "123456")),
        "body: a one-time password is JSON",
    );
    starts(
        check(form("otp", "ann", "Code", r#"{"otp":"12"}"#)),
        "body: otp must be 4 to 16",
    );
    starts(
        check(form("otp", "ann", "Code", r#"{"otp":"123456","pin":"1"}"#)),
        "body: a one-time password is JSON",
    );
    starts(
        check(form("configuration", "ann", "Update", "{}")),
        "body: a configuration update sets at least one",
    );
    starts(
        check(form(
            "configuration",
            "ann",
            "Update",
            r#"{"minAndroidVersion":"two"}"#,
        )),
        "body: minAndroidVersion: ",
    );
    starts(
        check(form(
            "configuration",
            "ann",
            "Update",
            r#"{"enrollmentScheme":"My App"}"#,
        )),
        "body: enrollmentScheme: ",
    );
    starts(
        check(form(
            "configuration",
            "ann",
            "Update",
            r#"{"pollSeconds":1}"#,
        )),
        "body: pollSeconds: ",
    );
    starts(
        check(form(
            "configuration",
            "ann",
            "Update",
            r#"{"theme":"dark"}"#,
        )),
        "body: a configuration update is a JSON object",
    );

    // A good one: the body is written canonically, the extras kept.
    let ok = ConsoleMessage {
        secure_id: "ABC123".into(),
        enforce_secure_id: true,
        preview: " Your code ".into(),
        external_identity: "Acme Bank".into(),
        attachment_name: "Terms".into(),
        attachment_url: "https://docs.example/terms.pdf".into(),
        attachment_expires: "2099-01-01T12:30".into(),
        ..form("otp", "ann, bob\nann", "Code", "{ \"otp\" : \"12345678\" }")
    }
    .check(&clock, "admin-1")
    .expect("valid");
    assert_eq!(ok.recipients, ["ann", "bob"]);
    assert_eq!(ok.kind, MessageKind::Otp);
    assert_eq!(ok.body, r#"{"otp":"12345678"}"#);
    assert_eq!(ok.extras.preview.as_deref(), Some("Your code"));
    assert_eq!(ok.extras.secure_id.as_deref(), Some("ABC123"));
    assert!(ok.extras.enforce_secure_id);
    assert_eq!(ok.extras.sent_by.as_deref(), Some("admin-1"));
    let attachment = ok.extras.attachment.expect("attachment");
    assert_eq!(attachment.name, "Terms");
    assert_eq!(
        attachment.expires_at.format("%Y-%m-%d %H:%M").to_string(),
        "2099-01-01 12:30"
    );
}

/// The organization's first administrator (the sender recorded on console messages).
fn administrator(db: &TestDb, w: &World, email: &str) -> String {
    admin::create_first(
        &mut db.conn(),
        &w.clock,
        &w.org,
        &Email::parse(email).expect("email"),
        "Admin",
        "correct horse battery staple",
    )
    .expect("admin")
    .id
    .to_string()
}

fn statuses(d: &history::Detail) -> Vec<(String, S)> {
    d.recipients
        .iter()
        .map(|r| (r.user_id.clone(), r.status))
        .collect()
}

fn console_messages_reach_phones_and_their_history(db: &TestDb) {
    let w = world(db);
    let ann = w.person(db, "ann", true);
    let bob = w.person(db, "bob", false);
    w.person(db, "cid", true);
    let sent_by = administrator(db, &w, "ops@acme.example");
    let send = |m: ConsoleMessage| {
        let new = m.check(&w.clock, &sent_by).expect("valid");
        message::send_from_console(
            &mut db.conn(),
            &w.clock,
            &w.actor,
            &w.org,
            &w.sender.application_id,
            &new,
        )
    };

    // To all users, with every advanced field an authorization can have.
    let everyone = send(ConsoleMessage {
        all_users: true,
        secure_id: "ABC123".into(),
        enforce_secure_id: true,
        preview: "Log in to the bank".into(),
        external_identity: "Acme Bank".into(),
        attachment_name: "Terms".into(),
        attachment_url: "https://docs.example/terms.pdf".into(),
        attachment_expires: "2099-01-01T00:00".into(),
        ..form("authorization", "", "Log in?", "Approve the login.")
    })
    .expect("sent");
    let got: Vec<(&str, S)> = everyone
        .recipients
        .iter()
        .map(|r| (r.user_id.as_str(), r.status))
        .collect();
    assert_eq!(
        got,
        [
            ("ann", S::Pending),
            ("bob", S::NoDevice),
            ("cid", S::Pending)
        ]
    );
    assert_eq!(everyone.secure_id.as_deref(), Some("ABC123"));

    // What ann's phone gets: the extras, and a content hash that covers the sender's name and
    // the attachment.
    w.clock.advance(TimeDelta::seconds(1));
    let inbox = evidence::inbox(&mut db.conn(), &w.clock, "device-ann").expect("inbox");
    assert_eq!(inbox.len(), 1);
    let m = &inbox[0];
    assert_eq!(m.id, everyone.id);
    assert_eq!(m.preview.as_deref(), Some("Log in to the bank"));
    assert_eq!(m.external_identity.as_deref(), Some("Acme Bank"));
    assert!(m.enforce_secure_id);
    assert_eq!(
        m.secure_id, None,
        "an enforced secureId is typed, not shown"
    );
    let attachment = m.attachment.clone().expect("attachment");
    assert_eq!(attachment.url, "https://docs.example/terms.pdf");
    assert_eq!(
        m.content_hash,
        evidence::content_hash_of(
            MessageKind::Authorization,
            "Log in?",
            "Approve the login.",
            Some("Acme Bank"),
            Some(&attachment)
        )
    );
    assert_ne!(
        m.content_hash,
        evidence::content_hash(MessageKind::Authorization, "Log in?", "Approve the login.")
    );

    // Unlisted: not in the inbox, not announced, but fetched by id.
    w.clock.advance(TimeDelta::seconds(1));
    let hidden = send(ConsoleMessage {
        unlisted: true,
        ..form("message", "ann", "Private", "Only by its id.")
    })
    .expect("sent");
    let listed: Vec<String> = evidence::inbox(&mut db.conn(), &w.clock, "device-ann")
        .expect("inbox")
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert!(!listed.contains(&hidden.id), "{listed:?}");
    let announced = evidence::announce(
        &mut db.conn(),
        &w.clock,
        "device-ann",
        &std::collections::HashSet::new(),
    )
    .expect("announce");
    assert!(announced.iter().all(|m| m.id != hidden.id));
    let fetched =
        evidence::fetch(&mut db.conn(), &w.clock, "device-ann", &hidden.id).expect("fetch");
    assert_eq!(fetched.body, "Only by its id.");

    // A one-time password: its body as the phone reads it.
    w.clock.advance(TimeDelta::seconds(1));
    let otp = send(form(
        "otp",
        "cid",
        "Your code",
        r#"{"otp": "845120", "description": "Card payment"}"#,
    ))
    .expect("sent");
    let cids = evidence::fetch(&mut db.conn(), &w.clock, "device-cid", &otp.id).expect("fetch");
    assert_eq!(cids.kind, MessageKind::Otp);
    let body: message::OtpBody = serde_json::from_str(&cids.body).expect("json");
    assert_eq!(body.otp, "845120");

    // Request-level refusals name the reason; nothing is sent.
    let unknown = send(form("message", "ann, zed", "Hi", "")).expect_err("unknown");
    assert!(
        matches!(unknown, MessagingError::NotFound(ref a) if a == "zed"),
        "{unknown:?}"
    );
    let no_phone = send(form("message", "bob", "Hi", "")).expect_err("no device");
    assert_eq!(no_phone.code().as_str(), "NO_DEVICE");
    let other = organization(db, w.clock.clone(), "Globex");
    let foreign_app = message::send_from_console(
        &mut db.conn(),
        &w.clock,
        &w.actor,
        &w.org,
        &other.sender.application_id,
        &form("message", "ann", "Hi", "")
            .check(&w.clock, &sent_by)
            .expect("valid"),
    )
    .expect_err("another organization's application");
    assert!(
        matches!(
            foreign_app,
            MessagingError::Invalid {
                field: "application",
                ..
            }
        ),
        "{foreign_app:?}"
    );

    // The history: newest first, with the statuses; searched; one person's.
    let page = |search: Option<&str>| {
        lanyard_core::PageRequest::new(Some(0), Some(25), search.map(str::to_owned)).expect("page")
    };
    let all = history::list(
        &mut db.conn(),
        &w.actor,
        &w.org,
        Whose::Organization,
        &page(None),
    )
    .expect("list");
    let ids: Vec<&str> = all.data.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(
        ids,
        [otp.id.as_str(), hidden.id.as_str(), everyone.id.as_str()]
    );
    assert_eq!(all.records_total, 3);
    assert_eq!(
        all.data[2].statuses,
        BTreeMap::from([
            ("NO_DEVICE".to_owned(), 1),
            ("NOTIFIED".to_owned(), 1),
            ("PENDING".to_owned(), 1)
        ])
    );
    assert_eq!(all.data[2].application.as_deref(), Some("Bank"));
    let found = history::list(
        &mut db.conn(),
        &w.actor,
        &w.org,
        Whose::Organization,
        &page(Some("PRIVATE")),
    )
    .expect("search");
    assert_eq!(found.records_filtered, 1);
    assert_eq!(found.data[0].id, hidden.id);
    let bobs = history::list(
        &mut db.conn(),
        &w.actor,
        &w.org,
        Whose::EndUser(&bob),
        &page(None),
    )
    .expect("bob's");
    assert_eq!(bobs.data.len(), 1);
    assert_eq!(
        bobs.data[0].statuses,
        BTreeMap::from([("NO_DEVICE".to_owned(), 1)])
    );
    let anns = history::list(
        &mut db.conn(),
        &w.actor,
        &w.org,
        Whose::EndUser(&ann),
        &page(None),
    )
    .expect("ann's");
    assert_eq!(anns.records_total, 2);

    // One message in full; once its time is up, the expiry shows.
    let d =
        history::detail(&mut db.conn(), &w.clock, &w.actor, &w.org, &everyone.id).expect("detail");
    assert_eq!(d.sent_by.as_deref(), Some("ops@acme.example"));
    assert_eq!(d.external_identity.as_deref(), Some("Acme Bank"));
    assert!(d.enforce_secure_id && !d.unlisted);
    assert_eq!(
        d.attachment.as_ref().map(|a| a.name.as_str()),
        Some("Terms")
    );
    assert_eq!(
        statuses(&d),
        [
            ("ann".to_owned(), S::Notified),
            ("bob".to_owned(), S::NoDevice),
            ("cid".to_owned(), S::Pending)
        ]
    );
    assert!(d.evidences.is_empty());
    w.clock.advance(TimeDelta::seconds(601));
    let d =
        history::detail(&mut db.conn(), &w.clock, &w.actor, &w.org, &everyone.id).expect("detail");
    assert_eq!(
        statuses(&d),
        [
            ("ann".to_owned(), S::NotDownloaded),
            ("bob".to_owned(), S::NoDevice),
            ("cid".to_owned(), S::NotNotified)
        ]
    );
    assert!(d.completed_at.is_some());

    // The account history says who sent what.
    let entries = lanyard_identity::history::list(
        &mut db.conn(),
        &w.org,
        &lanyard_identity::history::Filter::default(),
        &page(Some("sent authentication message")),
    )
    .expect("history");
    assert_eq!(entries.records_filtered, 1, "{:?}", entries.data);

    // Tenancy and rights: another organization sees none of it; without the messages area the
    // history and sending are refused.
    let theirs = history::detail(
        &mut db.conn(),
        &w.clock,
        &other.actor,
        &other.org,
        &everyone.id,
    )
    .expect_err("not theirs");
    assert_eq!(theirs.code().as_str(), "NOT_FOUND");
    assert_eq!(
        history::list(
            &mut db.conn(),
            &other.actor,
            &other.org,
            Whose::Organization,
            &page(None)
        )
        .expect("list")
        .records_total,
        0
    );
    let mut no_messages = w.actor.clone();
    let mut rights = Rights::all();
    rights.grant(Area::Messages, VerbSet::NONE);
    no_messages.rights = rights;
    let refused = history::list(
        &mut db.conn(),
        &no_messages,
        &w.org,
        Whose::Organization,
        &page(None),
    )
    .expect_err("forbidden");
    assert_eq!(refused.code().as_str(), "FORBIDDEN");
    let refused = message::send_from_console(
        &mut db.conn(),
        &w.clock,
        &no_messages,
        &w.org,
        &w.sender.application_id,
        &form("message", "ann", "Hi", "")
            .check(&w.clock, &sent_by)
            .expect("valid"),
    )
    .expect_err("forbidden");
    assert_eq!(refused.code().as_str(), "FORBIDDEN");
}

both_backends!(console_messages_reach_phones_and_their_history);
