//! Sessions live in Redis (the app keeps none of its own), identified by a random id in an
//! HttpOnly, SameSite=Lax cookie (Secure when the public address is https). Each session carries
//! its CSRF token; the id changes at login so a planted cookie is worth nothing.

use crate::app::AppState;
use crate::error::AppError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};

pub const COOKIE: &str = "ocop_sid";
/// 30 days, renewed on every save.
const TTL_SECS: u64 = 30 * 24 * 3600;

#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct SessionData {
    pub user_id: Option<i64>,
    pub csrf: String,
    /// codes of orders this visitor placed or looked up with their phone number
    #[serde(default)]
    pub orders: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub data: SessionData,
    /// not in Redis yet: `save` stores it and `cookie` must be sent
    pub is_new: bool,
}

/// 32 random bytes as hex.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn key(id: &str) -> String {
    format!("ocop:session:{id}")
}

pub(crate) fn redis_down(e: redis::RedisError) -> AppError {
    AppError::Unavailable(format!("redis: {e}"))
}

fn cookie_id(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_string())
        .filter(|id| id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()))
}

impl FromRequestParts<AppState> for Session {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        if let Some(id) = cookie_id(parts) {
            let mut redis = state.redis.clone();
            let stored: Option<String> = redis.get(key(&id)).await.map_err(redis_down)?;
            if let Some(data) = stored.and_then(|json| serde_json::from_str(&json).ok()) {
                return Ok(Session {
                    id,
                    data,
                    is_new: false,
                });
            }
        }
        Ok(Session::fresh())
    }
}

impl SessionData {
    /// Lets this visitor open an order again (they placed it, or proved the phone number); keeps
    /// the 20 most recent. Answers whether anything changed.
    pub fn remember_order(&mut self, code: &str) -> bool {
        if self.orders.iter().any(|c| c == code) {
            return false;
        }
        self.orders.push(code.to_string());
        let excess = self.orders.len().saturating_sub(20);
        self.orders.drain(..excess);
        true
    }
}

impl Session {
    fn fresh() -> Session {
        Session {
            id: random_token(),
            data: SessionData {
                user_id: None,
                csrf: random_token(),
                orders: vec![],
            },
            is_new: true,
        }
    }

    pub async fn save(&mut self, state: &AppState) -> Result<(), AppError> {
        let mut redis = state.redis.clone();
        let json = serde_json::to_string(&self.data).expect("session data serialises");
        let _: () = redis
            .set_ex(key(&self.id), json, TTL_SECS)
            .await
            .map_err(redis_down)?;
        Ok(())
    }

    /// A new id and CSRF token for the same visitor (at login), the old id forgotten.
    pub async fn rotate(&mut self, state: &AppState) -> Result<(), AppError> {
        let mut redis = state.redis.clone();
        let _: () = redis.del(key(&self.id)).await.map_err(redis_down)?;
        self.id = random_token();
        self.data.csrf = random_token();
        self.is_new = true;
        self.save(state).await
    }

    pub async fn destroy(self, state: &AppState) -> Result<(), AppError> {
        let mut redis = state.redis.clone();
        let _: () = redis.del(key(&self.id)).await.map_err(redis_down)?;
        Ok(())
    }

    /// The Set-Cookie value that hands this session to the browser.
    pub fn cookie(&self, state: &AppState) -> HeaderValue {
        let secure = if state.config.public_url().starts_with("https://") {
            "; Secure"
        } else {
            ""
        };
        HeaderValue::from_str(&format!(
            "{COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={TTL_SECS}{secure}",
            self.id
        ))
        .expect("hex id is a valid header")
    }

    /// The Set-Cookie value that removes the session cookie.
    pub fn expired_cookie() -> HeaderValue {
        HeaderValue::from_static("ocop_sid=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
    }

    /// Whether a submitted form carries this session's token (compared in constant time).
    pub fn csrf_ok(&self, submitted: &str) -> bool {
        let (a, b) = (self.data.csrf.as_bytes(), submitted.as_bytes());
        !self.is_new
            && a.len() == b.len()
            && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

/// Counts one attempt under `key`; when more than `limit` happened within `window_secs`, says how
/// long until the window ends. One round trip, atomic.
pub async fn rate_limit(
    state: &AppState,
    key: &str,
    limit: u32,
    window_secs: u64,
) -> Result<Option<u64>, AppError> {
    let mut redis = state.redis.clone();
    let key = format!("ocop:rate:{key}");
    let (count, ttl): (u32, i64) = redis::pipe()
        .atomic()
        .incr(&key, 1)
        .cmd("EXPIRE")
        .arg(&key)
        .arg(window_secs)
        .arg("NX")
        .ignore()
        .cmd("TTL")
        .arg(&key)
        .query_async(&mut redis)
        .await
        .map_err(redis_down)?;
    Ok((count > limit).then_some(ttl.max(1) as u64))
}

pub async fn clear_rate_limit(state: &AppState, key: &str) -> Result<(), AppError> {
    let mut redis = state.redis.clone();
    let _: () = redis
        .del(format!("ocop:rate:{key}"))
        .await
        .map_err(redis_down)?;
    Ok(())
}
