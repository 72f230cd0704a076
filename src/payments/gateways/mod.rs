//! The payment providers behind one shape. A `Gateway` starts a payment (says where the shopper
//! goes to pay an attempt), reads and verifies the provider's callback into one normalised
//! `Notification`, asks the provider about an attempt nobody heard back about, answers the
//! callback the way that provider expects, and brings the sandbox's stand-in for the provider.
//! One file per gateway: bank transfers reported by SePay or Casso (`bank`), VNPAY, MoMo, Stripe
//! and cash on delivery. Carriers and e-invoice providers take the same shape.
//!
//! Every callback takes one path (`receive`): the raw request is committed to `payment_event`,
//! the gateway reads it, and `decision::apply` acts on it exactly once.

pub mod bank;
pub mod cash;
pub mod momo;
pub mod stripe;
pub mod vnpay;

pub use bank::{Casso, Sepay};
pub use cash::Cash;
pub use momo::Momo;
pub use stripe::Stripe;
pub use vnpay::Vnpay;

use super::decision::{Outcome, apply};
use super::events::{Facts, mark_ignored, record_event, reject_event};
use super::reconcile::{Answer, Due};
use super::{Attempt, Notification, PaymentMethod, Provider, Providers};
use crate::error::AppError;
use crate::state::AppState;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::future::Future;

/// One outside party that takes or reports a shopper's money.
pub trait Gateway {
    /// Who reports the money (kept on every event and claim).
    const PROVIDER: Provider;

    /// Checks a callback's signature and freshness and reads it into the normalised event. Pure
    /// (the request and the clock), so the fuzz targets can throw anything at it. A GET callback
    /// (VNPAY's IPN) passes its query string as the body.
    fn read(p: &Providers, headers: &HeaderMap, body: &[u8], now: i64) -> Result<Read, Refusal>;

    /// The answer this provider expects for what became of its callback.
    fn answer(handled: Handled) -> Response;

    /// What staff read of a kept callback in the review queue.
    fn facts(_body: &str) -> Facts {
        Facts::default()
    }

    /// Where the shopper goes to pay `attempt`: the provider's page, or the order page where
    /// there is nothing to open (a bank transfer's QR is on the order page, cash is paid later).
    fn start(
        _state: &AppState,
        attempt: &Attempt,
        _shopper_ip: &str,
    ) -> impl Future<Output = Result<String, AppError>> + Send {
        let to = format!("/orders/{}", attempt.code);
        async move { Ok(to) }
    }

    /// Asks the provider what became of an attempt (reconciliation). Gateways that cannot be
    /// asked say it is still pending; their money arrives by callback only.
    fn query(
        _p: &Providers,
        _client: &reqwest::Client,
        _due: &Due,
    ) -> impl Future<Output = Result<Answer, String>> + Send {
        async { Ok(Answer::Pending("this provider cannot be asked".into())) }
    }

    /// The callback and return routes the provider reaches.
    fn routes() -> Router<AppState> {
        Router::new()
    }

    /// The sandbox's stand-in for the provider (404 unless sandbox mode is on).
    fn sandbox() -> Router<AppState> {
        Router::new()
    }
}

/// Every gateway's routes, and in sandbox mode their stand-ins.
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(Sepay::routes())
        .merge(Casso::routes())
        .merge(Vnpay::routes())
        .merge(Momo::routes())
        .merge(Stripe::routes())
}

pub fn sandboxes() -> Router<AppState> {
    Router::new()
        .merge(Sepay::sandbox())
        .merge(Vnpay::sandbox())
        .merge(Momo::sandbox())
        .merge(Stripe::sandbox())
}

/// Starts paying an attempt with the gateway that takes `method`.
pub async fn start(
    state: &AppState,
    method: PaymentMethod,
    attempt: &Attempt,
    shopper_ip: &str,
) -> Result<String, AppError> {
    match method {
        PaymentMethod::Vnpay => Vnpay::start(state, attempt, shopper_ip).await,
        PaymentMethod::Momo => Momo::start(state, attempt, shopper_ip).await,
        PaymentMethod::Card => Stripe::start(state, attempt, shopper_ip).await,
        PaymentMethod::Vietqr => Sepay::start(state, attempt, shopper_ip).await,
        PaymentMethod::Cod => Cash::start(state, attempt, shopper_ip).await,
    }
}

/// Asks `provider` about an attempt.
pub async fn query(
    provider: Provider,
    p: &Providers,
    client: &reqwest::Client,
    due: &Due,
) -> Result<Answer, String> {
    match provider {
        Provider::Vnpay => Vnpay::query(p, client, due).await,
        Provider::Momo => Momo::query(p, client, due).await,
        Provider::Stripe => Stripe::query(p, client, due).await,
        Provider::Sepay => Sepay::query(p, client, due).await,
        Provider::Casso => Casso::query(p, client, due).await,
        Provider::Cod | Provider::Staff => Cash::query(p, client, due).await,
    }
}

/// What staff read of a kept callback from `provider`.
pub fn facts(provider: Provider, body: &str) -> Facts {
    match provider {
        Provider::Sepay => Sepay::facts(body),
        Provider::Casso => Casso::facts(body),
        Provider::Vnpay => Vnpay::facts(body),
        Provider::Momo => Momo::facts(body),
        Provider::Stripe => Stripe::facts(body),
        Provider::Cod | Provider::Staff => Facts::default(),
    }
}

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
    /// the bank moved a producer's payout: out of the account (paid) or back into it (returned)
    Payout {
        tx_id: String,
        outgoing: bool,
        amount: crate::domain::Vnd,
        memo: String,
    },
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

pub fn query_params(query: &str) -> BTreeMap<String, String> {
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// `t=…,v1=…` (Casso and Stripe write their signature headers alike).
pub fn parse_t_v1(header: &str) -> (Option<&str>, Vec<&str>) {
    let mut t = None;
    let mut v1 = vec![];
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = Some(v),
            Some(("v1", v)) => v1.push(v),
            _ => {}
        }
    }
    (t, v1)
}

/// Callbacks are limited per sender (a provider or carrier, by name) and sending address, so a
/// flood cannot crowd out the shop.
pub(crate) async fn limited(state: &AppState, sender: &str, ip: &str) -> Result<(), Response> {
    match crate::auth::session::rate_limit(state, &format!("webhook:{sender}:{ip}"), 600, 60).await
    {
        Ok(None) => Ok(()),
        Ok(Some(_)) => Err((StatusCode::TOO_MANY_REQUESTS, "too many callbacks").into_response()),
        // Redis down: the callback still counts; the provider must not lose it
        Err(_) => Ok(()),
    }
}

/// Tells the order's followers (its page, the producers) that it was paid.
pub(crate) async fn after_apply(state: &AppState, outcome: &Outcome, group: Option<i64>) {
    if *outcome == Outcome::Applied {
        if let Some(g) = group {
            crate::orders::notify::group_paid(state, g).await;
        }
    }
}

/// What became of a callback, for each provider to answer in its own words.
pub enum Handled {
    /// not stored: the provider must send it again
    NotStored,
    Refused(Refusal),
    Done(Option<Outcome>),
    /// stored and verified, but not applied (the database failed): the provider retries
    NotApplied,
}

/// A JSON value as the text a signature covers: a string as it is, absent as empty.
pub fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A callback's route: limited per sending address, then `receive`.
async fn callback<G: Gateway>(
    State(state): State<AppState>,
    crate::auth::ClientIp(ip): crate::auth::ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = limited(&state, G::PROVIDER.key(), &ip).await {
        return r;
    }
    receive::<G>(&state, &headers, &body).await
}

/// One callback from `G`, kept, read, acted on and answered in the provider's words. The
/// sandbox and the tests call this exactly as the routes do.
pub async fn receive<G: Gateway>(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Response {
    let raw = String::from_utf8_lossy(body);
    G::answer(
        process(state, G::PROVIDER, headers, &raw, || {
            G::read(&state.payments, headers, body, now())
        })
        .await,
    )
}

/// The one path every callback takes: store it raw, read it, act on it once.
async fn process(
    state: &AppState,
    provider: Provider,
    headers: &HeaderMap,
    raw: &str,
    read: impl FnOnce() -> Result<Read, Refusal>,
) -> Handled {
    let Ok(event) = record_event(&state.pool, provider, headers, raw).await else {
        return Handled::NotStored;
    };
    match read() {
        Err(refusal) => {
            let _ = reject_event(&state.pool, event, refusal.as_str()).await;
            Handled::Refused(refusal)
        }
        Ok(Read::Ignore { tx_id, why }) => {
            let _ = mark_ignored(&state.pool, event, &tx_id, &why).await;
            Handled::Done(None)
        }
        Ok(Read::Payout {
            tx_id,
            outgoing,
            amount,
            memo,
        }) => {
            use crate::settlement::payouts::{Seen, on_bank_transfer};
            match on_bank_transfer(&state.pool, outgoing, amount, &memo, &tx_id).await {
                Ok(seen) => {
                    let why = match seen {
                        Seen::Confirmed => "payout confirmed",
                        Seen::Returned => "payout returned",
                        Seen::Unmatched => "payout not matched: staff confirm it by hand",
                    };
                    let _ = mark_ignored(&state.pool, event, &tx_id, why).await;
                    Handled::Done(None)
                }
                Err(e) => {
                    tracing::error!(error = %e, provider = provider.key(), "payout transfer not applied; the provider will retry");
                    Handled::NotApplied
                }
            }
        }
        Ok(Read::Notify(n)) => {
            // only bank transfers name the receiving account
            let bank = if n.account.is_some() {
                state.payments.bank.as_ref()
            } else {
                None
            };
            if let Some(handled) = till_transfer(state, provider, raw, event, bank, &n).await {
                return handled;
            }
            match apply(&state.pool, bank, event, &n).await {
                Ok((outcome, group)) => {
                    after_apply(state, &outcome, group).await;
                    Handled::Done(Some(outcome))
                }
                Err(e) => {
                    tracing::error!(error = %e, provider = provider.key(), "payment event not applied; the provider will retry");
                    Handled::NotApplied
                }
            }
        }
    }
}

/// A transfer into the marketplace's account whose memo carries a fair sale's code (and no
/// order's) belongs to that sale. None when it is not one: the order path decides.
async fn till_transfer(
    state: &AppState,
    provider: Provider,
    raw: &str,
    event: i64,
    bank: Option<&super::BankAccount>,
    n: &super::Notification,
) -> Option<Handled> {
    let super::Target::Memo(memo) = &n.target else {
        return None;
    };
    let ours = match (bank, &n.account) {
        (Some(b), Some(a)) => a.trim() == b.number,
        _ => true,
    };
    if !n.success || !ours || !super::decision::codes_in(memo).is_empty() {
        return None;
    }
    let code = crate::fairs::code_in(memo)?;
    let sender = facts(provider, raw).sender;
    match crate::fairs::apply_transfer(&state.pool, event, n, &code, sender).await {
        Ok(Some(_)) => Some(Handled::Done(None)),
        Ok(None) => None,
        Err(e) => {
            tracing::error!(error = %e, provider = provider.key(), "till transfer not applied; the provider will retry");
            Some(Handled::NotApplied)
        }
    }
}

pub(crate) fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[cfg(test)]
mod tests {
    #[test]
    fn staff_read_the_memo_sender_and_bank_of_each_provider() {
        use super::{Facts, Provider, facts};
        let casso = r#"{"error":0,"data":{"id":0,"reference":"MA_GIAO_DICH_THU_NGHIEM","description":"OCOPAB12CD34 chuyen tien","amount":599000,"counterAccountName":"NGUYEN VAN A","counterAccountNumber":"8888888888","counterAccountBankName":"VietinBank"}}"#;
        assert_eq!(
            facts(Provider::Casso, casso),
            Facts {
                memo: Some("OCOPAB12CD34 chuyen tien".into()),
                sender: Some("NGUYEN VAN A · 8888888888".into()),
                bank: Some("VietinBank".into()),
                reference: Some("MA_GIAO_DICH_THU_NGHIEM".into()),
            }
        );
        let sepay = r#"{"id":92704,"gateway":"Vietcombank","content":"OCOPAB12CD34 thanh toan","transferAmount":75000,"referenceCode":"MBVCB.3278907687"}"#;
        let f = facts(Provider::Sepay, sepay);
        assert_eq!(f.memo.as_deref(), Some("OCOPAB12CD34 thanh toan"));
        assert_eq!(f.bank.as_deref(), Some("Vietcombank"));
        assert_eq!(f.reference.as_deref(), Some("MBVCB.3278907687"));
        let vnpay = "vnp_Amount=1000000&vnp_BankCode=NCB&vnp_OrderInfo=Thanh+toan+don+hang+OCOPAB12CD34&vnp_TransactionNo=14226112";
        let f = facts(Provider::Vnpay, vnpay);
        assert_eq!(f.memo.as_deref(), Some("Thanh toan don hang OCOPAB12CD34"));
        assert_eq!(f.bank.as_deref(), Some("NCB"));
        assert_eq!(facts(Provider::Sepay, "not json"), Facts::default());
    }
}
