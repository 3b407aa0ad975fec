//! Forgotten password, password change, login e-mail change.

use super::auth::{Console, anonymous_csrf, anonymous_page, check_anonymous_csrf};
use super::{ConsoleError, Templates, form_call};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use lanyard_core::Email;
use lanyard_identity::{admin, password};
use lanyard_web::AppState;
use std::collections::BTreeMap;

#[derive(Debug, serde::Deserialize)]
pub(crate) struct TokenQuery {
    #[serde(default)]
    token: String,
}

fn message(
    req: &HttpRequest,
    templates: &Templates,
    heading: &str,
    text: &str,
    error: bool,
) -> Result<HttpResponse, ConsoleError> {
    let (csrf, _) = anonymous_csrf(req);
    templates.render_status(
        if error { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK },
        "message.html",
        anonymous_page(req, heading, &csrf, minijinja::context! {
            heading => heading, message => text, error => error, link => "/console/login", link_text => "Log in",
        }),
    )
}

pub(crate) async fn forgot_form(
    req: HttpRequest,
    templates: web::Data<Templates>,
) -> Result<HttpResponse, ConsoleError> {
    let (csrf, cookie) = anonymous_csrf(&req);
    let mut page = templates.render(
        "forgot.html",
        anonymous_page(&req, "Forgot your password?", &csrf, minijinja::context! {}),
    )?;
    if let Some(cookie) = cookie {
        let _added = page.add_cookie(&cookie);
    }
    Ok(page)
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct ForgotForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
}

pub(crate) async fn forgot(
    req: HttpRequest,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
    form: web::Form<ForgotForm>,
) -> Result<HttpResponse, ConsoleError> {
    check_anonymous_csrf(&req, &form.csrf)?;
    let links = state.links();
    let email = form.email.clone();
    match form_call(&state, move |conn, clock| {
        admin::request_password_reset(conn, clock, &links, &email)
    })
    .await?
    {
        // The same answer whether or not the address is an administrator's.
        Ok(()) => message(
            &req,
            &templates,
            "Check your e-mail",
            "If the address belongs to an administrator, a link to choose a new password is on its way.",
            false,
        ),
        Err((_, text)) => message(
            &req,
            &templates,
            "Try again later",
            &text.unwrap_or_default(),
            true,
        ),
    }
}

pub(crate) async fn reset_form(
    req: HttpRequest,
    templates: web::Data<Templates>,
    query: web::Query<TokenQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let (csrf, cookie) = anonymous_csrf(&req);
    let mut page = templates.render(
        "reset.html",
        anonymous_page(
            &req,
            "New password",
            &csrf,
            minijinja::context! {
                token => query.token.clone(), policy => password::POLICY,
            },
        ),
    )?;
    if let Some(cookie) = cookie {
        let _added = page.add_cookie(&cookie);
    }
    Ok(page)
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct ResetForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password2: String,
}

pub(crate) async fn reset(
    req: HttpRequest,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
    form: web::Form<ResetForm>,
) -> Result<HttpResponse, ConsoleError> {
    check_anonymous_csrf(&req, &form.csrf)?;
    let outcome = if form.password == form.password2 {
        let (token, new) = (form.token.clone(), form.password.clone());
        form_call(&state, move |conn, clock| {
            admin::reset_password(conn, clock, &token, &new)
        })
        .await?
    } else {
        Err((
            BTreeMap::from([(
                "password2".to_owned(),
                "must be the same as the password".to_owned(),
            )]),
            None,
        ))
    };
    match outcome {
        Ok(_) => message(
            &req,
            &templates,
            "Password changed",
            "Your new password is set. Log in with it.",
            false,
        ),
        Err((errors, text)) => {
            let (csrf, _) = anonymous_csrf(&req);
            // A spent or expired link is the "code" field: say so plainly.
            let text = text.or_else(|| errors.get("code").map(|e| format!("This link {e}.")));
            templates.render_status(StatusCode::UNPROCESSABLE_ENTITY, "reset.html", anonymous_page(&req, "New password", &csrf, minijinja::context! {
                token => form.token.clone(), policy => password::POLICY, errors => errors, error => text,
            }))
        }
    }
}

/// My profile: password, login e-mail, and my own phones (a lost phone is replaced here: a new
/// enrollment for myself, scanned with the new phone).
pub(crate) async fn me(
    console: Console,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
) -> Result<HttpResponse, ConsoleError> {
    let (c, reach) = (console.clone(), super::phones::Reach::of(&state));
    let (devices, enrollments) = state
        .db(move |conn, clock| {
            super::phones::load(
                conn,
                clock,
                &c.actor,
                &c.admin.account,
                lanyard_enrollment::enrollment::Holder::Administrator(&c.admin.email),
                &reach,
            )
        })
        .await?;
    let base = format!("/console/administrators/{}", console.admin.id);
    let ctx = console.page(
        "My profile",
        "me",
        minijinja::context! {
            email => console.admin.email.clone(), policy => password::POLICY,
            phones_of => super::phones::context(&console, &base, &devices, &enrollments),
        },
    );
    templates.render("me.html", ctx)
}

pub(crate) async fn change_password(
    console: Console,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
    form: web::Form<BTreeMap<String, String>>,
) -> Result<HttpResponse, ConsoleError> {
    let form = form.into_inner();
    console.check_csrf(form.get("csrf").map(String::as_str).unwrap_or_default())?;
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    let outcome = if get("newPassword") == get("newPassword2") {
        let (id, current, new) = (
            console.admin.id.clone(),
            get("currentPassword"),
            get("newPassword"),
        );
        let session = console.session.id.clone();
        form_call(&state, move |conn, clock| {
            admin::change_password(conn, clock, &id, &current, &new, Some(&session))
        })
        .await?
    } else {
        Err((
            BTreeMap::from([(
                "newPassword2".to_owned(),
                "must be the same as the new password".to_owned(),
            )]),
            None,
        ))
    };
    me_after(
        &console,
        &templates,
        outcome.map(|()| "Password changed.".to_owned()),
    )
}

/// "My profile" after one of its forms: the notice of a success, or the form's errors.
fn me_after(
    console: &Console,
    templates: &Templates,
    outcome: Result<String, (BTreeMap<String, String>, Option<String>)>,
) -> Result<HttpResponse, ConsoleError> {
    let (status, notice, errors, error) = match outcome {
        Ok(notice) => (StatusCode::OK, Some(notice), BTreeMap::new(), None),
        Err((errors, error)) => (StatusCode::UNPROCESSABLE_ENTITY, None, errors, error),
    };
    let ctx = console.page("My profile", "me", minijinja::context! {
        email => console.admin.email.clone(), policy => password::POLICY, notice => notice, errors => errors, error => error,
    });
    templates.render_status(status, "me.html", ctx)
}

pub(crate) async fn change_email(
    console: Console,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
    form: web::Form<BTreeMap<String, String>>,
) -> Result<HttpResponse, ConsoleError> {
    let form = form.into_inner();
    console.check_csrf(form.get("csrf").map(String::as_str).unwrap_or_default())?;
    let raw = form.get("newEmail").cloned().unwrap_or_default();
    let current = form.get("emailPassword").cloned().unwrap_or_default();
    let outcome = match Email::parse(&raw) {
        Ok(new) => {
            let (links, id) = (state.links(), console.admin.id.clone());
            form_call(&state, move |conn, clock| {
                admin::request_email_change(conn, clock, &links, &id, &current, &new)
            })
            .await?
            // The domain names the password field of the password form; this form has its own.
            .map_err(|(mut errors, message)| {
                if let Some(rule) = errors.remove("currentPassword") {
                    errors.insert("emailPassword".to_owned(), rule);
                }
                (errors, message)
            })
        }
        Err(e) => Err((
            BTreeMap::from([("newEmail".to_owned(), e.to_string())]),
            None,
        )),
    };
    me_after(
        &console,
        &templates,
        outcome.map(|()| format!("A confirmation link is on its way to {raw}.")),
    )
}

pub(crate) async fn confirm_email(
    req: HttpRequest,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
    query: web::Query<TokenQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let token = query.token.clone();
    match form_call(&state, move |conn, clock| {
        admin::confirm_email_change(conn, clock, &token)
    })
    .await?
    {
        Ok(changed) => message(
            &req,
            &templates,
            "E-mail changed",
            &format!("Your login is now {}.", changed.email),
            false,
        ),
        Err((errors, text)) => {
            let text = text
                .or_else(|| errors.get("code").map(|e| format!("This link {e}.")))
                .unwrap_or_default();
            message(&req, &templates, "Cannot change the e-mail", &text, true)
        }
    }
}
