//! Who is looking at the console: the session cookie, CSRF tokens, and the page context every
//! template gets.

use super::{ConsoleError, redirect};
use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use futures_util::future::LocalBoxFuture;
use lanyard_core::codes::random_base62;
use lanyard_core::secret::constant_time_eq;
use lanyard_identity::admin::{self, AdminStatus, Administrator};
use lanyard_identity::branding::LogoSlot;
use lanyard_identity::rights::{Actor, Area, Verb};
use lanyard_identity::session::AlertKind;
use lanyard_identity::session::{self, Session, Stage};
use lanyard_identity::{AccountKind, AccountStatus, IdentityError, account};
use lanyard_web::AppState;
use minijinja::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

pub(crate) const SESSION_COOKIE: &str = "lanyard_session";
const CSRF_COOKIE: &str = "lanyard_csrf";
const THEME_COOKIE: &str = "lanyard_theme";

/// A logged-in administrator on a console page.
#[derive(Debug, Clone)]
pub(crate) struct Console {
    pub(crate) admin: Administrator,
    pub(crate) actor: Actor,
    pub(crate) session: Session,
    pub(crate) account_name: String,
    pub(crate) account_kind: AccountKind,
    pub(crate) branding: lanyard_identity::branding::Branding,
    pub(crate) theme: String,
    pub(crate) path: String,
    /// Logos that apply to the account, with their versions.
    pub(crate) logos: Vec<(LogoSlot, chrono::DateTime<chrono::Utc>)>,
    /// Alerts shown earlier in this session and not cleared.
    pub(crate) alert_count: i64,
    /// Alerts this request shows, written to the session's history after the response is built.
    pub(crate) alerts: AlertSink,
}

/// The alerts one request shows (see [`record_alerts`]).
#[derive(Debug, Clone, Default)]
pub(crate) struct AlertSink {
    session_id: String,
    pending: Arc<Mutex<Vec<(AlertKind, String)>>>,
}

impl AlertSink {
    fn push(&self, kind: AlertKind, message: String) {
        if let Ok(mut pending) = self.pending.lock() {
            pending.push((kind, message));
        }
    }

    fn take(&self) -> Vec<(AlertKind, String)> {
        self.pending
            .lock()
            .map(|mut p| std::mem::take(&mut *p))
            .unwrap_or_default()
    }
}

/// Middleware of `/console`: after a page is rendered, the notices and errors it showed go to the
/// session's alert history (seed 001 "Alert History"). Done here rather than in each handler so
/// that no page can forget it.
pub(crate) async fn record_alerts(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let res = next.call(req).await?;
    let sink = res.request().extensions().get::<AlertSink>().cloned();
    if let (Some(sink), Some(state)) = (sink, state) {
        let pending = sink.take();
        if !pending.is_empty() {
            let recorded = state
                .db(move |conn, clock| {
                    for (kind, message) in &pending {
                        session::record_alert(conn, clock, &sink.session_id, *kind, message)?;
                    }
                    Ok::<_, IdentityError>(())
                })
                .await;
            // The page itself was fine; a lost alert is not worth failing it.
            if let Err(err) = recorded {
                tracing::warn!(error = %err, "could not record console alerts");
            }
        }
    }
    Ok(res)
}

fn theme_of(req: &HttpRequest) -> String {
    match req.cookie(THEME_COOKIE).as_ref().map(Cookie::value) {
        Some("dark") => "dark".into(),
        _ => String::new(),
    }
}

impl FromRequest for Console {
    type Error = ConsoleError;
    type Future = LocalBoxFuture<'static, Result<Self, ConsoleError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned());
        let theme = theme_of(req);
        let path = req.path().to_owned();
        let req = req.clone();
        Box::pin(async move {
            let state = state.ok_or_else(|| {
                ConsoleError::Internal(lanyard_web::ApiError::internal("no state"))
            })?;
            let token = token.ok_or(ConsoleError::Login)?;
            let found = state
                .db(move |conn, clock| {
                    let Some(session) = session::resume(conn, clock, &token)? else {
                        return Ok::<_, IdentityError>(None);
                    };
                    let admin = admin::get(conn, &session.administrator)?;
                    if session.stage != Stage::Complete || admin.status != AdminStatus::Active {
                        return Ok(None);
                    }
                    let account = account::get(conn, &admin.account)?;
                    if matches!(
                        account.status,
                        AccountStatus::Disabled | AccountStatus::Deleted
                    ) {
                        return Ok(None);
                    }
                    let actor = admin::actor(conn, &admin.id)?;
                    let branding = lanyard_identity::branding::effective(conn, &admin.account)?;
                    let logos =
                        lanyard_identity::branding::effective_logo_versions(conn, &admin.account)?
                            .into_iter()
                            .map(|(slot, _, at)| (slot, at))
                            .collect();
                    let alert_count = session::alert_count(conn, &session.id)?;
                    Ok(Some((
                        session,
                        admin,
                        actor,
                        (account.name, account.kind),
                        branding,
                        logos,
                        alert_count,
                    )))
                })
                .await?;
            let (session, admin, actor, (account_name, account_kind), branding, logos, alert_count) =
                found.ok_or(ConsoleError::Login)?;
            let alerts = AlertSink {
                session_id: session.id.clone(),
                pending: Arc::default(),
            };
            req.extensions_mut().insert(alerts.clone());
            Ok(Self {
                logos,
                alert_count,
                alerts,
                admin,
                actor,
                session,
                account_name,
                account_kind,
                branding,
                theme,
                path,
            })
        })
    }
}

impl Console {
    /// The context every logged-in page gets, plus `extra`.
    pub(crate) fn page(&self, title: &str, section: &str, extra: Value) -> Value {
        // What this page tells the administrator also goes to the alert history.
        for (key, kind) in [("notice", AlertKind::Notice), ("error", AlertKind::Error)] {
            if let Ok(v) = extra.get_attr(key)
                && let Some(text) = v.as_str().filter(|t| !t.is_empty())
            {
                self.alerts.push(kind, text.to_owned());
            }
        }
        let shown_now = self.alerts.pending.lock().map(|p| p.len()).unwrap_or(0);
        let logos: BTreeMap<&str, String> = self
            .logos
            .iter()
            .map(|(slot, at)| {
                (
                    slot.as_str(),
                    format!(
                        "/console/logo/{}?v={}",
                        slot.as_str(),
                        at.timestamp_micros()
                    ),
                )
            })
            .collect();
        let mut can: BTreeMap<&str, bool> = [
            ("end_users", Area::EndUsers),
            ("administrators", Area::Administrators),
            ("profiles", Area::Profiles),
            ("activity", Area::Activity),
        ]
        .into_iter()
        .map(|(k, a)| (k, self.actor.rights.allows(a, Verb::View)))
        .collect();
        can.insert("plans", self.account_kind == AccountKind::Platform);
        can.insert(
            "devices",
            self.account_kind == AccountKind::Organization
                && self.actor.rights.allows(Area::Devices, Verb::View),
        );
        can.insert(
            "messages",
            self.account_kind == AccountKind::Organization
                && self.actor.rights.allows(Area::Messages, Verb::View),
        );
        can.insert(
            "access_keys",
            self.account_kind == AccountKind::Organization
                && self.actor.rights.allows(Area::AccessKeys, Verb::View),
        );
        can.insert(
            "customer_accounts",
            self.account_kind != AccountKind::Organization
                && self.actor.rights.allows(Area::CustomerAccounts, Verb::View),
        );
        let base = minijinja::context! {
            title => title,
            section => section,
            me => minijinja::context! { name => self.admin.full_name.clone(), account => self.account_name.clone() },
            can => can,
            csrf => self.session.csrf_token.clone(),
            theme => self.theme.clone(),
            brand_css => brand_css_url(&self.branding),
            copyright => self.branding.copyright.clone(),
            path => self.path.clone(),
            logos => logos,
            alert_count => self.alert_count + i64::try_from(shown_now).unwrap_or(0),
        };
        // The layout's own keys win: a page cannot shadow `can`, `csrf` or `me` by accident.
        minijinja::context! { ..base, ..extra }
    }

    /// Refuses a form whose CSRF token is not this session's.
    pub(crate) fn check_csrf(&self, given: &str) -> Result<(), ConsoleError> {
        if constant_time_eq(given.as_bytes(), self.session.csrf_token.as_bytes()) {
            Ok(())
        } else {
            Err(ConsoleError::Page(
                actix_web::http::StatusCode::FORBIDDEN,
                "The form expired; reload the page and try again.".into(),
            ))
        }
    }
}

/// The anonymous CSRF token (double-submit cookie) for forms shown before login: the existing
/// cookie's value, or a new one with the cookie to set.
pub(crate) fn anonymous_csrf(req: &HttpRequest) -> (String, Option<Cookie<'static>>) {
    match req.cookie(CSRF_COOKIE) {
        Some(c) if c.value().len() >= 32 => (c.value().to_owned(), None),
        _ => {
            let value = random_base62(32);
            let cookie = Cookie::build(CSRF_COOKIE, value.clone())
                .path("/console")
                .http_only(true)
                .same_site(SameSite::Strict)
                .secure(is_https(req))
                .finish();
            (value, Some(cookie))
        }
    }
}

/// Refuses an anonymous form whose token does not match its cookie.
pub(crate) fn check_anonymous_csrf(req: &HttpRequest, given: &str) -> Result<(), ConsoleError> {
    match req.cookie(CSRF_COOKIE) {
        Some(c)
            if !given.is_empty() && constant_time_eq(c.value().as_bytes(), given.as_bytes()) =>
        {
            Ok(())
        }
        _ => Err(ConsoleError::Page(
            actix_web::http::StatusCode::FORBIDDEN,
            "The form expired; reload the page and try again.".into(),
        )),
    }
}

pub(crate) fn is_https(req: &HttpRequest) -> bool {
    req.connection_info().scheme() == "https"
}

/// The session cookie for `token`.
pub(crate) fn session_cookie(req: &HttpRequest, token: &str) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, token.to_owned())
        .path("/console")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(is_https(req))
        .finish()
}

/// The context of an anonymous page.
pub(crate) fn anonymous_page(req: &HttpRequest, title: &str, csrf: &str, extra: Value) -> Value {
    let base = minijinja::context! { title => title, csrf => csrf, theme => theme_of(req) };
    minijinja::context! { ..extra, ..base }
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct ThemeQuery {
    next: Option<String>,
}

/// Toggles dark mode (a cookie) and goes back.
pub(crate) async fn theme(req: HttpRequest, query: web::Query<ThemeQuery>) -> HttpResponse {
    let next = query
        .next
        .as_deref()
        .filter(|n| n.starts_with("/console") && !n.starts_with("//"))
        .unwrap_or("/console");
    let dark = theme_of(&req) != "dark";
    let mut response = redirect(next);
    let cookie = Cookie::build(THEME_COOKIE, if dark { "dark" } else { "light" })
        .path("/console")
        .same_site(SameSite::Lax)
        .finish();
    let _added = response.add_cookie(&cookie);
    response
}

/// The URL of the stylesheet with the account's colours (parameters, so it needs no session and
/// can be cached).
fn brand_css_url(b: &lanyard_identity::branding::Branding) -> Option<String> {
    if b.header_color.is_none() && b.footer_color.is_none() {
        return None;
    }
    let strip = |c: &Option<String>| {
        c.as_deref()
            .map(|c| c.trim_start_matches('#').to_owned())
            .unwrap_or_default()
    };
    Some(format!(
        "/console/static/brand.css?header={}&footer={}",
        strip(&b.header_color),
        strip(&b.footer_color)
    ))
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct BrandQuery {
    #[serde(default)]
    header: String,
    #[serde(default)]
    footer: String,
}

/// The colours of an account as CSS; only six hex digits pass, so nothing else can be injected.
pub(crate) async fn brand_css(query: web::Query<BrandQuery>) -> HttpResponse {
    let hex = |c: &str| {
        (c.len() == 6 && c.bytes().all(|b| b.is_ascii_hexdigit())).then(|| format!("#{c}"))
    };
    let mut css = String::new();
    if let Some(h) = hex(&query.header) {
        css.push_str(&format!(
            ".top {{ background: {h}; }} .top a, .top .me, .top button.link {{ color: #fff; }}\n"
        ));
    }
    if let Some(f) = hex(&query.footer) {
        css.push_str(&format!(
            "footer.bottom {{ background: {f}; color: #fff; }}\n"
        ));
    }
    HttpResponse::Ok()
        .insert_header((
            actix_web::http::header::CONTENT_TYPE,
            "text/css; charset=utf-8",
        ))
        .insert_header(("Cache-Control", "public, max-age=86400"))
        .body(css)
}
