//! Reconciliation. A provider's callback can be lost: it gave up retrying, our endpoint was down
//! longer than its retries lasted, a firewall dropped it. So online attempts still pending some
//! minutes after they started are asked about at their provider: VNPAY's `querydr`, MoMo's query
//! API, Stripe's Checkout Session. A settled answer then takes the callback's own path: it is kept
//! raw in `payment_event` and applied under the transaction id the callback carries, so whichever
//! of the two arrives second is a duplicate and the order is paid once. Any number of instances may
//! run it: attempts are claimed with SKIP LOCKED and stamped, so one instance asks at a time.

pub mod report;
pub use report::Report;

use super::sign::{self, same_hex};
use super::verify::{momo_tx_id, stripe_tx_id, vnpay_tx_id};
use super::{Notification, Outcome, Providers, Target, apply, record_event, reject_event};
use crate::crypto::random_token;
use crate::state::AppState;
use axum::http::{HeaderMap, HeaderValue};
use serde_json::{Value, json};
use std::time::Duration;

/// An online attempt nobody has heard back about.
#[derive(Debug, Clone)]
pub struct Due {
    pub payment_id: i64,
    pub method: String,
    pub reference: String,
    pub provider_ref: Option<String>,
    pub amount: i64,
    pub created_at: time::OffsetDateTime,
}

/// What a provider said about one attempt.
#[derive(Debug)]
pub enum Answer {
    /// paid, or definitely not: acted on as its callback would have been
    Settled {
        notification: Notification,
        raw: String,
    },
    /// not paid yet, or unknown to the provider (the shopper never got that far)
    Pending(String),
    /// an answer that does not check out; kept as a rejected event, nothing changes
    Refused { raw: String, why: &'static str },
}

/// Claims up to `limit` attempts older than `after` that are due a question: every `after` in
/// their first hour (which covers the time an order waits for its payment), then hourly; after a
/// day they are left alone (the gateways' pages and sessions have long expired; late money still
/// arrives by callback, and goes to staff review if the order has expired).
pub async fn claim(
    pool: &sqlx::PgPool,
    after: Duration,
    limit: i64,
) -> Result<Vec<Due>, sqlx::Error> {
    sqlx::query_as!(
        Due,
        r#"update payment set checked_at = now(), checks = checks + 1
           where payment_id in (
               select payment_id from payment
               where status = 'pending' and method in ('vnpay', 'momo', 'card')
                 and created_at < now() - make_interval(secs => $1)
                 and created_at > now() - interval '24 hours'
                 and (checked_at is null
                      or checked_at < now() - case when created_at > now() - interval '1 hour'
                                                   then make_interval(secs => $1)
                                                   else interval '1 hour' end)
               order by created_at
               limit $2
               for update skip locked)
           returning payment_id, method, reference, provider_ref, amount, created_at"#,
        after.as_secs_f64(),
        limit
    )
    .fetch_all(pool)
    .await
}

/// One pass: ask about every due attempt and act on the answers.
pub async fn reconcile_once(
    state: &AppState,
    client: &reqwest::Client,
    after: Duration,
) -> Result<Report, sqlx::Error> {
    let mut report = Report::default();
    // a small batch: questions go one at a time, and a provider that hangs costs a timeout each
    for due in claim(&state.pool, after, 25).await? {
        report.asked += 1;
        let (provider, answer) = match super::PaymentMethod::from_key(&due.method) {
            Some(super::PaymentMethod::Vnpay) => (
                super::Provider::Vnpay,
                ask_vnpay(&state.payments, client, &due).await,
            ),
            Some(super::PaymentMethod::Momo) => (
                super::Provider::Momo,
                ask_momo(&state.payments, client, &due).await,
            ),
            _ => (
                super::Provider::Stripe,
                ask_stripe(&state.payments, &due).await,
            ),
        };
        match answer {
            Err(e) => {
                report.errors += 1;
                tracing::warn!(provider = provider.key(), reference = %due.reference, error = %e, "payment provider not asked; will ask again");
            }
            Ok(Answer::Pending(why)) => {
                report.pending += 1;
                tracing::debug!(provider = provider.key(), reference = %due.reference, why, "payment still pending at the provider");
            }
            Ok(Answer::Refused { raw, why }) => {
                report.errors += 1;
                let event = record_event(&state.pool, provider, &evidence(), &raw).await?;
                reject_event(&state.pool, event, why).await?;
                tracing::warn!(provider = provider.key(), reference = %due.reference, why, "provider's answer refused");
            }
            Ok(Answer::Settled { notification, raw }) => {
                let event = record_event(&state.pool, provider, &evidence(), &raw).await?;
                let (outcome, group) = apply(&state.pool, None, event, &notification).await?;
                super::http::after_apply(state, &outcome, group).await;
                match outcome {
                    Outcome::Applied => report.applied += 1,
                    Outcome::Duplicate => report.duplicates += 1,
                    Outcome::FailedPayment => report.failed += 1,
                    Outcome::Review(_) | Outcome::Ignored(_) => report.review += 1,
                }
                tracing::info!(provider = provider.key(), reference = %due.reference, outcome = ?outcome, "payment reconciled with the provider");
            }
        }
    }
    Ok(report)
}

/// Runs `reconcile_once` every `every` until the process stops.
pub async fn reconcile_forever(state: AppState, every: Duration) {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "no HTTP client: payments are not reconciled");
            return;
        }
    };
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        match reconcile_once(&state, &client, state.payments.reconcile_after).await {
            Ok(r) if r.asked > 0 => {
                state
                    .metrics
                    .reconciled
                    .lock()
                    .expect("metrics lock")
                    .add(&r);
                tracing::info!(?r, "payments reconciled");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "payment reconciliation failed; retrying"),
        }
    }
}

/// Marks the kept answer as ours, not a callback.
fn evidence() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("x-ocop-source", HeaderValue::from_static("reconciliation"));
    h
}

fn text(v: &Value, key: &str) -> String {
    sign::json_text(&v[key])
}

/// VNPAY `querydr` (API 2.1.0): a JSON POST signed with HMAC-SHA512 over `|`-joined fields; the
/// answer is signed the same way over its own fields.
pub async fn ask_vnpay(
    p: &Providers,
    client: &reqwest::Client,
    due: &Due,
) -> Result<Answer, String> {
    let cfg = p.vnpay.as_ref().ok_or("VNPAY is not configured")?;
    let mut request = json!({
        "vnp_RequestId": &random_token()[..24],
        "vnp_Version": "2.1.0",
        "vnp_Command": "querydr",
        "vnp_TmnCode": cfg.tmn_code,
        "vnp_TxnRef": due.reference,
        "vnp_OrderInfo": format!("Truy van giao dich {}", due.reference),
        // the pay request's vnp_CreateDate, which was the attempt's creation time
        "vnp_TransactionDate": sign::vnpay_date(due.created_at),
        "vnp_CreateDate": sign::vnpay_date(time::OffsetDateTime::now_utc()),
        "vnp_IpAddr": "127.0.0.1",
    });
    request["vnp_SecureHash"] =
        sign::vnpay_pipe_sign(&sign::VNPAY_QUERY_REQUEST_FIELDS, &request, &cfg.secret).into();
    let raw = client
        .post(&cfg.api_url)
        .json(&request)
        .send()
        .await
        .map_err(|e| format!("VNPAY querydr: {e}"))?
        .text()
        .await
        .map_err(|e| format!("VNPAY querydr: {e}"))?;
    let a: Value = serde_json::from_str(&raw).map_err(|_| "VNPAY querydr: not JSON".to_string())?;
    match text(&a, "vnp_ResponseCode").as_str() {
        "00" => {}
        // no such transaction: the shopper never paid at VNPAY
        "91" => return Ok(Answer::Pending("not found at VNPAY".into())),
        code => {
            return Err(format!(
                "VNPAY querydr answered {code}: {}",
                text(&a, "vnp_Message")
            ));
        }
    }
    let expected = sign::vnpay_pipe_sign(&sign::VNPAY_QUERY_RESPONSE_FIELDS, &a, &cfg.secret);
    if !same_hex(&text(&a, "vnp_SecureHash"), &expected) {
        return Ok(Answer::Refused {
            raw,
            why: "bad signature",
        });
    }
    if text(&a, "vnp_TmnCode") != cfg.tmn_code || text(&a, "vnp_TxnRef") != due.reference {
        return Ok(Answer::Refused {
            raw,
            why: "answer about another transaction",
        });
    }
    let kind = text(&a, "vnp_TransactionType");
    if !kind.is_empty() && kind != "01" {
        return Ok(Answer::Pending(format!("transaction type {kind}")));
    }
    let success = match text(&a, "vnp_TransactionStatus").as_str() {
        "00" => true,
        "02" => false,
        other => return Ok(Answer::Pending(format!("status {other}"))),
    };
    let amount = text(&a, "vnp_Amount")
        .parse::<i64>()
        .ok()
        .and_then(crate::domain::Vnd::from_minor)
        .ok_or_else(|| "VNPAY querydr: no amount in whole đồng".to_string())?;
    let number = text(&a, "vnp_TransactionNo");
    Ok(Answer::Settled {
        notification: Notification {
            provider: crate::payments::Provider::Vnpay,
            tx_id: vnpay_tx_id(&due.reference, &number),
            target: Target::Attempt(due.reference.clone()),
            amount,
            success,
            account: None,
            provider_ref: Some(number),
        },
        raw,
    })
}

/// MoMo `/v2/gateway/api/query`: the request is signed like the others (HMAC-SHA256 over sorted
/// `key=value` pairs). MoMo's signature over the answer is not documented where we could read
/// it, so the answer is trusted as coming over TLS from the configured endpoint, and must name
/// our partner code and this attempt.
pub async fn ask_momo(
    p: &Providers,
    client: &reqwest::Client,
    due: &Due,
) -> Result<Answer, String> {
    let cfg = p.momo.as_ref().ok_or("MoMo is not configured")?;
    let request_id = format!("{}Q{}", due.reference, &random_token()[..12]);
    let signature = sign::hmac_sha256_hex(
        cfg.secret_key.as_bytes(),
        sign::momo_query_raw(
            &cfg.access_key,
            &due.reference,
            &cfg.partner_code,
            &request_id,
        )
        .as_bytes(),
    );
    let raw = client
        .post(format!(
            "{}/v2/gateway/api/query",
            cfg.endpoint.trim_end_matches('/')
        ))
        .json(&json!({
            "partnerCode": cfg.partner_code, "requestId": request_id, "orderId": due.reference,
            "lang": "vi", "signature": signature,
        }))
        .send()
        .await
        .map_err(|e| format!("MoMo query: {e}"))?
        .text()
        .await
        .map_err(|e| format!("MoMo query: {e}"))?;
    let a: Value = serde_json::from_str(&raw).map_err(|_| "MoMo query: not JSON".to_string())?;
    let code = a["resultCode"]
        .as_i64()
        .ok_or("MoMo query: no resultCode")?;
    let success = match code {
        0 => true,
        // initiated, processing, waiting for the user, authorised; 42: MoMo has no such order
        1000 | 7000 | 7002 | 8000 | 9000 | 42 => {
            return Ok(Answer::Pending(format!("resultCode {code}")));
        }
        1001..=1007 | 1017 | 1026 | 4001 | 4002 | 4100 => false,
        other => {
            return Err(format!(
                "MoMo query answered {other}: {}",
                text(&a, "message")
            ));
        }
    };
    if text(&a, "partnerCode") != cfg.partner_code || text(&a, "orderId") != due.reference {
        return Ok(Answer::Refused {
            raw,
            why: "answer about another transaction",
        });
    }
    let trans_id = a["transId"].as_i64().unwrap_or(0);
    Ok(Answer::Settled {
        notification: Notification {
            provider: crate::payments::Provider::Momo,
            tx_id: momo_tx_id(&due.reference, trans_id),
            target: Target::Attempt(due.reference.clone()),
            amount: crate::domain::Vnd::new(a["amount"].as_i64().unwrap_or(0)),
            success,
            account: None,
            provider_ref: Some(trans_id.to_string()),
        },
        raw,
    })
}

/// Stripe: the Checkout Session, retrieved through async-stripe. `complete` and `paid` is the
/// money; `expired` closes the attempt; anything else is still open.
pub async fn ask_stripe(p: &Providers, due: &Due) -> Result<Answer, String> {
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
        Err(e) => return Err(super::http::stripe_error(&e)),
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
            amount: crate::domain::Vnd::new(session.amount_total.unwrap_or(0)),
            success,
            account: None,
            provider_ref: Some(id.to_string()),
        },
        raw,
    })
}
