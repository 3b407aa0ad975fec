//! Plans (Free / Standard / Premium and their limits), for the platform operator.

use super::auth::Console;
use super::{ConsoleError, Templates, form_call};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use lanyard_identity::organization::{self, PlanLimits};
use lanyard_identity::{IdentityError, account};
use lanyard_web::AppState;
use std::collections::BTreeMap;

async fn render(
    console: &Console,
    state: &AppState,
    templates: &Templates,
    error: Option<String>,
) -> Result<HttpResponse, ConsoleError> {
    let c = console.clone();
    let plans = state
        .db(move |conn, _| {
            if account::platform(conn)?.id != c.admin.account {
                return Err(IdentityError::Forbidden(
                    "only the platform operator manages plans".into(),
                ));
            }
            organization::plans(conn)
        })
        .await?;
    let rows: Vec<_> = plans
        .iter()
        .map(|p| minijinja::context! { name => p.name.clone(), max_users => p.max_users, max_admins => p.max_admins, days => p.days_of_activity_log, devices => p.max_devices_per_user })
        .collect();
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    templates.render_status(
        status,
        "plans.html",
        console.page(
            "Plans",
            "plans",
            minijinja::context! { plans => rows, error => error },
        ),
    )
}

pub(crate) async fn list(
    console: Console,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
) -> Result<HttpResponse, ConsoleError> {
    render(&console, &state, &templates, None).await
}

pub(crate) async fn save(
    console: Console,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
    path: web::Path<String>,
    form: web::Form<BTreeMap<String, String>>,
) -> Result<HttpResponse, ConsoleError> {
    let form = form.into_inner();
    console.check_csrf(form.get("csrf").map(String::as_str).unwrap_or_default())?;
    let number = |k: &'static str| {
        form.get(k)
            .and_then(|v| v.trim().parse::<i64>().ok())
            .ok_or_else(|| format!("{k}: must be a whole number"))
    };
    let limits = (|| {
        Ok::<_, String>(PlanLimits {
            max_users: number("maxNumberOfUsers")?,
            max_admins: number("maxNumberOfAdmins")?,
            days_of_activity_log: number("daysOfActivityLog")?,
            max_devices_per_user: number("maxNumberOfDevicesPerUser")?,
        })
    })();
    let error = match limits {
        Err(message) => Some(message),
        Ok(limits) => {
            let (c, name) = (console.clone(), path.into_inner());
            match form_call(&state, move |conn, clock| {
                organization::update_plan(conn, clock, &c.actor, &name, limits)
            })
            .await?
            {
                Ok(()) => None,
                Err((errors, message)) => {
                    message.or_else(|| errors.into_iter().next().map(|(f, r)| format!("{f}: {r}")))
                }
            }
        }
    };
    render(&console, &state, &templates, error).await
}
