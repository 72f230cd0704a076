//! The event store: every callback and every provider's answer is committed raw before anything
//! is decided about it, with its outcome written back by the decision. Refused ones keep only a
//! prefix and the whole body's size and hash, and are purged after some days.

use super::Provider;
use serde::Serialize;
use sqlx::PgPool;

/// Commits the raw callback before anything is decided about it.
pub async fn record_event(
    pool: &PgPool,
    provider: Provider,
    headers: &axum::http::HeaderMap,
    body: &str,
) -> Result<i64, sqlx::Error> {
    // signature headers are evidence; credentials (API keys) are not kept
    let headers: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .filter(|(k, _)| {
            *k != axum::http::header::AUTHORIZATION && *k != axum::http::header::COOKIE
        })
        .map(|(k, v)| {
            (
                k.to_string(),
                serde_json::Value::String(v.to_str().unwrap_or("").to_string()),
            )
        })
        .collect();
    sqlx::query_scalar!(
        "insert into payment_event (provider, headers, body) values ($1, $2::text::jsonb, $3) returning payment_event_id",
        provider.key(),
        serde_json::Value::Object(headers).to_string(),
        body
    )
    .fetch_one(pool)
    .await
}

/// How much of a refused callback is kept (with the size and SHA-256 of all of it).
pub const REFUSED_PREFIX_CHARS: i32 = 2048;

/// Marks an event as failing verification, keeping only a prefix of its body with the whole
/// body's size and hash (a stranger's junk must not fill the database); nothing else changes.
pub async fn reject_event(pool: &PgPool, event_id: i64, why: &str) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update payment_event set verified = false, verification_error = $2, outcome = 'rejected',
             body = left(body, $3), body_bytes = octet_length(body),
             body_sha256 = encode(sha256(convert_to(body, 'UTF8')), 'hex')
         where payment_event_id = $1",
        event_id,
        why,
        REFUSED_PREFIX_CHARS
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// A genuine callback with nothing to do (an outgoing transfer, an event type we do not use).
pub async fn mark_ignored(
    pool: &PgPool,
    event_id: i64,
    tx_id: &str,
    why: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update payment_event set verified = true, outcome = 'ignored', review_reason = $2, provider_tx_id = $3
         where payment_event_id = $1",
        event_id,
        why,
        tx_id
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Deletes refused callbacks older than `days` (safe on every instance at once: a delete of
/// what another instance deleted deletes nothing). Answers how many went.
pub async fn purge_refused(pool: &PgPool, days: u32) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query!(
        "delete from payment_event where outcome = 'rejected'
           and received_at < now() - make_interval(days => $1)",
        days as i32
    )
    .execute(pool)
    .await?
    .rows_affected())
}

/// What staff read of a callback in the review queue: the transfer's memo, who sent it, from
/// which bank, and the provider's reference, each as the provider named it.
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Facts {
    pub memo: Option<String>,
    pub sender: Option<String>,
    pub bank: Option<String>,
    pub reference: Option<String>,
}
