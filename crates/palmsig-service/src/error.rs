//! The one error type of the HTTP API: `{"error":{"code":…,"message":…}}` with a status.
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// An API error: HTTP status, stable snake_case code, human message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: String,
    /// Human-readable message (never contains secrets, card numbers or images).
    pub message: String,
}

impl ApiError {
    /// An error with any status.
    pub fn new(status: StatusCode, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
        }
    }
    /// 400.
    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    /// 401 (who are you?).
    pub fn unauthorized(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }
    /// 403 (known, but not allowed).
    pub fn forbidden(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }
    /// 404.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }
    /// 409.
    pub fn conflict(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }
    /// 422 (well-formed but refused: bad card, bad capture, …).
    pub fn unprocessable(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }
    /// 500; the cause is logged, not returned.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
    }
    /// The JSON body.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({"error": {"code": self.code, "message": self.message}})
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status, axum::Json(self.body())).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                "www-authenticate",
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        if self.status == StatusCode::TOO_MANY_REQUESTS
            || self.status == StatusCode::SERVICE_UNAVAILABLE
        {
            r.headers_mut()
                .insert("retry-after", axum::http::HeaderValue::from_static("1"));
        }
        r
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        ApiError::internal(e)
    }
}

impl From<crate::crypto::CryptoError> for ApiError {
    fn from(e: crate::crypto::CryptoError) -> Self {
        ApiError::internal(e)
    }
}

impl From<crate::text::TextError> for ApiError {
    fn from(e: crate::text::TextError) -> Self {
        ApiError::unprocessable("invalid_text", e.to_string())
    }
}

impl From<crate::vault::CardError> for ApiError {
    fn from(e: crate::vault::CardError) -> Self {
        ApiError::unprocessable("bad_card", e.to_string())
    }
}

impl From<crate::biometrics::CaptureRejected> for ApiError {
    fn from(e: crate::biometrics::CaptureRejected) -> Self {
        ApiError::unprocessable(&e.code, e.message)
    }
}

impl From<crate::biometrics::BioError> for ApiError {
    fn from(e: crate::biometrics::BioError) -> Self {
        ApiError::internal(e)
    }
}

/// Result of handlers.
pub type ApiResult<T> = Result<T, ApiError>;
