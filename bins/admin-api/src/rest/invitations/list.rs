//! `GET /rest/invitations`: the open invitations.

use super::{InvitationData, iso};
use crate::rest::DataList;
use actix_web::{HttpResponse, web};
use lanyard_identity::admin;
use lanyard_identity::rights::{Area, Verb, authorize};
use lanyard_web::auth::ManagementCaller;
use lanyard_web::{ApiError, AppState};

pub(crate) async fn handle(
    state: web::Data<AppState>,
    caller: ManagementCaller,
) -> Result<HttpResponse, ApiError> {
    let open = state
        .db(move |conn, clock| {
            authorize(
                conn,
                &caller.actor,
                Area::Administrators,
                Verb::View,
                &caller.account,
            )?;
            admin::open_invitations(conn, clock, &caller.account)
        })
        .await?;
    Ok(HttpResponse::Ok().json(DataList {
        data: open
            .into_iter()
            .map(|i| InvitationData {
                expiry_date: iso(i.expires_at),
                code: i.handle,
            })
            .collect(),
    }))
}
