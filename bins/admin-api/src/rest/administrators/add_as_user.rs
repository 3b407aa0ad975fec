//! `POST /rest/administrators/user`: add an administrator as an end user.

use crate::rest::users::UserData;
use actix_web::{HttpResponse, web};
use lanyard_identity::admin;
use lanyard_web::auth::ManagementCaller;
use lanyard_web::extract::Json;
use lanyard_web::{ApiError, AppState};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AddAsUserRequest {
    user_id: String,
    admin_id: String,
}

pub(crate) async fn handle(
    state: web::Data<AppState>,
    caller: ManagementCaller,
    Json(req): Json<AddAsUserRequest>,
) -> Result<HttpResponse, ApiError> {
    let user = state
        .db(move |conn, clock| {
            admin::add_as_end_user(
                conn,
                clock,
                &caller.actor,
                &caller.account,
                &req.admin_id,
                &req.user_id,
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(UserData::from(&user)))
}
