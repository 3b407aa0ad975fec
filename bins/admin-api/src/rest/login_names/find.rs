//! `GET /rest/loginNames?userId=`: the end user an alias addresses.

use super::LoginNameData;
use actix_web::{HttpResponse, web};
use lanyard_identity::alias;
use lanyard_identity::rights::{Area, Verb, authorize};
use lanyard_web::auth::ManagementCaller;
use lanyard_web::extract::Query;
use lanyard_web::{ApiError, AppState};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FindQuery {
    user_id: String,
}

pub(crate) async fn handle(
    state: web::Data<AppState>,
    caller: ManagementCaller,
    Query(query): Query<FindQuery>,
) -> Result<HttpResponse, ApiError> {
    let found = state
        .db(move |conn, _| {
            authorize(
                conn,
                &caller.actor,
                Area::EndUsers,
                Verb::View,
                &caller.account,
            )?;
            alias::find(conn, &caller.account, &query.user_id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(LoginNameData::from(&found)))
}
