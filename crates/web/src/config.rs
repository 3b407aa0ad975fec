//! Typed configuration: built-in defaults < TOML file < `LANYARD_SECTION__KEY` variables.
//!
//! Unknown keys are refused (a typo must not silently fall back to a default), and
//! [`Settings::load`] validates every value with a message that names the key.

use lanyard_core::OidRoot;
use lanyard_store::DatabaseTarget;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The built-in defaults, documented key by key in `docs/configuration.md`.
pub const DEFAULTS_TOML: &str = include_str!("../../../config/defaults.toml");

/// The configuration file read when none is named and it exists.
pub const DEFAULT_FILE: &str = "lanyard.toml";

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file is missing or unreadable, or a value has the wrong type or an unknown key.
    #[error("configuration: {0}")]
    Load(#[from] config::ConfigError),
    /// A value breaks a rule.
    #[error("configuration: {key}: {rule}")]
    Invalid {
        /// The key, as `section.key`.
        key: &'static str,
        /// The rule.
        rule: String,
    },
}

/// All settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// `[data]`
    pub data: DataSettings,
    /// `[database]`
    pub database: DatabaseSettings,
    /// `[bootstrap]`
    pub bootstrap: BootstrapSettings,
    /// `[admin_api]`
    pub admin_api: ServiceSettings,
    /// `[auth_api]`
    pub auth_api: ServiceSettings,
    /// `[device_api]`
    pub device_api: ServiceSettings,
    /// `[pki]`
    pub pki: PkiSettings,
    /// `[tls]`
    pub tls: TlsSettings,
    /// `[console]`
    pub console: ConsoleSettings,
    /// `[mail]`
    pub mail: MailSettings,
    /// `[log]`
    pub log: LogSettings,
    /// `[push]`
    pub push: PushSettings,
    /// `[callbacks]`
    pub callbacks: CallbackSettings,
}

/// `[callbacks]`: where applications' callbacks may go.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallbackSettings {
    /// Internal address ranges (loopback, private, link-local…) callbacks may reach anyway,
    /// comma separated CIDR ranges; empty (the default): none (docs/security.md).
    pub allowed_networks: String,
}

/// `[push]`: where the push gateways are.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushSettings {
    /// Firebase Cloud Messaging.
    pub fcm_url: String,
    /// Google's OAuth token endpoint for FCM (whatever `token_uri` a service account file names).
    pub fcm_token_url: String,
    /// Apple Push Notification service.
    pub apns_url: String,
    /// Extra CA certificates (PEM) to trust for the gateways ("" for the system's only).
    pub ca_file: String,
}

/// `[pki]`: the platform PKI.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PkiSettings {
    /// File with the master key; empty for `<data.dir>/master.key`.
    pub master_key_file: String,
    /// The master key itself (base64), overriding the file.
    pub master_key: lanyard_core::SecretString,
    /// Organization in the CA subjects.
    pub installation_name: String,
}

/// `[tls]`: how the services serve HTTPS.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    /// `dev`, `files` or `off`.
    pub mode: TlsMode,
    /// Server certificate chain (PEM) for `files`.
    pub cert_file: String,
    /// Server private key (PEM) for `files`.
    pub key_file: String,
}

/// Where the services' TLS server certificates come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Issued by the platform PKI at each start (development).
    Dev,
    /// From `tls.cert_file` and `tls.key_file`.
    Files,
    /// Plain HTTP (behind a TLS-terminating proxy).
    Off,
}

/// `[console]`: the web console.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleSettings {
    /// Whether anyone may register a new organization.
    pub self_registration: bool,
    /// What a console login needs after the password.
    pub login_approval: LoginApproval,
    /// Seconds the phone has to approve a login.
    pub login_approval_seconds: i64,
}

/// What a console login needs after the password (SPEC §1 "Login").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoginApproval {
    /// The approval of an authorization message on the administrator's enrolled phone; an
    /// administrator without a phone enters an e-mailed code and enrolls one first.
    Phone,
    /// Nothing: the password alone (development and tests only).
    Password,
}

/// `[mail]`: how e-mail leaves the outbox.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailSettings {
    /// `file` or `smtp`.
    pub transport: MailTransportKind,
    /// Sender address (`Name <address>`).
    pub from: String,
    /// SMTP server.
    pub smtp_host: String,
    /// SMTP port.
    pub smtp_port: u16,
    /// `starttls`, `tls` or `none`.
    pub smtp_security: SmtpSecurityKind,
    /// SMTP user name ("" for none).
    pub smtp_username: String,
    /// SMTP password.
    pub smtp_password: lanyard_core::SecretString,
}

/// Where e-mail goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailTransportKind {
    /// `.eml` files in `<data.dir>/mail`.
    File,
    /// An SMTP server.
    Smtp,
}

/// SMTP connection security.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurityKind {
    /// STARTTLS required.
    Starttls,
    /// TLS from the first byte.
    Tls,
    /// Plain (local relay only).
    None,
}

/// `[data]`: local state.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSettings {
    /// Directory of the embedded database.
    pub dir: PathBuf,
}

/// `[database]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// Database URL; empty for the data directory's SQLite file.
    pub url: String,
    /// Connections per service instance.
    pub pool_size: u32,
}

/// `[bootstrap]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BootstrapSettings {
    /// OID root arc for a new installation; empty for a random one under `2.25`.
    pub oid_root: String,
}

/// One service's listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSettings {
    /// Address and port to listen on.
    pub bind: String,
    /// Public base URL; empty for `https://<bind>` (`http://` when TLS is off), filled in at
    /// start.
    pub public_url: String,
}

impl ServiceSettings {
    /// The public base URL without a trailing slash.
    pub fn url(&self) -> String {
        if self.public_url.trim().is_empty() {
            format!("https://{}", self.bind)
        } else {
            self.public_url.trim().trim_end_matches('/').to_owned()
        }
    }
}

/// `[log]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// `tracing` filter directives.
    pub filter: String,
    /// `text` or `json`.
    pub format: LogFormat,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl Settings {
    /// Loads the defaults, then `file` (required when given; otherwise `lanyard.toml` if it
    /// exists), then the `LANYARD_…` environment variables; validates the result.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_from(file, std::env::vars())
    }

    /// As [`Settings::load`], with the environment given explicitly (for tests).
    pub fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut builder = config::Config::builder().add_source(config::File::from_str(
            DEFAULTS_TOML,
            config::FileFormat::Toml,
        ));
        builder = match file {
            Some(path) => builder.add_source(config::File::from(path).required(true)),
            None => builder.add_source(config::File::with_name(DEFAULT_FILE).required(false)),
        };
        let env: config::Map<String, String> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("LANYARD_") && k.contains("__"))
            .collect();
        builder = builder.add_source(
            config::Environment::with_prefix("LANYARD")
                .prefix_separator("_")
                .separator("__")
                .try_parsing(true)
                .source(Some(env)),
        );
        let settings: Self = builder.build()?.try_deserialize()?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, rule: String| Err(ConfigError::Invalid { key, rule });
        if self.data.dir.as_os_str().is_empty() {
            return invalid("data.dir", "must not be empty".into());
        }
        for (key, value) in [
            ("push.fcm_url", &self.push.fcm_url),
            ("push.fcm_token_url", &self.push.fcm_token_url),
            ("push.apns_url", &self.push.apns_url),
        ] {
            if !url::Url::parse(value).is_ok_and(|u| u.scheme() == "https") {
                return invalid(key, "must be an https URL".into());
            }
        }
        if let Err(e) = lanyard_identity::api_token::AllowList::parse(
            "callbacks.allowed_networks",
            &self.callbacks.allowed_networks,
        ) {
            return invalid("callbacks.allowed_networks", e.to_string());
        }
        if !(5..=600).contains(&self.console.login_approval_seconds) {
            return invalid(
                "console.login_approval_seconds",
                "must be between 5 and 600".into(),
            );
        }
        if !(1..=500).contains(&self.database.pool_size) {
            return invalid("database.pool_size", "must be between 1 and 500".into());
        }
        if let Err(e) = self.database_target() {
            return invalid("database.url", e.to_string());
        }
        if let Err(e) = self.oid_root() {
            return invalid("bootstrap.oid_root", e.to_string());
        }
        for (key, service) in [
            ("admin_api.bind", &self.admin_api),
            ("auth_api.bind", &self.auth_api),
            ("device_api.bind", &self.device_api),
        ] {
            if service.bind.parse::<SocketAddr>().is_err() {
                return invalid(key, format!("{:?} is not an address:port", service.bind));
            }
        }
        for (key, service) in [
            ("admin_api.public_url", &self.admin_api),
            ("auth_api.public_url", &self.auth_api),
            ("device_api.public_url", &self.device_api),
        ] {
            let url = service.public_url.trim();
            if !(url.is_empty() || url.starts_with("http://") || url.starts_with("https://")) {
                return invalid(key, "must start with http:// or https://".into());
            }
        }
        if self.mail.from.parse::<lettre::message::Mailbox>().is_err() {
            return invalid(
                "mail.from",
                format!(
                    "{:?} is not an address such as \"Lanyard <noreply@example.com>\"",
                    self.mail.from
                ),
            );
        }
        if self.tls.mode == TlsMode::Files {
            for (key, value) in [
                ("tls.cert_file", &self.tls.cert_file),
                ("tls.key_file", &self.tls.key_file),
            ] {
                if value.trim().is_empty() {
                    return invalid(key, "is required when tls.mode is \"files\"".into());
                }
            }
        }
        if self.pki.installation_name.trim().is_empty() {
            return invalid("pki.installation_name", "must not be empty".into());
        }
        if self.mail.transport == MailTransportKind::Smtp && self.mail.smtp_host.trim().is_empty() {
            return invalid(
                "mail.smtp_host",
                "is required when mail.transport is \"smtp\"".into(),
            );
        }
        Ok(())
    }

    /// The domain of the sender address, used in Message-IDs.
    pub fn mail_domain(&self) -> String {
        self.mail
            .from
            .parse::<lettre::message::Mailbox>()
            .map(|m| m.email.domain().to_owned())
            .unwrap_or_else(|_| "lanyard.localhost".into())
    }

    /// Where the master key file is.
    pub fn master_key_file(&self) -> PathBuf {
        let file = self.pki.master_key_file.trim();
        if file.is_empty() {
            self.data.dir.join("master.key")
        } else {
            PathBuf::from(file)
        }
    }

    /// Whether the services serve HTTPS.
    pub fn tls_enabled(&self) -> bool {
        self.tls.mode != TlsMode::Off
    }

    /// The data directory's own SQLite file.
    pub fn default_database_file(&self) -> PathBuf {
        self.data.dir.join("lanyard.db")
    }

    /// Where the database lives.
    pub fn database_target(&self) -> Result<DatabaseTarget, lanyard_store::StoreError> {
        let default = self.default_database_file();
        if self.database.url.trim().is_empty() {
            Ok(DatabaseTarget::Sqlite(default))
        } else {
            DatabaseTarget::parse(&self.database.url, Some(&default))
        }
    }

    /// The configured OID root for bootstrap, if any.
    pub fn oid_root(&self) -> Result<Option<OidRoot>, lanyard_core::oid::InvalidOid> {
        let raw = self.bootstrap.oid_root.trim();
        if raw.is_empty() {
            Ok(None)
        } else {
            OidRoot::parse(raw).map(Some)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    #[test]
    fn defaults_load_and_validate() {
        let s = Settings::load_from(None, env(&[])).expect("defaults");
        assert_eq!(s.admin_api.bind, "127.0.0.1:7401");
        assert_eq!(s.database.pool_size, 10);
        assert!(
            matches!(s.database_target(), Ok(DatabaseTarget::Sqlite(p)) if p.ends_with("lanyard.db"))
        );
    }

    #[test]
    fn file_then_environment_override_defaults() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("l.toml");
        std::fs::write(
            &file,
            "[database]\npool_size = 3\n[log]\nformat = \"json\"\n",
        )
        .expect("write");
        let s = Settings::load_from(
            Some(&file),
            env(&[
                ("LANYARD_DATABASE__POOL_SIZE", "7"),
                ("LANYARD_ADMIN_API__BIND", "0.0.0.0:9000"),
            ]),
        )
        .expect("load");
        assert_eq!(s.database.pool_size, 7);
        assert_eq!(s.log.format, LogFormat::Json);
        assert_eq!(s.admin_api.bind, "0.0.0.0:9000");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused_by_name() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("l.toml");
        std::fs::write(&file, "[database]\npool_sise = 3\n").expect("write");
        let err = Settings::load_from(Some(&file), env(&[])).expect_err("typo");
        assert!(err.to_string().contains("pool_sise"), "{err}");

        let err = Settings::load_from(None, env(&[("LANYARD_DATABASE__POOL_SIZE", "0")]))
            .expect_err("zero pool");
        assert!(err.to_string().contains("database.pool_size"), "{err}");

        let err = Settings::load_from(None, env(&[("LANYARD_AUTH_API__BIND", "nowhere")]))
            .expect_err("bad bind");
        assert!(err.to_string().contains("auth_api.bind"), "{err}");

        let err = Settings::load_from(None, env(&[("LANYARD_DATABASE__URL", "mysql://x")]))
            .expect_err("bad url");
        assert!(err.to_string().contains("database.url"), "{err}");

        let err = Settings::load_from(None, env(&[("LANYARD_BOOTSTRAP__OID_ROOT", "9.x")]))
            .expect_err("bad root");
        assert!(err.to_string().contains("bootstrap.oid_root"), "{err}");

        let err = Settings::load_from(None, env(&[("LANYARD_LOG__FORMAT", "xml")]))
            .expect_err("bad format");
        assert!(err.to_string().contains("xml"), "{err}");
    }

    #[test]
    fn every_default_key_is_documented() {
        let docs = include_str!("../../../docs/configuration.md");
        let defaults: toml::Table = DEFAULTS_TOML.parse().expect("defaults parse");
        for (section, keys) in &defaults {
            for key in keys.as_table().expect("sections only").keys() {
                let name = format!("`{section}.{key}`");
                assert!(
                    docs.contains(&name),
                    "docs/configuration.md does not document {name}"
                );
            }
        }
    }

    #[test]
    fn a_named_file_must_exist() {
        assert!(Settings::load_from(Some(Path::new("/nonexistent/l.toml")), env(&[])).is_err());
    }
}
