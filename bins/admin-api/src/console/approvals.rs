//! Changes a logged-in administrator makes that wait for their phone (SPEC §1, seed 000
//! "Dashboard access"): deleting a customer account. The page refreshes itself until the phone
//! answers; approved, the change is made once, with the administrator's rights as they are then.

use super::auth::Console;
use super::{ConsoleError, Templates, redirect};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use lanyard_core::Oid;
use lanyard_identity::customer;
use lanyard_messaging::MessagingError;
use lanyard_messaging::approval::{self, Settled};
use lanyard_messaging::status::RecipientStatus;
use lanyard_web::AppState;
use std::collections::BTreeMap;

/// A customer account's deletion (`pending_approvals.purpose`).
pub(crate) const DELETE_ACCOUNT: &str = "delete_account";

/// The pending deletion `id`, if it is this administrator's (NOT_FOUND otherwise).
fn own(
    conn: &mut lanyard_store::DbConnection,
    console: &Console,
    id: &str,
) -> Result<approval::Pending, MessagingError> {
    let pending = approval::pending(conn, id, DELETE_ACCOUNT)?;
    if pending.administrator != console.admin.id {
        return Err(MessagingError::NotFound(id.to_owned()));
    }
    Ok(pending)
}

/// `GET /console/approvals/{id}`.
pub(crate) async fn show(
    console: Console,
    state: web::Data<AppState>,
    templates: web::Data<Templates>,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let id = path.into_inner();
    let (c, links, i, master) = (
        console.clone(),
        state.links(),
        id.clone(),
        state.master_key.clone(),
    );
    let settled = state
        .db(move |conn, clock| {
            own(conn, &c, &i)?;
            approval::settle(conn, clock, &i, DELETE_ACCOUNT, |conn, pending| {
                let oid = Oid::parse(&pending.target)
                    .map_err(|_| MessagingError::NotFound(pending.target.clone()))?;
                customer::delete(conn, clock, &links, &master, &c.actor, &oid)?;
                Ok::<_, MessagingError>(pending.target.clone())
            })
        })
        .await?;
    let page = |heading: &str, text: String, error: bool| {
        let ctx = console.page(
            heading,
            "accounts",
            minijinja::context! { heading => heading, message => text, error => error,
            link => "/console/accounts", link_text => "Customer accounts" },
        );
        templates.render_status(
            if error {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::OK
            },
            "message.html",
            ctx,
        )
    };
    match settled {
        Settled::Waiting {
            secure_id,
            expires_at,
        } => {
            let ctx = console.page(
                "Approve on your phone",
                "accounts",
                minijinja::context! {
                    refresh => 2, secure_id => secure_id,
                    expires => expires_at.format("%H:%M:%S UTC").to_string(),
                    text => "Deleting an account cannot be undone, so we sent a request to your phone. Approve it there; this page moves on by itself.",
                    cancel => format!("/console/approvals/{id}/cancel"),
                },
            );
            templates.render("approval_wait.html", ctx)
        }
        Settled::Done(oid) => page(
            "Account deleted",
            format!("Your phone approved it: the account {oid} is deleted."),
            false,
        ),
        Settled::Refused(status) => page(
            "Account not deleted",
            format!(
                "The deletion was {} on your phone; the account is unchanged.",
                match status {
                    RecipientStatus::Denied => "denied",
                    RecipientStatus::Cancelled => "cancelled",
                    _ => "not approved in time",
                }
            ),
            true,
        ),
    }
}

/// `POST /console/approvals/{id}/cancel`: withdraws the request (unless the phone answered
/// first), then shows where it ended.
pub(crate) async fn cancel(
    console: Console,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<BTreeMap<String, String>>,
) -> Result<HttpResponse, ConsoleError> {
    console.check_csrf(form.get("csrf").map(String::as_str).unwrap_or_default())?;
    let id = path.into_inner();
    let (c, i) = (console.clone(), id.clone());
    state
        .db(move |conn, clock| {
            own(conn, &c, &i)?;
            approval::withdraw(conn, clock, &c.admin.id, &i)
        })
        .await?;
    Ok(redirect(&format!("/console/approvals/{id}")))
}
