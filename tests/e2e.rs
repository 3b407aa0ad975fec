//! End to end: the real `lanyard` binary, started as an operator would, on SQLite and on
//! PostgreSQL, talked to over HTTP.

use actix_web::http::StatusCode;
use lanyard_store::Backend;
use lanyard_store::testing::TestDb;
use lanyard_web::testing::read;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const LANYARD: &str = env!("CARGO_BIN_EXE_lanyard");

/// An environment for one installation: a data directory and, for PostgreSQL, a schema.
struct Installation {
    dir: tempfile::TempDir,
    database_url: String,
    _db: Option<TestDb>,
}

impl Installation {
    fn new(backend: Backend) -> Option<Self> {
        let dir = tempfile::tempdir().expect("dir");
        match backend {
            Backend::Sqlite => Some(Self {
                dir,
                database_url: String::new(),
                _db: None,
            }),
            Backend::Postgres => {
                let db = TestDb::postgres()?;
                let url = match db.target() {
                    lanyard_store::DatabaseTarget::Postgres(url) => url.expose().to_owned(),
                    lanyard_store::DatabaseTarget::Sqlite(_) => unreachable!("postgres target"),
                };
                Some(Self {
                    dir,
                    database_url: url,
                    _db: Some(db),
                })
            }
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(LANYARD);
        cmd.args(args)
            .current_dir(self.dir.path())
            .env_remove("LANYARD_CONFIG")
            .env("LANYARD_DATABASE__URL", &self.database_url)
            .env("LANYARD_ADMIN_API__BIND", "127.0.0.1:0")
            .env("LANYARD_AUTH_API__BIND", "127.0.0.1:0")
            .env("LANYARD_DEVICE_API__BIND", "127.0.0.1:0")
            .env("LANYARD_LOG__FILTER", "warn");
        cmd
    }

    fn run(&self, args: &[&str]) -> String {
        let out = self.command(args).output().expect("run lanyard");
        assert!(
            out.status.success(),
            "lanyard {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .expect("utf8")
            .trim()
            .to_owned()
    }

    fn up(&self) -> Running {
        let mut child = self
            .command(&["up"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start lanyard up");
        let stdout = child.stdout.take().expect("stdout");
        let mut urls = Vec::new();
        let mut oid_root = String::new();
        let mut setup_link = None;
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("line");
            if let Some(root) = line.trim().strip_prefix("OID root") {
                oid_root = root.trim().to_owned();
            }
            if let Some(url) = line.split_whitespace().find(|w| w.starts_with("http://"))
                && urls.len() < 3
            {
                urls.push(url.to_owned());
            }
            if let Some(link) = line
                .split_whitespace()
                .find(|w| w.contains("/console/register?code="))
            {
                setup_link = Some(link.to_owned());
            }
            if line.starts_with("More in README") {
                break;
            }
        }
        assert_eq!(urls.len(), 3, "the banner names the three services");
        Running {
            child,
            urls,
            oid_root,
            setup_link,
        }
    }
}

struct Running {
    child: Child,
    urls: Vec<String>,
    oid_root: String,
    setup_link: Option<String>,
}

impl Running {
    /// Stops with SIGTERM, as a service manager does, and expects a clean exit.
    fn stop(mut self) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(status.success());
        let exited = self.child.wait().expect("wait");
        assert!(exited.success(), "lanyard up exited with {exited}");
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _already_exited = self.child.kill();
        let _reaped = self.child.wait();
    }
}

async fn get(url: &str, token: Option<&str>) -> (StatusCode, Value) {
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(10))
        .finish();
    let mut req = client.get(url).insert_header(("X-PBM-API-VERSION", "2"));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    read(req.send().await.expect("request")).await
}

async fn up_serves_three_services_and_keeps_data_across_restarts(backend: Backend) {
    let Some(install) = Installation::new(backend) else {
        return;
    };
    let running = install.up();
    for url in &running.urls {
        let (status, body) = get(&format!("{url}/healthz"), None).await;
        assert_eq!(status, StatusCode::OK, "{url}");
        assert_eq!(body["status"], "ok");
        let (status, _) = get(&format!("{url}/readyz"), None).await;
        assert_eq!(status, StatusCode::OK, "{url}");
    }
    let admin = running.urls[0].clone();
    let root = running.oid_root.clone();
    // The first start prints a one-time setup link for the first platform administrator, and
    // the link opens the registration page with its code.
    let link = running
        .setup_link
        .clone()
        .expect("a setup link on the first start");
    assert!(
        link.starts_with(&format!("{admin}/console/register?code=")),
        "{link}"
    );
    let (status, page) = get(&link, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.as_str()
            .is_some_and(|p| p.contains("Register as an administrator"))
    );
    assert!(root.starts_with("2.25."), "{root}");

    let org = install.run(&[
        "org",
        "create",
        "--name",
        "Acme",
        "--email",
        "admin@acme.example",
    ]);
    assert!(org.starts_with(&root), "{org}");
    let token = install.run(&["api-token", "create", "--account", &org]);
    let client = awc::Client::default();
    let created = client
        .post(format!("{admin}/rest/users"))
        .insert_header(("X-PBM-API-VERSION", "2"))
        .bearer_auth(&token)
        .send_json(&json!({"userId": "alice", "email": "alice@acme.example"}))
        .await
        .expect("create user");
    let (status, user) = read(created).await;
    assert_eq!(status, StatusCode::OK, "{user}");
    running.stop();

    assert_eq!(install.run(&["migrate"]), "database is up to date");
    assert_eq!(install.run(&["migrate"]), "database is up to date");

    let again = install.up();
    assert_eq!(again.oid_root, root, "the OID root survives a restart");
    assert_eq!(
        again.setup_link, None,
        "only the first start prints a setup link"
    );
    let admin = &again.urls[0];
    let (status, list) = get(&format!("{admin}/rest/users"), Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["recordsTotal"], 1);
    assert_eq!(list["data"][0], user);
    let report = install.run(&["users", "report", "--account", &org]);
    assert!(report.contains("alice@acme.example"), "{report}");
    again.stop();
    if backend == Backend::Sqlite {
        assert!(
            Path::new(install.dir.path())
                .join("data/lanyard.db")
                .is_file()
        );
    }
}

#[actix_rt::test]
async fn up_on_sqlite() {
    up_serves_three_services_and_keeps_data_across_restarts(Backend::Sqlite).await;
}

#[actix_rt::test]
async fn up_on_postgres() {
    up_serves_three_services_and_keeps_data_across_restarts(Backend::Postgres).await;
}

#[test]
fn a_bad_setting_is_refused_by_name() {
    let dir = tempfile::tempdir().expect("dir");
    let out = Command::new(LANYARD)
        .arg("migrate")
        .current_dir(dir.path())
        .env("LANYARD_DATABASE__POOL_SIZE", "0")
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("database.pool_size"));
    let out = Command::new(LANYARD)
        .arg("migrate")
        .current_dir(dir.path())
        .env("LANYARD_DATABASE__URL", "missing.db")
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
}
