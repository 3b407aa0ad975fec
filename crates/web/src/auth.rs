//! Authentication extractors.

use crate::error::ApiError;
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use lanyard_core::ErrorCode;
use lanyard_core::id::AccountId;
use lanyard_identity::api_token::{self, TokenOwner};
use lanyard_identity::rights::Actor;

/// A caller of the management API, authenticated by `Authorization: Bearer <API token>`.
/// Every query a handler makes is scoped to [`ManagementCaller::account`].
#[derive(Debug, Clone)]
pub struct ManagementCaller {
    /// The account the caller acts for.
    pub account: AccountId,
    /// How the caller authenticated.
    pub via: TokenOwner,
    /// The caller as the authorization check and the account history see it.
    pub actor: Actor,
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(ErrorCode::Unauthorized, message)
}

impl FromRequest for ManagementCaller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
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
            let token = presented.ok_or_else(|| {
                unauthorized("credentials are required: Authorization: Bearer <API token>")
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
            Ok(Self {
                account: owner.account_id.clone(),
                actor: Actor::api_token(owner.account_id.clone(), &owner.token_name),
                via: owner,
            })
        })
    }
}
