//! The error bodies each fake service answers with, as the real one does: the SSO's OAuth
//! error, the Account Management API's `{code, message, errorsMap}` and the environment and
//! cluster APIs' `{"error": {code, message}}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The SSO's 400 (dynatrace-api.md §1.3: the RFC 6749 fields plus `errorCode`/`message`/`issueId`).
pub(crate) fn sso_error(error: &str, description: &str) -> Response {
    sso_error_status(400, error, description)
}

/// The SSO's error body with another status (an injected fault).
pub(crate) fn sso_error_status(status: u16, error: &str, description: &str) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let body = json!({"errorCode": status, "message": code.canonical_reason().unwrap_or(""), "issueId": "sim-issue",
                      "error": error, "error_description": description});
    (code, Json(body)).into_response()
}

/// The Account Management API's error (the 2023 `ErrorDto`; the current specs document the
/// body as "-").
pub(crate) fn dps_error(status: u16, message: &str) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (code, Json(json!({"code": status, "message": message, "errorsMap": {}}))).into_response()
}

/// Why the Account Management API refuses a request; answered as its error body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refused {
    /// 404: what was not found (an account, a subscription, a forecast).
    NotFound(String),
    /// 400 whose `errorsMap` names the offending parameter.
    BadParameter(&'static str, String),
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::NotFound(message) => dps_error(404, &message),
            Refused::BadParameter(parameter, message) => (
                StatusCode::BAD_REQUEST,
                Json(json!({"code": 400, "message": message, "errorsMap": {parameter: message}})),
            )
                .into_response(),
        }
    }
}

/// The environment and cluster APIs' `ErrorEnvelope`.
pub(crate) fn env_error(status: u16, message: &str) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (code, Json(json!({"error": {"code": status, "message": message}}))).into_response()
}
