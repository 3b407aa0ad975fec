//! Identity on both backends: bootstrap, accounts, end users, aliases, tokens.

use lanyard_core::id::AccountId;
use lanyard_core::{Clock, Email, Oid, OidRoot, PageRequest, SystemClock};
use lanyard_identity::account::{self, NewAccount};
use lanyard_identity::bootstrap::bootstrap;
use lanyard_identity::rights::Actor;
use lanyard_identity::{AccountKind, Alias, EndUserChanges, IdentityError, NewEndUser};
use lanyard_identity::{alias, api_token, end_user};
use lanyard_store::both_backends;
use lanyard_store::testing::TestDb;
use std::collections::HashSet;

const CLOCK: &SystemClock = &SystemClock;

fn org(db: &TestDb, name: &str) -> AccountId {
    account::create(
        &mut db.conn(),
        CLOCK,
        NewAccount {
            kind: AccountKind::Organization,
            name: name.into(),
            contact_email: Some(Email::parse("admin@example.com").expect("email")),
            parent: None,
        },
    )
    .expect("organization")
    .id
}

fn token(account: &AccountId) -> Actor {
    Actor::api_token(account.clone(), "test")
}

fn setup(db: &TestDb) -> OidRoot {
    let root = OidRoot::parse("1.3.6.1.4.1.21528").expect("root");
    bootstrap(&mut db.conn(), CLOCK, Some(root.clone())).expect("bootstrap");
    root
}

fn new_user(alias: &str) -> NewEndUser {
    NewEndUser::parse(alias, Some("u@example.com"), Some("User"), None, true).expect("valid")
}

fn bootstrap_once_keeps_the_first_root(db: &TestDb) {
    let first = bootstrap(&mut db.conn(), CLOCK, None).expect("bootstrap");
    assert!(first.created);
    assert!(first.oid_root.as_str().starts_with("2.25."));
    assert_eq!(first.platform.kind, AccountKind::Platform);
    assert_eq!(first.platform.oid, first.oid_root.account(1));
    let again = bootstrap(
        &mut db.conn(),
        CLOCK,
        Some(OidRoot::parse("1.2.3").expect("root")),
    )
    .expect("second bootstrap");
    assert!(!again.created);
    assert_eq!(again.oid_root, first.oid_root);
    assert_eq!(again.platform.id, first.platform.id);
}

fn end_users_get_sequential_oids_under_the_root(db: &TestDb) {
    let root = setup(db);
    let a = org(db, "A");
    let u1 =
        end_user::create(&mut db.conn(), CLOCK, &token(&a), &a, new_user("user01")).expect("u1");
    let u2 =
        end_user::create(&mut db.conn(), CLOCK, &token(&a), &a, new_user("user02")).expect("u2");
    assert_eq!(u1.oid, root.end_user(1));
    assert_eq!(u2.oid, root.end_user(2));
    assert_eq!(u2.oid.short(), "3.3.2");
    let got = end_user::get(&mut db.conn(), &a, &u1.oid).expect("get");
    assert_eq!(got.primary_alias(), Some("user01"));
    assert_eq!(got.email.as_deref(), Some("u@example.com"));
    assert_eq!(got.created_at, u1.created_at);
}

fn a_taken_alias_leaves_nothing_behind(db: &TestDb) {
    setup(db);
    let a = org(db, "A");
    let b = org(db, "B");
    end_user::create(&mut db.conn(), CLOCK, &token(&a), &a, new_user("same")).expect("first");
    let err =
        end_user::create(&mut db.conn(), CLOCK, &token(&a), &a, new_user("same")).expect_err("dup");
    assert!(
        matches!(err, IdentityError::AliasTaken(ref s) if s == "same"),
        "{err:?}"
    );
    assert_eq!(end_user::count(&mut db.conn(), &a).expect("count"), 1);
    // Another organization may use the same alias.
    let other = end_user::create(&mut db.conn(), CLOCK, &token(&b), &b, new_user("same"))
        .expect("other org");
    // The failed attempt gave its OID number back.
    assert_eq!(other.oid.short(), "3.3.2");
}

fn aliases_add_list_find_and_delete(db: &TestDb) {
    setup(db);
    let a = org(db, "A");
    let u =
        end_user::create(&mut db.conn(), CLOCK, &token(&a), &a, new_user("primary")).expect("user");
    let second = Alias::parse("userId", "second").expect("alias");
    alias::add(&mut db.conn(), CLOCK, &token(&a), &a, &u.oid, &second).expect("add");
    let err = alias::add(&mut db.conn(), CLOCK, &token(&a), &a, &u.oid, &second).expect_err("dup");
    assert!(matches!(err, IdentityError::AliasTaken(_)));
    let names: Vec<String> = alias::list_for_user(&mut db.conn(), &a, &u.oid)
        .expect("list")
        .into_iter()
        .map(|l| l.alias)
        .collect();
    assert_eq!(names, ["primary", "second"]);
    assert_eq!(
        alias::find(&mut db.conn(), &a, "second").expect("find").oid,
        u.oid
    );
    assert!(matches!(
        alias::find(&mut db.conn(), &a, "nobody"),
        Err(IdentityError::NotFound { .. })
    ));
    assert!(matches!(
        alias::delete(&mut db.conn(), CLOCK, &token(&a), &a, &u.oid, "not-mine"),
        Err(IdentityError::NotFound { .. })
    ));
    alias::delete(&mut db.conn(), CLOCK, &token(&a), &a, &u.oid, "primary")
        .expect("delete primary");
    assert!(matches!(
        alias::delete(&mut db.conn(), CLOCK, &token(&a), &a, &u.oid, "second"),
        Err(IdentityError::LastAlias)
    ));
    let left = end_user::get(&mut db.conn(), &a, &u.oid).expect("get");
    assert_eq!(left.aliases, ["second"]);
}

fn another_organization_sees_nothing_and_changes_nothing(db: &TestDb) {
    setup(db);
    let a = org(db, "A");
    let b = org(db, "B");
    let u =
        end_user::create(&mut db.conn(), CLOCK, &token(&a), &a, new_user("mine")).expect("user");
    let not_found = |r: Result<(), IdentityError>| {
        assert!(matches!(r, Err(IdentityError::NotFound { .. })), "{r:?}");
    };
    not_found(end_user::get(&mut db.conn(), &b, &u.oid).map(drop));
    let changes = EndUserChanges::parse(Some("x@example.com"), None, None, Some(true)).expect("ok");
    not_found(end_user::update(&mut db.conn(), CLOCK, &token(&b), &b, &u.oid, changes).map(drop));
    not_found(end_user::delete(
        &mut db.conn(),
        CLOCK,
        &token(&b),
        &b,
        &u.oid,
    ));
    let extra = Alias::parse("userId", "stolen").expect("alias");
    not_found(alias::add(&mut db.conn(), CLOCK, &token(&b), &b, &u.oid, &extra).map(drop));
    not_found(alias::list_for_user(&mut db.conn(), &b, &u.oid).map(drop));
    not_found(alias::delete(
        &mut db.conn(),
        CLOCK,
        &token(&b),
        &b,
        &u.oid,
        "mine",
    ));
    not_found(alias::find(&mut db.conn(), &b, "mine").map(drop));
    assert_eq!(end_user::count(&mut db.conn(), &b).expect("count"), 0);
    let unchanged = end_user::get(&mut db.conn(), &a, &u.oid).expect("still there");
    assert_eq!(unchanged, u);
}

fn update_changes_only_given_fields_and_delete_removes_aliases(db: &TestDb) {
    setup(db);
    let a = org(db, "A");
    let u = end_user::create(
        &mut db.conn(),
        CLOCK,
        &token(&a),
        &a,
        NewEndUser::parse("u", Some("u@example.com"), Some("Old"), Some("123"), true).expect("ok"),
    )
    .expect("user");
    let changes =
        EndUserChanges::parse(Some("new@example.com"), None, Some(""), Some(true)).expect("ok");
    let changed =
        end_user::update(&mut db.conn(), CLOCK, &token(&a), &a, &u.oid, changes).expect("update");
    assert_eq!(changed.email.as_deref(), Some("new@example.com"));
    assert_eq!(changed.full_name.as_deref(), Some("Old"));
    assert_eq!(changed.phone_number, None);
    assert!(changed.disabled);
    end_user::delete(&mut db.conn(), CLOCK, &token(&a), &a, &u.oid).expect("delete");
    assert!(matches!(
        end_user::get(&mut db.conn(), &a, &u.oid),
        Err(IdentityError::NotFound { .. })
    ));
    // The alias is free again.
    end_user::create(&mut db.conn(), CLOCK, &token(&a), &a, new_user("u")).expect("alias reusable");
}

fn list_pages_and_searches(db: &TestDb) {
    setup(db);
    let a = org(db, "A");
    let b = org(db, "B");
    for i in 0..25 {
        let full_name = format!("Person {i:02}");
        let new = NewEndUser::parse(
            &format!("user{i:02}"),
            Some(&format!("p{i}@Example.com")),
            Some(&full_name),
            None,
            true,
        )
        .expect("valid");
        end_user::create(&mut db.conn(), CLOCK, &token(&a), &a, new).expect("user");
    }
    end_user::create(&mut db.conn(), CLOCK, &token(&b), &b, new_user("user99")).expect("other org");
    let page = end_user::list(
        &mut db.conn(),
        &a,
        &PageRequest::new(Some(10), Some(10), None).expect("page"),
    )
    .expect("list");
    assert_eq!((page.records_total, page.records_filtered), (25, 25));
    let aliases: Vec<&str> = page.data.iter().filter_map(|u| u.primary_alias()).collect();
    assert_eq!(aliases.first(), Some(&"user10"));
    assert_eq!(aliases.len(), 10);
    // Case-insensitive search over the alias, name and e-mail; wildcards are literal.
    let search = |text: &str| {
        end_user::list(
            &mut db.conn(),
            &a,
            &PageRequest::new(None, None, Some(text.into())).expect("page"),
        )
        .expect("search")
    };
    let hits = search("USER1");
    assert_eq!((hits.records_total, hits.records_filtered), (25, 10));
    assert_eq!(search("person 07").records_filtered, 1);
    assert_eq!(search("p7@example").records_filtered, 1);
    assert_eq!(search("user_").records_filtered, 0);
    assert_eq!(search("%").records_filtered, 0);
    assert_eq!(search("user99").records_filtered, 0);
    // Non-ASCII letters match regardless of case on both backends, and a later alias is found.
    let u = end_user::create(
        &mut db.conn(),
        CLOCK,
        &token(&a),
        &a,
        NewEndUser::parse(
            "kovacs",
            Some("k@example.com"),
            Some("Ádám Kovács"),
            None,
            true,
        )
        .expect("valid"),
    )
    .expect("user");
    assert_eq!(search("ádám kov").records_filtered, 1);
    assert_eq!(search("ÁDÁM").records_filtered, 1);
    let extra = Alias::parse("userId", "Second-Alias").expect("alias");
    alias::add(&mut db.conn(), CLOCK, &token(&a), &a, &u.oid, &extra).expect("add");
    assert_eq!(search("second-alias").records_filtered, 1);
    alias::delete(
        &mut db.conn(),
        CLOCK,
        &token(&a),
        &a,
        &u.oid,
        "Second-Alias",
    )
    .expect("delete");
    assert_eq!(search("second-alias").records_filtered, 0);
    let changes =
        EndUserChanges::parse(Some("new@example.com"), Some("Éva"), None, None).expect("ok");
    end_user::update(&mut db.conn(), CLOCK, &token(&a), &a, &u.oid, changes).expect("update");
    assert_eq!(search("ádám").records_filtered, 0);
    assert_eq!(search("éva").records_filtered, 1);
}

fn batches_walk_every_user_once(db: &TestDb) {
    setup(db);
    let a = org(db, "A");
    for i in 0..7 {
        end_user::create(
            &mut db.conn(),
            CLOCK,
            &token(&a),
            &a,
            new_user(&format!("u{i}")),
        )
        .expect("user");
    }
    let mut seen = Vec::new();
    let mut after = 0;
    loop {
        let (batch, last) = end_user::batch_after(&mut db.conn(), &a, after, 3).expect("batch");
        let Some(last) = last else { break };
        seen.extend(batch.into_iter().map(|u| u.aliases[0].clone()));
        after = last;
    }
    assert_eq!(seen, (0..7).map(|i| format!("u{i}")).collect::<Vec<_>>());
}

fn concurrent_creation_never_reuses_an_oid(db: &TestDb) {
    setup(db);
    let a = org(db, "A");
    let oids: Vec<Oid> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let a = &a;
                s.spawn(move || {
                    (0..10)
                        .map(|i| {
                            end_user::create(
                                &mut db.conn(),
                                CLOCK,
                                &token(a),
                                a,
                                new_user(&format!("t{t}-{i}")),
                            )
                            .expect("create")
                            .oid
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("thread"))
            .collect()
    });
    let distinct: HashSet<&Oid> = oids.iter().collect();
    assert_eq!(distinct.len(), 80);
    assert_eq!(end_user::count(&mut db.conn(), &a).expect("count"), 80);
}

fn tokens_authenticate_until_revoked(db: &TestDb) {
    setup(db);
    let a = org(db, "A");
    let a_oid = account::get(&mut db.conn(), &a).expect("account").oid;
    let created = api_token::create(&mut db.conn(), CLOCK, &a_oid, "ci").expect("token");
    let secret = created.secret.expose().to_owned();
    assert!(secret.starts_with("lyd_") && secret.len() == 44);
    assert!(!format!("{created:?}").contains(&secret));
    let owner = api_token::authenticate(&mut db.conn(), CLOCK, &secret)
        .expect("auth")
        .expect("valid");
    assert_eq!(owner.account_id, a);
    assert_eq!(
        api_token::authenticate(&mut db.conn(), CLOCK, "lyd_wrong").expect("auth"),
        None
    );
    let listed = api_token::list(&mut db.conn(), &a_oid).expect("list");
    assert_eq!(listed.len(), 1);
    assert!(listed[0].last_used_at.is_some());
    assert!(secret.starts_with(&listed[0].prefix));
    api_token::revoke(&mut db.conn(), CLOCK, created.token.id.as_str()).expect("revoke");
    assert_eq!(
        api_token::authenticate(&mut db.conn(), CLOCK, &secret).expect("auth"),
        None
    );
    let platform = account::platform(&mut db.conn()).expect("platform");
    assert!(matches!(
        api_token::create(&mut db.conn(), CLOCK, &platform.oid, "x"),
        Err(IdentityError::Invalid {
            field: "account",
            ..
        })
    ));
    let _ = CLOCK.now();
}

both_backends!(
    bootstrap_once_keeps_the_first_root,
    end_users_get_sequential_oids_under_the_root,
    a_taken_alias_leaves_nothing_behind,
    aliases_add_list_find_and_delete,
    another_organization_sees_nothing_and_changes_nothing,
    update_changes_only_given_fields_and_delete_removes_aliases,
    list_pages_and_searches,
    batches_walk_every_user_once,
    concurrent_creation_never_reuses_an_oid,
    tokens_authenticate_until_revoked,
);
