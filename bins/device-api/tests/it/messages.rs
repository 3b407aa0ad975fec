//! Messages on a phone over real TLS with the device certificate, on SQLite and PostgreSQL: the
//! inbox, fetch, evidences that move the recipient (proof of delivery, approval), refusals of
//! tampered or foreign signatures, of statements that do not match, of late reports and during
//! maintenance; and the stored evidences verified by `openssl cms -verify`.

use actix_web::http::{Method, StatusCode};
use lanyard_core::SystemClock;
use lanyard_enrollment::device::{self, DeviceRequest, DeviceType};
use lanyard_enrollment::enrollment::{self, Holder, Links};
use lanyard_identity::account::{self, NewAccount};
use lanyard_identity::end_user::{self, NewEndUser};
use lanyard_identity::rights::Actor;
use lanyard_identity::{application, maintenance};
use lanyard_messaging::evidence::{self, EvidenceKind};
use lanyard_messaging::message::{self, NewMessage, Sender};
use lanyard_messaging::status::{MessageKind, RecipientStatus};
use lanyard_pki::{KeySpec, PKey, Private, X509, generate_key};
use lanyard_store::Backend;
use lanyard_web::startup::Service;
use lanyard_web::testing::TlsTestApp;
use serde_json::{Value, json};
use std::process::Command;

/// A phone: its key, its certificate chain (device, devices CA) and id.
struct Phone {
    key: PKey<Private>,
    chain: Vec<X509>,
    id: String,
}

impl Phone {
    fn identity(&self) -> Vec<u8> {
        let mut pem = Vec::new();
        for c in &self.chain {
            pem.extend(c.to_pem().expect("pem"));
        }
        pem.extend(self.key.private_key_to_pem_pkcs8().expect("key"));
        pem
    }

    /// A CMS SignedData of `statement` by this phone (chain included, content attached).
    fn sign(&self, statement: &str) -> String {
        let der = lanyard_pki::cms_sign(
            &self.chain[0],
            &self.key,
            &self.chain[1..],
            statement.as_bytes(),
            false,
        )
        .expect("sign");
        lanyard_pki::base64_encode(&der).replace('\n', "")
    }
}

fn enroll_phone(
    app: &TlsTestApp,
    org: &lanyard_core::id::AccountId,
    actor: &Actor,
    alias: &str,
) -> Phone {
    let mut conn = app.db.conn();
    let user = end_user::create(
        &mut conn,
        &SystemClock,
        actor,
        org,
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
    let links = Links {
        device_api: &app.base,
        master: &app.master_key,
        mail_domain: "lanyard.test",
    };
    let url = enrollment::create(
        &mut conn,
        &SystemClock,
        actor,
        org,
        Holder::User(&user.oid),
        links,
    )
    .expect("enrollment")
    .device_config_url;
    let secret = url
        .rsplit('/')
        .next()
        .and_then(|t| t.split('?').next())
        .expect("secret");
    let key = generate_key(KeySpec::EcP256).expect("key");
    let mut req = openssl::x509::X509ReqBuilder::new().expect("req");
    req.set_pubkey(&key).expect("pubkey");
    req.sign(&key, openssl::hash::MessageDigest::sha256())
        .expect("sign");
    let enrolled = device::enroll(
        &mut conn,
        &SystemClock,
        &app.master_key,
        secret,
        &DeviceRequest {
            name: format!("{alias}'s phone"),
            vendor_id: format!("v-{alias}"),
            device_type: DeviceType::Other,
            app_version: "1.0".into(),
            push_registration: None,
            csr: req.build().to_pem().expect("pem"),
        },
        device::Service {
            crl_base: "https://127.0.0.1:7401",
            device_api: &app.base,
            mail_domain: "lanyard.test",
        },
    )
    .expect("enroll");
    Phone {
        key,
        chain: X509::stack_from_pem(enrolled.certificate_chain.as_bytes()).expect("chain"),
        id: enrolled.device_id,
    }
}

/// The organization "Acme" with its API actor and the application "Bank".
fn organization(
    app: &TlsTestApp,
) -> (lanyard_core::id::AccountId, Actor, application::Application) {
    let org = account::create(
        &mut app.db.conn(),
        &SystemClock,
        NewAccount::organization("Acme"),
    )
    .expect("org")
    .id;
    let actor = Actor::api_token(org.clone(), "t");
    let bank =
        application::create(&mut app.db.conn(), &SystemClock, &actor, &org, "Bank").expect("app");
    (org, actor, bank)
}

async fn call(
    client: &awc::Client,
    app: &TlsTestApp,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let req = client.request(method, app.url(path));
    let mut response = match body {
        Some(b) => req.send_json(&b).await,
        None => req.send().await,
    }
    .expect("request");
    let bytes = response.body().await.expect("body");
    (
        response.status(),
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn refused(got: &(StatusCode, Value), code: &str, says: &str) {
    assert_eq!(got.0.as_u16(), 420, "{got:?}");
    assert_eq!(got.1["code"], code, "{got:?}");
    assert!(
        got.1["message"].as_str().is_some_and(|m| m.contains(says)),
        "{got:?} should say {says:?}"
    );
}

/// `openssl cms -verify` of a DER file against the platform root; `purpose_any` for the
/// device's own signature (its certificate is for client authentication).
fn openssl_verifies(
    dir: &std::path::Path,
    name: &str,
    der: &[u8],
    root: &[u8],
    purpose_any: bool,
) -> bool {
    let (file, ca) = (dir.join(name), dir.join("root.pem"));
    std::fs::write(&file, der).expect("write");
    std::fs::write(&ca, root).expect("write");
    let mut cmd = Command::new("openssl");
    cmd.args([
        "cms",
        "-verify",
        "-inform",
        "DER",
        "-binary",
        "-out",
        "/dev/null",
        "-in",
    ])
    .arg(&file)
    .arg("-CAfile")
    .arg(&ca);
    if purpose_any {
        cmd.args(["-purpose", "any"]);
    }
    cmd.output().expect("openssl").status.success()
}

async fn a_phone_receives_and_decides_with_evidences(backend: Backend) {
    let Some(app) =
        TlsTestApp::start(backend, Service::Device, lanyard_device_api::configure).await
    else {
        return;
    };
    let (org, actor, bank) = organization(&app);
    let sender = Sender {
        account: org.clone(),
        application_id: bank.id.clone(),
    };
    let ann = enroll_phone(&app, &org, &actor, "ann");
    let bob = enroll_phone(&app, &org, &actor, "bob");
    let send = |subject: &str| {
        let new = NewMessage::parse(
            vec!["ann".into()],
            Some(subject),
            Some("Approve the login."),
            300,
            "authorization",
            None,
        )
        .expect("valid");
        message::send(&mut app.db.conn(), &SystemClock, &sender, &new).expect("send")
    };
    let sent = send("Log in?");
    let client = app.client(Some(&ann.identity()));

    let (status, inbox) = call(&client, &app, Method::GET, "/messages", None).await;
    assert_eq!(status, StatusCode::OK, "{inbox}");
    assert_eq!(inbox["data"][0]["messageId"], sent.id.as_str());
    let (_, fetched) = call(
        &client,
        &app,
        Method::GET,
        &format!("/messages/{}", sent.id),
        None,
    )
    .await;
    let hash = evidence::content_hash(MessageKind::Authorization, "Log in?", "Approve the login.");
    assert_eq!(
        fetched,
        json!({"messageId": sent.id, "type": "authorization", "subject": "Log in?", "body": "Approve the login.",
               "secureId": sent.secure_id, "expirationDate": sent.expires_at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
               "recipient": "ann", "contentHash": hash, "status": "PENDING"})
    );
    // Bob's phone does not see Ann's message.
    let bobs = app.client(Some(&bob.identity()));
    refused(
        &call(
            &bobs,
            &app,
            Method::GET,
            &format!("/messages/{}", sent.id),
            None,
        )
        .await,
        "NOT_FOUND",
        &sent.id,
    );

    let path = format!("/messages/{}/evidences", sent.id);
    let statement = |kind, decision, hash: &str, device: &str| {
        evidence::statement(
            kind,
            &sent.id,
            hash,
            "ann",
            device,
            decision,
            chrono::Utc::now(),
        )
    };
    let upload = |client: &awc::Client, kind: EvidenceKind, cms: String| {
        let body = json!({"type": kind.as_str(), "cms": cms});
        let (client, app, path) = (client.clone(), &app, path.clone());
        async move { call(&client, app, Method::POST, &path, Some(body)).await }
    };
    // Proof of delivery, then the approval.
    let delivered = ann.sign(&statement(
        EvidenceKind::ProofOfDelivery,
        RecipientStatus::Downloaded,
        &hash,
        &ann.id,
    ));
    let (status, answer) = upload(&client, EvidenceKind::ProofOfDelivery, delivered).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["status"], "DOWNLOADED");

    // Refusals, none of which changes anything.
    let wrong_content = ann.sign(&statement(
        EvidenceKind::SignedTransaction,
        RecipientStatus::Approved,
        &"0".repeat(64),
        &ann.id,
    ));
    refused(
        &upload(&client, EvidenceKind::SignedTransaction, wrong_content).await,
        "MALFORMED_INPUT",
        "content",
    );
    let by_bob = bob.sign(&statement(
        EvidenceKind::SignedTransaction,
        RecipientStatus::Approved,
        &hash,
        &ann.id,
    ));
    refused(
        &upload(&client, EvidenceKind::SignedTransaction, by_bob).await,
        "MALFORMED_INPUT",
        "not signed by this device",
    );
    let mut tampered = lanyard_pki::base64_decode(&ann.sign(&statement(
        EvidenceKind::SignedTransaction,
        RecipientStatus::Approved,
        &hash,
        &ann.id,
    )))
    .expect("b64");
    // Change the statement inside the signed message ("APPROVED" → "DENIED ").
    let at = tampered
        .windows(8)
        .position(|w| w == b"APPROVED")
        .expect("statement inside");
    tampered[at..at + 8].copy_from_slice(b"DENIED  ");
    refused(
        &upload(
            &client,
            EvidenceKind::SignedTransaction,
            lanyard_pki::base64_encode(&tampered).replace('\n', ""),
        )
        .await,
        "MALFORMED_INPUT",
        "not signed by this device",
    );
    let wrong_kind = ann.sign(&statement(
        EvidenceKind::ProofOfDelivery,
        RecipientStatus::Approved,
        &hash,
        &ann.id,
    ));
    refused(
        &upload(&client, EvidenceKind::ProofOfDelivery, wrong_kind).await,
        "MALFORMED_INPUT",
        "cannot attest",
    );
    refused(
        &upload(
            &client,
            EvidenceKind::SignedTransaction,
            "not base64!".into(),
        )
        .await,
        "MALFORMED_INPUT",
        "cms",
    );

    // During the application's maintenance an evidence is refused with its text.
    let window = maintenance::create(
        &mut app.db.conn(),
        &SystemClock,
        &actor,
        &org,
        &maintenance::Draft {
            application_id: Some(bank.id.clone()),
            starts_at: chrono::Utc::now() - chrono::TimeDelta::minutes(1),
            ends_at: chrono::Utc::now() + chrono::TimeDelta::hours(1),
            texts: vec![maintenance::Text {
                language: "en".into(),
                subject: "Upgrade".into(),
                body: "Back at noon.".into(),
            }],
        },
    )
    .expect("maintenance");
    let approved = ann.sign(&statement(
        EvidenceKind::SignedTransaction,
        RecipientStatus::Approved,
        &hash,
        &ann.id,
    ));
    refused(
        &upload(&client, EvidenceKind::SignedTransaction, approved.clone()).await,
        "NOT_ALLOWED",
        "Back at noon.",
    );
    maintenance::stop(&mut app.db.conn(), &SystemClock, &actor, &org, &window.id).expect("stop");

    let (status, answer) = upload(&client, EvidenceKind::SignedTransaction, approved).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["status"], "APPROVED");
    let tracked =
        message::track(&mut app.db.conn(), &SystemClock, &sender, &sent.id).expect("track");
    assert_eq!(tracked.recipients[0].status, RecipientStatus::Approved);
    // A late change of mind: the decision stays.
    let denied = ann.sign(&statement(
        EvidenceKind::SignedTransaction,
        RecipientStatus::Denied,
        &hash,
        &ann.id,
    ));
    refused(
        &upload(&client, EvidenceKind::SignedTransaction, denied).await,
        "ALREADY_COMPLETED",
        &sent.id,
    );

    // The evidences, as kept: both verify with OpenSSL against the platform root; a changed byte
    // does not.
    let listed = evidence::list(&mut app.db.conn(), &sender, &sent.id).expect("list");
    let kinds: Vec<(EvidenceKind, RecipientStatus)> =
        listed.iter().map(|e| (e.kind, e.decision)).collect();
    assert_eq!(
        kinds,
        [
            (EvidenceKind::ProofOfDelivery, RecipientStatus::Downloaded),
            (EvidenceKind::SignedTransaction, RecipientStatus::Approved)
        ]
    );
    let (device_cms, server_cms) =
        evidence::download(&mut app.db.conn(), &sender, &sent.id, &listed[1].id).expect("download");
    let dir = tempfile::tempdir().expect("dir");
    assert!(openssl_verifies(
        dir.path(),
        "server.der",
        &server_cms,
        &app.root_pem,
        false
    ));
    assert!(openssl_verifies(
        dir.path(),
        "device.der",
        &device_cms,
        &app.root_pem,
        true
    ));
    let mut broken = server_cms.clone();
    let at = broken
        .windows(8)
        .position(|w| w == b"APPROVED")
        .expect("statement inside");
    broken[at] = b'X';
    assert!(!openssl_verifies(
        dir.path(),
        "broken.der",
        &broken,
        &app.root_pem,
        false
    ));
}

/// "Enforce secureId validation" (seed 000 "Advanced messages"): the approval's statement must
/// carry the secureId the person typed; an approval without it, or with another code, is refused
/// and changes nothing. The phone gets the advanced fields with the message.
async fn an_enforced_secure_id_must_be_typed(backend: Backend) {
    let Some(app) =
        TlsTestApp::start(backend, Service::Device, lanyard_device_api::configure).await
    else {
        return;
    };
    let (org, actor, bank) = organization(&app);
    let ops = lanyard_identity::admin::create_first(
        &mut app.db.conn(),
        &SystemClock,
        &org,
        &lanyard_core::Email::parse("ops@acme.example").expect("email"),
        "Ops",
        "correct horse battery staple",
    )
    .expect("admin");
    let ann = enroll_phone(&app, &org, &actor, "ann");
    let new = message::ConsoleMessage {
        recipients: "ann".into(),
        subject: "Pay 120 EUR?".into(),
        body: "To Globex.".into(),
        availability: "300".into(),
        kind: "authorization".into(),
        secure_id: "PAY42".into(),
        enforce_secure_id: true,
        external_identity: "Acme Bank".into(),
        preview: "A payment".into(),
        ..message::ConsoleMessage::default()
    }
    .check(&SystemClock, ops.id.as_str())
    .expect("valid");
    let sent = message::send_from_console(
        &mut app.db.conn(),
        &SystemClock,
        &actor,
        &org,
        &bank.id,
        &new,
    )
    .expect("send");
    let client = app.client(Some(&ann.identity()));
    let (_, fetched) = call(
        &client,
        &app,
        Method::GET,
        &format!("/messages/{}", sent.id),
        None,
    )
    .await;
    // The phone is not told the code: the person types what the application shows.
    assert_eq!(fetched["secureId"], Value::Null);
    assert_eq!(fetched["enforceSecureId"], true);
    assert_eq!(fetched["externalIdentity"], "Acme Bank");
    assert_eq!(fetched["preview"], "A payment");
    let hash = fetched["contentHash"].as_str().expect("hash").to_owned();
    let path = format!("/messages/{}/evidences", sent.id);
    let approve = |typed: Option<&str>| {
        let mut text = evidence::statement(
            EvidenceKind::SignedTransaction,
            &sent.id,
            &hash,
            "ann",
            &ann.id,
            RecipientStatus::Approved,
            chrono::Utc::now(),
        );
        if let Some(code) = typed {
            // The typed code goes before the time line, as docs/evidence.md says.
            let at = text.rfind("\ntime: ").expect("time line");
            text.insert_str(at, &format!("\nsecureId: {code}"));
        }
        json!({"type": "SIGNED_TRANSACTION", "cms": ann.sign(&text)})
    };
    let delivered = ann.sign(&evidence::statement(
        EvidenceKind::ProofOfDelivery,
        &sent.id,
        &hash,
        "ann",
        &ann.id,
        RecipientStatus::Downloaded,
        chrono::Utc::now(),
    ));
    let body = json!({"type": "PROOF_OF_DELIVERY", "cms": delivered});
    let (status, answer) = call(&client, &app, Method::POST, &path, Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    refused(
        &call(&client, &app, Method::POST, &path, Some(approve(None))).await,
        "MALFORMED_INPUT",
        "secureId",
    );
    refused(
        &call(
            &client,
            &app,
            Method::POST,
            &path,
            Some(approve(Some("PAY24"))),
        )
        .await,
        "MALFORMED_INPUT",
        "PAY42",
    );
    let (status, answer) = call(
        &client,
        &app,
        Method::POST,
        &path,
        Some(approve(Some("PAY42"))),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["status"], "APPROVED");
}

#[actix_rt::test]
async fn enforced_secure_id_on_sqlite() {
    an_enforced_secure_id_must_be_typed(Backend::Sqlite).await;
}

#[actix_rt::test]
async fn enforced_secure_id_on_postgres() {
    an_enforced_secure_id_must_be_typed(Backend::Postgres).await;
}

#[actix_rt::test]
async fn evidences_on_sqlite() {
    a_phone_receives_and_decides_with_evidences(Backend::Sqlite).await;
}

#[actix_rt::test]
async fn evidences_on_postgres() {
    a_phone_receives_and_decides_with_evidences(Backend::Postgres).await;
}

/// Security review, finding 2: a disabled organization's phones are refused at once, and so is
/// enrollment; reactivation restores them; deletion revokes their certificates for good.
async fn a_disabled_organization_s_phones_are_refused(backend: Backend) {
    let Some(app) =
        TlsTestApp::start(backend, Service::Device, lanyard_device_api::configure).await
    else {
        return;
    };
    let links = app.state().links();
    let (created, operator) =
        lanyard_web::testing::activated_customer(&mut app.db.conn(), &links, "Globex");
    let (org, oid) = (created.account.id, created.account.oid);
    let actor = Actor::api_token(org.clone(), "t");
    let phone = enroll_phone(&app, &org, &actor, "ann");
    let client = app.client(Some(&phone.identity()));
    let whoami = || call(&client, &app, Method::GET, "/device", None);
    assert_eq!(whoami().await.0, StatusCode::OK);
    // A pending enrollment of another person.
    let user = end_user::create(
        &mut app.db.conn(),
        &SystemClock,
        &actor,
        &org,
        NewEndUser::parse("bob", Some("bob@globex.example"), None, None, true).expect("valid"),
    )
    .expect("user");
    let link = enrollment::create(
        &mut app.db.conn(),
        &SystemClock,
        &actor,
        &org,
        Holder::User(&user.oid),
        Links {
            device_api: &app.base,
            master: &app.master_key,
            mail_domain: "lanyard.test",
        },
    )
    .expect("enrollment")
    .device_config_url;
    let config_path = link.strip_prefix(&app.base).expect("path").to_owned();
    let anonymous = app.client(None);

    lanyard_identity::customer::disable(&mut app.db.conn(), &SystemClock, &links, &operator, &oid)
        .expect("disable");
    assert_eq!(
        whoami().await.0,
        StatusCode::UNAUTHORIZED,
        "refused at once"
    );
    refused(
        &call(&anonymous, &app, Method::GET, &config_path, None).await,
        "NOT_ALLOWED",
        "disabled",
    );
    lanyard_identity::customer::reactivate(
        &mut app.db.conn(),
        &SystemClock,
        &links,
        &operator,
        &oid,
    )
    .expect("reactivate");
    assert_eq!(
        whoami().await.0,
        StatusCode::OK,
        "reactivation restores the phone"
    );
    assert_eq!(
        call(&anonymous, &app, Method::GET, &config_path, None)
            .await
            .0,
        StatusCode::OK,
        "and its enrollments"
    );
    lanyard_identity::customer::delete(
        &mut app.db.conn(),
        &SystemClock,
        &links,
        &app.master_key,
        &operator,
        &oid,
    )
    .expect("delete");
    assert_eq!(whoami().await.0, StatusCode::UNAUTHORIZED);
    let serial = lanyard_pki::serial_hex(&phone.chain[0]).expect("serial");
    let crl = lanyard_identity::platform_pki::crl(
        &mut app.db.conn(),
        &SystemClock,
        &app.master_key,
        "devices-1",
        false,
    )
    .expect("crl");
    let crl = openssl::x509::X509Crl::from_der(&crl).expect("der");
    let listed = crl.get_revoked().is_some_and(|revoked| {
        revoked.iter().any(|r| {
            r.serial_number()
                .to_bn()
                .and_then(|b| b.to_hex_str().map(|h| h.to_string()))
                .is_ok_and(|h| h.trim_start_matches('0') == serial.trim_start_matches('0'))
        })
    });
    assert!(listed, "the deleted organization's phone is in the CRL");
    let _ = &phone.id;
}

#[actix_rt::test]
async fn disabled_organization_on_sqlite() {
    a_disabled_organization_s_phones_are_refused(Backend::Sqlite).await;
}

#[actix_rt::test]
async fn disabled_organization_on_postgres() {
    a_disabled_organization_s_phones_are_refused(Backend::Postgres).await;
}
