//! Evidences of the organization's messages (Lanyard's extension; docs/evidence.md):
//! `GET /rest/messages/{messageId}/evidences` lists them, and
//! `GET /download/messages/{messageId}/evidences/{evidenceId}` gives one counter-signed evidence
//! (CMS SignedData, DER) that `openssl cms -verify` checks against the platform root.

use actix_web::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use actix_web::{HttpResponse, web};
use lanyard_messaging::evidence;
use lanyard_web::auth::ManagementCaller;
use lanyard_web::{ApiError, AppState};

pub(crate) async fn list(
    state: web::Data<AppState>,
    caller: ManagementCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let found = state
        .db(move |conn, _| evidence::list_in_account(conn, &caller.actor, &caller.account, &id))
        .await?;
    let data: Vec<serde_json::Value> = found
        .into_iter()
        .map(|e| {
            serde_json::json!({
                "evidenceId": e.id, "userId": e.user_id, "type": e.kind.as_str(),
                "decision": e.decision.as_str(),
                "receivedAt": lanyard_core::wire::timestamp(e.received_at),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "data": data })))
}

pub(crate) async fn download(
    state: web::Data<AppState>,
    caller: ManagementCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, evidence_id) = path.into_inner();
    let name = format!("evidence-{evidence_id}.p7m");
    let der = state
        .db(move |conn, _| {
            evidence::download_in_account(conn, &caller.actor, &caller.account, &id, &evidence_id)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((
            CONTENT_TYPE,
            "application/pkcs7-mime; smime-type=signed-data",
        ))
        .insert_header((
            CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ))
        .insert_header((CACHE_CONTROL, "no-store"))
        .body(der))
}
