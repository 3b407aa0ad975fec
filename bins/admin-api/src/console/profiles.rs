//! Rights profiles.

use super::auth::Console;
use super::{ConsoleError, Templates, form_call, redirect};
use actix_web::{HttpResponse, web};
use lanyard_identity::profile;
use lanyard_identity::rights::{Area, Rights, Verb, VerbSet, authorize};
use lanyard_web::AppState;
use std::collections::BTreeMap;

fn summary(rights: &Rights) -> String {
    if rights.is_everything() {
        return "Everything".into();
    }
    let parts: Vec<String> = Area::ALL
        .into_iter()
        .filter_map(|a| {
            let verbs: Vec<&str> = Verb::ALL
                .into_iter()
                .filter(|v| rights.allows(a, *v))
                .map(Verb::as_str)
                .collect();
            (!verbs.is_empty()).then(|| format!("{}: {}", a.label(), verbs.join(", ")))
        })
        .collect();
    if parts.is_empty() {
        "Nothing".into()
    } else {
        parts.join("; ")
    }
}

pub(crate) async fn list(
    console: Console,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
) -> Result<HttpResponse, ConsoleError> {
    let c = console.clone();
    let profiles = state
        .db(move |conn, _| {
            authorize(conn, &c.actor, Area::Profiles, Verb::View, &c.admin.account)?;
            profile::list(conn, &c.admin.account)
        })
        .await?;
    let rows: Vec<_> = profiles
        .iter()
        .map(|p| minijinja::context! { id => p.id.to_string(), name => p.name.clone(), builtin => p.builtin, summary => summary(&p.rights) })
        .collect();
    let ctx = console.page("Profiles", "profiles", minijinja::context! {
        profiles => rows, can_create => console.actor.rights.allows(Area::Profiles, Verb::Create),
        can_edit => console.actor.rights.allows(Area::Profiles, Verb::Edit),
    });
    templates.render("profiles.html", ctx)
}

fn matrix(rights: &Rights) -> Vec<minijinja::Value> {
    Area::ALL
        .into_iter()
        .map(|a| {
            let verbs: Vec<_> = Verb::ALL
                .into_iter()
                .map(|v| minijinja::context! { key => v.as_str(), applies => a.verbs().contains(v), checked => rights.allows(a, v) })
                .collect();
            minijinja::context! { key => a.as_str(), label => a.label(), verbs => verbs }
        })
        .collect()
}

fn verbs_header() -> Vec<minijinja::Value> {
    Verb::ALL
        .into_iter()
        .map(|v| minijinja::context! { label => match v { Verb::View => "View", Verb::Create => "Create", Verb::Edit => "Edit", Verb::Delete => "Delete" } })
        .collect()
}

pub(crate) async fn new_form(
    console: Console,
    templates: web::Data<Templates>,
) -> Result<HttpResponse, ConsoleError> {
    if !console.actor.rights.allows(Area::Profiles, Verb::Create) {
        return Err(ConsoleError::Page(
            actix_web::http::StatusCode::FORBIDDEN,
            "your profile does not allow create in Profiles".into(),
        ));
    }
    let ctx = console.page(
        "Create a profile",
        "profiles",
        minijinja::context! {
            areas => matrix(&Rights::default()), verbs => verbs_header(), form_name => "",
        },
    );
    templates.render("profile_form.html", ctx)
}

pub(crate) async fn create(
    console: Console,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, ConsoleError> {
    let fields: BTreeMap<String, String> = form.into_inner().into_iter().collect();
    console.check_csrf(fields.get("csrf").map(String::as_str).unwrap_or_default())?;
    let rights = rights_from(&fields);
    let name = fields.get("name").cloned().unwrap_or_default();
    let (c, r, n) = (console.clone(), rights.clone(), name.clone());
    let outcome = form_call(&state, move |conn, clock| {
        profile::create(conn, clock, &c.actor, &c.admin.account, &n, &r)
    })
    .await?;
    match outcome {
        Ok(_) => Ok(redirect("/console/profiles")),
        Err((errors, message)) => {
            let ctx = console.page("Create a profile", "profiles", minijinja::context! {
                areas => matrix(&rights), verbs => verbs_header(), form_name => name, errors => errors, error => message,
            });
            templates.render_status(
                actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
                "profile_form.html",
                ctx,
            )
        }
    }
}

fn rights_from(fields: &BTreeMap<String, String>) -> Rights {
    let mut rights = Rights::default();
    rights.can_order_credits = fields.contains_key("can_order_credits");
    rights.can_transfer_credits = fields.contains_key("can_transfer_credits");
    for area in Area::ALL {
        let mut verbs = VerbSet::NONE;
        for verb in Verb::ALL {
            if fields.contains_key(&format!("r_{}_{}", area.as_str(), verb.as_str())) {
                verbs = verbs.with(verb);
            }
        }
        rights.grant(area, verbs);
    }
    rights
}

pub(crate) async fn edit_form(
    console: Console,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let (c, id) = (
        console.clone(),
        lanyard_core::id::ProfileId::from_stored(path.into_inner()),
    );
    let p = state
        .db(move |conn, _| {
            authorize(conn, &c.actor, Area::Profiles, Verb::Edit, &c.admin.account)?;
            profile::get(conn, &c.admin.account, &id)
        })
        .await?;
    let ctx = console.page("Edit the profile", "profiles", minijinja::context! {
        areas => matrix(&p.rights), verbs => verbs_header(), form_name => p.name.clone(), profile_id => p.id.to_string(),
        can_order => p.rights.can_order_credits, can_transfer => p.rights.can_transfer_credits,
    });
    templates.render("profile_form.html", ctx)
}

/// POST `/console/profiles/{id}/{edit|delete}`.
pub(crate) async fn act(
    console: Console,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
    path: web::Path<(String, String)>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, ConsoleError> {
    let fields: BTreeMap<String, String> = form.into_inner().into_iter().collect();
    console.check_csrf(fields.get("csrf").map(String::as_str).unwrap_or_default())?;
    let (raw, action) = path.into_inner();
    let id = lanyard_core::id::ProfileId::from_stored(raw);
    let rights = rights_from(&fields);
    let name = fields.get("name").cloned().unwrap_or_default();
    let (c, r, n, target) = (console.clone(), rights.clone(), name.clone(), id.clone());
    let outcome = form_call(&state, move |conn, clock| match action.as_str() {
        "edit" => {
            profile::update(conn, clock, &c.actor, &c.admin.account, &target, &n, &r).map(drop)
        }
        "delete" => profile::delete(conn, clock, &c.actor, &c.admin.account, &target),
        _ => Err(lanyard_identity::IdentityError::NotAllowed(
            "no such action".into(),
        )),
    })
    .await?;
    match outcome {
        Ok(()) => Ok(redirect("/console/profiles")),
        Err((errors, message)) => {
            let ctx = console.page("Edit the profile", "profiles", minijinja::context! {
                areas => matrix(&rights), verbs => verbs_header(), form_name => name, profile_id => id.to_string(),
                can_order => rights.can_order_credits, can_transfer => rights.can_transfer_credits,
                errors => errors, error => message,
            });
            templates.render_status(
                actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
                "profile_form.html",
                ctx,
            )
        }
    }
}
