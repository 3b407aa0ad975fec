//! Customer accounts on both backends: required details, statuses and the actions they allow,
//! e-mails on disable and reactivate, irreversible deletion, scope.

use lanyard_core::{Email, FixedClock, PageRequest, SecretString};
use lanyard_identity::account::{self, NewAccount};
use lanyard_identity::admin::{self, Links, Registration, ScopeChoice};
use lanyard_identity::bootstrap::bootstrap;
use lanyard_identity::customer::{self, DetailsInput, Sort};
use lanyard_identity::{AccountKind, AccountStatus, IdentityError, api_token, history, profile};
use lanyard_store::both_backends;
use lanyard_store::testing::TestDb;

const STRONG: &str = "correct horse battery staple";

fn links() -> Links {
    Links {
        console: "https://admin.lanyard.test".into(),
        mail_domain: "lanyard.test".into(),
    }
}

fn details(manager: &str) -> DetailsInput {
    DetailsInput {
        manager: Some(manager.into()),
        city: Some("Budapest".into()),
        street: Some("Fő utca 1".into()),
        zip: Some("1011".into()),
        country: Some("Hungary".into()),
        contact_title: Some("Mrs".into()),
        contact_first_name: Some("Erzsébet".into()),
        contact_last_name: Some("Kovács".into()),
        contact_job_title: Some("Security manager".into()),
        vat_number: Some("HU12345678".into()),
        ..DetailsInput::default()
    }
}

/// A master key for deletions (which revoke the account's certificates and make new CRLs).
fn master() -> lanyard_pki::MasterKey {
    lanyard_pki::MasterKey::generate().expect("master key")
}

fn email(s: &str) -> Email {
    Email::parse(s).expect("email")
}

/// The newest mail of `template` to `to` (the test clock stands still, so several mails share a
/// time stamp: pick by template, not by order).
fn mail(db: &TestDb, to: &str, template: &str) -> lanyard_mail::Mail {
    lanyard_mail::recent_to(&mut db.conn(), to, 50)
        .expect("mails")
        .into_iter()
        .find(|m| m.template == template)
        .expect("a mail")
}

fn customer_accounts_live_through_their_statuses(db: &TestDb) {
    let clock = FixedClock::new(chrono::Utc::now());
    bootstrap(&mut db.conn(), &clock, None).expect("bootstrap");
    let dist = account::create(
        &mut db.conn(),
        &clock,
        NewAccount {
            kind: AccountKind::Distributor,
            name: "Dist".into(),
            contact_email: None,
            parent: None,
        },
    )
    .expect("distributor");
    let boss = admin::create_first(
        &mut db.conn(),
        &clock,
        &dist.id,
        &email("boss@dist.example"),
        "Boss Person",
        STRONG,
    )
    .expect("boss");
    let boss = admin::actor(&mut db.conn(), &boss.id).expect("actor");

    let mut missing = details("Mr Manager");
    missing.zip = None;
    let err = missing.parse().map(drop);
    assert!(
        matches!(err, Err(IdentityError::Invalid { field: "zip", .. })),
        "{err:?}"
    );

    let acme = customer::create(
        &mut db.conn(),
        &clock,
        &links(),
        &boss,
        AccountKind::Organization,
        "Acme",
        &email("main@acme.example"),
        &details("Mr Manager").parse().expect("valid"),
    )
    .expect("create");
    assert_eq!(acme.account.status, AccountStatus::Created);
    customer::create(
        &mut db.conn(),
        &clock,
        &links(),
        &boss,
        AccountKind::Distributor,
        "Beta Resale",
        &email("main@beta.example"),
        &details("Ms Other").parse().expect("valid"),
    )
    .expect("second");
    let page = customer::list(
        &mut db.conn(),
        &boss,
        Sort::Name,
        &PageRequest::new(None, None, Some("mr manager".into())).expect("page"),
    )
    .expect("list");
    assert_eq!((page.records_total, page.records_filtered), (2, 1));
    assert_eq!(page.data[0].account.name, "Acme");
    assert_eq!(page.data[0].details.contact_last_name, "Kovács");

    // A Created account cannot be disabled.
    assert!(matches!(
        customer::disable(&mut db.conn(), &clock, &links(), &boss, &acme.account.oid),
        Err(IdentityError::NotAllowed(_))
    ));

    // The main e-mail was invited; its activation activates the account.
    let invitation = mail(db, "main@acme.example", "admin_invitation").text;
    let start = invitation.find("register?code=").expect("link") + "register?code=".len();
    let code: String = invitation[start..]
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect();
    admin::register(
        &mut db.conn(),
        &clock,
        &links(),
        &Registration {
            code,
            email: email("main@acme.example"),
            password: SecretString::new(STRONG),
            full_name: "Main Admin".into(),
        },
    )
    .expect("register");
    let activation = mail(db, "main@acme.example", "admin_activation").text;
    let code = activation
        .split("your activation code is ")
        .nth(1)
        .expect("code")
        .split_whitespace()
        .next()
        .expect("code")
        .to_owned();
    admin::activate(
        &mut db.conn(),
        &clock,
        "main@acme.example",
        &code,
        "10.0.0.1",
    )
    .expect("activate");
    assert_eq!(
        account::get(&mut db.conn(), &acme.account.id)
            .expect("get")
            .status,
        AccountStatus::Activated
    );
    let token = api_token::create(&mut db.conn(), &clock, &acme.account.oid, "t").expect("token");

    let disabled = customer::disable(&mut db.conn(), &clock, &links(), &boss, &acme.account.oid)
        .expect("disable");
    assert_eq!(disabled.account.status, AccountStatus::Disabled);
    mail(db, "main@acme.example", "account_disabled");
    assert!(matches!(
        admin::login(&mut db.conn(), &clock, "main@acme.example", STRONG, "x"),
        Err(IdentityError::NotAllowed(_))
    ));
    assert_eq!(
        api_token::authenticate(&mut db.conn(), &clock, token.secret.expose()).expect("auth"),
        None
    );
    assert!(matches!(
        customer::disable(&mut db.conn(), &clock, &links(), &boss, &acme.account.oid),
        Err(IdentityError::NotAllowed(_))
    ));
    customer::reactivate(&mut db.conn(), &clock, &links(), &boss, &acme.account.oid)
        .expect("reactivate");
    mail(db, "main@acme.example", "account_reactivated");
    admin::login(&mut db.conn(), &clock, "main@acme.example", STRONG, "x").expect("login again");
    assert!(
        api_token::authenticate(&mut db.conn(), &clock, token.secret.expose())
            .expect("auth")
            .is_some()
    );

    let mut changed = details("New Manager");
    changed.city = Some("Szeged".into());
    let modified = customer::modify(
        &mut db.conn(),
        &clock,
        &boss,
        &acme.account.oid,
        "Acme Ltd",
        &changed.parse().expect("valid"),
    )
    .expect("modify");
    assert_eq!(
        (
            modified.account.name.as_str(),
            modified.details.city.as_str()
        ),
        ("Acme Ltd", "Szeged")
    );
    assert_eq!(
        modified.account.contact_email.as_deref(),
        Some("main@acme.example"),
        "the main e-mail never changes"
    );

    customer::delete(
        &mut db.conn(),
        &clock,
        &links(),
        &master(),
        &boss,
        &acme.account.oid,
    )
    .expect("delete");
    assert!(matches!(
        customer::get(&mut db.conn(), &boss, &acme.account.oid),
        Err(IdentityError::NotFound { .. })
    ));
    assert!(matches!(
        customer::reactivate(&mut db.conn(), &clock, &links(), &boss, &acme.account.oid),
        Err(IdentityError::NotFound { .. })
    ));
    assert!(matches!(
        admin::login(&mut db.conn(), &clock, "main@acme.example", STRONG, "x"),
        Err(IdentityError::NotAllowed(_))
    ));
    let page = customer::list(
        &mut db.conn(),
        &boss,
        Sort::Name,
        &PageRequest::new(None, None, None).expect("page"),
    )
    .expect("list");
    assert_eq!(page.records_total, 1);
    let actions: Vec<String> = history::list(
        &mut db.conn(),
        &dist.id,
        &Default::default(),
        &PageRequest::new(None, None, None).expect("page"),
    )
    .expect("history")
    .data
    .into_iter()
    .map(|e| e.action)
    .collect();
    for expected in [
        "New account created: Acme",
        "Account disabled : Acme",
        "Account reactivated : Acme",
        "Account updated : Acme Ltd",
        "Account deleted : Acme Ltd",
    ] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected} in {actions:?}"
        );
    }
}

fn an_administrator_scoped_to_one_organization_cannot_reach_another(db: &TestDb) {
    let clock = FixedClock::new(chrono::Utc::now());
    bootstrap(&mut db.conn(), &clock, None).expect("bootstrap");
    let dist = account::create(
        &mut db.conn(),
        &clock,
        NewAccount {
            kind: AccountKind::Distributor,
            name: "Dist".into(),
            contact_email: None,
            parent: None,
        },
    )
    .expect("distributor");
    let boss = admin::create_first(
        &mut db.conn(),
        &clock,
        &dist.id,
        &email("boss@dist.example"),
        "Boss Person",
        STRONG,
    )
    .expect("boss");
    let boss = admin::actor(&mut db.conn(), &boss.id).expect("actor");
    let a = customer::create(
        &mut db.conn(),
        &clock,
        &links(),
        &boss,
        AccountKind::Organization,
        "A",
        &email("a@a.example"),
        &details("M").parse().expect("valid"),
    )
    .expect("a");
    let b = customer::create(
        &mut db.conn(),
        &clock,
        &links(),
        &boss,
        AccountKind::Organization,
        "B",
        &email("b@b.example"),
        &details("M").parse().expect("valid"),
    )
    .expect("b");
    let builtin = profile::builtin(&mut db.conn(), &dist.id).expect("profile");
    let inv = admin::invite(
        &mut db.conn(),
        &clock,
        &links(),
        &boss,
        &dist.id,
        None,
        &builtin.id,
        &ScopeChoice::All,
    )
    .expect("invite");
    let scoped = admin::register(
        &mut db.conn(),
        &clock,
        &links(),
        &Registration {
            code: inv.code.expose().into(),
            email: email("scoped@dist.example"),
            password: SecretString::new(STRONG),
            full_name: "Scoped".into(),
        },
    )
    .expect("register");
    admin::set_profile_and_scope(
        &mut db.conn(),
        &clock,
        &boss,
        &scoped.id,
        &builtin.id,
        &ScopeChoice::Selected(vec![a.account.id.clone()]),
    )
    .expect("scope");
    let scoped = admin::actor(&mut db.conn(), &scoped.id).expect("actor");
    customer::get(&mut db.conn(), &scoped, &a.account.oid).expect("A is in scope");
    for attempt in [
        customer::get(&mut db.conn(), &scoped, &b.account.oid).map(drop),
        customer::modify(
            &mut db.conn(),
            &clock,
            &scoped,
            &b.account.oid,
            "Mine",
            &details("X").parse().expect("valid"),
        )
        .map(drop),
        customer::delete(
            &mut db.conn(),
            &clock,
            &links(),
            &master(),
            &scoped,
            &b.account.oid,
        ),
    ] {
        assert!(
            matches!(attempt, Err(IdentityError::NotFound { .. })),
            "{attempt:?}"
        );
    }
    assert_eq!(
        customer::get(&mut db.conn(), &boss, &b.account.oid)
            .expect("b")
            .account
            .name,
        "B"
    );
}

both_backends!(
    customer_accounts_live_through_their_statuses,
    an_administrator_scoped_to_one_organization_cannot_reach_another,
);
