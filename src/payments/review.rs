//! Staff review: money the decision would not apply by itself waits here with a `Reason`, and
//! staff settle it with a `Resolution` (apply it to its order, note that it went back, dismiss
//! it), each in the audit log.

use super::Provider;
use super::attempts::mark_paid;
use crate::orders::{Actor, Details, Status, transition};
use serde::Serialize;
use sqlx::PgPool;

/// Why money waits for staff. Stored as text in `payment_event.review_reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Reason {
    AmountTooLow,
    AmountTooHigh,
    UnknownCode,
    SeveralCodes,
    AlreadyPaid,
    OrderCancelled,
    WrongAccount,
    UnknownAttempt,
}

impl Reason {
    pub fn key(self) -> &'static str {
        match self {
            Self::AmountTooLow => "amount_too_low",
            Self::AmountTooHigh => "amount_too_high",
            Self::UnknownCode => "unknown_code",
            Self::SeveralCodes => "several_codes",
            Self::AlreadyPaid => "already_paid",
            Self::OrderCancelled => "order_cancelled",
            Self::WrongAccount => "wrong_account",
            Self::UnknownAttempt => "unknown_attempt",
        }
    }

    /// As staff read it.
    pub fn label(self) -> &'static str {
        match self {
            Self::AmountTooLow => "Số tiền nhận được thấp hơn giá trị đơn",
            Self::AmountTooHigh => "Số tiền nhận được cao hơn giá trị đơn",
            Self::UnknownCode => "Không tìm thấy mã đơn hàng trong nội dung",
            Self::SeveralCodes => "Nội dung có nhiều mã đơn hàng",
            Self::AlreadyPaid => "Đơn đã được thanh toán trước đó",
            Self::OrderCancelled => "Đơn đã huỷ hoặc quá hạn thanh toán",
            Self::WrongAccount => "Tiền vào tài khoản khác tài khoản nhận của sàn",
            Self::UnknownAttempt => "Không tìm thấy lần thanh toán",
        }
    }
}

/// How staff settle money in review. Stored as text in `payment_event.resolution`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// the money pays its order (which takes its stock again if it had expired)
    Applied,
    /// the money went back to the sender, outside the marketplace
    Refunded,
    Dismissed,
}

impl Resolution {
    pub fn key(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Refunded => "refunded",
            Self::Dismissed => "dismissed",
        }
    }
    pub fn from_key(k: &str) -> Option<Self> {
        [Self::Applied, Self::Refunded, Self::Dismissed]
            .into_iter()
            .find(|r| r.key() == k)
    }
}

/// Staff settle a reviewed event: apply it to its order (taking the stock again if the order
/// had expired), or note that the money went back, or dismiss it.
pub async fn resolve(
    pool: &PgPool,
    event_id: i64,
    staff_id: i64,
    resolution: Resolution,
    note: &str,
) -> Result<Result<(), &'static str>, sqlx::Error> {
    // the decision and every order it moves go to the audit log with it
    let mut tx = crate::audit::begin(pool, staff_id, "payment.resolve", Some(note)).await?;
    let Some(ev) = sqlx::query!(
        r#"select provider as "provider: Provider", order_group_id, payment_id, amount, provider_tx_id from payment_event
         where payment_event_id = $1 and outcome = 'review' and resolved_at is null for update"#,
        event_id
    )
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(Err("Khoản này đã được xử lý hoặc không cần xem xét."));
    };
    if resolution == Resolution::Applied {
        let Some(group) = ev.order_group_id else {
            return Ok(Err(
                "Không biết khoản tiền này thuộc đơn hàng nào; hãy hoàn tiền hoặc bỏ qua.",
            ));
        };
        // an amount the provider did not state is never recorded as some made-up number
        let Some(amount) = ev.amount.filter(|a| *a > 0) else {
            return Ok(Err(
                "Không rõ số tiền của khoản này; hãy đối chiếu sao kê rồi hoàn tiền hoặc bỏ qua.",
            ));
        };
        let orders = sqlx::query_scalar!(
            "select order_id from shop_order where order_group_id = $1 order by order_id for update",
            group
        )
        .fetch_all(&mut *tx)
        .await?;
        // the payment first: the ledger posts each order's money from it as the order moves
        let payment = mark_paid(
            &mut tx,
            group,
            ev.payment_id,
            ev.provider,
            crate::domain::Vnd::new(amount),
            ev.provider_tx_id.as_deref(),
        )
        .await?;
        let details = Details {
            reason: Some(format!("Cán bộ xác nhận khoản thanh toán: {note}")),
            ..Default::default()
        };
        // every part goes through the state machine (an expired one takes its stock again)
        for &o in &orders {
            match transition(&mut tx, o, Status::Paid, Actor::Staff, &details).await {
                Ok(_) => {}
                Err(crate::orders::TransitionError::Database(e)) => return Err(e),
                Err(crate::orders::TransitionError::Invalid(m)) => return Ok(Err(m)),
                Err(_) => {
                    return Ok(Err(
                        "Đơn hàng đã được thanh toán hoặc đã bị huỷ bởi người mua/nhà sản xuất; hãy hoàn tiền.",
                    ));
                }
            }
        }
        sqlx::query!(
            "update payment_event set payment_id = $2 where payment_event_id = $1",
            event_id,
            payment
        )
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query!(
        "update payment_event set resolved_at = now(), resolved_by = $2, resolution = $3, resolution_note = $4 where payment_event_id = $1",
        event_id,
        staff_id,
        resolution.key(),
        note
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Ok(()))
}
