//! device-api as its own process.

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    lanyard_web::startup::run_service(
        lanyard_web::startup::Service::Device,
        lanyard_device_api::configure,
    )
    .await
}
