//! The web console under `/console`: server-rendered pages (minijinja, the same engine as the
//! e-mails), session cookies, CSRF tokens on every form, no JavaScript.
//!
//! Every page authorizes with the same `rights::authorize` as the API; the navigation shows only
//! the areas the administrator may view.

mod access_keys;
mod accounts;
mod activity;
mod administrators;
mod alerts;
mod api_tokens;
mod approvals;
mod auth;
mod history;
mod login;
mod maintenance;
mod messages;
mod password;
mod personalization;
mod phones;
mod plans;
mod profiles;
mod register;
mod settings;
mod user_detail;
mod users;

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, LOCATION};
use actix_web::{HttpResponse, ResponseError, web};
use lanyard_core::{Coded, ErrorCode};
use lanyard_identity::IdentityError;
use lanyard_web::ApiError;
use minijinja::{AutoEscape, Environment, Value};
use std::collections::BTreeMap;
use std::fmt;

/// The page templates, compiled once per worker.
pub(crate) struct Templates(Environment<'static>);

impl Templates {
    fn new() -> Self {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|_| AutoEscape::Html);
        // Optional values (errors, notices) may be absent from a page's context.
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
        for (name, source) in [
            ("layout.html", include_str!("../../templates/layout.html")),
            ("macros.html", include_str!("../../templates/macros.html")),
            ("message.html", include_str!("../../templates/message.html")),
            ("login.html", include_str!("../../templates/login.html")),
            (
                "activity.html",
                include_str!("../../templates/activity.html"),
            ),
            (
                "login_phone.html",
                include_str!("../../templates/login_phone.html"),
            ),
            (
                "register.html",
                include_str!("../../templates/register.html"),
            ),
            (
                "activate.html",
                include_str!("../../templates/activate.html"),
            ),
            (
                "dashboard.html",
                include_str!("../../templates/dashboard.html"),
            ),
            ("users.html", include_str!("../../templates/users.html")),
            (
                "user_form.html",
                include_str!("../../templates/user_form.html"),
            ),
            (
                "administrators.html",
                include_str!("../../templates/administrators.html"),
            ),
            ("invite.html", include_str!("../../templates/invite.html")),
            (
                "profiles.html",
                include_str!("../../templates/profiles.html"),
            ),
            (
                "profile_form.html",
                include_str!("../../templates/profile_form.html"),
            ),
            ("history.html", include_str!("../../templates/history.html")),
            (
                "messages.html",
                include_str!("../../templates/messages.html"),
            ),
            (
                "message_detail.html",
                include_str!("../../templates/message_detail.html"),
            ),
            ("forgot.html", include_str!("../../templates/forgot.html")),
            ("reset.html", include_str!("../../templates/reset.html")),
            (
                "approval_wait.html",
                include_str!("../../templates/approval_wait.html"),
            ),
            ("me.html", include_str!("../../templates/me.html")),
            (
                "accounts.html",
                include_str!("../../templates/accounts.html"),
            ),
            (
                "account_form.html",
                include_str!("../../templates/account_form.html"),
            ),
            ("account.html", include_str!("../../templates/account.html")),
            (
                "administrator.html",
                include_str!("../../templates/administrator.html"),
            ),
            (
                "settings.html",
                include_str!("../../templates/settings.html"),
            ),
            (
                "api_tokens.html",
                include_str!("../../templates/api_tokens.html"),
            ),
            (
                "personalization.html",
                include_str!("../../templates/personalization.html"),
            ),
            (
                "personalization_form.html",
                include_str!("../../templates/personalization_form.html"),
            ),
            ("plans.html", include_str!("../../templates/plans.html")),
            ("signup.html", include_str!("../../templates/signup.html")),
            ("alerts.html", include_str!("../../templates/alerts.html")),
            ("user.html", include_str!("../../templates/user.html")),
            ("phones.html", include_str!("../../templates/phones.html")),
            ("devices.html", include_str!("../../templates/devices.html")),
            (
                "maintenance_form.html",
                include_str!("../../templates/maintenance_form.html"),
            ),
            (
                "access_keys.html",
                include_str!("../../templates/access_keys.html"),
            ),
            (
                "access_key.html",
                include_str!("../../templates/access_key.html"),
            ),
        ] {
            // The templates are part of the binary; one that does not compile is a build bug
            // caught by every console test.
            if let Err(err) = env.add_template(name, source) {
                tracing::error!(template = name, error = %err, "console template does not compile");
            }
        }
        Self(env)
    }

    fn render(&self, name: &str, ctx: Value) -> Result<HttpResponse, ConsoleError> {
        self.render_status(StatusCode::OK, name, ctx)
    }

    fn render_status(
        &self,
        status: StatusCode,
        name: &str,
        ctx: Value,
    ) -> Result<HttpResponse, ConsoleError> {
        let html = self
            .0
            .get_template(name)
            .and_then(|t| t.render(ctx))
            .map_err(|e| {
                ConsoleError::Internal(ApiError::internal(format!("template {name}: {e}")))
            })?;
        Ok(HttpResponse::build(status)
            .insert_header((CONTENT_TYPE, "text/html; charset=utf-8"))
            .insert_header((
                "Content-Security-Policy",
                "default-src 'self'; script-src 'none'; frame-ancestors 'none'",
            ))
            .insert_header(("X-Content-Type-Options", "nosniff"))
            .insert_header(("Referrer-Policy", "same-origin"))
            .body(html))
    }
}

/// Why a console request did not produce its page.
#[derive(Debug)]
pub(crate) enum ConsoleError {
    /// Not logged in (or the session ended): go to the login page.
    Login,
    /// A page-level refusal or absence, shown as a message page.
    Page(StatusCode, String),
    /// Anything unexpected.
    Internal(ApiError),
}

impl fmt::Display for ConsoleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Login => f.write_str("login required"),
            Self::Page(status, message) => write!(f, "{status}: {message}"),
            Self::Internal(e) => write!(f, "{e}"),
        }
    }
}

impl From<ApiError> for ConsoleError {
    fn from(err: ApiError) -> Self {
        match err.code() {
            ErrorCode::Forbidden => Self::Page(StatusCode::FORBIDDEN, err.message().to_owned()),
            ErrorCode::NotFound => Self::Page(
                StatusCode::NOT_FOUND,
                "This page does not exist or is not yours to see.".into(),
            ),
            ErrorCode::Internal => Self::Internal(err),
            _ => Self::Page(StatusCode::BAD_REQUEST, err.message().to_owned()),
        }
    }
}

impl ResponseError for ConsoleError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Login => StatusCode::SEE_OTHER,
            Self::Page(status, _) => *status,
            Self::Internal(e) => e.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Login => HttpResponse::SeeOther()
                .insert_header((LOCATION, "/console/login"))
                .finish(),
            Self::Page(status, message) => {
                let heading = match *status {
                    StatusCode::FORBIDDEN => "Not allowed",
                    StatusCode::NOT_FOUND => "Not found",
                    _ => "Cannot do that",
                };
                let page = Templates::new().render_status(
                    *status,
                    "message.html",
                    minijinja::context! { title => heading, heading => heading, message => message, error => true,
                        link => "/console", link_text => "Back to the dashboard", theme => "" },
                );
                page.unwrap_or_else(|e| HttpResponse::build(*status).body(e.to_string()))
            }
            Self::Internal(e) => e.error_response(),
        }
    }
}

/// Splits a domain error into field errors (shown next to the field) and a general message.
pub(crate) fn form_errors(
    err: &ApiError,
    identity: Option<&IdentityError>,
) -> (BTreeMap<String, String>, Option<String>) {
    let mut fields = BTreeMap::new();
    if let Some(IdentityError::Invalid { field, rule }) = identity {
        fields.insert((*field).to_owned(), rule.clone());
        return (fields, None);
    }
    (fields, Some(err.message().to_owned()))
}

/// Runs a domain call for a form: `Ok(Ok(v))` success, `Ok(Err((fields, message)))` an error to
/// show on the form, `Err` anything unexpected.
pub(crate) async fn form_call<T, F>(
    state: &lanyard_web::AppState,
    f: F,
) -> Result<Result<T, (BTreeMap<String, String>, Option<String>)>, ConsoleError>
where
    F: FnOnce(
            &mut lanyard_store::DbConnection,
            &dyn lanyard_core::Clock,
        ) -> Result<T, IdentityError>
        + Send
        + 'static,
    T: Send + 'static,
{
    let outcome = state
        .db(move |conn, clock| Ok::<_, IdentityError>(f(conn, clock)))
        .await?;
    match outcome {
        Ok(v) => Ok(Ok(v)),
        Err(err) if err.code() == ErrorCode::Internal => {
            Err(ConsoleError::Internal(ApiError::from(err)))
        }
        Err(err) if err.code() == ErrorCode::Forbidden => Err(ConsoleError::Page(
            StatusCode::FORBIDDEN,
            err.public_message(),
        )),
        Err(err) => {
            let api = ApiError::new(err.code(), err.public_message());
            Ok(Err(form_errors(&api, Some(&err))))
        }
    }
}

/// A form that uploads one file (field `file`) with its CSRF token: logos, application icons.
#[derive(Debug, actix_multipart::form::MultipartForm)]
pub(crate) struct FileUpload {
    pub(crate) csrf: actix_multipart::form::text::Text<String>,
    // Larger than any domain limit, so an oversized file gets the domain's clear message rather
    // than a transport error.
    #[multipart(limit = "1MiB")]
    file: Option<actix_multipart::form::bytes::Bytes>,
}

impl FileUpload {
    /// The uploaded bytes (empty when no file was chosen).
    pub(crate) fn bytes(self) -> Vec<u8> {
        self.file.map(|b| b.data.to_vec()).unwrap_or_default()
    }
}

/// The pager of a list page showing `shown` rows from `start`, `page` at a time, of `filtered`:
/// which rows these are, and where Previous and Next go (none at the ends).
pub(crate) fn pager(start: i64, shown: i64, filtered: i64, page: i64) -> Value {
    minijinja::context! {
        filtered => filtered,
        shown_from => if shown == 0 { 0 } else { start.saturating_add(1) },
        shown_to => start.saturating_add(shown),
        prev_start => (start > 0).then(|| start.saturating_sub(page).max(0)),
        next_start => (start.saturating_add(shown) < filtered).then_some(start.saturating_add(page)),
    }
}

/// A time as list pages show it (UTC, to the second).
pub(crate) fn when(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// Who sent a message, as list pages name it: its application, or the console itself (the
/// approvals it asks of administrators' phones have no application).
pub(crate) fn sender_name(application: Option<String>) -> String {
    application.unwrap_or_else(|| "Console approval".to_owned())
}

pub(crate) fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((LOCATION, to.to_owned()))
        .finish()
}

async fn css() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/css; charset=utf-8"))
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(include_str!("../../templates/console.css"))
}

async fn favicon() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "image/svg+xml"))
        .insert_header(("Cache-Control", "public, max-age=86400"))
        .body(include_str!("../../templates/favicon.svg"))
}

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::Data::new(Templates::new()));
    cfg.service(
        web::scope("/console")
            .wrap(actix_web::middleware::from_fn(auth::record_alerts))
            .app_data(
                actix_multipart::form::MultipartFormConfig::default()
                    .total_limit(2 * 1024 * 1024)
                    .memory_limit(2 * 1024 * 1024),
            )
            .route("", web::get().to(users::dashboard))
            .route("/", web::get().to(users::dashboard))
            .route("/static/console.css", web::get().to(css))
            .route("/static/favicon.svg", web::get().to(favicon))
            .route("/static/brand.css", web::get().to(auth::brand_css))
            .route("/theme", web::get().to(auth::theme))
            .route("/login", web::get().to(login::form))
            .route("/login", web::post().to(login::submit))
            .route("/activity", web::get().to(activity::list))
            .route("/approvals/{id}", web::get().to(approvals::show))
            .route("/approvals/{id}/cancel", web::post().to(approvals::cancel))
            .route("/messages", web::get().to(messages::list))
            .route("/messages", web::post().to(messages::send))
            .route("/messages/{id}", web::get().to(messages::show))
            .route(
                "/messages/{id}/evidences/{file}",
                web::get().to(messages::evidence),
            )
            .route("/login/phone", web::get().to(login::phone))
            .route("/login/phone", web::post().to(login::phone_action))
            .route("/logout", web::post().to(login::logout))
            .route("/register", web::get().to(register::form))
            .route("/register", web::post().to(register::submit))
            .route("/signup", web::get().to(register::signup_form))
            .route("/signup", web::post().to(register::signup))
            .route("/activate", web::get().to(register::activate_form))
            .route("/activate", web::post().to(register::activate))
            .route("/forgot-password", web::get().to(password::forgot_form))
            .route("/forgot-password", web::post().to(password::forgot))
            .route("/reset-password", web::get().to(password::reset_form))
            .route("/reset-password", web::post().to(password::reset))
            .route(
                "/reset-password/phone",
                web::get().to(password::reset_phone),
            )
            .route("/confirm-email", web::get().to(password::confirm_email))
            .route("/me", web::get().to(password::me))
            .route("/me/password", web::post().to(password::change_password))
            .route("/me/email", web::post().to(password::change_email))
            .route("/users", web::get().to(users::list))
            .route("/users/new", web::get().to(users::new_form))
            .route("/users/new", web::post().to(users::create))
            .route("/users/report.csv", web::get().to(users::report))
            .route("/users/{oid}", web::get().to(user_detail::show))
            .route(
                "/users/{oid}/enrollments/{id}/qr.svg",
                web::get().to(user_detail::qr_code),
            )
            .route(
                "/users/{oid}/enrollments/{id}/sheet.pdf",
                web::get().to(user_detail::sheet),
            )
            .route("/devices", web::get().to(phones::list))
            .route("/devices/report.csv", web::get().to(phones::report))
            .route("/devices/{action}", web::post().to(phones::act_on_devices))
            .route("/users/{oid}/{action}", web::post().to(user_detail::act))
            .route("/administrators", web::get().to(administrators::list))
            .route(
                "/administrators/invite",
                web::get().to(administrators::invite_form),
            )
            .route(
                "/administrators/invite",
                web::post().to(administrators::invite),
            )
            .route("/administrators/{id}", web::get().to(administrators::show))
            .route(
                "/administrators/{id}/enrollments/{eid}/qr.svg",
                web::get().to(administrators::qr_code),
            )
            .route(
                "/administrators/{id}/enrollments/{eid}/sheet.pdf",
                web::get().to(administrators::sheet),
            )
            .route(
                "/administrators/{id}/{action}",
                web::post().to(administrators::act),
            )
            .route(
                "/invitations/{handle}/delete",
                web::post().to(administrators::withdraw),
            )
            .route("/profiles", web::get().to(profiles::list))
            .route("/profiles/new", web::get().to(profiles::new_form))
            .route("/profiles/new", web::post().to(profiles::create))
            .route("/accounts", web::get().to(accounts::list))
            .route("/accounts/new", web::get().to(accounts::new_form))
            .route("/accounts/new", web::post().to(accounts::create))
            .route("/accounts/export.xlsx", web::get().to(accounts::export))
            .route("/accounts/{oid}", web::get().to(accounts::show))
            .route("/accounts/{oid}/edit", web::get().to(accounts::edit_form))
            .route("/accounts/{oid}/edit", web::post().to(accounts::modify))
            .route("/accounts/{oid}/{action}", web::post().to(accounts::act))
            .route("/settings", web::get().to(settings::show))
            .route("/settings", web::post().to(settings::save))
            .route("/profiles/{id}", web::get().to(profiles::edit_form))
            .route("/profiles/{id}/{action}", web::post().to(profiles::act))
            .route("/api-tokens", web::get().to(api_tokens::list))
            .route("/api-tokens", web::post().to(api_tokens::request))
            .route("/api-tokens/{id}/{action}", web::post().to(api_tokens::act))
            .route("/personalization", web::get().to(personalization::list))
            .route(
                "/personalization-look",
                web::post().to(personalization::save_look),
            )
            .route(
                "/personalization/{name}",
                web::get().to(personalization::edit),
            )
            .route(
                "/personalization/{name}",
                web::post().to(personalization::save),
            )
            .route("/access-keys", web::get().to(access_keys::list))
            .route("/access-keys", web::post().to(access_keys::create))
            .route("/access-keys/{id}", web::get().to(access_keys::show))
            .route(
                "/access-keys/{id}/certificates/{file}",
                web::get().to(access_keys::download),
            )
            .route(
                "/access-keys/{id}/certificates/{serial}/{action}",
                web::post().to(access_keys::certificate_act),
            )
            .route(
                "/access-keys/{id}/{action}",
                web::post().to(access_keys::act),
            )
            .route(
                "/applications/{id}/icon.svg",
                web::get().to(access_keys::icon),
            )
            .route(
                "/applications/{id}/icon",
                web::post().to(access_keys::upload_icon),
            )
            .route(
                "/applications/{id}/icon/default",
                web::post().to(access_keys::restore_icon),
            )
            .route("/maintenance/new", web::get().to(maintenance::new_form))
            .route("/maintenance", web::post().to(maintenance::create))
            .route("/maintenance/{id}", web::get().to(maintenance::show))
            .route("/maintenance/{id}", web::post().to(maintenance::modify))
            .route(
                "/maintenance/{id}/{action}",
                web::post().to(maintenance::act),
            )
            .route("/alerts", web::get().to(alerts::list))
            .route("/alerts/clear", web::post().to(alerts::clear))
            .route("/logo/{slot}", web::get().to(personalization::logo))
            .route(
                "/personalization/logos/{slot}",
                web::post().to(personalization::upload_logo),
            )
            .route(
                "/personalization/logos/{slot}/remove",
                web::post().to(personalization::remove_logo),
            )
            .route("/plans", web::get().to(plans::list))
            .route("/plans/{name}", web::post().to(plans::save))
            .route("/history", web::get().to(history::list))
            .route("/history/export.xlsx", web::get().to(history::export)),
    );
}

#[cfg(test)]
mod tests {
    use super::Templates;

    /// Every page template in `templates/` is registered and compiles (a forgotten one would be
    /// a 500 at run time).
    #[test]
    fn every_template_is_registered_and_compiles() {
        let templates = Templates::new();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        for entry in std::fs::read_dir(dir).expect("templates folder") {
            let name = entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned();
            if name.ends_with(".html") {
                assert!(
                    templates.0.get_template(&name).is_ok(),
                    "{name} is not registered or does not compile"
                );
            }
        }
    }
}
