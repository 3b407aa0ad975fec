//! Dashboard and end users.

use super::auth::Console;
use super::{ConsoleError, Templates, form_call, redirect};
use actix_web::{HttpResponse, web};
use lanyard_core::PageRequest;
use lanyard_identity::rights::{Area, Verb, authorize};
use lanyard_identity::{IdentityError, NewEndUser, admin, end_user, profile};
use lanyard_web::AppState;
use std::collections::BTreeMap;

const PAGE: i64 = 20;

pub(crate) async fn dashboard(
    console: Console,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
) -> Result<HttpResponse, ConsoleError> {
    let c = console.clone();
    let (users, admins, profile_name, scope) = state
        .db(move |conn, _| {
            let users = if c.actor.rights.allows(Area::EndUsers, Verb::View) {
                Some(end_user::count(conn, &c.admin.account)?)
            } else {
                None
            };
            let admins = if c.actor.rights.allows(Area::Administrators, Verb::View) {
                Some(admin::list(conn, &c.admin.account)?.len())
            } else {
                None
            };
            let profile = profile::get(conn, &c.admin.account, &c.admin.profile_id)?;
            let scope = if c.admin.scope_all {
                "the whole account".to_owned()
            } else {
                "selected organizations".to_owned()
            };
            Ok::<_, IdentityError>((users, admins, profile.name, scope))
        })
        .await?;
    let mut stats = Vec::new();
    if let Some(n) = users {
        stats.push(minijinja::context! { label => "End users", value => n });
    }
    if let Some(n) = admins {
        stats.push(minijinja::context! { label => "Administrators", value => n });
    }
    let ctx = console.page("Dashboard", "dashboard", minijinja::context! {
        account_name => console.account_name.clone(), stats => stats, profile_name => profile_name, scope => scope,
    });
    templates.render("dashboard.html", ctx)
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct ListQuery {
    q: Option<String>,
    start: Option<i64>,
}

pub(crate) async fn list(
    console: Console,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let q = query.q.clone().unwrap_or_default();
    let page = PageRequest::new(query.start, Some(PAGE), Some(q.clone()))
        .map_err(|e| ConsoleError::Page(actix_web::http::StatusCode::BAD_REQUEST, e.to_string()))?;
    let c = console.clone();
    let start = page.start;
    let users = state
        .db(move |conn, _| {
            authorize(conn, &c.actor, Area::EndUsers, Verb::View, &c.admin.account)?;
            end_user::list(conn, &c.admin.account, &page)
        })
        .await?;
    let shown = users.data.len() as i64;
    let rows: Vec<_> = users
        .data
        .iter()
        .map(|u| minijinja::context! {
            user_id => u.primary_alias().unwrap_or_default(), full_name => u.full_name.clone().unwrap_or_default(),
            email => u.email.clone().unwrap_or_default(), short_oid => u.oid.short(), oid => u.oid.to_string(), disabled => u.disabled,
        })
        .collect();
    let ctx = console.page(
        "End users",
        "users",
        minijinja::context! {
            users => rows, q => q, total => users.records_total,
            can_create => console.actor.rights.allows(Area::EndUsers, Verb::Create),
            ..super::pager(start, shown, users.records_filtered, PAGE)
        },
    );
    templates.render("users.html", ctx)
}

pub(crate) async fn new_form(
    console: Console,
    templates: web::Data<Templates>,
) -> Result<HttpResponse, ConsoleError> {
    if !console.actor.rights.allows(Area::EndUsers, Verb::Create) {
        return Err(ConsoleError::Page(
            actix_web::http::StatusCode::FORBIDDEN,
            "your profile does not allow create in End users".into(),
        ));
    }
    let ctx = console.page(
        "Add end user",
        "users",
        minijinja::context! { form => BTreeMap::<String, String>::new() },
    );
    templates.render("user_form.html", ctx)
}

pub(crate) async fn create(
    console: Console,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
    form: web::Form<BTreeMap<String, String>>,
) -> Result<HttpResponse, ConsoleError> {
    let form = form.into_inner();
    console.check_csrf(form.get("csrf").map(String::as_str).unwrap_or_default())?;
    let get = |k: &str| form.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let parsed = NewEndUser::parse(
        get("userId").unwrap_or_default(),
        get("email"),
        get("fullName"),
        get("phoneNumber"),
        false,
    );
    let c = console.clone();
    let outcome = match parsed {
        Ok(new) => {
            form_call(&state, move |conn, clock| {
                end_user::create(conn, clock, &c.actor, &c.admin.account, new)
            })
            .await?
        }
        Err(IdentityError::Invalid { field, rule }) => {
            Err((BTreeMap::from([(field.to_owned(), rule)]), None))
        }
        Err(other) => Err((BTreeMap::new(), Some(other.to_string()))),
    };
    match outcome {
        Ok(_) => Ok(redirect("/console/users")),
        Err((errors, message)) => {
            let ctx = console.page(
                "Add end user",
                "users",
                minijinja::context! { form => form, errors => errors, error => message },
            );
            templates.render_status(
                actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
                "user_form.html",
                ctx,
            )
        }
    }
}

pub(crate) async fn report(
    console: Console,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let c = console.clone();
    state
        .db(move |conn, _| authorize(conn, &c.actor, Area::EndUsers, Verb::View, &c.admin.account))
        .await?;
    Ok(crate::download::users_report::stream(&state, console.admin.account.clone()).await?)
}
