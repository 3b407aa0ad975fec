//! API token requests: distributors ask, the platform operator decides, the distributor
//! collects the token once.

use super::auth::Console;
use super::{ConsoleError, Templates, form_call};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use lanyard_core::Oid;
use lanyard_identity::token_request::{self, RequestStatus};
use lanyard_identity::{AccountKind, IdentityError, account};
use lanyard_web::AppState;
use std::collections::BTreeMap;

#[derive(Default)]
struct Shown {
    token: Option<(String, String)>,
    errors: BTreeMap<String, String>,
    error: Option<String>,
}

async fn render(
    console: &Console,
    state: &AppState,
    templates: &Templates,
    shown: Shown,
) -> Result<HttpResponse, ConsoleError> {
    let c = console.clone();
    let (requests, customers, is_platform) = state
        .db(move |conn, _| {
            let requests = token_request::list(conn, &c.actor)?;
            let is_platform = account::platform(conn)?.id == c.admin.account;
            let customers: Vec<_> = account::children(conn, &c.admin.account)?
                .into_iter()
                .filter(|a| a.kind == AccountKind::Organization)
                .collect();
            Ok::<_, IdentityError>((requests, customers, is_platform))
        })
        .await?;
    let rows: Vec<_> = requests
        .iter()
        .map(|r| {
            let mut actions = Vec::new();
            if is_platform && r.status == RequestStatus::Requested {
                actions.push(minijinja::context! { key => "approve", label => "Approve" });
                actions.push(minijinja::context! { key => "reject", label => "Reject" });
            }
            if !is_platform && r.status == RequestStatus::Approved {
                actions.push(minijinja::context! { key => "collect", label => "Collect the token" });
            }
            minijinja::context! {
                id => r.id.clone(), customer => r.account_name.clone(), domain => r.domain_name.clone().unwrap_or_default(),
                ips => r.ip_allow_list.clone().unwrap_or_else(|| "anywhere".into()), by => r.requested_by.clone(),
                status => r.status.label(), actions => actions,
            }
        })
        .collect();
    let status = if shown.errors.is_empty() && shown.error.is_none() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let (token_for, token) = shown.token.unzip();
    let ctx = console.page("API tokens", "api_tokens", minijinja::context! {
        requests => rows,
        customers => customers.iter().map(|a| minijinja::context! { oid => a.oid.to_string(), name => a.name.clone() }).collect::<Vec<_>>(),
        token => token, token_for => token_for, errors => shown.errors, error => shown.error,
    });
    templates.render_status(status, "api_tokens.html", ctx)
}

pub(crate) async fn list(
    console: Console,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
) -> Result<HttpResponse, ConsoleError> {
    render(&console, &state, &templates, Shown::default()).await
}

pub(crate) async fn request(
    console: Console,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
    form: web::Form<BTreeMap<String, String>>,
) -> Result<HttpResponse, ConsoleError> {
    let form = form.into_inner();
    console.check_csrf(form.get("csrf").map(String::as_str).unwrap_or_default())?;
    let customer = Oid::parse(form.get("customer").map(String::as_str).unwrap_or_default())
        .map_err(|_| {
            ConsoleError::Page(StatusCode::BAD_REQUEST, "choose an end customer".into())
        })?;
    let (c, f) = (console.clone(), form.clone());
    let outcome = form_call(&state, move |conn, clock| {
        token_request::request(
            conn,
            clock,
            &c.actor,
            &customer,
            f.get("domainName").map(String::as_str),
            f.get("ipAllowList").map(String::as_str).unwrap_or_default(),
        )
    })
    .await?;
    let shown = match outcome {
        Ok(_) => Shown::default(),
        Err((errors, error)) => Shown {
            errors,
            error,
            ..Shown::default()
        },
    };
    render(&console, &state, &templates, shown).await
}

pub(crate) async fn act(
    console: Console,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
    path: web::Path<(String, String)>,
    form: web::Form<BTreeMap<String, String>>,
) -> Result<HttpResponse, ConsoleError> {
    console.check_csrf(form.get("csrf").map(String::as_str).unwrap_or_default())?;
    let (id, action) = path.into_inner();
    let c = console.clone();
    let outcome = form_call(&state, move |conn, clock| match action.as_str() {
        "approve" => token_request::decide(conn, clock, &c.actor, &id, true).map(|_| None),
        "reject" => token_request::decide(conn, clock, &c.actor, &id, false).map(|_| None),
        "collect" => token_request::collect(conn, clock, &c.actor, &id).map(|t| {
            Some((
                t.token.account_oid.to_string(),
                t.secret.expose().to_owned(),
            ))
        }),
        _ => Err(IdentityError::NotAllowed("no such action".into())),
    })
    .await?;
    let shown = match outcome {
        Ok(token) => Shown {
            token,
            ..Shown::default()
        },
        Err((errors, error)) => Shown {
            errors,
            error,
            ..Shown::default()
        },
    };
    render(&console, &state, &templates, shown).await
}
