//! The enrollment steps of the device protocol over HTTP, on SQLite and PostgreSQL.

use actix_web::http::{Method, StatusCode};
use lanyard_core::Oid;
use lanyard_core::SystemClock;
use lanyard_enrollment::enrollment::{self, Holder, Links};
use lanyard_identity::end_user::{self, NewEndUser};
use lanyard_identity::rights::Actor;
use lanyard_web::http_tests;
use lanyard_web::testing::{TestApp, TestOrg};
use serde_json::{Value, json};

const DEVICE_API: &str = "https://127.0.0.1:7403";

/// A new end user `alias` of `org` and a new enrollment link of theirs.
fn person_with_link(
    app: &TestApp,
    org: &TestOrg,
    alias: &str,
    name: Option<&str>,
) -> (Oid, String) {
    let actor = Actor::api_token(org.id.clone(), "t");
    let mut conn = app.db.conn();
    let email = format!("{alias}@acme.example");
    let user = end_user::create(
        &mut conn,
        &SystemClock,
        &actor,
        &org.id,
        NewEndUser::parse(alias, Some(&email), name, None, true).expect("valid"),
    )
    .expect("user");
    let links = Links {
        device_api: DEVICE_API,
        master: &app.master_key,
        mail_domain: "lanyard.test",
    };
    let url = enrollment::create(
        &mut conn,
        &SystemClock,
        &actor,
        &org.id,
        Holder::User(&user.oid),
        links,
    )
    .expect("enrollment")
    .device_config_url;
    (user.oid, url)
}

/// The secret of an enrollment link (its last path segment).
fn secret_of(url: &str) -> String {
    url.rsplit('/')
        .next()
        .and_then(|t| t.split('?').next())
        .expect("secret")
        .to_owned()
}

fn csr() -> String {
    let key = lanyard_pki::generate_key(lanyard_pki::KeySpec::EcP256).expect("key");
    let mut req = openssl::x509::X509ReqBuilder::new().expect("req");
    req.set_pubkey(&key).expect("pubkey");
    req.sign(&key, openssl::hash::MessageDigest::sha256())
        .expect("sign");
    String::from_utf8(req.build().to_pem().expect("pem")).expect("utf-8")
}

fn assert_error(got: &(StatusCode, Value), code: &str, says: &str) {
    assert_eq!(got.0.as_u16(), 420, "{got:?}");
    assert_eq!(got.1["code"], code, "{got:?}");
    assert!(
        got.1["message"].as_str().is_some_and(|m| m.contains(says)),
        "{got:?} should say {says:?}"
    );
}

async fn a_phone_opens_the_link_and_enrolls_once(app: TestApp) {
    let org = app.org("Acme");
    let (_, url) = person_with_link(&app, &org, "gil", Some("Gil"));
    let path = url
        .strip_prefix(DEVICE_API)
        .expect("device-api link")
        .to_owned();
    let secret = secret_of(&path);

    let (status, config) = app.call(Method::GET, &path, None, None).await;
    assert_eq!(status, StatusCode::OK, "{config}");
    assert_eq!(config["organization"]["oid"], org.oid.to_string());
    assert_eq!(config["person"], json!({"name": "Gil", "id": "gil"}));
    assert_eq!(config["trustChain"].as_array().map(Vec::len), Some(2));
    assert!(
        config["enrollUrl"]
            .as_str()
            .is_some_and(|u| u.ends_with("/enroll"))
    );
    let elsewhere = path.replace(&org.oid.to_string(), "1.2.3");
    let (status, _) = app.call(Method::GET, &elsewhere, None, None).await;
    assert_eq!(status.as_u16(), 420, "the link belongs to its organization");

    let body = |csr: String, device_type: &str| {
        json!({"secret": secret, "deviceName": "Gil's phone", "vendorId": "v-1", "deviceType": device_type,
               "appVersion": "1.0.0", "csr": csr})
    };
    assert_error(
        &app.call(
            Method::POST,
            "/enroll",
            None,
            Some(body("junk".into(), "OTHER")),
        )
        .await,
        "MALFORMED_INPUT",
        "csr",
    );
    assert_error(
        &app.call(Method::POST, "/enroll", None, Some(body(csr(), "PALM")))
            .await,
        "MALFORMED_INPUT",
        "deviceType",
    );
    let (status, enrolled) = app
        .call(Method::POST, "/enroll", None, Some(body(csr(), "ANDROID")))
        .await;
    assert_eq!(status, StatusCode::OK, "{enrolled}");
    assert!(
        enrolled["certificateChain"]
            .as_str()
            .is_some_and(|c| c.matches("BEGIN CERTIFICATE").count() == 2)
    );
    assert_eq!(
        enrolled["deactivationCode"].as_str().map(str::len),
        Some(12)
    );
    assert_error(
        &app.call(Method::POST, "/enroll", None, Some(body(csr(), "ANDROID")))
            .await,
        "NOT_ALLOWED",
        "already used",
    );
    assert_error(
        &app.call(Method::GET, &path, None, None).await,
        "NOT_ALLOWED",
        "already used",
    );
}

/// Gil's phone, enrolled with the link `url` (as device-api's enroll step does it).
fn gils_phone(app: &TestApp, url: &str) -> lanyard_enrollment::device::Enrolled {
    lanyard_enrollment::device::enroll(
        &mut app.db.conn(),
        &SystemClock,
        &app.master_key,
        &secret_of(url),
        &lanyard_enrollment::device::DeviceRequest {
            name: "Gil's phone".into(),
            vendor_id: "v-1".into(),
            device_type: lanyard_enrollment::device::DeviceType::Other,
            app_version: "1.0".into(),
            push_registration: None,
            csr: csr().into_bytes(),
        },
        lanyard_enrollment::device::Service {
            crl_base: "https://127.0.0.1:7401",
            device_api: DEVICE_API,
            mail_domain: "lanyard.test",
        },
    )
    .expect("enroll")
}

/// The value of hidden input `name` in a page.
fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker).map(|i| i + marker.len()).expect(name);
    page[start..].split('"').next().expect("value").to_owned()
}

async fn get_page(app: &TestApp, path: &str) -> (StatusCode, String) {
    get_page_from(app, None, path).await
}

/// A client whose connections come from `address` (another loopback address: another client of
/// the page, as far as the server can tell).
fn client_from(address: &str) -> awc::Client {
    awc::Client::builder()
        .connector(awc::Connector::new().local_address(address.parse().expect("address")))
        .timeout(std::time::Duration::from_secs(60))
        .finish()
}

async fn get_page_from(
    app: &TestApp,
    client: Option<&awc::Client>,
    path: &str,
) -> (StatusCode, String) {
    let request = match client {
        Some(c) => c.get(app.server.url(path)),
        None => app.request(Method::GET, path, None),
    };
    let mut response = request.send().await.expect("get");
    let body = response.body().await.expect("body");
    (
        response.status(),
        String::from_utf8_lossy(&body).into_owned(),
    )
}

/// Posts the form as the page's script does: the proof of work solved (or not).
async fn post_form(
    app: &TestApp,
    page: &str,
    organization: &str,
    code: &str,
    solve: bool,
) -> (StatusCode, String) {
    post_form_from(app, None, page, (organization, code), solve).await
}

async fn post_form_from(
    app: &TestApp,
    client: Option<&awc::Client>,
    page: &str,
    (organization, code): (&str, &str),
    solve: bool,
) -> (StatusCode, String) {
    let challenge = hidden(page, "challenge");
    let nonce = if solve {
        lanyard_enrollment::human_check::solve(
            &challenge,
            lanyard_enrollment::human_check::DIFFICULTY,
        )
        .to_string()
    } else {
        String::new()
    };
    let form = [
        ("organization", organization.to_owned()),
        ("code", code.to_owned()),
        ("challenge", challenge),
        ("signature", hidden(page, "signature")),
        ("difficulty", hidden(page, "difficulty")),
        ("nonce", nonce),
    ];
    let request = match client {
        Some(c) => c.post(app.server.url("/deactivate")),
        None => app.request(Method::POST, "/deactivate", None),
    };
    let mut response = request.send_form(&form).await.expect("post");
    let body = response.body().await.expect("body");
    (
        response.status(),
        String::from_utf8_lossy(&body).into_owned(),
    )
}

async fn a_lost_phone_is_deactivated_on_the_self_service_page(app: TestApp) {
    let org = app.org("Acme");
    let (_, url) = person_with_link(&app, &org, "gil", Some("Gil"));
    let (code, der) = {
        let enrolled = gils_phone(&app, &url);
        let der = openssl::x509::X509::stack_from_pem(enrolled.certificate_chain.as_bytes())
            .expect("chain")[0]
            .to_der()
            .expect("der");
        (enrolled.deactivation_code, der)
    };
    // The letter's link names the organization; the page fills it in, with a fresh challenge.
    let mails = lanyard_mail::recent_to(&mut app.db.conn(), "gil@acme.example", 1).expect("mail");
    let link = format!("https://127.0.0.1:7403/deactivate?organization={}", org.oid);
    assert!(mails[0].text.contains(&link), "{}", mails[0].text);
    assert!(mails[0].text.contains(&code));
    let path = format!("/deactivate?organization={}", org.oid);
    let (status, page) = get_page(&app, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(&format!("value=\"{}\"", org.oid)), "{page}");
    let (status, script) = get_page(&app, "/deactivate.js").await;
    assert_eq!(status, StatusCode::OK);
    assert!(script.contains("crypto.subtle.digest"));

    // Without the proof of work: refused before the code is even looked at.
    let (status, answer) = post_form(&app, &page, &org.oid.to_string(), &code, false).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(answer.contains("human check"), "{answer}");
    // A wrong code: refused, and the form comes back with a new challenge.
    let (status, answer) = post_form(&app, &page, &org.oid.to_string(), "WRONGCODE123", true).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(answer.contains("not valid"), "{answer}");
    assert_ne!(hidden(&answer, "challenge"), hidden(&page, "challenge"));
    let authenticated = |der: &[u8]| {
        lanyard_enrollment::device::authenticate_certificate(
            &mut app.db.conn(),
            &SystemClock,
            der,
            None,
        )
        .expect("auth")
        .is_some()
    };
    assert!(authenticated(&der));
    // The right code deactivates the phone: its certificate no longer authenticates.
    let (status, answer) = post_form(&app, &answer, &org.oid.to_string(), &code, true).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(
        answer.contains("Gil&#x27;s phone") || answer.contains("Gil's phone"),
        "{answer}"
    );
    assert!(answer.contains("is deactivated"));
    assert!(!authenticated(&der));

    // Guessing is rate limited per address: after 20 failures, even a solved form gets 429.
    let mut last = StatusCode::OK;
    let mut page = get_page(&app, &path).await.1;
    for _ in 0..21 {
        let (status, answer) = post_form(&app, &page, "2.25.1", "GUESS", true).await;
        last = status;
        if status == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
        page = answer;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
}

/// Twenty phones race for one enrollment over HTTP: exactly one device is made, the others are
/// told the enrollment was used, and the enrollment is USED.
async fn twenty_concurrent_requests_make_one_device(app: TestApp) {
    let org = app.org("Acme");
    let actor = Actor::api_token(org.id.clone(), "t");
    let links = Links {
        device_api: DEVICE_API,
        master: &app.master_key,
        mail_domain: "lanyard.test",
    };
    let (oid, url) = person_with_link(&app, &org, "ria", None);
    let secret = secret_of(&url);
    let bodies: Vec<Value> = (0..20)
        .map(|i| {
            json!({"secret": secret, "deviceName": format!("phone {i}"), "vendorId": format!("v-{i}"),
                   "deviceType": "OTHER", "appVersion": "1.0.0", "csr": csr()})
        })
        .collect();
    let answers = futures_util::future::join_all(
        bodies
            .into_iter()
            .map(|b| app.call(Method::POST, "/enroll", None, Some(b))),
    )
    .await;
    let ok = answers.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert_eq!(ok, 1, "{answers:?}");
    for refused in answers.iter().filter(|(s, _)| *s != StatusCode::OK) {
        assert_error(refused, "NOT_ALLOWED", "already used");
    }
    let devices = lanyard_enrollment::device::list(
        &mut app.db.conn(),
        &actor,
        &org.id,
        Some(Holder::User(&oid)),
    )
    .expect("devices");
    assert_eq!(devices.len(), 1);
    let state = enrollment::list(
        &mut app.db.conn(),
        &SystemClock,
        &actor,
        &org.id,
        Holder::User(&oid),
        links,
    )
    .expect("enrollments");
    assert_eq!(state[0].state, enrollment::EnrollmentState::Used);
}

/// Security review, finding 7: wrong codes from one client never lock another client out of the
/// same organization (a correct code from a client that has not failed still works); a solved
/// proof of work is good for one attempt; an unknown organization gets the wrong code's answer.
async fn a_stranger_cannot_lock_the_owner_out(app: TestApp) {
    let org = app.org("Acme");
    let (_, url) = person_with_link(&app, &org, "gil", Some("Gil"));
    let code = gils_phone(&app, &url).deactivation_code;
    let oid = org.oid.to_string();
    let path = format!("/deactivate?organization={oid}");

    // A stranger at another address guesses until it is stopped.
    let stranger = client_from("127.0.0.2");
    let mut page = get_page_from(&app, Some(&stranger), &path).await.1;
    let mut last = StatusCode::OK;
    for _ in 0..12 {
        let (status, answer) =
            post_form_from(&app, Some(&stranger), &page, (&oid, "WRONGCODE123"), true).await;
        last = status;
        if status == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
        page = answer;
    }
    assert_eq!(
        last,
        StatusCode::TOO_MANY_REQUESTS,
        "the stranger is stopped"
    );

    // A third client: an unknown organization and a wrong code get the same answer; a solved
    // page is spent by its first attempt.
    let third = client_from("127.0.0.3");
    let page = get_page_from(&app, Some(&third), &path).await.1;
    let unknown = post_form_from(
        &app,
        Some(&third),
        &page,
        ("2.25.4242.3.2.99999", "WRONGCODE123"),
        true,
    )
    .await;
    let page = unknown.1.clone();
    let wrong = post_form_from(&app, Some(&third), &page, (&oid, "WRONGCODE123"), true).await;
    assert_eq!(unknown.0, StatusCode::FORBIDDEN, "{}", unknown.1);
    assert_eq!(wrong.0, StatusCode::FORBIDDEN);
    for answer in [&unknown.1, &wrong.1] {
        assert!(
            answer.contains("the organization ID or the deactivation code is not valid"),
            "{answer}"
        );
    }
    let replayed = post_form_from(&app, Some(&third), &page, (&oid, "WRONGCODE124"), true).await;
    assert_eq!(replayed.0, StatusCode::BAD_REQUEST, "{}", replayed.1);
    assert!(replayed.1.contains("used already"), "{}", replayed.1);

    // The owner, from its own address, still deactivates the phone with the right code.
    let owner = client_from("127.0.0.1");
    let page = get_page_from(&app, Some(&owner), &path).await.1;
    let (status, answer) = post_form_from(&app, Some(&owner), &page, (&oid, &code), true).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(answer.contains("is deactivated"), "{answer}");
}

http_tests!(
    lanyard_device_api::configure;
    a_stranger_cannot_lock_the_owner_out,
    twenty_concurrent_requests_make_one_device,
    a_phone_opens_the_link_and_enrolls_once,
    a_lost_phone_is_deactivated_on_the_self_service_page,
);
