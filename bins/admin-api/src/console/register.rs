//! Registration with an invitation, and activation.

use super::auth::{anonymous_csrf, anonymous_page, check_anonymous_csrf};
use super::{ConsoleError, Templates, form_call};
use actix_web::{HttpRequest, HttpResponse, web};
use lanyard_core::{Email, SecretString};
use lanyard_identity::admin::{self, Registration};
use lanyard_identity::password;
use lanyard_web::AppState;
use std::collections::BTreeMap;

#[derive(Debug, serde::Deserialize)]
pub(crate) struct CodeQuery {
    code: Option<String>,
    email: Option<String>,
}

fn with_cookie(
    mut page: HttpResponse,
    cookie: Option<actix_web::cookie::Cookie<'static>>,
) -> HttpResponse {
    if let Some(cookie) = cookie {
        let _added = page.add_cookie(&cookie);
    }
    page
}

pub(crate) async fn form(
    req: HttpRequest,
    templates: web::Data<Templates>,
    query: web::Query<CodeQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let (csrf, cookie) = anonymous_csrf(&req);
    let page = templates.render(
        "register.html",
        anonymous_page(
            &req,
            "Register",
            &csrf,
            minijinja::context! {
                code => query.code.clone().unwrap_or_default(),
                email => query.email.clone().unwrap_or_default(),
                full_name => "",
                policy => password::POLICY,
            },
        ),
    )?;
    Ok(with_cookie(page, cookie))
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct RegisterForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    email: String,
    #[serde(default, rename = "fullName")]
    full_name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password2: String,
}

pub(crate) async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
    form: web::Form<RegisterForm>,
) -> Result<HttpResponse, ConsoleError> {
    check_anonymous_csrf(&req, &form.csrf)?;
    let form = form.into_inner();
    let mut errors = BTreeMap::new();
    let email = match Email::parse(&form.email) {
        Ok(e) => Some(e),
        Err(e) => {
            errors.insert("email".to_owned(), e.to_string());
            None
        }
    };
    if form.password != form.password2 {
        errors.insert(
            "password2".to_owned(),
            "must be the same as the password".to_owned(),
        );
    }
    let outcome = match (email, errors.is_empty()) {
        (Some(email), true) => {
            let links = state.links();
            let registration = Registration {
                code: form.code.trim().to_owned(),
                email,
                password: SecretString::new(form.password.clone()),
                full_name: form.full_name.clone(),
            };
            form_call(&state, move |conn, clock| {
                admin::register(conn, clock, &links, &registration)
            })
            .await?
        }
        _ => Err((errors, None)),
    };
    match outcome {
        Ok(registered) => {
            let (csrf, _) = anonymous_csrf(&req);
            templates.render(
                "activate.html",
                anonymous_page(
                    &req,
                    "Activate",
                    &csrf,
                    minijinja::context! {
                        email => registered.email,
                        notice => "Registered. Enter the activation code we e-mailed you.",
                    },
                ),
            )
        }
        Err((errors, message)) => {
            let (csrf, _) = anonymous_csrf(&req);
            templates.render_status(
                actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
                "register.html",
                anonymous_page(
                    &req,
                    "Register",
                    &csrf,
                    minijinja::context! {
                        code => form.code, email => form.email, full_name => form.full_name,
                        policy => password::POLICY, errors => errors, error => message,
                    },
                ),
            )
        }
    }
}

pub(crate) async fn activate_form(
    req: HttpRequest,
    templates: web::Data<Templates>,
    query: web::Query<CodeQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let (csrf, cookie) = anonymous_csrf(&req);
    let page = templates.render(
        "activate.html",
        anonymous_page(
            &req,
            "Activate",
            &csrf,
            minijinja::context! { email => query.email.clone().unwrap_or_default() },
        ),
    )?;
    Ok(with_cookie(page, cookie))
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct ActivateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    code: String,
}

pub(crate) async fn activate(
    req: HttpRequest,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
    form: web::Form<ActivateForm>,
) -> Result<HttpResponse, ConsoleError> {
    check_anonymous_csrf(&req, &form.csrf)?;
    let (email, code) = (form.email.clone(), form.code.clone());
    let client = req
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    let outcome = form_call(&state, move |conn, clock| {
        admin::activate(conn, clock, &email, &code, &client)
    })
    .await?;
    let (csrf, _) = anonymous_csrf(&req);
    match outcome {
        Ok(_) => templates.render(
            "login.html",
            anonymous_page(&req, "Log in", &csrf, minijinja::context! {
                email => form.email.clone(),
                notice => "Your account is active. Log in.",
            }),
        ),
        Err((errors, message)) => templates.render_status(
            actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
            "activate.html",
            anonymous_page(&req, "Activate", &csrf, minijinja::context! { email => form.email.clone(), errors => errors, error => message }),
        ),
    }
}

fn signup_enabled(state: &AppState) -> Result<(), ConsoleError> {
    if state.settings.console.self_registration {
        Ok(())
    } else {
        Err(ConsoleError::Page(
            actix_web::http::StatusCode::NOT_FOUND,
            "Organizations are registered by their distributor here.".into(),
        ))
    }
}

pub(crate) async fn signup_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
) -> Result<HttpResponse, ConsoleError> {
    signup_enabled(&state)?;
    let (csrf, cookie) = anonymous_csrf(&req);
    let page = templates.render(
        "signup.html",
        anonymous_page(
            &req,
            "Register an organization",
            &csrf,
            minijinja::context! {
                form => BTreeMap::<String, String>::new(), policy => password::POLICY,
            },
        ),
    )?;
    Ok(with_cookie(page, cookie))
}

pub(crate) async fn signup(
    req: HttpRequest,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
    form: web::Form<BTreeMap<String, String>>,
) -> Result<HttpResponse, ConsoleError> {
    signup_enabled(&state)?;
    let form = form.into_inner();
    check_anonymous_csrf(
        &req,
        form.get("csrf").map(String::as_str).unwrap_or_default(),
    )?;
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    let mut errors = BTreeMap::new();
    let email = Email::parse(&get("email"))
        .map_err(|e| errors.insert("email".to_owned(), e.to_string()))
        .ok();
    if get("password") != get("password2") {
        errors.insert(
            "password2".to_owned(),
            "must be the same as the password".to_owned(),
        );
    }
    let client = req
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    let outcome = match email {
        Some(email) if errors.is_empty() => {
            let (links, organization, password, name) = (
                state.links(),
                get("organization"),
                get("password"),
                get("fullName"),
            );
            form_call(&state, move |conn, clock| {
                admin::register_organization(
                    conn,
                    clock,
                    &links,
                    &organization,
                    &email,
                    &password,
                    &name,
                    &client,
                )
            })
            .await?
        }
        _ => Err((errors, None)),
    };
    let (csrf, _) = anonymous_csrf(&req);
    match outcome {
        Ok(registered) => templates.render(
            "activate.html",
            anonymous_page(
                &req,
                "Activate",
                &csrf,
                minijinja::context! {
                    email => registered.email,
                    notice => "Registered. Enter the activation code we e-mailed you.",
                },
            ),
        ),
        Err((errors, message)) => templates.render_status(
            actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
            "signup.html",
            anonymous_page(
                &req,
                "Register an organization",
                &csrf,
                minijinja::context! {
                    form => form, policy => password::POLICY, errors => errors, error => message,
                },
            ),
        ),
    }
}
