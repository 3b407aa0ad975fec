//! Log in, log out.

use super::auth::{Console, anonymous_csrf, anonymous_page, check_anonymous_csrf, session_cookie};
use super::{ConsoleError, Templates, form_call, redirect, when};
use actix_web::cookie::Cookie;
use actix_web::{HttpRequest, HttpResponse, web};
use lanyard_core::Clock;
use lanyard_enrollment::enrollment::{self, EnrollmentState, Holder};
use lanyard_enrollment::{EnrollmentError, mobile_app, qr};
use lanyard_identity::admin::Administrator;
use lanyard_identity::rights::{Area, Verb, VerbSet};
use lanyard_identity::session::{self, Stage};
use lanyard_identity::{IdentityError, admin};
use lanyard_messaging::MessagingError;
use lanyard_messaging::approval;
use lanyard_messaging::status::RecipientStatus;
use lanyard_store::DbConnection;
use lanyard_web::AppState;
use lanyard_web::config::LoginApproval;

#[derive(Debug, serde::Deserialize)]
pub(crate) struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

/// The login form: `status`, the e-mail given, field errors and a message (a refused login).
fn login_page(
    req: &HttpRequest,
    state: &AppState,
    templates: &Templates,
    status: actix_web::http::StatusCode,
    (email, errors, error): (
        &str,
        std::collections::BTreeMap<String, String>,
        Option<&str>,
    ),
) -> Result<HttpResponse, ConsoleError> {
    let (csrf, cookie) = anonymous_csrf(req);
    let mut page = templates.render_status(
        status,
        "login.html",
        anonymous_page(
            req,
            "Log in",
            &csrf,
            minijinja::context! {
                email => email, errors => errors, error => error,
                self_registration => state.settings.console.self_registration,
                lost_phone => format!("{}/deactivate", state.settings.device_api.url()),
            },
        ),
    )?;
    if let Some(cookie) = cookie {
        let _added = page.add_cookie(&cookie);
    }
    Ok(page)
}

pub(crate) async fn form(
    req: HttpRequest,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
) -> Result<HttpResponse, ConsoleError> {
    login_page(
        &req,
        &state,
        &templates,
        actix_web::http::StatusCode::OK,
        ("", Default::default(), None),
    )
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
    let phone = state.settings.console.login_approval == LoginApproval::Phone;
    let links = state.links();
    let outcome = match form_call(&state, move |conn, clock| {
        let admin = admin::login(conn, clock, &email, &password, &client)?;
        if !phone {
            logged(conn, clock, &admin, "Logged in")?;
            return session::start(conn, clock, &admin.id, Stage::Complete);
        }
        // The phone approves next; without a phone, an e-mailed code first (lost device).
        if !approval::has_phone(conn, &admin.id).map_err(identity)? {
            admin::send_login_code(conn, clock, &links, &admin.id)?;
        }
        session::start(conn, clock, &admin.id, Stage::Password)
    })
    .await
    {
        Ok(outcome) => outcome,
        // A wrong password is "not allowed", not a broken page: show it on the form.
        Err(ConsoleError::Page(_, message)) => Err((Default::default(), Some(message))),
        Err(other) => return Err(other),
    };
    match outcome {
        Ok((session, token)) => {
            let next = if session.stage == Stage::Complete {
                "/console"
            } else {
                "/console/login/phone"
            };
            let mut response = redirect(next);
            let _added = response.add_cookie(&session_cookie(&req, token.expose()));
            Ok(response)
        }
        Err((errors, message)) => login_page(
            &req,
            &state,
            &templates,
            actix_web::http::StatusCode::UNAUTHORIZED,
            (&form.email, errors, message.as_deref()),
        ),
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

fn identity(err: MessagingError) -> IdentityError {
    match err {
        MessagingError::Identity(e) => e,
        other => IdentityError::NotAllowed(other.to_string()),
    }
}

/// Records a login step in the account history.
fn logged(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    admin: &Administrator,
    action: &str,
) -> Result<(), IdentityError> {
    lanyard_identity::history::record(
        conn,
        clock,
        &admin.account,
        "Login",
        action,
        &admin.full_name,
        Some(&admin.email),
    )
}

/// Where a login waiting for the phone stands.
enum Step {
    /// No live session: start again.
    Gone,
    /// Complete: on to the console.
    Done,
    /// The phone was asked; waiting for its answer.
    Waiting {
        secure_id: String,
        expires: String,
        csrf: String,
        /// Just asked: the administrator whose phones' channels to wake.
        wake: Option<String>,
    },
    /// No phone: the e-mailed code is needed.
    Code { csrf: String },
    /// No phone, code given: enroll one from this QR code.
    Enroll {
        csrf: String,
        link: String,
        svg: String,
        expires: String,
    },
    /// Denied, expired or withdrawn: the session is gone.
    Refused(&'static str),
}

/// The enrollment link of the administrator's newest unused enrollment, or of a new one, as
/// the phone reads it (with the organization's custom scheme when it has one).
fn own_enrollment(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    admin: &Administrator,
    reach: &super::phones::Reach,
) -> Result<(String, chrono::DateTime<chrono::Utc>), IdentityError> {
    // Enrolling one's own phone during login is always allowed, whatever the profile says
    // about other people's devices: it is how the administrator gets a second factor at all.
    let mut actor = admin::actor(conn, &admin.id)?;
    actor.rights.grant(
        Area::Devices,
        VerbSet::default().with(Verb::View).with(Verb::Create),
    );
    let holder = Holder::Administrator(&admin.email);
    let open = enrollment::list(conn, clock, &actor, &admin.account, holder, reach.links())
        .map_err(EnrollmentError::into_identity)?
        .into_iter()
        .filter(|e| e.state == EnrollmentState::Active)
        .max_by_key(|e| e.expires_at);
    let found = match open {
        Some(e) => e,
        None => enrollment::create(conn, clock, &actor, &admin.account, holder, reach.links())
            .map_err(EnrollmentError::into_identity)?,
    };
    let link = mobile_app::enrollment_link(conn, &admin.account, &found.device_config_url)
        .map_err(EnrollmentError::into_identity)?;
    Ok((link, found.expires_at))
}

/// Moves a login waiting for the phone one step on: ask the phone, read its answer, or (no
/// phone) take the e-mailed code and offer an enrollment.
fn step(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    token: &str,
    ask: (&str, i64),
    reach: &super::phones::Reach,
) -> Result<Step, IdentityError> {
    let Some(session) = session::resume(conn, clock, token)? else {
        return Ok(Step::Gone);
    };
    if session.stage == Stage::Complete {
        return Ok(Step::Done);
    }
    let admin = admin::get(conn, &session.administrator)?;
    let csrf = session.csrf_token.clone();
    if let Some(id) = &session.approval {
        let (status, secure_id, expires) =
            approval::status(conn, clock, &admin.id, id).map_err(identity)?;
        return match status {
            RecipientStatus::Approved => {
                session::set_approval(conn, &session.id, None)?;
                session::advance(conn, &session.id, Stage::Complete)?;
                logged(conn, clock, &admin, "Logged in (approved on the phone)")?;
                Ok(Step::Done)
            }
            s if !s.is_final(lanyard_messaging::status::MessageKind::Authorization) => {
                Ok(Step::Waiting {
                    secure_id,
                    expires: when(expires),
                    csrf,
                    wake: None,
                })
            }
            s => {
                session::revoke(conn, clock, &session.id)?;
                let (action, shown) = match s {
                    RecipientStatus::Denied => (
                        "Login denied on the phone",
                        "The login was denied on your phone.",
                    ),
                    RecipientStatus::Cancelled => ("Login cancelled", "The login was cancelled."),
                    _ => (
                        "Login not approved in time",
                        "The login was not approved on your phone in time.",
                    ),
                };
                logged(conn, clock, &admin, action)?;
                Ok(Step::Refused(shown))
            }
        };
    }
    if approval::has_phone(conn, &admin.id).map_err(identity)? {
        let (client, seconds) = ask;
        let asked = approval::request(
            conn,
            clock,
            &admin.id,
            "Log in to the Lanyard console",
            &format!(
                "{} is logging in to the console from {client}. Approve only if this is you.",
                admin.email
            ),
            seconds,
        )
        .map_err(identity)?;
        session::set_approval(conn, &session.id, Some(&asked.message_id))?;
        return Ok(Step::Waiting {
            secure_id: asked.secure_id.clone(),
            expires: when(asked.expires_at),
            csrf,
            wake: Some(admin.id.to_string()),
        });
    }
    if session.stage == Stage::Password {
        return Ok(Step::Code { csrf });
    }
    let (link, expires) = own_enrollment(conn, clock, &admin, reach)?;
    let svg = qr::svg(&link).map_err(EnrollmentError::into_identity)?;
    // Inlined into the page: without the XML declaration a standalone file starts with.
    let svg = match svg.split_once("?>") {
        Some((declaration, rest)) if declaration.starts_with("<?xml") => rest.to_owned(),
        _ => svg,
    };
    Ok(Step::Enroll {
        csrf,
        link,
        svg,
        expires: when(expires),
    })
}

fn removed_session_cookie() -> Cookie<'static> {
    let mut gone = Cookie::new(super::auth::SESSION_COOKIE, "");
    gone.set_path("/console");
    gone.make_removal();
    gone
}

fn client_of(req: &HttpRequest) -> String {
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default()
}

/// `GET /console/login/phone`: the second step of a login. Refreshes itself every two seconds
/// while it waits for the phone (no script needed).
pub(crate) async fn phone(
    req: HttpRequest,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
) -> Result<HttpResponse, ConsoleError> {
    phone_page(&req, &state, &templates, None).await
}

async fn phone_page(
    req: &HttpRequest,
    state: &AppState,
    templates: &Templates,
    error: Option<(std::collections::BTreeMap<String, String>, Option<String>)>,
) -> Result<HttpResponse, ConsoleError> {
    let Some(token) = req
        .cookie(super::auth::SESSION_COOKIE)
        .map(|c| c.value().to_owned())
    else {
        return Ok(redirect("/console/login"));
    };
    let (client, seconds, reach) = (
        client_of(req),
        state.settings.console.login_approval_seconds,
        super::phones::Reach::of(state),
    );
    let step = state
        .db(move |conn, clock| step(conn, clock, &token, (&client, seconds), &reach))
        .await?;
    let (errors, error) = error.unwrap_or_default();
    let (title, ctx) = match step {
        Step::Gone => return Ok(redirect("/console/login")),
        Step::Done => return Ok(redirect("/console")),
        Step::Refused(message) => {
            let mut page = login_page(
                req,
                state,
                templates,
                actix_web::http::StatusCode::UNAUTHORIZED,
                ("", Default::default(), Some(message)),
            )?;
            let _added = page.add_cookie(&removed_session_cookie());
            return Ok(page);
        }
        Step::Waiting {
            secure_id,
            expires,
            csrf,
            wake,
        } => {
            if let Some(admin) = wake {
                lanyard_web::push::wake_administrator(state, &admin);
            }
            (
                "Approve on your phone",
                minijinja::context! {
                    step => "waiting", secure_id => secure_id, expires => expires, csrf => csrf,
                    refresh => 2,
                },
            )
        }
        Step::Code { csrf } => (
            "Enter your login code",
            minijinja::context! { step => "code", csrf => csrf, errors => errors, error => error },
        ),
        Step::Enroll {
            csrf,
            link,
            svg,
            expires,
        } => (
            "Enroll your phone",
            minijinja::context! {
                step => "enroll", csrf => csrf, link => link, qr => svg, expires => expires,
                refresh => 3,
            },
        ),
    };
    let status = if errors.is_empty() && error.is_none() {
        actix_web::http::StatusCode::OK
    } else {
        actix_web::http::StatusCode::UNPROCESSABLE_ENTITY
    };
    let base = minijinja::context! { title => title, theme => "" };
    templates.render_status(
        status,
        "login_phone.html",
        minijinja::context! { ..ctx, ..base },
    )
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct PhoneForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    code: String,
}

/// `POST /console/login/phone`: `code` (the e-mailed code, without a phone) or `cancel`.
pub(crate) async fn phone_action(
    req: HttpRequest,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
    form: web::Form<PhoneForm>,
) -> Result<HttpResponse, ConsoleError> {
    let Some(token) = req
        .cookie(super::auth::SESSION_COOKIE)
        .map(|c| c.value().to_owned())
    else {
        return Ok(redirect("/console/login"));
    };
    let form = form.into_inner();
    let (action, code, csrf) = (form.action.clone(), form.code.clone(), form.csrf.clone());
    let outcome = form_call(&state, move |conn, clock| {
        let Some(session) = session::resume(conn, clock, &token)? else {
            return Ok(false);
        };
        if session.stage == Stage::Complete
            || csrf.is_empty()
            || !lanyard_core::secret::constant_time_eq(
                session.csrf_token.as_bytes(),
                csrf.as_bytes(),
            )
        {
            return Err(IdentityError::Forbidden(
                "The form expired; reload the page and try again.".into(),
            ));
        }
        let admin = admin::get(conn, &session.administrator)?;
        match action.as_str() {
            "code" if session.stage == Stage::Password => {
                admin::check_login_code(conn, clock, &admin.id, &code)?;
                session::advance(conn, &session.id, Stage::Enroll)?;
                Ok(true)
            }
            "cancel" => {
                if let Some(id) = &session.approval {
                    approval::withdraw(conn, clock, &admin.id, id).map_err(identity)?;
                }
                session::revoke(conn, clock, &session.id)?;
                logged(conn, clock, &admin, "Login cancelled")?;
                Ok(false)
            }
            _ => Err(IdentityError::Invalid {
                field: "action",
                rule: "is not one of code, cancel".into(),
            }),
        }
    })
    .await?;
    match outcome {
        Ok(true) => Ok(redirect("/console/login/phone")),
        Ok(false) => {
            let mut response = redirect("/console/login");
            let _added = response.add_cookie(&removed_session_cookie());
            Ok(response)
        }
        Err(refused) => phone_page(&req, &state, &templates, Some(refused)).await,
    }
}
