//! Administrators, invitations, profiles, scope, passwords and history on both backends.

use lanyard_core::id::AccountId;
use lanyard_core::{Email, FixedClock, SecretString};
use lanyard_identity::account::{self, NewAccount};
use lanyard_identity::admin::{self, AdminStatus, Links, Registration, ScopeChoice};
use lanyard_identity::bootstrap::bootstrap;
use lanyard_identity::rights::{Actor, Area, Rights, Verb, VerbSet, authorize};
use lanyard_identity::{AccountKind, IdentityError, history, organization, profile, session};
use lanyard_store::both_backends;
use lanyard_store::testing::TestDb;

const STRONG: &str = "correct horse battery staple";

fn links() -> Links {
    Links {
        console: "https://admin.lanyard.test".into(),
        mail_domain: "lanyard.test".into(),
    }
}

fn clock() -> FixedClock {
    FixedClock::new(chrono::Utc::now())
}

fn email(s: &str) -> Email {
    Email::parse(s).expect("email")
}

struct World {
    clock: FixedClock,
    distributor: AccountId,
    org_a: AccountId,
    org_b: AccountId,
    boss: Actor,
}

fn world(db: &TestDb) -> World {
    let clock = clock();
    bootstrap(&mut db.conn(), &clock, None).expect("bootstrap");
    let distributor = account::create(
        &mut db.conn(),
        &clock,
        NewAccount {
            kind: AccountKind::Distributor,
            name: "Distributor".into(),
            contact_email: None,
            parent: None,
        },
    )
    .expect("distributor");
    let child = |name: &str| {
        account::create(
            &mut db.conn(),
            &clock,
            NewAccount {
                kind: AccountKind::Organization,
                name: name.into(),
                contact_email: None,
                parent: Some(distributor.oid.clone()),
            },
        )
        .expect("org")
        .id
    };
    let org_a = child("A");
    let org_b = child("B");
    let boss = admin::create_first(
        &mut db.conn(),
        &clock,
        &distributor.id,
        &email("boss@dist.example"),
        "Boss Person",
        STRONG,
    )
    .expect("first admin");
    let boss = admin::actor(&mut db.conn(), &boss.id).expect("actor");
    World {
        clock,
        distributor: distributor.id,
        org_a,
        org_b,
        boss,
    }
}

fn last_mail_text(db: &TestDb, to: &str) -> String {
    lanyard_mail::recent_to(&mut db.conn(), to, 1)
        .expect("mails")
        .pop()
        .expect("a mail")
        .text
}

fn code_after(text: &str, marker: &str) -> String {
    let start = text.find(marker).expect("marker") + marker.len();
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect()
}

fn register(
    db: &TestDb,
    w: &World,
    code: &str,
    to: &str,
) -> Result<admin::Administrator, IdentityError> {
    admin::register(
        &mut db.conn(),
        &w.clock,
        &links(),
        &Registration {
            code: code.into(),
            email: email(to),
            password: SecretString::new(STRONG),
            full_name: "New Admin".into(),
        },
    )
}

fn invited_by_code_registers_activates_and_logs_in(db: &TestDb) {
    let w = world(db);
    let builtin = profile::builtin(&mut db.conn(), &w.distributor).expect("profile");
    let inv = admin::invite(
        &mut db.conn(),
        &w.clock,
        &links(),
        &w.boss,
        &w.distributor,
        None,
        &builtin.id,
        &ScopeChoice::All,
    )
    .expect("invite");
    assert_eq!(inv.code.expose().len(), 24);
    let open = admin::open_invitations(&mut db.conn(), &w.clock, &w.distributor).expect("open");
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].handle, inv.handle);

    let new = register(db, &w, inv.code.expose(), "new@dist.example").expect("register");
    assert_eq!(new.status, AdminStatus::Invited);
    assert!(
        admin::open_invitations(&mut db.conn(), &w.clock, &w.distributor)
            .expect("open")
            .is_empty()
    );
    // The code is spent.
    assert!(matches!(
        register(db, &w, inv.code.expose(), "other@dist.example"),
        Err(IdentityError::Invalid { field: "code", .. })
    ));
    // Not active yet.
    assert!(matches!(
        admin::login(
            &mut db.conn(),
            &w.clock,
            "new@dist.example",
            STRONG,
            "127.0.0.1"
        ),
        Err(IdentityError::NotAllowed(_))
    ));
    let code = code_after(
        &last_mail_text(db, "new@dist.example"),
        "your activation code is ",
    );
    assert_eq!(code.len(), 10);
    assert!(
        admin::activate(
            &mut db.conn(),
            &w.clock,
            "new@dist.example",
            "wrongcode1",
            "10.0.0.1"
        )
        .is_err()
    );
    let active = admin::activate(
        &mut db.conn(),
        &w.clock,
        "NEW@dist.example",
        &code,
        "10.0.0.1",
    )
    .expect("activate");
    assert_eq!(active.status, AdminStatus::Active);
    assert!(
        admin::activate(
            &mut db.conn(),
            &w.clock,
            "new@dist.example",
            &code,
            "10.0.0.1"
        )
        .is_err(),
        "activation codes are once-only"
    );
    let logged = admin::login(
        &mut db.conn(),
        &w.clock,
        "new@dist.example",
        STRONG,
        "127.0.0.1",
    )
    .expect("login");
    assert_eq!(logged.id, new.id);
    // Expired invitations cannot be used.
    let inv2 = admin::invite(
        &mut db.conn(),
        &w.clock,
        &links(),
        &w.boss,
        &w.distributor,
        None,
        &builtin.id,
        &ScopeChoice::All,
    )
    .expect("invite");
    w.clock.advance(chrono::TimeDelta::hours(
        organization::DEFAULT_INVITATION_HOURS + 1,
    ));
    assert!(register(db, &w, inv2.code.expose(), "late@dist.example").is_err());
}

fn one_invitation_code_used_concurrently_registers_once(db: &TestDb) {
    let w = world(db);
    let builtin = profile::builtin(&mut db.conn(), &w.distributor).expect("profile");
    let inv = admin::invite(
        &mut db.conn(),
        &w.clock,
        &links(),
        &w.boss,
        &w.distributor,
        None,
        &builtin.id,
        &ScopeChoice::All,
    )
    .expect("invite");
    let code = inv.code.expose().to_owned();
    let results: Vec<bool> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let (w, code) = (&w, code.clone());
                s.spawn(move || register(db, w, &code, &format!("racer{i}@dist.example")).is_ok())
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    assert_eq!(results.iter().filter(|ok| **ok).count(), 1, "{results:?}");
    assert_eq!(
        admin::list(&mut db.conn(), &w.distributor)
            .expect("list")
            .len(),
        2
    );
}

fn invitation_by_email_lists_the_invited_administrator(db: &TestDb) {
    let w = world(db);
    let builtin = profile::builtin(&mut db.conn(), &w.distributor).expect("profile");
    let inv = admin::invite(
        &mut db.conn(),
        &w.clock,
        &links(),
        &w.boss,
        &w.distributor,
        Some(&email("Invitee@Dist.example")),
        &builtin.id,
        &ScopeChoice::All,
    )
    .expect("invite");
    let listed = admin::list(&mut db.conn(), &w.distributor).expect("list");
    let invited = listed
        .iter()
        .find(|a| a.email == "invitee@dist.example")
        .expect("listed");
    assert_eq!(invited.status, AdminStatus::Invited);
    let text = last_mail_text(db, "Invitee@dist.example");
    assert!(text.contains(inv.code.expose()), "{text}");
    assert!(text.contains("https://admin.lanyard.test/console/register?code="));
    assert!(matches!(
        register(db, &w, inv.code.expose(), "someone-else@dist.example"),
        Err(IdentityError::Invalid { field: "email", .. })
    ));
}

fn wrong_codes_and_passwords_are_rate_limited(db: &TestDb) {
    let w = world(db);
    for _ in 0..admin::LOGIN_FAILURES.max {
        assert!(matches!(
            admin::login(
                &mut db.conn(),
                &w.clock,
                "boss@dist.example",
                "wrong password here",
                "10.0.0.1"
            ),
            Err(IdentityError::Forbidden(_))
        ));
    }
    // Locked out now, even with the right password.
    assert!(matches!(
        admin::login(
            &mut db.conn(),
            &w.clock,
            "boss@dist.example",
            STRONG,
            "10.0.0.1"
        ),
        Err(IdentityError::RateLimited { .. })
    ));
    w.clock.advance(chrono::TimeDelta::minutes(16));
    admin::login(
        &mut db.conn(),
        &w.clock,
        "boss@dist.example",
        STRONG,
        "10.0.0.1",
    )
    .expect("after the window");
    // Unknown login names fail the same way.
    assert!(matches!(
        admin::login(
            &mut db.conn(),
            &w.clock,
            "nobody@dist.example",
            STRONG,
            "10.0.0.1"
        ),
        Err(IdentityError::Forbidden(_))
    ));
    for _ in 0..5 {
        let _ = admin::activate(
            &mut db.conn(),
            &w.clock,
            "boss@dist.example",
            "guess12345",
            "10.0.0.1",
        );
    }
    assert!(matches!(
        admin::activate(
            &mut db.conn(),
            &w.clock,
            "boss@dist.example",
            "guess12345",
            "10.0.0.1"
        ),
        Err(IdentityError::RateLimited { .. })
    ));
    let history = history::list(
        &mut db.conn(),
        &w.distributor,
        &Default::default(),
        &lanyard_core::PageRequest::new(None, None, Some("failed login".into())).expect("page"),
    )
    .expect("history");
    assert_eq!(history.records_filtered, admin::LOGIN_FAILURES.max);
}

fn password_reset_and_email_change_links_work_once(db: &TestDb) {
    let w = world(db);
    admin::request_password_reset(&mut db.conn(), &w.clock, &links(), "boss@dist.example")
        .expect("request");
    admin::request_password_reset(&mut db.conn(), &w.clock, &links(), "nobody@dist.example")
        .expect("no enumeration");
    let token = code_after(
        &last_mail_text(db, "boss@dist.example"),
        "reset-password?token=",
    );
    let new_password = "tükörfúrógép hajnali kávé";
    assert!(
        admin::reset_password(&mut db.conn(), &w.clock, &token, "password").is_err(),
        "policy applies"
    );
    admin::reset_password(&mut db.conn(), &w.clock, &token, new_password).expect("reset");
    assert!(
        admin::reset_password(&mut db.conn(), &w.clock, &token, new_password).is_err(),
        "links are once-only"
    );
    assert!(admin::login(&mut db.conn(), &w.clock, "boss@dist.example", STRONG, "x").is_err());
    let boss = admin::login(
        &mut db.conn(),
        &w.clock,
        "boss@dist.example",
        new_password,
        "x",
    )
    .expect("login");

    admin::change_password(
        &mut db.conn(),
        &w.clock,
        &boss.id,
        new_password,
        STRONG,
        None,
    )
    .expect("change");
    assert!(matches!(
        admin::change_password(
            &mut db.conn(),
            &w.clock,
            &boss.id,
            "not the current one",
            STRONG,
            None
        ),
        Err(IdentityError::Invalid {
            field: "currentPassword",
            ..
        })
    ));

    admin::request_email_change(
        &mut db.conn(),
        &w.clock,
        &links(),
        &boss.id,
        STRONG,
        &email("chief@dist.example"),
    )
    .expect("request");
    let token = code_after(
        &last_mail_text(db, "chief@dist.example"),
        "confirm-email?token=",
    );
    let changed = admin::confirm_email_change(&mut db.conn(), &w.clock, &token).expect("confirm");
    assert_eq!(changed.email, "chief@dist.example");
    assert!(admin::confirm_email_change(&mut db.conn(), &w.clock, &token).is_err());
    admin::login(&mut db.conn(), &w.clock, "chief@dist.example", STRONG, "x").expect("new login");
}

fn profiles_and_scope_limit_what_an_administrator_may_do(db: &TestDb) {
    let w = world(db);
    let mut rights = Rights::default();
    rights.grant(
        Area::EndUsers,
        VerbSet::NONE.with(Verb::View).with(Verb::Edit),
    );
    rights.grant(
        Area::Administrators,
        VerbSet::NONE.with(Verb::View).with(Verb::Create),
    );
    let helpdesk = profile::create(
        &mut db.conn(),
        &w.clock,
        &w.boss,
        &w.distributor,
        "Helpdesk",
        &rights,
    )
    .expect("profile");
    assert!(matches!(
        profile::create(
            &mut db.conn(),
            &w.clock,
            &w.boss,
            &w.distributor,
            "Helpdesk",
            &rights
        ),
        Err(IdentityError::Duplicate(_))
    ));
    let inv = admin::invite(
        &mut db.conn(),
        &w.clock,
        &links(),
        &w.boss,
        &w.distributor,
        None,
        &helpdesk.id,
        &ScopeChoice::All,
    )
    .expect("invite");
    // A code carries no selection of organizations: the scope is limited after registration.
    assert!(matches!(
        admin::invite(
            &mut db.conn(),
            &w.clock,
            &links(),
            &w.boss,
            &w.distributor,
            None,
            &helpdesk.id,
            &ScopeChoice::Selected(vec![w.org_a.clone()])
        ),
        Err(IdentityError::Invalid { field: "scope", .. })
    ));
    let helper = register(db, &w, inv.code.expose(), "helper@dist.example").expect("register");
    // The registered administrator got the invitation's profile; its scope is set by the boss.
    let helper = admin::set_profile_and_scope(
        &mut db.conn(),
        &w.clock,
        &w.boss,
        &helper.id,
        &helpdesk.id,
        &ScopeChoice::Selected(vec![w.org_a.clone()]),
    )
    .expect("scope");
    let code = code_after(
        &last_mail_text(db, "helper@dist.example"),
        "your activation code is ",
    );
    admin::activate(
        &mut db.conn(),
        &w.clock,
        "helper@dist.example",
        &code,
        "10.0.0.1",
    )
    .expect("activate");
    let actor = admin::actor(&mut db.conn(), &helper.id).expect("actor");

    authorize(&mut db.conn(), &actor, Area::EndUsers, Verb::Edit, &w.org_a)
        .expect("in scope, allowed");
    assert!(matches!(
        authorize(
            &mut db.conn(),
            &actor,
            Area::EndUsers,
            Verb::Delete,
            &w.org_a
        ),
        Err(IdentityError::Forbidden(_))
    ));
    assert!(
        matches!(
            authorize(&mut db.conn(), &actor, Area::EndUsers, Verb::View, &w.org_b),
            Err(IdentityError::NotFound { .. })
        ),
        "organization B is invisible"
    );
    authorize(
        &mut db.conn(),
        &w.boss,
        Area::EndUsers,
        Verb::Delete,
        &w.org_b,
    )
    .expect("the boss reaches the whole subtree");

    // It cannot hand out more than it has, nor change itself.
    let builtin = profile::builtin(&mut db.conn(), &w.distributor).expect("builtin");
    assert!(matches!(
        admin::invite(
            &mut db.conn(),
            &w.clock,
            &links(),
            &actor,
            &w.distributor,
            None,
            &builtin.id,
            &ScopeChoice::All
        ),
        Err(IdentityError::Forbidden(_))
    ));
    assert!(matches!(
        admin::set_profile_and_scope(
            &mut db.conn(),
            &w.clock,
            &w.boss,
            w.boss.administrator.as_ref().expect("id"),
            &helpdesk.id,
            &ScopeChoice::All
        ),
        Err(IdentityError::NotAllowed(_))
    ));
    // A profile in use cannot be deleted; the built-in one never.
    assert!(matches!(
        profile::delete(
            &mut db.conn(),
            &w.clock,
            &w.boss,
            &w.distributor,
            &helpdesk.id
        ),
        Err(IdentityError::NotAllowed(_))
    ));
    assert!(matches!(
        profile::delete(
            &mut db.conn(),
            &w.clock,
            &w.boss,
            &w.distributor,
            &builtin.id
        ),
        Err(IdentityError::NotAllowed(_))
    ));
    // The boss is the last administrator holding every right.
    assert!(matches!(
        admin::delete(
            &mut db.conn(),
            &w.clock,
            &actor,
            w.boss.administrator.as_ref().expect("id")
        ),
        Err(IdentityError::Forbidden(_))
    ));
    admin::set_disabled(&mut db.conn(), &w.clock, &w.boss, &helper.id, true).expect("disable");
    assert!(admin::login(&mut db.conn(), &w.clock, "helper@dist.example", STRONG, "x").is_err());
    admin::set_disabled(&mut db.conn(), &w.clock, &w.boss, &helper.id, false).expect("reactivate");
    admin::delete(&mut db.conn(), &w.clock, &w.boss, &helper.id).expect("delete");
    profile::delete(
        &mut db.conn(),
        &w.clock,
        &w.boss,
        &w.distributor,
        &helpdesk.id,
    )
    .expect("unused now");
}

fn the_plan_limits_invitations(db: &TestDb) {
    let w = world(db);
    organization::assign_plan(&mut db.conn(), &w.clock, &w.distributor, "Free").expect("plan");
    let builtin = profile::builtin(&mut db.conn(), &w.distributor).expect("profile");
    // Free: 2 administrators; the boss is one, one invitation fits.
    admin::invite(
        &mut db.conn(),
        &w.clock,
        &links(),
        &w.boss,
        &w.distributor,
        None,
        &builtin.id,
        &ScopeChoice::All,
    )
    .expect("one fits");
    let err = admin::invite(
        &mut db.conn(),
        &w.clock,
        &links(),
        &w.boss,
        &w.distributor,
        None,
        &builtin.id,
        &ScopeChoice::All,
    )
    .expect_err("over the limit");
    assert_eq!(
        lanyard_core::Coded::code(&err),
        lanyard_core::ErrorCode::PricingLimitInvitation
    );
}

fn sessions_expire_and_rotate(db: &TestDb) {
    let w = world(db);
    let boss = w.boss.administrator.clone().expect("id");
    let (s1, t1) =
        session::start(&mut db.conn(), &w.clock, &boss, session::Stage::Complete).expect("start");
    assert_eq!(
        session::resume(&mut db.conn(), &w.clock, t1.expose())
            .expect("resume")
            .map(|s| s.id),
        Some(s1.id.clone())
    );
    let (_, t2) =
        session::start(&mut db.conn(), &w.clock, &boss, session::Stage::Password).expect("second");
    assert_ne!(t1.expose(), t2.expose());
    session::revoke(&mut db.conn(), &w.clock, &s1.id).expect("logout");
    assert_eq!(
        session::resume(&mut db.conn(), &w.clock, t1.expose()).expect("resume"),
        None
    );
    w.clock
        .advance(session::IDLE_TIMEOUT + chrono::TimeDelta::seconds(1));
    assert_eq!(
        session::resume(&mut db.conn(), &w.clock, t2.expose()).expect("resume"),
        None,
        "idle expiry"
    );
    assert_eq!(
        session::resume(&mut db.conn(), &w.clock, "forged").expect("resume"),
        None
    );
}

fn narrowing_a_profile_cannot_leave_the_account_without_a_full_administrator(db: &TestDb) {
    let w = world(db);
    let full = profile::create(
        &mut db.conn(),
        &w.clock,
        &w.boss,
        &w.distributor,
        "Full",
        &Rights::all(),
    )
    .expect("profile");
    let inv = admin::invite(
        &mut db.conn(),
        &w.clock,
        &links(),
        &w.boss,
        &w.distributor,
        None,
        &full.id,
        &ScopeChoice::All,
    )
    .expect("invite");
    let second = register(db, &w, inv.code.expose(), "second@dist.example").expect("register");
    let code = code_after(
        &last_mail_text(db, "second@dist.example"),
        "your activation code is ",
    );
    admin::activate(
        &mut db.conn(),
        &w.clock,
        "second@dist.example",
        &code,
        "10.0.0.1",
    )
    .expect("activate");
    admin::set_profile_and_scope(
        &mut db.conn(),
        &w.clock,
        &w.boss,
        &second.id,
        &full.id,
        &ScopeChoice::All,
    )
    .expect("full profile");
    let second_actor = admin::actor(&mut db.conn(), &second.id).expect("actor");
    // The boss is demoted: the second administrator, through "Full", still holds everything.
    let mut helpdesk = Rights::default();
    helpdesk.grant(Area::EndUsers, VerbSet::NONE.with(Verb::View));
    let small = profile::create(
        &mut db.conn(),
        &w.clock,
        &w.boss,
        &w.distributor,
        "Small",
        &helpdesk,
    )
    .expect("small");
    admin::set_profile_and_scope(
        &mut db.conn(),
        &w.clock,
        &second_actor,
        w.boss.administrator.as_ref().expect("id"),
        &small.id,
        &ScopeChoice::All,
    )
    .expect("demote the boss");
    assert!(matches!(
        profile::update(
            &mut db.conn(),
            &w.clock,
            &second_actor,
            &w.distributor,
            &full.id,
            "Full",
            &helpdesk
        ),
        Err(IdentityError::NotAllowed(_))
    ));
    assert!(
        profile::get(&mut db.conn(), &w.distributor, &full.id)
            .expect("unchanged")
            .rights
            .is_everything()
    );
}

fn plans_limit_end_users_and_only_the_operator_changes_them(db: &TestDb) {
    let w = world(db);
    organization::assign_plan(&mut db.conn(), &w.clock, &w.org_a, "Free").expect("plan");
    let token = Actor::api_token(w.org_a.clone(), "t");
    for i in 0..10 {
        let new = lanyard_identity::NewEndUser::parse(
            &format!("u{i}"),
            Some("u@example.com"),
            None,
            None,
            true,
        )
        .expect("valid");
        lanyard_identity::end_user::create(&mut db.conn(), &w.clock, &token, &w.org_a, new)
            .expect("within the plan");
    }
    let new = lanyard_identity::NewEndUser::parse("u10", Some("u@example.com"), None, None, true)
        .expect("valid");
    let err =
        lanyard_identity::end_user::create(&mut db.conn(), &w.clock, &token, &w.org_a, new.clone())
            .expect_err("over");
    assert_eq!(
        lanyard_core::Coded::code(&err),
        lanyard_core::ErrorCode::PricingLimitUsers
    );
    let limits = organization::PlanLimits {
        max_users: 11,
        max_admins: 2,
        days_of_activity_log: 1,
        max_devices_per_user: 20,
    };
    assert!(
        matches!(
            organization::update_plan(&mut db.conn(), &w.clock, &w.boss, "Free", limits),
            Err(IdentityError::Forbidden(_))
        ),
        "a distributor cannot"
    );
    let platform = account::platform(&mut db.conn()).expect("platform");
    let operator = admin::create_first(
        &mut db.conn(),
        &w.clock,
        &platform.id,
        &email("op@platform.example"),
        "Operator",
        STRONG,
    )
    .expect("op");
    let operator = admin::actor(&mut db.conn(), &operator.id).expect("actor");
    organization::update_plan(&mut db.conn(), &w.clock, &operator, "Free", limits)
        .expect("operator");
    // Security review, finding 11: a retention that would overflow a time span is refused with
    // the field named (it used to panic later, in the activity log).
    let endless = organization::PlanLimits {
        days_of_activity_log: i64::MAX / 2,
        ..limits
    };
    assert!(matches!(
        organization::update_plan(&mut db.conn(), &w.clock, &operator, "Free", endless),
        Err(IdentityError::Invalid {
            field: "daysOfActivityLog",
            ..
        })
    ));
    lanyard_identity::end_user::create(&mut db.conn(), &w.clock, &token, &w.org_a, new)
        .expect("room again");
}

fn an_organization_registers_itself_and_activates(db: &TestDb) {
    let w = world(db);
    let registered = admin::register_organization(
        &mut db.conn(),
        &w.clock,
        &links(),
        "Self Made Kft",
        &email("founder@selfmade.example"),
        STRONG,
        "Founder Person",
        "203.0.113.9",
    )
    .expect("register");
    assert_eq!(registered.status, AdminStatus::Invited);
    let org = account::get(&mut db.conn(), &registered.account).expect("org");
    assert_eq!(
        (org.kind, org.status),
        (
            AccountKind::Organization,
            lanyard_identity::AccountStatus::Created
        )
    );
    assert!(matches!(
        admin::register_organization(
            &mut db.conn(),
            &w.clock,
            &links(),
            "Again",
            &email("founder@selfmade.example"),
            STRONG,
            "Founder Person",
            "203.0.113.9"
        ),
        Err(IdentityError::Duplicate(_))
    ));
    assert!(matches!(
        admin::register_organization(
            &mut db.conn(),
            &w.clock,
            &links(),
            "",
            &email("x@selfmade.example"),
            STRONG,
            "X",
            "203.0.113.9"
        ),
        Err(IdentityError::Invalid {
            field: "organization",
            ..
        })
    ));
    let code = code_after(
        &last_mail_text(db, "founder@selfmade.example"),
        "your activation code is ",
    );
    admin::activate(
        &mut db.conn(),
        &w.clock,
        "founder@selfmade.example",
        &code,
        "10.0.0.1",
    )
    .expect("activate");
    assert_eq!(
        account::get(&mut db.conn(), &registered.account)
            .expect("org")
            .status,
        lanyard_identity::AccountStatus::Activated
    );
    admin::login(
        &mut db.conn(),
        &w.clock,
        "founder@selfmade.example",
        STRONG,
        "x",
    )
    .expect("login");
    // Registration is rate-limited per client address.
    let mut last = Ok(());
    for i in 0..6 {
        last = admin::register_organization(
            &mut db.conn(),
            &w.clock,
            &links(),
            "Spam",
            &email(&format!("s{i}@spam.example")),
            STRONG,
            "Spam Person",
            "198.51.100.1",
        )
        .map(drop);
    }
    assert!(
        matches!(last, Err(IdentityError::RateLimited { .. })),
        "{last:?}"
    );
}

fn the_look_of_the_console_is_inherited_value_by_value(db: &TestDb) {
    use lanyard_identity::branding::{self, Branding};
    let w = world(db);
    let platform = account::platform(&mut db.conn()).expect("platform");
    let operator = admin::create_first(
        &mut db.conn(),
        &w.clock,
        &platform.id,
        &email("op@platform.example"),
        "Operator",
        STRONG,
    )
    .expect("op");
    let operator = admin::actor(&mut db.conn(), &operator.id).expect("actor");
    branding::set(
        &mut db.conn(),
        &w.clock,
        &operator,
        &platform.id,
        &Branding::parse("#112233", "", "© Platform", "").expect("valid"),
    )
    .expect("platform");
    branding::set(
        &mut db.conn(),
        &w.clock,
        &w.boss,
        &w.distributor,
        &Branding::parse("#AABBCC", "#000000", "", "Badge\nFloor").expect("valid"),
    )
    .expect("distributor");
    let seen = branding::effective(&mut db.conn(), &w.org_a).expect("effective");
    assert_eq!(
        seen.header_color.as_deref(),
        Some("#aabbcc"),
        "the nearest ancestor wins"
    );
    assert_eq!(
        seen.copyright.as_deref(),
        Some("© Platform"),
        "unset values come from further up"
    );
    assert_eq!(
        seen.field_labels,
        Some(vec!["Badge".to_owned(), "Floor".to_owned()])
    );
    assert!(matches!(
        Branding::parse("red", "", "", ""),
        Err(IdentityError::Invalid {
            field: "headerColor",
            ..
        })
    ));
    assert!(
        matches!(
            branding::set(
                &mut db.conn(),
                &w.clock,
                &w.boss,
                &platform.id,
                &Branding::default()
            ),
            Err(IdentityError::NotFound { .. })
        ),
        "a distributor cannot restyle the platform"
    );
}

fn logos_are_checked_by_their_bytes_and_inherited(db: &TestDb) {
    use lanyard_identity::branding::{self, LogoSlot};
    let w = world(db);
    let png: &[u8] = include_bytes!("../fixtures/logo-150x40.png");
    let jpeg: &[u8] = include_bytes!("../fixtures/logo-140x140.jpg");
    let too_big: &[u8] = include_bytes!("../fixtures/logo-400x100.png");
    branding::set_logo(
        &mut db.conn(),
        &w.clock,
        &w.boss,
        &w.distributor,
        LogoSlot::Header,
        png,
    )
    .expect("a 150 × 40 PNG fits the header");
    branding::set_logo(
        &mut db.conn(),
        &w.clock,
        &w.boss,
        &w.distributor,
        LogoSlot::Footer,
        jpeg,
    )
    .expect("a 140 × 140 JPEG fits the footer");
    let seen = branding::effective_logo(&mut db.conn(), &w.org_a, LogoSlot::Header)
        .expect("effective")
        .expect("inherited from the distributor");
    assert_eq!(seen.owner, w.distributor);
    assert_eq!(
        (seen.content_type.as_str(), seen.width, seen.height),
        ("image/png", 150, 40)
    );
    assert_eq!(seen.data, png, "the stored bytes are the uploaded bytes");
    let versions = branding::effective_logo_versions(&mut db.conn(), &w.org_a).expect("versions");
    let slots: Vec<LogoSlot> = versions.iter().map(|(s, _, _)| *s).collect();
    assert_eq!(slots, vec![LogoSlot::Header, LogoSlot::Footer]);
    assert!(
        branding::effective_logo(&mut db.conn(), &w.org_a, LogoSlot::FooterCompany)
            .expect("effective")
            .is_none()
    );

    // Refusals name the field and the rule.
    for (data, rule) in [
        (too_big, "at most 304 × 96"),
        (b"GIF89a\x01\x00\x01\x00".as_slice(), "PNG or JPEG"),
        (b"".as_slice(), "choose"),
        (&png[..20], "readable"),
    ] {
        match branding::set_logo(
            &mut db.conn(),
            &w.clock,
            &w.boss,
            &w.org_a,
            LogoSlot::Header,
            data,
        ) {
            Err(IdentityError::Invalid {
                field: "logo",
                rule: r,
            }) => {
                assert!(r.contains(rule), "{r:?} should say {rule:?}");
            }
            other => panic!("expected a logo error, got {other:?}"),
        }
    }
    let huge = vec![0u8; branding::MAX_LOGO_BYTES + 1];
    assert!(matches!(
        branding::check_logo(LogoSlot::Header, &huge),
        Err(IdentityError::Invalid { field: "logo", .. })
    ));

    // The organization's own logo wins; removing it inherits again.
    branding::set_logo(
        &mut db.conn(),
        &w.clock,
        &w.boss,
        &w.org_a,
        LogoSlot::Header,
        jpeg,
    )
    .expect_err("140 px high does not fit the header box");
    let small_jpeg = jpeg; // 140 × 140 fits the footer
    branding::set_logo(
        &mut db.conn(),
        &w.clock,
        &w.boss,
        &w.org_a,
        LogoSlot::Footer,
        small_jpeg,
    )
    .expect("own footer logo");
    let own = branding::effective_logo(&mut db.conn(), &w.org_a, LogoSlot::Footer)
        .expect("effective")
        .expect("own");
    assert_eq!(own.owner, w.org_a);
    assert!(
        branding::remove_logo(
            &mut db.conn(),
            &w.clock,
            &w.boss,
            &w.org_a,
            LogoSlot::Footer
        )
        .expect("remove")
    );
    assert!(
        !branding::remove_logo(
            &mut db.conn(),
            &w.clock,
            &w.boss,
            &w.org_a,
            LogoSlot::Footer
        )
        .expect("remove twice")
    );
    let back = branding::effective_logo(&mut db.conn(), &w.org_a, LogoSlot::Footer)
        .expect("effective")
        .expect("inherited again");
    assert_eq!(back.owner, w.distributor);

    // Only administrators of the account (or above) may change it.
    let platform = account::platform(&mut db.conn()).expect("platform");
    assert!(matches!(
        branding::set_logo(
            &mut db.conn(),
            &w.clock,
            &w.boss,
            &platform.id,
            LogoSlot::Header,
            png
        ),
        Err(IdentityError::NotFound { .. })
    ));
    let history = history::list(
        &mut db.conn(),
        &w.org_a,
        &history::Filter::default(),
        &lanyard_core::PageRequest::new(None, None, None).expect("page"),
    );
    let texts: Vec<String> = history
        .expect("history")
        .data
        .iter()
        .map(|e| e.action.clone())
        .collect();
    assert!(
        texts.iter().any(|t| t == "Footer logo removed"),
        "{texts:?}"
    );
}

fn alerts_belong_to_their_session_and_are_bounded(db: &TestDb) {
    use session::AlertKind;
    let w = world(db);
    let boss = w.boss.administrator.clone().expect("id");
    let (s1, _) =
        session::start(&mut db.conn(), &w.clock, &boss, session::Stage::Complete).expect("start");
    let (s2, _) =
        session::start(&mut db.conn(), &w.clock, &boss, session::Stage::Complete).expect("start");
    session::record_alert(
        &mut db.conn(),
        &w.clock,
        &s1.id,
        AlertKind::Notice,
        "Saved.",
    )
    .expect("alert");
    session::record_alert(
        &mut db.conn(),
        &w.clock,
        &s1.id,
        AlertKind::Error,
        "Refused.",
    )
    .expect("alert");
    let seen = session::alerts(&mut db.conn(), &s1.id).expect("alerts");
    let texts: Vec<(&str, AlertKind)> = seen.iter().map(|a| (a.message.as_str(), a.kind)).collect();
    assert_eq!(
        texts,
        vec![
            ("Refused.", AlertKind::Error),
            ("Saved.", AlertKind::Notice)
        ],
        "newest first"
    );
    assert!(
        session::alerts(&mut db.conn(), &s2.id)
            .expect("alerts")
            .is_empty(),
        "another session of the same administrator has its own"
    );
    for i in 0..session::MAX_ALERTS + 5 {
        session::record_alert(
            &mut db.conn(),
            &w.clock,
            &s2.id,
            AlertKind::Notice,
            &format!("n{i}"),
        )
        .expect("alert");
    }
    let kept = session::alerts(&mut db.conn(), &s2.id).expect("alerts");
    assert_eq!(kept.len() as i64, session::MAX_ALERTS);
    assert_eq!(kept[0].message, format!("n{}", session::MAX_ALERTS + 4));
    session::clear_alerts(&mut db.conn(), &s1.id).expect("clear");
    assert_eq!(
        session::alert_count(&mut db.conn(), &s1.id).expect("count"),
        0
    );
    assert_eq!(
        session::alert_count(&mut db.conn(), &s2.id).expect("count"),
        session::MAX_ALERTS
    );
}

/// Security review, finding 7: wrong passwords and wrong activation codes from one client never
/// lock the owner, at another client, out.
fn a_stranger_cannot_lock_an_administrator_out(db: &TestDb) {
    let w = world(db);
    for _ in 0..=admin::LOGIN_FAILURES.max {
        let _ = admin::login(
            &mut db.conn(),
            &w.clock,
            "boss@dist.example",
            "a stranger's guess",
            "198.51.100.7",
        );
    }
    assert!(matches!(
        admin::login(
            &mut db.conn(),
            &w.clock,
            "boss@dist.example",
            STRONG,
            "198.51.100.7"
        ),
        Err(IdentityError::RateLimited { .. })
    ));
    admin::login(
        &mut db.conn(),
        &w.clock,
        "boss@dist.example",
        STRONG,
        "192.0.2.10",
    )
    .expect("the owner, elsewhere, logs in");

    let created = admin::invite(
        &mut db.conn(),
        &w.clock,
        &links(),
        &w.boss,
        &w.distributor,
        Some(&email("newbie@dist.example")),
        &profile::builtin(&mut db.conn(), &w.distributor)
            .expect("builtin")
            .id,
        &ScopeChoice::All,
    )
    .expect("invite");
    w.clock.advance(chrono::TimeDelta::seconds(1));
    register(db, &w, created.code.expose(), "newbie@dist.example").expect("registered");
    let code = code_after(
        &last_mail_text(db, "newbie@dist.example"),
        "your activation code is ",
    );
    for _ in 0..6 {
        let _ = admin::activate(
            &mut db.conn(),
            &w.clock,
            "newbie@dist.example",
            "GUESS12345",
            "198.51.100.7",
        );
    }
    admin::activate(
        &mut db.conn(),
        &w.clock,
        "newbie@dist.example",
        &code,
        "192.0.2.10",
    )
    .expect("the owner activates");
}

/// Security review, finding 6: a login code is its own kind (it activates nobody), lives 15
/// minutes, and dies when its administrator is disabled; activation only turns Invited into
/// Active.
fn login_codes_are_short_lived_and_die_with_a_disabled_administrator(db: &TestDb) {
    let w = world(db);
    let boss = w.boss.administrator.clone().expect("id");
    let send = || {
        // Mails are listed newest first: one second apart, the newest is this one.
        w.clock.advance(chrono::TimeDelta::seconds(1));
        admin::send_login_code(&mut db.conn(), &w.clock, &links(), &boss).expect("sent");
        code_after(
            &last_mail_text(db, "boss@dist.example"),
            "your login code is ",
        )
    };
    // Too late after 15 minutes.
    let code = send();
    w.clock.advance(chrono::TimeDelta::minutes(16));
    assert!(admin::check_login_code(&mut db.conn(), &w.clock, &boss, &code).is_err());
    // It is not an activation code.
    let code = send();
    assert!(admin::activate(&mut db.conn(), &w.clock, "boss@dist.example", &code, "x").is_err());
    admin::check_login_code(&mut db.conn(), &w.clock, &boss, &code).expect("a fresh code works");
    // A second full administrator disables the boss: the boss's outstanding code is dead, and
    // an old activation code does not bring it back.
    let second = admin::create_first(
        &mut db.conn(),
        &w.clock,
        &w.distributor,
        &email("second@dist.example"),
        "Second Boss",
        STRONG,
    )
    .expect("second");
    let second = admin::actor(&mut db.conn(), &second.id).expect("actor");
    let code = send();
    w.clock.advance(chrono::TimeDelta::seconds(1));
    admin::send_activation(&mut db.conn(), &w.clock, &links(), &boss).expect("activation code");
    let activation = code_after(
        &last_mail_text(db, "boss@dist.example"),
        "your activation code is ",
    );
    admin::set_disabled(&mut db.conn(), &w.clock, &second, &boss, true).expect("disabled");
    assert!(admin::check_login_code(&mut db.conn(), &w.clock, &boss, &code).is_err());
    assert!(
        admin::activate(
            &mut db.conn(),
            &w.clock,
            "boss@dist.example",
            &activation,
            "x"
        )
        .is_err()
    );
    assert_eq!(
        admin::get(&mut db.conn(), &boss).expect("boss").status,
        AdminStatus::Disabled
    );
}

both_backends!(
    a_stranger_cannot_lock_an_administrator_out,
    login_codes_are_short_lived_and_die_with_a_disabled_administrator,
    alerts_belong_to_their_session_and_are_bounded,
    logos_are_checked_by_their_bytes_and_inherited,
    the_look_of_the_console_is_inherited_value_by_value,
    an_organization_registers_itself_and_activates,
    plans_limit_end_users_and_only_the_operator_changes_them,
    narrowing_a_profile_cannot_leave_the_account_without_a_full_administrator,
    invited_by_code_registers_activates_and_logs_in,
    one_invitation_code_used_concurrently_registers_once,
    invitation_by_email_lists_the_invited_administrator,
    wrong_codes_and_passwords_are_rate_limited,
    password_reset_and_email_change_links_work_once,
    profiles_and_scope_limit_what_an_administrator_may_do,
    the_plan_limits_invitations,
    sessions_expire_and_rotate,
);
