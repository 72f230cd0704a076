//! Cards through Stripe Checkout (async-stripe). A Checkout Session in VND (zero-decimal) is
//! created with a per-attempt idempotency key; the webhook (`Stripe-Signature: t=…,v1=…`,
//! HMAC-SHA256 over `t.body`) moves the money; reconciliation retrieves the session.

use super::{Gateway, Handled, Read, Refusal, TOLERANCE_SECS, callback, fresh, header, parse_t_v1};
use crate::crypto::{hmac_sha256_hex, same_hex};
use crate::domain::Vnd;
use crate::error::AppError;
use crate::payments::events::Facts;
use crate::payments::reconcile::{Answer, Due};
use crate::payments::{Attempt, Notification, Provider, Providers, Target};
use crate::state::AppState;
use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

pub const STRIPE_BODY_LIMIT: usize = 64 * 1024;

pub struct Stripe;

impl Gateway for Stripe {
    const PROVIDER: Provider = Provider::Stripe;

    fn read(p: &Providers, headers: &HeaderMap, body: &[u8], now: i64) -> Result<Read, Refusal> {
        read_event(p, headers, body, now)
    }

    /// 2xx once kept and acted on, 400 for anything that does not verify.
    fn answer(handled: Handled) -> Response {
        match handled {
            Handled::Done(_) => {
                (StatusCode::OK, axum::Json(json!({ "received": true }))).into_response()
            }
            Handled::Refused(r) => (StatusCode::BAD_REQUEST, r.as_str()).into_response(),
            Handled::NotStored | Handled::NotApplied => {
                StatusCode::SERVICE_UNAVAILABLE.into_response()
            }
        }
    }

    fn facts(body: &str) -> Facts {
        let Ok(json) = serde_json::from_str::<Value>(body) else {
            return Facts::default();
        };
        let text = |v: &Value| {
            v.as_str()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let o = &json["data"]["object"];
        Facts {
            memo: text(&o["client_reference_id"]),
            sender: text(&o["customer_details"]["name"])
                .or_else(|| text(&o["customer_details"]["email"])),
            bank: Some("Stripe (thẻ quốc tế)".into()),
            reference: text(&o["payment_intent"]).or_else(|| text(&o["id"])),
        }
    }

    async fn start(
        state: &AppState,
        attempt: &Attempt,
        _shopper_ip: &str,
    ) -> Result<String, AppError> {
        create(state, attempt).await
    }

    async fn query(p: &Providers, _client: &reqwest::Client, due: &Due) -> Result<Answer, String> {
        retrieve(p, due).await
    }

    fn routes() -> Router<AppState> {
        use axum::extract::DefaultBodyLimit;
        Router::new().route(
            "/payments/stripe/webhook",
            post(callback::<Stripe>).layer(DefaultBodyLimit::max(STRIPE_BODY_LIMIT)),
        )
    }

    fn sandbox() -> Router<AppState> {
        sandbox::router()
    }
}

/// A Stripe Checkout Session in VND (zero-decimal), with a per-attempt idempotency key.
async fn create(state: &AppState, attempt: &Attempt) -> Result<String, AppError> {
    let (code, reference, amount) = (
        attempt.code.as_str(),
        attempt.reference.as_str(),
        attempt.amount.amount(),
    );
    use stripe::StripeRequest;
    let cfg = state.payments.stripe.as_ref().ok_or(AppError::NotFound)?;
    let public = state.config.public_url();
    let client = cfg.client().map_err(AppError::Internal)?;
    let mut price = stripe_checkout::checkout_session::CreateCheckoutSessionLineItemsPriceData::new(
        stripe_types::Currency::VND,
    );
    price.unit_amount = Some(amount);
    price.product_data = Some(stripe_checkout::checkout_session::ProductData::new(
        format!("Đơn hàng {code}"),
    ));
    let mut item = stripe_checkout::checkout_session::CreateCheckoutSessionLineItems::new();
    item.price_data = Some(price);
    item.quantity = Some(1);
    let key = stripe::IdempotencyKey::new(format!("checkout:{reference}"))
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let session = stripe_checkout::checkout_session::CreateCheckoutSession::new()
        .mode(stripe_checkout::CheckoutSessionMode::Payment)
        .line_items(vec![item])
        .client_reference_id(reference)
        .success_url(format!("{public}/orders/{code}"))
        .cancel_url(format!("{public}/orders/{code}"))
        .customize()
        .request_strategy(stripe::RequestStrategy::Idempotent(key))
        .send(&client)
        .await
        .map_err(|e| AppError::Unavailable(stripe_error(&e)))?;
    // reconciliation asks Stripe about the session by its id
    sqlx::query!(
        "update payment set provider_ref = $2 where reference = $1",
        reference,
        session.id.as_str()
    )
    .execute(&state.pool)
    .await?;
    session
        .url
        .ok_or_else(|| AppError::Unavailable("stripe: no checkout url".into()))
}

/// One line for a Stripe error (the client's own text spreads the whole error object over lines).
pub(crate) fn stripe_error(e: &stripe::StripeError) -> String {
    match e {
        stripe::StripeError::Stripe(api, status) => format!(
            "Stripe answered {status}: {}",
            api.message.as_deref().unwrap_or("no message")
        ),
        other => format!("Stripe: {other}"),
    }
}

/// Stripe: `Stripe-Signature: t=…,v1=…` over `t.body`, five minutes' tolerance. Only Checkout
/// Session events move money: completed and paid, async succeeded; expired and async failed
/// close the attempt.
pub fn read_event(
    p: &Providers,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<Read, Refusal> {
    let cfg = p.stripe.as_ref().ok_or(Refusal::NotConfigured)?;
    let (t, v1) = parse_t_v1(header(headers, "stripe-signature").ok_or(Refusal::MissingSignature)?);
    let ts = t
        .and_then(|t| t.parse::<i64>().ok())
        .ok_or(Refusal::BadSignature)?;
    if !fresh(ts, now, TOLERANCE_SECS) {
        return Err(Refusal::Stale);
    }
    let expected = stripe_signature(&cfg.webhook_secret, ts, body);
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
        amount: Vnd::new(session["amount_total"].as_i64().unwrap_or(0)),
        success,
        account: None,
        provider_ref: session["id"].as_str().map(str::to_string),
    }))
}

/// The transaction id a Stripe Checkout Session's outcome is claimed under.
pub fn stripe_tx_id(session: &str, paid: bool) -> String {
    format!("{session}:{}", if paid { "paid" } else { "unpaid" })
}

pub fn stripe_signature(secret: &str, t: i64, body: &[u8]) -> String {
    let mut message = format!("{t}.").into_bytes();
    message.extend_from_slice(body);
    hmac_sha256_hex(secret.as_bytes(), &message)
}

/// Stripe: the Checkout Session, retrieved through async-stripe. `complete` and `paid` is the
/// money; `expired` closes the attempt; anything else is still open.
pub async fn retrieve(p: &Providers, due: &Due) -> Result<Answer, String> {
    let cfg = p.stripe.as_ref().ok_or("Stripe is not configured")?;
    let Some(id) = due.provider_ref.as_deref() else {
        return Ok(Answer::Pending("no Checkout Session was created".into()));
    };
    let client = cfg.client()?;
    let session = match stripe_checkout::checkout_session::RetrieveCheckoutSession::new(id)
        .send(&client)
        .await
    {
        Ok(s) => s,
        Err(stripe::StripeError::Stripe(_, 404)) => {
            return Ok(Answer::Pending("unknown to Stripe".into()));
        }
        Err(e) => return Err(stripe_error(&e)),
    };
    let status = session.status.as_ref().map(|s| s.as_str()).unwrap_or("");
    let paid = session.payment_status.as_str() == "paid";
    // what the answer said, kept as the event's body (the client hands us the parsed session)
    let raw = json!({
        "object": "checkout.session", "id": id, "status": status,
        "payment_status": session.payment_status.as_str(), "amount_total": session.amount_total,
        "client_reference_id": session.client_reference_id, "retrieved": format!("GET /v1/checkout/sessions/{id}"),
    })
    .to_string();
    if session.client_reference_id.as_deref() != Some(due.reference.as_str()) {
        return Ok(Answer::Refused {
            raw,
            why: "answer about another transaction",
        });
    }
    let success = match (status, paid) {
        ("complete", true) => true,
        ("expired", _) => false,
        _ => return Ok(Answer::Pending(format!("session {status}"))),
    };
    Ok(Answer::Settled {
        notification: Notification {
            provider: crate::payments::Provider::Stripe,
            tx_id: stripe_tx_id(id, success),
            target: Target::Attempt(due.reference.clone()),
            // VND is zero-decimal at Stripe
            amount: Vnd::new(session.amount_total.unwrap_or(0)),
            success,
            account: None,
            provider_ref: Some(id.to_string()),
        },
        raw,
    })
}

/// The simulated Stripe: the two Checkout Session endpoints async-stripe calls, and a page.
mod sandbox {
    use super::*;
    use crate::payments::gateways::{now, receive};
    use crate::payments::sandbox::{
        Choice, gateway_page, on, own_return, recall, remember, reported,
    };
    use axum::body::Bytes;
    use axum::extract::{Form, Path, Query, State};
    use axum::http::HeaderValue;
    use axum::response::Redirect;
    use axum::routing::get;
    use std::collections::BTreeMap;

    pub fn router() -> Router<AppState> {
        Router::new()
            .route("/sandbox/stripe/v1/checkout/sessions", post(stripe_create))
            .route(
                "/sandbox/stripe/v1/checkout/sessions/{id}",
                get(stripe_retrieve),
            )
            .route("/sandbox/stripe/pay", get(stripe_page).post(stripe_pay))
    }

    /// Stands in for `POST /v1/checkout/sessions` (the async-stripe client is pointed here).
    async fn stripe_create(
        State(state): State<AppState>,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<Response, AppError> {
        on(&state)?;
        if !stripe_authorised(&state, &headers)? {
            return Ok(stripe_refusal(
                StatusCode::UNAUTHORIZED,
                "Invalid API Key provided",
            ));
        }
        let form: BTreeMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
        let reference = form.get("client_reference_id").cloned().unwrap_or_default();
        let amount: i64 = form
            .get("line_items[0][price_data][unit_amount]")
            .and_then(|a| a.parse().ok())
            .unwrap_or(0);
        let id = format!("cs_test_{reference}");
        let url = format!(
            "{}/sandbox/stripe/pay?{}",
            state.config.public_url(),
            form_urlencoded::Serializer::new(String::new())
                .append_pair("session", &id)
                .append_pair("reference", &reference)
                .append_pair("amount", &amount.to_string())
                .append_pair(
                    "success",
                    form.get("success_url").map(String::as_str).unwrap_or("/")
                )
                .append_pair(
                    "cancel",
                    form.get("cancel_url").map(String::as_str).unwrap_or("/")
                )
                .finish()
        );
        let session = json!({
            "id": id, "object": "checkout.session", "amount_total": amount, "currency": "vnd",
            "automatic_tax": { "enabled": false }, "created": now(), "custom_fields": [], "custom_text": {},
            "expires_at": now() + 1800, "livemode": false, "mode": "payment", "payment_method_types": ["card"],
            "payment_status": "unpaid", "shipping_options": [], "client_reference_id": reference, "status": "open", "url": url,
        });
        remember(&state, "stripe", &id, &session).await?;
        Ok(axum::Json(session).into_response())
    }

    fn stripe_authorised(state: &AppState, headers: &HeaderMap) -> Result<bool, AppError> {
        let cfg = state.payments.stripe.as_ref().ok_or(AppError::NotFound)?;
        Ok(headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a == format!("Bearer {}", cfg.secret_key)))
    }

    fn stripe_refusal(status: StatusCode, message: &str) -> Response {
        (
            status,
            axum::Json(json!({ "error": { "type": "invalid_request_error", "message": message } })),
        )
            .into_response()
    }

    /// Stands in for `GET /v1/checkout/sessions/{id}`: the session as the sandbox last left it.
    async fn stripe_retrieve(
        State(state): State<AppState>,
        Path(id): Path<String>,
        headers: HeaderMap,
    ) -> Result<Response, AppError> {
        on(&state)?;
        if !stripe_authorised(&state, &headers)? {
            return Ok(stripe_refusal(
                StatusCode::UNAUTHORIZED,
                "Invalid API Key provided",
            ));
        }
        Ok(match recall(&state, "stripe", &id).await? {
            Some(session) => axum::Json(session).into_response(),
            None => stripe_refusal(
                StatusCode::NOT_FOUND,
                &format!("No such checkout.session: '{id}'"),
            ),
        })
    }

    async fn stripe_page(
        State(state): State<AppState>,
        Query(q): Query<BTreeMap<String, String>>,
    ) -> Result<Response, AppError> {
        gateway_page(
            &state,
            q,
            "Thẻ quốc tế qua Stripe (giả lập)",
            "stripe",
            "Stripe Checkout giả lập: kết quả được gửi về sàn qua webhook, ký theo Stripe-Signature.",
        )
    }

    async fn stripe_pay(
        State(state): State<AppState>,
        Form(c): Form<Choice>,
    ) -> Result<Response, AppError> {
        on(&state)?;
        let cfg = state.payments.stripe.clone().ok_or(AppError::NotFound)?;
        let get = |k: &str| c.rest.get(k).cloned().unwrap_or_default();
        let (paid, amount) = reported(&c.choice, get("amount").parse().unwrap_or(0));
        let mut session = recall(&state, "stripe", &get("session"))
            .await?
            .ok_or(AppError::NotFound)?;
        session["amount_total"] = amount.into();
        session["payment_status"] = if paid { "paid" } else { "unpaid" }.into();
        session["status"] = if paid { "complete" } else { "expired" }.into();
        remember(&state, "stripe", &get("session"), &session).await?;
        if c.choice == "lost" {
            return Ok(Redirect::to(&own_return(&state, &get("success"))).into_response());
        }
        let event_id = format!("evt_{}", &crate::crypto::random_token()[..24]);
        let body = json!({
        "id": event_id, "object": "event", "type": if paid { "checkout.session.completed" } else { "checkout.session.expired" },
        "created": now(),
        "data": { "object": session },
    })
    .to_string();
        let t = now();
        let mut headers = HeaderMap::new();
        headers.insert(
            "stripe-signature",
            HeaderValue::from_str(&format!(
                "t={t},v1={}",
                stripe_signature(&cfg.webhook_secret, t, body.as_bytes())
            ))
            .expect("ascii"),
        );
        let answer = receive::<Stripe>(&state, &headers, body.as_bytes()).await;
        if !answer.status().is_success() {
            return Err(AppError::Internal("sandbox Stripe webhook refused".into()));
        }
        let back = if paid { get("success") } else { get("cancel") };
        Ok(Redirect::to(&own_return(&state, &back)).into_response())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripe_vector() {
        assert_eq!(
            stripe_signature(
                "whsec_test_secret",
                1_700_000_000,
                br#"{"id":"evt_test_webhook","object":"event"}"#
            ),
            "d95c6b7477fbd7e9f90b1b0ef5f9c7ac25abca5382460e0d988c2b2a5b71b990"
        );
    }
}
