//! `lanyard`: the ops command line — run everything for development (`up`), migrate, bootstrap,
//! create organizations and API tokens, export reports.

use anyhow::Context;
use clap::{Parser, Subcommand};
use lanyard_core::{Email, Oid, SystemClock};
use lanyard_identity::account::{self, NewAccount};
use lanyard_identity::{AccountKind, access_key, api_token, platform_pki, report};
use lanyard_web::config::Settings;
use lanyard_web::server;
use lanyard_web::startup::{self, Service};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(name = "lanyard", version, about = "Lanyard operations")]
struct Cli {
    /// Configuration file (default: lanyard.toml if present; also LANYARD_CONFIG).
    #[arg(long, global = true, env = "LANYARD_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run admin-api, auth-api and device-api in one process (migrates and bootstraps first).
    Up,
    /// Apply pending database migrations (a no-op when there are none).
    Migrate,
    /// Migrate and bootstrap the installation (OID root, platform account); idempotent.
    Bootstrap,
    /// Organizations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// API tokens of the management API.
    #[command(subcommand, name = "api-token")]
    ApiToken(TokenCommand),
    /// End users.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Administrators.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Access keys (client certificates for the management and messaging APIs).
    #[command(subcommand, name = "access-key")]
    AccessKey(AccessKeyCommand),
    /// The platform PKI.
    #[command(subcommand)]
    Pki(PkiCommand),
}

#[derive(Debug, Subcommand)]
enum AccessKeyCommand {
    /// Add a key with its first certificate and write the PEM (certificate, chain and, for a
    /// generated key pair, the private key) to --out. Prints the certificate's serial number.
    Create {
        /// OID of the account.
        #[arg(long)]
        account: String,
        /// Name of the key.
        #[arg(long)]
        name: String,
        /// `management` or `application`.
        #[arg(long, default_value = "management")]
        kind: String,
        /// Application id (application keys).
        #[arg(long)]
        application: Option<String>,
        /// Your own PKCS#10 request (PEM or DER); without it the server generates the key pair.
        #[arg(long)]
        csr: Option<PathBuf>,
        /// Where to write the PEM (created with permissions 0600).
        #[arg(long)]
        out: PathBuf,
    },
    /// Revoke a certificate; every service refuses it from the next request on.
    Revoke {
        /// OID of the account.
        #[arg(long)]
        account: String,
        /// Serial number (hex).
        #[arg(long)]
        serial: String,
    },
}

#[derive(Debug, Subcommand)]
enum PkiCommand {
    /// Start a new generation of an issuing CA (access-keys, devices, evidence, tls); running
    /// services issue from it at once. The old one keeps publishing its CRL and its certificates
    /// stay valid. (Development server certificates come from the tls CA at each start.)
    Rotate {
        /// Purpose of the CA.
        #[arg(long)]
        ca: String,
    },
    /// Re-seal every sealed secret under a new master key, written to --new-key-file (0600).
    /// Then point pki.master_key_file (or LANYARD_PKI__MASTER_KEY) at the new key and restart:
    /// until then running services cannot sign (their key no longer opens the CAs).
    RotateMasterKey {
        /// File to create with the new key.
        #[arg(long)]
        new_key_file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Print a new one-time setup link for an administrator of the platform account (the first
    /// start prints one; use this when it is lost).
    SetupLink,
    /// Invite the first (or another) administrator of an account by e-mail, with the built-in
    /// Administrator profile over the whole account. The invitation goes out through the outbox.
    Invite {
        /// OID of the account.
        #[arg(long)]
        account: String,
        /// The administrator's e-mail (login name).
        #[arg(long)]
        email: String,
    },
}

#[derive(Debug, Subcommand)]
enum OrgCommand {
    /// Create an organization (below the platform, or below --parent).
    Create {
        /// Name of the account.
        #[arg(long)]
        name: String,
        /// `organization` (default) or `distributor`.
        #[arg(long, default_value = "organization")]
        kind: String,
        /// Contact e-mail (printed on enrollment sheets).
        #[arg(long)]
        email: Option<String>,
        /// OID of the parent distributor (default: the platform).
        #[arg(long)]
        parent: Option<String>,
    },
    /// List all accounts.
    List,
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a token for an organization; the token is printed once.
    Create {
        /// OID of the organization.
        #[arg(long)]
        account: String,
        /// A name to recognise the token by.
        #[arg(long, default_value = "cli")]
        name: String,
    },
    /// List an organization's tokens (never the tokens themselves).
    List {
        /// OID of the organization.
        #[arg(long)]
        account: String,
    },
    /// Revoke a token by its id.
    Revoke {
        /// Token id (from `api-token list`).
        #[arg(long)]
        id: String,
    },
}

#[derive(Debug, Subcommand)]
enum UsersCommand {
    /// Write the users report (.csv) of an organization.
    Report {
        /// OID of the organization.
        #[arg(long)]
        account: String,
        /// Output file (default: standard output).
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("lanyard: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn parse_oid(what: &str, raw: &str) -> anyhow::Result<Oid> {
    Oid::parse(raw).with_context(|| format!("--{what}"))
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let mut settings = Settings::load(cli.config.as_deref())?;
    if !matches!(cli.command, Command::Up) {
        // One-shot commands print their result; routine start-up logs would only be noise.
        settings.log.filter = "warn".into();
    }
    lanyard_web::telemetry::init(&settings.log);
    let clock = SystemClock;
    match cli.command {
        Command::Up => up(settings),
        Command::Migrate => {
            let target = settings.database_target()?;
            if let lanyard_store::DatabaseTarget::Sqlite(path) = &target
                && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("data.dir {}", dir.display()))?;
            }
            let mut conn = lanyard_store::ConnectionManager::new(target).establish()?;
            let applied = lanyard_store::migrate(&mut conn)?;
            if applied.is_empty() {
                println!("database is up to date");
            } else {
                println!(
                    "applied {} migration(s): {}",
                    applied.len(),
                    applied.join(", ")
                );
            }
            Ok(())
        }
        Command::Bootstrap => {
            let (_, booted) = startup::prepare(settings)?;
            println!(
                "{} installation: OID root {}, platform account {}",
                if booted.created {
                    "bootstrapped the"
                } else {
                    "already bootstrapped:"
                },
                booted.oid_root.as_str(),
                booted.platform.oid
            );
            Ok(())
        }
        Command::Org(OrgCommand::Create {
            name,
            kind,
            email,
            parent,
        }) => {
            let kind = match kind.as_str() {
                "organization" => AccountKind::Organization,
                "distributor" => AccountKind::Distributor,
                other => anyhow::bail!("--kind: {other:?} is not organization or distributor"),
            };
            let (state, _) = startup::prepare(settings)?;
            let contact_email = email
                .map(|e| Email::parse(&e).with_context(|| "--email"))
                .transpose()?;
            let parent = parent.map(|p| parse_oid("parent", &p)).transpose()?;
            let created = account::create(
                &mut *state.pool.get()?,
                &clock,
                NewAccount {
                    kind,
                    name,
                    contact_email,
                    parent,
                },
            )?;
            println!("{}", created.oid);
            eprintln!(
                "created {} {:?}; next: lanyard api-token create --account {} (organizations), or lanyard admin invite --account {} --email ...",
                created.kind.as_str(),
                created.name,
                created.oid,
                created.oid
            );
            Ok(())
        }
        Command::Org(OrgCommand::List) => {
            let (state, _) = startup::prepare(settings)?;
            for a in account::list(&mut *state.pool.get()?)? {
                println!(
                    "{}\t{}\t{}\t{}",
                    a.oid,
                    a.kind.as_str(),
                    a.status.as_str(),
                    a.name
                );
            }
            Ok(())
        }
        Command::ApiToken(TokenCommand::Create { account, name }) => {
            let (state, _) = startup::prepare(settings)?;
            let oid = parse_oid("account", &account)?;
            let created = api_token::create(&mut *state.pool.get()?, &clock, &oid, &name)?;
            println!("{}", created.secret.expose());
            eprintln!(
                "token {} for {} created; it is shown only now. Use it as: Authorization: Bearer <token>",
                created.token.id, created.token.account_oid
            );
            Ok(())
        }
        Command::ApiToken(TokenCommand::List { account }) => {
            let (state, _) = startup::prepare(settings)?;
            let oid = parse_oid("account", &account)?;
            for t in api_token::list(&mut *state.pool.get()?, &oid)? {
                let status = if t.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                println!("{}\t{}…\t{}\t{}", t.id, t.prefix, status, t.name);
            }
            Ok(())
        }
        Command::ApiToken(TokenCommand::Revoke { id }) => {
            let (state, _) = startup::prepare(settings)?;
            api_token::revoke(&mut *state.pool.get()?, &clock, &id)?;
            println!("revoked {id}");
            Ok(())
        }
        Command::AccessKey(AccessKeyCommand::Create {
            account,
            name,
            kind,
            application,
            csr,
            out,
        }) => {
            let (state, _) = startup::prepare(settings)?;
            let oid = parse_oid("account", &account)?;
            let conn = &mut *state.pool.get()?;
            let target = account::find_by_oid(conn, &oid)?;
            let actor = operator(&target.id);
            let request = csr
                .map(|path| {
                    std::fs::read(&path).with_context(|| format!("--csr {}", path.display()))
                })
                .transpose()?;
            let source = match &request {
                Some(bytes) => access_key::KeySource::Csr(bytes),
                None => access_key::KeySource::Generate,
            };
            let issued = access_key::create(
                conn,
                &clock,
                &state.master_key,
                &actor,
                &target.id,
                access_key::KeyKind::parse(&kind)?,
                &name,
                application.as_deref(),
                source,
                &state.crl_base(),
            )?;
            let pem = access_key::download_pem(
                conn,
                &clock,
                &state.master_key,
                &actor,
                &target.id,
                &issued.certificate.serial,
            )?;
            write_private(&out, &pem)?;
            println!("{}", issued.certificate.serial);
            eprintln!(
                "key {} ({}) created; certificate {} written to {}",
                issued.key.name,
                issued.key.kind.as_str(),
                issued.certificate.serial,
                out.display()
            );
            Ok(())
        }
        Command::AccessKey(AccessKeyCommand::Revoke { account, serial }) => {
            let (state, _) = startup::prepare(settings)?;
            let oid = parse_oid("account", &account)?;
            let conn = &mut *state.pool.get()?;
            let target = account::find_by_oid(conn, &oid)?;
            access_key::revoke(
                conn,
                &clock,
                &state.master_key,
                &operator(&target.id),
                &target.id,
                &serial,
            )?;
            println!("revoked {serial}");
            Ok(())
        }
        Command::Pki(PkiCommand::Rotate { ca }) => {
            let (state, _) = startup::prepare(settings)?;
            let purpose = platform_pki::Purpose::parse(&ca)
                .filter(|p| *p != platform_pki::Purpose::Root)
                .with_context(|| {
                    format!("--ca {ca:?}: one of access-keys, devices, evidence, tls")
                })?;
            let id = platform_pki::rotate(
                &mut *state.pool.get()?,
                &clock,
                &state.master_key,
                purpose,
                state.settings.pki.installation_name.trim(),
                &state.crl_base(),
            )?;
            println!("{id}");
            Ok(())
        }
        Command::Pki(PkiCommand::RotateMasterKey { new_key_file }) => {
            let (state, _) = startup::prepare(settings)?;
            let new = lanyard_pki::MasterKey::generate()?;
            write_private(&new_key_file, format!("{}\n", new.to_text()).as_bytes())?;
            let count = rotate_master_key(&mut *state.pool.get()?, &state.master_key, &new)?;
            println!("{}", new.id());
            eprintln!(
                "{count} secrets re-sealed under master key {} ({}); point pki.master_key_file at it and restart every service",
                new.id(),
                new_key_file.display()
            );
            Ok(())
        }
        Command::Admin(AdminCommand::SetupLink) => {
            let (state, _) = startup::prepare(settings)?;
            let link = setup_link(&state)?;
            println!("{link}");
            Ok(())
        }
        Command::Admin(AdminCommand::Invite { account, email }) => {
            let (state, booted) = startup::prepare(settings)?;
            let oid = parse_oid("account", &account)?;
            let email = Email::parse(&email).with_context(|| "--email")?;
            let links = state.links();
            let mut conn = state.pool.get()?;
            let target = account::find_by_oid(&mut conn, &oid)?;
            let builtin = lanyard_identity::profile::builtin(&mut conn, &target.id)?;
            let operator = lanyard_identity::rights::Actor::operator(
                booted.platform.id.clone(),
                "lanyard (operator)",
            );
            let created = lanyard_identity::admin::invite(
                &mut conn,
                &clock,
                &links,
                &operator,
                &target.id,
                Some(&email),
                &builtin.id,
                &lanyard_identity::admin::ScopeChoice::All,
            )?;
            println!(
                "invited {email} to {} (invitation {}…, valid until {})",
                target.name, created.handle, created.expires_at
            );
            eprintln!(
                "the invitation e-mail is delivered by a running admin-api (lanyard up): see data/mail/ with the default file transport"
            );
            Ok(())
        }
        Command::Users(UsersCommand::Report { account, output }) => {
            let (state, _) = startup::prepare(settings)?;
            let oid = parse_oid("account", &account)?;
            let mut conn = state.pool.get()?;
            let owner = account::find_by_oid(&mut conn, &oid)?;
            let mut out: Box<dyn Write> = match &output {
                Some(path) => Box::new(std::io::BufWriter::new(
                    std::fs::File::create(path)
                        .with_context(|| format!("--output {}", path.display()))?,
                )),
                None => Box::new(std::io::stdout().lock()),
            };
            let rows = report::users_csv(&mut conn, &owner.id, |chunk| out.write_all(&chunk))?;
            out.flush()?;
            eprintln!("{rows} users written");
            Ok(())
        }
    }
}

fn up(settings: Settings) -> anyhow::Result<()> {
    actix_web::rt::System::new().block_on(async move {
        let listeners = [Service::Admin, Service::Auth, Service::Device]
            .map(|service| startup::listen(service, &settings).map(|l| (service, l)));
        let mut settings = settings;
        let listeners: Vec<_> = listeners.into_iter().collect::<Result<_, _>>()?;
        for (service, listener) in &listeners {
            startup::record_bound_address(&mut settings, *service, listener)?;
        }
        let database = settings.database_target()?.redacted();
        let (state, booted) = actix_web::web::block(move || startup::prepare(settings))
            .await
            .context("startup task")??;
        let mut state = state;
        // device-api is one of the three servers here: its channels hear other processes.
        state.listen_for_wakeups()?;
        lanyard_web::mail_sender::spawn(state.clone())?;
        lanyard_web::housekeeping::spawn(state.clone());
        // Listen for the stop signals before anything is announced, once for all three servers.
        let mut terminate = actix_web::rt::signal::unix::signal(
            actix_web::rt::signal::unix::SignalKind::terminate(),
        )?;
        let mut interrupt = actix_web::rt::signal::unix::signal(
            actix_web::rt::signal::unix::SignalKind::interrupt(),
        )?;
        let mut servers = Vec::new();
        let mut lines = Vec::new();
        let mut admin_url = String::new();
        let scheme = if state.settings.tls_enabled() {
            "https"
        } else {
            "http"
        };
        for (service, listener) in listeners {
            let address = listener.local_addr()?;
            lines.push(format!("  {:<11} {scheme}://{address}", service.name()));
            if service == Service::Admin {
                admin_url = format!("{scheme}://{address}");
            }
            let tls = {
                let (state, listener) = (state.clone(), listener.try_clone()?);
                actix_web::web::block(move || startup::tls_acceptor(&state, service, &listener))
                    .await
                    .context("TLS set-up task")??
            };
            servers.push(server::serve_without_signals(
                service.name(),
                listener,
                state.clone(),
                configure_of(service),
                tls,
            )?);
        }
        let handles: Vec<_> = servers.iter().map(actix_web::dev::Server::handle).collect();
        let running: Vec<_> = servers.into_iter().map(actix_web::rt::spawn).collect();
        let setup = if booted.created {
            let state = state.clone();
            Some(
                actix_web::web::block(move || setup_link(&state))
                    .await
                    .context("setup link")??,
            )
        } else {
            None
        };
        let ca = state
            .settings
            .tls_enabled()
            .then(|| startup::ca_bundle_path(&state.settings));
        print_banner(
            &admin_url,
            &database,
            booted.oid_root.as_str(),
            &lines,
            setup.as_deref(),
            ca.as_deref(),
        );
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
        tracing::info!("stopping: finishing in-flight requests");
        futures_util::future::join_all(handles.iter().map(|h| h.stop(true))).await;
        for task in running {
            task.await.context("server task")??;
        }
        Ok(())
    })
}

/// The operator at the command line, acting on `account` (recorded as such in its history).
fn operator(account: &lanyard_core::id::AccountId) -> lanyard_identity::rights::Actor {
    lanyard_identity::rights::Actor::operator(account.clone(), "Operator (lanyard command line)")
}

/// Re-seals every sealed secret from `old` to `new` in one transaction: identity's (CA keys,
/// generated client keys, PFX passwords, link and evidence keys) and enrollment's (push
/// credentials). Orchestrated here, above both crates, so neither touches the other's tables.
fn rotate_master_key(
    conn: &mut lanyard_store::DbConnection,
    old: &lanyard_pki::MasterKey,
    new: &lanyard_pki::MasterKey,
) -> anyhow::Result<usize> {
    Ok(lanyard_store::write_transaction(conn, |conn| {
        let identity = platform_pki::rotate_master_key(conn, old, new)?;
        let push = lanyard_enrollment::push::reseal(conn, old, new)
            .map_err(lanyard_enrollment::EnrollmentError::into_identity)?;
        Ok::<_, lanyard_identity::IdentityError>(identity + push)
    })?)
}

/// Writes a file only its owner can read (private keys, master keys); refuses to overwrite.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("{} (it must not exist yet)", path.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}

/// A new one-time setup link for a platform administrator.
fn setup_link(state: &lanyard_web::AppState) -> anyhow::Result<String> {
    let links = state.links();
    let created =
        lanyard_identity::admin::setup_invitation(&mut *state.pool.get()?, &SystemClock, &links)?;
    Ok(format!(
        "{}/console/register?code={}",
        links.console,
        created.code.expose()
    ))
}

fn configure_of(service: Service) -> fn(&mut actix_web::web::ServiceConfig) {
    match service {
        Service::Admin => lanyard_admin_api::configure,
        Service::Auth => lanyard_auth_api::configure,
        Service::Device => lanyard_device_api::configure,
    }
}

fn print_banner(
    admin: &str,
    database: &str,
    oid_root: &str,
    lines: &[String],
    setup: Option<&str>,
    ca: Option<&std::path::Path>,
) {
    println!("Lanyard is running.");
    println!("  database    {database}");
    println!("  OID root    {oid_root}");
    for line in lines {
        println!("{line}");
    }
    let curl = match ca {
        Some(ca) => {
            println!("  CA          {}", ca.display());
            println!();
            println!(
                "The services use development certificates from the platform CA above; trust it"
            );
            println!("(curl --cacert, or import it in your browser) or accept the warning once.");
            format!("curl --cacert {}", ca.display())
        }
        None => "curl".to_owned(),
    };
    println!();
    println!("Check:   {curl} {admin}/healthz");
    if let Some(link) = setup {
        println!();
        println!(
            "First start: register the first platform administrator here (the link works once;"
        );
        println!("the activation code then arrives by e-mail, see data/mail/ by default):");
        println!("  {link}");
        println!("Lost it? cargo run -q -p lanyard -- admin setup-link");
    }
    println!("Console: {admin}/console");
    println!("Next, in another terminal:");
    println!(
        "  1. an organization:  cargo run -q -p lanyard -- org create --name Acme --email admin@acme.example"
    );
    println!(
        "  2. an API token:     cargo run -q -p lanyard -- api-token create --account <OID from step 1>"
    );
    println!(
        "  3. an end user:      {curl} -H 'X-PBM-API-VERSION: 2' -H 'Authorization: Bearer <token>' \\"
    );
    println!(
        "                         -d '{{\"userId\":\"alice\",\"email\":\"alice@acme.example\"}}' {admin}/rest/users"
    );
    println!("More in README.md. Stop with Ctrl-C.");
}
