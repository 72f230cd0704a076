//! The cart lives in Redis only: a hash of product → quantity per cart, expiring after 30 days
//! without use. An anonymous cart is named by a signed cookie; a signed-in shopper's cart by their
//! account, and the anonymous one merges into it at log-in. Nothing about carts touches Postgres.

pub mod http;

use crate::auth::Session;
use crate::error::AppError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use redis::AsyncCommands;
use redis::aio::ConnectionManager;

pub const COOKIE: &str = "ocop_cart";
/// Readable by the page's script, which shows it in the header badge (pages are cached for
/// everyone, so the count cannot be printed into them).
pub const COUNT_COOKIE: &str = "ocop_cart_n";
pub const TTL_SECS: i64 = 30 * 24 * 3600;
/// The most of one product a cart may hold.
pub const MAX_LINE: u32 = 50;
/// The most different products a cart may hold (a stranger must not fill Redis with lines).
pub const MAX_LINES: u32 = 50;

/// A cart's key, in this marketplace's Redis namespace (see `auth::session`).
fn key(state: &AppState, cart: &str) -> String {
    format!("ocop:{}:cart:{cart}", state.config.redis_namespace())
}

/// Redis failing on a cart page is the cart being unavailable, whatever part of Redis failed.
pub fn as_cart_error(e: AppError) -> AppError {
    match e {
        AppError::Unavailable(m) => AppError::CartUnavailable(m),
        other => other,
    }
}

fn unavailable(e: redis::RedisError) -> AppError {
    AppError::CartUnavailable(e.to_string())
}

/// The key that signs cart cookies: `SECRET_KEY` when configured, otherwise one random key kept
/// in Redis, so that every instance signs alike without configuration.
pub async fn cookie_key(
    redis: &mut ConnectionManager,
    configured: Option<&str>,
) -> Result<Vec<u8>, redis::RedisError> {
    if let Some(k) = configured.filter(|k| k.len() >= 32) {
        return Ok(k.as_bytes().to_vec());
    }
    let fresh = crate::crypto::random_token();
    let _: Option<String> = redis::cmd("SET")
        .arg("ocop:secret:cookies")
        .arg(&fresh)
        .arg("NX")
        .query_async(redis)
        .await?;
    let key: String = redis.get("ocop:secret:cookies").await?;
    Ok(key.into_bytes())
}

/// The cookie's signature: the first 16 bytes of HMAC-SHA256, as hex.
fn sign(key: &[u8], id: &str) -> String {
    let mut mac = crate::crypto::hmac_sha256_hex(key, id.as_bytes());
    mac.truncate(32);
    mac
}

/// The anonymous cart id a request's cookie names, if its signature holds.
pub fn anonymous_id(parts: &Parts, key: &[u8]) -> Option<String> {
    let value = parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, v)| v.to_string())?;
    let (id, sig) = value.split_once('.')?;
    let expected = sign(key, id);
    let ok = id.len() == 32
        && id.bytes().all(|b| b.is_ascii_hexdigit())
        && crate::crypto::same(sig.as_bytes(), expected.as_bytes());
    ok.then(|| id.to_string())
}

/// The anonymous cart a request's cookie names, if any (read at log-in, to merge it).
pub struct AnonymousCart(pub Option<String>);

impl FromRequestParts<AppState> for AnonymousCart {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(AnonymousCart(anonymous_id(parts, &state.cookie_key)))
    }
}

/// The Set-Cookie that forgets the anonymous cart (merged at log-in).
pub fn expired_cookie() -> HeaderValue {
    HeaderValue::from_static("ocop_cart=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
}

/// Whose cart a request works on.
#[derive(Debug, Clone)]
pub struct Cart {
    /// `u:{user id}` or `a:{random id}`
    pub id: String,
    pub user_id: Option<i64>,
    /// a new anonymous cart: its cookie must be sent
    pub new_cookie: Option<HeaderValue>,
}

impl FromRequestParts<AppState> for Cart {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|e| match e {
                AppError::Unavailable(m) => AppError::CartUnavailable(m),
                other => other,
            })?;
        if let Some(user_id) = session.data.user_id {
            return Ok(Cart {
                id: format!("u:{user_id}"),
                user_id: Some(user_id),
                new_cookie: None,
            });
        }
        if let Some(id) = anonymous_id(parts, &state.cookie_key) {
            return Ok(Cart {
                id: format!("a:{id}"),
                user_id: None,
                new_cookie: None,
            });
        }
        let id = crate::crypto::random_token()[..32].to_string();
        let cookie = HeaderValue::from_str(&format!(
            "{COOKIE}={id}.{}; Path=/; HttpOnly; SameSite=Lax; Max-Age={TTL_SECS}",
            sign(&state.cookie_key, &id)
        ))
        .expect("hex is a valid header");
        Ok(Cart {
            id: format!("a:{id}"),
            user_id: None,
            new_cookie: Some(cookie),
        })
    }
}

/// One cart write in one atomic round trip: counts it against the client's per-minute budget,
/// then adds `qty` (or sets it) but never past `cap`, and never as a new line once the cart
/// holds MAX_LINES products. Answers the line before and after and the cart's item count, or
/// `{-1, seconds to wait}` when over budget, `{-2}` when the cart is full.
const WRITE: &str = r"
local n = redis.call('INCR', KEYS[2])
if n == 1 then redis.call('EXPIRE', KEYS[2], 60) end
if n > tonumber(ARGV[7]) then return {-1, redis.call('TTL', KEYS[2]), 0} end
local before = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local q = tonumber(ARGV[2])
if ARGV[5] == 'add' then q = before + q end
local cap = tonumber(ARGV[3])
if q > cap then q = cap end
if q > 0 and before == 0 and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[6]) then return {-2, 0, 0} end
if q <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]); q = 0 else redis.call('HSET', KEYS[1], ARGV[1], q) end
redis.call('EXPIRE', KEYS[1], ARGV[4])
local total = 0
for _, v in ipairs(redis.call('HVALS', KEYS[1])) do total = total + tonumber(v) end
return {before, q, total}
";

/// What an add did: the line before and after, and the cart's item count.
#[derive(Debug, Clone, Copy)]
pub struct Added {
    pub before: u32,
    pub after: u32,
    pub count: u32,
}

/// Who makes a cart write, for its per-minute budget.
#[derive(Debug, Clone, Copy)]
pub struct Budget<'a> {
    pub client: &'a str,
    pub per_minute: u32,
}

impl Cart {
    /// The lines, product id → quantity; reading counts as use.
    pub async fn lines(&self, state: &AppState) -> Result<Vec<(i64, u32)>, AppError> {
        let mut redis = state.redis.clone();
        let (raw, _): (Vec<(String, u32)>, i64) = redis::pipe()
            .hgetall(key(state, &self.id))
            .expire(key(state, &self.id), TTL_SECS)
            .query_async(&mut redis)
            .await
            .map_err(unavailable)?;
        let mut lines: Vec<(i64, u32)> = raw
            .into_iter()
            .filter_map(|(p, q)| Some((p.parse().ok()?, q)))
            .filter(|(_, q)| *q > 0)
            .collect();
        lines.sort();
        Ok(lines)
    }

    /// Adds `qty` of a product the caller checked is listed, up to `cap`.
    pub async fn add(
        &self,
        state: &AppState,
        budget: Budget<'_>,
        product: i64,
        qty: i64,
        cap: u32,
    ) -> Result<Added, AppError> {
        write(state, &self.id, budget, Write::Add, product, qty, cap).await
    }

    /// Sets a line's quantity (0 removes it); the caller checked the product is listed.
    pub async fn set(
        &self,
        state: &AppState,
        budget: Budget<'_>,
        product: i64,
        qty: u32,
    ) -> Result<(), AppError> {
        write(
            state,
            &self.id,
            budget,
            Write::Set,
            product,
            qty as i64,
            MAX_LINE,
        )
        .await?;
        Ok(())
    }

    /// Keeps a line within the stock there is (the checkout page's own correction, not a
    /// visitor's write: no budget).
    pub async fn clamp(&self, state: &AppState, product: i64, qty: u32) -> Result<(), AppError> {
        let mut redis = state.redis.clone();
        let _: () = redis
            .hset(key(state, &self.id), product, qty)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Takes ordered products out after an order is committed.
    pub async fn remove(&self, state: &AppState, products: &[i64]) -> Result<(), AppError> {
        if products.is_empty() {
            return Ok(());
        }
        let mut redis = state.redis.clone();
        let _: () = redis
            .hdel(key(state, &self.id), products)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    pub fn count(lines: &[(i64, u32)]) -> u32 {
        lines.iter().map(|(_, q)| q).sum()
    }
}

#[derive(Clone, Copy)]
enum Write {
    Add,
    Set,
}

async fn write(
    state: &AppState,
    cart: &str,
    budget: Budget<'_>,
    how: Write,
    product: i64,
    qty: i64,
    cap: u32,
) -> Result<Added, AppError> {
    let mut redis = state.redis.clone();
    let (before, after, count): (i64, i64, i64) = redis::Script::new(WRITE)
        .key(key(state, cart))
        .key(format!(
            "ocop:{}:rate:cart:{}",
            state.config.redis_namespace(),
            budget.client
        ))
        .arg(product)
        .arg(qty)
        .arg(cap)
        .arg(TTL_SECS)
        .arg(match how {
            Write::Add => "add",
            Write::Set => "set",
        })
        .arg(MAX_LINES)
        .arg(budget.per_minute)
        .invoke_async(&mut redis)
        .await
        .map_err(unavailable)?;
    match before {
        -1 => Err(AppError::TooManyAttempts {
            retry_after_secs: after.max(1) as u64,
        }),
        -2 => Err(AppError::bad(
            "cart_full",
            format!(
                "Giỏ hàng đã có {MAX_LINES} sản phẩm khác nhau, mức tối đa. Hãy đặt hàng hoặc bỏ bớt sản phẩm trước khi thêm. Giỏ hàng chưa thay đổi."
            ),
        )),
        _ => {
            let n = |v: i64| v.max(0) as u32;
            Ok(Added {
                before: n(before),
                after: n(after),
                count: n(count),
            })
        }
    }
}

/// At log-in the anonymous cart joins the account's: quantities add up, capped by stock and the
/// line maximum; the anonymous cart is then gone.
pub async fn merge_into_account(
    state: &AppState,
    anonymous: &str,
    user_id: i64,
) -> Result<(), AppError> {
    let from = format!("a:{anonymous}");
    let mut redis = state.redis.clone();
    let raw: Vec<(String, u32)> = redis
        .hgetall(key(state, &from))
        .await
        .map_err(unavailable)?;
    if raw.is_empty() {
        return Ok(());
    }
    let snapshot = state.catalog.snapshot();
    let to = format!("u:{user_id}");
    for (product, qty) in raw {
        let Ok(id) = product.parse::<i64>() else {
            continue;
        };
        // only what is still listed moves over
        let Some(p) = snapshot
            .products
            .get(&id)
            .filter(|_| snapshot.row_of.contains_key(&id))
        else {
            continue;
        };
        let cap = (p.stock.max(0) as u32).min(MAX_LINE).max(1);
        let budget = Budget {
            client: &to,
            per_minute: u32::MAX,
        };
        match write(state, &to, budget, Write::Add, id, qty as i64, cap).await {
            // a full account cart keeps what it has
            Err(AppError::BadRequest { .. }) => break,
            other => {
                other?;
            }
        }
    }
    let _: () = redis.del(key(state, &from)).await.map_err(unavailable)?;
    Ok(())
}

/// The Set-Cookie that tells the page script how many items the cart holds.
pub fn count_cookie(count: u32) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{COUNT_COOKIE}={count}; Path=/; SameSite=Lax; Max-Age={TTL_SECS}"
    ))
    .expect("digits are a valid header")
}
