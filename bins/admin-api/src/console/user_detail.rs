//! One end user (PassBy[ME] "User management", STid "Users"): details, edit, disable/enable,
//! delete, aliases, and the phone enrollments with their QR codes.

use super::auth::Console;
use super::{ConsoleError, Templates, form_call, redirect};
use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpResponse, web};
use lanyard_core::Oid;
use lanyard_enrollment::device;
use lanyard_enrollment::enrollment::{self, Holder, Links};
use lanyard_enrollment::{EnrollmentError, qr};
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

fn day(at: chrono::DateTime<chrono::Utc>) -> String {
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
    let (device_api, master) = (state.settings.device_api.url(), state.master_key.clone());
    let (user, enrollments, devices) = state
        .db(move |conn, clock| {
            authorize(conn, &c.actor, Area::EndUsers, Verb::View, &c.admin.account)?;
            let user = end_user::get(conn, &c.admin.account, &o)?;
            if !c.actor.rights.allows(Area::Devices, Verb::View) {
                return Ok::<_, EnrollmentError>((user, Vec::new(), Vec::new()));
            }
            let links = Links {
                device_api: &device_api,
                master: &master,
            };
            let holder = Holder::User(&o);
            let enrollments =
                enrollment::list(conn, clock, &c.actor, &c.admin.account, holder, links)?;
            let devices = device::list(conn, &c.actor, &c.admin.account, Some(holder))?;
            Ok((user, enrollments, devices))
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
        devices => devices.iter().map(|d| minijinja::context! {
            id => d.id.clone(), name => d.name.clone(), vendor => d.vendor_id.clone(), kind => d.device_type.clone(),
            app => d.app_version.clone(), enrolled => day(d.created_at), seen => day(d.last_seen_at),
        }).collect::<Vec<_>>(),
        enrollments => enrollments.iter().map(|e| minijinja::context! {
            id => e.id.clone(), state => e.state.as_str(), expires => day(e.expires_at), url => e.device_config_url.clone(),
            active => e.state == enrollment::EnrollmentState::Active,
        }).collect::<Vec<_>>(),
        allowed => minijinja::context! {
            edit => rights.allows(Area::EndUsers, Verb::Edit), delete => rights.allows(Area::EndUsers, Verb::Delete),
            devices => rights.allows(Area::Devices, Verb::View), enroll => rights.allows(Area::Devices, Verb::Create),
            deactivate => rights.allows(Area::Devices, Verb::Delete),
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
    let (device_api, master) = (state.settings.device_api.url(), state.master_key.clone());
    let act = action.clone();
    let outcome = form_call(&state, move |conn, clock| {
        let (actor, account) = (&c.actor, &c.admin.account);
        let value = |k: &str| {
            f.get(k)
                .map(String::as_str)
                .filter(|v| !v.trim().is_empty())
        };
        let enrollment_error = EnrollmentError::into_identity;
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
            "delete" => device::delete_end_user(conn, clock, &master, actor, account, &o)
                .map(|()| String::new())
                .map_err(enrollment_error),
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
            "enroll" => {
                let links = Links {
                    device_api: &device_api,
                    master: &master,
                };
                enrollment::create(conn, clock, actor, account, Holder::User(&o), links)
                    .map(|e| format!("Enrollment {} created.", e.id))
                    .map_err(enrollment_error)
            }
            "device-deactivate" => device::deactivate_by(
                conn,
                clock,
                &master,
                actor,
                account,
                value("device").unwrap_or_default(),
            )
            .map(|_| "Device deactivated; its certificate is revoked.".to_owned())
            .map_err(enrollment_error),
            "enrollment-delete" => enrollment::delete(
                conn,
                clock,
                actor,
                account,
                Holder::User(&o),
                value("enrollment").unwrap_or_default(),
            )
            .map(|()| "Enrollment deleted.".to_owned())
            .map_err(enrollment_error),
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

/// The QR code of an enrollment, as an SVG image (Lanyard made it: no user content in it).
pub(crate) async fn qr_code(
    console: Console,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ConsoleError> {
    let (raw, id) = path.into_inner();
    let oid = oid_of(&raw)?;
    let c = console.clone();
    let (device_api, master) = (state.settings.device_api.url(), state.master_key.clone());
    let svg = state
        .db(move |conn, clock| {
            let links = Links {
                device_api: &device_api,
                master: &master,
            };
            let found = enrollment::get(
                conn,
                clock,
                &c.actor,
                &c.admin.account,
                Holder::User(&oid),
                &id,
                links,
            )?;
            qr::svg(&found.device_config_url)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "image/svg+xml"))
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(svg))
}
