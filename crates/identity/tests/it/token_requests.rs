//! API token requests on both backends: request → approval → collection exactly once.

use lanyard_core::{Email, FixedClock};
use lanyard_identity::account::{self, NewAccount};
use lanyard_identity::admin::{self, Links};
use lanyard_identity::bootstrap::bootstrap;
use lanyard_identity::customer::{self, DetailsInput};
use lanyard_identity::token_request::{self, RequestStatus};
use lanyard_identity::{AccountKind, IdentityError, api_token};
use lanyard_store::both_backends;
use lanyard_store::testing::TestDb;

const STRONG: &str = "correct horse battery staple";

fn email(s: &str) -> Email {
    Email::parse(s).expect("email")
}

fn a_token_is_requested_approved_and_collected_once(db: &TestDb) {
    let clock = FixedClock::new(chrono::Utc::now());
    let links = Links {
        console: "https://x.test".into(),
        mail_domain: "x.test".into(),
    };
    let booted = bootstrap(&mut db.conn(), &clock, None).expect("bootstrap");
    let operator = admin::create_first(
        &mut db.conn(),
        &clock,
        &booted.platform.id,
        &email("op@platform.example"),
        "Operator",
        STRONG,
    )
    .expect("op");
    let operator = admin::actor(&mut db.conn(), &operator.id).expect("actor");
    let mut distributors = Vec::new();
    for name in ["D1", "D2"] {
        let d = account::create(
            &mut db.conn(),
            &clock,
            NewAccount {
                kind: AccountKind::Distributor,
                name: name.into(),
                contact_email: None,
                parent: None,
            },
        )
        .expect("distributor");
        let boss = admin::create_first(
            &mut db.conn(),
            &clock,
            &d.id,
            &email(&format!("boss@{}.example", name.to_lowercase())),
            "Boss Person",
            STRONG,
        )
        .expect("boss");
        distributors.push(admin::actor(&mut db.conn(), &boss.id).expect("actor"));
    }
    let (d1, d2) = (&distributors[0], &distributors[1]);
    let details = DetailsInput {
        manager: Some("M".into()),
        city: Some("C".into()),
        street: Some("S".into()),
        zip: Some("1".into()),
        country: Some("HU".into()),
        contact_title: Some("Mr".into()),
        contact_first_name: Some("F".into()),
        contact_last_name: Some("L".into()),
        contact_job_title: Some("J".into()),
        ..DetailsInput::default()
    }
    .parse()
    .expect("valid");
    let acme = customer::create(
        &mut db.conn(),
        &clock,
        &links,
        d1,
        AccountKind::Organization,
        "Acme",
        &email("it@acme.example"),
        &details,
    )
    .expect("customer");

    assert!(matches!(
        token_request::request(
            &mut db.conn(),
            &clock,
            d1,
            &acme.account.oid,
            Some("api.acme.example"),
            "10.0.0.0/33"
        ),
        Err(IdentityError::Invalid {
            field: "ipAllowList",
            ..
        })
    ));
    assert!(
        matches!(
            token_request::request(&mut db.conn(), &clock, d2, &acme.account.oid, None, ""),
            Err(IdentityError::NotFound { .. })
        ),
        "another distributor's customer is invisible"
    );
    let asked = token_request::request(
        &mut db.conn(),
        &clock,
        d1,
        &acme.account.oid,
        Some("api.acme.example"),
        "10.0.0.0/8, 192.0.2.7",
    )
    .expect("request");
    assert_eq!(asked.status, RequestStatus::Requested);
    assert!(
        matches!(
            token_request::collect(&mut db.conn(), &clock, d1, &asked.id),
            Err(IdentityError::NotAllowed(_))
        ),
        "not approved yet"
    );
    assert!(
        matches!(
            token_request::decide(&mut db.conn(), &clock, d1, &asked.id, true),
            Err(IdentityError::Forbidden(_))
        ),
        "only the platform decides"
    );
    assert_eq!(
        token_request::list(&mut db.conn(), &operator)
            .expect("all")
            .len(),
        1
    );
    assert!(
        token_request::list(&mut db.conn(), d2)
            .expect("none")
            .is_empty()
    );
    token_request::decide(&mut db.conn(), &clock, &operator, &asked.id, true).expect("approve");
    assert!(matches!(
        token_request::decide(&mut db.conn(), &clock, &operator, &asked.id, false),
        Err(IdentityError::NotAllowed(_))
    ));
    assert!(matches!(
        token_request::collect(&mut db.conn(), &clock, d2, &asked.id),
        Err(IdentityError::NotFound { .. })
    ));

    // Four concurrent collections: one token.
    let collected: Vec<bool> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| token_request::collect(&mut db.conn(), &clock, d1, &asked.id).is_ok())
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    assert_eq!(
        collected.iter().filter(|ok| **ok).count(),
        1,
        "{collected:?}"
    );
    let tokens = api_token::list(&mut db.conn(), &acme.account.oid).expect("tokens");
    assert_eq!(tokens.len(), 1);
    let listed = token_request::list(&mut db.conn(), d1).expect("list");
    assert_eq!(listed[0].status, RequestStatus::Collected);

    let rejected = token_request::request(&mut db.conn(), &clock, d1, &acme.account.oid, None, "")
        .expect("request");
    token_request::decide(&mut db.conn(), &clock, &operator, &rejected.id, false).expect("reject");
    assert!(token_request::collect(&mut db.conn(), &clock, d1, &rejected.id).is_err());
}

both_backends!(a_token_is_requested_approved_and_collected_once);
