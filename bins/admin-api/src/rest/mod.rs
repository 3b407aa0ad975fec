//! The PassBy[ME]-compatible management API under `/rest`.

mod access_keys;
mod activity;
mod administrators;
mod applications;
mod devices;
pub(crate) mod enrollments;
mod invitations;
mod login_names;
pub(crate) mod messages;
mod organization;
pub(crate) mod users;

use actix_web::middleware::from_fn;
use actix_web::web;
use lanyard_core::Oid;
use lanyard_web::ApiError;
use lanyard_web::api_version::require_management;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/rest")
            .wrap(from_fn(require_management))
            .route("/users", web::post().to(users::create::handle))
            .route("/users", web::get().to(users::list::handle))
            .route("/users/count", web::get().to(users::count::handle))
            .route("/users/{oid}", web::get().to(users::get::handle))
            .route("/users/{oid}", web::put().to(users::update::handle))
            .route("/users/{oid}", web::delete().to(users::delete::handle))
            .route(
                "/users/{oid}/enrollments",
                web::post().to(enrollments::handlers::create_for_user),
            )
            .route(
                "/users/{oid}/enrollments",
                web::get().to(enrollments::handlers::list_for_user),
            )
            .route(
                "/users/{oid}/enrollments/{id}",
                web::delete().to(enrollments::handlers::delete_for_user),
            )
            .route(
                "/administrators/{user_id}/enrollments",
                web::post().to(enrollments::handlers::create_for_administrator),
            )
            .route(
                "/administrators/{user_id}/enrollments",
                web::get().to(enrollments::handlers::list_for_administrator),
            )
            .route(
                "/administrators/{user_id}/enrollments/{id}",
                web::delete().to(enrollments::handlers::delete_for_administrator),
            )
            .route(
                "/users/{oid}/enrollments/{id}/pdfviaemail",
                web::post().to(enrollments::handlers::email_to_user),
            )
            .route(
                "/administrators/{user_id}/enrollments/{id}/pdfviaemail",
                web::post().to(enrollments::handlers::email_to_administrator),
            )
            .route("/messages/{id}/evidences", web::get().to(messages::list))
            .route("/activity", web::get().to(activity::handle))
            .route("/devices", web::get().to(devices::all))
            .route(
                "/devices/deactivations",
                web::post().to(devices::deactivate),
            )
            .route(
                "/devices/suspensionpass",
                web::post().to(devices::resend_code),
            )
            .route(
                "/devices/deactivationpass",
                web::post().to(devices::resend_code),
            )
            .route("/users/{oid}/devices", web::get().to(devices::of_user))
            .route(
                "/administrators/{user_id}/devices",
                web::get().to(devices::of_administrator),
            )
            .route("/loginNames", web::get().to(login_names::find::handle))
            .route("/loginNames", web::delete().to(login_names::delete::handle))
            .route(
                "/loginNames/{oid}",
                web::post().to(login_names::create::handle),
            )
            .route(
                "/loginNames/{oid}",
                web::get().to(login_names::list::handle),
            )
            .route(
                "/administrators",
                web::get().to(administrators::list::handle),
            )
            .route(
                "/administrators/user",
                web::post().to(administrators::add_as_user::handle),
            )
            .route(
                "/applications",
                web::post().to(applications::create::handle),
            )
            .route("/applications", web::get().to(applications::list::handle))
            .route(
                "/applications/{id}",
                web::get().to(applications::get::handle),
            )
            .route(
                "/applications/{id}/callbackSecret",
                web::get().to(applications::callback_secret::handle),
            )
            .route(
                "/applications/{id}",
                web::put().to(applications::update::handle),
            )
            .route(
                "/applications/{id}",
                web::delete().to(applications::delete::handle),
            )
            .route("/accessKeys", web::get().to(access_keys::list::handle))
            .route("/accessKeys", web::post().to(access_keys::create::handle))
            .route(
                "/accessKeys/{id}",
                web::delete().to(access_keys::delete::handle),
            )
            .route(
                "/accessKeys/{id}/certificates",
                web::get().to(access_keys::certificates::list),
            )
            .route(
                "/accessKeys/{id}/certificates",
                web::post().to(access_keys::certificates::issue),
            )
            .route(
                "/accessKeys/{id}/certificates/{serial}/revoke",
                web::post().to(access_keys::revoke::handle),
            )
            .route("/invitations", web::get().to(invitations::list::handle))
            .route("/invitations", web::post().to(invitations::create::handle))
            .route(
                "/invitations/{code}",
                web::delete().to(invitations::delete::handle),
            )
            .route("/organization", web::get().to(organization::get::handle))
            .route("/organization", web::put().to(organization::update::handle))
            .route(
                "/organization/pricing",
                web::get().to(organization::pricing::handle),
            ),
    );
}

/// A timestamp as the API writes them: ISO 8601, UTC, milliseconds.
pub(crate) use lanyard_core::wire::timestamp as iso;

/// Parses an OID given by the caller in `field`.
pub(crate) fn parse_oid(field: &str, raw: &str) -> Result<Oid, ApiError> {
    Oid::parse(raw).map_err(|_| {
        ApiError::malformed(
            field,
            "must be a dotted OID such as 1.3.6.1.4.1.21528.3.3.109",
        )
    })
}

/// Paging parameters of DataTables-style lists.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct PageQuery {
    start: Option<i64>,
    length: Option<i64>,
    #[serde(rename = "search[value]")]
    search: Option<String>,
}

impl PageQuery {
    pub(crate) fn validate(self) -> Result<lanyard_core::PageRequest, ApiError> {
        lanyard_core::PageRequest::new(self.start, self.length, self.search)
            .map_err(|e| ApiError::malformed(e.field, e.rule))
    }
}

/// A paged list: `{"data": [...], "recordsTotal": n, "recordsFiltered": n}`.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PagedList<T> {
    data: Vec<T>,
    records_total: i64,
    records_filtered: i64,
}

impl<T> PagedList<T> {
    pub(crate) fn from_page<U>(page: lanyard_core::Page<U>, f: impl Fn(&U) -> T) -> Self {
        Self {
            data: page.data.iter().map(f).collect(),
            records_total: page.records_total,
            records_filtered: page.records_filtered,
        }
    }
}

/// An unpaged list: `{"data": [...]}`.
#[derive(Debug, serde::Serialize)]
pub(crate) struct DataList<T> {
    pub(crate) data: Vec<T>,
}
