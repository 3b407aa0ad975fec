//! HTTPS for the services: the server certificate (issued by the platform PKI in development, or
//! from files), and client certificates requested on every connection.
//!
//! The handshake accepts any client certificate the client proves it holds; whether it may do
//! anything is decided per request against the database (see [`crate::auth`]): the presented
//! certificate must be one the platform issued, byte for byte, still active and unexpired. That
//! makes a revocation effective on the next request on every instance, and gives a refused
//! client a readable 401 instead of a failed handshake.

use crate::config::{Settings, TlsMode};
use actix_web::dev::Extensions;
use chrono::TimeDelta;
use lanyard_core::Clock;
use lanyard_identity::platform_pki::{self, Purpose};
use lanyard_pki::{Issue, KeySpec, MasterKey, PKey, Profile, Subject, generate_key};
use lanyard_store::DbConnection;
use openssl::ssl::{SslAcceptor, SslAcceptorBuilder, SslMethod, SslVerifyMode};
use std::any::Any;
use std::net::IpAddr;

/// Validity of a development server certificate (a new one is issued at every start).
pub const DEV_CERTIFICATE_VALIDITY: TimeDelta = TimeDelta::days(90);

/// The client certificate of a connection, as presented (DER).
#[derive(Debug, Clone)]
pub struct PeerCertificate(pub Vec<u8>);

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// OpenSSL refused the material.
    #[error("tls: {0}")]
    OpenSsl(#[from] openssl::error::ErrorStack),
    /// The platform PKI failed.
    #[error("tls: {0}")]
    Pki(#[from] lanyard_identity::IdentityError),
    /// A configured file could not be used.
    #[error("{key}: {message}")]
    File {
        /// The setting.
        key: &'static str,
        /// Why.
        message: String,
    },
}

/// The names a development server certificate covers: localhost, the loopback addresses, the
/// host of `public_url` and the bound address.
fn dev_names(public_url: &str, bound: Option<std::net::SocketAddr>) -> (Vec<String>, Vec<IpAddr>) {
    let mut dns = vec!["localhost".to_owned()];
    let mut ips: Vec<IpAddr> = vec![[127, 0, 0, 1].into(), std::net::Ipv6Addr::LOCALHOST.into()];
    let host = url::Url::parse(public_url)
        .ok()
        .and_then(|u| u.host_str().map(|h| h.trim_matches(['[', ']']).to_owned()));
    let mut add = |host: &str| match host.parse::<IpAddr>() {
        Ok(ip) if !ip.is_unspecified() => {
            if !ips.contains(&ip) {
                ips.push(ip);
            }
        }
        Ok(_) => {}
        Err(_) => {
            if !host.is_empty() && !dns.iter().any(|d| d == host) {
                dns.push(host.to_owned());
            }
        }
    };
    if let Some(h) = host {
        add(&h);
    }
    if let Some(addr) = bound {
        add(&addr.ip().to_string());
    }
    (dns, ips)
}

/// The acceptor of one service, or `None` when TLS is off.
pub fn acceptor(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    master: &MasterKey,
    settings: &Settings,
    public_url: &str,
    bound: Option<std::net::SocketAddr>,
) -> Result<Option<SslAcceptorBuilder>, TlsError> {
    let mut builder = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls())?;
    match settings.tls.mode {
        TlsMode::Off => return Ok(None),
        TlsMode::Files => {
            builder
                .set_certificate_chain_file(&settings.tls.cert_file)
                .map_err(|e| TlsError::File {
                    key: "tls.cert_file",
                    message: format!("{}: {e}", settings.tls.cert_file),
                })?;
            builder
                .set_private_key_file(&settings.tls.key_file, openssl::ssl::SslFiletype::PEM)
                .map_err(|e| TlsError::File {
                    key: "tls.key_file",
                    message: format!("{}: {e}", settings.tls.key_file),
                })?;
            builder.check_private_key().map_err(|_| TlsError::File {
                key: "tls.key_file",
                message: "does not match tls.cert_file".into(),
            })?;
        }
        TlsMode::Dev => {
            let ca = platform_pki::active(conn, master, Purpose::Tls)?;
            let key =
                generate_key(KeySpec::EcP256).map_err(lanyard_identity::IdentityError::from)?;
            let public = PKey::public_key_from_der(&key.public_key_to_der()?)?;
            let (dns, ips) = dev_names(public_url, bound);
            let now = chrono::DateTime::from_timestamp(clock.now().timestamp(), 0)
                .unwrap_or_else(|| clock.now());
            let cert = ca
                .ca
                .issue(&Issue {
                    subject: &Subject {
                        common_name: dns[0].clone(),
                        organization: Some(settings.pki.installation_name.clone()),
                        organizational_unit: None,
                    },
                    public_key: &public,
                    profile: Profile::TlsServer { dns, ips },
                    not_before: now - TimeDelta::minutes(5),
                    not_after: now + DEV_CERTIFICATE_VALIDITY,
                    crl_url: None,
                })
                .map_err(lanyard_identity::IdentityError::from)?;
            builder.set_certificate(&cert)?;
            builder.add_extra_chain_cert(ca.ca.cert.clone())?;
            builder.set_private_key(&key)?;
        }
    }
    // Ask every client for a certificate; accept whatever it presents at the handshake (the
    // request decides, against the database).
    builder.set_verify_callback(SslVerifyMode::PEER, |_preverified, _ctx| true);
    Ok(Some(builder))
}

/// `HttpServer::on_connect` hook: keeps the client certificate of a TLS connection for the
/// requests on it.
pub fn on_connect(conn: &dyn Any, ext: &mut Extensions) {
    if let Some(tls) =
        conn.downcast_ref::<actix_tls::accept::openssl::TlsStream<actix_web::rt::net::TcpStream>>()
        && let Some(cert) = tls.ssl().peer_certificate()
        && let Ok(der) = cert.to_der()
    {
        ext.insert(PeerCertificate(der));
    }
}

#[cfg(test)]
mod tests {
    use super::dev_names;

    #[test]
    fn development_names_cover_loopback_and_the_public_host() {
        let (dns, ips) = dev_names(
            "https://lanyard.example:8443",
            Some("0.0.0.0:1".parse().expect("addr")),
        );
        assert_eq!(dns, vec!["localhost", "lanyard.example"]);
        assert_eq!(ips.len(), 2, "0.0.0.0 is not a name");
        let (_, ips) = dev_names(
            "https://192.0.2.7",
            Some("192.0.2.8:1".parse().expect("addr")),
        );
        assert!(
            ips.contains(&"192.0.2.7".parse().expect("ip"))
                && ips.contains(&"192.0.2.8".parse().expect("ip"))
        );
    }
}
