//! The account history: filter by date range, search, order, page; `.xlsx` export.

use super::auth::Console;
use super::{ConsoleError, Templates, when};
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use actix_web::{HttpResponse, web};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use lanyard_core::PageRequest;
use lanyard_identity::IdentityError;
use lanyard_identity::history::{self, Filter};
use lanyard_identity::rights::{Area, Verb, authorize};
use lanyard_reports::xlsx::XlsxTable;
use lanyard_web::AppState;

const PAGE: i64 = 50;
/// Rows in one export (the history of one account; larger ranges are exported in parts).
const EXPORT_LIMIT: i64 = 100_000;

#[derive(Debug, serde::Deserialize)]
pub(crate) struct HistoryQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    order: String,
    start: Option<i64>,
}

fn day(field: &str, raw: &str) -> Result<Option<DateTime<Utc>>, (String, String)> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map(|d| Some(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()))
        .map_err(|_| {
            (
                field.to_owned(),
                "must be a date such as 2026-01-31".to_owned(),
            )
        })
}

fn filter(query: &HistoryQuery) -> Result<Filter, (String, String)> {
    Ok(Filter {
        from: day("from", &query.from)?,
        // "to" is inclusive of the whole day.
        to: day("to", &query.to)?.map(|d| d + TimeDelta::days(1)),
        oldest_first: query.order == "oldest",
    })
}

fn by(e: &history::Entry) -> String {
    match &e.performed_by_email {
        Some(email) => format!("{} ({email})", e.performed_by),
        None => e.performed_by.clone(),
    }
}

pub(crate) async fn list(
    console: Console,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
    query: web::Query<HistoryQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let query = query.into_inner();
    let base = |extra| {
        console.page("Account history", "history", minijinja::context! {
            from => query.from.clone(), to => query.to.clone(), q => query.q.clone(), order => query.order.clone(), ..extra
        })
    };
    let filter = match filter(&query) {
        Ok(f) => f,
        Err((field, rule)) => {
            let ctx = base(
                minijinja::context! { error => format!("{field}: {rule}"), entries => Vec::<()>::new(), total => 0, filtered => 0 },
            );
            return templates.render_status(StatusCode::UNPROCESSABLE_ENTITY, "history.html", ctx);
        }
    };
    let page = PageRequest::new(query.start, Some(PAGE), Some(query.q.clone()))
        .map_err(|e| ConsoleError::Page(StatusCode::BAD_REQUEST, e.to_string()))?;
    let start = page.start;
    let c = console.clone();
    let entries = state
        .db(move |conn, _| {
            authorize(conn, &c.actor, Area::Activity, Verb::View, &c.admin.account)?;
            history::list(conn, &c.admin.account, &filter, &page)
        })
        .await?;
    let rows: Vec<_> = entries
        .data
        .iter()
        .map(|e| minijinja::context! { at => when(e.occurred_at), area => e.area.clone(), action => e.action.clone(), by => by(e) })
        .collect();
    let shown = entries.data.len() as i64;
    let ctx = base(minijinja::context! {
        entries => rows, total => entries.records_total,
        ..super::pager(start, shown, entries.records_filtered, PAGE)
    });
    templates.render("history.html", ctx)
}

pub(crate) async fn export(
    console: Console,
    state: web::Data<AppState>,
    query: web::Query<HistoryQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let filter = filter(&query).map_err(|(field, rule)| {
        ConsoleError::Page(StatusCode::UNPROCESSABLE_ENTITY, format!("{field}: {rule}"))
    })?;
    let page = PageRequest::new(
        Some(0),
        Some(EXPORT_LIMIT.min(lanyard_core::paging::MAX_PAGE_LENGTH)),
        Some(query.q.clone()),
    )
    .map_err(|e| ConsoleError::Page(StatusCode::BAD_REQUEST, e.to_string()))?;
    let c = console.clone();
    let bytes = state
        .db(move |conn, clock| {
            authorize(conn, &c.actor, Area::Activity, Verb::View, &c.admin.account)?;
            let mut out = XlsxTable::new(
                "Account History",
                &[
                    "Account History".to_owned(),
                    c.account_name.clone(),
                    format!("Exported {}", when(clock.now())),
                ],
                &["Time Stamp", "Page", "Action", "Performed By"],
            )
            .map_err(report_error)?;
            let mut page = page;
            loop {
                let batch = history::list(conn, &c.admin.account, &filter, &page)?;
                for e in &batch.data {
                    out.row([when(e.occurred_at), e.area.clone(), e.action.clone(), by(e)])
                        .map_err(report_error)?;
                }
                page.start += batch.data.len() as i64;
                if batch.data.is_empty()
                    || page.start >= batch.records_filtered
                    || page.start >= EXPORT_LIMIT
                {
                    break;
                }
            }
            out.finish().map_err(report_error)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((
            CONTENT_TYPE,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ))
        .insert_header((
            CONTENT_DISPOSITION,
            "attachment; filename=\"account-history.xlsx\"",
        ))
        .body(bytes))
}

fn report_error(e: lanyard_reports::ReportError) -> IdentityError {
    IdentityError::Inconsistent(e.to_string())
}
