//! `DELETE /rest/loginNames?oid=&userId=`: remove an alias (never the last one).

use crate::rest::parse_oid;
use actix_web::{HttpResponse, web};
use lanyard_identity::alias;
use lanyard_web::auth::ManagementCaller;
use lanyard_web::extract::Query;
use lanyard_web::{ApiError, AppState};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeleteQuery {
    oid: String,
    user_id: String,
}

pub(crate) async fn handle(
    state: web::Data<AppState>,
    caller: ManagementCaller,
    Query(query): Query<DeleteQuery>,
) -> Result<HttpResponse, ApiError> {
    let oid = parse_oid("oid", &query.oid)?;
    state
        .db(move |conn, clock| {
            alias::delete(
                conn,
                clock,
                &caller.actor,
                &caller.account,
                &oid,
                &query.user_id,
            )
        })
        .await?;
    Ok(HttpResponse::Ok().finish())
}
