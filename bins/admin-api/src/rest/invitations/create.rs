//! `POST /rest/invitations`: a new invitation code (built-in Administrator profile, whole
//! scope); `PRICING_LIMIT_INVITATION` when the plan allows no more administrators.

use super::{InvitationData, iso};
use actix_web::{HttpResponse, web};
use lanyard_identity::admin::{self, ScopeChoice};
use lanyard_identity::profile;
use lanyard_web::auth::ManagementCaller;
use lanyard_web::{ApiError, AppState};

pub(crate) async fn handle(
    state: web::Data<AppState>,
    caller: ManagementCaller,
) -> Result<HttpResponse, ApiError> {
    let links = state.links();
    let created = state
        .db(move |conn, clock| {
            let builtin = profile::builtin(conn, &caller.account)?;
            admin::invite(
                conn,
                clock,
                &links,
                &caller.actor,
                &caller.account,
                None,
                &builtin.id,
                &ScopeChoice::All,
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(InvitationData {
        expiry_date: iso(created.expires_at),
        code: created.code.expose().to_owned(),
    }))
}
