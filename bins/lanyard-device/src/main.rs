//! `lanyard-device`: the reference Lanyard device on the command line.
//!
//! ```text
//! lanyard-device --state DIR enroll <deviceConfigUrl> [--qr IMAGE] [--ca-file ca.pem] [--name …]
//! lanyard-device --state DIR show
//! lanyard-device --state DIR push --token <push token> | --none
//! lanyard-device --state DIR messages | approve ID | deny ID | seen ID
//! lanyard-device --state DIR listen [--count N] [--auto none|receive|seen|approve|deny]
//! lanyard-device --state DIR deregister
//! ```
//!
//! Answers are JSON on standard output; a refusal is `CODE: message` on standard error with
//! exit status 1.

use clap::{Parser, Subcommand, ValueEnum};
use lanyard_device_client::{
    Answer, Device, DeviceError, DeviceType, EnrollOptions, KeyType, Tls, configuration, enroll,
    read_qr,
};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "lanyard-device",
    version,
    about = "The reference Lanyard device: enroll, show, answer messages, deregister"
)]
struct Cli {
    /// Directory that keeps this device's key, certificate and state.
    #[arg(long, env = "LANYARD_DEVICE_STATE", default_value = "lanyard-device")]
    state: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    Android,
    Apple,
    Other,
}

#[derive(Clone, Copy, ValueEnum)]
enum Key {
    Ec,
    Rsa,
}

#[derive(Clone, Copy, ValueEnum)]
enum Auto {
    /// Only receive (proof of delivery is not sent either).
    None,
    /// Acknowledge receipt.
    Receive,
    /// Mark seen.
    Seen,
    /// Approve authorizations and e-sign requests (mark general messages seen).
    Approve,
    /// Deny authorizations and e-sign requests (mark general messages seen).
    Deny,
}

#[derive(Subcommand)]
enum Command {
    /// Enroll with an enrollment link (deviceConfigUrl), or with the QR code in an image.
    Enroll {
        /// The deviceConfigUrl (omit with --qr).
        link: Option<String>,
        /// Read the link from the QR code in this PNG or JPEG image.
        #[arg(long, conflicts_with = "link")]
        qr: Option<PathBuf>,
        /// Extra CA certificates (PEM) to trust for the server, e.g. data/ca.pem.
        #[arg(long)]
        ca_file: Option<PathBuf>,
        /// Device name shown to administrators.
        #[arg(long, default_value = "lanyard-device")]
        name: String,
        /// Stable id of this device.
        #[arg(long)]
        vendor_id: Option<String>,
        /// Kind of phone to present as.
        #[arg(long, value_enum, default_value = "other")]
        device_type: Kind,
        /// App version to report.
        #[arg(long, default_value = env!("CARGO_PKG_VERSION"))]
        app_version: String,
        /// Push registration token to register.
        #[arg(long)]
        push_registration: Option<String>,
        /// Key to generate.
        #[arg(long, value_enum, default_value = "ec")]
        key: Key,
        /// Only show what the link offers; do not enroll.
        #[arg(long)]
        dry_run: bool,
    },
    /// Show this device, as kept locally and as the server sees it.
    Show {
        /// Report this app version from now on (after an update).
        #[arg(long)]
        app_version: Option<String>,
    },
    /// Register a new push token with the server (or none).
    Push {
        /// The token the platform's push service gave.
        #[arg(long, required_unless_present = "none")]
        token: Option<String>,
        /// Stop push notifications to this device.
        #[arg(long, conflicts_with = "token")]
        none: bool,
    },
    /// The person's open messages.
    Messages,
    /// Listen on the real-time channel until COUNT messages arrived, answering each as --auto says.
    Listen {
        /// Messages to wait for.
        #[arg(long, default_value_t = 1)]
        count: usize,
        /// Answer every message automatically (tests, load tests).
        #[arg(long, value_enum, default_value = "none")]
        auto: Auto,
        /// The secureId to type for messages that enforce its validation.
        #[arg(long)]
        secure_id: Option<String>,
    },
    /// Approve a message (authorization, esign), with a signed evidence.
    Approve {
        /// messageId.
        id: String,
        /// The secureId the application shows, as the person types it: needed when the message
        /// enforces secureId validation.
        #[arg(long)]
        secure_id: Option<String>,
    },
    /// Deny a message (authorization, esign), with a signed evidence.
    Deny {
        /// messageId.
        id: String,
    },
    /// Mark a message seen, with a signed evidence.
    Seen {
        /// messageId.
        id: String,
        /// The secureId the application shows, as the person types it: needed to open a
        /// one-time password that enforces secureId validation.
        #[arg(long)]
        secure_id: Option<String>,
    },
    /// Deregister this device: its certificate is revoked and the local state removed.
    Deregister,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match actix_rt::System::new().block_on(run(cli)) {
        Ok(out) => {
            println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("lanyard-device: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<serde_json::Value, DeviceError> {
    match cli.command {
        Command::Enroll {
            link,
            qr,
            ca_file,
            name,
            vendor_id,
            device_type,
            app_version,
            push_registration,
            key,
            dry_run,
        } => {
            let link = match (link, qr) {
                (Some(l), _) => l,
                (None, Some(image)) => read_qr(&image)?,
                (None, None) => {
                    return Err(DeviceError::Input(
                        "give the enrollment link, or --qr with an image of its QR code".into(),
                    ));
                }
            };
            let tls = Tls { ca_file };
            if dry_run {
                return Ok(json(&configuration(&link, &tls).await?));
            }
            let options = EnrollOptions {
                vendor_id: vendor_id.unwrap_or_else(|| format!("lanyard-device:{name}")),
                device_name: name,
                device_type: match device_type {
                    Kind::Android => DeviceType::Android,
                    Kind::Apple => DeviceType::Apple,
                    Kind::Other => DeviceType::Other,
                },
                app_version,
                push_registration,
                key_type: match key {
                    Key::Ec => KeyType::EcP256,
                    Key::Rsa => KeyType::Rsa2048,
                },
            };
            Ok(json(&enroll(&cli.state, &link, &tls, &options).await?))
        }
        Command::Show { app_version } => {
            let mut device = Device::open(&cli.state)?;
            if let Some(v) = app_version {
                device.set_app_version(&v)?;
            }
            let server = device.whoami().await?;
            Ok(serde_json::json!({ "local": json(device.state()), "server": json(&server) }))
        }
        Command::Push { token, none } => {
            let device = Device::open(&cli.state)?;
            let token = if none { None } else { token };
            let saved = device.set_push_registration(token.as_deref()).await?;
            Ok(serde_json::json!({ "pushRegistration": saved }))
        }
        Command::Messages => {
            let device = Device::open(&cli.state)?;
            Ok(serde_json::json!({ "data": json(&device.inbox().await?) }))
        }
        Command::Listen {
            count,
            auto,
            secure_id,
        } => {
            let device = Device::open(&cli.state)?;
            let delivered = device
                .listen_typed(count, secure_id.as_deref(), |m| {
                    let decides = matches!(m.kind.as_str(), "authorization" | "esign");
                    match auto {
                        Auto::None => None,
                        Auto::Receive => Some(Answer::Received),
                        Auto::Seen => Some(Answer::Seen),
                        Auto::Approve if decides => Some(Answer::Approve),
                        Auto::Deny if decides => Some(Answer::Deny),
                        Auto::Approve | Auto::Deny => Some(Answer::Seen),
                    }
                })
                .await?;
            Ok(serde_json::json!({ "delivered": json(&delivered) }))
        }
        Command::Approve { id, secure_id } => {
            let device = Device::open(&cli.state)?;
            Ok(json(
                &device
                    .answer_typed(&id, Answer::Approve, secure_id.as_deref())
                    .await?,
            ))
        }
        Command::Deny { id } => answer(&cli.state, &id, Answer::Deny).await,
        Command::Seen { id, secure_id } => {
            let device = Device::open(&cli.state)?;
            Ok(json(
                &device
                    .answer_typed(&id, Answer::Seen, secure_id.as_deref())
                    .await?,
            ))
        }
        Command::Deregister => {
            let device = Device::open(&cli.state)?;
            let id = device.deregister().await?;
            Ok(serde_json::json!({ "deregistered": id }))
        }
    }
}

async fn answer(
    state: &std::path::Path,
    id: &str,
    answer: Answer,
) -> Result<serde_json::Value, DeviceError> {
    let device = Device::open(state)?;
    Ok(json(&device.answer(id, answer).await?))
}

/// Any answer as a JSON value.
fn json<T: serde::Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}
