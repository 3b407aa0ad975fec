//! Authentication extractors.

use crate::error::ApiError;
use crate::state::AppState;
use crate::tls::PeerCertificate;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use lanyard_core::ErrorCode;
use lanyard_core::id::AccountId;
use lanyard_identity::access_key::{self, KeyIdentity, KeyKind};
use lanyard_identity::api_token::{self, TokenOwner};
use lanyard_identity::rights::Actor;

/// A caller of the management API, authenticated by a management-key client certificate
/// (mutual TLS) or by `Authorization: Bearer <API token>`. Every query a handler makes is scoped
/// to [`ManagementCaller::account`].
#[derive(Debug, Clone)]
pub struct ManagementCaller {
    /// The account the caller acts for.
    pub account: AccountId,
    /// How the caller authenticated.
    pub via: Credential,
    /// The caller as the authorization check and the account history see it.
    pub actor: Actor,
}

/// How a management caller authenticated.
#[derive(Debug, Clone)]
pub enum Credential {
    /// An API token.
    Token(TokenOwner),
    /// A management-key certificate.
    Certificate(KeyIdentity),
}

/// Who the presented client certificate belongs to: `Ok(None)` when the connection has none,
/// an error when it has one that may not authenticate (revoked, expired, not issued here).
pub async fn certificate_identity(
    state: &AppState,
    peer: Option<PeerCertificate>,
) -> Result<Option<KeyIdentity>, ApiError> {
    let Some(PeerCertificate(der)) = peer else {
        return Ok(None);
    };
    state
        .db(move |conn, clock| access_key::authenticate_certificate(conn, clock, &der))
        .await?
        .map(Some)
        .ok_or_else(|| {
            unauthorized(
                "the client certificate is revoked, expired, or not issued by this platform",
            )
        })
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(ErrorCode::Unauthorized, message)
}

impl FromRequest for ManagementCaller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let certificate = req.conn_data::<PeerCertificate>().cloned();
        let peer = req.peer_addr().map(|a| a.ip());
        let presented = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, token) = v.split_once(' ')?;
                scheme
                    .eq_ignore_ascii_case("bearer")
                    .then(|| token.trim().to_owned())
            });
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal("AppState is not configured"))?;
            if let Some(key) = certificate_identity(&state, certificate).await? {
                if key.kind != KeyKind::Management {
                    return Err(unauthorized(
                        "this is an application key's certificate; the management API needs a management key",
                    ));
                }
                return Ok(Self {
                    account: key.account.clone(),
                    actor: key.actor(),
                    via: Credential::Certificate(key),
                });
            }
            let token = presented.ok_or_else(|| {
                unauthorized(
                    "credentials are required: a management-key client certificate or Authorization: Bearer <API token>",
                )
            })?;
            let owner = state
                .db(move |conn, clock| api_token::authenticate(conn, clock, &token))
                .await?
                .ok_or_else(|| unauthorized("the API token is unknown or revoked"))?;
            if let Some(allow) = &owner.allow
                && !peer.is_some_and(|ip| allow.allows(ip))
            {
                return Err(unauthorized(
                    "this API token may not be used from this address",
                ));
            }
            let mut actor = Actor::api_token(owner.account_id.clone(), &owner.token_name);
            actor.principal = format!("api-token:{}", owner.token_id.as_str());
            Ok(Self {
                account: owner.account_id.clone(),
                actor,
                via: Credential::Token(owner),
            })
        })
    }
}

/// A caller of the messaging API (`/frontend`), authenticated by an application-key client
/// certificate (mutual TLS) — the only credential PassBy[ME] applications have.
#[derive(Debug, Clone)]
pub struct ApplicationCaller {
    /// The key, its account and its application.
    pub key: KeyIdentity,
    /// The application the key belongs to.
    pub application_id: String,
}

impl FromRequest for ApplicationCaller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let certificate = req.conn_data::<PeerCertificate>().cloned();
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal("AppState is not configured"))?;
            let presented = certificate.clone();
            let key = match certificate_identity(&state, certificate).await {
                Ok(Some(key)) => key,
                Ok(None) => {
                    return Err(unauthorized(
                        "an application key's client certificate is required (mutual TLS)",
                    ));
                }
                Err(refused) => {
                    // PassBy[ME] tells an application that its certificate was revoked.
                    let Some(PeerCertificate(der)) = presented else {
                        return Err(refused);
                    };
                    let revoked = state
                        .db(move |conn, _| access_key::is_revoked(conn, &der))
                        .await?;
                    return Err(if revoked {
                        ApiError::new(
                            ErrorCode::CertificateRevoked,
                            "the client certificate has been revoked",
                        )
                    } else {
                        refused
                    });
                }
            };
            match (key.kind, key.application_id.clone()) {
                (KeyKind::Application, Some(application_id)) => Ok(Self {
                    key,
                    application_id,
                }),
                _ => Err(unauthorized(
                    "this certificate is not an application key's; the messaging API needs one",
                )),
            }
        })
    }
}

/// A device calling device-api, authenticated by its device certificate (mutual TLS).
#[derive(Debug, Clone)]
pub struct DeviceCaller(pub lanyard_enrollment::device::DeviceIdentity);

impl FromRequest for DeviceCaller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let certificate = req.conn_data::<PeerCertificate>().cloned();
        let app_version = req
            .headers()
            .get("X-App-Version")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal("AppState is not configured"))?;
            let PeerCertificate(der) = certificate
                .ok_or_else(|| unauthorized("a device certificate is required (mutual TLS)"))?;
            state
                .db(move |conn, clock| {
                    lanyard_enrollment::device::authenticate_certificate(
                        conn,
                        clock,
                        &der,
                        app_version.as_deref(),
                    )
                })
                .await?
                .map(Self)
                .ok_or_else(|| {
                    unauthorized(
                        "the device certificate is revoked or expired, the device is deactivated, or the certificate is not this platform's",
                    )
                })
        })
    }
}
