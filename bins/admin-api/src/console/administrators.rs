//! Administrators and invitations.

use super::auth::Console;
use super::{ConsoleError, Templates, form_call};
use actix_web::{HttpResponse, web};
use lanyard_core::Email;
use lanyard_core::id::ProfileId;
use lanyard_identity::admin::{self, ScopeChoice};
use lanyard_identity::rights::{Area, Verb, authorize};
use lanyard_identity::{IdentityError, profile};
use lanyard_web::AppState;
use std::collections::BTreeMap;

pub(crate) async fn list(
    console: Console,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
) -> Result<HttpResponse, ConsoleError> {
    let c = console.clone();
    let (admins, invitations) =
        state
            .db(move |conn, clock| {
                authorize(
                    conn,
                    &c.actor,
                    Area::Administrators,
                    Verb::View,
                    &c.admin.account,
                )?;
                let profiles: BTreeMap<String, String> = profile::list(conn, &c.admin.account)?
                    .into_iter()
                    .map(|p| (p.id.to_string(), p.name))
                    .collect();
                let admins: Vec<_> = admin::list(conn, &c.admin.account)?
                .into_iter()
                .map(|a| minijinja::context! {
                    email => a.email, name => a.full_name, status => a.status.label(),
                    profile => profiles.get(a.profile_id.as_str()).cloned().unwrap_or_default(),
                })
                .collect();
                let invitations: Vec<_> = admin::open_invitations(conn, clock, &c.admin.account)?
                    .into_iter()
                    .map(|i| {
                        minijinja::context! {
                            handle => i.handle, email => i.email.unwrap_or_default(),
                            expires => i.expires_at.format("%Y-%m-%d %H:%M UTC").to_string(),
                        }
                    })
                    .collect();
                Ok::<_, IdentityError>((admins, invitations))
            })
            .await?;
    let ctx = console.page(
        "Administrators",
        "administrators",
        minijinja::context! {
            admins => admins, invitations => invitations,
            can_create => console.actor.rights.allows(Area::Administrators, Verb::Create),
        },
    );
    templates.render("administrators.html", ctx)
}

async fn profiles_of(
    state: &AppState,
    console: &Console,
) -> Result<Vec<minijinja::Value>, ConsoleError> {
    let c = console.clone();
    Ok(state
        .db(move |conn, _| profile::list(conn, &c.admin.account))
        .await?
        .into_iter()
        .map(|p| minijinja::context! { id => p.id.to_string(), name => p.name })
        .collect())
}

pub(crate) async fn invite_form(
    console: Console,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
) -> Result<HttpResponse, ConsoleError> {
    if !console
        .actor
        .rights
        .allows(Area::Administrators, Verb::Create)
    {
        return Err(ConsoleError::Page(
            actix_web::http::StatusCode::FORBIDDEN,
            "your profile does not allow create in Administrators".into(),
        ));
    }
    let profiles = profiles_of(&state, &console).await?;
    let ctx = console.page(
        "Invite an administrator",
        "administrators",
        minijinja::context! {
            profiles => profiles, form => BTreeMap::<String, String>::new(),
        },
    );
    templates.render("invite.html", ctx)
}

pub(crate) async fn invite(
    console: Console,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
    form: web::Form<BTreeMap<String, String>>,
) -> Result<HttpResponse, ConsoleError> {
    let form = form.into_inner();
    console.check_csrf(form.get("csrf").map(String::as_str).unwrap_or_default())?;
    let email_raw = form
        .get("email")
        .map(|e| e.trim().to_owned())
        .unwrap_or_default();
    let profile_id = ProfileId::from_stored(form.get("profile").cloned().unwrap_or_default());
    let links = state.links();
    let outcome = match (email_raw.is_empty(), Email::parse(&email_raw)) {
        (false, Err(e)) => Err((BTreeMap::from([("email".to_owned(), e.to_string())]), None)),
        (empty, parsed) => {
            let email = if empty { None } else { parsed.ok() };
            let c = console.clone();
            form_call(&state, move |conn, clock| {
                admin::invite(
                    conn,
                    clock,
                    &links,
                    &c.actor,
                    &c.admin.account,
                    email.as_ref(),
                    &profile_id,
                    &ScopeChoice::All,
                )
            })
            .await?
        }
    };
    let profiles = profiles_of(&state, &console).await?;
    match outcome {
        Ok(created) => {
            let (code, notice) = if email_raw.is_empty() {
                (Some(created.code.expose().to_owned()), None)
            } else {
                (None, Some(format!("Invitation sent to {email_raw}.")))
            };
            let ctx = console.page("Invite an administrator", "administrators", minijinja::context! {
                profiles => profiles, form => BTreeMap::<String, String>::new(), created_code => code, notice => notice,
            });
            templates.render("invite.html", ctx)
        }
        Err((errors, message)) => {
            let ctx = console.page(
                "Invite an administrator",
                "administrators",
                minijinja::context! {
                    profiles => profiles, form => form, errors => errors, error => message,
                },
            );
            templates.render_status(
                actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
                "invite.html",
                ctx,
            )
        }
    }
}
