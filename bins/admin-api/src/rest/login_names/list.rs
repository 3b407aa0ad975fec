//! `GET /rest/loginNames/{oid}`: the aliases of an end user, primary first.

use super::LoginNameData;
use crate::rest::{DataList, parse_oid};
use actix_web::{HttpResponse, web};
use lanyard_identity::alias;
use lanyard_identity::rights::{Area, Verb, authorize};
use lanyard_web::auth::ManagementCaller;
use lanyard_web::{ApiError, AppState};

pub(crate) async fn handle(
    state: web::Data<AppState>,
    caller: ManagementCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let oid = parse_oid("oid", &path)?;
    let names = state
        .db(move |conn, _| {
            authorize(
                conn,
                &caller.actor,
                Area::EndUsers,
                Verb::View,
                &caller.account,
            )?;
            alias::list_for_user(conn, &caller.account, &oid)
        })
        .await?;
    Ok(HttpResponse::Ok().json(DataList {
        data: names.iter().map(LoginNameData::from).collect(),
    }))
}
