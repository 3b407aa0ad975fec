//! End to end: the real `lanyard` binary, started as an operator would, on SQLite and on
//! PostgreSQL, talked to over HTTPS by curl — with the platform CA it wrote, and with client
//! certificates of management keys (mutual TLS).

use actix_web::http::StatusCode;
use lanyard_store::Backend;
use lanyard_store::testing::TestDb;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

const LANYARD: &str = env!("CARGO_BIN_EXE_lanyard");

/// An environment for one installation: a data directory and, for PostgreSQL, a schema.
struct Installation {
    /// Extra environment of every `lanyard` command (settings of one scenario).
    env: Vec<(String, String)>,
    dir: tempfile::TempDir,
    database_url: String,
    _db: Option<TestDb>,
}

impl Installation {
    fn new(backend: Backend) -> Option<Self> {
        let dir = tempfile::tempdir().expect("dir");
        match backend {
            Backend::Sqlite => Some(Self {
                env: Vec::new(),
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
                    env: Vec::new(),
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
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
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
        self.up_with_log(Stdio::inherit())
    }

    /// `lanyard up` with its log (standard error) going to `log`.
    fn up_with_log(&self, log: Stdio) -> Running {
        let mut child = self
            .command(&["up"])
            .stdout(Stdio::piped())
            .stderr(log)
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
            if let Some(url) = line.split_whitespace().find(|w| w.starts_with("https://"))
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

impl Installation {
    /// The organization "Acme" (through the CLI, as an operator makes it) with an API token:
    /// its OID, the token, and the `Authorization` header that carries it.
    fn acme(&self) -> (String, String, String) {
        let org = self.run(&[
            "org",
            "create",
            "--name",
            "Acme",
            "--email",
            "it@acme.example",
        ]);
        let token = self.run(&["api-token", "create", "--account", &org]);
        let auth = format!("Authorization: Bearer {token}");
        (org, token, auth)
    }

    /// The platform CA certificate `lanyard up` wrote.
    fn ca(&self) -> String {
        self.dir.path().join("data/ca.pem").display().to_string()
    }

    /// A new application `name` (through /rest) and an application key's PEM bundle for it
    /// (through the CLI): the application id and the PEM's path.
    fn application_key(&self, admin: &str, auth: &str, org: &str, name: &str) -> (String, String) {
        let body = json!({ "name": name }).to_string();
        let (status, app) = self.curl(
            "POST",
            &format!("{admin}/rest/applications"),
            &[
                "-H",
                auth,
                "-H",
                "Content-Type: application/json",
                "-d",
                &body,
            ],
        );
        assert_eq!(status, StatusCode::OK, "{app}");
        let id = app["id"].as_str().expect("id").to_owned();
        let pem = self.path(&format!("{name}.pem"));
        self.run(&[
            "access-key",
            "create",
            "--account",
            org,
            "--name",
            name,
            "--kind",
            "application",
            "--application",
            &id,
            "--out",
            &pem,
        ]);
        (id, pem)
    }

    /// `POST /frontend/messages` with `body` as the application of `pem` (mutual TLS); the
    /// message object, after checking the answer is 200.
    fn send_message(&self, frontend: &str, pem: &str, body: &str) -> Value {
        let (status, sent) = self.curl_version(
            "1",
            "POST",
            frontend,
            &[
                "--cert",
                pem,
                "-H",
                "Content-Type: application/json",
                "-d",
                body,
            ],
        );
        assert_eq!(status, StatusCode::OK, "{sent}");
        sent
    }

    /// Creates end user `alias` (e-mail `<alias>@acme.example`) through /rest; its OID.
    fn create_user(&self, admin: &str, auth: &str, alias: &str, full_name: &str) -> String {
        let body = json!({"userId": alias, "email": format!("{alias}@acme.example"), "fullName": full_name})
            .to_string();
        let (status, user) = self.curl(
            "POST",
            &format!("{admin}/rest/users"),
            &[
                "-H",
                auth,
                "-H",
                "Content-Type: application/json",
                "-d",
                &body,
            ],
        );
        assert_eq!(status, StatusCode::OK, "{user}");
        user["oid"].as_str().expect("oid").to_owned()
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// A request by curl over HTTPS, verifying the server against the platform CA; `extra`
    /// adds curl options (a client certificate, a body). Returns the status and the JSON body.
    fn curl(&self, method: &str, url: &str, extra: &[&str]) -> (StatusCode, Value) {
        self.curl_version("2", method, url, extra)
    }

    /// Waits for `listener` (`lanyard-device listen … --auto approve`) to end and checks that
    /// it heard message `id` and approved it, and that the application, tracking it through
    /// `frontend` with `app_pem`, sees `user` APPROVED. Returns what the listener printed.
    fn heard_and_approved(
        &self,
        listener: Child,
        frontend: &str,
        app_pem: &str,
        id: &str,
        user: &str,
    ) -> Value {
        let out = listener.wait_with_output().expect("listener ends");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let heard: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(heard["delivered"][0]["message"]["messageId"], id);
        assert_eq!(heard["delivered"][0]["answer"]["status"], "APPROVED");
        let (_, tracked) = self.curl_version(
            "1",
            "GET",
            &format!("{frontend}/{id}"),
            &["--cert", app_pem],
        );
        assert_eq!(
            tracked["recipients"],
            json!([{"userId": user, "status": "APPROVED"}])
        );
        heard
    }

    /// As [`Self::curl`] with another `X-PBM-API-VERSION` (the messaging API is version 1).
    fn curl_version(
        &self,
        version: &str,
        method: &str,
        url: &str,
        extra: &[&str],
    ) -> (StatusCode, Value) {
        let out = Command::new("curl")
            .args([
                "-sS",
                "--max-time",
                "10",
                "--cacert",
                &self.ca(),
                "-X",
                method,
            ])
            .args([
                "-H",
                &format!("X-PBM-API-VERSION: {version}"),
                "-w",
                "\n%{http_code}",
            ])
            .args(extra)
            .arg(url)
            .output()
            .expect("curl runs");
        assert!(
            out.status.success(),
            "curl {url}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).expect("utf-8");
        let (body, code) = text.rsplit_once('\n').expect("status line");
        let status = StatusCode::from_u16(code.trim().parse().expect("code")).expect("status");
        let value = serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_owned()));
        (status, value)
    }

    fn get(&self, url: &str, token: Option<&str>) -> (StatusCode, Value) {
        match token {
            Some(t) => self.curl("GET", url, &["-H", &format!("Authorization: Bearer {t}")]),
            None => self.curl("GET", url, &[]),
        }
    }
}

fn up_serves_three_services_and_keeps_data_across_restarts(backend: Backend) {
    let Some(install) = Installation::new(backend) else {
        return;
    };
    let running = install.up();
    for url in &running.urls {
        let (status, body) = install.get(&format!("{url}/healthz"), None);
        assert_eq!(status, StatusCode::OK, "{url}");
        assert_eq!(body["status"], "ok");
        let (status, _) = install.get(&format!("{url}/readyz"), None);
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
    let (status, page) = install.get(&link, None);
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
    let body = json!({"userId": "alice", "email": "alice@acme.example"}).to_string();
    let (status, user) = install.curl(
        "POST",
        &format!("{admin}/rest/users"),
        &[
            "-H",
            &format!("Authorization: Bearer {token}"),
            "-H",
            "Content-Type: application/json",
            "-d",
            &body,
        ],
    );
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
    let (status, list) = install.get(&format!("{admin}/rest/users"), Some(&token));
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

/// Security review, finding 9: a secret in a path (the enrollment link's) is never written to
/// the log; the request line shows where it was, redacted.
fn secrets_in_paths_never_reach_the_log(backend: Backend) {
    let Some(mut install) = Installation::new(backend) else {
        return;
    };
    install
        .env
        .push(("LANYARD_LOG__FILTER".to_owned(), "info".to_owned()));
    let log_path = install.dir.path().join("lanyard.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let running = install.up_with_log(Stdio::from(log));
    let admin = running.urls[0].clone();
    let (_, token, auth) = install.acme();
    let oid = install.create_user(&admin, &auth, "hana", "Hana");
    let (status, created) = install.curl(
        "POST",
        &format!("{admin}/rest/users/{oid}/enrollments"),
        &["-H", &auth],
    );
    assert_eq!(status, StatusCode::OK, "{created}");
    let link = created["deviceConfigUrl"].as_str().expect("url").to_owned();
    let (status, config) = install.curl("GET", &link, &[]);
    assert_eq!(status, StatusCode::OK, "{config}");
    let secret = link
        .rsplit('/')
        .next()
        .and_then(|s| s.split('?').next())
        .expect("secret")
        .to_owned();
    running.stop();
    let written = std::fs::read_to_string(&log_path).expect("log");
    assert!(
        written.contains("/deviceConfig/") && written.contains("[redacted]"),
        "the request is logged, redacted: {written}"
    );
    assert!(!written.contains(&secret), "the secret is not in the log");
    assert!(!written.contains(&token), "nor is the API token");
}

#[test]
fn secrets_stay_out_of_the_log_on_sqlite() {
    secrets_in_paths_never_reach_the_log(Backend::Sqlite);
}

#[test]
fn secrets_stay_out_of_the_log_on_postgres() {
    secrets_in_paths_never_reach_the_log(Backend::Postgres);
}

#[test]
fn up_on_sqlite() {
    up_serves_three_services_and_keeps_data_across_restarts(Backend::Sqlite);
}

#[test]
fn up_on_postgres() {
    up_serves_three_services_and_keeps_data_across_restarts(Backend::Postgres);
}

/// A certificate of `org` issued as if three years ago, so that it has expired by now.
fn expired_certificate(install: &Installation, org_oid: &str) -> Vec<u8> {
    use lanyard_identity::access_key::{self, KeyKind, KeySource};
    let target = if install.database_url.is_empty() {
        lanyard_store::DatabaseTarget::Sqlite(install.dir.path().join("data/lanyard.db"))
    } else {
        lanyard_store::DatabaseTarget::parse(&install.database_url, None).expect("url")
    };
    let pool = lanyard_store::pool(target, &lanyard_store::PoolOptions::default());
    let conn = &mut *pool.get().expect("connection");
    let master = lanyard_pki::MasterKey::from_text(
        &std::fs::read_to_string(install.dir.path().join("data/master.key")).expect("key file"),
    )
    .expect("master key");
    let account = lanyard_identity::account::find_by_oid(
        conn,
        &lanyard_core::Oid::parse(org_oid).expect("oid"),
    )
    .expect("account");
    let actor = lanyard_identity::rights::Actor::api_token(account.id.clone(), "test");
    let then = lanyard_core::FixedClock::new(chrono::Utc::now() - chrono::TimeDelta::days(3 * 365));
    let issued = access_key::create(
        conn,
        &then,
        &master,
        &actor,
        &account.id,
        KeyKind::Management,
        "old",
        None,
        KeySource::Generate,
        "https://unused.example",
    )
    .expect("old key");
    access_key::download_pem(
        conn,
        &then,
        &master,
        &actor,
        &account.id,
        &issued.certificate.serial,
    )
    .expect("pem")
}

fn management_keys_over_mutual_tls(backend: Backend) {
    let Some(install) = Installation::new(backend) else {
        return;
    };
    let running = install.up();
    let (admin, device) = (running.urls[0].clone(), running.urls[2].clone());
    let acme = install.run(&[
        "org",
        "create",
        "--name",
        "Acme",
        "--email",
        "it@acme.example",
    ]);
    let globex = install.run(&[
        "org",
        "create",
        "--name",
        "Globex",
        "--email",
        "it@globex.example",
    ]);
    let (a_pem, b_pem) = (install.path("acme.pem"), install.path("globex.pem"));
    let serial = install.run(&[
        "access-key",
        "create",
        "--account",
        &acme,
        "--name",
        "ops",
        "--out",
        &a_pem,
    ]);
    install.run(&[
        "access-key",
        "create",
        "--account",
        &globex,
        "--name",
        "ops",
        "--out",
        &b_pem,
    ]);
    let mode = std::fs::metadata(&a_pem).expect("pem").permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600,
        "the key file is private"
    );

    // curl --cert with the downloaded PEM manages end users.
    let body = json!({"userId": "alice", "email": "alice@acme.example"}).to_string();
    let (status, user) = install.curl(
        "POST",
        &format!("{admin}/rest/users"),
        &[
            "--cert",
            &a_pem,
            "-H",
            "Content-Type: application/json",
            "-d",
            &body,
        ],
    );
    assert_eq!(status, StatusCode::OK, "{user}");
    let (status, list) = install.curl("GET", &format!("{admin}/rest/users"), &["--cert", &a_pem]);
    assert_eq!(
        (status, list["recordsTotal"].clone()),
        (StatusCode::OK, json!(1))
    );

    // An application key: the messaging API takes it, the management API does not; the
    // messaging API takes nothing else.
    let (status, app) = install.curl(
        "POST",
        &format!("{admin}/rest/applications"),
        &[
            "--cert",
            &a_pem,
            "-H",
            "Content-Type: application/json",
            "-d",
            r#"{"name":"billing"}"#,
        ],
    );
    assert_eq!(status, StatusCode::OK, "{app}");
    let app_pem = install.path("app.pem");
    install.run(&[
        "access-key",
        "create",
        "--account",
        &acme,
        "--name",
        "billing",
        "--kind",
        "application",
        "--application",
        app["id"].as_str().expect("id"),
        "--out",
        &app_pem,
    ]);
    let auth = running.urls[1].clone();
    let frontend = format!("{auth}/frontend/messages/none");
    let (status, error) = install.curl_version("1", "GET", &frontend, &["--cert", &app_pem]);
    assert_eq!(
        (status.as_u16(), error["code"].clone()),
        (420, json!("NOT_FOUND")),
        "authenticated: {error}"
    );
    for (extra, says) in [
        (vec!["--cert", a_pem.as_str()], "not an application key"),
        (vec![], "is required"),
    ] {
        let (status, error) = install.curl_version("1", "GET", &frontend, &extra);
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{error}");
        assert!(
            error["message"].as_str().is_some_and(|m| m.contains(says)),
            "{error}"
        );
    }
    let (status, error) =
        install.curl("GET", &format!("{admin}/rest/users"), &["--cert", &app_pem]);
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{error}");

    // Another organization's certificate sees nothing of Acme's.
    let (status, list) = install.curl("GET", &format!("{admin}/rest/users"), &["--cert", &b_pem]);
    assert_eq!(
        (status, list["recordsTotal"].clone()),
        (StatusCode::OK, json!(0))
    );
    let alice = format!("{admin}/rest/users/{}", user["oid"].as_str().expect("oid"));
    let (status, error) = install.curl("GET", &alice, &["--cert", &b_pem]);
    assert_eq!(
        (status.as_u16(), error["code"].clone()),
        (420, json!("NOT_FOUND")),
        "{error}"
    );

    // No credentials at all.
    let (status, error) = install.curl("GET", &format!("{admin}/rest/users"), &[]);
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("client certificate")),
        "{error}"
    );

    // A certificate from another CA, and an expired one of this platform: clear 401s.
    let foreign = install.path("foreign.pem");
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "30",
        ])
        .args([
            "-subj",
            "/CN=ops/O=Acme",
            "-keyout",
            &foreign,
            "-out",
            &install.path("foreign.crt"),
        ])
        .status()
        .expect("openssl");
    assert!(made.success());
    let mut bundle = std::fs::read(install.path("foreign.crt")).expect("crt");
    bundle.extend(std::fs::read(&foreign).expect("key"));
    std::fs::write(&foreign, bundle).expect("bundle");
    let expired = install.path("expired.pem");
    std::fs::write(&expired, expired_certificate(&install, &acme)).expect("expired pem");
    for pem in [&foreign, &expired] {
        let (status, error) = install.curl("GET", &format!("{admin}/rest/users"), &["--cert", pem]);
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{pem}: {error}");
        assert!(
            error["message"]
                .as_str()
                .is_some_and(|m| m.contains("revoked, expired, or not issued by this platform")),
            "{error}"
        );
    }

    // Revoked by another process (the command line): refused on the very next request, and
    // listed in the CRL that admin-api and device-api publish.
    install.run(&[
        "access-key",
        "revoke",
        "--account",
        &acme,
        "--serial",
        &serial,
    ]);
    let (status, _) = install.curl("GET", &format!("{admin}/rest/users"), &["--cert", &a_pem]);
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    for base in [&admin, &device] {
        let file = install.path("access-keys.crl");
        let out = Command::new("curl")
            .args(["-sS", "--fail", "--cacert", &install.ca(), "-o", &file])
            .arg(format!("{base}/crl/access-keys-1.crl"))
            .status()
            .expect("curl");
        assert!(out.success());
        let text = Command::new("openssl")
            .args(["crl", "-inform", "DER", "-noout", "-text", "-in", &file])
            .output()
            .expect("openssl");
        assert!(
            String::from_utf8_lossy(&text.stdout).contains(&serial),
            "{base}: the CRL lists {serial}"
        );
    }
    running.stop();

    // Rotation: a new issuing CA, then a new master key. Certificates of the old CA keep
    // working; the old master key no longer starts the service.
    assert_eq!(
        install.run(&["pki", "rotate", "--ca", "access-keys"]),
        "access-keys-2"
    );
    let new_key = install.path("master2.key");
    install.run(&["pki", "rotate-master-key", "--new-key-file", &new_key]);
    let refused = install.command(&["bootstrap"]).output().expect("run");
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("sealed with master key"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    std::fs::write(
        install.dir.path().join("lanyard.toml"),
        format!("[pki]\nmaster_key_file = {new_key:?}\n"),
    )
    .expect("config");
    let running = install.up();
    let admin = running.urls[0].clone();
    let (status, _) = install.curl("GET", &format!("{admin}/rest/users"), &["--cert", &b_pem]);
    assert_eq!(
        status,
        StatusCode::OK,
        "a certificate of the previous CA generation still works"
    );
    let fresh = install.path("fresh.pem");
    install.run(&[
        "access-key",
        "create",
        "--account",
        &globex,
        "--name",
        "fresh",
        "--out",
        &fresh,
    ]);
    let (status, _) = install.curl("GET", &format!("{admin}/rest/users"), &["--cert", &fresh]);
    assert_eq!(
        status,
        StatusCode::OK,
        "and so does one of the new generation"
    );
    running.stop();
}

#[test]
fn management_keys_over_mutual_tls_on_sqlite() {
    management_keys_over_mutual_tls(Backend::Sqlite);
}

#[test]
fn management_keys_over_mutual_tls_on_postgres() {
    management_keys_over_mutual_tls(Backend::Postgres);
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

/// The enrollment steps and device calls over real TLS, with curl and openssl as the phone.
fn a_phone_enrolls_and_calls_with_its_certificate(backend: Backend) {
    let Some(install) = Installation::new(backend) else {
        return;
    };
    let running = install.up();
    let (admin, device) = (running.urls[0].clone(), running.urls[2].clone());
    let (_, _, auth) = install.acme();
    let oid = install.create_user(&admin, &auth, "hana", "Hana");
    let enrollments = format!("{admin}/rest/users/{oid}/enrollments");
    // The phone: open the link, make a key and a request, enroll. Returns the enrollment answer
    // and the PEM (certificate chain and key) it then uses as its identity.
    let enroll = |name: &str| -> (Value, String) {
        let (status, created) = install.curl("POST", &enrollments, &["-H", &auth]);
        assert_eq!(status, StatusCode::OK, "{created}");
        let link = created["deviceConfigUrl"].as_str().expect("url").to_owned();
        assert!(
            link.starts_with(&format!("{device}/deviceConfig/")),
            "{link}"
        );
        let (status, config) = install.curl("GET", &link, &[]);
        assert_eq!(status, StatusCode::OK, "{config}");
        let (key, csr) = (
            install.path(&format!("{name}.key")),
            install.path(&format!("{name}.csr")),
        );
        let made = Command::new("openssl")
            .args([
                "req",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
            ])
            .args(["-subj", "/CN=phone", "-keyout", &key, "-out", &csr])
            .output()
            .expect("openssl");
        assert!(made.status.success());
        let secret = link
            .rsplit('/')
            .next()
            .and_then(|t| t.split('?').next())
            .expect("secret");
        let request = json!({"secret": secret, "deviceName": name, "vendorId": format!("vendor-{name}"),
            "deviceType": "OTHER", "appVersion": "1.0.0", "csr": std::fs::read_to_string(&csr).expect("csr")})
        .to_string();
        let enroll_url = config["enrollUrl"].as_str().expect("enroll url");
        let (status, enrolled) = install.curl(
            "POST",
            enroll_url,
            &["-H", "Content-Type: application/json", "-d", &request],
        );
        assert_eq!(status, StatusCode::OK, "{enrolled}");
        let identity = install.path(&format!("{name}.pem"));
        std::fs::write(
            &identity,
            format!(
                "{}{}",
                enrolled["certificateChain"].as_str().expect("chain"),
                std::fs::read_to_string(&key).expect("key")
            ),
        )
        .expect("pem");
        (enrolled, identity)
    };
    let (enrolled, identity) = enroll("first");
    let (_, list) = install.curl("GET", &enrollments, &["-H", &auth]);
    assert_eq!(list["data"][0]["state"], "USED");
    let (status, me) = install.curl("GET", &format!("{device}/device"), &["--cert", &identity]);
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["deviceId"], enrolled["deviceId"]);
    let (status, _) = install.curl("GET", &format!("{device}/device"), &[]);
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, devices) = install.curl(
        "GET",
        &format!("{admin}/rest/users/{oid}/devices"),
        &["-H", &auth],
    );
    assert_eq!(
        devices["data"],
        json!([{"deviceName": "first", "vendorId": "vendor-first", "customerFullName": "Hana", "deviceType": "OTHER"}])
    );

    // A device certificate is no management credential.
    let (status, _) = install.curl(
        "GET",
        &format!("{admin}/rest/users"),
        &["--cert", &identity],
    );
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // The administrator deactivates it with the person's deactivation code: refused next call.
    let deactivations = format!("{admin}/rest/devices/deactivations");
    let wrong = json!({"deactivationPassword": "nope", "vendorId": "vendor-first"}).to_string();
    let (status, error) = install.curl(
        "POST",
        &deactivations,
        &[
            "-H",
            &auth,
            "-H",
            "Content-Type: application/json",
            "-d",
            &wrong,
        ],
    );
    assert_eq!(
        (status.as_u16(), error["code"].clone()),
        (420, json!("FORBIDDEN")),
        "{error}"
    );
    let right =
        json!({"suspensionPassword": enrolled["deactivationCode"], "vendorId": "vendor-first"})
            .to_string();
    let (status, _) = install.curl(
        "POST",
        &deactivations,
        &[
            "-H",
            &auth,
            "-H",
            "Content-Type: application/json",
            "-d",
            &right,
        ],
    );
    assert_eq!(status, StatusCode::OK);
    let (status, refused) =
        install.curl("GET", &format!("{device}/device"), &["--cert", &identity]);
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{refused}");
    let (_, devices) = install.curl("GET", &format!("{admin}/rest/devices"), &["-H", &auth]);
    assert_eq!(devices["data"], json!([]));

    // A second phone deregisters itself.
    let (_, second) = enroll("second");
    let (status, _) = install.curl("DELETE", &format!("{device}/device"), &["--cert", &second]);
    assert_eq!(status, StatusCode::OK);
    let (status, _) = install.curl("GET", &format!("{device}/device"), &["--cert", &second]);
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    running.stop();
}

#[test]
fn a_phone_enrolls_on_sqlite() {
    a_phone_enrolls_and_calls_with_its_certificate(Backend::Sqlite);
}

#[test]
fn a_phone_enrolls_on_postgres() {
    a_phone_enrolls_and_calls_with_its_certificate(Backend::Postgres);
}

/// `lanyard-device`, built beside `lanyard` by `cargo test --workspace` (or
/// `cargo build -p lanyard-device`).
fn lanyard_device() -> std::path::PathBuf {
    let path = Path::new(LANYARD).with_file_name("lanyard-device");
    assert!(
        path.exists(),
        "{} is missing: cargo build -p lanyard-device",
        path.display()
    );
    path
}

/// Runs `lanyard-device`; its JSON answer, or its error message.
fn device_cli(state: &Path, args: &[&str]) -> Result<Value, String> {
    let out = Command::new(lanyard_device())
        .arg("--state")
        .arg(state)
        .args(args)
        .output()
        .expect("run lanyard-device");
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).expect("JSON answer"))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// `lanyard-device listen` for one message, approving it; its output tells what happened.
fn listen_and_approve(state: &Path) -> Child {
    Command::new(lanyard_device())
        .arg("--state")
        .arg(state)
        .args(["listen", "--count", "1", "--auto", "approve"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("lanyard-device listen")
}

/// A real SMTP server (Python's aiosmtpd) on loopback, writing what it receives to a maildir.
struct SmtpServer {
    child: Child,
    port: u16,
    maildir: std::path::PathBuf,
}

impl SmtpServer {
    fn start(dir: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        let maildir = dir.join("maildir");
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .spawn()
            .expect("python3 with aiosmtpd (installed by scripts/setup)");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "aiosmtpd did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Self {
            child,
            port,
            maildir,
        }
    }

    /// The plain-text body of the first message to `to` whose subject contains `subject`,
    /// decoded by Python's e-mail parser; waits up to 30 s for it.
    fn wait_for(&self, to: &str, subject: &str) -> String {
        let script = r#"
import email, email.policy, pathlib, sys
for f in sorted(pathlib.Path(sys.argv[1]).glob("new/*")):
    m = email.message_from_binary_file(open(f, "rb"), policy=email.policy.default)
    if sys.argv[2] in str(m["To"]) and sys.argv[3] in str(m["Subject"]):
        print(m.get_body(preferencelist=("plain",)).get_content())
        break
"#;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let out = Command::new("python3")
                .args(["-c", script])
                .arg(&self.maildir)
                .args([to, subject])
                .output()
                .expect("python3");
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            if !text.trim().is_empty() {
                return text;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no mail to {to} about {subject:?}"
            );
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _gone = self.child.kill();
        let _reaped = self.child.wait();
    }
}

/// Decodes the QR code on page 1 of a PDF with poppler and zbar (tools Lanyard did not write);
/// returns the decoded text and the page image.
fn qr_of_pdf(pdf: &Path) -> (String, std::path::PathBuf) {
    let stem = pdf.with_extension("");
    let rendered = Command::new("pdftoppm")
        .args(["-png", "-r", "150", "-singlefile"])
        .arg(pdf)
        .arg(&stem)
        .status()
        .expect("pdftoppm (poppler-utils, installed by scripts/setup --test)");
    assert!(rendered.success());
    let png = stem.with_extension("png");
    let out = Command::new("zbarimg")
        .args(["--quiet", "--raw"])
        .arg(&png)
        .output()
        .expect("zbarimg (zbar-tools, installed by scripts/setup --test)");
    assert!(out.status.success(), "no QR code found on the sheet");
    (String::from_utf8_lossy(&out.stdout).trim().to_owned(), png)
}

/// Issue 5's path end to end over real TLS and a real SMTP server: an administrator creates an
/// enrollment through /rest and downloads its sheet; the QR code read off the rendered PDF
/// enrolls `lanyard-device`; the confirmation letter arrives with the deactivation code, and the
/// self-service page deactivates the phone with it; the next call of the device is refused.
fn a_sheet_enrolls_lanyard_device_and_the_letter_deactivates_it(backend: Backend) {
    let Some(mut install) = Installation::new(backend) else {
        return;
    };
    let smtp = SmtpServer::start(install.dir.path());
    for (k, v) in [
        ("LANYARD_MAIL__TRANSPORT", "smtp".to_owned()),
        ("LANYARD_MAIL__SMTP_HOST", "127.0.0.1".to_owned()),
        ("LANYARD_MAIL__SMTP_PORT", smtp.port.to_string()),
        ("LANYARD_MAIL__SMTP_SECURITY", "none".to_owned()),
        // The callback receiver below listens on loopback, which callbacks may not reach
        // unless the operator allows it (docs/security.md).
        (
            "LANYARD_CALLBACKS__ALLOWED_NETWORKS",
            "127.0.0.0/8".to_owned(),
        ),
    ] {
        install.env.push((k.to_owned(), v));
    }
    let running = install.up();
    let (admin, device) = (running.urls[0].clone(), running.urls[2].clone());
    let (org, _, auth) = install.acme();
    let create_user =
        |alias: &str| -> String { install.create_user(&admin, &auth, alias, "Hana Nováková") };
    // An enrollment and its sheet, downloaded as an administrator's script would.
    let sheet = |oid: &str, name: &str| -> (Value, std::path::PathBuf) {
        let (status, created) = install.curl(
            "POST",
            &format!("{admin}/rest/users/{oid}/enrollments"),
            &["-H", &auth],
        );
        assert_eq!(status, StatusCode::OK, "{created}");
        let id = created["enrollmentId"].as_str().expect("id");
        let pdf = install.dir.path().join(format!("{name}.pdf"));
        let out = Command::new("curl")
            .args(["-sS", "--fail", "--cacert", &install.ca(), "-H", &auth])
            .args(["-H", "X-PBM-API-VERSION: 2", "-o"])
            .arg(&pdf)
            .arg(format!("{admin}/download/users/{oid}/enrollments/{id}/pdf"))
            .output()
            .expect("curl");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(std::fs::read(&pdf).expect("pdf").starts_with(b"%PDF-"));
        (created, pdf)
    };

    let hana = create_user("hana");
    let (created, pdf) = sheet(&hana, "hana");
    let (link, _) = qr_of_pdf(&pdf);
    assert_eq!(link, created["deviceConfigUrl"].as_str().expect("url"));
    assert!(
        link.starts_with(&format!("{device}/deviceConfig/")),
        "{link}"
    );

    let phone = install.dir.path().join("hana-phone");
    let enrolled = device_cli(
        &phone,
        &[
            "enroll",
            &link,
            "--ca-file",
            &install.ca(),
            "--name",
            "Hana's phone",
        ],
    )
    .expect("lanyard-device enrolls");
    let code = enrolled["deactivationCode"]
        .as_str()
        .expect("code")
        .to_owned();
    assert_eq!(enrolled["device"]["person"]["id"], "hana");
    assert_eq!(enrolled["device"]["organization"]["name"], "Acme");
    let (_, devices) = install.curl(
        "GET",
        &format!("{admin}/rest/users/{hana}/devices"),
        &["-H", &auth],
    );
    assert_eq!(
        devices["data"][0]["deviceName"], "Hana's phone",
        "{devices}"
    );
    let (_, list) = install.curl(
        "GET",
        &format!("{admin}/rest/users/{hana}/enrollments"),
        &["-H", &auth],
    );
    assert_eq!(list["data"][0]["state"], "USED");
    let shown = device_cli(&phone, &["show"]).expect("show");
    assert_eq!(shown["server"]["deviceId"], enrolled["device"]["deviceId"]);
    // The link works once.
    let again = device_cli(
        &install.dir.path().join("thief"),
        &["enroll", &link, "--ca-file", &install.ca()],
    )
    .expect_err("used");
    assert!(
        again.contains("NOT_ALLOWED") && again.contains("already used"),
        "{again}"
    );

    // The confirmation letter, at the SMTP server, with the code and the page's link.
    let letter = smtp.wait_for("hana@acme.example", "enrolled");
    assert!(letter.contains(&code), "{letter}");
    let page_link = letter
        .split_whitespace()
        .find(|w| w.starts_with(&format!("{device}/deactivate?organization=")))
        .expect("link to the self-service page")
        .to_owned();
    let page = Command::new("curl")
        .args(["-sS", "--fail", "--cacert", &install.ca(), &page_link])
        .output()
        .expect("curl");
    let page = String::from_utf8_lossy(&page.stdout).into_owned();
    let hidden = |name: &str| -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = page.find(&marker).map(|i| i + marker.len()).expect(name);
        page[start..].split('"').next().expect("value").to_owned()
    };
    let challenge = hidden("challenge");
    let nonce = lanyard_enrollment::human_check::solve(
        &challenge,
        hidden("difficulty").parse().expect("n"),
    );
    let out = Command::new("curl")
        .args(["-sS", "--cacert", &install.ca(), "-w", "\n%{http_code}"])
        .args([
            "--data-urlencode",
            &format!("organization={}", hidden("organization")),
        ])
        .args(["--data-urlencode", &format!("code={code}")])
        .args(["--data-urlencode", &format!("challenge={challenge}")])
        .args([
            "--data-urlencode",
            &format!("signature={}", hidden("signature")),
        ])
        .args(["--data-urlencode", &format!("nonce={nonce}")])
        .arg(format!("{device}/deactivate"))
        .output()
        .expect("curl");
    let answer = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(answer.trim_end().ends_with("200"), "{answer}");
    assert!(answer.contains("is deactivated"), "{answer}");
    let refused = device_cli(&phone, &["show"]).expect_err("deactivated");
    assert!(refused.contains("UNAUTHORIZED"), "{refused}");
    let (_, devices) = install.curl(
        "GET",
        &format!("{admin}/rest/users/{hana}/devices"),
        &["-H", &auth],
    );
    assert_eq!(devices["data"], json!([]));

    // Another person enrolls from a picture of the sheet (the client reads the QR code itself),
    // then deregisters.
    let ivo = create_user("ivo");
    let (_, pdf) = sheet(&ivo, "ivo");
    let (_, png) = qr_of_pdf(&pdf);
    let phone = install.dir.path().join("ivo-phone");
    let png = png.display().to_string();
    device_cli(
        &phone,
        &[
            "enroll",
            "--qr",
            &png,
            "--ca-file",
            &install.ca(),
            "--device-type",
            "android",
            "--app-version",
            "3.1",
        ],
    )
    .expect("enroll from the picture");
    assert!(device_cli(&phone, &["show"]).is_ok());

    // An application sends Ivo an authorization over mutual TLS; the phone sees it, approves it
    // with signed evidences, and the application's track says APPROVED.
    let (app_id, app_pem) = install.application_key(&admin, &auth, &org, "bank");
    let frontend = format!("{}/frontend/messages", running.urls[1]);
    let body = r#"{"recipients":["ivo"],"subject":"Log in?","body":"Approve the login to the bank.","availability":120,"type":"authorization","callbackUrl":null}"#;
    let sent = install.send_message(&frontend, &app_pem, body);
    assert_eq!(
        sent["recipients"],
        json!([{"userId": "ivo", "status": "PENDING"}])
    );
    let id = sent["messageId"].as_str().expect("messageId").to_owned();
    let inbox = device_cli(&phone, &["messages"]).expect("messages");
    assert_eq!(inbox["data"][0]["messageId"], id.as_str());
    assert_eq!(inbox["data"][0]["secureId"], sent["secureId"]);
    let approved = device_cli(&phone, &["approve", &id]).expect("approve");
    assert_eq!(approved["status"], "APPROVED");
    let (status, tracked) = install.curl_version(
        "1",
        "GET",
        &format!("{frontend}/{id}"),
        &["--cert", &app_pem],
    );
    assert_eq!(status, StatusCode::OK, "{tracked}");
    assert_eq!(
        tracked["recipients"],
        json!([{"userId": "ivo", "status": "APPROVED"}])
    );
    let again = device_cli(&phone, &["deny", &id]).expect_err("decided");
    assert!(again.contains("ALREADY_COMPLETED"), "{again}");

    // The real-time channel: the phone listens first; a message sent afterwards reaches it and
    // is approved automatically.
    let listener = listen_and_approve(&phone);
    std::thread::sleep(std::time::Duration::from_millis(700));
    // …with a callback receiver (Python's http.server) that writes down what it gets.
    let callback_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let received = install.dir.path().join("callbacks.jsonl");
    let receiver_script = r#"
import http.server, json, sys
out = open(sys.argv[2], "a")
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        out.write(json.dumps({"sig": self.headers.get("X-Lanyard-Signature"), "body": body.decode()}) + "\n")
        out.flush()
        self.send_response(204)
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"#;
    let mut receiver = Command::new("python3")
        .args(["-c", receiver_script, &callback_port.to_string()])
        .arg(&received)
        .spawn()
        .expect("python3");
    let body = format!(
        r#"{{"recipients":["ivo"],"subject":"Pay 10 EUR?","body":"To the shop.","availability":120,"type":"esign","callbackUrl":"http://127.0.0.1:{callback_port}/hook"}}"#
    );
    let body = body.as_str();
    let sent = install.send_message(&frontend, &app_pem, body);
    let id = sent["messageId"].as_str().expect("messageId").to_owned();
    let heard = install.heard_and_approved(listener, &frontend, &app_pem, &id, "ivo");
    assert_eq!(heard["delivered"][0]["message"]["status"], "NOTIFIED");
    // The callback of the approval arrived, signed with the application's secret.
    let (_, secret) = install.curl(
        "GET",
        &format!("{admin}/rest/applications/{app_id}/callbackSecret"),
        &["-H", &auth],
    );
    let secret = secret["secret"].as_str().expect("secret").to_owned();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let approved_callback = loop {
        let lines = std::fs::read_to_string(&received).unwrap_or_default();
        if let Some(line) = lines.lines().find(|l| l.contains("APPROVED")) {
            break serde_json::from_str::<Value>(line).expect("json line");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no APPROVED callback: {lines}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    let _stopped = receiver.kill();
    let _reaped = receiver.wait();
    let posted: Value =
        serde_json::from_str(approved_callback["body"].as_str().expect("body")).expect("json");
    assert_eq!(posted["messageId"], id.as_str());
    assert_eq!(
        posted["recipients"],
        json!([{"userId": "ivo", "status": "APPROVED"}])
    );
    let header = approved_callback["sig"].as_str().expect("signature header");
    let (t, v1) = header
        .strip_prefix("t=")
        .and_then(|rest| rest.split_once(",v1="))
        .expect("t=…,v1=…");
    let mac = lanyard_pki::hmac_sha256(
        secret.as_bytes(),
        format!("{t}.{}", approved_callback["body"].as_str().expect("body")).as_bytes(),
    )
    .expect("hmac");
    let expected: String = mac.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        v1, expected,
        "the callback is signed with the application's secret"
    );

    // The evidences, downloaded through the management API, verify with OpenSSL against the
    // platform CA; a changed byte does not.
    let (status, listed) = install.curl(
        "GET",
        &format!("{admin}/rest/messages/{id}/evidences"),
        &["-H", &auth],
    );
    assert_eq!(status, StatusCode::OK, "{listed}");
    let kinds: Vec<(String, String)> = listed["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap_or_default().to_owned(),
                e["decision"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("PROOF_OF_DELIVERY".to_owned(), "DOWNLOADED".to_owned()),
            ("SIGNED_TRANSACTION".to_owned(), "APPROVED".to_owned())
        ]
    );
    let evidence_id = listed["data"][1]["evidenceId"].as_str().expect("id");
    let der = install.dir.path().join("evidence.p7m");
    let fetched = Command::new("curl")
        .args(["-sS", "--fail", "--cacert", &install.ca(), "-H", &auth])
        .args(["-H", "X-PBM-API-VERSION: 2", "-o"])
        .arg(&der)
        .arg(format!(
            "{admin}/download/messages/{id}/evidences/{evidence_id}"
        ))
        .output()
        .expect("curl");
    assert!(
        fetched.status.success(),
        "{}",
        String::from_utf8_lossy(&fetched.stderr)
    );
    let verify = |file: &Path| {
        Command::new("openssl")
            .args([
                "cms",
                "-verify",
                "-inform",
                "DER",
                "-binary",
                "-out",
                "/dev/null",
                "-CAfile",
                &install.ca(),
                "-in",
            ])
            .arg(file)
            .output()
            .expect("openssl")
            .status
            .success()
    };
    assert!(verify(&der), "openssl cms -verify accepts the evidence");
    let mut bytes = std::fs::read(&der).expect("evidence");
    let at = bytes
        .windows(8)
        .position(|w| w == b"APPROVED")
        .expect("statement inside");
    bytes[at] = b'X';
    let tampered = install.dir.path().join("tampered.p7m");
    std::fs::write(&tampered, bytes).expect("write");
    assert!(
        !verify(&tampered),
        "a changed byte fails verification offline"
    );

    let push = device_cli(&phone, &["push", "--token", "fcm-token-1"]).expect("push");
    assert_eq!(push["pushRegistration"], "fcm-token-1");
    let bad = device_cli(&phone, &["push", "--token", &"x".repeat(5000)]).expect_err("too long");
    assert!(
        bad.contains("MALFORMED_INPUT") && bad.contains("pushRegistration"),
        "{bad}"
    );
    let gone = device_cli(&phone, &["deregister"]).expect("deregister");
    assert!(gone["deregistered"].is_string());
    assert!(device_cli(&phone, &["show"]).is_err());
    running.stop();
}

#[test]
fn a_sheet_enrolls_lanyard_device_on_sqlite() {
    a_sheet_enrolls_lanyard_device_and_the_letter_deactivates_it(Backend::Sqlite);
}

#[test]
fn a_sheet_enrolls_lanyard_device_on_postgres() {
    a_sheet_enrolls_lanyard_device_and_the_letter_deactivates_it(Backend::Postgres);
}

/// A message sent through one process's auth-api reaches a phone connected to another process's
/// device-api, the two sharing only the database (and the data directory's master key).
fn a_message_crosses_processes(backend: Backend) {
    let Some(install) = Installation::new(backend) else {
        return;
    };
    let running = install.up();
    let admin = running.urls[0].clone();
    let (org, _, auth) = install.acme();
    let oid = install.create_user(&admin, &auth, "pia", "Pia");
    let (_, created) = install.curl(
        "POST",
        &format!("{admin}/rest/users/{oid}/enrollments"),
        &["-H", &auth],
    );
    let link = created["deviceConfigUrl"]
        .as_str()
        .expect("link")
        .to_owned();
    let phone = install.dir.path().join("pia-phone");
    device_cli(&phone, &["enroll", &link, "--ca-file", &install.ca()]).expect("enroll");

    // A second device-api process on the same database.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let mut other = Command::new(Path::new(LANYARD).with_file_name("lanyard-device-api"))
        .current_dir(install.dir.path())
        .env_remove("LANYARD_CONFIG")
        .env("LANYARD_DATABASE__URL", &install.database_url)
        .env("LANYARD_DEVICE_API__BIND", format!("127.0.0.1:{port}"))
        .env("LANYARD_LOG__FILTER", "warn")
        .spawn()
        .expect("lanyard-device-api");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the second device-api did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // The phone talks to the second process from now on (as behind a load balancer).
    let state_file = phone.join("device.json");
    let mut state: Value =
        serde_json::from_slice(&std::fs::read(&state_file).expect("state")).expect("json");
    state["deviceApi"] = json!(format!("https://127.0.0.1:{port}"));
    std::fs::write(&state_file, serde_json::to_vec(&state).expect("json")).expect("write");
    let listener = listen_and_approve(&phone);

    let (_, app_pem) = install.application_key(&admin, &auth, &org, "bank");
    let frontend = format!("{}/frontend/messages", running.urls[1]);
    let body = r#"{"recipients":["pia"],"subject":"Log in?","body":"b","availability":60,"type":"authorization","callbackUrl":null}"#;
    let sent = install.send_message(&frontend, &app_pem, body);
    let id = sent["messageId"].as_str().expect("id").to_owned();
    install.heard_and_approved(listener, &frontend, &app_pem, &id, "pia");
    let _stopped = other.kill();
    let _reaped = other.wait();
    running.stop();
}

#[test]
fn a_message_crosses_processes_on_postgres() {
    a_message_crosses_processes(Backend::Postgres);
}

#[test]
fn a_message_crosses_processes_on_sqlite() {
    a_message_crosses_processes(Backend::Sqlite);
}
