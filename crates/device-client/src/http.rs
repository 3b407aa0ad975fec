//! HTTPS with openssl through awc: the server verified against the system's roots plus any CA
//! the user names; the device's certificate presented when it has one (mutual TLS).

use crate::{DeviceError, Result};
use awc::Client;
use bytes::Bytes;
use openssl::pkey::{PKey, Private};
use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};
use openssl::x509::X509;
use serde::de::DeserializeOwned;
use std::path::PathBuf;
use std::time::Duration;

/// How the device checks the server.
#[derive(Debug, Clone, Default)]
pub struct Tls {
    /// PEM file of CA certificates to trust besides the system's (e.g. `data/ca.pem` of a
    /// development installation, whose server certificate the platform PKI issued).
    pub ca_file: Option<PathBuf>,
}

/// Largest answer read (a configuration with its trust chain is a few KB).
const LIMIT: usize = 1 << 20;

pub(crate) fn client(tls: &Tls, identity: Option<(&PKey<Private>, &[X509])>) -> Result<Client> {
    let mut builder = SslConnector::builder(SslMethod::tls_client())?;
    builder.set_verify(SslVerifyMode::PEER);
    if let Some(path) = &tls.ca_file {
        builder
            .set_ca_file(path)
            .map_err(|e| DeviceError::Input(format!("CA file {}: {e}", path.display())))?;
    }
    if let Some((key, chain)) = identity {
        let (leaf, rest) = chain
            .split_first()
            .ok_or_else(|| DeviceError::Input("the device certificate is missing".into()))?;
        builder.set_certificate(leaf)?;
        for ca in rest {
            builder.add_extra_chain_cert(ca.clone())?;
        }
        builder.set_private_key(key)?;
        builder.check_private_key()?;
    }
    let connector = awc::Connector::new()
        .openssl(builder.build())
        .timeout(Duration::from_secs(10));
    Ok(Client::builder()
        .connector(connector)
        .timeout(Duration::from_secs(30))
        .finish())
}

async fn answer<T, S>(
    url: &str,
    sent: std::result::Result<awc::ClientResponse<S>, awc::error::SendRequestError>,
) -> Result<T>
where
    T: DeserializeOwned,
    S: futures_util::Stream<Item = std::result::Result<Bytes, awc::error::PayloadError>> + Unpin,
{
    let mut response = sent.map_err(|e| DeviceError::Unreachable {
        url: url.to_owned(),
        detail: e.to_string(),
    })?;
    let status = response.status();
    let body = response
        .body()
        .limit(LIMIT)
        .await
        .map_err(|e| DeviceError::Unreachable {
            url: url.to_owned(),
            detail: e.to_string(),
        })?;
    if status.is_success() {
        return serde_json::from_slice(&body).map_err(|e| DeviceError::Protocol {
            url: url.to_owned(),
            detail: format!("{e}: {}", String::from_utf8_lossy(&body)),
        });
    }
    #[derive(serde::Deserialize)]
    struct Refusal {
        code: String,
        message: String,
    }
    match serde_json::from_slice::<Refusal>(&body) {
        Ok(r) => Err(DeviceError::Refused {
            status: status.as_u16(),
            code: r.code,
            message: r.message,
        }),
        Err(_) => Err(DeviceError::Protocol {
            url: url.to_owned(),
            detail: format!("HTTP {status}: {}", String::from_utf8_lossy(&body)),
        }),
    }
}

/// `GET url`, the answer as JSON; `app_version` goes in `X-App-Version`.
pub(crate) async fn get_json<T: DeserializeOwned>(
    client: &Client,
    url: &str,
    app_version: Option<&str>,
) -> Result<T> {
    let mut request = client.get(url);
    if let Some(v) = app_version {
        request = request.insert_header(("X-App-Version", v));
    }
    answer(url, request.send().await).await
}

/// `POST url` with a JSON body.
pub(crate) async fn post_json<T: DeserializeOwned>(
    client: &Client,
    url: &str,
    body: &serde_json::Value,
) -> Result<T> {
    answer(url, client.post(url).send_json(body).await).await
}

/// `POST url` with a JSON body and `X-App-Version`.
pub(crate) async fn post_json_with<T: DeserializeOwned>(
    client: &Client,
    url: &str,
    body: &serde_json::Value,
    app_version: Option<&str>,
) -> Result<T> {
    let mut request = client.post(url);
    if let Some(v) = app_version {
        request = request.insert_header(("X-App-Version", v));
    }
    answer(url, request.send_json(body).await).await
}

/// `PUT url` with a JSON body.
pub(crate) async fn put_json<T: DeserializeOwned>(
    client: &Client,
    url: &str,
    body: &serde_json::Value,
    app_version: Option<&str>,
) -> Result<T> {
    let mut request = client.put(url);
    if let Some(v) = app_version {
        request = request.insert_header(("X-App-Version", v));
    }
    answer(url, request.send_json(body).await).await
}

/// `DELETE url`, the answer as JSON.
pub(crate) async fn delete_json<T: DeserializeOwned>(
    client: &Client,
    url: &str,
    app_version: Option<&str>,
) -> Result<T> {
    let mut request = client.delete(url);
    if let Some(v) = app_version {
        request = request.insert_header(("X-App-Version", v));
    }
    answer(url, request.send().await).await
}
