//! `GET /rest/users/count`: the number of end users, as a bare JSON number.

use actix_web::{HttpResponse, web};
use lanyard_identity::end_user;
use lanyard_identity::rights::{Area, Verb, authorize};
use lanyard_web::auth::ManagementCaller;
use lanyard_web::{ApiError, AppState};

pub(crate) async fn handle(
    state: web::Data<AppState>,
    caller: ManagementCaller,
) -> Result<HttpResponse, ApiError> {
    let count = state
        .db(move |conn, _| {
            authorize(
                conn,
                &caller.actor,
                Area::EndUsers,
                Verb::View,
                &caller.account,
            )?;
            end_user::count(conn, &caller.account)
        })
        .await?;
    Ok(HttpResponse::Ok().json(count))
}
