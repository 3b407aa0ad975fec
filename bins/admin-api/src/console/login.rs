//! Log in, log out.

use super::auth::{Console, anonymous_csrf, anonymous_page, check_anonymous_csrf, session_cookie};
use super::{ConsoleError, Templates, form_call, redirect};
use actix_web::cookie::Cookie;
use actix_web::{HttpRequest, HttpResponse, web};
use lanyard_identity::session::{self, Stage};
use lanyard_identity::{IdentityError, admin};
use lanyard_web::AppState;

#[derive(Debug, serde::Deserialize)]
pub(crate) struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

pub(crate) async fn form(
    req: HttpRequest,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
) -> Result<HttpResponse, ConsoleError> {
    let (csrf, cookie) = anonymous_csrf(&req);
    let mut page = templates.render(
        "login.html",
        anonymous_page(
            &req,
            "Log in",
            &csrf,
            minijinja::context! {
                email => "", self_registration => state.settings.console.self_registration,
                lost_phone => format!("{}/deactivate", state.settings.device_api.url()),
            },
        ),
    )?;
    if let Some(cookie) = cookie {
        let _added = page.add_cookie(&cookie);
    }
    Ok(page)
}

pub(crate) async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, ConsoleError> {
    check_anonymous_csrf(&req, &form.csrf)?;
    let client = req
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    let (email, password) = (form.email.clone(), form.password.clone());
    // The phone approval of the messaging work becomes a step between Password and Complete.
    let outcome = match form_call(&state, move |conn, clock| {
        let admin = admin::login(conn, clock, &email, &password, &client)?;
        session::start(conn, clock, &admin.id, Stage::Complete)
    })
    .await
    {
        Ok(outcome) => outcome,
        // A wrong password is "not allowed", not a broken page: show it on the form.
        Err(ConsoleError::Page(_, message)) => Err((Default::default(), Some(message))),
        Err(other) => return Err(other),
    };
    match outcome {
        Ok((_, token)) => {
            let mut response = redirect("/console");
            let _added = response.add_cookie(&session_cookie(&req, token.expose()));
            Ok(response)
        }
        Err((errors, message)) => {
            let (csrf, _) = anonymous_csrf(&req);
            templates.render_status(
                actix_web::http::StatusCode::UNAUTHORIZED,
                "login.html",
                anonymous_page(
                    &req,
                    "Log in",
                    &csrf,
                    minijinja::context! {
                        email => form.email.clone(), errors => errors, error => message,
                        lost_phone => format!("{}/deactivate", state.settings.device_api.url()),
                    },
                ),
            )
        }
    }
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

pub(crate) async fn logout(
    console: Console,
    state: web::Data<AppState>,
    form: web::Form<LogoutForm>,
) -> Result<HttpResponse, ConsoleError> {
    console.check_csrf(&form.csrf)?;
    let (id, account, name, email) = (
        console.session.id.clone(),
        console.admin.account.clone(),
        console.admin.full_name.clone(),
        console.admin.email.clone(),
    );
    state
        .db(move |conn, clock| {
            session::revoke(conn, clock, &id)?;
            lanyard_identity::history::record(
                conn,
                clock,
                &account,
                "Login",
                "Logged out",
                &name,
                Some(&email),
            )?;
            Ok::<_, IdentityError>(())
        })
        .await?;
    let mut response = redirect("/console/login");
    let mut gone = Cookie::new(super::auth::SESSION_COOKIE, "");
    gone.set_path("/console");
    gone.make_removal();
    let _added = response.add_cookie(&gone);
    Ok(response)
}
