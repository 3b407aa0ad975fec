//! `GET /rest/accessKeys/{id}/certificates` and `POST` (`{csr?}`): a key's certificates, and a
//! new one.

use super::{CertificateData, issued};
use actix_web::{HttpResponse, web};
use lanyard_identity::access_key::{self, KeySource};
use lanyard_web::auth::ManagementCaller;
use lanyard_web::extract::Json;
use lanyard_web::{ApiError, AppState};
use serde::Deserialize;

pub(crate) async fn list(
    state: web::Data<AppState>,
    caller: ManagementCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let certs = state
        .db(move |conn, clock| {
            access_key::certificates_of(conn, clock, &caller.actor, &caller.account, &id)
        })
        .await?;
    let data: Vec<CertificateData> = certs.iter().map(CertificateData::from).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "data": data })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IssueRequest {
    csr: Option<String>,
}

pub(crate) async fn issue(
    state: web::Data<AppState>,
    caller: ManagementCaller,
    path: web::Path<String>,
    Json(req): Json<IssueRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let (master, crl_base) = (state.master_key.clone(), state.crl_base());
    let data = state
        .db(move |conn, clock| {
            let source = match &req.csr {
                Some(csr) => KeySource::Csr(csr.as_bytes()),
                None => KeySource::Generate,
            };
            let new = access_key::issue_certificate(
                conn,
                clock,
                &master,
                &caller.actor,
                &caller.account,
                &id,
                source,
                &crl_base,
            )?;
            issued(conn, clock, &master, &caller.actor, &caller.account, &new)
        })
        .await?;
    Ok(HttpResponse::Ok().json(data))
}
