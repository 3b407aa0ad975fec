//! Personalization of the automatic e-mails (STid "Personalization panel"): an account rewords
//! any e-mail; accounts below it inherit unless they change it themselves.

use super::auth::Console;
use super::{ConsoleError, Templates};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use lanyard_identity::rights::{Area, Verb, authorize};
use lanyard_identity::{IdentityError, account, branding};
use lanyard_mail::templates::{self, TemplateText};
use lanyard_web::AppState;
use std::collections::BTreeMap;

/// Values for every variable the built-in texts use, to check that an edited text renders.
fn sample() -> minijinja::Value {
    minijinja::context! {
        account_name => "Example Ltd", inviter_name => "Ann Admin", link => "https://example.com/x",
        code => "ABCDEFGH12345678ABCDEFGH", expires => "2026-01-01 12:00 UTC", name => "Ann Admin", by => "Platform",
        device => "Ann's phone",
    }
}

const VARIABLES: &str = "account_name, inviter_name, link, code, expires, name, by, device";

fn origin(text: &TemplateText, me: &lanyard_core::id::AccountId) -> &'static str {
    match &text.overridden_by {
        None => "built in",
        Some(a) if a == me => "changed for this account",
        Some(_) => "inherited from a parent account",
    }
}

fn mail_error(e: lanyard_mail::MailError) -> IdentityError {
    match e {
        lanyard_mail::MailError::Store(s) => IdentityError::Store(s),
        other => IdentityError::Invalid {
            field: "template",
            rule: other.to_string(),
        },
    }
}

pub(crate) async fn list(
    console: Console,
    state: web::Data<AppState>,
    templates_page: web::Data<Templates>,
) -> Result<HttpResponse, ConsoleError> {
    render_list(
        &console,
        &state,
        &templates_page,
        None,
        BTreeMap::new(),
        None,
    )
    .await
}

async fn render_list(
    console: &Console,
    state: &AppState,
    page: &Templates,
    look_form: Option<BTreeMap<String, String>>,
    errors: BTreeMap<String, String>,
    notice: Option<&str>,
) -> Result<HttpResponse, ConsoleError> {
    let c = console.clone();
    let (rows, own, inherited, logos) = state
        .db(move |conn, _| {
            authorize(conn, &c.actor, Area::MyAccount, Verb::View, &c.admin.account)?;
            let chain = account::ancestors(conn, &c.admin.account)?;
            let mut rows = Vec::new();
            for b in templates::BUILTIN {
                let text = templates::resolve(conn, &chain, b.name).map_err(mail_error)?;
                rows.push(minijinja::context! { name => b.name, description => b.description, origin => origin(&text, &c.admin.account) });
            }
            let own = branding::get_own(conn, &c.admin.account)?;
            let versions = branding::effective_logo_versions(conn, &c.admin.account)?;
            let logos: Vec<_> = branding::LogoSlot::ALL
                .into_iter()
                .map(|slot| {
                    let found = versions.iter().find(|(s, _, _)| *s == slot);
                    let (dw, dh) = slot.drawn_size();
                    let (mw, mh) = slot.max_size();
                    minijinja::context! {
                        slot => slot.as_str(), label => slot.label(),
                        hint => format!("PNG or JPEG, drawn at {dw} × {dh}, at most {mw} × {mh} pixels and {} KiB", branding::MAX_LOGO_BYTES / 1024),
                        url => found.map(|(_, _, at)| format!("/console/logo/{}?v={}", slot.as_str(), at.timestamp_micros())),
                        own => found.is_some_and(|(_, owner, _)| *owner == c.admin.account),
                    }
                })
                .collect();
            let inherited = match chain.get(1) {
                Some(parent) => branding::effective(conn, parent)?,
                None => branding::Branding::default(),
            };
            Ok::<_, IdentityError>((rows, own, inherited, logos))
        })
        .await?;
    let look = look_form.unwrap_or_else(|| {
        BTreeMap::from([
            (
                "headerColor".to_owned(),
                own.header_color.clone().unwrap_or_default(),
            ),
            (
                "footerColor".to_owned(),
                own.footer_color.clone().unwrap_or_default(),
            ),
            (
                "copyright".to_owned(),
                own.copyright.clone().unwrap_or_default(),
            ),
            (
                "fieldLabels".to_owned(),
                own.field_labels.clone().unwrap_or_default().join("\n"),
            ),
        ])
    });
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let ctx = console.page("Personalization", "personalization", minijinja::context! {
        templates => rows, look => look, errors => errors, notice => notice, logo_forms => logos,
        inherited => minijinja::context! { header => inherited.header_color, footer => inherited.footer_color, copyright => inherited.copyright },
    });
    page.render_status(status, "personalization.html", ctx)
}

pub(crate) async fn save_look(
    console: Console,
    state: web::Data<AppState>,
    page: web::Data<Templates>,
    form: web::Form<BTreeMap<String, String>>,
) -> Result<HttpResponse, ConsoleError> {
    let form = form.into_inner();
    console.check_csrf(form.get("csrf").map(String::as_str).unwrap_or_default())?;
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    match branding::Branding::parse(
        get("headerColor"),
        get("footerColor"),
        get("copyright"),
        get("fieldLabels"),
    ) {
        Err(IdentityError::Invalid { field, rule }) => {
            render_list(
                &console,
                &state,
                &page,
                Some(form.clone()),
                BTreeMap::from([(field.to_owned(), rule)]),
                None,
            )
            .await
        }
        Err(other) => Err(ConsoleError::Page(
            StatusCode::BAD_REQUEST,
            other.to_string(),
        )),
        Ok(look) => {
            let c = console.clone();
            state
                .db(move |conn, clock| {
                    branding::set(conn, clock, &c.actor, &c.admin.account, &look)
                })
                .await?;
            Ok(super::redirect("/console/personalization"))
        }
    }
}

async fn render(
    console: &Console,
    state: &AppState,
    page: &Templates,
    name: String,
    shown: Option<(BTreeMap<String, String>, String)>,
) -> Result<HttpResponse, ConsoleError> {
    let builtin = templates::builtin(&name).ok_or_else(|| {
        ConsoleError::Page(StatusCode::NOT_FOUND, "There is no such e-mail.".into())
    })?;
    let (c, n) = (console.clone(), name.clone());
    let text = state
        .db(move |conn, _| {
            authorize(
                conn,
                &c.actor,
                Area::MyAccount,
                Verb::View,
                &c.admin.account,
            )?;
            let chain = account::ancestors(conn, &c.admin.account)?;
            templates::resolve(conn, &chain, &n).map_err(mail_error)
        })
        .await?;
    let (status, subject, body, html, error) = match shown {
        Some((form, error)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            form.get("subject").cloned().unwrap_or_default(),
            form.get("text").cloned().unwrap_or_default(),
            form.get("html").cloned().unwrap_or_default(),
            Some(error),
        ),
        None => (
            StatusCode::OK,
            text.subject.clone(),
            text.text.clone(),
            text.html.clone().unwrap_or_default(),
            None,
        ),
    };
    let ctx = console.page(&name, "personalization", minijinja::context! {
        name => name, description => builtin.description, origin => origin(&text, &console.admin.account),
        variables => VARIABLES, subject => subject, text => body, html => html, error => error,
    });
    page.render_status(status, "personalization_form.html", ctx)
}

pub(crate) async fn edit(
    console: Console,
    state: web::Data<AppState>,
    page: web::Data<Templates>,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    render(&console, &state, &page, path.into_inner(), None).await
}

pub(crate) async fn save(
    console: Console,
    state: web::Data<AppState>,
    page: web::Data<Templates>,
    path: web::Path<String>,
    form: web::Form<BTreeMap<String, String>>,
) -> Result<HttpResponse, ConsoleError> {
    let form = form.into_inner();
    console.check_csrf(form.get("csrf").map(String::as_str).unwrap_or_default())?;
    let name = path.into_inner();
    let reset = form.get("do").map(String::as_str) == Some("default");
    let text = TemplateText {
        subject: form.get("subject").cloned().unwrap_or_default(),
        text: form.get("text").cloned().unwrap_or_default(),
        html: form.get("html").cloned().filter(|h| !h.trim().is_empty()),
        overridden_by: None,
    };
    let (c, n) = (console.clone(), name.clone());
    let outcome = state
        .db(move |conn, clock| {
            authorize(
                conn,
                &c.actor,
                Area::MyAccount,
                Verb::Edit,
                &c.admin.account,
            )?;
            let result = if reset {
                templates::clear_override(conn, &c.admin.account, &n)
            } else {
                templates::set_override(conn, clock, &c.admin.account, &n, &text, &sample())
            };
            match result {
                Ok(()) => {
                    let what = if reset {
                        "reset to the inherited text"
                    } else {
                        "changed"
                    };
                    lanyard_identity::history::record_by(
                        conn,
                        clock,
                        &c.actor,
                        &c.admin.account,
                        "Personalization",
                        &format!("E-mail {n} {what}"),
                    )?;
                    Ok(Ok(()))
                }
                Err(lanyard_mail::MailError::Store(s)) => Err(IdentityError::Store(s)),
                Err(other) => Ok(Err(other.to_string())),
            }
        })
        .await
        .map_err(ConsoleError::from)?;
    match outcome {
        Ok(()) => Ok(super::redirect("/console/personalization")),
        Err(message) => render(&console, &state, &page, name, Some((form, message))).await,
    }
}

/// `console` with the logos as they are now, so the page after a change already shows it (the
/// session loaded them before the change).
async fn with_fresh_logos(mut console: Console, state: &AppState) -> Result<Console, ConsoleError> {
    let account = console.admin.account.clone();
    console.logos = state
        .db(move |conn, _| branding::effective_logo_versions(conn, &account))
        .await?
        .into_iter()
        .map(|(slot, _, at)| (slot, at))
        .collect();
    Ok(console)
}

fn slot_of(name: &str) -> Result<branding::LogoSlot, ConsoleError> {
    branding::LogoSlot::parse(name)
        .ok_or_else(|| ConsoleError::Page(StatusCode::NOT_FOUND, "There is no such logo.".into()))
}

/// A logo of the administrator's account (its own or inherited). Private cache: the URL carries
/// the version, so a changed logo is a new URL.
pub(crate) async fn logo(
    console: Console,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let slot = slot_of(&path.into_inner())?;
    let account = console.admin.account.clone();
    let found = state
        .db(move |conn, _| branding::effective_logo(conn, &account, slot))
        .await?;
    let logo =
        found.ok_or_else(|| ConsoleError::Page(StatusCode::NOT_FOUND, "No logo is set.".into()))?;
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CONTENT_TYPE, logo.content_type))
        .insert_header(("Cache-Control", "private, max-age=86400"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(logo.data))
}

pub(crate) async fn upload_logo(
    console: Console,
    state: web::Data<AppState>,
    page: web::Data<Templates>,
    path: web::Path<String>,
    form: actix_multipart::form::MultipartForm<super::FileUpload>,
) -> Result<HttpResponse, ConsoleError> {
    let form = form.into_inner();
    console.check_csrf(&form.csrf)?;
    let slot = slot_of(&path.into_inner())?;
    let data = form.bytes();
    let c = console.clone();
    let outcome = super::form_call(&state, move |conn, clock| {
        branding::set_logo(conn, clock, &c.actor, &c.admin.account, slot, &data)
    })
    .await?;
    match outcome {
        Ok(()) => {
            let console = with_fresh_logos(console, &state).await?;
            render_list(
                &console,
                &state,
                &page,
                None,
                BTreeMap::new(),
                Some(&format!("{} uploaded.", slot.label())),
            )
            .await
        }
        Err((fields, message)) => {
            let rule = fields.into_values().next().or(message).unwrap_or_default();
            let errors = BTreeMap::from([(format!("logo_{}", slot.as_str()), rule)]);
            render_list(&console, &state, &page, None, errors, None).await
        }
    }
}

pub(crate) async fn remove_logo(
    console: Console,
    state: web::Data<AppState>,
    page: web::Data<Templates>,
    path: web::Path<String>,
    form: web::Form<BTreeMap<String, String>>,
) -> Result<HttpResponse, ConsoleError> {
    console.check_csrf(form.get("csrf").map(String::as_str).unwrap_or_default())?;
    let slot = slot_of(&path.into_inner())?;
    let c = console.clone();
    let removed = state
        .db(move |conn, clock| branding::remove_logo(conn, clock, &c.actor, &c.admin.account, slot))
        .await?;
    let console = with_fresh_logos(console, &state).await?;
    let notice = if removed {
        format!(
            "{} removed; the account above's applies again.",
            slot.label()
        )
    } else {
        format!(
            "This account has no {} of its own.",
            slot.label().to_lowercase()
        )
    };
    render_list(
        &console,
        &state,
        &page,
        None,
        BTreeMap::new(),
        Some(&notice),
    )
    .await
}
