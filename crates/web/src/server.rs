//! Building and running a service: the same middleware and error rendering for all three.

use crate::state::AppState;
use crate::{error::ApiError, health, request_id};
use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpResponse, HttpServer, web};
use lanyard_core::ErrorCode;
use openssl::ssl::SslAcceptorBuilder;
use std::net::TcpListener;
use std::time::Duration;

/// How long a stopping server lets in-flight requests finish.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// The application of one service: shared state, request ids and logs, health endpoints, the
/// service's own routes (`configure`), and a PassBy[ME]-style 420 `NOT_FOUND` for unknown
/// routes.
pub fn app(
    state: AppState,
    configure: fn(&mut web::ServiceConfig),
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(web::Data::new(state))
        .configure(health::configure)
        .configure(configure)
        .default_service(web::to(not_found))
        .wrap(from_fn(request_id::middleware))
}

async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(ErrorCode::NotFound, "no such endpoint"))
}

/// Starts serving `configure` on `listener` with graceful shutdown; the returned server runs
/// when awaited (or spawned) and stops on SIGINT/SIGTERM, finishing in-flight requests.
pub fn serve(
    name: &'static str,
    listener: TcpListener,
    state: AppState,
    configure: fn(&mut web::ServiceConfig),
    tls: Option<SslAcceptorBuilder>,
) -> std::io::Result<Server> {
    build(name, listener, state, configure, tls, true)
}

/// As [`serve`], but the server ignores signals: for several servers in one process, whose
/// owner listens for the signal once and stops them all (each server listening on its own
/// races: a signal that arrives before every server has registered is seen by only some).
pub fn serve_without_signals(
    name: &'static str,
    listener: TcpListener,
    state: AppState,
    configure: fn(&mut web::ServiceConfig),
    tls: Option<SslAcceptorBuilder>,
) -> std::io::Result<Server> {
    build(name, listener, state, configure, tls, false)
}

fn build(
    name: &'static str,
    listener: TcpListener,
    state: AppState,
    configure: fn(&mut web::ServiceConfig),
    tls: Option<SslAcceptorBuilder>,
    signals: bool,
) -> std::io::Result<Server> {
    let address = listener.local_addr()?;
    let mut server = HttpServer::new(move || app(state.clone(), configure))
        .on_connect(crate::tls::on_connect)
        .shutdown_timeout(SHUTDOWN_GRACE.as_secs());
    if !signals {
        server = server.disable_signals();
    }
    let https = tls.is_some();
    let server = match tls {
        Some(acceptor) => server.listen_openssl(listener, acceptor)?,
        None => server.listen(listener)?,
    }
    .run();
    tracing::info!(service = name, %address, https, "listening");
    Ok(server)
}
