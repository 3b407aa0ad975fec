//! `GET /rest/accessKeys?type=management|application`.

use super::AccessKeyData;
use actix_web::{HttpResponse, web};
use lanyard_identity::access_key::{self, KeyKind};
use lanyard_web::auth::ManagementCaller;
use lanyard_web::extract::Query;
use lanyard_web::{ApiError, AppState};

#[derive(Debug, serde::Deserialize)]
pub(crate) struct TypeQuery {
    #[serde(rename = "type")]
    kind: Option<String>,
}

pub(crate) async fn handle(
    state: web::Data<AppState>,
    caller: ManagementCaller,
    Query(query): Query<TypeQuery>,
) -> Result<HttpResponse, ApiError> {
    let keys = state
        .db(move |conn, _| {
            let kinds = match query.kind.as_deref() {
                Some(k) => vec![KeyKind::parse(k)?],
                None => vec![KeyKind::Application, KeyKind::Management],
            };
            let mut out = Vec::new();
            for kind in kinds {
                out.extend(access_key::list(
                    conn,
                    &caller.actor,
                    &caller.account,
                    kind,
                )?);
            }
            Ok::<_, lanyard_identity::IdentityError>(out)
        })
        .await?;
    let data: Vec<AccessKeyData> = keys.iter().map(AccessKeyData::from).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "data": data })))
}
