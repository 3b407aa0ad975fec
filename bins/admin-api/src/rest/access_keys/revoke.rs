//! `POST /rest/accessKeys/{id}/certificates/{serial}/revoke`: answers the serial.

use actix_web::{HttpResponse, web};
use lanyard_identity::access_key;
use lanyard_web::auth::ManagementCaller;
use lanyard_web::{ApiError, AppState};

pub(crate) async fn handle(
    state: web::Data<AppState>,
    caller: ManagementCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, serial) = path.into_inner();
    let master = state.master_key.clone();
    let answer = serial.clone();
    state
        .db(move |conn, clock| {
            // The serial must be one of this key's certificates.
            let certs =
                access_key::certificates_of(conn, clock, &caller.actor, &caller.account, &id)?;
            if !certs.iter().any(|c| c.serial == serial) {
                return Err(lanyard_identity::IdentityError::NotFound {
                    what: "certificate",
                    key: serial,
                });
            }
            access_key::revoke(
                conn,
                clock,
                &master,
                &caller.actor,
                &caller.account,
                &serial,
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(answer))
}
