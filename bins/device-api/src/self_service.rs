//! The self-service deactivation page: a person who lost their phone deactivates it with the
//! code from the confirmation letter, without an account. Rate limited per client address and
//! per organization, behind a proof-of-work human check (`lanyard_enrollment::human_check`) that
//! the page's script solves while the person types.

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, X_CONTENT_TYPE_OPTIONS};
use actix_web::{HttpRequest, HttpResponse, web};
use lanyard_core::{Coded, ErrorCode};
use lanyard_enrollment::{EnrollmentError, device, human_check};
use lanyard_web::{ApiError, AppState};
use serde::Deserialize;

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Deactivate a lost phone</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 34rem; margin: 3rem auto; padding: 0 1rem; color: #222; }
label { display: block; margin-top: 1rem; font-weight: 600; }
input[type=text] { width: 100%; padding: .5rem; font-size: 1rem; box-sizing: border-box; }
button { margin-top: 1.5rem; padding: .6rem 1.2rem; font-size: 1rem; }
.error { background: #fdecea; border-left: 4px solid #c62828; padding: .75rem; }
.done { background: #e8f5e9; border-left: 4px solid #2e7d32; padding: .75rem; }
.hint { color: #555; font-size: .9rem; }
</style>
</head>
<body>
<h1>Deactivate a lost phone</h1>
{% if done %}
<p class="done" id="done">The phone <b>{{ done }}</b> is deactivated. It can no longer confirm
anything for you. When you have a new phone, ask your administrator for a new enrollment.</p>
{% else %}
<p>If your phone is lost or stolen, enter the deactivation code from the e-mail you received when
it was enrolled. The phone is deactivated at once.</p>
{% if error %}<p class="error" id="error">{{ error }}</p>{% endif %}
<form method="post" action="deactivate" id="deactivate">
<label for="organization">Organization ID</label>
<input type="text" id="organization" name="organization" value="{{ organization }}" required autocomplete="off">
<p class="hint">It is in the link of your confirmation e-mail.</p>
<label for="code">Deactivation code</label>
<input type="text" id="code" name="code" required autocomplete="off" spellcheck="false">
<input type="hidden" name="challenge" value="{{ challenge }}">
<input type="hidden" name="signature" value="{{ signature }}">
<input type="hidden" name="difficulty" value="{{ difficulty }}">
<input type="hidden" name="nonce" id="nonce" value="">
<button type="submit" id="deactivate-button">Deactivate the phone</button>
<p class="hint" id="status"></p>
<noscript><p class="error">This page needs JavaScript for its human check.</p></noscript>
</form>
<script src="deactivate.js"></script>
{% endif %}
</body>
</html>
"#;

/// Finds the nonce (the check the server repeats in `human_check::verify`), then submits.
const SCRIPT: &str = r#""use strict";
(function () {
  const form = document.getElementById("deactivate");
  if (!form) return;
  const zeroBits = (bytes) => {
    let bits = 0;
    for (const b of bytes) {
      if (b === 0) { bits += 8; continue; }
      bits += Math.clz32(b) - 24;
      break;
    }
    return bits;
  };
  let solved = false;
  form.addEventListener("submit", async (event) => {
    if (solved) return;
    event.preventDefault();
    const status = document.getElementById("status");
    const button = document.getElementById("deactivate-button");
    button.disabled = true;
    status.textContent = "Checking that you are a person…";
    const challenge = form.elements.challenge.value;
    const difficulty = Number(form.elements.difficulty.value);
    const encoder = new TextEncoder();
    for (let nonce = 0; ; nonce++) {
      const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(challenge + ":" + nonce)));
      if (zeroBits(hash) >= difficulty) {
        form.elements.nonce.value = String(nonce);
        break;
      }
    }
    solved = true;
    status.textContent = "Deactivating…";
    // HTMLFormElement.prototype.submit: immune to a control named "submit" shadowing it.
    HTMLFormElement.prototype.submit.call(form);
  });
})();
"#;

fn render(status: StatusCode, vars: minijinja::Value) -> Result<HttpResponse, ApiError> {
    let mut env = minijinja::Environment::new();
    env.add_template("deactivate.html", PAGE)
        .map_err(|e| ApiError::internal(&e))?;
    let html = env
        .get_template("deactivate.html")
        .and_then(|t| t.render(vars))
        .map_err(|e| ApiError::internal(&e))?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((
            CONTENT_SECURITY_POLICY,
            "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ))
        .insert_header((X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((CACHE_CONTROL, "no-store"))
        .body(html))
}

fn client(req: &HttpRequest) -> String {
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// The form with a fresh challenge, and `error` above it when there is one.
async fn form(
    state: &AppState,
    client: String,
    organization: String,
    error: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, ApiError> {
    let master = state.master_key.clone();
    let challenge = state
        .db(move |conn, clock| {
            let key = human_check::key(conn, &master)?;
            Ok::<_, EnrollmentError>(human_check::issue(&key, &client, clock.now()))
        })
        .await?;
    render(
        status,
        minijinja::context! {
            organization => organization,
            error => error,
            challenge => challenge.challenge,
            signature => challenge.signature,
            difficulty => challenge.difficulty,
        },
    )
}

#[derive(Debug, Deserialize)]
pub(crate) struct PageQuery {
    #[serde(default)]
    organization: String,
}

/// `GET /deactivate[?organization=<OID>]`.
pub(crate) async fn page(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let organization = query.into_inner().organization;
    form(&state, client(&req), organization, None, StatusCode::OK).await
}

/// `GET /deactivate.js`.
pub(crate) async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(SCRIPT)
}

#[derive(Debug, Deserialize)]
pub(crate) struct Submitted {
    #[serde(default)]
    organization: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    challenge: String,
    #[serde(default)]
    signature: String,
    #[serde(default)]
    nonce: String,
}

/// What a refused attempt answers with.
fn refusal(err: &EnrollmentError) -> (StatusCode, String) {
    let status = match err.code() {
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    };
    let message = match err.code() {
        ErrorCode::NotFound => "No such organization: check the organization ID.".to_owned(),
        _ => err.public_message(),
    };
    (status, message)
}

/// `POST /deactivate` (form): checks the proof of work, then the code.
pub(crate) async fn submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    web::Form(form_data): web::Form<Submitted>,
) -> Result<HttpResponse, ApiError> {
    let client = client(&req);
    let master = state.master_key.clone();
    let (who, organization) = (client.clone(), form_data.organization.clone());
    let outcome = state
        .db(move |conn, clock| {
            let key = human_check::key(conn, &master)?;
            if let Err(failed) = human_check::verify(
                &key,
                &who,
                clock.now(),
                &form_data.challenge,
                &form_data.signature,
                &form_data.nonce,
            ) {
                return Ok(Err((StatusCode::BAD_REQUEST, failed.to_string())));
            }
            if let Err(spent) = human_check::spend(conn, clock, &form_data.challenge)? {
                return Ok(Err((StatusCode::BAD_REQUEST, spent.to_string())));
            }
            match device::deactivate_self_service(
                conn,
                clock,
                &master,
                &form_data.organization,
                &form_data.code,
                &who,
            ) {
                Ok(name) => Ok(Ok(name)),
                Err(e) if e.code() == ErrorCode::Internal => Err(e),
                Err(e) => Ok(Err(refusal(&e))),
            }
        })
        .await?;
    match outcome {
        Ok(name) => render(StatusCode::OK, minijinja::context! { done => name }),
        Err((status, message)) => form(&state, client, organization, Some(message), status).await,
    }
}
