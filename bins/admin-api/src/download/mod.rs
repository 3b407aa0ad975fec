//! File downloads of the management API under `/download`.

pub(crate) mod devices_report;
pub(crate) mod users_report;

use crate::rest::enrollments::handlers as enrollments;
use actix_web::middleware::from_fn;
use actix_web::web;
use lanyard_web::api_version::require_management;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/download")
            .wrap(from_fn(require_management))
            .route("/users/report.csv", web::get().to(users_report::handle))
            .route("/devices/report.csv", web::get().to(devices_report::handle))
            .route(
                "/messages/{id}/evidences/{evidence}",
                web::get().to(crate::rest::messages::download),
            )
            .route(
                "/users/{oid}/enrollments/{id}/pdf",
                web::get().to(enrollments::pdf_of_user),
            )
            .route(
                "/administrators/{user_id}/enrollments/{id}/pdf",
                web::get().to(enrollments::pdf_of_administrator),
            ),
    );
}
