//! `POST|GET /rest/{users/{oid}|administrators/{userId}}/enrollments`,
//! `DELETE …/enrollments/{enrollmentId}`, `POST …/enrollments/{enrollmentId}/pdfviaemail` and
//! `GET /download/{users/{oid}|administrators/{userId}}/enrollments/{enrollmentId}/pdf`.

use super::EnrollmentData;
use crate::reach::{OwnedHolder, Reach};
use crate::rest::parse_oid;
use actix_web::{HttpResponse, web};
use lanyard_enrollment::EnrollmentError;
use lanyard_enrollment::enrollment;
use lanyard_web::auth::ManagementCaller;
use lanyard_web::{ApiError, AppState};

fn user(raw: &str) -> Result<Owner, ApiError> {
    Ok(Owner::User(parse_oid("oid", raw)?))
}

/// Whose enrollments a path names.
type Owner = OwnedHolder;

async fn create(
    state: &AppState,
    caller: ManagementCaller,
    owner: Owner,
) -> Result<HttpResponse, ApiError> {
    let reach = Reach::of(state);
    let created = state
        .db(move |conn, clock| {
            enrollment::create(
                conn,
                clock,
                &caller.actor,
                &caller.account,
                owner.holder(),
                reach.links(),
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(EnrollmentData::from(&created)))
}

async fn list(
    state: &AppState,
    caller: ManagementCaller,
    owner: Owner,
) -> Result<HttpResponse, ApiError> {
    let reach = Reach::of(state);
    let all = state
        .db(move |conn, clock| {
            enrollment::list(
                conn,
                clock,
                &caller.actor,
                &caller.account,
                owner.holder(),
                reach.links(),
            )
        })
        .await?;
    let data: Vec<EnrollmentData> = all.iter().map(EnrollmentData::from).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "data": data })))
}

async fn delete(
    state: &AppState,
    caller: ManagementCaller,
    owner: Owner,
    id: String,
) -> Result<HttpResponse, ApiError> {
    state
        .db(move |conn, clock| {
            enrollment::delete(
                conn,
                clock,
                &caller.actor,
                &caller.account,
                owner.holder(),
                &id,
            )
            .map_err(|e| match e {
                // PassBy[ME]'s wording for this call.
                EnrollmentError::NotFound(id) => {
                    EnrollmentError::NotFound(format!("Enrollment with id {id} not exists!"))
                }
                other => other,
            })
        })
        .await?;
    Ok(HttpResponse::Ok().finish())
}

async fn pdf(
    state: &AppState,
    caller: ManagementCaller,
    owner: Owner,
    id: String,
) -> Result<HttpResponse, ApiError> {
    let reach = Reach::of(state);
    let name = format!("enrollment-{id}.pdf");
    let pdf = state
        .db(move |conn, clock| {
            enrollment::sheet(
                conn,
                clock,
                &caller.actor,
                &caller.account,
                owner.holder(),
                &id,
                reach.links(),
            )
        })
        .await?;
    Ok(HttpResponse::Ok()
        .content_type("application/pdf")
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ))
        // It carries a working enrollment link: never cached by a proxy or the browser.
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .body(pdf))
}

async fn pdf_via_email(
    state: &AppState,
    caller: ManagementCaller,
    owner: Owner,
    id: String,
) -> Result<HttpResponse, ApiError> {
    let reach = Reach::of(state);
    state
        .db(move |conn, clock| {
            enrollment::send_sheet(
                conn,
                clock,
                &caller.actor,
                &caller.account,
                owner.holder(),
                &id,
                reach.links(),
                &reach.mail_domain,
            )
        })
        .await?;
    Ok(HttpResponse::Ok().finish())
}

pub(crate) async fn pdf_of_user(
    state: web::Data<AppState>,
    caller: ManagementCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (oid, id) = path.into_inner();
    pdf(&state, caller, user(&oid)?, id).await
}

pub(crate) async fn pdf_of_administrator(
    state: web::Data<AppState>,
    caller: ManagementCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (user_id, id) = path.into_inner();
    pdf(&state, caller, Owner::Administrator(user_id), id).await
}

pub(crate) async fn email_to_user(
    state: web::Data<AppState>,
    caller: ManagementCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (oid, id) = path.into_inner();
    pdf_via_email(&state, caller, user(&oid)?, id).await
}

pub(crate) async fn email_to_administrator(
    state: web::Data<AppState>,
    caller: ManagementCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (user_id, id) = path.into_inner();
    pdf_via_email(&state, caller, Owner::Administrator(user_id), id).await
}

pub(crate) async fn create_for_user(
    state: web::Data<AppState>,
    caller: ManagementCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    create(&state, caller, user(&path)?).await
}

pub(crate) async fn list_for_user(
    state: web::Data<AppState>,
    caller: ManagementCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    list(&state, caller, user(&path)?).await
}

pub(crate) async fn delete_for_user(
    state: web::Data<AppState>,
    caller: ManagementCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (oid, id) = path.into_inner();
    delete(&state, caller, user(&oid)?, id).await
}

pub(crate) async fn create_for_administrator(
    state: web::Data<AppState>,
    caller: ManagementCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    create(&state, caller, Owner::Administrator(path.into_inner())).await
}

pub(crate) async fn list_for_administrator(
    state: web::Data<AppState>,
    caller: ManagementCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    list(&state, caller, Owner::Administrator(path.into_inner())).await
}

pub(crate) async fn delete_for_administrator(
    state: web::Data<AppState>,
    caller: ManagementCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (user_id, id) = path.into_inner();
    delete(&state, caller, Owner::Administrator(user_id), id).await
}
