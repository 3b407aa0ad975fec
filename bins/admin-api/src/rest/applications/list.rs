//! `GET /rest/applications`: the organization's applications under `data`.

use super::{ApplicationData, organization_oid};
use actix_web::{HttpResponse, web};
use lanyard_identity::application;
use lanyard_web::auth::ManagementCaller;
use lanyard_web::{ApiError, AppState};

pub(crate) async fn handle(
    state: web::Data<AppState>,
    caller: ManagementCaller,
) -> Result<HttpResponse, ApiError> {
    let data = state
        .db(move |conn, _| {
            let oid = organization_oid(conn, &caller.account)?;
            let apps = application::list(conn, &caller.actor, &caller.account)?;
            Ok::<_, lanyard_identity::IdentityError>(
                apps.iter()
                    .map(|a| ApplicationData::of(a, &oid))
                    .collect::<Vec<_>>(),
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "data": data })))
}
