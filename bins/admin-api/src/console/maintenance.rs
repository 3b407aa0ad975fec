//! Maintenance periods in the console (PassBy[ME] "Adding maintenance", "List maintenance"): the
//! list sits on the access-keys page; here are the add, view/modify, stop and delete dialogs.

use super::auth::Console;
use super::{ConsoleError, Templates, form_call, redirect};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, NaiveDateTime, Utc};
use lanyard_identity::maintenance::{self, Draft, MaintenanceState, Text};
use lanyard_identity::{IdentityError, application};
use lanyard_web::AppState;
use std::collections::BTreeMap;

const INPUT_FORMAT: &str = "%Y-%m-%dT%H:%M";

fn input_time(at: DateTime<Utc>) -> String {
    at.format(INPUT_FORMAT).to_string()
}

/// The form as a draft; times are UTC (`datetime-local` inputs).
fn draft_of(form: &BTreeMap<String, String>) -> Result<Draft, IdentityError> {
    let get = |k: &str| form.get(k).map(|v| v.trim().to_owned()).unwrap_or_default();
    let time = |field: &'static str| {
        NaiveDateTime::parse_from_str(&get(field), INPUT_FORMAT)
            .map(|t| t.and_utc())
            .map_err(|_| IdentityError::Invalid {
                field,
                rule: "must be a date and time (UTC)".into(),
            })
    };
    let application = get("application");
    Ok(Draft {
        application_id: (!application.is_empty()).then_some(application),
        starts_at: time("startsAt")?,
        ends_at: time("endsAt")?,
        texts: vec![
            Text {
                language: "en".into(),
                subject: get("subject"),
                body: get("body"),
            },
            Text {
                language: get("language2"),
                subject: get("subject2"),
                body: get("body2"),
            },
        ],
    })
}

async fn render_form(
    console: &Console,
    state: &AppState,
    templates: &Templates,
    id: Option<String>,
    form: Option<BTreeMap<String, String>>,
    errors: BTreeMap<String, String>,
    error: Option<String>,
) -> Result<HttpResponse, ConsoleError> {
    let (c, i) = (console.clone(), id.clone());
    let (apps, current) = state
        .db(move |conn, clock| {
            let apps = application::list(conn, &c.actor, &c.admin.account)?;
            let current = match &i {
                Some(id) => Some(maintenance::get(
                    conn,
                    clock,
                    &c.actor,
                    &c.admin.account,
                    id,
                )?),
                None => None,
            };
            Ok::<_, IdentityError>((apps, current))
        })
        .await?;
    let form = form.unwrap_or_else(|| {
        let mut f = BTreeMap::new();
        if let Some(m) = &current {
            f.insert(
                "application".into(),
                m.application_id.clone().unwrap_or_default(),
            );
            f.insert("startsAt".into(), input_time(m.starts_at));
            f.insert("endsAt".into(), input_time(m.ends_at));
            if let Some(en) = m.texts.iter().find(|t| t.language == "en") {
                f.insert("subject".into(), en.subject.clone());
                f.insert("body".into(), en.body.clone());
            }
            if let Some(other) = m.texts.iter().find(|t| t.language != "en") {
                f.insert("language2".into(), other.language.clone());
                f.insert("subject2".into(), other.subject.clone());
                f.insert("body2".into(), other.body.clone());
            }
        }
        f
    });
    let status = if errors.is_empty() && error.is_none() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let title = if id.is_some() {
        "Maintenance"
    } else {
        "Add maintenance"
    };
    let ctx = console.page(title, "access_keys", minijinja::context! {
        id => id, form => form, errors => errors, error => error,
        state => current.as_ref().map(|m| m.state.as_str()),
        editable => current.as_ref().is_none_or(|m| m.state != MaintenanceState::Stopped),
        applications => apps.iter().map(|a| minijinja::context! { id => a.id.clone(), name => a.name.clone() }).collect::<Vec<_>>(),
    });
    templates.render_status(status, "maintenance_form.html", ctx)
}

pub(crate) async fn new_form(
    console: Console,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
) -> Result<HttpResponse, ConsoleError> {
    render_form(
        &console,
        &state,
        &templates,
        None,
        None,
        BTreeMap::new(),
        None,
    )
    .await
}

pub(crate) async fn show(
    console: Console,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    render_form(
        &console,
        &state,
        &templates,
        Some(path.into_inner()),
        None,
        BTreeMap::new(),
        None,
    )
    .await
}

async fn save(
    console: Console,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
    id: Option<String>,
    form: BTreeMap<String, String>,
) -> Result<HttpResponse, ConsoleError> {
    console.check_csrf(form.get("csrf").map(String::as_str).unwrap_or_default())?;
    let (c, i, f) = (console.clone(), id.clone(), form.clone());
    let outcome = form_call(&state, move |conn, clock| {
        let draft = draft_of(&f)?;
        match &i {
            Some(id) => maintenance::modify(conn, clock, &c.actor, &c.admin.account, id, &draft),
            None => maintenance::create(conn, clock, &c.actor, &c.admin.account, &draft),
        }
    })
    .await?;
    match outcome {
        Ok(_) => Ok(redirect("/console/access-keys")),
        Err((errors, error)) => {
            render_form(&console, &state, &templates, id, Some(form), errors, error).await
        }
    }
}

pub(crate) async fn create(
    console: Console,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
    form: web::Form<BTreeMap<String, String>>,
) -> Result<HttpResponse, ConsoleError> {
    save(console, state, templates, None, form.into_inner()).await
}

pub(crate) async fn modify(
    console: Console,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
    path: web::Path<String>,
    form: web::Form<BTreeMap<String, String>>,
) -> Result<HttpResponse, ConsoleError> {
    save(
        console,
        state,
        templates,
        Some(path.into_inner()),
        form.into_inner(),
    )
    .await
}

/// `stop` (now) or `delete`.
pub(crate) async fn act(
    console: Console,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
    path: web::Path<(String, String)>,
    form: web::Form<BTreeMap<String, String>>,
) -> Result<HttpResponse, ConsoleError> {
    console.check_csrf(form.get("csrf").map(String::as_str).unwrap_or_default())?;
    let (id, action) = path.into_inner();
    let (c, i) = (console.clone(), id.clone());
    let outcome = form_call(&state, move |conn, clock| match action.as_str() {
        "stop" => maintenance::stop(conn, clock, &c.actor, &c.admin.account, &i).map(|_| ()),
        "delete" => maintenance::delete(conn, clock, &c.actor, &c.admin.account, &i),
        _ => Err(IdentityError::NotAllowed("no such action".into())),
    })
    .await?;
    match outcome {
        Ok(()) => Ok(redirect("/console/access-keys")),
        Err((errors, error)) => {
            render_form(&console, &state, &templates, Some(id), None, errors, error).await
        }
    }
}
