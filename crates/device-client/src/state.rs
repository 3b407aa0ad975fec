//! The device's state directory and its calls with the device certificate.
//!
//! Files: `device.json` (what the server said), `key.pem` (the private key, mode 0600),
//! `certificate.pem` (device certificate and devices CA), `trust.pem` (the platform's trust
//! chain from the configuration), and `server-ca.pem` when the enrollment named a CA file for
//! the server.

use crate::http::{self, Tls};
use crate::{DeviceError, Organization, Person, Result};
use openssl::pkey::{PKey, Private};
use openssl::x509::X509;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What the device knows about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceState {
    /// The server's id of this device.
    pub device_id: String,
    /// Its name.
    pub device_name: String,
    /// Serial of its certificate (hex).
    pub serial: String,
    /// device-api's base URL.
    pub device_api: String,
    /// The app version it reports.
    pub app_version: String,
    /// Its organization.
    pub organization: Organization,
    /// Its person.
    pub person: Person,
}

const DEVICE: &str = "device.json";
const KEY: &str = "key.pem";
const CERTIFICATE: &str = "certificate.pem";
const TRUST: &str = "trust.pem";
const SERVER_CA: &str = "server-ca.pem";

fn failed(path: &Path, e: impl std::fmt::Display) -> DeviceError {
    DeviceError::State {
        path: path.display().to_string(),
        detail: e.to_string(),
    }
}

fn write(path: &Path, data: &[u8], private: bool) -> Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    options
        .open(path)
        .and_then(|mut f| f.write_all(data))
        .map_err(|e| failed(path, e))
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| failed(path, e))
}

pub(crate) fn exists(dir: &Path) -> bool {
    dir.join(DEVICE).exists()
}

pub(crate) fn save(
    dir: &Path,
    device: &DeviceState,
    key_pem: &[u8],
    certificate_chain: &str,
    trust_chain: &str,
    tls: &Tls,
) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| failed(dir, e))?;
    write(&dir.join(KEY), key_pem, true)?;
    write(&dir.join(CERTIFICATE), certificate_chain.as_bytes(), false)?;
    write(&dir.join(TRUST), trust_chain.as_bytes(), false)?;
    if let Some(ca) = &tls.ca_file {
        write(&dir.join(SERVER_CA), &read(ca)?, false)?;
    }
    let json = serde_json::to_vec_pretty(device).map_err(|e| failed(&dir.join(DEVICE), e))?;
    // Written last: its presence means the state is complete.
    write(&dir.join(DEVICE), &json, false)
}

/// An enrolled device, loaded from its state directory.
pub struct Device {
    dir: PathBuf,
    state: DeviceState,
    client: awc::Client,
    key: PKey<Private>,
    chain: Vec<X509>,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("dir", &self.dir)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// The server's view of the device (`GET /device`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerView {
    /// Device id.
    pub device_id: String,
    /// Device name.
    pub device_name: String,
    /// Serial of the certificate presented.
    pub serial: String,
}

impl Device {
    /// Loads the device kept in `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        let file = dir.join(DEVICE);
        if !file.exists() {
            return Err(DeviceError::Input(format!(
                "{} holds no enrolled device (run enroll first)",
                dir.display()
            )));
        }
        let state: DeviceState =
            serde_json::from_slice(&read(&file)?).map_err(|e| failed(&file, e))?;
        let key: PKey<Private> = PKey::private_key_from_pem(&read(&dir.join(KEY))?)?;
        let chain = X509::stack_from_pem(&read(&dir.join(CERTIFICATE))?)?;
        let server_ca = dir.join(SERVER_CA);
        let tls = Tls {
            ca_file: server_ca.exists().then_some(server_ca),
        };
        let client = http::client(&tls, Some((&key, &chain)))?;
        Ok(Self {
            dir: dir.to_owned(),
            state,
            client,
            key,
            chain,
        })
    }

    /// What the device knows about itself.
    pub fn state(&self) -> &DeviceState {
        &self.state
    }

    /// Reports a new app version from now on (after the app was updated).
    pub fn set_app_version(&mut self, version: &str) -> Result<()> {
        self.state.app_version = version.to_owned();
        let file = self.dir.join(DEVICE);
        let json = serde_json::to_vec_pretty(&self.state).map_err(|e| failed(&file, e))?;
        write(&file, &json, false)
    }

    pub(crate) fn client(&self) -> &awc::Client {
        &self.client
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.state.device_api.trim_end_matches('/'))
    }

    /// `GET /device`: the server's view of this device (refused once it is deactivated).
    pub async fn whoami(&self) -> Result<ServerView> {
        http::get_json(
            &self.client,
            &self.url("/device"),
            Some(&self.state.app_version),
        )
        .await
    }

    /// `PUT /device/push`: the device's new push registration token (`None`: no more push).
    pub async fn set_push_registration(&self, token: Option<&str>) -> Result<Option<String>> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Answer {
            push_registration: Option<String>,
        }
        let answer: Answer = http::put_json(
            &self.client,
            &self.url("/device/push"),
            &serde_json::json!({ "pushRegistration": token }),
            Some(&self.state.app_version),
        )
        .await?;
        Ok(answer.push_registration)
    }

    /// `GET /messages`: the person's open messages.
    pub async fn inbox(&self) -> Result<Vec<crate::messages::InboxMessage>> {
        #[derive(Deserialize)]
        struct List {
            data: Vec<crate::messages::InboxMessage>,
        }
        let list: List = http::get_json(
            &self.client,
            &self.url("/messages"),
            Some(&self.state.app_version),
        )
        .await?;
        Ok(list.data)
    }

    /// `GET /messages/{id}`.
    pub async fn message(&self, id: &str) -> Result<crate::messages::InboxMessage> {
        http::get_json(
            &self.client,
            &self.url(&format!("/messages/{id}")),
            Some(&self.state.app_version),
        )
        .await
    }

    /// Signs `statement` with the device key as CMS SignedData (content attached, the
    /// certificate chain included) and uploads it as an evidence of `kind`.
    pub(crate) async fn upload_evidence(
        &self,
        id: &str,
        kind: &str,
        statement: &str,
    ) -> Result<crate::messages::EvidenceAnswer> {
        use openssl::cms::{CMSOptions, CmsContentInfo};
        let mut extra = openssl::stack::Stack::new()?;
        for ca in &self.chain[1..] {
            extra.push(ca.clone())?;
        }
        let cms = CmsContentInfo::sign(
            Some(&self.chain[0]),
            Some(&self.key),
            Some(&extra),
            Some(statement.as_bytes()),
            CMSOptions::BINARY,
        )?;
        let body = serde_json::json!({
            "type": kind,
            "cms": openssl::base64::encode_block(&cms.to_der()?),
        });
        http::post_json_with(
            &self.client,
            &self.url(&format!("/messages/{id}/evidences")),
            &body,
            Some(&self.state.app_version),
        )
        .await
    }

    /// `DELETE /device`: deregisters; the certificate is revoked at once. The state directory's
    /// files are removed afterwards (the key is of no use any more).
    pub async fn deregister(self) -> Result<String> {
        let id: String = http::delete_json(
            &self.client,
            &self.url("/device"),
            Some(&self.state.app_version),
        )
        .await?;
        for name in [DEVICE, KEY, CERTIFICATE, TRUST, SERVER_CA] {
            let path = self.dir.join(name);
            if path.exists() {
                std::fs::remove_file(&path).map_err(|e| failed(&path, e))?;
            }
        }
        Ok(id)
    }
}
