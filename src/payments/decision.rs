//! The decision: one state machine acts on a verified notification, exactly once per provider
//! transaction, in one transaction that also writes the outcome on the event. It pays the order
//! group, records a failed attempt, or sends the money to staff review with a `Reason`.

use super::attempts::mark_paid;
use super::review::Reason;
use super::{BankAccount, Notification, Target};
use crate::orders::{Actor, Details, Status, transition};
use serde::Serialize;
use sqlx::PgPool;

/// What the decision did with a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Outcome {
    /// the order group is paid
    Applied,
    /// the provider's transaction was already claimed by an earlier delivery
    Duplicate,
    /// the attempt failed (or the shopper gave up); nothing was paid
    FailedPayment,
    /// staff decide
    Review(Reason),
}

impl Outcome {
    fn key(&self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Duplicate => "duplicate",
            Outcome::FailedPayment => "failed_payment",
            Outcome::Review(_) => "review",
        }
    }
}

/// Marks the event verified and claims its provider transaction; false when an earlier delivery
/// already claimed it (the caller then records a duplicate). Every consumer of bank money, orders
/// and till sales alike, claims here, so one transfer is never counted twice.
pub async fn claim(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    event_id: i64,
    n: &Notification,
) -> Result<bool, sqlx::Error> {
    sqlx::query!(
        "update payment_event set verified = true, provider_tx_id = $2, amount = $3 where payment_event_id = $1",
        event_id,
        n.tx_id,
        n.amount.amount()
    )
    .execute(&mut **tx)
    .await?;
    let claimed = sqlx::query_scalar!(
        "insert into payment_tx_claim (provider, provider_tx_id, payment_event_id) values ($1, $2, $3)
         on conflict do nothing returning payment_event_id",
        n.provider.key(),
        n.tx_id,
        event_id
    )
    .fetch_optional(&mut **tx)
    .await?;
    Ok(claimed.is_some())
}

/// Acts on a verified notification: exactly once per provider transaction, in one transaction
/// that also records the outcome on the event.
pub async fn apply(
    pool: &PgPool,
    bank: Option<&BankAccount>,
    event_id: i64,
    n: &Notification,
) -> Result<(Outcome, Option<i64>), sqlx::Error> {
    let mut tx = pool.begin().await?;
    let claimed = claim(&mut tx, event_id, n).await?;
    let (outcome, group, payment) = if !claimed {
        // kept with the order the first delivery was about, so its history shows both
        let first = sqlx::query!(
            "select e.order_group_id, e.payment_id from payment_tx_claim c join payment_event e using (payment_event_id)
             where c.provider = $1 and c.provider_tx_id = $2",
            n.provider.key(),
            n.tx_id
        )
        .fetch_optional(&mut *tx)
        .await?;
        (
            Outcome::Duplicate,
            first.as_ref().and_then(|f| f.order_group_id),
            first.and_then(|f| f.payment_id),
        )
    } else {
        decide(&mut tx, bank, n).await?
    };
    let review = match &outcome {
        Outcome::Review(r) => Some(r.key()),
        _ => None,
    };
    sqlx::query!(
        "update payment_event set outcome = $2, review_reason = $3, order_group_id = $4, payment_id = $5 where payment_event_id = $1",
        event_id,
        outcome.key(),
        review,
        group,
        payment
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((outcome, group))
}

async fn decide(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    bank: Option<&BankAccount>,
    n: &Notification,
) -> Result<(Outcome, Option<i64>, Option<i64>), sqlx::Error> {
    // which order group, and which attempt
    let (group, payment) = match &n.target {
        Target::Attempt(reference) => match sqlx::query!(
            "select payment_id, order_group_id from payment where reference = $1",
            reference
        )
        .fetch_optional(&mut **tx)
        .await?
        {
            Some(p) => (p.order_group_id, Some(p.payment_id)),
            None => return Ok((Outcome::Review(Reason::UnknownAttempt), None, None)),
        },
        Target::Memo(memo) => {
            let codes = codes_in(memo);
            if codes.len() > 1 {
                return Ok((Outcome::Review(Reason::SeveralCodes), None, None));
            }
            let Some(code) = codes.first() else {
                return Ok((Outcome::Review(Reason::UnknownCode), None, None));
            };
            let Some(group) = sqlx::query_scalar!(
                "select order_group_id from order_group where code = $1",
                code
            )
            .fetch_optional(&mut **tx)
            .await?
            else {
                return Ok((Outcome::Review(Reason::UnknownCode), None, None));
            };
            let payment =
                sqlx::query_scalar!("select payment_id from payment where reference = $1", code)
                    .fetch_optional(&mut **tx)
                    .await?;
            (group, payment)
        }
    };
    if let (Some(bank), Some(account)) = (bank, &n.account) {
        if account.trim() != bank.number {
            return Ok((Outcome::Review(Reason::WrongAccount), Some(group), payment));
        }
    }
    let orders = sqlx::query!(
        r#"select order_id, status as "status: Status" from shop_order where order_group_id = $1 order by order_id for update"#,
        group
    )
    .fetch_all(&mut **tx)
    .await?;
    let total = sqlx::query_scalar!(
        r#"select grand_total as "grand_total: crate::domain::Vnd" from order_group where order_group_id = $1"#,
        group
    )
    .fetch_one(&mut **tx)
    .await?;
    if !n.success {
        if let Some(p) = payment {
            sqlx::query!(
                "update payment set status = 'failed' where payment_id = $1 and status = 'pending'",
                p
            )
            .execute(&mut **tx)
            .await?;
        }
        return Ok((Outcome::FailedPayment, Some(group), payment));
    }
    if orders.iter().all(|o| o.status == Status::Cancelled) {
        return Ok((
            Outcome::Review(Reason::OrderCancelled),
            Some(group),
            payment,
        ));
    }
    if !orders.iter().all(|o| o.status == Status::PendingPayment) {
        return Ok((Outcome::Review(Reason::AlreadyPaid), Some(group), payment));
    }
    if n.amount < total {
        return Ok((Outcome::Review(Reason::AmountTooLow), Some(group), payment));
    }
    if n.amount > total {
        return Ok((Outcome::Review(Reason::AmountTooHigh), Some(group), payment));
    }
    let payment = mark_paid(
        tx,
        group,
        payment,
        n.provider,
        n.amount,
        n.provider_ref.as_deref().or(Some(&n.tx_id)),
    )
    .await?;
    for o in orders {
        transition(
            tx,
            o.order_id,
            Status::Paid,
            Actor::Payment,
            &Details::default(),
        )
        .await
        .map_err(|e| match e {
            crate::orders::TransitionError::Database(e) => e,
            other => sqlx::Error::Protocol(other.to_string()),
        })?;
    }
    Ok((Outcome::Applied, Some(group), Some(payment)))
}

/// Order codes (`OCOP` + 8 letters or digits) in a transfer's text, however the bank cased it.
pub fn codes_in(memo: &str) -> Vec<String> {
    let upper = memo.to_uppercase();
    let bytes = upper.as_bytes();
    let mut found: Vec<String> = vec![];
    let mut i = 0;
    while let Some(at) = upper[i..].find("OCOP") {
        let start = i + at;
        let end = start + 12;
        let before_ok = start == 0 || !bytes[start - 1].is_ascii_alphanumeric();
        if end <= bytes.len()
            && before_ok
            && bytes[start + 4..end]
                .iter()
                .all(|b| b.is_ascii_alphanumeric())
            && (end == bytes.len() || !bytes[end].is_ascii_alphanumeric())
        {
            let code = upper[start..end].to_string();
            if !found.contains(&code) {
                found.push(code);
            }
        }
        i = start + 4;
    }
    found
}

#[cfg(test)]
mod tests {
    #[test]
    fn order_codes_are_found_however_the_bank_wrote_them() {
        assert_eq!(
            super::codes_in("CK thanh toan ocopab12cd34 cam on"),
            vec!["OCOPAB12CD34"]
        );
        assert_eq!(
            super::codes_in("MBVCB.123.OCOPAB12CD34.CT tu 0123"),
            vec!["OCOPAB12CD34"]
        );
        assert!(super::codes_in("OCOPAB12CD345 too long").is_empty());
        assert!(super::codes_in("no code here").is_empty());
        assert_eq!(super::codes_in("OCOPAB12CD34 OCOPZZ99YY88").len(), 2);
    }
}
