//! `just bench`: measures, on SQLite and on PostgreSQL (when `LANYARD_TEST_POSTGRES_URL` is set),
//!
//! - requests per second of `POST /rest/users` (32 concurrent clients),
//! - latency of `GET /rest/users` pages (first, deep, searched) over 100,000 users,
//! - peak memory (VmHWM) of a process streaming the users report of 100,000 users, next to one
//!   streaming 1,000 users, to show that memory does not grow with the row count,
//! - enrollment sheets (PDF) per second, on one thread and on two, and the size of a sheet
//!   (`lanyard-bench sheets` runs only this part).
//!
//! - complete authorizations per second at 1, 16 and 64 concurrent, with latency percentiles
//!   (`lanyard-bench authorizations` runs only this part; see `authorizations.rs`).
//!
//! Run in release mode (`cargo run --release -p lanyard-bench`). Figures are printed as a table.

mod authorizations;

use actix_web::http::Method;
use futures_util::StreamExt;
use lanyard_core::id::AccountId;
use lanyard_core::{Oid, SystemClock};
use lanyard_identity::{NewEndUser, end_user, report};
use lanyard_store::testing::TestDb;
use lanyard_store::{Backend, DatabaseTarget, write_transaction};
use lanyard_web::testing::TestApp;
use serde_json::json;
use std::process::Command;
use std::time::{Duration, Instant};

const USERS: usize = 100_000;
const SMALL_ORG_USERS: usize = 1_000;
const POSTS: usize = 2_000;
const CONCURRENCY: usize = 32;
const LATENCY_SAMPLES: usize = 100;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("report-child") {
        report_child(&args[2], &args[3], &args[4]);
        return;
    }
    let only_sheets = args.get(1).map(String::as_str) == Some("sheets");
    if args.get(1).map(String::as_str) == Some("authorizations") {
        actix_rt::System::new().block_on(async {
            authorizations::run(Backend::Sqlite).await;
            if std::env::var_os(lanyard_store::testing::POSTGRES_URL_VAR).is_some() {
                authorizations::run(Backend::Postgres).await;
            }
        });
        return;
    }
    actix_rt::System::new().block_on(async {
        if only_sheets {
            sheets(Backend::Sqlite).await;
            if std::env::var_os(lanyard_store::testing::POSTGRES_URL_VAR).is_some() {
                sheets(Backend::Postgres).await;
            }
            return;
        }
        run(Backend::Sqlite).await;
        sheets(Backend::Sqlite).await;
        authorizations::run(Backend::Sqlite).await;
        if std::env::var_os(lanyard_store::testing::POSTGRES_URL_VAR).is_some() {
            run(Backend::Postgres).await;
            sheets(Backend::Postgres).await;
            authorizations::run(Backend::Postgres).await;
        } else {
            println!(
                "(PostgreSQL skipped: set {})",
                lanyard_store::testing::POSTGRES_URL_VAR
            );
        }
    });
}

fn seed(db: &TestDb, account: &AccountId, prefix: &str, count: usize) {
    let mut conn = db.conn();
    let actor = lanyard_identity::rights::Actor::api_token(account.clone(), "bench");
    for chunk in (0..count).collect::<Vec<_>>().chunks(5_000) {
        write_transaction(&mut conn, |conn| {
            for i in chunk {
                let new = NewEndUser::parse(
                    &format!("{prefix}{i:06}"),
                    Some(&format!("{prefix}{i}@example.com")),
                    Some(&format!("Person {i}")),
                    Some("+36 30 123 4567"),
                    true,
                )?;
                end_user::create(conn, &SystemClock, &actor, account, new)?;
            }
            Ok::<_, lanyard_identity::IdentityError>(())
        })
        .expect("seed");
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

async fn run(backend: Backend) {
    let app = TestApp::start(backend, lanyard_admin_api::configure)
        .await
        .expect("database");
    let name = format!("{backend:?}");
    let org = app.org("Bench");
    let small = app.org("Small");

    let started = Instant::now();
    seed(&app.db, &org.id, "user", USERS);
    seed(&app.db, &small.id, "small", SMALL_ORG_USERS);
    println!(
        "[{name}] seeded {USERS} users in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // Throughput of user creation.
    let started = Instant::now();
    let statuses: Vec<u16> = futures_util::stream::iter(0..POSTS)
        .map(|i| {
            let app = &app;
            let token = org.token.clone();
            async move {
                app.call(
                    Method::POST,
                    "/rest/users",
                    Some(&token),
                    Some(json!({"userId": format!("bench{i}"), "email": "b@example.com"})),
                )
                .await
                .0
                .as_u16()
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let elapsed = started.elapsed().as_secs_f64();
    assert!(statuses.iter().all(|s| *s == 200), "some creations failed");
    println!(
        "[{name}] POST /rest/users: {POSTS} requests, {CONCURRENCY} concurrent: {:.0} req/s",
        POSTS as f64 / elapsed
    );

    // Latency of pages.
    for (label, query) in [
        ("first page", "start=0&length=50"),
        ("deep page", "start=99000&length=50"),
        ("search", "start=0&length=50&search%5Bvalue%5D=user09999"),
        (
            "search, no hit",
            "start=0&length=50&search%5Bvalue%5D=nobody",
        ),
    ] {
        let mut samples = Vec::with_capacity(LATENCY_SAMPLES);
        for _ in 0..LATENCY_SAMPLES {
            let started = Instant::now();
            let (status, _) = app
                .call(
                    Method::GET,
                    &format!("/rest/users?{query}"),
                    Some(&org.token),
                    None,
                )
                .await;
            samples.push(started.elapsed());
            assert_eq!(status.as_u16(), 200);
        }
        samples.sort();
        println!(
            "[{name}] GET /rest/users {label:<15} ({query}): p50 {:.2} ms, p95 {:.2} ms",
            percentile(&samples, 0.5),
            percentile(&samples, 0.95)
        );
    }

    // Peak memory of the streamed report, in a fresh process each.
    let url = match app.db.target() {
        DatabaseTarget::Sqlite(path) => format!("sqlite://{}", path.display()),
        DatabaseTarget::Postgres(url) => url.expose().to_owned(),
    };
    for (label, account) in [("1,000 users", &small.oid), ("102,000 users", &org.oid)] {
        let exe = std::env::current_exe().expect("own path");
        let out = Command::new(exe)
            .args(["report-child", &url, account.as_str(), label])
            .output()
            .expect("report child");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        print!("[{name}] {}", String::from_utf8_lossy(&out.stdout));
    }
}

const SHEETS: usize = 400;

/// Enrollment sheets per second through the domain call the download uses (read the
/// enrollment, person, organization and logo; draw; subset the font; compress), on one thread
/// and on two (this machine has two cores); and the size of a sheet.
async fn sheets(backend: Backend) {
    use lanyard_enrollment::enrollment::{self, Holder, Links};
    let app = TestApp::start(backend, lanyard_admin_api::configure)
        .await
        .expect("database");
    let name = format!("{backend:?}");
    let org = app.org("Sheets Ltd");
    let actor = lanyard_identity::rights::Actor::api_token(org.id.clone(), "bench");
    let links = Links {
        device_api: "https://device.lanyard.example",
        master: &app.master_key,
        mail_domain: "lanyard.test",
    };
    let mut work: Vec<(Oid, String)> = Vec::with_capacity(SHEETS);
    {
        let mut conn = app.db.conn();
        for i in 0..SHEETS {
            let new = NewEndUser::parse(
                &format!("sheet{i:04}"),
                Some(&format!("sheet{i}@example.com")),
                Some(&format!("Zoë Łukasiewicz-Nørgaard {i}")),
                None,
                true,
            )
            .expect("valid");
            let oid = end_user::create(&mut conn, &SystemClock, &actor, &org.id, new)
                .expect("user")
                .oid;
            let created = enrollment::create(
                &mut conn,
                &SystemClock,
                &actor,
                &org.id,
                Holder::User(&oid),
                links,
            )
            .expect("enrollment");
            work.push((oid, created.id));
        }
    }
    let render = |items: &[(Oid, String)]| -> usize {
        let mut conn = app.db.conn();
        items
            .iter()
            .map(|(oid, id)| {
                enrollment::sheet(
                    &mut conn,
                    &SystemClock,
                    &actor,
                    &org.id,
                    Holder::User(oid),
                    id,
                    links,
                )
                .expect("sheet")
                .len()
            })
            .sum()
    };
    // Warm-up: the font is parsed once per process.
    let sample = {
        let mut conn = app.db.conn();
        let (oid, id) = &work[0];
        enrollment::sheet(
            &mut conn,
            &SystemClock,
            &actor,
            &org.id,
            Holder::User(oid),
            id,
            links,
        )
        .expect("sheet")
    };
    let file = std::env::temp_dir().join("lanyard-bench-enrollment-sheet.pdf");
    std::fs::write(&file, &sample).expect("sample sheet");

    let started = Instant::now();
    let bytes = render(&work);
    let one = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let (left, right) = work.split_at(SHEETS / 2);
    std::thread::scope(|s| {
        let a = s.spawn(|| render(left));
        let b = s.spawn(|| render(right));
        a.join().expect("thread") + b.join().expect("thread")
    });
    let two = started.elapsed().as_secs_f64();
    println!(
        "[{name}] enrollment sheets: {SHEETS} in {one:.2} s = {:.0}/s on one thread, {:.0}/s on two; {:.1} KB each (sample: {})",
        SHEETS as f64 / one,
        SHEETS as f64 / two,
        bytes as f64 / SHEETS as f64 / 1024.0,
        file.display()
    );
}

/// Streams one organization's users report to a sink that discards it and prints the process's
/// peak resident memory.
fn report_child(url: &str, account_oid: &str, label: &str) {
    let target = DatabaseTarget::parse(url, None).expect("url");
    let mut conn = lanyard_store::ConnectionManager::new(target)
        .establish()
        .expect("connect");
    let oid = Oid::parse(account_oid).expect("oid");
    let account = lanyard_identity::account::find_by_oid(&mut conn, &oid).expect("account");
    let before = peak_rss_kib();
    let started = Instant::now();
    let mut bytes = 0_usize;
    let rows = report::users_csv(&mut conn, &account.id, |chunk| {
        bytes += chunk.len();
        Ok(())
    })
    .expect("report");
    println!(
        "users report of {label}: {rows} rows, {:.1} MB in {:.2} s; peak RSS {} KiB (before: {} KiB)",
        bytes as f64 / 1e6,
        started.elapsed().as_secs_f64(),
        peak_rss_kib(),
        before
    );
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}
