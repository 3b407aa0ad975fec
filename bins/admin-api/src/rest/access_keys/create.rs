//! `POST /rest/accessKeys` `{type, name, applicationId?, csr?}`: a key and its first certificate.

use super::issued;
use actix_web::{HttpResponse, web};
use lanyard_identity::access_key::{self, KeyKind, KeySource};
use lanyard_web::auth::ManagementCaller;
use lanyard_web::extract::Json;
use lanyard_web::{ApiError, AppState};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct CreateRequest {
    #[serde(rename = "type")]
    kind: String,
    name: String,
    application_id: Option<String>,
    /// A PEM PKCS#10 request; absent: the server generates the key pair.
    csr: Option<String>,
}

pub(crate) async fn handle(
    state: web::Data<AppState>,
    caller: ManagementCaller,
    Json(req): Json<CreateRequest>,
) -> Result<HttpResponse, ApiError> {
    let (master, crl_base) = (state.master_key.clone(), state.crl_base());
    let data = state
        .db(move |conn, clock| {
            let kind = KeyKind::parse(&req.kind)?;
            let source = match &req.csr {
                Some(csr) => KeySource::Csr(csr.as_bytes()),
                None => KeySource::Generate,
            };
            let created = access_key::create(
                conn,
                clock,
                &master,
                &caller.actor,
                &caller.account,
                kind,
                &req.name,
                req.application_id.as_deref(),
                source,
                &crl_base,
            )?;
            issued(
                conn,
                clock,
                &master,
                &caller.actor,
                &caller.account,
                &created,
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(data))
}
