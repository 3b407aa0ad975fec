//! `lanyard`: the ops command line — run everything for development (`up`), migrate, bootstrap,
//! create organizations and API tokens, export reports.

use anyhow::Context;
use clap::{Parser, Subcommand};
use lanyard_core::{Email, Oid, SystemClock};
use lanyard_identity::account::{self, NewAccount};
use lanyard_identity::{AccountKind, api_token, report};
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
            let operator = lanyard_identity::rights::Actor {
                account: booted.platform.id.clone(),
                rights: lanyard_identity::rights::Rights::all(),
                scope: lanyard_identity::rights::Scope::Subtree,
                name: "lanyard (operator)".into(),
                email: None,
                administrator: None,
            };
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
        lanyard_web::mail_sender::spawn(state.clone())?;
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
        for (service, listener) in listeners {
            let address = listener.local_addr()?;
            lines.push(format!("  {:<11} http://{address}", service.name()));
            if service == Service::Admin {
                admin_url = format!("http://{address}");
            }
            servers.push(server::serve_without_signals(
                service.name(),
                listener,
                state.clone(),
                configure_of(service),
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
        print_banner(
            &admin_url,
            &database,
            booted.oid_root.as_str(),
            &lines,
            setup.as_deref(),
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
) {
    println!("Lanyard is running.");
    println!("  database    {database}");
    println!("  OID root    {oid_root}");
    for line in lines {
        println!("{line}");
    }
    println!();
    println!("Check:   curl {admin}/healthz");
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
        "  3. an end user:      curl -H 'X-PBM-API-VERSION: 2' -H 'Authorization: Bearer <token>' \\"
    );
    println!(
        "                         -d '{{\"userId\":\"alice\",\"email\":\"alice@acme.example\"}}' {admin}/rest/users"
    );
    println!("More in README.md. Stop with Ctrl-C.");
}
