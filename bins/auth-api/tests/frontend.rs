//! The PassBy[ME] messaging API over real TLS with application-key client certificates, on
//! SQLite and PostgreSQL: the wire format of send, track and cancel (the JSON pinned whole,
//! with the random parts replaced by placeholders) and every error case.

use actix_web::http::StatusCode;
use lanyard_core::SystemClock;
use lanyard_core::id::AccountId;
use lanyard_identity::access_key::{self, KeyKind, KeySource};
use lanyard_identity::account::{self, NewAccount};
use lanyard_identity::application;
use lanyard_identity::end_user::{self, EndUserChanges, NewEndUser};
use lanyard_identity::rights::Actor;
use lanyard_store::Backend;
use lanyard_web::startup::Service;
use lanyard_web::testing::TlsTestApp;
use serde_json::{Value, json};

struct Org {
    id: AccountId,
    actor: Actor,
}

fn org(app: &TlsTestApp, name: &str) -> Org {
    let id = account::create(
        &mut app.db.conn(),
        &SystemClock,
        NewAccount::organization(name),
    )
    .expect("org")
    .id;
    Org {
        actor: Actor::api_token(id.clone(), "t"),
        id,
    }
}

/// A key of `kind` (for a new application when it is an application key): its PEM bundle with
/// the private key, and its certificate serial.
fn key(app: &TlsTestApp, org: &Org, kind: KeyKind, name: &str) -> (Vec<u8>, String) {
    let mut conn = app.db.conn();
    let application = (kind == KeyKind::Application).then(|| {
        application::create(&mut conn, &SystemClock, &org.actor, &org.id, name)
            .expect("application")
            .id
    });
    let issued = access_key::create(
        &mut conn,
        &SystemClock,
        &app.master_key,
        &org.actor,
        &org.id,
        kind,
        name,
        application.as_deref(),
        KeySource::Generate,
        "https://127.0.0.1:7401",
    )
    .expect("key");
    let serial = issued.certificate.serial.clone();
    let pem = access_key::download_pem(
        &mut conn,
        &SystemClock,
        &app.master_key,
        &org.actor,
        &org.id,
        &serial,
    )
    .expect("pem");
    (pem, serial)
}

fn person(app: &TlsTestApp, org: &Org, alias: &str, phone: bool) {
    let mut conn = app.db.conn();
    let user = end_user::create(
        &mut conn,
        &SystemClock,
        &org.actor,
        &org.id,
        NewEndUser::parse(
            alias,
            Some(&format!("{alias}@acme.example")),
            None,
            None,
            true,
        )
        .expect("valid"),
    )
    .expect("user");
    if phone {
        lanyard_store::testing::active_device(
            &mut conn,
            &format!("device-{alias}"),
            org.id.as_str(),
            lanyard_store::testing::DeviceOwner::EndUser(user.id.as_str()),
            "ANDROID",
            None,
        );
    }
}

/// Sends a request; `version` is the `X-PBM-API-VERSION` header, `body` raw bytes.
async fn call(
    client: &awc::Client,
    app: &TlsTestApp,
    method: actix_web::http::Method,
    path: &str,
    version: Option<&str>,
    body: Option<&str>,
) -> (StatusCode, Value) {
    let mut req = client.request(method, app.url(path));
    if let Some(v) = version {
        req = req.insert_header(("X-PBM-API-VERSION", v));
    }
    let sent = match body {
        // PassBy[ME]'s PHP SDK posts JSON without a JSON content type: accepted.
        Some(b) => req.send_body(b.to_owned()).await,
        None => req.send().await,
    };
    let mut response = sent.expect("request");
    let bytes = response.body().await.expect("body");
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|_| json!(String::from_utf8_lossy(&bytes)))
    };
    (response.status(), value)
}

/// The answer with its random parts replaced, for a whole-object comparison.
fn pinned(mut v: Value) -> Value {
    let id = v["messageId"].as_str().expect("messageId");
    assert_eq!(id.len(), 24);
    assert!(id.chars().all(|c| c.is_ascii_alphanumeric()), "{id}");
    let date = v["expirationDate"].as_str().expect("expirationDate");
    assert!(
        chrono::DateTime::parse_from_rfc3339(date).is_ok()
            && date.ends_with('Z')
            && date.len() == 24,
        "{date}"
    );
    let secure = v["secureId"].as_str().expect("secureId");
    assert_eq!(secure.len(), 6);
    v["messageId"] = json!("<messageId>");
    v["expirationDate"] = json!("<expirationDate>");
    v["secureId"] = json!("<secureId>");
    v
}

fn error(got: &(StatusCode, Value), code: &str, says: &str) {
    assert_eq!(got.0.as_u16(), 420, "{got:?}");
    assert_eq!(got.1["code"], code, "{got:?}");
    assert!(
        got.1["message"].as_str().is_some_and(|m| m.contains(says)),
        "{got:?} should say {says:?}"
    );
    assert_eq!(
        got.1.as_object().map(|o| o.len()),
        Some(2),
        "only code and message"
    );
}

async fn the_wire_format_of_send_track_and_cancel(backend: Backend) {
    use actix_web::http::Method;
    let Some(app) = TlsTestApp::start(backend, Service::Auth, lanyard_auth_api::configure).await
    else {
        return;
    };
    let acme = org(&app, "Acme");
    let (pem, serial) = key(&app, &acme, KeyKind::Application, "Bank");
    let client = app.client(Some(&pem));
    for (alias, phone) in [("ann", true), ("bob", false), ("cid", true), ("dan", true)] {
        person(&app, &acme, alias, phone);
    }
    let cid = end_user::find_by_alias(&mut app.db.conn(), &acme.id, "cid")
        .expect("find")
        .expect("cid");
    end_user::update(
        &mut app.db.conn(),
        &SystemClock,
        &acme.actor,
        &acme.id,
        &cid.oid,
        EndUserChanges {
            disabled: Some(true),
            ..EndUserChanges::default()
        },
    )
    .expect("disable");
    let v1 = Some("1");

    // Send, exactly as the Ruby SDK's test body (subject null, callbackUrl null).
    let body = r#"{"recipients":["ann","bob","cid"],"subject":null,"body":"Test message.","availability":300,"type":"authorization","callbackUrl":null}"#;
    let (status, sent) = call(
        &client,
        &app,
        Method::POST,
        "/frontend/messages",
        v1,
        Some(body),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{sent}");
    let id = sent["messageId"].as_str().expect("id").to_owned();
    assert_eq!(
        pinned(sent),
        json!({"messageId": "<messageId>", "expirationDate": "<expirationDate>", "secureId": "<secureId>",
               "recipients": [{"userId": "ann", "status": "PENDING"}, {"userId": "bob", "status": "NO_DEVICE"},
                              {"userId": "cid", "status": "DISABLED"}]})
    );
    let path = format!("/frontend/messages/{id}");
    let (status, tracked) = call(&client, &app, Method::GET, &path, v1, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        pinned(tracked),
        json!({"messageId": "<messageId>", "expirationDate": "<expirationDate>", "secureId": "<secureId>",
               "recipients": [{"userId": "ann", "status": "PENDING"}, {"userId": "bob", "status": "NO_DEVICE"},
                              {"userId": "cid", "status": "DISABLED"}]})
    );
    let (status, cancelled) = call(&client, &app, Method::DELETE, &path, v1, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        pinned(cancelled),
        json!({"messageId": "<messageId>", "expirationDate": "<expirationDate>", "secureId": "<secureId>",
               "recipients": [{"userId": "ann", "status": "CANCELLED"}, {"userId": "bob", "status": "NO_DEVICE"},
                              {"userId": "cid", "status": "DISABLED"}]})
    );
    error(
        &call(&client, &app, Method::DELETE, &path, v1, None).await,
        "ALREADY_COMPLETED",
        &id,
    );

    // Expiry, seen by tracking: a one-second message nobody's phone was told about.
    let quick = r#"{"recipients":["dan"],"subject":"s","body":"b","availability":1,"type":"message","callbackUrl":null}"#;
    let (_, sent) = call(
        &client,
        &app,
        Method::POST,
        "/frontend/messages",
        v1,
        Some(quick),
    )
    .await;
    let quick_path = format!(
        "/frontend/messages/{}",
        sent["messageId"].as_str().expect("id")
    );
    actix_rt::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (_, tracked) = call(&client, &app, Method::GET, &quick_path, v1, None).await;
    assert_eq!(
        tracked["recipients"],
        json!([{"userId": "dan", "status": "NOT_NOTIFIED"}])
    );

    // Every error of the three operations.
    let send = |body: &'static str| {
        call(
            &client,
            &app,
            Method::POST,
            "/frontend/messages",
            v1,
            Some(body),
        )
    };
    for (body, field) in [
        ("not json", "expected"),
        (
            r#"{"subject":"s","body":"b","availability":1,"type":"message"}"#,
            "recipients",
        ),
        (
            r#"{"recipients":[],"availability":1,"type":"message"}"#,
            "recipients",
        ),
        (
            r#"{"recipients":["ann"],"availability":"soon","type":"message"}"#,
            "availability",
        ),
        (
            r#"{"recipients":["ann"],"availability":0,"type":"message"}"#,
            "availability",
        ),
        (
            r#"{"recipients":["ann"],"availability":5,"type":"sms"}"#,
            "type",
        ),
        (
            r#"{"recipients":["ann"],"availability":5,"type":"message","callbackUrl":"gopher://x"}"#,
            "callbackUrl",
        ),
    ] {
        error(&send(body).await, "MALFORMED_INPUT", field);
    }
    let long_subject = format!(
        r#"{{"recipients":["ann"],"subject":"{}","availability":5,"type":"message"}}"#,
        "s".repeat(255)
    );
    error(
        &call(
            &client,
            &app,
            Method::POST,
            "/frontend/messages",
            v1,
            Some(&long_subject),
        )
        .await,
        "MALFORMED_INPUT",
        "subject",
    );
    let long_body = format!(
        r#"{{"recipients":["ann"],"body":"{}","availability":5,"type":"message"}}"#,
        "b".repeat(4095)
    );
    error(
        &call(
            &client,
            &app,
            Method::POST,
            "/frontend/messages",
            v1,
            Some(&long_body),
        )
        .await,
        "MALFORMED_INPUT",
        "body",
    );
    error(
        &send(r#"{"recipients":["ann","zed"],"availability":5,"type":"message"}"#).await,
        "NOT_FOUND",
        "zed",
    );
    error(
        &send(r#"{"recipients":["cid"],"availability":5,"type":"message"}"#).await,
        "USER_DISABLED",
        "cid",
    );
    error(
        &send(r#"{"recipients":["bob"],"availability":5,"type":"message"}"#).await,
        "NO_DEVICE",
        "bob",
    );
    for (method, p) in [
        (Method::GET, "/frontend/messages/nope"),
        (Method::DELETE, "/frontend/messages/nope"),
    ] {
        error(
            &call(&client, &app, method, p, v1, None).await,
            "NOT_FOUND",
            "nope",
        );
    }
    for version in [None, Some("2")] {
        let got = call(&client, &app, Method::GET, &path, version, None).await;
        assert_eq!(got.0.as_u16(), 420, "{got:?}");
        assert_eq!(got.1["code"], "UNSUPPORTED_API_VERSION");
    }

    // Another application of the same organization: no such message.
    let (shop_pem, _) = key(&app, &acme, KeyKind::Application, "Shop");
    let shop = app.client(Some(&shop_pem));
    error(
        &call(&shop, &app, Method::GET, &path, v1, None).await,
        "NOT_FOUND",
        &id,
    );
    // Another organization's application cannot reach Acme's people.
    let globex = org(&app, "Globex");
    let (globex_pem, _) = key(&app, &globex, KeyKind::Application, "Globex app");
    let globex_client = app.client(Some(&globex_pem));
    error(
        &call(
            &globex_client,
            &app,
            Method::POST,
            "/frontend/messages",
            v1,
            Some(r#"{"recipients":["ann"],"availability":5,"type":"message"}"#),
        )
        .await,
        "NOT_FOUND",
        "ann",
    );
    error(
        &call(&globex_client, &app, Method::GET, &path, v1, None).await,
        "NOT_FOUND",
        &id,
    );

    // Credentials: none, a management key's, a revoked one.
    let anonymous = app.client(None);
    assert_eq!(
        call(&anonymous, &app, Method::GET, &path, v1, None).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (management, _) = key(&app, &acme, KeyKind::Management, "Ops");
    assert_eq!(
        call(
            &app.client(Some(&management)),
            &app,
            Method::GET,
            &path,
            v1,
            None
        )
        .await
        .0,
        StatusCode::UNAUTHORIZED
    );
    access_key::revoke(
        &mut app.db.conn(),
        &SystemClock,
        &app.master_key,
        &acme.actor,
        &acme.id,
        &serial,
    )
    .expect("revoke");
    // A new connection: the revoked certificate is refused on every request.
    let revoked = app.client(Some(&pem));
    error(
        &call(&revoked, &app, Method::GET, &path, v1, None).await,
        "CERTIFICATE_REVOKED",
        "revoked",
    );
}

#[actix_rt::test]
async fn wire_format_on_sqlite() {
    the_wire_format_of_send_track_and_cancel(Backend::Sqlite).await;
}

#[actix_rt::test]
async fn wire_format_on_postgres() {
    the_wire_format_of_send_track_and_cancel(Backend::Postgres).await;
}

/// Security review, finding 8 (blind SSRF): a callback URL that names or resolves to an
/// internal address — the server's own loopback here — is refused at delivery, after name
/// resolution, without a connection; the operator's `callbacks.allowed_networks` lets such a
/// receiver through; the failed-callback e-mail never carries the connection error.
async fn callbacks_never_reach_internal_addresses(backend: Backend) {
    use lanyard_web::callback_sender::{CallbackClient, TargetPolicy};
    let Some(app) = TlsTestApp::start(backend, Service::Auth, lanyard_auth_api::configure).await
    else {
        return;
    };
    let org = org(&app, "Acme");
    let (pem, _) = key(&app, &org, KeyKind::Application, "Bank");
    person(&app, &org, "ann", true);
    // A receiver on loopback: it must see no connection at all.
    let receiver = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    receiver.set_nonblocking(true).expect("non-blocking");
    let port = receiver.local_addr().expect("address").port();
    let client = app.client(Some(&pem));
    for target in [
        format!("http://127.0.0.1:{port}/hook"),
        // A name: checked after resolution (localhost is 127.0.0.1 and ::1).
        format!("http://localhost:{port}/hook"),
    ] {
        let body = json!({"recipients": ["ann"], "subject": "s", "body": "b", "availability": 300,
                          "type": "message", "callbackUrl": target})
        .to_string();
        let (status, sent) = call(
            &client,
            &app,
            actix_web::http::Method::POST,
            "/frontend/messages",
            Some("1"),
            Some(&body),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{sent}");
        let id = sent["messageId"].as_str().expect("id").to_owned();
        // Cancelling changes the recipient's status: a callback is due.
        let (status, _) = call(
            &client,
            &app,
            actix_web::http::Method::DELETE,
            &format!("/frontend/messages/{id}"),
            Some("1"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }
    let guarded = CallbackClient::new(TargetPolicy::default());
    let delivered = lanyard_web::callback_sender::deliver_due(app.state(), &guarded)
        .await
        .expect("round");
    assert_eq!(delivered, 0);
    assert!(
        matches!(receiver.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "no connection reached the internal receiver"
    );
    let errors: Vec<Option<String>> = {
        use diesel::prelude::*;
        use lanyard_store::schema::callback_outbox as outbox;
        outbox::table
            .select(outbox::last_error)
            .load(&mut app.db.conn())
            .expect("rows")
    };
    assert_eq!(errors.len(), 2);
    assert!(
        errors
            .iter()
            .all(|e| e.as_deref().is_some_and(|e| e.contains("internal address"))),
        "{errors:?}"
    );
    // The failed-callback letter says "failed", never why.
    let builtin = lanyard_mail::templates::builtin("callback_failed").expect("template");
    assert!(!builtin.text.contains("error") && !builtin.html.contains("error"));

    // Allowed by the operator: the same kind of receiver is reached.
    let mut settings = (*app.state().settings).clone();
    settings.callbacks.allowed_networks = "127.0.0.0/8, ::1/128".into();
    let allowed = CallbackClient::new(TargetPolicy::from_settings(&settings));
    {
        use diesel::prelude::*;
        use lanyard_store::schema::callback_outbox as outbox;
        diesel::update(outbox::table)
            .set(
                outbox::next_attempt_at
                    .eq(chrono::Utc::now().naive_utc() - chrono::TimeDelta::minutes(1)),
            )
            .execute(&mut app.db.conn())
            .expect("due again");
    }
    let round = lanyard_web::callback_sender::deliver_due(app.state(), &allowed);
    // The receiver answers on this runtime without blocking it (the POST runs on it too); a
    // minute is the bound of a failure, never a pause.
    let listener = tokio::net::TcpListener::from_std(receiver).expect("listener");
    let receive = async move {
        let limit = std::time::Duration::from_secs(60);
        let (stream, _) = tokio::time::timeout(limit, listener.accept())
            .await
            .expect("a connection within a minute")
            .expect("accept");
        // One request is all this receiver takes: later connections are refused.
        drop(listener);
        let mut buf = vec![0u8; 4096];
        let n = loop {
            tokio::time::timeout(limit, stream.readable())
                .await
                .expect("a request within a minute")
                .expect("readable");
            match stream.try_read(&mut buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("read: {e}"),
            }
        };
        let answer = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n";
        let mut written = 0;
        while written < answer.len() {
            stream.writable().await.expect("writable");
            match stream.try_write(&answer[written..]) {
                Ok(w) => written += w,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("write: {e}"),
            }
        }
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let (round, request) = tokio::join!(round, receive);
    round.expect("round");
    assert!(request.starts_with("POST /hook"), "{request}");
}

#[actix_rt::test]
async fn callbacks_never_reach_internal_addresses_on_sqlite() {
    callbacks_never_reach_internal_addresses(Backend::Sqlite).await;
}

#[actix_rt::test]
async fn callbacks_never_reach_internal_addresses_on_postgres() {
    callbacks_never_reach_internal_addresses(Backend::Postgres).await;
}
