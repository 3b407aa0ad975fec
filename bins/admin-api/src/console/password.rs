//! Forgotten password, password change, login e-mail change.

use super::auth::{Console, anonymous_csrf, anonymous_page, check_anonymous_csrf};
use super::{ConsoleError, Templates, form_call};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use lanyard_core::Email;
use lanyard_identity::{admin, password};
use lanyard_messaging::approval::{self, Settled};
use lanyard_web::AppState;
use lanyard_web::config::LoginApproval;
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
        let phone = state.settings.console.login_approval == LoginApproval::Phone;
        let seconds = state.settings.console.login_approval_seconds;
        form_call(&state, move |conn, clock| {
            let reset = admin::check_password_reset(conn, clock, &token, &new)?;
            // SPEC §1: a forgotten password is reset by the e-mailed link, then approved on the
            // phone. Without a phone (lost, never enrolled) the link alone resets it: the next
            // login then needs the e-mailed login code and a new phone.
            let has_phone = phone
                && approval::has_phone(conn, &reset.administrator).map_err(identity_error)?;
            if !has_phone {
                admin::finish_password_reset(conn, clock, &reset)?;
                return Ok(None);
            }
            let asked = approval::ask(
                conn,
                clock,
                &reset.administrator,
                (RESET, &reset.token_id, Some(&reset.password_hash)),
                "Reset your console password",
                "Someone with the reset link sent to your e-mail address is setting a new password for the Lanyard console. Approve only if it is you.",
                seconds,
            )
            .map_err(identity_error)?;
            Ok(Some((asked.message_id, reset.administrator)))
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
        Ok(Some((approval, administrator))) => {
            lanyard_web::push::wake_administrator(&state, administrator.as_str());
            Ok(super::redirect(&format!(
                "/console/reset-password/phone?approval={approval}"
            )))
        }
        Ok(None) => message(
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

/// What a pending password reset waits for (`pending_approvals.purpose`).
const RESET: &str = "password_reset";

/// A messaging error where the identity domain's is expected (its own errors pass through).
pub(crate) fn identity_error(
    err: lanyard_messaging::MessagingError,
) -> lanyard_identity::IdentityError {
    match err {
        lanyard_messaging::MessagingError::Identity(e) => e,
        // The phone was deactivated between the check and the request.
        lanyard_messaging::MessagingError::NoDevice(_) => {
            lanyard_identity::IdentityError::NotAllowed(
                "no active phone to approve this: try again".into(),
            )
        }
        other => lanyard_identity::IdentityError::Inconsistent(other.to_string()),
    }
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct ApprovalQuery {
    #[serde(default)]
    approval: String,
}

/// `GET /console/reset-password/phone?approval=…`: a new password waiting for the phone. The page
/// refreshes itself until the phone answers; approved, the password is set (once) and the link
/// used; denied or expired, nothing changes.
pub(crate) async fn reset_phone(
    req: HttpRequest,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
    query: web::Query<ApprovalQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let id = query.approval.clone();
    let settled = state
        .db(move |conn, clock| {
            let settled = approval::settle(conn, clock, &id, RESET, |conn, pending| {
                let password_hash = pending.payload.clone().ok_or_else(|| {
                    lanyard_messaging::MessagingError::NotFound(pending.message_id.clone())
                })?;
                let reset = admin::PendingReset {
                    administrator: pending.administrator.clone(),
                    token_id: pending.target.clone(),
                    password_hash,
                };
                admin::finish_password_reset(conn, clock, &reset)
                    .map_err(lanyard_messaging::MessagingError::from)
            });
            match settled {
                Err(lanyard_messaging::MessagingError::NotFound(_)) => Ok(None),
                other => other.map(Some),
            }
        })
        .await?;
    match settled {
        Some(Settled::Waiting {
            secure_id,
            expires_at,
        }) => {
            let (csrf, _) = anonymous_csrf(&req);
            templates.render(
                "approval_wait.html",
                anonymous_page(&req, "Approve on your phone", &csrf, minijinja::context! {
                    refresh => 2, secure_id => secure_id,
                    expires => expires_at.format("%H:%M:%S UTC").to_string(),
                    text => "We sent a request to your phone to approve the new password. Approve it there; this page moves on by itself.",
                }),
            )
        }
        Some(Settled::Done(_)) => message(
            &req,
            &templates,
            "Password changed",
            "Your phone approved it: your new password is set. Log in with it.",
            false,
        ),
        Some(Settled::Refused(status)) => message(
            &req,
            &templates,
            "Password not changed",
            &format!(
                "The new password was {} on your phone; your password is unchanged. Open the link again to retry, or ask for a new one.",
                match status {
                    lanyard_messaging::status::RecipientStatus::Denied => "denied",
                    lanyard_messaging::status::RecipientStatus::Cancelled => "cancelled",
                    _ => "not approved in time",
                }
            ),
            true,
        ),
        None => message(
            &req,
            &templates,
            "Nothing to approve",
            "This password reset is finished or does not exist.",
            true,
        ),
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
