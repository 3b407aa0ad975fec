//! Extractors whose failures name the offending field (`MALFORMED_INPUT`, HTTP 420).
//!
//! actix's own `Json` and `Query` report "invalid type: integer, expected a string" without
//! saying where; these track the path of the failing field with `serde_path_to_error`.

use crate::error::ApiError;
use actix_web::dev::Payload;
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use std::ops::Deref;

/// Largest JSON body accepted.
pub const MAX_JSON_BYTES: usize = 256 * 1024;

fn describe(err: &serde_path_to_error::Error<impl std::fmt::Display>) -> ApiError {
    let path = err.path().to_string();
    let inner = err.inner().to_string();
    // serde names a missing field in its message; the path is then just ".".
    let inner = inner.split(" at line ").next().unwrap_or(&inner).to_owned();
    if path == "." || path.is_empty() {
        ApiError::new(lanyard_core::ErrorCode::MalformedInput, inner)
    } else {
        ApiError::malformed(&path, inner)
    }
}

/// A JSON request body. Content type is not enforced: PassBy[ME] clients differ in what they
/// send, and the body is parsed as JSON either way.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T> Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = Bytes::from_request(req, payload);
        Box::pin(async move {
            let bytes = body.await.map_err(|e| ApiError::malformed("body", e))?;
            if bytes.len() > MAX_JSON_BYTES {
                return Err(ApiError::malformed(
                    "body",
                    format!("must be at most {MAX_JSON_BYTES} bytes"),
                ));
            }
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Err(ApiError::malformed("body", "a JSON object is required"));
            }
            let de = &mut serde_json::Deserializer::from_slice(&bytes);
            serde_path_to_error::deserialize(de)
                .map(Json)
                .map_err(|e| describe(&e))
        })
    }
}

/// Query-string parameters.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T> Deref for Query<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let parsed = serde_urlencoded::Deserializer::new(form_urlencoded_parse(req.query_string()));
        std::future::ready(
            serde_path_to_error::deserialize(parsed)
                .map(Query)
                .map_err(|e| describe(&e)),
        )
    }
}

fn form_urlencoded_parse(query: &str) -> form_urlencoded::Parse<'_> {
    form_urlencoded::parse(query.as_bytes())
}
