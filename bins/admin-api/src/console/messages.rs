//! Messages in the console (seed 000 "Messaging to users", "Advanced messages"; SPEC §5): send a
//! message in the name of one of the organization's applications — the advanced fields fold
//! out, no script needed — and the message history: every message, or one person's, newest
//! first; one message with its recipients and their evidences, each downloadable.

use super::auth::Console;
use super::{ConsoleError, Templates, redirect, when};
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use actix_web::{HttpResponse, web};
use lanyard_core::{Coded, ErrorCode, Oid, PageRequest};
use lanyard_identity::end_user;
use lanyard_identity::rights::{Area, Verb};
use lanyard_messaging::MessagingError;
use lanyard_messaging::history::{self, Whose};
use lanyard_messaging::message::{self, ConsoleMessage};
use lanyard_messaging::status::MessageKind;
use lanyard_web::{ApiError, AppState};
use std::collections::BTreeMap;

const PAGE: i64 = 25;

#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct ListQuery {
    q: Option<String>,
    start: Option<i64>,
    /// An end user's OID: their messages only.
    user: Option<String>,
}

fn statuses(counts: &BTreeMap<String, i64>) -> String {
    counts
        .iter()
        .map(|(s, n)| format!("{n} {s}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the form shows again after a refusal or a search for recipients.
#[derive(Default)]
struct Shown {
    form: BTreeMap<String, String>,
    errors: BTreeMap<String, String>,
    error: Option<String>,
    /// End users matching the recipients search: (alias, full name).
    found: Option<Vec<(String, String)>>,
}

/// Most end users a recipients search shows.
const FOUND: i64 = 20;

async fn render(
    console: &Console,
    state: &AppState,
    templates: &Templates,
    query: ListQuery,
    shown: Shown,
) -> Result<HttpResponse, ConsoleError> {
    let q = query.q.clone().unwrap_or_default();
    let page = PageRequest::new(query.start, Some(PAGE), Some(q.clone()))
        .map_err(|e| ConsoleError::Page(StatusCode::BAD_REQUEST, e.to_string()))?;
    let start = page.start;
    let user_oid =
        match query.user.as_deref().filter(|u| !u.is_empty()) {
            Some(raw) => Some(Oid::parse(raw).map_err(|_| {
                ConsoleError::Page(StatusCode::NOT_FOUND, "No such end user.".into())
            })?),
            None => None,
        };
    let may_send = console.actor.rights.allows(Area::Messages, Verb::Create);
    let c = console.clone();
    let (found, person, senders) = state
        .db(move |conn, _| {
            let person = match &user_oid {
                Some(oid) => {
                    let user = end_user::get(conn, &c.admin.account, oid)?;
                    Some((
                        user.id.to_string(),
                        user.oid.to_string(),
                        user.primary_alias().unwrap_or_default().to_owned(),
                    ))
                }
                None => None,
            };
            let whose = person
                .as_ref()
                .map_or(Whose::Organization, |p| Whose::EndUser(&p.0));
            let found = history::list(conn, &c.actor, &c.admin.account, whose, &page)?;
            let senders = if may_send {
                message::senders(conn, &c.actor, &c.admin.account)?
            } else {
                Vec::new()
            };
            Ok::<_, MessagingError>((found, person, senders))
        })
        .await?;
    let shown_rows = found.data.len() as i64;
    let rows: Vec<_> = found
        .data
        .iter()
        .map(|m| {
            minijinja::context! {
                id => m.id.clone(), kind => m.kind.label(), subject => m.subject.clone(),
                application => super::sender_name(m.application.clone()),
                sent => when(m.sent_at), expires => when(m.expires_at), statuses => statuses(&m.statuses),
            }
        })
        .collect();
    let mut form = shown.form;
    for (key, default) in [("availability", "600"), ("type", "message")] {
        form.entry(key.to_owned())
            .or_insert_with(|| default.to_owned());
    }
    let status = if shown.errors.is_empty() && shown.error.is_none() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let advanced_open = [
        "preview",
        "callbackUrl",
        "allUsers",
        "secureId",
        "enforceSecureId",
        "externalIdentity",
        "attachmentName",
        "attachmentUrl",
        "attachmentExpires",
        "unlisted",
        "availability",
        "type",
    ]
    .iter()
    .any(|k| shown.errors.contains_key(*k))
        || form.get("type").is_some_and(|t| t != "message");
    let title = match &person {
        Some((_, _, alias)) => format!("Messages to {alias}"),
        None => "Messages".to_owned(),
    };
    let ctx = console.page(
        &title,
        "messages",
        minijinja::context! {
            messages => rows, q => q, total => found.records_total,
            person => person.map(|(_, oid, alias)| minijinja::context! { oid => oid, alias => alias }),
            may_send => may_send && !senders.is_empty(), no_sender => may_send && senders.is_empty(),
            senders => senders.into_iter().map(|(id, name)| minijinja::context! { id => id, name => name }).collect::<Vec<_>>(),
            kinds => MessageKind::ALL.iter().map(|k| minijinja::context! { value => k.as_str(), label => k.label() }).collect::<Vec<_>>(),
            form => form, errors => shown.errors, error => shown.error, advanced_open => advanced_open,
            found_users => shown.found.map(|f| f.into_iter().map(|(alias, name)| minijinja::context! { alias => alias, name => name }).collect::<Vec<_>>()),
            ..super::pager(start, shown_rows, found.records_filtered, PAGE)
        },
    );
    templates.render_status(status, "messages.html", ctx)
}

/// `GET /console/messages`.
pub(crate) async fn list(
    console: Console,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ConsoleError> {
    render(
        &console,
        &state,
        &templates,
        query.into_inner(),
        Shown::default(),
    )
    .await
}

/// `POST /console/messages`: sends, then shows the message; or, with `action=find`, searches
/// the end users to add as recipients (the ticked ones join the recipients, whatever is typed
/// elsewhere is kept). The search is the form's first button, so Enter in a field never sends.
pub(crate) async fn send(
    console: Console,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
    fields: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, ConsoleError> {
    let fields = fields.into_inner();
    let picked: Vec<String> = fields
        .iter()
        .filter(|(k, _)| k == "pick")
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .collect();
    let mut form: BTreeMap<String, String> =
        fields.into_iter().filter(|(k, _)| k != "pick").collect();
    console.check_csrf(form.get("csrf").map(String::as_str).unwrap_or_default())?;
    if !picked.is_empty() {
        let typed = form.entry("recipients".to_owned()).or_default();
        for alias in picked {
            if !typed
                .split([',', ';', '\n', '\r', ' ', '\t'])
                .any(|a| a == alias)
            {
                if !typed.trim().is_empty() {
                    typed.push_str(", ");
                }
                typed.push_str(&alias);
            }
        }
    }
    if form.get("action").map(String::as_str) == Some("find") {
        let find = form.get("find").cloned().unwrap_or_default();
        let c = console.clone();
        let found = state
            .db(move |conn, _| {
                lanyard_identity::rights::authorize(
                    conn,
                    &c.actor,
                    Area::EndUsers,
                    Verb::View,
                    &c.admin.account,
                )?;
                let page = PageRequest::new(Some(0), Some(FOUND), Some(find)).map_err(|e| {
                    lanyard_identity::IdentityError::Invalid {
                        field: "find",
                        rule: e.to_string(),
                    }
                })?;
                end_user::list(conn, &c.admin.account, &page)
            })
            .await?;
        let shown = Shown {
            form: form.into_iter().filter(|(k, _)| k != "csrf").collect(),
            found: Some(
                found
                    .data
                    .iter()
                    .filter(|u| !u.disabled)
                    .filter_map(|u| {
                        Some((
                            u.primary_alias()?.to_owned(),
                            u.full_name.clone().unwrap_or_default(),
                        ))
                    })
                    .collect(),
            ),
            ..Shown::default()
        };
        return render(&console, &state, &templates, ListQuery::default(), shown).await;
    }
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    let on = |k: &str| form.get(k).is_some_and(|v| !v.is_empty());
    let typed = ConsoleMessage {
        recipients: get("recipients"),
        all_users: on("allUsers"),
        subject: get("subject"),
        body: get("body"),
        preview: get("preview"),
        availability: get("availability"),
        callback_url: get("callbackUrl"),
        kind: get("type"),
        secure_id: get("secureId"),
        enforce_secure_id: on("enforceSecureId"),
        external_identity: get("externalIdentity"),
        attachment_name: get("attachmentName"),
        attachment_url: get("attachmentUrl"),
        attachment_expires: get("attachmentExpires"),
        unlisted: on("unlisted"),
    };
    let (c, application) = (console.clone(), get("application"));
    let outcome = state
        .db(move |conn, clock| {
            let sent = typed.check(clock, c.admin.id.as_str()).and_then(|new| {
                message::send_from_console(
                    conn,
                    clock,
                    &c.actor,
                    &c.admin.account,
                    &application,
                    &new,
                )
                .map(|sent| (sent, new.extras.unlisted))
            });
            Ok::<_, MessagingError>(sent)
        })
        .await?;
    let refusal = match outcome {
        Ok((sent, _unlisted)) => {
            lanyard_web::push::wake_channels(&state, &sent);
            return Ok(redirect(&format!("/console/messages/{}?sent=1", sent.id)));
        }
        Err(err) => err,
    };
    let mut shown = Shown {
        form: form.into_iter().filter(|(k, _)| k != "csrf").collect(),
        ..Shown::default()
    };
    match (&refusal, refusal.code()) {
        (_, ErrorCode::Internal) => return Err(ConsoleError::Internal(ApiError::from(refusal))),
        (_, ErrorCode::Forbidden) => {
            return Err(ConsoleError::Page(
                StatusCode::FORBIDDEN,
                refusal.public_message(),
            ));
        }
        (MessagingError::Invalid { field, rule }, _) => {
            shown.errors.insert((*field).to_owned(), rule.clone());
        }
        (MessagingError::NotFound(alias), _) => {
            shown.errors.insert(
                "recipients".to_owned(),
                format!("{alias} is no end user of this organization"),
            );
        }
        (MessagingError::NoDevice(alias), _) => {
            shown.error = Some(format!(
                "Not sent: no recipient has an active phone ({alias} has none)."
            ));
        }
        (MessagingError::UserDisabled(_), _) => {
            shown.error = Some("Not sent: every recipient is disabled.".to_owned());
        }
        _ => shown.error = Some(refusal.public_message()),
    }
    render(&console, &state, &templates, ListQuery::default(), shown).await
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct ShowQuery {
    sent: Option<String>,
}

/// `GET /console/messages/{id}`.
pub(crate) async fn show(
    console: Console,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
    path: web::Path<String>,
    query: web::Query<ShowQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let (c, id) = (console.clone(), path.into_inner());
    let d = state
        .db(move |conn, clock| history::detail(conn, clock, &c.actor, &c.admin.account, &id))
        .await?;
    let recipients: Vec<_> = d
        .recipients
        .iter()
        .map(|r| {
            let evidences: Vec<_> = d
                .evidences
                .iter()
                .filter(|e| e.user_id == r.user_id)
                .map(|e| minijinja::context! {
                    id => e.id.clone(), kind => e.kind.as_str(), decision => e.decision.as_str(), received => when(e.received_at),
                })
                .collect();
            minijinja::context! {
                user_id => r.user_id.clone(), status => r.status.as_str(), updated => when(r.updated_at),
                evidences => evidences,
            }
        })
        .collect();
    let m = &d.summary;
    let ctx = console.page(
        &format!("Message {}", m.id),
        "messages",
        minijinja::context! {
            m => minijinja::context! {
                id => m.id.clone(), kind => m.kind.label(), subject => m.subject.clone(), body => d.body.clone(),
                application => super::sender_name(m.application.clone()),
                sent => when(m.sent_at), expires => when(m.expires_at), completed => d.completed_at.map(when),
                preview => d.preview.clone(), secure_id => d.secure_id.clone(), enforce_secure_id => d.enforce_secure_id,
                external_identity => d.external_identity.clone(), unlisted => d.unlisted,
                callback_url => d.callback_url.clone(), sent_by => d.sent_by.clone(),
                attachment => d.attachment.as_ref().map(|a| minijinja::context! {
                    name => a.name.clone(), url => a.url.clone(), expires => when(a.expires_at),
                }),
                statuses => statuses(&m.statuses),
            },
            recipients => recipients,
            notice => query.sent.is_some().then_some("Message sent."),
        },
    );
    templates.render("message_detail.html", ctx)
}

/// `GET /console/messages/{id}/evidences/{evidence}.p7m`: the server's counter-signed evidence
/// (DER CMS), which verifies with `openssl cms -verify -inform DER` against the platform CA.
pub(crate) async fn evidence(
    console: Console,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ConsoleError> {
    let (id, file) = path.into_inner();
    let evidence = file
        .strip_suffix(".p7m")
        .ok_or_else(|| ConsoleError::Page(StatusCode::NOT_FOUND, "No such evidence.".into()))?
        .to_owned();
    let c = console.clone();
    let (i, e) = (id.clone(), evidence.clone());
    let der = state
        .db(move |conn, _| {
            lanyard_messaging::evidence::download_in_account(
                conn,
                &c.actor,
                &c.admin.account,
                &i,
                &e,
            )
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "application/pkcs7-mime"))
        .insert_header((
            CONTENT_DISPOSITION,
            format!("attachment; filename=\"evidence-{id}-{evidence}.p7m\""),
        ))
        .body(der))
}
