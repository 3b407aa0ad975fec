//! `GET /download/users/report.csv`: every end user of the caller's organization, streamed.
//!
//! A blocking task walks the users in keyset-paged batches and sends each batch's CSV bytes
//! through a small bounded channel to the response body, so memory stays flat and a slow client
//! slows the reader down instead of filling memory.

use actix_web::http::header::{CONTENT_DISPOSITION, HeaderValue};
use actix_web::web::Bytes;
use actix_web::{HttpResponse, web};
use lanyard_core::id::AccountId;
use lanyard_identity::report;
use lanyard_identity::rights::{Area, Verb, authorize};
use lanyard_web::auth::ManagementCaller;
use lanyard_web::{ApiError, AppState};
use std::io;
use tokio::sync::mpsc;

/// Chunks buffered between the database reader and the client.
const CHANNEL_CHUNKS: usize = 4;

pub(crate) async fn handle(
    state: web::Data<AppState>,
    caller: ManagementCaller,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.actor.clone();
    let account = caller.account.clone();
    state
        .db(move |conn, _| authorize(conn, &actor, Area::EndUsers, Verb::View, &account))
        .await?;
    stream(&state, caller.account).await
}

/// Streams the users report of `account` (the caller has been authorized).
pub(crate) async fn stream(state: &AppState, account: AccountId) -> Result<HttpResponse, ApiError> {
    let mut conn = {
        let pool = state.pool.clone();
        web::block(move || pool.get())
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)?
    };
    let (tx, mut rx) = mpsc::channel::<Result<Bytes, io::Error>>(CHANNEL_CHUNKS);
    let request_id = lanyard_web::request_id::current().unwrap_or_default();
    actix_web::rt::task::spawn_blocking(move || {
        let written = report::users_csv(&mut conn, &account, |chunk| {
            tx.blocking_send(Ok(Bytes::from(chunk)))
                .map_err(|_| io::Error::other("the client went away"))
        });
        match written {
            Ok(rows) => tracing::info!(%request_id, rows, "users report streamed"),
            Err(err) => {
                tracing::error!(%request_id, error = %err, "users report failed");
                // Aborts the response so the client sees an incomplete transfer, not a short
                // file that looks complete.
                let _closed = tx.blocking_send(Err(io::Error::other("report failed")));
            }
        }
    });
    let body = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            CONTENT_DISPOSITION,
            HeaderValue::from_static("attachment; filename=\"users.csv\""),
        ))
        .streaming(body))
}
