//! Sessions live in Redis (the app keeps none of its own), identified by a random id in an
//! HttpOnly, SameSite=Lax cookie (Secure when the public address is https). A session is stored
//! only once it holds something (a signed-in person, an order to reopen): until then its CSRF
//! token is derived from the cookie's id with the server key, so a visitor who only looks at a
//! form costs Redis nothing. The id changes at login so a planted cookie is worth nothing, and
//! each account keeps an index of its sessions so that a password reset or change, a disabled
//! account or a removed member ends them all.

use crate::error::AppError;
use crate::state::AppState;
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
    /// the browser does not have this id yet: `cookie` must be sent
    pub is_new: bool,
    /// the id came with the request's cookie (so a form may carry its token)
    from_cookie: bool,
}

/// The CSRF token of a session not stored yet: only the server key can make it from the id.
fn derived_csrf(key: &[u8], id: &str) -> String {
    crate::crypto::hmac_sha256_hex(key, format!("csrf:{id}").as_bytes())
}

/// Keys live in this marketplace's namespace: a session made by another marketplace sharing the
/// Redis (staging beside production, the test suite) is never read here, whatever its cookie says.
fn user_key(state: &AppState, user_id: i64) -> String {
    format!(
        "ocop:{}:user-sessions:{user_id}",
        state.config.redis_namespace()
    )
}

use crate::crypto::random_token;

fn key(state: &AppState, id: &str) -> String {
    format!("ocop:{}:session:{id}", state.config.redis_namespace())
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
            let stored: Option<String> = redis.get(key(state, &id)).await.map_err(redis_down)?;
            if let Some(data) = stored.and_then(|json| serde_json::from_str(&json).ok()) {
                return Ok(Session {
                    id,
                    data,
                    is_new: false,
                    from_cookie: true,
                });
            }
            // a browser that has seen a form but whose session holds nothing (yet)
            return Ok(Session {
                data: SessionData {
                    csrf: derived_csrf(&state.cookie_key, &id),
                    ..Default::default()
                },
                id,
                is_new: false,
                from_cookie: true,
            });
        }
        Ok(Session::fresh(&state.cookie_key))
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
    fn fresh(cookie_key: &[u8]) -> Session {
        let id = random_token();
        Session {
            data: SessionData {
                user_id: None,
                csrf: derived_csrf(cookie_key, &id),
                orders: vec![],
            },
            id,
            is_new: true,
            from_cookie: false,
        }
    }

    /// Stores the session (call it once it holds something); a signed-in one joins its
    /// account's index of sessions.
    pub async fn save(&mut self, state: &AppState) -> Result<(), AppError> {
        let mut redis = state.redis.clone();
        let json = serde_json::to_string(&self.data).expect("session data serialises");
        let mut pipe = redis::pipe();
        pipe.set_ex(key(state, &self.id), json, TTL_SECS).ignore();
        if let Some(uid) = self.data.user_id {
            pipe.sadd(user_key(state, uid), &self.id)
                .ignore()
                .expire(user_key(state, uid), TTL_SECS as i64)
                .ignore();
        }
        let _: () = pipe.query_async(&mut redis).await.map_err(redis_down)?;
        Ok(())
    }

    /// A new id and CSRF token for the same visitor (at login), the old id forgotten.
    pub async fn rotate(&mut self, state: &AppState) -> Result<(), AppError> {
        let mut redis = state.redis.clone();
        let _: () = redis.del(key(state, &self.id)).await.map_err(redis_down)?;
        self.id = random_token();
        self.data.csrf = random_token();
        self.is_new = true;
        self.from_cookie = false;
        self.save(state).await
    }

    /// Ends this session (log-out), and takes it out of its account's index.
    pub async fn destroy(self, state: &AppState) -> Result<(), AppError> {
        let mut redis = state.redis.clone();
        let mut pipe = redis::pipe();
        pipe.del(key(state, &self.id)).ignore();
        if let Some(uid) = self.data.user_id {
            pipe.srem(user_key(state, uid), &self.id).ignore();
        }
        let _: () = pipe.query_async(&mut redis).await.map_err(redis_down)?;
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
        self.from_cookie && crate::crypto::same(self.data.csrf.as_bytes(), submitted.as_bytes())
    }
}

/// Ends every session of an account but `keep` (the one that made the change, if any): after a
/// password reset or change, when an account is disabled, when a member is removed.
pub async fn end_sessions(
    state: &AppState,
    user_id: i64,
    keep: Option<&str>,
) -> Result<(), AppError> {
    let mut redis = state.redis.clone();
    let ids: Vec<String> = redis
        .smembers(user_key(state, user_id))
        .await
        .map_err(redis_down)?;
    let mut pipe = redis::pipe();
    for id in ids.iter().filter(|id| Some(id.as_str()) != keep) {
        pipe.del(key(state, id))
            .ignore()
            .srem(user_key(state, user_id), id)
            .ignore();
    }
    let _: () = pipe.query_async(&mut redis).await.map_err(redis_down)?;
    Ok(())
}

/// Counts one attempt under `key`; when more than `limit` happened within `window_secs`, says how
/// long until the window ends. One round trip, atomic.
/// A counter's Redis key, inside this marketplace's namespace: marketplaces sharing one Redis
/// (staging beside production, the test suite's databases) never count each other's attempts.
fn rate_key(state: &AppState, key: &str) -> String {
    format!("ocop:rate:{}:{key}", state.config.redis_namespace())
}

pub async fn rate_limit(
    state: &AppState,
    key: &str,
    limit: u32,
    window_secs: u64,
) -> Result<Option<u64>, AppError> {
    let mut redis = state.redis.clone();
    let key = rate_key(state, key);
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
    let _: () = redis.del(rate_key(state, key)).await.map_err(redis_down)?;
    Ok(())
}
