//! How errors become HTTP responses — the one place where that is decided.
//!
//! Policy:
//! - A domain error carries a stable [`ErrorCode`]. On the PassBy[ME]-compatible surfaces
//!   (`/rest`, `/download`, `/frontend`) it is rendered as HTTP **420** with
//!   `{"code": "...", "message": "..."}`, as the PassBy[ME] API does for every error.
//! - Missing or invalid credentials are **401** with the same body and a `WWW-Authenticate`
//!   header, so that generic HTTP clients and proxies recognise them.
//! - Anything unexpected ([`ErrorCode::Internal`]: database down, bug) is **500** with
//!   `{"code": "INTERNAL_ERROR", "message": "internal error, request id …"}`. The details are
//!   logged once, here, with the request id; they never reach the body. A database failure is
//!   never reported as the caller's fault.

use crate::request_id;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use lanyard_core::{Coded, ErrorCode};
use serde::Serialize;
use std::fmt;

/// The PassBy[ME] status code for application errors.
pub const PBM_ERROR_STATUS: u16 = 420;

/// The JSON body of every error.
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    /// Stable code.
    pub code: &'a str,
    /// Human-readable explanation.
    pub message: &'a str,
}

/// An error on its way to becoming an HTTP response.
pub struct ApiError {
    code: ErrorCode,
    message: String,
    /// Only for internal errors: what goes to the log.
    detail: Option<String>,
}

impl ApiError {
    /// An error with a code and a message for the caller.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            detail: None,
        }
    }

    /// `MALFORMED_INPUT` naming the field and the rule it broke.
    pub fn malformed(field: &str, rule: impl fmt::Display) -> Self {
        Self::new(ErrorCode::MalformedInput, format!("{field}: {rule}"))
    }

    /// An unexpected failure; `detail` is logged, never shown.
    pub fn internal(detail: impl fmt::Display) -> Self {
        Self {
            code: ErrorCode::Internal,
            message: String::new(),
            detail: Some(detail.to_string()),
        }
    }

    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The message for the caller.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl<E: Coded> From<E> for ApiError {
    fn from(err: E) -> Self {
        match err.code() {
            ErrorCode::Internal => Self::internal(&err),
            code => Self::new(code, err.public_message()),
        }
    }
}

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiError")
            .field("code", &self.code)
            .field("message", &self.message)
            .field("detail", &self.detail)
            .finish()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.detail {
            Some(detail) => write!(f, "{}: {detail}", self.code),
            None => write!(f, "{}: {}", self.code, self.message),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self.code {
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            _ => StatusCode::from_u16(PBM_ERROR_STATUS).unwrap_or(StatusCode::BAD_REQUEST),
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if self.code == ErrorCode::Unauthorized {
            response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        if let Some(detail) = &self.detail {
            let id = request_id::current().unwrap_or_default();
            tracing::error!(request_id = %id, error = %detail, "request failed");
            let message = format!("internal error, request id {id}");
            return response.json(ErrorBody {
                code: self.code.as_str(),
                message: &message,
            });
        }
        response.json(ErrorBody {
            code: self.code.as_str(),
            message: &self.message,
        })
    }
}
