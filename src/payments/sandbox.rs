//! Sandbox mode (`PAYMENT_SANDBOX=1`, on for the demo): a simulated page for each provider with
//! "Pay", "Cancel" and "Pay the wrong amount", which sends the app the callback that provider
//! would send, signed with the provider's real algorithm and the configured test secret. The
//! callbacks go through exactly the path the real providers reach (`gateways::receive`). Off,
//! these routes are 404.
//!
//! The gateways also remember each transaction (in Redis, shared by every instance) and answer
//! the status queries reconciliation asks (VNPAY querydr, MoMo query, Stripe's session), so the
//! button "pay, but the notification is lost" shows the order turning paid without a callback.
//! Each gateway's stand-in lives in its own file; this module holds what they share.

use crate::error::AppError;
use crate::render::render_page;
use crate::state::AppState;
use axum::Router;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;

pub fn router() -> Router<AppState> {
    super::gateways::sandboxes()
}

/// Where a simulated gateway may send the shopper back: only this site's own return routes
/// (the VNPAY and MoMo return pages, an order page). Anything else goes home, so the sandbox is
/// no open redirect.
pub(super) fn own_return(state: &AppState, url: &str) -> String {
    let public = state.config.public_url();
    let path = url.strip_prefix(public.as_str()).unwrap_or(url);
    let (route, query) = path.split_once('?').unwrap_or((path, ""));
    let order_page = route
        .strip_prefix("/orders/")
        .is_some_and(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_alphanumeric()));
    let ok = matches!(route, "/payments/vnpay/return" | "/payments/momo/return") || order_page;
    let safe_query = query
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"=&_-.%+".contains(&b));
    match (ok && safe_query, query.is_empty()) {
        (true, true) => route.to_string(),
        (true, false) => format!("{route}?{query}"),
        (false, _) => "/".to_string(),
    }
}

pub(super) fn on(state: &AppState) -> Result<(), AppError> {
    if state.payments.sandbox {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

pub(super) fn page(
    title: &str,
    provider: &str,
    amount: i64,
    action: &str,
    fields: BTreeMap<String, String>,
    note: &str,
) -> Response {
    render_page(
        "payments/sandbox.html",
        &json!({ "title": title, "provider": provider, "amount": amount, "action": action, "fields": fields, "note": note }),
    )
}

/// What a simulated gateway knows about a transaction, kept a week (the sandbox's own state).
pub(super) async fn remember(
    state: &AppState,
    provider: &str,
    id: &str,
    what: &serde_json::Value,
) -> Result<(), AppError> {
    let mut redis = state.redis.clone();
    redis::cmd("SET")
        .arg(format!("ocop:sandbox:{provider}:{id}"))
        .arg(what.to_string())
        .arg("EX")
        .arg(7 * 24 * 3600)
        .query_async::<()>(&mut redis)
        .await
        .map_err(|e| AppError::Unavailable(format!("sandbox state: {e}")))
}

pub async fn recall(
    state: &AppState,
    provider: &str,
    id: &str,
) -> Result<Option<serde_json::Value>, AppError> {
    let mut redis = state.redis.clone();
    let kept: Option<String> = redis::cmd("GET")
        .arg(format!("ocop:sandbox:{provider}:{id}"))
        .query_async(&mut redis)
        .await
        .map_err(|e| AppError::Unavailable(format!("sandbox state: {e}")))?;
    Ok(kept.and_then(|k| serde_json::from_str(&k).ok()))
}

/// Which button: the amount the simulated provider reports. "lost" pays but sends no callback.
pub(super) fn reported(choice: &str, amount: i64) -> (bool, i64) {
    match choice {
        "pay" | "lost" => (true, amount),
        "wrong" => (true, (amount - 10_000).max(1)),
        _ => (false, amount),
    }
}

#[derive(Deserialize)]
pub(super) struct Choice {
    #[serde(default)]
    pub choice: String,
    #[serde(default)]
    pub via: String,
    #[serde(flatten)]
    pub rest: BTreeMap<String, String>,
}

/// A gateway's page: the fields it was sent come back with the button pressed.
pub(super) fn gateway_page(
    state: &AppState,
    q: BTreeMap<String, String>,
    title: &str,
    provider: &str,
    note: &str,
) -> Result<Response, AppError> {
    on(state)?;
    let amount = q.get("amount").and_then(|a| a.parse().ok()).unwrap_or(0);
    Ok(page(
        title,
        provider,
        amount,
        &format!("/sandbox/{provider}/pay"),
        q,
        note,
    ))
}
