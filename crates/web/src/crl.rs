//! Public certificate revocation lists (`GET /crl/<ca>.crl`, DER), the URLs written into every
//! certificate's CRL distribution point. Served by admin-api and device-api, without
//! authentication: relying parties fetch them.

use crate::error::ApiError;
use crate::state::AppState;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{HttpResponse, web};
use lanyard_core::ErrorCode;
use lanyard_identity::platform_pki;

/// Adds the CRL route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/crl/{file}", web::get().to(crl));
}

async fn crl(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let file = path.into_inner();
    let id = file
        .strip_suffix(".crl")
        .filter(|id| id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no such CRL"))?
        .to_owned();
    let master = state.master_key.clone();
    let der = state
        .db(move |conn, clock| platform_pki::crl(conn, clock, &master, &id, false))
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "application/pkix-crl"))
        // Caches may keep it briefly; a revocation makes a new one at once.
        .insert_header((CACHE_CONTROL, "public, max-age=60"))
        .body(der))
}
