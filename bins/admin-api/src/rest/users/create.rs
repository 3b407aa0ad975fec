//! `POST /rest/users`: create an end user with its primary alias.

use super::UserData;
use actix_web::{HttpResponse, web};
use lanyard_identity::{NewEndUser, end_user};
use lanyard_web::auth::ManagementCaller;
use lanyard_web::extract::Json;
use lanyard_web::{ApiError, AppState};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateUserRequest {
    user_id: String,
    email: Option<String>,
    full_name: Option<String>,
    phone_number: Option<String>,
}

pub(crate) async fn handle(
    state: web::Data<AppState>,
    caller: ManagementCaller,
    Json(req): Json<CreateUserRequest>,
) -> Result<HttpResponse, ApiError> {
    let new = NewEndUser::parse(
        &req.user_id,
        req.email.as_deref(),
        req.full_name.as_deref(),
        req.phone_number.as_deref(),
        true,
    )?;
    let user = state
        .db(move |conn, clock| end_user::create(conn, clock, &caller.actor, &caller.account, new))
        .await?;
    Ok(HttpResponse::Ok().json(UserData::from(&user)))
}
