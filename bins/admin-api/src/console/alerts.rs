//! Alert history (seed 001 "Alert History"): every notice and error this session has shown,
//! newest first, until the administrator clears them.

use super::auth::Console;
use super::{ConsoleError, Templates, redirect};
use actix_web::{HttpResponse, web};
use lanyard_identity::IdentityError;
use lanyard_identity::session::{self, AlertKind};
use lanyard_web::AppState;
use std::collections::BTreeMap;

pub(crate) async fn list(
    console: Console,
    state: web::Data<AppState>,
    page: web::Data<Templates>,
) -> Result<HttpResponse, ConsoleError> {
    let id = console.session.id.clone();
    let alerts = state.db(move |conn, _| session::alerts(conn, &id)).await?;
    let rows: Vec<_> = alerts
        .iter()
        .map(|a| {
            minijinja::context! {
                at => a.shown_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                error => a.kind == AlertKind::Error,
                message => a.message.clone(),
            }
        })
        .collect();
    page.render(
        "alerts.html",
        console.page(
            "Alert history",
            "alerts",
            minijinja::context! { alerts => rows },
        ),
    )
}

pub(crate) async fn clear(
    console: Console,
    state: web::Data<AppState>,
    form: web::Form<BTreeMap<String, String>>,
) -> Result<HttpResponse, ConsoleError> {
    console.check_csrf(form.get("csrf").map(String::as_str).unwrap_or_default())?;
    let id = console.session.id.clone();
    state
        .db(move |conn, _| {
            session::clear_alerts(conn, &id)?;
            Ok::<_, IdentityError>(())
        })
        .await?;
    Ok(redirect("/console/alerts"))
}
