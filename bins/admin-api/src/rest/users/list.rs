//! `GET /rest/users`: a page of end users, optionally searched.

use super::UserData;
use crate::rest::{PageQuery, PagedList};
use actix_web::{HttpResponse, web};
use lanyard_identity::end_user;
use lanyard_identity::rights::{Area, Verb, authorize};
use lanyard_web::auth::ManagementCaller;
use lanyard_web::extract::Query;
use lanyard_web::{ApiError, AppState};

pub(crate) async fn handle(
    state: web::Data<AppState>,
    caller: ManagementCaller,
    Query(query): Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = query.validate()?;
    let users = state
        .db(move |conn, _| {
            authorize(
                conn,
                &caller.actor,
                Area::EndUsers,
                Verb::View,
                &caller.account,
            )?;
            end_user::list(conn, &caller.account, &page)
        })
        .await?;
    Ok(HttpResponse::Ok().json(PagedList::from_page(users, |u| UserData::from(u))))
}
