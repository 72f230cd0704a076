//! Accounts and sessions: sign-up, log-in and log-out with an email or a Vietnamese mobile number,
//! argon2id passwords, sessions in Redis, CSRF tokens on every form, rate-limited log-ins.

pub mod http;
pub mod identity;
pub mod reset;
pub mod roles;
pub mod session;

use crate::error::AppError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
pub use roles::{Admin, NationalStaff, ProducerMember, Staff};
use serde::Serialize;
pub use session::Session;

/// The signed-in person. As an extractor it refuses anonymous visitors (they are sent to log in),
/// so a handler that takes one cannot forget the check.
#[derive(Debug, Clone, Serialize)]
pub struct CurrentUser {
    pub user_id: i64,
    pub display_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub role: crate::domain::Role,
    pub province_code: Option<i16>,
}

impl CurrentUser {
    /// How the person logs in (the password may not equal it).
    pub fn login(&self) -> Option<identity::Login> {
        self.email
            .as_deref()
            .or(self.phone.as_deref())
            .and_then(|l| identity::Login::parse(l).ok())
    }

    pub fn role_label(&self) -> &'static str {
        self.role.label()
    }
}

/// A role as people say it (an unknown text as a shopper's).
pub fn role_label(role: &str) -> &'static str {
    crate::domain::Role::from_key(role)
        .unwrap_or(crate::domain::Role::Shopper)
        .label()
}

pub async fn load_user(state: &AppState, user_id: i64) -> Result<Option<CurrentUser>, AppError> {
    Ok(sqlx::query_as!(
        CurrentUser,
        r#"select user_id, display_name, email, phone, role as "role: crate::domain::Role", province_code
           from app_user where user_id = $1 and disabled_at is null"#,
        user_id
    )
    .fetch_optional(&state.pool)
    .await?)
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let session = Session::from_request_parts(parts, state).await?;
        match session.data.user_id {
            Some(id) => load_user(state, id).await?.ok_or(AppError::LoginRequired),
            None => Err(AppError::LoginRequired),
        }
    }
}

/// Where a request came from, for rate limits: the peer address, or, when the app is told it
/// runs behind a proxy it trusts (TRUST_PROXY), the last X-Forwarded-For entry: the one that
/// proxy appended. Entries before it are whatever the client chose to send.
pub fn client_ip(parts: &Parts, state: &AppState) -> String {
    if state.config.trust_proxy {
        if let Some(ip) = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .last()
            .and_then(|v| v.rsplit(',').next())
            .map(str::trim)
            .filter(|ip| !ip.is_empty())
        {
            return ip.to_string();
        }
    }
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// The requester's address, taken before the body is read.
pub struct ClientIp(pub String);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(parts, state)))
    }
}
