//! Administrators and invitations.

use super::auth::Console;
use super::phones::{self, OwnedHolder, Reach};
use super::{ConsoleError, Templates, form_call};
use actix_web::{HttpResponse, web};
use lanyard_core::Email;
use lanyard_core::id::ProfileId;
use lanyard_enrollment::EnrollmentError;
use lanyard_enrollment::enrollment::Holder;
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
                    id => a.id.to_string(), email => a.email, name => a.full_name, status => a.status.label(),
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
            can_delete => console.actor.rights.allows(Area::Administrators, Verb::Delete),
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

fn admin_id(raw: &str) -> lanyard_core::id::AdministratorId {
    lanyard_core::id::AdministratorId::from_stored(raw.to_owned())
}

/// What the last form on the administrator page produced.
#[derive(Default)]
struct Feedback {
    errors: BTreeMap<String, String>,
    error: Option<String>,
    notice: Option<String>,
}

async fn render_admin(
    console: &Console,
    state: &AppState,
    templates: &Templates,
    id: lanyard_core::id::AdministratorId,
    feedback: Feedback,
) -> Result<HttpResponse, ConsoleError> {
    let status = if feedback.errors.is_empty() && feedback.error.is_none() {
        actix_web::http::StatusCode::OK
    } else {
        actix_web::http::StatusCode::UNPROCESSABLE_ENTITY
    };
    let Feedback {
        errors,
        error,
        notice,
    } = feedback;
    let (c, reach) = (console.clone(), Reach::of(state));
    let (a, profiles, children, scope_ids, inviter, (devices, enrollments)) = state
        .db(move |conn, clock| {
            authorize(
                conn,
                &c.actor,
                Area::Administrators,
                Verb::View,
                &c.admin.account,
            )?;
            let a = admin::get_in(conn, &c.admin.account, &id)?;
            let profiles = profile::list(conn, &c.admin.account)?;
            let children = lanyard_identity::account::children(conn, &c.admin.account)?;
            let scope_ids = admin::scope_accounts(conn, &a.id)?;
            let inviter = match &a.invited_by {
                Some(by) => match admin::get(conn, by) {
                    Ok(inviter) => inviter.full_name,
                    Err(IdentityError::NotFound { .. }) => "(a deleted administrator)".into(),
                    Err(other) => return Err(other),
                },
                None => "the operator".into(),
            };
            let phones = phones::load(
                conn,
                clock,
                &c.actor,
                &c.admin.account,
                Holder::Administrator(&a.email),
                &reach,
            )
            .map_err(EnrollmentError::into_identity)?;
            Ok::<_, IdentityError>((a, profiles, children, scope_ids, inviter, phones))
        })
        .await?;
    let profile_name = profiles
        .iter()
        .find(|p| p.id == a.profile_id)
        .map(|p| p.name.clone())
        .unwrap_or_default();
    let scope = if a.scope_all {
        "the whole account".to_owned()
    } else {
        children
            .iter()
            .filter(|c| scope_ids.contains(&c.id))
            .map(|c| c.name.clone())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let is_me = a.id == console.admin.id;
    let ctx = console.page(&a.email, "administrators", minijinja::context! {
        a => minijinja::context! {
            id => a.id.to_string(), email => a.email.clone(), name => a.full_name.clone(),
            phone => a.phone_number.clone().unwrap_or_default(), status => a.status.label(),
            profile => profile_name, profile_id => a.profile_id.to_string(), scope => scope, scope_all => a.scope_all,
            invited_by => inviter, created => a.created_at.format("%Y-%m-%d").to_string(),
        },
        profiles => profiles.iter().map(|p| minijinja::context! { id => p.id.to_string(), name => p.name.clone() }).collect::<Vec<_>>(),
        children => children.iter().map(|c| minijinja::context! { id => c.id.to_string(), name => c.name.clone(), selected => scope_ids.contains(&c.id) }).collect::<Vec<_>>(),
        editable => !is_me && console.actor.rights.allows(Area::Administrators, Verb::Edit),
        can_delete => !is_me && console.actor.rights.allows(Area::Administrators, Verb::Delete),
        is_me => is_me, errors => errors, error => error, notice => notice,
        phones_of => phones::context(console, &format!("/console/administrators/{}", a.id), &devices, &enrollments),
    });
    templates.render_status(status, "administrator.html", ctx)
}

pub(crate) async fn show(
    console: Console,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    render_admin(
        &console,
        &state,
        &templates,
        admin_id(&path),
        Feedback::default(),
    )
    .await
}

/// One POST handler for the administrator page's forms: `edit`, `rights`, `disable`,
/// `reactivate`, `delete`.
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
    let id = admin_id(&raw);
    let (c, target, f) = (console.clone(), id.clone(), fields.clone());
    let reach = Reach::of(&state);
    // My own phones are managed from My profile: go back there.
    let back_to_me = id == console.admin.id && phones::is_action(&action);
    let outcome = form_call(&state, move |conn, clock| {
        // The target must be an administrator of the caller's own account.
        let found = admin::get_in(conn, &c.admin.account, &target)?;
        if let Some(done) = phones::act(
            conn,
            clock,
            &c.actor,
            &c.admin.account,
            Holder::Administrator(&found.email),
            (&action, &f),
            &reach,
        ) {
            return done;
        }
        let done: Result<&str, IdentityError> = match action.as_str() {
            "edit" => admin::update(
                conn,
                clock,
                &c.actor,
                &target,
                f.get("fullName").map(String::as_str).unwrap_or_default(),
                f.get("phoneNumber").map(String::as_str),
            )
            .map(|_| "Saved."),
            "rights" => {
                let profile_id =
                    ProfileId::from_stored(f.get("profile").cloned().unwrap_or_default());
                let scope = if f.get("scope").map(String::as_str) == Some("selected") {
                    ScopeChoice::Selected(
                        f.keys()
                            .filter_map(|k| k.strip_prefix("account_"))
                            .map(|id| lanyard_core::id::AccountId::from_stored(id.to_owned()))
                            .collect(),
                    )
                } else {
                    ScopeChoice::All
                };
                admin::set_profile_and_scope(conn, clock, &c.actor, &target, &profile_id, &scope)
                    .map(|_| "Profile and scope saved.")
            }
            "disable" => {
                admin::set_disabled(conn, clock, &c.actor, &target, true).map(|_| "Disabled.")
            }
            "reactivate" => {
                admin::set_disabled(conn, clock, &c.actor, &target, false).map(|_| "Reactivated.")
            }
            "delete" => admin::delete(conn, clock, &c.actor, &target).map(|()| "Deleted."),
            _ => Err(IdentityError::NotAllowed("no such action".into())),
        };
        done.map(str::to_owned)
    })
    .await?;
    match outcome {
        Ok(notice) if notice == "Deleted." => Ok(super::redirect("/console/administrators")),
        Ok(_) if back_to_me => Ok(super::redirect("/console/me")),
        Ok(notice) => {
            render_admin(
                &console,
                &state,
                &templates,
                id,
                Feedback {
                    notice: Some(notice),
                    ..Feedback::default()
                },
            )
            .await
        }
        Err((errors, error)) => {
            render_admin(
                &console,
                &state,
                &templates,
                id,
                Feedback {
                    errors,
                    error,
                    notice: None,
                },
            )
            .await
        }
    }
}

pub(crate) async fn withdraw(
    console: Console,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<BTreeMap<String, String>>,
) -> Result<HttpResponse, ConsoleError> {
    console.check_csrf(form.get("csrf").map(String::as_str).unwrap_or_default())?;
    let (c, handle) = (console.clone(), path.into_inner());
    state
        .db(move |conn, clock| {
            admin::delete_invitation(conn, clock, &c.actor, &c.admin.account, &handle)
        })
        .await?;
    Ok(super::redirect("/console/administrators"))
}

/// The email of administrator `raw` of the caller's account (for the phone downloads).
async fn holder_of(
    console: &Console,
    state: &AppState,
    raw: &str,
) -> Result<OwnedHolder, ConsoleError> {
    let (c, id) = (console.clone(), admin_id(raw));
    let found = state
        .db(move |conn, _| admin::get_in(conn, &c.admin.account, &id))
        .await?;
    Ok(OwnedHolder::Administrator(found.email))
}

/// The QR code of an administrator's enrollment.
pub(crate) async fn qr_code(
    console: Console,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ConsoleError> {
    let (raw, id) = path.into_inner();
    let holder = holder_of(&console, &state, &raw).await?;
    phones::qr_code(&console, &state, holder, id).await
}

/// The enrollment sheet of an administrator's enrollment.
pub(crate) async fn sheet(
    console: Console,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ConsoleError> {
    let (raw, id) = path.into_inner();
    let holder = holder_of(&console, &state, &raw).await?;
    phones::sheet(&console, &state, holder, id).await
}
