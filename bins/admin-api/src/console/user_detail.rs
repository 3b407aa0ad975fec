//! One end user (PassBy[ME] "User management", STid "Users"): details, edit, disable/enable,
//! delete, aliases, and the phone enrollments with their QR codes.

use super::auth::Console;
use super::phones::{self, OwnedHolder, Reach};
use super::{ConsoleError, Templates, form_call, redirect};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use lanyard_core::Oid;
use lanyard_enrollment::EnrollmentError;
use lanyard_enrollment::device;
use lanyard_enrollment::enrollment::Holder;
use lanyard_identity::IdentityError;
use lanyard_identity::alias::{self, Alias};
use lanyard_identity::end_user::{self, EndUserChanges};
use lanyard_identity::rights::{Area, Verb, authorize};
use lanyard_web::AppState;
use std::collections::BTreeMap;

fn oid_of(raw: &str) -> Result<Oid, ConsoleError> {
    Oid::parse(raw)
        .map_err(|_| ConsoleError::Page(StatusCode::NOT_FOUND, "No such end user.".into()))
}

pub(crate) fn day(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

#[derive(Default)]
struct Shown {
    notice: Option<String>,
    errors: BTreeMap<String, String>,
    error: Option<String>,
    form: Option<BTreeMap<String, String>>,
}

async fn render(
    console: &Console,
    state: &AppState,
    templates: &Templates,
    oid: Oid,
    shown: Shown,
) -> Result<HttpResponse, ConsoleError> {
    let (c, o) = (console.clone(), oid.clone());
    let reach = Reach::of(state);
    let (user, (devices, enrollments)) = state
        .db(move |conn, clock| {
            authorize(conn, &c.actor, Area::EndUsers, Verb::View, &c.admin.account)?;
            let user = end_user::get(conn, &c.admin.account, &o)?;
            let phones = phones::load(
                conn,
                clock,
                &c.actor,
                &c.admin.account,
                Holder::User(&o),
                &reach,
            )?;
            Ok::<_, EnrollmentError>((user, phones))
        })
        .await?;
    let form = shown.form.unwrap_or_else(|| {
        BTreeMap::from([
            (
                "fullName".to_owned(),
                user.full_name.clone().unwrap_or_default(),
            ),
            ("email".to_owned(), user.email.clone().unwrap_or_default()),
            (
                "phoneNumber".to_owned(),
                user.phone_number.clone().unwrap_or_default(),
            ),
        ])
    });
    let status = if shown.errors.is_empty() && shown.error.is_none() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let rights = &console.actor.rights;
    let ctx = console.page(user.primary_alias().unwrap_or("End user"), "users", minijinja::context! {
        user => minijinja::context! {
            oid => user.oid.to_string(), alias => user.primary_alias().unwrap_or_default(),
            aliases => user.aliases.clone(), disabled => user.disabled, created => day(user.created_at),
        },
        phones_of => phones::context(console, &format!("/console/users/{}", user.oid), &devices, &enrollments),
        allowed => minijinja::context! {
            edit => rights.allows(Area::EndUsers, Verb::Edit), delete => rights.allows(Area::EndUsers, Verb::Delete),
        },
        form => form, errors => shown.errors, error => shown.error, notice => shown.notice,
    });
    templates.render_status(status, "user.html", ctx)
}

pub(crate) async fn show(
    console: Console,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    render(
        &console,
        &state,
        &templates,
        oid_of(&path)?,
        Shown::default(),
    )
    .await
}

/// `edit`, `disable`, `enable`, `delete`, `alias-add`, `alias-delete`, `enroll`,
/// `enrollment-delete`, `device-deactivate`.
pub(crate) async fn act(
    console: Console,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
    path: web::Path<(String, String)>,
    form: web::Form<BTreeMap<String, String>>,
) -> Result<HttpResponse, ConsoleError> {
    let form = form.into_inner();
    console.check_csrf(form.get("csrf").map(String::as_str).unwrap_or_default())?;
    let (raw, action) = path.into_inner();
    let oid = oid_of(&raw)?;
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    let (c, o, f) = (console.clone(), oid.clone(), form.clone());
    let reach = Reach::of(&state);
    let act = action.clone();
    let outcome = form_call(&state, move |conn, clock| {
        let (actor, account) = (&c.actor, &c.admin.account);
        let value = |k: &str| {
            f.get(k)
                .map(String::as_str)
                .filter(|v| !v.trim().is_empty())
        };
        if let Some(done) = phones::act(
            conn,
            clock,
            actor,
            account,
            Holder::User(&o),
            (&act, &f),
            &reach,
        ) {
            return done;
        }
        match act.as_str() {
            "edit" => {
                let changes = EndUserChanges::parse(
                    value("email"),
                    Some(value("fullName").unwrap_or_default()),
                    Some(value("phoneNumber").unwrap_or_default()),
                    None,
                )?;
                end_user::update(conn, clock, actor, account, &o, changes)
                    .map(|_| "Saved.".to_owned())
            }
            "disable" | "enable" => {
                let disabled = act == "disable";
                let changes = EndUserChanges {
                    disabled: Some(disabled),
                    ..EndUserChanges::default()
                };
                end_user::update(conn, clock, actor, account, &o, changes)
                    .map(|_| if disabled { "Disabled." } else { "Enabled." }.to_owned())
            }
            "delete" => device::delete_end_user(conn, clock, &reach.master(), actor, account, &o)
                .map(|()| String::new())
                .map_err(EnrollmentError::into_identity),
            "alias-add" => {
                let new = Alias::parse("alias", value("alias").unwrap_or_default())?;
                alias::add(conn, clock, actor, account, &o, &new).map(|_| "Alias added.".to_owned())
            }
            "alias-delete" => alias::delete(
                conn,
                clock,
                actor,
                account,
                &o,
                value("alias").unwrap_or_default(),
            )
            .map(|()| "Alias deleted.".to_owned()),
            _ => Err(IdentityError::NotAllowed("no such action".into())),
        }
    })
    .await?;
    match outcome {
        Ok(_) if action == "delete" => Ok(redirect("/console/users")),
        Ok(notice) => {
            render(
                &console,
                &state,
                &templates,
                oid,
                Shown {
                    notice: Some(notice),
                    ..Shown::default()
                },
            )
            .await
        }
        Err((errors, error)) => {
            let form = (action == "edit").then(|| {
                BTreeMap::from([
                    ("fullName".to_owned(), get("fullName")),
                    ("email".to_owned(), get("email")),
                    ("phoneNumber".to_owned(), get("phoneNumber")),
                ])
            });
            render(
                &console,
                &state,
                &templates,
                oid,
                Shown {
                    errors,
                    error,
                    form,
                    ..Shown::default()
                },
            )
            .await
        }
    }
}

/// The QR code of an enrollment, as an SVG image.
pub(crate) async fn qr_code(
    console: Console,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ConsoleError> {
    let (raw, id) = path.into_inner();
    phones::qr_code(&console, &state, OwnedHolder::User(oid_of(&raw)?), id).await
}

/// The enrollment sheet (PDF) of an enrollment.
pub(crate) async fn sheet(
    console: Console,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ConsoleError> {
    let (raw, id) = path.into_inner();
    phones::sheet(&console, &state, OwnedHolder::User(oid_of(&raw)?), id).await
}
