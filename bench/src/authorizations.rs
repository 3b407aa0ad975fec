//! Complete authorizations per second (issue 6, item 10): an application sends an authorization
//! over mutual TLS to auth-api, a simulated phone (`lanyard-device`'s library, enrolled through
//! device-api like a real one) receives it on the real-time channel, fetches it, signs and
//! uploads its proof of delivery and its approval, and the application tracks the message until
//! it is APPROVED. auth-api and device-api run in this process on one state, as `lanyard up`
//! runs them; the load generator shares the machine.

use futures_util::StreamExt;
use lanyard_core::SystemClock;
use lanyard_device_client::{Answer, DeviceType, EnrollOptions, KeyType, Tls};
use lanyard_enrollment::enrollment::{self, Holder, Links};
use lanyard_identity::access_key::{self, KeyKind, KeySource};
use lanyard_identity::account::{self, NewAccount};
use lanyard_identity::end_user::{self, NewEndUser};
use lanyard_identity::rights::Actor;
use lanyard_identity::{AccountKind, application};
use lanyard_store::Backend;
use lanyard_web::startup::Service;
use lanyard_web::testing::TlsTestApp;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Concurrent authorizations, and how many complete ones are timed at each.
const RUNS: [(usize, usize); 3] = [(1, 200), (16, 2_000), (64, 4_000)];
/// Threads the simulated phones run on (the application's calls run on the main thread).
const PHONE_THREADS: usize = 2;
/// How long the application waits between two tracking calls: a quarter of the time it has
/// waited so far, between these bounds — fine enough for the latency figures (±25%), without
/// the tracking calls themselves becoming the load (a fixed 5 ms interval made them ~90% of
/// all requests at 64 concurrent).
const TRACK_INTERVAL: (Duration, Duration) = (Duration::from_millis(2), Duration::from_millis(50));

/// Runs the authorization benchmark on `backend` and prints a line per concurrency.
pub async fn run(backend: Backend) {
    let name = format!("{backend:?}");
    let app = TlsTestApp::start_many(
        backend,
        &[
            (Service::Auth, lanyard_auth_api::configure),
            (Service::Device, lanyard_device_api::configure),
        ],
    )
    .await
    .expect("database");
    let device_api = app.bases()[1].clone();
    lanyard_web::housekeeping::spawn_messaging(app.state().clone());

    let phones = RUNS.iter().map(|(c, _)| *c).max().unwrap_or(1);
    let (identity, aliases) = seed(&app, &device_api, phones);
    let root = std::env::temp_dir().join(format!("lanyard-bench-{}", std::process::id()));
    std::fs::create_dir_all(&root).expect("state directory");
    let ca_file = root.join("ca.pem");
    std::fs::write(&ca_file, &app.root_pem).expect("ca file");
    let tls = Tls {
        ca_file: Some(ca_file),
    };

    // Enroll the phones through device-api, as the app does.
    let mut dirs = Vec::new();
    for (i, (alias, link)) in aliases.iter().enumerate() {
        let dir = root.join(format!("phone-{i}"));
        lanyard_device_client::enroll(
            &dir,
            link,
            &tls,
            &EnrollOptions {
                device_name: format!("{alias}'s phone"),
                vendor_id: format!("bench-{i}"),
                device_type: DeviceType::Android,
                app_version: "1.0".into(),
                push_registration: None,
                key_type: KeyType::EcP256,
            },
        )
        .await
        .expect("enroll");
        dirs.push(dir);
    }
    // The phones listen on threads of their own (signing is the load generator's heaviest
    // part; one thread for everything capped the figures at what that thread could do). They
    // end when the services stop.
    for share in dirs.chunks(dirs.len().div_ceil(PHONE_THREADS)) {
        let share = share.to_vec();
        std::thread::spawn(move || {
            actix_rt::System::new().block_on(async move {
                let listening: Vec<_> = share
                    .iter()
                    .map(|dir| {
                        let device = lanyard_device_client::Device::open(dir).expect("device");
                        async move {
                            // Ends with an error when the server goes away: expected.
                            let _ended = device.listen(usize::MAX, |_| Some(Answer::Approve)).await;
                        }
                    })
                    .collect();
                futures_util::future::join_all(listening).await;
            });
        });
    }

    let client = app.client(Some(&identity));
    for (concurrency, total) in RUNS {
        // Warm-up: connections opened, caches filled.
        complete(&client, &app, &aliases, concurrency, concurrency * 2).await;
        let started = Instant::now();
        let mut latencies = complete(&client, &app, &aliases, concurrency, total).await;
        let elapsed = started.elapsed().as_secs_f64();
        latencies.sort();
        println!(
            "[{name}] authorizations, {concurrency:>2} concurrent: {total} in {elapsed:.1} s = {:.0}/s; latency p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms",
            total as f64 / elapsed,
            crate::percentile(&latencies, 0.5),
            crate::percentile(&latencies, 0.95),
            crate::percentile(&latencies, 0.99),
        );
    }
    drop(std::fs::remove_dir_all(&root));
}

/// An organization with an application and its key, and `phones` people with an enrollment
/// link each: the key's PEM bundle and the (alias, link) pairs.
fn seed(app: &TlsTestApp, device_api: &str, phones: usize) -> (Vec<u8>, Vec<(String, String)>) {
    let mut conn = app.db.conn();
    let org = account::create(
        &mut conn,
        &SystemClock,
        NewAccount {
            kind: AccountKind::Organization,
            name: "Bench Authorizations".into(),
            contact_email: None,
            parent: None,
        },
    )
    .expect("org")
    .id;
    let actor = Actor::api_token(org.clone(), "bench");
    let application =
        application::create(&mut conn, &SystemClock, &actor, &org, "Bench").expect("app");
    let issued = access_key::create(
        &mut conn,
        &SystemClock,
        &app.master_key,
        &actor,
        &org,
        KeyKind::Application,
        "bench",
        Some(&application.id),
        KeySource::Generate,
        "https://127.0.0.1:7401",
    )
    .expect("key");
    let identity = access_key::download_pem(
        &mut conn,
        &SystemClock,
        &app.master_key,
        &actor,
        &org,
        &issued.certificate.serial,
    )
    .expect("pem");
    let links = Links {
        device_api,
        master: &app.master_key,
        mail_domain: "lanyard.test",
    };
    let people = (0..phones)
        .map(|i| {
            let alias = format!("signer{i:03}");
            let new = NewEndUser::parse(
                &alias,
                Some(&format!("{alias}@bench.example")),
                None,
                None,
                true,
            )
            .expect("valid");
            let user = end_user::create(&mut conn, &SystemClock, &actor, &org, new).expect("user");
            let link = enrollment::create(
                &mut conn,
                &SystemClock,
                &actor,
                &org,
                Holder::User(&user.oid),
                links,
            )
            .expect("enrollment")
            .device_config_url;
            (alias, link)
        })
        .collect();
    (identity, people)
}

/// Runs `total` authorizations, `concurrency` at a time (each to its own phone), and returns the
/// time from sending to the application seeing APPROVED for each.
async fn complete(
    client: &awc::Client,
    app: &TlsTestApp,
    aliases: &[(String, String)],
    concurrency: usize,
    total: usize,
) -> Vec<Duration> {
    let lanes: Vec<_> = (0..concurrency)
        .map(|lane| {
            let alias = aliases[lane].0.clone();
            let count = total / concurrency + usize::from(lane < total % concurrency);
            async move {
                let mut out = Vec::with_capacity(count);
                for _ in 0..count {
                    out.push(one(client, app, &alias).await);
                }
                out
            }
        })
        .collect();
    futures_util::stream::iter(lanes)
        .buffer_unordered(concurrency)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// One authorization, from send to APPROVED.
async fn one(client: &awc::Client, app: &TlsTestApp, alias: &str) -> Duration {
    let started = Instant::now();
    let sent = call(
        client,
        actix_web::http::Method::POST,
        &app.url("/frontend/messages"),
        Some(json!({
            "recipients": [alias],
            "subject": "Sign in to Bench",
            "body": "Approve the sign-in from 192.0.2.7",
            "availability": 300,
            "type": "authorization",
            "callbackUrl": null,
        })),
    )
    .await;
    let id = sent["messageId"].as_str().expect("messageId").to_owned();
    let track = app.url(&format!("/frontend/messages/{id}"));
    loop {
        let wait = (started.elapsed() / 4).clamp(TRACK_INTERVAL.0, TRACK_INTERVAL.1);
        actix_rt::time::sleep(wait).await;
        let tracked = call(client, actix_web::http::Method::GET, &track, None).await;
        match tracked["recipients"][0]["status"].as_str() {
            Some("APPROVED") => return started.elapsed(),
            Some("PENDING" | "NOTIFIED" | "DOWNLOADED" | "SEEN") => {}
            other => panic!("authorization {id} ended {other:?}: {tracked}"),
        }
    }
}

async fn call(
    client: &awc::Client,
    method: actix_web::http::Method,
    url: &str,
    body: Option<Value>,
) -> Value {
    let req = client
        .request(method, url)
        .insert_header(("X-PBM-API-VERSION", "1"));
    let mut response = match body {
        Some(b) => req.send_json(&b).await,
        None => req.send().await,
    }
    .expect("request");
    let bytes = response.body().await.expect("body");
    assert!(
        response.status().is_success(),
        "{url}: {} {}",
        response.status(),
        String::from_utf8_lossy(&bytes)
    );
    serde_json::from_slice(&bytes).expect("json")
}
