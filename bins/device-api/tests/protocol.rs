//! The enrollment steps of the device protocol over HTTP, on SQLite and PostgreSQL.

use actix_web::http::{Method, StatusCode};
use lanyard_core::SystemClock;
use lanyard_enrollment::enrollment::{self, Holder, Links};
use lanyard_identity::end_user::{self, NewEndUser};
use lanyard_identity::rights::Actor;
use lanyard_web::http_tests;
use lanyard_web::testing::TestApp;
use serde_json::{Value, json};

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
    let actor = Actor::api_token(org.id.clone(), "t");
    let url = {
        let mut conn = app.db.conn();
        let user = end_user::create(
            &mut conn,
            &SystemClock,
            &actor,
            &org.id,
            NewEndUser::parse("gil", Some("gil@acme.example"), Some("Gil"), None, true)
                .expect("valid"),
        )
        .expect("user");
        let links = Links {
            device_api: "https://127.0.0.1:7403",
            master: &app.master_key,
        };
        enrollment::create(
            &mut conn,
            &SystemClock,
            &actor,
            &org.id,
            Holder::User(&user.oid),
            links,
        )
        .expect("enrollment")
        .device_config_url
    };
    let path = url
        .strip_prefix("https://127.0.0.1:7403")
        .expect("device-api link")
        .to_owned();
    let secret = path
        .rsplit('/')
        .next()
        .expect("tail")
        .split('?')
        .next()
        .expect("secret")
        .to_owned();

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

http_tests!(
    lanyard_device_api::configure;
    a_phone_opens_the_link_and_enrolls_once,
);
