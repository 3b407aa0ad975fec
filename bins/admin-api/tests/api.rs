//! The management API over HTTP, on SQLite and PostgreSQL: every endpoint of the end-user and
//! alias slice, its errors, tenant isolation, concurrency and the streamed report.

use actix_web::http::{Method, StatusCode};
use futures_util::future::join_all;
use lanyard_web::http_tests;
use lanyard_web::testing::{TestApp, read};
use serde_json::{Value, json};

#[path = "api/security.rs"]
mod security;

const PBM_ERROR: u16 = 420;

fn assert_error(got: &(StatusCode, Value), code: &str) {
    assert_eq!(got.0.as_u16(), PBM_ERROR, "{got:?}");
    assert_eq!(got.1["code"], code, "{got:?}");
}

async fn create_user(app: &TestApp, token: &str, alias: &str) -> Value {
    let (status, body) = app
        .call(
            Method::POST,
            "/rest/users",
            Some(token),
            Some(
                json!({"userId": alias, "email": format!("{alias}@example.com"),
                        "fullName": "User 01", "phoneNumber": "12345678"}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn users_crud_with_the_passbyme_wire_format(app: TestApp) {
    let org = app.org("Test Organization");
    let t = Some(org.token.as_str());
    let created = create_user(&app, &org.token, "user01").await;
    let oid = created["oid"].as_str().expect("oid").to_owned();
    assert!(oid.starts_with("1.3.6.1.4.1.21528.3.3."), "{oid}");
    assert_eq!(
        created,
        json!({"oid": oid, "shortOID": oid.rsplitn(4, '.').take(3).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("."),
               "userId": "user01", "fullName": "User 01", "email": "user01@example.com",
               "phoneNumber": "12345678", "disabled": false})
    );

    let (status, got) = app
        .call(Method::GET, &format!("/rest/users/{oid}"), t, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, created);

    let (status, count) = app.call(Method::GET, "/rest/users/count", t, None).await;
    assert_eq!((status, count), (StatusCode::OK, json!(1)));

    let (status, answer) = app
        .call(
            Method::PUT,
            &format!("/rest/users/{oid}"),
            t,
            Some(json!({"email": "user02@example.hu", "fullName": "User 02", "disabled": true})),
        )
        .await;
    assert_eq!((status, answer), (StatusCode::OK, json!(oid)));
    let (_, got) = app
        .call(Method::GET, &format!("/rest/users/{oid}"), t, None)
        .await;
    assert_eq!(got["email"], "user02@example.hu");
    assert_eq!(got["fullName"], "User 02");
    assert_eq!(got["phoneNumber"], "12345678");
    assert_eq!(got["disabled"], true);

    let (status, answer) = app
        .call(Method::DELETE, &format!("/rest/users/{oid}"), t, None)
        .await;
    assert_eq!((status, answer), (StatusCode::OK, json!(oid)));
    assert_error(
        &app.call(Method::GET, &format!("/rest/users/{oid}"), t, None)
            .await,
        "NOT_FOUND",
    );
    assert_error(
        &app.call(Method::DELETE, &format!("/rest/users/{oid}"), t, None)
            .await,
        "NOT_FOUND",
    );
    assert_error(
        &app.call(
            Method::PUT,
            &format!("/rest/users/{oid}"),
            t,
            Some(json!({"email": "a@b.hu"})),
        )
        .await,
        "NOT_FOUND",
    );
    let (_, count) = app.call(Method::GET, "/rest/users/count", t, None).await;
    assert_eq!(count, json!(0));
}

async fn list_pages_and_searches(app: TestApp) {
    let org = app.org("A");
    for i in 0..12 {
        create_user(&app, &org.token, &format!("user{i:02}")).await;
    }
    let t = Some(org.token.as_str());
    let (status, all) = app.call(Method::GET, "/rest/users", t, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(all["recordsTotal"], 12);
    assert_eq!(all["recordsFiltered"], 12);
    assert_eq!(all["data"].as_array().expect("data").len(), 12);
    assert_eq!(all["data"][0]["userId"], "user00");

    let (_, page) = app
        .call(
            Method::GET,
            "/rest/users?start=5&length=5&search%5Bvalue%5D=USER1",
            t,
            None,
        )
        .await;
    assert_eq!(page["recordsTotal"], 12);
    assert_eq!(page["recordsFiltered"], 2);
    assert_eq!(page["data"].as_array().expect("data").len(), 0);
    let (_, page) = app
        .call(
            Method::GET,
            "/rest/users?start=1&length=1&search[value]=user1",
            t,
            None,
        )
        .await;
    assert_eq!(page["data"][0]["userId"], "user11");

    let bad = app.call(Method::GET, "/rest/users?length=0", t, None).await;
    assert_error(&bad, "MALFORMED_INPUT");
    assert!(
        bad.1["message"]
            .as_str()
            .expect("message")
            .contains("length"),
        "{bad:?}"
    );
    let bad = app
        .call(Method::GET, "/rest/users?start=abc", t, None)
        .await;
    assert_error(&bad, "MALFORMED_INPUT");
    assert!(
        bad.1["message"]
            .as_str()
            .expect("message")
            .contains("start"),
        "{bad:?}"
    );
}

async fn login_names_add_list_find_delete(app: TestApp) {
    let org = app.org("A");
    let t = Some(org.token.as_str());
    let user = create_user(&app, &org.token, "userId01").await;
    let oid = user["oid"].as_str().expect("oid");
    let short = user["shortOID"].as_str().expect("short");

    let (status, added) = app
        .call(
            Method::POST,
            &format!("/rest/loginNames/{oid}"),
            t,
            Some(json!({"userId": "alias01"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        added,
        json!({"userId": "alias01", "oid": oid, "shortOID": short})
    );

    let dup = app
        .call(
            Method::POST,
            &format!("/rest/loginNames/{oid}"),
            t,
            Some(json!({"userId": "alias01"})),
        )
        .await;
    assert_error(&dup, "ALREADY_EXISTS");
    let dup = app
        .call(
            Method::POST,
            "/rest/users",
            t,
            Some(json!({"userId": "alias01", "email": "x@example.com"})),
        )
        .await;
    assert_error(&dup, "ALREADY_EXISTS");

    let (status, list) = app
        .call(Method::GET, &format!("/rest/loginNames/{oid}"), t, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        list,
        json!({"data": [
            {"userId": "userId01", "oid": oid, "shortOID": short},
            {"userId": "alias01", "oid": oid, "shortOID": short}]})
    );

    let (status, found) = app
        .call(Method::GET, "/rest/loginNames?userId=alias01", t, None)
        .await;
    assert_eq!(
        (status, found),
        (
            StatusCode::OK,
            json!({"userId": "alias01", "oid": oid, "shortOID": short})
        )
    );
    assert_error(
        &app.call(Method::GET, "/rest/loginNames?userId=nobody", t, None)
            .await,
        "NOT_FOUND",
    );
    let missing = app.call(Method::GET, "/rest/loginNames", t, None).await;
    assert_error(&missing, "MALFORMED_INPUT");
    assert!(
        missing.1["message"]
            .as_str()
            .expect("message")
            .contains("userId"),
        "{missing:?}"
    );

    assert_error(
        &app.call(
            Method::DELETE,
            &format!("/rest/loginNames?oid={oid}&userId=notmine"),
            t,
            None,
        )
        .await,
        "NOT_FOUND",
    );
    let (status, body) = app
        .call(
            Method::DELETE,
            &format!("/rest/loginNames?oid={oid}&userId=userId01"),
            t,
            None,
        )
        .await;
    assert_eq!((status, body), (StatusCode::OK, Value::Null));
    assert_error(
        &app.call(
            Method::DELETE,
            &format!("/rest/loginNames?oid={oid}&userId=alias01"),
            t,
            None,
        )
        .await,
        "LAST_ALIAS",
    );
    let (_, list) = app
        .call(Method::GET, &format!("/rest/loginNames/{oid}"), t, None)
        .await;
    assert_eq!(list["data"].as_array().expect("data").len(), 1);
    // The remaining alias is now the user's userId.
    let (_, got) = app
        .call(Method::GET, &format!("/rest/users/{oid}"), t, None)
        .await;
    assert_eq!(got["userId"], "alias01");

    assert_error(
        &app.call(
            Method::GET,
            "/rest/loginNames/1.3.6.1.4.1.21528.3.3.999999",
            t,
            None,
        )
        .await,
        "NOT_FOUND",
    );
}

async fn bad_input_is_malformed_input_naming_the_field(app: TestApp) {
    let org = app.org("A");
    let t = Some(org.token.as_str());
    let cases = [
        (json!({"email": "a@example.com"}), "userId"),
        (json!({"userId": "u1"}), "email"),
        (json!({"userId": "u1", "email": "not-an-address"}), "email"),
        (json!({"userId": "", "email": "a@example.com"}), "userId"),
        (json!({"userId": 5, "email": "a@example.com"}), "userId"),
        (
            json!({"userId": "u1", "email": "a@example.com", "phoneNumber": "call me"}),
            "phoneNumber",
        ),
        (
            json!({"userId": "u1", "email": "a@example.com", "fullName": "x".repeat(300)}),
            "fullName",
        ),
    ];
    for (body, field) in cases {
        let got = app
            .call(Method::POST, "/rest/users", t, Some(body.clone()))
            .await;
        assert_error(&got, "MALFORMED_INPUT");
        let message = got.1["message"].as_str().expect("message");
        assert!(message.contains(field), "{body} → {message}");
    }
    let raw = app
        .request(Method::POST, "/rest/users", t)
        .insert_header(("content-type", "application/json"))
        .send_body("{\"userId\": ")
        .await
        .expect("sent");
    assert_error(&read(raw).await, "MALFORMED_INPUT");
    let user = create_user(&app, &org.token, "u").await;
    let put = app
        .call(
            Method::PUT,
            &format!("/rest/users/{}", user["oid"].as_str().expect("oid")),
            t,
            Some(json!({"fullName": "x"})),
        )
        .await;
    assert_error(&put, "MALFORMED_INPUT");
    assert!(
        put.1["message"]
            .as_str()
            .expect("message")
            .contains("email")
    );
    let bad_oid = app
        .call(Method::GET, "/rest/users/not-an-oid", t, None)
        .await;
    assert_error(&bad_oid, "MALFORMED_INPUT");
    assert!(
        bad_oid.1["message"]
            .as_str()
            .expect("message")
            .contains("oid")
    );
    // Nothing was created by the refused requests.
    let (_, count) = app.call(Method::GET, "/rest/users/count", t, None).await;
    assert_eq!(count, json!(1));
}

async fn version_header_and_credentials_are_required(app: TestApp) {
    let org = app.org("A");
    let no_version = app
        .server
        .get("/rest/users")
        .bearer_auth(&org.token)
        .send()
        .await
        .expect("sent");
    let got = read(no_version).await;
    assert_error(&got, "UNSUPPORTED_API_VERSION");
    let v3 = app
        .server
        .get("/rest/users")
        .insert_header(("X-PBM-API-VERSION", "3"))
        .bearer_auth(&org.token)
        .send()
        .await
        .expect("sent");
    assert_error(&read(v3).await, "UNSUPPORTED_API_VERSION");
    let v1 = app
        .server
        .get("/rest/users/count")
        .insert_header(("X-PBM-API-VERSION", "1"))
        .bearer_auth(&org.token)
        .send()
        .await
        .expect("sent");
    assert_eq!(read(v1).await.0, StatusCode::OK);
    let report = app
        .server
        .get("/download/users/report.csv")
        .bearer_auth(&org.token)
        .send()
        .await
        .expect("sent");
    assert_error(&read(report).await, "UNSUPPORTED_API_VERSION");

    let anonymous = app.call(Method::GET, "/rest/users", None, None).await;
    assert_eq!(anonymous.0, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.1["code"], "UNAUTHORIZED");
    let wrong = app
        .call(
            Method::GET,
            "/rest/users",
            Some("lyd_not-a-real-token"),
            None,
        )
        .await;
    assert_eq!(wrong.0, StatusCode::UNAUTHORIZED);

    let (status, health) = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(
        (status, health["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    let (status, _) = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let unknown = app
        .call(Method::GET, "/rest/nothing-here", Some(&org.token), None)
        .await;
    assert_error(&unknown, "NOT_FOUND");
}

async fn another_organization_cannot_read_change_or_delete(app: TestApp) {
    let a = app.org("A");
    let b = app.org("B");
    let user = create_user(&app, &a.token, "victim").await;
    let oid = user["oid"].as_str().expect("oid");
    let tb = Some(b.token.as_str());
    let attempts = [
        app.call(Method::GET, &format!("/rest/users/{oid}"), tb, None)
            .await,
        app.call(
            Method::PUT,
            &format!("/rest/users/{oid}"),
            tb,
            Some(json!({"email": "evil@example.com", "disabled": true})),
        )
        .await,
        app.call(Method::DELETE, &format!("/rest/users/{oid}"), tb, None)
            .await,
        app.call(
            Method::POST,
            &format!("/rest/loginNames/{oid}"),
            tb,
            Some(json!({"userId": "evil"})),
        )
        .await,
        app.call(Method::GET, &format!("/rest/loginNames/{oid}"), tb, None)
            .await,
        app.call(Method::GET, "/rest/loginNames?userId=victim", tb, None)
            .await,
        app.call(
            Method::DELETE,
            &format!("/rest/loginNames?oid={oid}&userId=victim"),
            tb,
            None,
        )
        .await,
    ];
    for got in &attempts {
        assert_error(got, "NOT_FOUND");
    }
    let (_, list) = app.call(Method::GET, "/rest/users", tb, None).await;
    assert_eq!(list["recordsTotal"], 0);
    let (_, unchanged) = app
        .call(
            Method::GET,
            &format!("/rest/users/{oid}"),
            Some(&a.token),
            None,
        )
        .await;
    assert_eq!(unchanged, user);
    let (_, names) = app
        .call(
            Method::GET,
            &format!("/rest/loginNames/{oid}"),
            Some(&a.token),
            None,
        )
        .await;
    assert_eq!(names["data"].as_array().expect("data").len(), 1);
}

async fn fifty_concurrent_creations_of_one_alias_succeed_once(app: TestApp) {
    let org = app.org("A");
    let user = create_user(&app, &org.token, "owner").await;
    let oid = user["oid"].as_str().expect("oid").to_owned();
    let path = format!("/rest/loginNames/{oid}");
    let requests = (0..50).map(|_| {
        app.call(
            Method::POST,
            &path,
            Some(&org.token),
            Some(json!({"userId": "contested"})),
        )
    });
    let results = join_all(requests).await;
    let ok = results.iter().filter(|r| r.0 == StatusCode::OK).count();
    let taken = results
        .iter()
        .filter(|r| r.0.as_u16() == PBM_ERROR && r.1["code"] == "ALREADY_EXISTS")
        .count();
    assert_eq!((ok, taken), (1, 49), "{results:?}");

    // The same race through user creation: one user, one alias.
    let requests = (0..50).map(|i| {
        app.call(
            Method::POST,
            "/rest/users",
            Some(&org.token),
            Some(json!({"userId": "racer", "email": format!("r{i}@example.com")})),
        )
    });
    let results = join_all(requests).await;
    let ok = results.iter().filter(|r| r.0 == StatusCode::OK).count();
    assert_eq!(ok, 1, "{results:?}");
    let (_, count) = app
        .call(Method::GET, "/rest/users/count", Some(&org.token), None)
        .await;
    assert_eq!(count, json!(2));
}

async fn users_report_streams_every_user_of_the_caller_only(app: TestApp) {
    let a = app.org("A");
    let b = app.org("B");
    for i in 0..1_203 {
        let new = lanyard_identity::NewEndUser::parse(
            &format!("user{i:04}"),
            Some("u@example.com"),
            Some("Név, \"Idézet\""),
            None,
            true,
        )
        .expect("valid");
        lanyard_identity::end_user::create(
            &mut app.db.conn(),
            &lanyard_core::SystemClock,
            &lanyard_identity::rights::Actor::api_token(a.id.clone(), "seed"),
            &a.id,
            new,
        )
        .expect("user");
    }
    create_user(&app, &b.token, "other-org").await;
    let response = app
        .request(Method::GET, "/download/users/report.csv", Some(&a.token))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/csv; charset=utf-8")
    );
    let (_, body) = read(response).await;
    let text = body
        .as_str()
        .expect("csv text")
        .trim_start_matches('\u{feff}')
        .to_owned();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(header[..3], ["oid", "shortOID", "userId"]);
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len(), 1_203);
    assert_eq!(&rows[0][2], "user0000");
    assert_eq!(&rows[1_202][2], "user1202");
    assert_eq!(&rows[7][4], "Név, \"Idézet\"");
    assert!(!text.contains("other-org"));
}

http_tests!(
    lanyard_admin_api::configure;
    users_crud_with_the_passbyme_wire_format,
    list_pages_and_searches,
    login_names_add_list_find_delete,
    bad_input_is_malformed_input_naming_the_field,
    version_header_and_credentials_are_required,
    another_organization_cannot_read_change_or_delete,
    fifty_concurrent_creations_of_one_alias_succeed_once,
    users_report_streams_every_user_of_the_caller_only,
);

async fn a_database_failure_is_a_500_with_a_request_id_and_no_internals(app: TestApp) {
    use diesel::connection::SimpleConnection;
    let org = app.org("A");
    app.db
        .conn()
        .batch_execute("ALTER TABLE end_users RENAME TO end_users_gone")
        .expect("break the schema");
    let response = app
        .request(Method::GET, "/rest/users/count", Some(&org.token))
        .send()
        .await
        .expect("sent");
    let request_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("request id header")
        .to_owned();
    let (status, body) = read(response).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body["code"], "INTERNAL_ERROR");
    let message = body["message"].as_str().expect("message");
    assert!(message.contains(&request_id), "{message}");
    assert!(!message.contains("end_users"), "{message}");
}

http_tests!(
    lanyard_admin_api::configure;
    a_database_failure_is_a_500_with_a_request_id_and_no_internals,
);

async fn organization_settings_and_pricing(app: TestApp) {
    let org = app.org("Test Organization");
    let t = Some(org.token.as_str());
    let (status, data) = app.call(Method::GET, "/rest/organization", t, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(data["organizationId"], org.oid.as_str());
    assert_eq!(data["name"], "Test Organization");
    assert_eq!(data["pricing"], Value::Null);
    let change = json!({"email": "newmail@testorg.hu", "name": "Test Org 2",
        "enrollmentExpirationHours": 48, "invitationExpirationHours": 24, "confirmationLetterEnabled": false});
    let (status, _) = app
        .call(Method::PUT, "/rest/organization", t, Some(change))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, data) = app.call(Method::GET, "/rest/organization", t, None).await;
    assert_eq!(
        data,
        json!({"organizationId": org.oid.as_str(), "name": "Test Org 2", "pricing": null,
               "email": "newmail@testorg.hu", "enrollmentExpirationHours": 48,
               "invitationExpirationHours": 24, "confirmationLetterEnabled": false})
    );
    let missing = app
        .call(
            Method::PUT,
            "/rest/organization",
            t,
            Some(json!({"email": "a@b.hu", "name": "x"})),
        )
        .await;
    assert_error(&missing, "MALFORMED_INPUT");
    assert!(
        missing.1["message"]
            .as_str()
            .expect("message")
            .contains("enrollmentExpirationHours")
    );
    let bad = app
        .call(Method::PUT, "/rest/organization", t, Some(json!({"email": "a@b.hu", "name": "x",
            "enrollmentExpirationHours": 0, "invitationExpirationHours": 1, "confirmationLetterEnabled": true})))
        .await;
    assert_error(&bad, "MALFORMED_INPUT");
    assert!(
        bad.1["message"]
            .as_str()
            .expect("message")
            .starts_with("enrollmentExpirationHours")
    );

    let (_, pricing) = app
        .call(Method::GET, "/rest/organization/pricing", t, None)
        .await;
    assert_eq!(pricing["maxNumberOfUsers"], Value::Null);
    lanyard_identity::organization::assign_plan(
        &mut app.db.conn(),
        &lanyard_core::SystemClock,
        &org.id,
        "Free",
    )
    .expect("plan");
    let (_, pricing) = app
        .call(Method::GET, "/rest/organization/pricing", t, None)
        .await;
    assert_eq!(
        pricing,
        json!({"maxNumberOfUsers": 10, "maxNumberOfAdmins": 2, "daysOfActivityLog": 1, "maxNumberOfDevicesPerUser": 20})
    );
    let (_, data) = app.call(Method::GET, "/rest/organization", t, None).await;
    assert_eq!(data["pricing"], "Free");
    for i in 0..10 {
        create_user(&app, &org.token, &format!("u{i}")).await;
    }
    let over = app
        .call(
            Method::POST,
            "/rest/users",
            t,
            Some(json!({"userId": "one-too-many", "email": "x@example.com"})),
        )
        .await;
    assert_error(&over, "PRICING_LIMIT_USERS");
}

async fn invitations_and_administrators(app: TestApp) {
    let a = app.org("A");
    let b = app.org("B");
    let t = Some(a.token.as_str());
    let (status, created) = app.call(Method::POST, "/rest/invitations", t, None).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let code = created["code"].as_str().expect("code").to_owned();
    assert_eq!(code.len(), 24);
    assert!(
        created["expiryDate"]
            .as_str()
            .expect("expiry")
            .ends_with('Z')
    );
    let (_, list) = app.call(Method::GET, "/rest/invitations", t, None).await;
    assert_eq!(list["data"].as_array().expect("data").len(), 1);
    let handle = list["data"][0]["code"].as_str().expect("handle").to_owned();
    assert!(
        code.starts_with(&handle) && handle.len() < code.len(),
        "only the public part is listed"
    );

    assert_error(
        &app.call(
            Method::DELETE,
            &format!("/rest/invitations/{handle}"),
            Some(&b.token),
            None,
        )
        .await,
        "NOT_FOUND",
    );
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/rest/invitations/{code}"),
            t,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_error(
        &app.call(
            Method::DELETE,
            &format!("/rest/invitations/{code}"),
            t,
            None,
        )
        .await,
        "NOT_FOUND",
    );

    lanyard_identity::organization::assign_plan(
        &mut app.db.conn(),
        &lanyard_core::SystemClock,
        &a.id,
        "Free",
    )
    .expect("plan");
    for _ in 0..2 {
        let (status, _) = app.call(Method::POST, "/rest/invitations", t, None).await;
        assert_eq!(status, StatusCode::OK);
    }
    let over = app.call(Method::POST, "/rest/invitations", t, None).await;
    assert_error(&over, "PRICING_LIMIT_INVITATION");

    let (_, admins) = app.call(Method::GET, "/rest/administrators", t, None).await;
    assert_eq!(admins, json!({"data": []}));
    lanyard_identity::admin::create_first(
        &mut app.db.conn(),
        &lanyard_core::SystemClock,
        &a.id,
        &lanyard_core::Email::parse("admin@microsec.hu").expect("email"),
        "Admin name",
        "correct horse battery staple",
    )
    .expect("admin");
    let (_, admins) = app.call(Method::GET, "/rest/administrators", t, None).await;
    assert_eq!(
        admins,
        json!({"data": [{"userId": "admin@microsec.hu", "fullName": "Admin name", "phoneNumber": "", "status": "Active"}]})
    );
    let body = json!({"userId": "login01", "adminId": "admin@microsec.hu"});
    let (status, user) = app
        .call(
            Method::POST,
            "/rest/administrators/user",
            t,
            Some(body.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(user["email"], "admin@microsec.hu");
    assert_eq!(user["fullName"], "Admin name");
    assert_eq!(user["userId"], "login01");
    assert_error(
        &app.call(
            Method::POST,
            "/rest/administrators/user",
            t,
            Some(body.clone()),
        )
        .await,
        "ALREADY_EXISTS",
    );
    assert_error(
        &app.call(
            Method::POST,
            "/rest/administrators/user",
            Some(&b.token),
            Some(body),
        )
        .await,
        "NOT_FOUND",
    );

    // Every change made through the API is in the account history, by the token's name.
    let history = lanyard_identity::history::list(
        &mut app.db.conn(),
        &a.id,
        &Default::default(),
        &lanyard_core::PageRequest::new(None, None, Some("API token".into())).expect("page"),
    )
    .expect("history");
    let actions: Vec<&str> = history.data.iter().map(|e| e.action.as_str()).collect();
    assert!(
        actions
            .iter()
            .any(|a| a.starts_with("Invitation code created")),
        "{actions:?}"
    );
    assert!(
        actions.iter().any(|a| a.starts_with("Invitation deleted")),
        "{actions:?}"
    );
    assert!(
        actions
            .iter()
            .any(|a| a.starts_with("End user created: login01")),
        "{actions:?}"
    );
}

http_tests!(
    lanyard_admin_api::configure;
    organization_settings_and_pricing,
    invitations_and_administrators,
);

async fn a_token_is_refused_outside_its_allow_list(app: TestApp) {
    let org = app.org("A");
    let clock = lanyard_core::SystemClock;
    let restrict = |list: &str| {
        let allow =
            lanyard_identity::api_token::AllowList::parse("ipAllowList", list).expect("valid");
        lanyard_identity::api_token::create_restricted(
            &mut app.db.conn(),
            &clock,
            &org.oid,
            "restricted",
            allow.as_ref(),
        )
        .expect("token")
        .secret
        .expose()
        .to_owned()
    };
    let elsewhere = restrict("10.0.0.0/8");
    let refused = app
        .call(Method::GET, "/rest/users/count", Some(&elsewhere), None)
        .await;
    assert_eq!(refused.0, StatusCode::UNAUTHORIZED);
    assert!(
        refused.1["message"]
            .as_str()
            .expect("message")
            .contains("address")
    );
    let here = restrict("127.0.0.1, ::1");
    let (status, _) = app
        .call(Method::GET, "/rest/users/count", Some(&here), None)
        .await;
    assert_eq!(status, StatusCode::OK);
}

http_tests!(
    lanyard_admin_api::configure;
    a_token_is_refused_outside_its_allow_list,
);

async fn applications_with_the_passbyme_wire_format(app: TestApp) {
    let a = app.org("A");
    let b = app.org("B");
    let ta = Some(a.token.as_str());
    let (status, created) = app
        .call(
            Method::POST,
            "/rest/applications",
            ta,
            Some(json!({"name": "application01"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let id = created["id"].as_str().expect("id").to_owned();
    assert_eq!(created["name"], "application01");
    assert_eq!(created["organizationId"], a.oid.to_string());
    let (_, list) = app.call(Method::GET, "/rest/applications", ta, None).await;
    assert_eq!(list["data"], json!([created]));
    let (_, one) = app
        .call(Method::GET, &format!("/rest/applications/{id}"), ta, None)
        .await;
    assert_eq!(one["data"], created, "one application comes under data");
    let (status, answer) = app
        .call(
            Method::PUT,
            &format!("/rest/applications/{id}"),
            ta,
            Some(json!({"name": "Modified Application"})),
        )
        .await;
    assert_eq!((status, answer), (StatusCode::OK, json!(id)));

    // Bad input names the field; another organization gets PassBy[ME]'s NOT_FOUND.
    let bad = app
        .call(
            Method::POST,
            "/rest/applications",
            ta,
            Some(json!({"name": " "})),
        )
        .await;
    assert_error(&bad, "MALFORMED_INPUT");
    assert!(
        bad.1["message"]
            .as_str()
            .is_some_and(|m| m.contains("name")),
        "{bad:?}"
    );
    let tb = Some(b.token.as_str());
    for got in [
        app.call(Method::GET, &format!("/rest/applications/{id}"), tb, None)
            .await,
        app.call(
            Method::PUT,
            &format!("/rest/applications/{id}"),
            tb,
            Some(json!({"name": "x"})),
        )
        .await,
        app.call(
            Method::DELETE,
            &format!("/rest/applications/{id}"),
            tb,
            None,
        )
        .await,
    ] {
        assert_error(&got, "NOT_FOUND");
        let message = got.1["message"].as_str().expect("message");
        assert_eq!(
            message,
            format!(
                "Application with id {id} not exists organization {} !",
                b.oid
            )
        );
    }
    let (_, list) = app.call(Method::GET, "/rest/applications", tb, None).await;
    assert_eq!(list["data"], json!([]));

    let (status, answer) = app
        .call(
            Method::DELETE,
            &format!("/rest/applications/{id}"),
            ta,
            None,
        )
        .await;
    assert_eq!((status, answer), (StatusCode::OK, json!(id)));
    let gone = app
        .call(Method::GET, &format!("/rest/applications/{id}"), ta, None)
        .await;
    assert_error(&gone, "NOT_FOUND");
}

http_tests!(
    lanyard_admin_api::configure;
    applications_with_the_passbyme_wire_format,
);

fn csr(bits: u32, tamper: bool) -> String {
    let rsa = openssl::rsa::Rsa::generate(bits).expect("rsa");
    let key = openssl::pkey::PKey::from_rsa(rsa).expect("key");
    let mut req = openssl::x509::X509ReqBuilder::new().expect("req");
    req.set_pubkey(&key).expect("pubkey");
    req.sign(&key, openssl::hash::MessageDigest::sha256())
        .expect("sign");
    let req = req.build();
    if !tamper {
        return String::from_utf8(req.to_pem().expect("pem")).expect("utf-8");
    }
    // Flip a bit of the signature, keep the structure.
    let mut der = req.to_der().expect("der");
    let last = der.len() - 2;
    der[last] ^= 1;
    format!(
        "-----BEGIN CERTIFICATE REQUEST-----\n{}\n-----END CERTIFICATE REQUEST-----\n",
        openssl::base64::encode_block(&der)
    )
}

async fn access_keys_over_the_api(app: TestApp) {
    let a = app.org("A");
    let b = app.org("B");
    let (ta, tb) = (Some(a.token.as_str()), Some(b.token.as_str()));
    let (status, made) = app
        .call(
            Method::POST,
            "/rest/accessKeys",
            ta,
            Some(json!({"type": "management", "name": "deploy"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{made}");
    let id = made["key"]["id"].as_str().expect("id").to_owned();
    let serial = made["certificate"]["serial"]
        .as_str()
        .expect("serial")
        .to_owned();
    assert_eq!(made["certificate"]["status"], "ACTIVE");
    let pem = made["pem"].as_str().expect("pem");
    assert!(pem.contains("BEGIN CERTIFICATE") && pem.contains("PRIVATE KEY"));
    let pfx = openssl::base64::decode_block(made["pfx"].as_str().expect("pfx")).expect("b64");
    openssl::pkcs12::Pkcs12::from_der(&pfx)
        .expect("pkcs12")
        .parse2(made["pfxPassword"].as_str().expect("password"))
        .expect("the PFX opens with the given password");

    // Bad requests: a 420 naming the field, and nothing is created.
    for (body, rule) in [
        (
            json!({"type": "management", "name": "w", "csr": csr(1024, false)}),
            "too weak",
        ),
        (
            json!({"type": "management", "name": "s", "csr": csr(2048, true)}),
            "signature",
        ),
        (
            json!({"type": "management", "name": "g", "csr": "hello"}),
            "PKCS#10",
        ),
        (json!({"type": "robot", "name": "r"}), "type"),
    ] {
        let got = app
            .call(Method::POST, "/rest/accessKeys", ta, Some(body))
            .await;
        assert_error(&got, "MALFORMED_INPUT");
        let message = got.1["message"].as_str().expect("message");
        assert!(message.contains(rule), "{message}");
    }
    let (_, list) = app
        .call(Method::GET, "/rest/accessKeys?type=management", ta, None)
        .await;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(1));

    // A certificate from the caller's own request carries no key and no PFX.
    let (status, own) = app
        .call(
            Method::POST,
            &format!("/rest/accessKeys/{id}/certificates"),
            ta,
            Some(json!({"csr": csr(2048, false)})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{own}");
    assert!(!own["pem"].as_str().expect("pem").contains("PRIVATE KEY"));
    assert_eq!(
        (own["pfx"].clone(), own["pfxPassword"].clone()),
        (Value::Null, Value::Null)
    );

    // Another organization can neither see nor touch the key.
    for got in [
        app.call(
            Method::GET,
            &format!("/rest/accessKeys/{id}/certificates"),
            tb,
            None,
        )
        .await,
        app.call(
            Method::POST,
            &format!("/rest/accessKeys/{id}/certificates/{serial}/revoke"),
            tb,
            None,
        )
        .await,
        app.call(Method::DELETE, &format!("/rest/accessKeys/{id}"), tb, None)
            .await,
    ] {
        assert_error(&got, "NOT_FOUND");
    }
    let (_, none) = app.call(Method::GET, "/rest/accessKeys", tb, None).await;
    assert_eq!(none["data"], json!([]));

    let (status, _) = app
        .call(
            Method::POST,
            &format!("/rest/accessKeys/{id}/certificates/{serial}/revoke"),
            ta,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, certs) = app
        .call(
            Method::GET,
            &format!("/rest/accessKeys/{id}/certificates"),
            ta,
            None,
        )
        .await;
    let states: Vec<&str> = certs["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|c| c["status"].as_str().expect("status"))
        .collect();
    assert_eq!(states, vec!["ACTIVE", "REVOKED"], "newest first");
    let (status, answer) = app
        .call(Method::DELETE, &format!("/rest/accessKeys/{id}"), ta, None)
        .await;
    assert_eq!((status, answer), (StatusCode::OK, json!(id)));
    let (_, list) = app.call(Method::GET, "/rest/accessKeys", ta, None).await;
    assert_eq!(list["data"], json!([]));
}

http_tests!(
    lanyard_admin_api::configure;
    access_keys_over_the_api,
);

async fn enrollments_of_users_and_administrators(app: TestApp) {
    let a = app.org("A");
    let b = app.org("B");
    let (ta, tb) = (Some(a.token.as_str()), Some(b.token.as_str()));
    let user = create_user(&app, &a.token, "enrollee").await;
    let oid = user["oid"].as_str().expect("oid").to_owned();
    let path = format!("/rest/users/{oid}/enrollments");
    let (status, created) = app.call(Method::POST, &path, ta, None).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert_eq!(created["state"], "ACTIVE");
    assert_eq!(created["sent"], false);
    let id = created["enrollmentId"].as_str().expect("id").to_owned();
    let url = created["deviceConfigUrl"].as_str().expect("url");
    assert!(url.contains(&format!("/deviceConfig/{}/", a.oid)), "{url}");
    assert!(
        created["expireDate"]
            .as_str()
            .is_some_and(|d| d.ends_with('Z'))
    );
    let (_, list) = app.call(Method::GET, &path, ta, None).await;
    assert_eq!(list["data"], json!([created]));

    // Another organization: the user's OID is NOT_FOUND, echoed as the message.
    for got in [
        app.call(Method::POST, &path, tb, None).await,
        app.call(Method::GET, &path, tb, None).await,
        app.call(Method::DELETE, &format!("{path}/{id}"), tb, None)
            .await,
    ] {
        assert_error(&got, "NOT_FOUND");
        assert_eq!(got.1["message"], oid);
    }
    let missing = app
        .call(Method::DELETE, &format!("{path}/nope"), ta, None)
        .await;
    assert_error(&missing, "NOT_FOUND");
    assert_eq!(missing.1["message"], "Enrollment with id nope not exists!");
    let (status, _) = app
        .call(Method::DELETE, &format!("{path}/{id}"), ta, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, list) = app.call(Method::GET, &path, ta, None).await;
    assert_eq!(list["data"], json!([]));

    // Administrators, by their login e-mail.
    lanyard_identity::admin::create_first(
        &mut app.db.conn(),
        &lanyard_core::SystemClock,
        &a.id,
        &lanyard_core::Email::parse("admin01@a.example").expect("email"),
        "Admin One",
        "correct horse battery staple",
    )
    .expect("admin");
    let admin_path = "/rest/administrators/admin01@a.example/enrollments";
    let (status, mine) = app.call(Method::POST, admin_path, ta, None).await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    let (_, list) = app.call(Method::GET, admin_path, ta, None).await;
    assert_eq!(list["data"], json!([mine]));
    let foreign = app.call(Method::POST, admin_path, tb, None).await;
    assert_error(&foreign, "NOT_FOUND");
    assert_eq!(foreign.1["message"], "admin01@a.example");

    // The administrator's sheet, downloaded and e-mailed.
    let mine_id = mine["enrollmentId"].as_str().expect("id");
    let pdf_path = format!("/download/administrators/admin01@a.example/enrollments/{mine_id}/pdf");
    let mut response = app
        .request(Method::GET, &pdf_path, ta)
        .send()
        .await
        .expect("pdf");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers().get("content-type").expect("type"),
        "application/pdf"
    );
    assert_eq!(
        response.headers().get("cache-control").expect("no-store"),
        "no-store"
    );
    let body = response.body().limit(1 << 20).await.expect("body");
    assert!(body.starts_with(b"%PDF-"));
    let (status, _) = app
        .call(
            Method::POST,
            &format!("{admin_path}/{mine_id}/pdfviaemail"),
            ta,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let mails = lanyard_mail::recent_to(&mut app.db.conn(), "admin01@a.example", 5).expect("mails");
    assert!(
        mails
            .iter()
            .any(|m| m.template == "enrollment_sheet" && m.attachments.len() == 1)
    );
    let foreign = app.call(Method::GET, &pdf_path, tb, None).await;
    assert_error(&foreign, "NOT_FOUND");
}

async fn enrollment_sheets_download_and_e_mail(app: TestApp) {
    let a = app.org("A");
    let b = app.org("B");
    let (ta, tb) = (Some(a.token.as_str()), Some(b.token.as_str()));
    let user = create_user(&app, &a.token, "sheeted").await;
    let oid = user["oid"].as_str().expect("oid").to_owned();
    let path = format!("/rest/users/{oid}/enrollments");
    let (_, created) = app.call(Method::POST, &path, ta, None).await;
    let id = created["enrollmentId"].as_str().expect("id").to_owned();
    let pdf = format!("/download/users/{oid}/enrollments/{id}/pdf");
    let mut response = app
        .request(Method::GET, &pdf, ta)
        .send()
        .await
        .expect("pdf");
    assert_eq!(response.status(), StatusCode::OK);
    let disposition = response
        .headers()
        .get("content-disposition")
        .expect("disposition")
        .to_str()
        .expect("ascii")
        .to_owned();
    assert_eq!(
        disposition,
        format!("attachment; filename=\"enrollment-{id}.pdf\"")
    );
    let body = response.body().limit(1 << 20).await.expect("body");
    assert!(body.starts_with(b"%PDF-") && body.len() < 40_000);

    // PassBy[ME]'s errors: the unknown id or the foreign OID as the message.
    let unknown = app
        .call(
            Method::GET,
            &format!("/download/users/{oid}/enrollments/nope/pdf"),
            ta,
            None,
        )
        .await;
    assert_error(&unknown, "NOT_FOUND");
    assert_eq!(unknown.1["message"], "nope");
    for got in [
        app.call(Method::GET, &pdf, tb, None).await,
        app.call(Method::POST, &format!("{path}/{id}/pdfviaemail"), tb, None)
            .await,
    ] {
        assert_error(&got, "NOT_FOUND");
        assert_eq!(got.1["message"], oid);
    }
    let (_, list) = app.call(Method::GET, &path, ta, None).await;
    assert_eq!(list["data"][0]["sent"], false);
    let (status, _) = app
        .call(Method::POST, &format!("{path}/{id}/pdfviaemail"), ta, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, list) = app.call(Method::GET, &path, ta, None).await;
    assert_eq!(list["data"][0]["sent"], true);
    let email = user["email"].as_str().expect("email");
    let mails = lanyard_mail::recent_to(&mut app.db.conn(), email, 5).expect("mails");
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].attachments[0].content_type, "application/pdf");

    // A used-up enrollment has no sheet any more.
    let (status, _) = app
        .call(Method::DELETE, &format!("{path}/{id}"), ta, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_error(&app.call(Method::GET, &pdf, ta, None).await, "NOT_FOUND");
}

/// A device of `oid` in `org`, enrolled through the domain as device-api does; its vendor id.
fn enrolled_device(app: &TestApp, org: &lanyard_web::testing::TestOrg, oid: &str) -> String {
    use lanyard_enrollment::{device, enrollment};
    let mut conn = app.db.conn();
    let clock = lanyard_core::SystemClock;
    let actor = lanyard_identity::rights::Actor::api_token(org.id.clone(), "t");
    let oid = lanyard_core::Oid::parse(oid).expect("oid");
    let links = enrollment::Links {
        device_api: "https://127.0.0.1:7403",
        master: &app.master_key,
        mail_domain: "lanyard.test",
    };
    let url = enrollment::create(
        &mut conn,
        &clock,
        &actor,
        &org.id,
        enrollment::Holder::User(&oid),
        links,
    )
    .expect("enrollment")
    .device_config_url;
    let secret = url
        .rsplit('/')
        .next()
        .and_then(|t| t.split('?').next())
        .expect("secret");
    let vendor = format!("vendor-{oid}");
    device::enroll(
        &mut conn,
        &clock,
        &app.master_key,
        secret,
        &device::DeviceRequest {
            name: "=HYPERLINK(\"x\")".into(),
            vendor_id: vendor.clone(),
            device_type: device::DeviceType::Android,
            app_version: "2.0".into(),
            push_registration: None,
            csr: csr(2048, false).into_bytes(),
        },
        device::Service {
            crl_base: "https://127.0.0.1:7401",
            device_api: "https://127.0.0.1:7403",
            mail_domain: "lanyard.test",
        },
    )
    .expect("enroll");
    vendor
}

async fn devices_report_and_code_resend(app: TestApp) {
    let a = app.org("A");
    let b = app.org("B");
    let (ta, tb) = (Some(a.token.as_str()), Some(b.token.as_str()));
    let user = create_user(&app, &a.token, "phoned").await;
    let oid = user["oid"].as_str().expect("oid").to_owned();
    let vendor = enrolled_device(&app, &a, &oid);

    let mut response = app
        .request(Method::GET, "/download/devices/report.csv", ta)
        .send()
        .await
        .expect("report");
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.body().await.expect("body");
    let text = String::from_utf8_lossy(&body).into_owned();
    let mut rows = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let records: Vec<csv::StringRecord> = rows.records().map(|r| r.expect("row")).collect();
    assert_eq!(records.len(), 1);
    // The device name is someone's input: never a formula in a spreadsheet.
    assert_eq!(&records[0][0], "'=HYPERLINK(\"x\")");
    assert_eq!(&records[0][1], vendor.as_str());
    assert_eq!(&records[0][3], "ANDROID");
    let mut response = app
        .request(Method::GET, "/download/devices/report.csv", tb)
        .send()
        .await
        .expect("report");
    let body = response.body().await.expect("body");
    assert!(!String::from_utf8_lossy(&body).contains(&vendor));

    // Resend the code, under both names; the owner gets a letter each time.
    for path in [
        "/rest/devices/suspensionpass",
        "/rest/devices/deactivationpass",
    ] {
        let (status, body) = app
            .call(Method::POST, path, ta, Some(json!({"vendorId": vendor})))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let foreign = app
            .call(Method::POST, path, tb, Some(json!({"vendorId": vendor})))
            .await;
        assert_error(&foreign, "NOT_FOUND");
        assert_eq!(foreign.1["message"], vendor);
    }
    let letters = lanyard_mail::recent_to(&mut app.db.conn(), "phoned@example.com", 10)
        .expect("mails")
        .into_iter()
        .filter(|m| m.template == "device_confirmation")
        .count();
    assert_eq!(letters, 3, "enrollment + two resends");
    let bad = app
        .call(
            Method::POST,
            "/rest/devices/suspensionpass",
            ta,
            Some(json!({})),
        )
        .await;
    assert_error(&bad, "MALFORMED_INPUT");

    // Paging (Lanyard's): without `length` every device, as PassBy[ME]; with it, a window and
    // the total.
    let other = create_user(&app, &a.token, "phoned2").await;
    let second = enrolled_device(&app, &a, other["oid"].as_str().expect("oid"));
    let (_, all) = app.call(Method::GET, "/rest/devices", ta, None).await;
    assert_eq!(all["data"].as_array().map(Vec::len), Some(2));
    let (_, first) = app
        .call(Method::GET, "/rest/devices?start=0&length=1", ta, None)
        .await;
    assert_eq!(first["recordsTotal"], 2);
    assert_eq!(first["data"][0]["vendorId"], second, "newest first");
    let (_, next) = app
        .call(Method::GET, "/rest/devices?start=1&length=1", ta, None)
        .await;
    assert_eq!(next["data"][0]["vendorId"], vendor);
    let bad = app
        .call(Method::GET, "/rest/devices?length=many", ta, None)
        .await;
    assert_error(&bad, "MALFORMED_INPUT");
    assert!(
        bad.1["message"]
            .as_str()
            .is_some_and(|m| m.contains("length"))
    );
}

async fn the_activity_log_pages_searches_and_orders(app: TestApp) {
    use lanyard_messaging::message::{self, NewMessage, Sender};
    use lanyard_messaging::status::Event;
    let a = app.org("A");
    let b = app.org("B");
    let (ta, tb) = (Some(a.token.as_str()), Some(b.token.as_str()));
    for alias in ["u1", "u2"] {
        let user = create_user(&app, &a.token, alias).await;
        enrolled_device(&app, &a, user["oid"].as_str().expect("oid"));
    }
    let actor = lanyard_identity::rights::Actor::api_token(a.id.clone(), "t");
    let clock = lanyard_core::SystemClock;
    let bank =
        lanyard_identity::application::create(&mut app.db.conn(), &clock, &actor, &a.id, "bank")
            .expect("app");
    let sender = Sender {
        account: a.id.clone(),
        application_id: bank.id.clone(),
    };
    let user_id = |alias: &str| {
        lanyard_identity::end_user::find_by_alias(&mut app.db.conn(), &a.id, alias)
            .expect("find")
            .expect("user")
            .id
            .as_str()
            .to_owned()
    };
    let send = |to: &str, kind: &str| {
        let new = NewMessage::parse(vec![to.into()], Some("s"), Some("b"), 300, kind, None)
            .expect("valid");
        message::send(&mut app.db.conn(), &clock, &sender, &new).expect("send")
    };
    let decide = |id: &str, alias: &str, event| {
        let user = user_id(alias);
        message::advance(&mut app.db.conn(), &clock, id, &user, Event::Download).expect("dl");
        message::advance(&mut app.db.conn(), &clock, id, &user, event).expect("decide");
    };
    let m1 = send("u1", "authorization");
    decide(&m1.id, "u1", Event::Approve);
    std::thread::sleep(std::time::Duration::from_millis(5));
    let m2 = send("u2", "authorization");
    decide(&m2.id, "u2", Event::Deny);
    std::thread::sleep(std::time::Duration::from_millis(5));
    send("u1", "authorization");
    send("u1", "message"); // not an authentication: not in the log

    let get = |query: &str| {
        let path = format!("/rest/activity{query}");
        let app = &app;
        async move { app.call(Method::GET, &path, ta, None).await }
    };
    let (status, all) = get("").await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_eq!(
        (all["recordsTotal"].clone(), all["recordsFiltered"].clone()),
        (json!(3), json!(3))
    );
    let progress: Vec<&str> = all["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|d| d["progress"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(progress, ["PENDING", "DENIED", "APPROVED"], "newest first");
    let first = &all["data"][0];
    assert_eq!(first["userId"], "u1");
    assert_eq!(first["applicationId"], bank.id.as_str());
    assert_eq!(first["applicationName"], "bank");
    assert!(
        first.get("endedAt").is_none(),
        "a pending entry has not ended: {first}"
    );
    assert!(
        all["data"][1]["endedAt"]
            .as_str()
            .is_some_and(|d| d.ends_with('Z'))
    );
    assert!(all["data"][1]["validTo"].is_string() && all["data"][1]["startedAt"].is_string());

    let (_, found) = get("?search%5Bvalue%5D=U2").await;
    assert_eq!(
        (
            found["recordsTotal"].clone(),
            found["recordsFiltered"].clone()
        ),
        (json!(3), json!(1))
    );
    assert_eq!(found["data"][0]["userId"], "u2");
    let (_, found) = get("?search%5Bvalue%5D=approved").await;
    assert_eq!(found["data"][0]["progress"], "APPROVED");
    assert_eq!(found["recordsFiltered"], 1);
    let (_, found) = get("?search%5Bvalue%5D=bank").await;
    assert_eq!(found["recordsFiltered"], 3);

    // The seed's example 2: ordered by startedAt ascending, then progress descending.
    let (_, ordered) = get("?columns%5B0%5D%5Bdata%5D=userId&columns%5B1%5D%5Bdata%5D=startedAt&columns%5B5%5D%5Bdata%5D=progress&order%5B0%5D%5Bcolumn%5D=1&order%5B0%5D%5Bdir%5D=asc&order%5B1%5D%5Bcolumn%5D=5&order%5B1%5D%5Bdir%5D=desc").await;
    assert_eq!(ordered["data"][0]["progress"], "APPROVED", "{ordered}");
    let (_, ordered) = get("?order%5B0%5D%5BcolumnName%5D=userId&order%5B0%5D%5Bdir%5D=desc").await;
    assert_eq!(ordered["data"][0]["userId"], "u2");
    let (_, paged) = get("?start=1&length=1").await;
    assert_eq!(paged["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(paged["data"][0]["progress"], "DENIED");
    for (query, field) in [
        (
            "?order%5B0%5D%5BcolumnName%5D=userId&order%5B0%5D%5Bdir%5D=up",
            "order[0][dir]",
        ),
        ("?order%5B0%5D%5BcolumnName%5D=colour", "order[0]"),
        ("?order%5B0%5D%5Bcolumn%5D=4", "order[0][column]"),
        ("?length=0", "length"),
    ] {
        let bad = get(query).await;
        assert_error(&bad, "MALFORMED_INPUT");
        assert!(
            bad.1["message"].as_str().is_some_and(|m| m.contains(field)),
            "{bad:?}"
        );
    }
    // Another organization sees nothing of it.
    let (_, other) = app.call(Method::GET, "/rest/activity", tb, None).await;
    assert_eq!(other["recordsTotal"], 0);
}

http_tests!(
    lanyard_admin_api::configure;
    the_activity_log_pages_searches_and_orders,
    devices_report_and_code_resend,
    enrollments_of_users_and_administrators,
    enrollment_sheets_download_and_e_mail,
);
