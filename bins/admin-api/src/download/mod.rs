//! File downloads of the management API under `/download`.

pub(crate) mod users_report;

use actix_web::middleware::from_fn;
use actix_web::web;
use lanyard_web::api_version::require_management;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/download")
            .wrap(from_fn(require_management))
            .route("/users/report.csv", web::get().to(users_report::handle)),
    );
}
