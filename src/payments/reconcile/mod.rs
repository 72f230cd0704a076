//! Reconciliation. A provider's callback can be lost: it gave up retrying, our endpoint was down
//! longer than its retries lasted, a firewall dropped it. So online attempts still pending some
//! minutes after they started are asked about at their provider: VNPAY's `querydr`, MoMo's query
//! API, Stripe's Checkout Session. A settled answer then takes the callback's own path: it is kept
//! raw in `payment_event` and applied under the transaction id the callback carries, so whichever
//! of the two arrives second is a duplicate and the order is paid once. Any number of instances may
//! run it: attempts are claimed with SKIP LOCKED and stamped, so one instance asks at a time.

pub mod report;
pub use report::Report;

use super::events::{record_event, reject_event};
use super::{Notification, Outcome, PaymentMethod, Provider, apply};
use crate::domain::Vnd;
use crate::state::AppState;
use axum::http::{HeaderMap, HeaderValue};
use std::time::Duration;

/// An online attempt nobody has heard back about.
#[derive(Debug, Clone)]
pub struct Due {
    pub payment_id: i64,
    pub method: PaymentMethod,
    pub reference: String,
    pub provider_ref: Option<String>,
    pub amount: Vnd,
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
           returning payment_id, method as "method: PaymentMethod", reference, provider_ref,
                     amount as "amount: Vnd", created_at"#,
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
        let provider = match due.method {
            PaymentMethod::Vnpay => Provider::Vnpay,
            PaymentMethod::Momo => Provider::Momo,
            _ => Provider::Stripe,
        };
        let answer = super::gateways::query(provider, &state.payments, client, &due).await;
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
                super::gateways::after_apply(state, &outcome, group).await;
                match outcome {
                    Outcome::Applied => report.applied += 1,
                    Outcome::Duplicate => report.duplicates += 1,
                    Outcome::FailedPayment => report.failed += 1,
                    Outcome::Review(_) => report.review += 1,
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
