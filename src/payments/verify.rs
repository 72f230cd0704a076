//! Reading a provider's callback: check its signature and freshness, then parse it into a
//! `Notification`. Pure functions of the request and the clock, so the fuzz targets (fuzz/) can
//! throw anything at them; the handlers add storage and the answers each provider expects.

use super::sign::{self, same_hex};
use super::{Notification, Providers, Target};
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// Signed timestamps may differ from our clock by this much (SePay, Casso, Stripe).
pub const TOLERANCE_SECS: i64 = 300;
/// VNPAY and MoMo sign the payment's time, not the delivery's, and resend for a while: older
/// than this, a callback is refused as stale.
pub const RESEND_WINDOW_SECS: i64 = 24 * 3600;

/// What a callback turned out to be.
#[derive(Debug, Clone)]
pub enum Read {
    /// money to act on (or a failed attempt)
    Notify(Notification),
    /// genuine but nothing to do (an outgoing transfer, an event type we do not use)
    Ignore { tx_id: String, why: String },
}

/// Why a callback was refused: kept on the event, mapped to each provider's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    NotConfigured,
    MissingSignature,
    BadSignature,
    Stale,
    Unreadable,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::NotConfigured => "provider not configured",
            Refusal::MissingSignature => "missing signature",
            Refusal::BadSignature => "bad signature",
            Refusal::Stale => "stale timestamp",
            Refusal::Unreadable => "unreadable body",
        }
    }
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn fresh(ts: i64, now: i64, tolerance: i64) -> bool {
    (now - ts).abs() <= tolerance
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SepayBody {
    id: i64,
    transfer_type: String,
    transfer_amount: i64,
    account_number: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    content: String,
}

/// SePay: HMAC-SHA256 over `timestamp.body` (`X-SePay-Signature: sha256=…`), or the API key.
pub fn sepay(p: &Providers, headers: &HeaderMap, body: &[u8], now: i64) -> Result<Read, Refusal> {
    if p.sepay_secret.is_none() && p.sepay_api_key.is_none() {
        return Err(Refusal::NotConfigured);
    }
    let by_signature = match (
        header(headers, "x-sepay-signature"),
        header(headers, "x-sepay-timestamp"),
        &p.sepay_secret,
    ) {
        (Some(sig), Some(ts), Some(secret)) => match ts.parse::<i64>() {
            Ok(t) if !fresh(t, now, TOLERANCE_SECS) => Err(Refusal::Stale),
            Ok(_) if same_hex(sig, &sign::sepay_signature(secret, ts, body)) => Ok(()),
            _ => Err(Refusal::BadSignature),
        },
        _ => Err(Refusal::MissingSignature),
    };
    let by_key = match (header(headers, "authorization"), &p.sepay_api_key) {
        (Some(auth), Some(key)) => {
            let expected = format!("Apikey {key}");
            if same_hex(auth, &expected) {
                Ok(())
            } else {
                Err(Refusal::BadSignature)
            }
        }
        _ => Err(Refusal::MissingSignature),
    };
    if let (Err(why), Err(other)) = (by_signature, by_key) {
        // the more telling of the two
        return Err(if why == Refusal::MissingSignature {
            other
        } else {
            why
        });
    }
    let b: SepayBody = serde_json::from_slice(body).map_err(|_| Refusal::Unreadable)?;
    if b.transfer_type != "in" || b.transfer_amount <= 0 {
        return Ok(Read::Ignore {
            tx_id: b.id.to_string(),
            why: "outgoing".into(),
        });
    }
    Ok(Read::Notify(Notification {
        provider: crate::payments::Provider::Sepay,
        tx_id: b.id.to_string(),
        target: Target::Memo(format!("{} {}", b.code.unwrap_or_default(), b.content)),
        amount: crate::domain::Vnd::new(b.transfer_amount),
        success: true,
        account: b.account_number,
        provider_ref: Some(b.id.to_string()),
    }))
}

/// Casso webhook v2: `X-Casso-Signature: t=<ms>,v1=<HMAC-SHA512 of t.sorted-json>`.
pub fn casso(p: &Providers, headers: &HeaderMap, body: &[u8], now: i64) -> Result<Read, Refusal> {
    let key = p.casso_key.as_deref().ok_or(Refusal::NotConfigured)?;
    let (t, v1) =
        sign::parse_t_v1(header(headers, "x-casso-signature").ok_or(Refusal::MissingSignature)?);
    let t = t.ok_or(Refusal::BadSignature)?;
    let ms = t.parse::<i64>().map_err(|_| Refusal::BadSignature)?;
    if !fresh(ms / 1000, now, TOLERANCE_SECS) {
        return Err(Refusal::Stale);
    }
    let json: Value = serde_json::from_slice(body).map_err(|_| Refusal::Unreadable)?;
    let expected = sign::casso_signature(key, t, &json);
    if !v1.iter().any(|v| same_hex(v, &expected)) {
        return Err(Refusal::BadSignature);
    }
    let data = &json["data"];
    let id = data["id"]
        .as_i64()
        .map(|i| i.to_string())
        .or_else(|| data["reference"].as_str().map(str::to_string))
        .ok_or(Refusal::Unreadable)?;
    let amount = data["amount"].as_i64().ok_or(Refusal::Unreadable)?;
    if amount <= 0 {
        return Ok(Read::Ignore {
            tx_id: id,
            why: "outgoing".into(),
        });
    }
    Ok(Read::Notify(Notification {
        provider: crate::payments::Provider::Casso,
        tx_id: id.clone(),
        target: Target::Memo(data["description"].as_str().unwrap_or("").to_string()),
        amount: crate::domain::Vnd::new(amount),
        success: true,
        account: data["accountNumber"].as_str().map(str::to_string),
        provider_ref: data["reference"].as_str().map(str::to_string).or(Some(id)),
    }))
}

pub fn query_params(query: &str) -> BTreeMap<String, String> {
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// `yyyyMMddHHmmss` in Vietnam time, as VNPAY writes dates.
fn vnpay_time(s: &str) -> Option<i64> {
    let fmt = time::macros::format_description!("[year][month][day][hour][minute][second]");
    time::PrimitiveDateTime::parse(s, fmt)
        .ok()
        .map(|t| t.assume_offset(crate::domain::VN_OFFSET).unix_timestamp())
}

/// VNPAY 2.1.0 IPN: HMAC-SHA512 over the re-encoded, sorted `vnp_*` parameters.
pub fn vnpay(p: &Providers, query: &str, now: i64) -> Result<Read, Refusal> {
    let cfg = p.vnpay.as_ref().ok_or(Refusal::NotConfigured)?;
    let params = query_params(query);
    let given = params
        .get("vnp_SecureHash")
        .ok_or(Refusal::MissingSignature)?;
    if !same_hex(given, &sign::vnpay_sign(&params, &cfg.secret)) {
        return Err(Refusal::BadSignature);
    }
    let get = |k: &str| params.get(k).map(String::as_str).unwrap_or("");
    if let Some(paid_at) = vnpay_time(get("vnp_PayDate")) {
        if !fresh(paid_at, now, RESEND_WINDOW_SECS) {
            return Err(Refusal::Stale);
        }
    }
    let amount = get("vnp_Amount")
        .parse::<i64>()
        .map_err(|_| Refusal::Unreadable)?;
    if get("vnp_TxnRef").is_empty() || get("vnp_TmnCode") != cfg.tmn_code {
        return Err(Refusal::Unreadable);
    }
    Ok(Read::Notify(Notification {
        provider: crate::payments::Provider::Vnpay,
        tx_id: vnpay_tx_id(get("vnp_TxnRef"), get("vnp_TransactionNo")),
        target: Target::Attempt(get("vnp_TxnRef").to_string()),
        amount: crate::domain::Vnd::from_minor(amount).ok_or(Refusal::Unreadable)?,
        success: get("vnp_ResponseCode") == "00" && get("vnp_TransactionStatus") == "00",
        account: None,
        provider_ref: Some(get("vnp_TransactionNo").to_string()),
    }))
}

/// MoMo v2 IPN: HMAC-SHA256 over the documented fields in their fixed order.
pub fn momo(p: &Providers, body: &[u8], now: i64) -> Result<Read, Refusal> {
    let cfg = p.momo.as_ref().ok_or(Refusal::NotConfigured)?;
    let r: sign::MomoResult = serde_json::from_slice(body).map_err(|_| Refusal::Unreadable)?;
    if r.signature.is_empty() {
        return Err(Refusal::MissingSignature);
    }
    let expected = sign::hmac_sha256_hex(
        cfg.secret_key.as_bytes(),
        sign::momo_result_raw(&cfg.access_key, &r).as_bytes(),
    );
    if !same_hex(&r.signature, &expected) || r.partner_code != cfg.partner_code {
        return Err(Refusal::BadSignature);
    }
    if !fresh(r.response_time / 1000, now, RESEND_WINDOW_SECS) {
        return Err(Refusal::Stale);
    }
    Ok(Read::Notify(Notification {
        provider: crate::payments::Provider::Momo,
        tx_id: momo_tx_id(&r.order_id, r.trans_id),
        target: Target::Attempt(r.order_id.clone()),
        amount: crate::domain::Vnd::new(r.amount),
        success: r.result_code == 0,
        account: None,
        provider_ref: Some(r.trans_id.to_string()),
    }))
}

/// Stripe: `Stripe-Signature: t=…,v1=…` over `t.body`, five minutes' tolerance. Only Checkout
/// Session events move money: completed and paid, async succeeded; expired and async failed
/// close the attempt.
pub fn stripe(p: &Providers, headers: &HeaderMap, body: &[u8], now: i64) -> Result<Read, Refusal> {
    let cfg = p.stripe.as_ref().ok_or(Refusal::NotConfigured)?;
    let (t, v1) =
        sign::parse_t_v1(header(headers, "stripe-signature").ok_or(Refusal::MissingSignature)?);
    let ts = t
        .and_then(|t| t.parse::<i64>().ok())
        .ok_or(Refusal::BadSignature)?;
    if !fresh(ts, now, TOLERANCE_SECS) {
        return Err(Refusal::Stale);
    }
    let expected = sign::stripe_signature(&cfg.webhook_secret, ts, body);
    if !v1.iter().any(|v| same_hex(v, &expected)) {
        return Err(Refusal::BadSignature);
    }
    let ev: Value = serde_json::from_slice(body).map_err(|_| Refusal::Unreadable)?;
    let event_id = ev["id"].as_str().ok_or(Refusal::Unreadable)?.to_string();
    let kind = ev["type"].as_str().unwrap_or("");
    let session = &ev["data"]["object"];
    let success = match kind {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            if session["payment_status"] != "paid" {
                return Ok(Read::Ignore {
                    tx_id: event_id,
                    why: "awaiting payment".into(),
                });
            }
            true
        }
        "checkout.session.expired" | "checkout.session.async_payment_failed" => false,
        other => {
            return Ok(Read::Ignore {
                tx_id: event_id,
                why: other.chars().take(80).collect(),
            });
        }
    };
    let reference = session["client_reference_id"]
        .as_str()
        .ok_or(Refusal::Unreadable)?;
    Ok(Read::Notify(Notification {
        provider: crate::payments::Provider::Stripe,
        // claimed by session and outcome, not by event: a redelivered event, a second event
        // about the same payment and reconciliation's answer are all one transaction
        tx_id: stripe_tx_id(session["id"].as_str().unwrap_or(&event_id), success),
        target: Target::Attempt(reference.to_string()),
        // VND is zero-decimal at Stripe: the amount is đồng
        amount: crate::domain::Vnd::new(session["amount_total"].as_i64().unwrap_or(0)),
        success,
        account: None,
        provider_ref: session["id"].as_str().map(str::to_string),
    }))
}

/// The transaction id a Stripe Checkout Session's outcome is claimed under.
pub fn stripe_tx_id(session: &str, paid: bool) -> String {
    format!("{session}:{}", if paid { "paid" } else { "unpaid" })
}

/// The transaction id of a VNPAY payment, from its IPN or a querydr answer.
pub fn vnpay_tx_id(txn_ref: &str, transaction_no: &str) -> String {
    format!("{txn_ref}:{transaction_no}")
}

/// The transaction id of a MoMo payment, from its IPN or a query answer.
pub fn momo_tx_id(order_id: &str, trans_id: i64) -> String {
    format!("{order_id}:{trans_id}")
}
