//! One error type for the whole app. Pages get a rendered error page, the JSON API gets
//! `{"error": {"code", "message"}}`; internal details are logged, never shown.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("không tìm thấy")]
    NotFound,
    /// a page for signed-in people, asked for by someone who is not
    #[error("cần đăng nhập")]
    LoginRequired,
    /// a form without this session's CSRF token
    #[error("phiên làm việc không hợp lệ")]
    Forbidden,
    /// what the person acted on changed since they saw it
    #[error("{0}")]
    Conflict(String),
    #[error("quá nhiều lần thử")]
    TooManyAttempts { retry_after_secs: u64 },
    #[error("dịch vụ tạm thời không khả dụng")]
    Unavailable(String),
    /// Redis, as the cart store, cannot be reached
    #[error("giỏ hàng tạm thời không khả dụng")]
    CartUnavailable(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("{0}")]
    Internal(String),
}

impl AppError {
    pub fn bad(code: &'static str, message: impl Into<String>) -> Self {
        AppError::BadRequest {
            code,
            message: message.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Forbidden => StatusCode::FORBIDDEN,
            AppError::LoginRequired => StatusCode::UNAUTHORIZED,
            AppError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable(_) | AppError::CartUnavailable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            AppError::Database(e) if unreachable(e) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Database(_) | AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            AppError::BadRequest { code, .. } => code,
            AppError::Conflict(_) => "changed",
            AppError::NotFound => "not_found",
            AppError::Forbidden => "forbidden",
            AppError::LoginRequired => "login_required",
            AppError::TooManyAttempts { .. } => "too_many_attempts",
            AppError::Unavailable(_) => "unavailable",
            AppError::CartUnavailable(_) => "cart_unavailable",
            AppError::Database(e) if unreachable(e) => "unavailable",
            AppError::Database(_) | AppError::Internal(_) => "internal",
        }
    }

    /// What a person may read: never the internal cause.
    fn public_message(&self) -> String {
        match self {
            AppError::BadRequest { message, .. } => message.clone(),
            AppError::Conflict(message) => message.clone(),
            AppError::NotFound => "Không tìm thấy trang hoặc sản phẩm bạn yêu cầu.".into(),
            AppError::LoginRequired => "Vui lòng đăng nhập để tiếp tục.".into(),
            AppError::Forbidden => {
                "Phiên làm việc đã hết hạn hoặc biểu mẫu không hợp lệ. Vui lòng tải lại trang và thử lại; chưa có gì thay đổi.".into()
            }
            AppError::TooManyAttempts { retry_after_secs } => {
                format!("Bạn đã thử quá nhiều lần. Vui lòng thử lại sau {} phút.", retry_after_secs.div_ceil(60))
            }
            AppError::Unavailable(_) => {
                "Dịch vụ tạm thời không khả dụng, vui lòng thử lại sau ít phút.".into()
            }
            AppError::Database(e) if unreachable(e) => {
                "Hệ thống tạm thời gián đoạn. Thao tác của bạn có thể chưa được ghi nhận: vui lòng thử lại sau ít phút (gửi lại không tạo đơn hàng hay khoản thanh toán thứ hai).".into()
            }
            AppError::CartUnavailable(_) => {
                "Giỏ hàng tạm thời không khả dụng. Bạn vẫn có thể xem sản phẩm; vui lòng thử lại sau ít phút. Chưa có đơn hàng nào được tạo.".into()
            }
            AppError::Database(_) | AppError::Internal(_) => {
                "Đã có lỗi xảy ra phía máy chủ. Vui lòng thử lại sau.".into()
            }
        }
    }

    fn log(&self) {
        match self {
            AppError::Database(e) if unreachable(e) => {
                tracing::warn!(error = %e, "Postgres unreachable")
            }
            AppError::Database(e) => tracing::error!(error = %e, "database error"),
            AppError::Internal(e) => tracing::error!(error = %e, "internal error"),
            AppError::Unavailable(e) => tracing::warn!(error = %e, "dependency unavailable"),
            AppError::CartUnavailable(e) => tracing::warn!(error = %e, "cart store unavailable"),
            _ => {}
        }
    }
}

/// Postgres cannot be reached (down, restarting, the pool exhausted): worth a retry, not a bug.
fn unreachable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => true,
        sqlx::Error::Database(d) => {
            // admin_shutdown, crash_shutdown, cannot_connect_now
            matches!(d.code().as_deref(), Some("57P01" | "57P02" | "57P03"))
        }
        _ => false,
    }
}

/// The JSON API's answer for any error.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl<E: Into<AppError>> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError(e.into())
    }
}

/// Every API error: `{"error": {"code": "invalid_page", "message": "…"}}`.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"error": {"code": "invalid_stars", "message": "Số sao phải là 3, 4 hoặc 5 (nhận được \"7\")."}}))]
pub(crate) struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ErrorDetail<'a> {
    /// stable, for programs: `not_found`, `invalid_<parameter>`, `missing_query`, `login_required`…
    code: &'a str,
    /// for people, in Vietnamese
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.0.log();
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.0.code(),
                message: self.0.public_message(),
            },
        };
        (self.0.status(), axum::Json(body)).into_response()
    }
}

/// A page's answer for any error: the error page, rendered with the right status.
impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        self.log();
        if matches!(self, AppError::LoginRequired) {
            return axum::response::Redirect::to("/login").into_response();
        }
        let status = self.status();
        let title = match status {
            StatusCode::NOT_FOUND => "Không tìm thấy",
            StatusCode::BAD_REQUEST => "Yêu cầu không hợp lệ",
            StatusCode::FORBIDDEN => "Không thể thực hiện",
            StatusCode::TOO_MANY_REQUESTS => "Vui lòng đợi một lát",
            StatusCode::SERVICE_UNAVAILABLE => "Tạm thời gián đoạn",
            _ => "Đã có lỗi xảy ra",
        };
        let page = crate::render::ErrorPage {
            status: status.as_u16(),
            title,
            message: self.public_message(),
        };
        let mut response = crate::render::render_page("errors/error.html", &page).into_response();
        *response.status_mut() = status;
        response
    }
}
