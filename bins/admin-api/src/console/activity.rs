//! The activity log page (seed 003 §9, seed 000 "Viewing activity log"): every recipient of an
//! authorization message — who, which application, started, ended, valid to and its progress —
//! searched and paged in the database, newest first, within the plan's retention.

use super::auth::Console;
use super::{ConsoleError, Templates, when};
use actix_web::{HttpResponse, web};
use lanyard_core::PageRequest;
use lanyard_messaging::activity;
use lanyard_web::AppState;

const PAGE: i64 = 25;

#[derive(Debug, serde::Deserialize)]
pub(crate) struct ListQuery {
    q: Option<String>,
    start: Option<i64>,
}

/// `GET /console/activity`.
pub(crate) async fn list(
    console: Console,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let q = query.q.clone().unwrap_or_default();
    let page = PageRequest::new(query.start, Some(PAGE), Some(q.clone()))
        .map_err(|e| ConsoleError::Page(actix_web::http::StatusCode::BAD_REQUEST, e.to_string()))?;
    let start = page.start;
    let c = console.clone();
    let found = state
        .db(move |conn, clock| activity::list(conn, clock, &c.actor, &c.admin.account, &page, &[]))
        .await?;
    let shown = found.data.len() as i64;
    let rows: Vec<_> = found
        .data
        .iter()
        .map(|a| {
            minijinja::context! {
                user_id => a.user_id.clone(),
                application => super::sender_name(a.application_name.clone().or_else(|| a.application_id.clone())),
                started => when(a.started_at), ended => a.ended_at.map(when),
                valid_to => when(a.valid_to), progress => a.progress.clone(),
            }
        })
        .collect();
    let ctx = console.page(
        "Activity log",
        "activity",
        minijinja::context! {
            entries => rows, q => q, total => found.records_total,
            ..super::pager(start, shown, found.records_filtered, PAGE)
        },
    );
    templates.render("activity.html", ctx)
}
