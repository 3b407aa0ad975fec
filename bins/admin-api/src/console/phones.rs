//! Phones in the console (PassBy[ME] "Enrollment management", "Device management"): the
//! devices and enrollments of one person — an end user or an administrator, shown with the same
//! template macro and the same actions — and the organization's devices page with the devices
//! report and the custom mobile app settings.

use super::auth::Console;
use super::{ConsoleError, Templates, form_call};
pub(crate) use crate::reach::{OwnedHolder, Reach};
use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use actix_web::{HttpResponse, web};
use lanyard_core::Clock;
use lanyard_core::id::AccountId;
use lanyard_enrollment::device::{self, DeviceInfo};
use lanyard_enrollment::enrollment::{self, Enrollment, EnrollmentState, Holder};
use lanyard_enrollment::mobile_app::{self, MobileApp};
use lanyard_enrollment::{EnrollmentError, qr};
use lanyard_identity::IdentityError;
use lanyard_identity::rights::{Actor, Area, Verb};
use lanyard_store::DbConnection;
use lanyard_web::AppState;
use std::collections::BTreeMap;

fn day(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// A person's devices and enrollments (empty when the caller may not see devices).
pub(crate) fn load(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    account: &AccountId,
    holder: Holder<'_>,
    reach: &Reach,
) -> Result<(Vec<DeviceInfo>, Vec<Enrollment>), EnrollmentError> {
    if !actor.rights.allows(Area::Devices, Verb::View) {
        return Ok((Vec::new(), Vec::new()));
    }
    let enrollments = enrollment::list(conn, clock, actor, account, holder, reach.links())?;
    let devices = device::list(conn, actor, account, Some(holder))?;
    Ok((devices, enrollments))
}

fn device_rows(devices: &[DeviceInfo]) -> Vec<minijinja::Value> {
    devices
        .iter()
        .map(|d| {
            minijinja::context! {
                id => d.id.clone(), name => d.name.clone(), vendor => d.vendor_id.clone(),
                kind => d.device_type.clone(), app => d.app_version.clone(), owner => d.owner_name.clone(),
                enrolled => day(d.created_at), seen => day(d.last_seen_at),
                serial => d.certificate.as_ref().map(|c| c.0.clone()),
                valid_until => d.certificate.as_ref().map(|c| c.1.format("%Y-%m-%d").to_string()),
            }
        })
        .collect()
}

/// The template values of a person's phones section (`phones.html`'s macro).
pub(crate) fn context(
    console: &Console,
    base: &str,
    devices: &[DeviceInfo],
    enrollments: &[Enrollment],
) -> minijinja::Value {
    let rights = &console.actor.rights;
    minijinja::context! {
        base => base,
        devices => device_rows(devices),
        enrollments => enrollments.iter().map(|e| minijinja::context! {
            id => e.id.clone(), state => e.state.as_str(), expires => day(e.expires_at), sent => e.sent,
            active => e.state == EnrollmentState::Active,
        }).collect::<Vec<_>>(),
        allowed => minijinja::context! {
            devices => rights.allows(Area::Devices, Verb::View),
            enroll => rights.allows(Area::Devices, Verb::Create),
            edit => rights.allows(Area::Devices, Verb::Edit),
            deactivate => rights.allows(Area::Devices, Verb::Delete),
        },
    }
}

/// Whether `action` is one of [`act`]'s.
pub(crate) fn is_action(action: &str) -> bool {
    matches!(
        action,
        "enroll" | "enrollment-delete" | "enrollment-send" | "device-deactivate" | "device-resend"
    )
}

/// Performs a phone action of a person's page, if `action` is one: `enroll`,
/// `enrollment-delete`, `enrollment-send`, `device-deactivate`, `device-resend`.
pub(crate) fn act(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    account: &AccountId,
    holder: Holder<'_>,
    (action, form): (&str, &BTreeMap<String, String>),
    reach: &Reach,
) -> Option<Result<String, IdentityError>> {
    let value = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    let done = match action {
        "enroll" => enrollment::create(conn, clock, actor, account, holder, reach.links())
            .map(|e| format!("Enrollment {} created.", e.id)),
        "enrollment-delete" => {
            enrollment::delete(conn, clock, actor, account, holder, value("enrollment"))
                .map(|()| "Enrollment deleted.".to_owned())
        }
        "enrollment-send" => enrollment::send_sheet(
            conn,
            clock,
            actor,
            account,
            holder,
            value("enrollment"),
            reach.links(),
            &reach.mail_domain,
        )
        .map(|()| "The enrollment sheet is on its way by e-mail.".to_owned()),
        "device-deactivate" | "device-resend" => {
            return device_action(conn, clock, actor, account, (action, form), reach);
        }
        _ => return None,
    };
    debug_assert!(is_action(action));
    Some(done.map_err(EnrollmentError::into_identity))
}

/// A device action of any page (`device-deactivate` with `device`, `device-resend` with
/// `vendor`), if `action` is one.
fn device_action(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    account: &AccountId,
    (action, form): (&str, &BTreeMap<String, String>),
    reach: &Reach,
) -> Option<Result<String, IdentityError>> {
    let value = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    let done = match action {
        "device-deactivate" => {
            device::deactivate_by(conn, clock, &reach.master, actor, account, value("device"))
                .map(|_| "Device deactivated; its certificate is revoked.".to_owned())
        }
        "device-resend" => device::resend_code(
            conn,
            clock,
            actor,
            account,
            value("vendor"),
            reach.service(),
        )
        .map(|()| "A new deactivation code was e-mailed; the old one no longer works.".to_owned()),
        _ => return None,
    };
    Some(done.map_err(EnrollmentError::into_identity))
}

/// The sheet (PDF) of an enrollment of `holder`, for a download link.
pub(crate) async fn sheet(
    console: &Console,
    state: &AppState,
    holder: OwnedHolder,
    id: String,
) -> Result<HttpResponse, ConsoleError> {
    let (c, reach) = (console.clone(), Reach::of(state));
    let name = format!("enrollment-{id}.pdf");
    let pdf = state
        .db(move |conn, clock| {
            enrollment::sheet(
                conn,
                clock,
                &c.actor,
                &c.admin.account,
                holder.holder(),
                &id,
                reach.links(),
            )
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "application/pdf"))
        .insert_header((
            CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ))
        .insert_header((CACHE_CONTROL, "no-store"))
        .body(pdf))
}

/// The QR code of an enrollment of `holder`, as an SVG image (Lanyard made it: no user content
/// in it); with the organization's enrollment scheme when it has one.
pub(crate) async fn qr_code(
    console: &Console,
    state: &AppState,
    holder: OwnedHolder,
    id: String,
) -> Result<HttpResponse, ConsoleError> {
    let (c, reach) = (console.clone(), Reach::of(state));
    let svg = state
        .db(move |conn, clock| {
            let found = enrollment::get(
                conn,
                clock,
                &c.actor,
                &c.admin.account,
                holder.holder(),
                &id,
                reach.links(),
            )?;
            let link =
                mobile_app::enrollment_link(conn, &c.admin.account, &found.device_config_url)?;
            qr::svg(&link)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "image/svg+xml"))
        .insert_header((CACHE_CONTROL, "no-store"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(svg))
}

#[derive(Default)]
struct Feedback {
    notice: Option<String>,
    error: Option<String>,
    errors: BTreeMap<String, String>,
}

async fn render_devices(
    console: &Console,
    state: &AppState,
    templates: &Templates,
    feedback: Feedback,
) -> Result<HttpResponse, ConsoleError> {
    let c = console.clone();
    let master = state.master_key.clone();
    let (devices, app, push) = state
        .db(move |conn, _| {
            let devices = device::list(conn, &c.actor, &c.admin.account, None)?;
            let app = mobile_app::get(conn, &c.actor, &c.admin.account)?;
            let push =
                lanyard_enrollment::push::summary(conn, &master, &c.actor, &c.admin.account)?;
            Ok::<_, EnrollmentError>((devices, app, push))
        })
        .await?;
    let status = if feedback.error.is_none() && feedback.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let rights = &console.actor.rights;
    let ctx = console.page(
        "Devices",
        "devices",
        minijinja::context! {
            devices => device_rows(&devices),
            app => minijinja::context! {
                scheme => app.enrollment_scheme.unwrap_or_default(),
                android => app.min_android_version.unwrap_or_default(),
                ios => app.min_ios_version.unwrap_or_default(),
            },
            push => minijinja::context! {
                fcm => push.fcm.map(|(project, account)| format!("project {project}, service account {account}")),
                apns => push.apns.map(|(team, key, topic)| format!("team {team}, key {key}, app {topic}")),
            },
            allowed => minijinja::context! {
                edit => rights.allows(Area::Devices, Verb::Edit),
                deactivate => rights.allows(Area::Devices, Verb::Delete),
            },
            notice => feedback.notice, error => feedback.error, errors => feedback.errors,
        },
    );
    templates.render_status(status, "devices.html", ctx)
}

/// `GET /console/devices`: every active device of the organization.
pub(crate) async fn list(
    console: Console,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
) -> Result<HttpResponse, ConsoleError> {
    render_devices(&console, &state, &templates, Feedback::default()).await
}

/// `GET /console/devices/report.csv`.
pub(crate) async fn report(
    console: Console,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    Ok(crate::download::devices_report::csv(
        &state,
        console.actor.clone(),
        console.admin.account.clone(),
    )
    .await?)
}

/// `POST /console/devices/{action}`: `deactivate`, `resend`, `mobile-app`, `push-fcm`,
/// `push-apns`, `push-remove`.
pub(crate) async fn act_on_devices(
    console: Console,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
    path: web::Path<String>,
    form: web::Form<BTreeMap<String, String>>,
) -> Result<HttpResponse, ConsoleError> {
    let form = form.into_inner();
    console.check_csrf(form.get("csrf").map(String::as_str).unwrap_or_default())?;
    let action = path.into_inner();
    let (c, reach) = (console.clone(), Reach::of(&state));
    let outcome = form_call(&state, move |conn, clock| {
        let value = |k: &str| form.get(k).cloned().unwrap_or_default();
        let (actor, account) = (&c.actor, &c.admin.account);
        // The page's "deactivate" and "resend" are a person's page's device actions.
        let device = format!("device-{action}");
        if let Some(done) = device_action(conn, clock, actor, account, (&device, &form), &reach) {
            return done;
        }
        let done = match action.as_str() {
            "mobile-app" => {
                let optional = |k: &str| Some(value(k)).filter(|v| !v.trim().is_empty());
                let settings = MobileApp {
                    enrollment_scheme: optional("enrollmentScheme"),
                    min_android_version: optional("minAndroidVersion"),
                    min_ios_version: optional("minIosVersion"),
                };
                mobile_app::set(conn, clock, actor, account, &settings)
                    .map(|_| "Custom mobile app settings saved.".to_owned())
            }
            "push-fcm" => lanyard_enrollment::push::set_fcm(
                conn,
                clock,
                &reach.master,
                actor,
                account,
                &value("serviceAccount"),
            )
            .map(|()| "Android push (FCM) credentials saved.".to_owned()),
            "push-apns" => lanyard_enrollment::push::set_apns(
                conn,
                clock,
                &reach.master,
                actor,
                account,
                &lanyard_enrollment::push::ApnsInput {
                    team_id: &value("teamId"),
                    key_id: &value("keyId"),
                    topic: &value("topic"),
                    key_pem: &value("key"),
                },
            )
            .map(|()| "iOS push (APNs) credentials saved.".to_owned()),
            "push-remove" => {
                let platform = value("platform");
                if !matches!(platform.as_str(), "fcm" | "apns") {
                    return Err(IdentityError::NotAllowed("no such push platform".into()));
                }
                lanyard_enrollment::push::remove(conn, clock, actor, account, &platform)
                    .map(|()| "Push credentials removed.".to_owned())
            }
            _ => return Err(IdentityError::NotAllowed("no such action".into())),
        };
        done.map_err(EnrollmentError::into_identity)
    })
    .await?;
    let feedback = match outcome {
        Ok(notice) => Feedback {
            notice: Some(notice),
            ..Feedback::default()
        },
        Err((errors, error)) => Feedback {
            notice: None,
            error,
            errors,
        },
    };
    render_devices(&console, &state, &templates, feedback).await
}
