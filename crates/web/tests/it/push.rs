//! The push gateway clients against local fakes of FCM HTTP v1 (with Google's OAuth token
//! endpoint) and APNs (HTTP/2 over TLS), which check what the real services require: the
//! service account's RS256 assertion and the bearer token it buys, the FCM message shape, the
//! APNs path, headers and ES256 provider token (verified with the public keys), and the body.
//! Credentials go through the organization's stored, sealed settings on both backends; bad
//! credentials are refused naming the field.

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use lanyard_core::SystemClock;
use lanyard_enrollment::device::DeviceType;
use lanyard_enrollment::push::{self, ApnsInput};
use lanyard_identity::account::{self, NewAccount};
use lanyard_identity::bootstrap::bootstrap;
use lanyard_identity::rights::Actor;
use lanyard_store::both_backends;
use lanyard_store::testing::TestDb;
use lanyard_web::push::{Endpoints, Gateways, Pushed};
use openssl::pkey::{PKey, Private, Public};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

/// What the fakes accepted: (gateway, token, messageId).
type Accepted = Arc<Mutex<Vec<(String, String, String)>>>;

struct Keys {
    fcm: PKey<Public>,
    apns: PKey<Public>,
}

fn b64url_decode(s: &str) -> Vec<u8> {
    let mut std = s.replace('-', "+").replace('_', "/");
    while !std.len().is_multiple_of(4) {
        std.push('=');
    }
    lanyard_pki::base64_decode(&std).expect("base64url")
}

/// Checks a JWT's signature with `key` (RS256, or ES256 with a raw r‖s signature) and returns
/// its header and claims.
fn verified_jwt(token: &str, key: &PKey<Public>, alg: &str) -> Result<(Value, Value), String> {
    let parts: Vec<&str> = token.split('.').collect();
    let [h, c, s] = parts[..] else {
        return Err("not a JWT".into());
    };
    let header: Value = serde_json::from_slice(&b64url_decode(h)).map_err(|e| e.to_string())?;
    let claims: Value = serde_json::from_slice(&b64url_decode(c)).map_err(|e| e.to_string())?;
    if header["alg"] != alg {
        return Err(format!("alg {}", header["alg"]));
    }
    let mut signature = b64url_decode(s);
    if alg == "ES256" {
        if signature.len() != 64 {
            return Err("ES256 signature is not 64 bytes (r‖s)".into());
        }
        let r = openssl::bn::BigNum::from_slice(&signature[..32]).map_err(|e| e.to_string())?;
        let s = openssl::bn::BigNum::from_slice(&signature[32..]).map_err(|e| e.to_string())?;
        signature = openssl::ecdsa::EcdsaSig::from_private_components(r, s)
            .and_then(|sig| sig.to_der())
            .map_err(|e| e.to_string())?;
    }
    let mut verifier =
        openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), key).expect("v");
    verifier
        .update(format!("{h}.{c}").as_bytes())
        .expect("update");
    if !verifier.verify(&signature).unwrap_or(false) {
        return Err("bad signature".into());
    }
    Ok((header, claims))
}

fn refuse(reason: impl Into<String>) -> HttpResponse {
    HttpResponse::BadRequest().json(json!({"reason": reason.into()}))
}

async fn token(
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
    keys: web::Data<Keys>,
) -> HttpResponse {
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    if get("grant_type").as_deref() != Some("urn:ietf:params:oauth:grant-type:jwt-bearer") {
        return refuse("grant_type");
    }
    let Some(assertion) = get("assertion") else {
        return refuse("assertion missing");
    };
    let (_, claims) = match verified_jwt(&assertion, &keys.fcm, "RS256") {
        Ok(v) => v,
        Err(e) => return refuse(e),
    };
    let own = format!("https://{}/token", req.connection_info().host());
    let lifetime = claims["exp"].as_i64().unwrap_or(0) - claims["iat"].as_i64().unwrap_or(0);
    if claims["iss"] != "lanyard-push@acme-app.iam.gserviceaccount.com"
        || claims["scope"] != "https://www.googleapis.com/auth/firebase.messaging"
        || claims["aud"] != own
        || lifetime != 3600
    {
        return refuse(format!("claims {claims}"));
    }
    HttpResponse::Ok().json(
        json!({"access_token": "ya29.fake-access", "expires_in": 3599, "token_type": "Bearer"}),
    )
}

async fn fcm_send(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<Value>,
    accepted: web::Data<Accepted>,
) -> HttpResponse {
    if path.as_str() != "acme-app" {
        return refuse("project");
    }
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    if auth != Some("Bearer ya29.fake-access") {
        return HttpResponse::Unauthorized().json(json!({"error": {"status": "UNAUTHENTICATED"}}));
    }
    let m = &body["message"];
    let token = m["token"].as_str().unwrap_or_default();
    if m["android"]["priority"] != "HIGH" || m["data"]["type"] != "lanyard.message" {
        return refuse(format!("message {m}"));
    }
    // Data values must be strings in FCM v1; no notification block (nothing shown by Google).
    if !m["data"]
        .as_object()
        .is_some_and(|d| d.values().all(Value::is_string))
        || !m["notification"].is_null()
    {
        return refuse("data");
    }
    if token == "gone-token" {
        return HttpResponse::NotFound().json(
            json!({"error": {"status": "NOT_FOUND", "details": [{"errorCode": "UNREGISTERED"}]}}),
        );
    }
    accepted.lock().expect("lock").push((
        "fcm".into(),
        token.into(),
        m["data"]["messageId"].as_str().unwrap_or_default().into(),
    ));
    HttpResponse::Ok().json(json!({"name": "projects/acme-app/messages/0:1"}))
}

async fn apns_send(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<Value>,
    keys: web::Data<Keys>,
    accepted: web::Data<Accepted>,
) -> HttpResponse {
    if req.version() != actix_web::http::Version::HTTP_2 {
        return refuse(format!("APNs speaks HTTP/2 only, not {:?}", req.version()));
    }
    let header = |n: &str| {
        req.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    if header("apns-topic") != "com.acme.id"
        || header("apns-push-type") != "alert"
        || header("apns-priority") != "10"
    {
        return refuse("headers");
    }
    if header("apns-expiration").parse::<i64>().is_err() {
        return refuse("apns-expiration");
    }
    let Some(jwt) = header("authorization")
        .strip_prefix("bearer ")
        .map(str::to_owned)
    else {
        return HttpResponse::Forbidden().json(json!({"reason": "MissingProviderToken"}));
    };
    match verified_jwt(&jwt, &keys.apns, "ES256") {
        Ok((h, c)) if h["kid"] == "ABC123DEFG" && c["iss"] == "TEAM123456" && c["iat"].is_i64() => {
        }
        Ok(other) => {
            return HttpResponse::Forbidden()
                .json(json!({"reason": format!("InvalidProviderToken {other:?}")}));
        }
        Err(e) => {
            return HttpResponse::Forbidden()
                .json(json!({"reason": format!("InvalidProviderToken {e}")}));
        }
    }
    if body["aps"]["alert"]["title"].is_null() {
        return refuse("aps");
    }
    let token = path.into_inner();
    if token == "0badbad0" {
        return HttpResponse::BadRequest().json(json!({"reason": "BadDeviceToken"}));
    }
    accepted.lock().expect("lock").push((
        "apns".into(),
        token,
        body["messageId"].as_str().unwrap_or_default().into(),
    ));
    HttpResponse::Ok()
        .insert_header(("apns-id", "EC1BF194-B3B2-424A-89A9-5A918A6E6B5D"))
        .finish()
}

/// A TLS certificate for 127.0.0.1 (self-signed: the test trusts exactly it).
fn server_identity() -> (PKey<Private>, openssl::x509::X509) {
    let key = lanyard_pki::generate_key(lanyard_pki::KeySpec::EcP256).expect("key");
    let mut name = openssl::x509::X509NameBuilder::new().expect("name");
    name.append_entry_by_text("CN", "127.0.0.1").expect("cn");
    let name = name.build();
    let mut b = openssl::x509::X509Builder::new().expect("builder");
    b.set_version(2).expect("v3");
    b.set_subject_name(&name).expect("subject");
    b.set_issuer_name(&name).expect("issuer");
    b.set_pubkey(&key).expect("pubkey");
    let serial = openssl::bn::BigNum::from_u32(7)
        .and_then(|n| n.to_asn1_integer())
        .expect("serial");
    b.set_serial_number(&serial).expect("serial");
    b.set_not_before(&openssl::asn1::Asn1Time::days_from_now(0).expect("t"))
        .expect("nb");
    b.set_not_after(&openssl::asn1::Asn1Time::days_from_now(1).expect("t"))
        .expect("na");
    let san = openssl::x509::extension::SubjectAlternativeName::new()
        .ip("127.0.0.1")
        .build(&b.x509v3_context(None, None))
        .expect("san");
    b.append_extension(san).expect("ext");
    b.sign(&key, openssl::hash::MessageDigest::sha256())
        .expect("sign");
    (key, b.build())
}

/// Starts the fakes; returns their base URL and the file with the certificate to trust.
fn fakes(keys: Keys, accepted: Accepted, dir: &std::path::Path) -> (String, String) {
    let (key, cert) = server_identity();
    let ca_file = dir.join("fake-ca.pem");
    std::fs::write(&ca_file, cert.to_pem().expect("pem")).expect("write");
    let mut acceptor =
        openssl::ssl::SslAcceptor::mozilla_intermediate_v5(openssl::ssl::SslMethod::tls())
            .expect("acceptor");
    acceptor.set_private_key(&key).expect("key");
    acceptor.set_certificate(&cert).expect("cert");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("https://{}", listener.local_addr().expect("addr"));
    let keys = web::Data::new(keys);
    let accepted = web::Data::new(accepted);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(keys.clone())
            .app_data(accepted.clone())
            .route("/token", web::post().to(token))
            .route(
                "/v1/projects/{project}/messages:send",
                web::post().to(fcm_send),
            )
            .route("/3/device/{token}", web::post().to(apns_send))
    })
    .workers(1)
    .disable_signals()
    .listen_openssl(listener, acceptor)
    .expect("listen")
    .run();
    actix_web::rt::spawn(server);
    (base, ca_file.display().to_string())
}

fn push_reaches_the_gateways_as_they_require(db: &TestDb) {
    actix_rt::System::new().block_on(async {
        let clock = SystemClock;
        bootstrap(&mut db.conn(), &clock, None).expect("bootstrap");
        let org = account::create(
            &mut db.conn(),
            &clock,
            NewAccount::organization("Acme"),
        )
        .expect("org")
        .id;
        let actor = Actor::api_token(org.clone(), "t");
        let master = lanyard_pki::MasterKey::generate().expect("master");
        let rsa = PKey::from_rsa(openssl::rsa::Rsa::generate(2048).expect("rsa")).expect("pkey");
        let ec = lanyard_pki::generate_key(lanyard_pki::KeySpec::EcP256).expect("ec");
        let public = |k: &PKey<Private>| PKey::public_key_from_der(&k.public_key_to_der().expect("der")).expect("public");
        let accepted = Accepted::default();
        let dir = tempfile::tempdir().expect("dir");
        let (base, ca_file) = fakes(Keys { fcm: public(&rsa), apns: public(&ec) }, accepted.clone(), dir.path());

        // Bad credentials are refused, naming the field.
        let refused = |r: lanyard_enrollment::Result<()>| {
            lanyard_core::Coded::public_message(&r.expect_err("refused"))
        };
        let msg = refused(push::set_fcm(&mut db.conn(), &clock, &master, &actor, &org, "{}"));
        assert!(msg.contains("serviceAccount"), "{msg}");
        let not_rsa = json!({"type": "service_account", "project_id": "acme-app", "client_email": "x@y.z",
            "private_key": String::from_utf8(ec.private_key_to_pem_pkcs8().expect("pem")).expect("utf8"),
            "token_uri": format!("{base}/token")});
        let msg = refused(push::set_fcm(&mut db.conn(), &clock, &master, &actor, &org, &not_rsa.to_string()));
        assert!(msg.contains("RSA"), "{msg}");
        let rsa_pem = String::from_utf8(rsa.private_key_to_pem_pkcs8().expect("pem")).expect("utf8");
        let msg = refused(push::set_apns(&mut db.conn(), &clock, &master, &actor, &org, &ApnsInput {
            team_id: "TEAM123456", key_id: "ABC123DEFG", topic: "com.acme.id", key_pem: &rsa_pem,
        }));
        assert!(msg.contains("key") && msg.contains("P-256"), "{msg}");
        let msg = refused(push::set_apns(&mut db.conn(), &clock, &master, &actor, &org, &ApnsInput {
            team_id: "TEAM 123/../", key_id: "ABC123DEFG", topic: "com.acme.id", key_pem: "",
        }));
        assert!(msg.contains("teamId"), "{msg}");

        // Good ones, stored sealed; read back with the keys. The file's token_uri names an
        // internal address (a cloud metadata service): it is never called, the token exchange
        // goes to the configured endpoint (security review, finding 8).
        let service_account = json!({"type": "service_account", "project_id": "acme-app",
            "private_key_id": "k1", "private_key": rsa_pem,
            "client_email": "lanyard-push@acme-app.iam.gserviceaccount.com",
            "token_uri": "https://169.254.169.254/computeMetadata/v1/token"});
        push::set_fcm(&mut db.conn(), &clock, &master, &actor, &org, &service_account.to_string()).expect("fcm");
        let p8 = String::from_utf8(ec.private_key_to_pem_pkcs8().expect("pem")).expect("utf8");
        push::set_apns(&mut db.conn(), &clock, &master, &actor, &org, &ApnsInput {
            team_id: "TEAM123456", key_id: "ABC123DEFG", topic: "com.acme.id", key_pem: &p8,
        })
        .expect("apns");
        let stored: Vec<String> = {
            use diesel::prelude::*;
            lanyard_store::schema::push_credentials::table
                .select(lanyard_store::schema::push_credentials::key_sealed)
                .load(&mut db.conn())
                .expect("rows")
        };
        assert!(stored.iter().all(|s| !s.contains("PRIVATE KEY") && lanyard_pki::MasterKey::sealed_by(s).is_some()));
        let summary = push::summary(&mut db.conn(), &master, &actor, &org).expect("summary");
        assert_eq!(summary.apns, Some(("TEAM123456".into(), "ABC123DEFG".into(), "com.acme.id".into())));
        let credentials = push::credentials(&mut db.conn(), &master, &org).expect("credentials");

        let gateways = Gateways::connect(Endpoints { fcm: base.clone(), fcm_token: format!("{base}/token"), apns: base.clone() }, Some(&ca_file)).expect("client");
        let go = |kind, token: &'static str, id: &'static str| {
            let (g, c) = (&gateways, &credentials);
            async move { g.push(c, kind, token, id).await }
        };
        assert_eq!(go(DeviceType::Android, "fcm-token-1", "msg1").await.expect("fcm"), Pushed::Sent);
        // The access token is reused (the fake would accept a second exchange too: the count
        // of accepted sends is what is checked).
        assert_eq!(go(DeviceType::Android, "fcm-token-2", "msg2").await.expect("fcm"), Pushed::Sent);
        assert_eq!(go(DeviceType::Android, "gone-token", "msg3").await.expect("fcm"), Pushed::Unregistered);
        assert_eq!(go(DeviceType::Apple, "a1b2c3d4", "msg4").await.expect("apns"), Pushed::Sent);
        assert_eq!(go(DeviceType::Apple, "0badbad0", "msg5").await.expect("apns"), Pushed::Unregistered);
        assert_eq!(go(DeviceType::Apple, "../../etc", "msg6").await.expect("apns"), Pushed::Unregistered);
        assert_eq!(go(DeviceType::Other, "x", "msg7").await.expect("other"), Pushed::NotConfigured);
        assert_eq!(
            accepted.lock().expect("lock").clone(),
            vec![
                ("fcm".to_owned(), "fcm-token-1".to_owned(), "msg1".to_owned()),
                ("fcm".to_owned(), "fcm-token-2".to_owned(), "msg2".to_owned()),
                ("apns".to_owned(), "a1b2c3d4".to_owned(), "msg4".to_owned()),
            ]
        );
        // The whole path after a send, through the outbox (issue 14 item 4): the message's
        // wake-ups are written in its own transaction; a sender round — here in a "restarted"
        // process, as if the one that sent had died right after the commit — pushes the phones of
        // the people with a token; a token the gateway no longer knows is forgotten, so it is
        // not pushed to again; a phone that replaced its token meanwhile keeps the new one.
        let mut settings = lanyard_web::config::Settings::load_from(None, Vec::new()).expect("settings");
        settings.push.fcm_url = base.clone();
        settings.push.fcm_token_url = format!("{base}/token");
        settings.push.apns_url = base.clone();
        settings.push.ca_file = ca_file.clone();
        let state = lanyard_web::AppState {
            pool: db.pool().clone(),
            clock: Arc::new(SystemClock),
            settings: Arc::new(settings),
            master_key: Arc::new(master.clone()),
            wakeups: lanyard_web::wakeups::Wakeups::default(),
        };
        let zoe = lanyard_identity::end_user::create(
            &mut db.conn(),
            &clock,
            &actor,
            &org,
            lanyard_identity::end_user::NewEndUser::parse("zoe", Some("zoe@acme.example"), None, None, true)
                .expect("valid"),
        )
        .expect("user");
        for (id, kind, token) in [("zoe-android", "ANDROID", "fcm-token-3"), ("zoe-iphone", "APPLE", "0badbad0")] {
            lanyard_store::testing::active_device(
                &mut db.conn(),
                id,
                org.as_str(),
                lanyard_store::testing::DeviceOwner::EndUser(zoe.id.as_str()),
                kind,
                Some(token),
            );
        }
        let token_of = |id: &str| -> Option<String> {
            use diesel::prelude::*;
            use lanyard_store::schema::devices;
            devices::table.find(id).select(devices::push_registration).first(&mut db.conn()).expect("device")
        };
        let bank = lanyard_identity::application::create(&mut db.conn(), &clock, &actor, &org, "Bank")
            .expect("application");
        let sent = lanyard_messaging::message::send(
            &mut db.conn(),
            &clock,
            &lanyard_messaging::message::Sender { account: org.clone(), application_id: bank.id },
            &lanyard_messaging::message::NewMessage::parse(vec!["zoe".into()], Some("s"), Some("b"), 300, "message", None)
                .expect("valid"),
        )
        .expect("sent");
        let queued = || -> i64 {
            use diesel::prelude::*;
            lanyard_store::schema::push_outbox::table.count().get_result(&mut db.conn()).expect("count")
        };
        assert_eq!(queued(), 1, "the wake-up was committed with the message");
        assert!(
            !accepted.lock().expect("lock").iter().any(|(_, _, m)| m == &sent.id),
            "nothing was pushed before the crash"
        );
        let restarted = lanyard_web::push::gateways_of(&state).expect("gateways");
        let done = lanyard_web::push::deliver_due(&state, &restarted).await.expect("round");
        assert_eq!(done, 1);
        assert_eq!(queued(), 0, "sent once, then gone");
        assert!(
            accepted.lock().expect("lock").iter().any(|(_, t, m)| t == "fcm-token-3" && m == &sent.id),
            "{:?}",
            accepted.lock().expect("lock")
        );
        assert_eq!(token_of("zoe-iphone"), None, "the token the gateway no longer knows is forgotten");
        assert_eq!(token_of("zoe-android").as_deref(), Some("fcm-token-3"));
        assert!(
            !push::forget_token(&mut db.conn(), "zoe-android", "an-older-token").expect("forget"),
            "a replaced token is not the one forgotten"
        );
        assert_eq!(token_of("zoe-android").as_deref(), Some("fcm-token-3"));

        // An organization without credentials: nothing is sent.
        let none = push::Credentials::default();
        assert_eq!(gateways.push(&none, DeviceType::Apple, "a1b2c3d4", "m").await.expect("none"), Pushed::NotConfigured);
        push::remove(&mut db.conn(), &clock, &actor, &org, "apns").expect("remove");
        assert!(push::credentials(&mut db.conn(), &master, &org).expect("c").apns.is_none());
    });
}

both_backends!(push_reaches_the_gateways_as_they_require);
