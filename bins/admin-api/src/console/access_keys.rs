//! Access keys (PassBy[ME] "Access key management"): application and management keys, their
//! certificates, downloads (PFX, PEM), the PFX password dialog, revocation, new certificates
//! (generated or from the administrator's PKCS#10 request), deletion.

use super::auth::Console;
use super::{ConsoleError, Templates, form_call, redirect};
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use actix_web::{HttpResponse, web};
use lanyard_identity::access_key::{self, KeyKind, KeySource};
use lanyard_identity::{IdentityError, application};
use lanyard_web::AppState;
use std::collections::BTreeMap;

fn day(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

async fn render_list(
    console: &Console,
    state: &AppState,
    templates: &Templates,
    form: BTreeMap<String, String>,
    errors: BTreeMap<String, String>,
    error: Option<String>,
) -> Result<HttpResponse, ConsoleError> {
    let c = console.clone();
    let (apps, app_keys, mgmt_keys, periods) = state
        .db(move |conn, clock| {
            let apps = application::list(conn, &c.actor, &c.admin.account)?;
            let app_keys =
                access_key::list(conn, &c.actor, &c.admin.account, KeyKind::Application)?;
            let mgmt = access_key::list(conn, &c.actor, &c.admin.account, KeyKind::Management)?;
            let periods =
                lanyard_identity::maintenance::list(conn, clock, &c.actor, &c.admin.account)?;
            Ok::<_, IdentityError>((apps, app_keys, mgmt, periods))
        })
        .await?;
    let app_name = |id: &Option<String>| {
        apps.iter()
            .find(|a| Some(&a.id) == id.as_ref())
            .map(|a| a.name.clone())
            .unwrap_or_default()
    };
    let key_row = |k: &access_key::AccessKey| {
        minijinja::context! { id => k.id.clone(), name => k.name.clone(), application => app_name(&k.application_id), created => day(k.created_at) }
    };
    let status = if errors.is_empty() && error.is_none() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let ctx = console.page("Access keys", "access_keys", minijinja::context! {
        applications => apps.iter().map(|a| minijinja::context! { id => a.id.clone(), name => a.name.clone() }).collect::<Vec<_>>(),
        application_keys => app_keys.iter().map(key_row).collect::<Vec<_>>(),
        management_keys => mgmt_keys.iter().map(key_row).collect::<Vec<_>>(),
        maintenances => periods.iter().map(|m| minijinja::context! {
            id => m.id.clone(),
            scope => m.application_name.clone().unwrap_or_else(|| "Whole organization".into()),
            from => day(m.starts_at), until => day(m.ends_at), state => m.state.as_str(),
            subject => m.texts.first().map(|t| t.subject.clone()).unwrap_or_default(),
        }).collect::<Vec<_>>(),
        form => form, errors => errors, error => error,
    });
    templates.render_status(status, "access_keys.html", ctx)
}

pub(crate) async fn list(
    console: Console,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
) -> Result<HttpResponse, ConsoleError> {
    render_list(
        &console,
        &state,
        &templates,
        BTreeMap::new(),
        BTreeMap::new(),
        None,
    )
    .await
}

/// The CSR pasted in `field`, if any.
fn csr_of(form: &BTreeMap<String, String>) -> Option<Vec<u8>> {
    form.get("csr")
        .map(|c| c.trim())
        .filter(|c| !c.is_empty())
        .map(|c| c.as_bytes().to_vec())
}

pub(crate) async fn create(
    console: Console,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
    form: web::Form<BTreeMap<String, String>>,
) -> Result<HttpResponse, ConsoleError> {
    let form = form.into_inner();
    console.check_csrf(form.get("csrf").map(String::as_str).unwrap_or_default())?;
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    let (kind, name, app_choice, csr) =
        (get("type"), get("name"), get("application"), csr_of(&form));
    let (c, crl_base, master) = (console.clone(), state.crl_base(), state.master_key.clone());
    let outcome = form_call(&state, move |conn, clock| {
        let kind = KeyKind::parse(&kind)?;
        // As in PassBy[ME], an application key may bring its application along: "new" makes
        // an application named after the key.
        let application_id = match (kind, app_choice.as_str()) {
            (KeyKind::Application, "" | "new") => {
                Some(application::create(conn, clock, &c.actor, &c.admin.account, &name)?.id)
            }
            (KeyKind::Application, id) => Some(id.to_owned()),
            (KeyKind::Management, _) => None,
        };
        let source = match &csr {
            Some(bytes) => KeySource::Csr(bytes),
            None => KeySource::Generate,
        };
        access_key::create(
            conn,
            clock,
            &master,
            &c.actor,
            &c.admin.account,
            kind,
            &name,
            application_id.as_deref(),
            source,
            &crl_base,
        )
    })
    .await?;
    match outcome {
        Ok(issued) => Ok(redirect(&format!("/console/access-keys/{}", issued.key.id))),
        Err((errors, error)) => {
            render_list(&console, &state, &templates, form, errors, error).await
        }
    }
}

#[derive(Default)]
struct Shown {
    notice: Option<String>,
    password: Option<(String, String)>,
    errors: BTreeMap<String, String>,
    error: Option<String>,
}

async fn render_key(
    console: &Console,
    state: &AppState,
    templates: &Templates,
    id: String,
    shown: Shown,
) -> Result<HttpResponse, ConsoleError> {
    let c = console.clone();
    let (key, certs) = state
        .db(move |conn, clock| {
            let key = access_key::get(conn, &c.actor, &c.admin.account, &id)?;
            let certs = access_key::certificates_of(conn, clock, &c.actor, &c.admin.account, &id)?;
            Ok::<_, IdentityError>((key, certs))
        })
        .await?;
    let rows: Vec<_> = certs
        .iter()
        .map(|cert| {
            minijinja::context! {
                serial => cert.serial.clone(), subject => cert.subject.clone(),
                from => day(cert.not_before), until => day(cert.not_after),
                status => cert.status.as_str(), active => cert.status == access_key::CertificateStatus::Active,
                generated => cert.generated, key_available => cert.key_available,
            }
        })
        .collect();
    let status = if shown.errors.is_empty() && shown.error.is_none() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let (password_for, password) = shown.password.unzip();
    let ctx = console.page(&key.name, "access_keys", minijinja::context! {
        key => minijinja::context! { id => key.id.clone(), name => key.name.clone(), kind => key.kind.as_str() },
        certificates => rows, notice => shown.notice, password => password, password_for => password_for,
        errors => shown.errors, error => shown.error,
    });
    templates.render_status(status, "access_key.html", ctx)
}

pub(crate) async fn show(
    console: Console,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    render_key(
        &console,
        &state,
        &templates,
        path.into_inner(),
        Shown::default(),
    )
    .await
}

/// Key actions: `issue` (new certificate, optionally from a pasted CSR), `delete`.
pub(crate) async fn act(
    console: Console,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
    path: web::Path<(String, String)>,
    form: web::Form<BTreeMap<String, String>>,
) -> Result<HttpResponse, ConsoleError> {
    let form = form.into_inner();
    console.check_csrf(form.get("csrf").map(String::as_str).unwrap_or_default())?;
    let (id, action) = path.into_inner();
    let (c, key_id, crl_base, master) = (
        console.clone(),
        id.clone(),
        state.crl_base(),
        state.master_key.clone(),
    );
    let csr = csr_of(&form);
    let outcome = form_call(&state, move |conn, clock| match action.as_str() {
        "issue" => {
            let source = match &csr {
                Some(bytes) => KeySource::Csr(bytes),
                None => KeySource::Generate,
            };
            access_key::issue_certificate(
                conn,
                clock,
                &master,
                &c.actor,
                &c.admin.account,
                &key_id,
                source,
                &crl_base,
            )
            .map(|issued| Some(format!("Certificate {} issued.", issued.certificate.serial)))
        }
        "delete" => access_key::delete(conn, clock, &master, &c.actor, &c.admin.account, &key_id)
            .map(|()| None),
        _ => Err(IdentityError::NotAllowed("no such action".into())),
    })
    .await?;
    match outcome {
        Ok(None) => Ok(redirect("/console/access-keys")),
        Ok(Some(notice)) => {
            render_key(
                &console,
                &state,
                &templates,
                id,
                Shown {
                    notice: Some(notice),
                    ..Shown::default()
                },
            )
            .await
        }
        Err((errors, error)) => {
            render_key(
                &console,
                &state,
                &templates,
                id,
                Shown {
                    errors,
                    error,
                    ..Shown::default()
                },
            )
            .await
        }
    }
}

/// Certificate actions: `revoke`, `password` (the PFX password dialog).
pub(crate) async fn certificate_act(
    console: Console,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
    path: web::Path<(String, String, String)>,
    form: web::Form<BTreeMap<String, String>>,
) -> Result<HttpResponse, ConsoleError> {
    console.check_csrf(form.get("csrf").map(String::as_str).unwrap_or_default())?;
    let (id, serial, action) = path.into_inner();
    let (c, master, s) = (console.clone(), state.master_key.clone(), serial.clone());
    let outcome = form_call(&state, move |conn, clock| match action.as_str() {
        "revoke" => {
            access_key::revoke(conn, clock, &master, &c.actor, &c.admin.account, &s).map(|()| None)
        }
        "password" => access_key::pfx_password(conn, &master, &c.actor, &c.admin.account, &s)
            .map(|p| Some(p.expose().to_owned())),
        _ => Err(IdentityError::NotAllowed("no such action".into())),
    })
    .await?;
    let shown = match outcome {
        Ok(None) => Shown {
            notice: Some(format!("Certificate {serial} revoked.")),
            ..Shown::default()
        },
        Ok(Some(password)) => Shown {
            password: Some((serial, password)),
            ..Shown::default()
        },
        Err((errors, error)) => Shown {
            errors,
            error,
            ..Shown::default()
        },
    };
    render_key(&console, &state, &templates, id, shown).await
}

/// `GET …/certificates/{serial}.pem|.pfx`: the keystore downloads.
pub(crate) async fn download(
    console: Console,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ConsoleError> {
    let (_, file) = path.into_inner();
    let (serial, format) = file
        .rsplit_once('.')
        .filter(|(_, ext)| matches!(*ext, "pem" | "pfx"))
        .map(|(s, e)| (s.to_owned(), e.to_owned()))
        .ok_or_else(|| ConsoleError::Page(StatusCode::NOT_FOUND, "No such download.".into()))?;
    let (c, master, s, f) = (
        console.clone(),
        state.master_key.clone(),
        serial.clone(),
        format.clone(),
    );
    let bytes = state
        .db(move |conn, clock| {
            if f == "pfx" {
                access_key::download_pfx(conn, clock, &master, &c.actor, &c.admin.account, &s)
            } else {
                access_key::download_pem(conn, clock, &master, &c.actor, &c.admin.account, &s)
            }
        })
        .await?;
    let content_type = if format == "pfx" {
        "application/x-pkcs12"
    } else {
        "application/x-pem-file"
    };
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, content_type))
        .insert_header((
            CONTENT_DISPOSITION,
            format!("attachment; filename=\"{serial}.{format}\""),
        ))
        // Key material: never cached.
        .insert_header(("Cache-Control", "no-store"))
        .body(bytes))
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct IconQuery {
    download: Option<String>,
}

/// `GET /console/applications/{id}/icon.svg`: the icon, as an image only. An uploaded SVG may
/// carry script; served with a policy that allows none (and a sandbox), it cannot run, even when
/// opened directly. `?download=1` offers it as a file ("Download current icon").
pub(crate) async fn icon(
    console: Console,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<IconQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let id = path.into_inner();
    let (c, i) = (console.clone(), id.clone());
    let svg = state
        .db(move |conn, _| application::icon(conn, &c.actor, &c.admin.account, &i))
        .await?;
    let mut response = HttpResponse::Ok();
    response
        .insert_header((CONTENT_TYPE, "image/svg+xml"))
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; sandbox",
        ))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Cache-Control", "private, no-cache"));
    if query.download.is_some() {
        response.insert_header((
            CONTENT_DISPOSITION,
            format!("attachment; filename=\"application-{id}.svg\""),
        ));
    }
    Ok(response.body(svg))
}

/// `POST /console/applications/{id}/icon` (upload) and `…/icon/default` (restore).
pub(crate) async fn upload_icon(
    console: Console,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
    path: web::Path<String>,
    form: actix_multipart::form::MultipartForm<super::FileUpload>,
) -> Result<HttpResponse, ConsoleError> {
    let form = form.into_inner();
    console.check_csrf(&form.csrf)?;
    set_icon(
        console,
        state,
        templates,
        path.into_inner(),
        Some(form.bytes()),
    )
    .await
}

pub(crate) async fn restore_icon(
    console: Console,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
    path: web::Path<String>,
    form: web::Form<BTreeMap<String, String>>,
) -> Result<HttpResponse, ConsoleError> {
    console.check_csrf(form.get("csrf").map(String::as_str).unwrap_or_default())?;
    set_icon(console, state, templates, path.into_inner(), None).await
}

async fn set_icon(
    console: Console,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
    id: String,
    svg: Option<Vec<u8>>,
) -> Result<HttpResponse, ConsoleError> {
    let (c, i) = (console.clone(), id.clone());
    let outcome = form_call(&state, move |conn, clock| {
        application::set_icon(conn, clock, &c.actor, &c.admin.account, &i, svg.as_deref())
    })
    .await?;
    match outcome {
        Ok(()) => Ok(redirect("/console/access-keys")),
        Err((fields, message)) => {
            let rule = fields.into_values().next().or(message).unwrap_or_default();
            let errors = BTreeMap::from([(format!("icon_{id}"), rule)]);
            render_list(&console, &state, &templates, BTreeMap::new(), errors, None).await
        }
    }
}
