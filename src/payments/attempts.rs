//! Payment attempts: one row per try at paying an order group online (a fresh reference each
//! time for a gateway, the order code itself for a bank transfer), and the money recorded on it.

use super::{PaymentMethod, Provider};
use crate::domain::Vnd;
use sqlx::PgPool;

/// A payment attempt's state. Stored as text in `payment.status` (checked by the table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Status {
    Pending,
    Paid,
    Failed,
    Expired,
    Cancelled,
    Refunded,
}

impl Status {
    /// As people say it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Pending => "Đang chờ",
            Self::Paid => "Đã nhận tiền",
            Self::Failed => "Không thành công",
            Self::Expired => "Hết hạn",
            Self::Cancelled => "Đã huỷ",
            Self::Refunded => "Đã hoàn tiền",
        }
    }
}

/// One attempt to pay an order group online.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub payment_id: i64,
    /// the order group's code
    pub code: String,
    /// what the provider is told (vnp_TxnRef, MoMo orderId, Stripe client_reference_id)
    pub reference: String,
    pub amount: Vnd,
    /// VNPAY's querydr names the attempt by this time, so the pay request sends exactly it
    pub created_at: time::OffsetDateTime,
}

/// The payment attempt a new online attempt gets: its reference is the order code for a bank
/// transfer, the code and a counter for a gateway (each attempt a fresh reference, as VNPAY
/// and MoMo require).
pub async fn start_attempt(
    pool: &PgPool,
    code: &str,
    method: PaymentMethod,
) -> Result<Option<Attempt>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let Some(g) = sqlx::query!(
        r#"select g.order_group_id, g.grand_total as "grand_total: Vnd",
                  (select bool_and(o.status = 'pending_payment') from shop_order o
                    where o.order_group_id = g.order_group_id) as "payable!"
           from order_group g where g.code = $1 for update"#,
        code
    )
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(None);
    };
    if !g.payable {
        return Ok(None);
    }
    let attempts: i64 = sqlx::query_scalar!(
        "select count(*) as \"n!\" from payment where order_group_id = $1",
        g.order_group_id
    )
    .fetch_one(&mut *tx)
    .await?;
    let reference = if method == PaymentMethod::Vietqr {
        code.to_string()
    } else {
        format!("{code}{:02}", attempts + 1)
    };
    let row = sqlx::query!(
        "insert into payment (order_group_id, method, amount, reference) values ($1, $2, $3, $4)
         on conflict (reference) do update set updated_at = now() returning payment_id, created_at",
        g.order_group_id,
        method.key(),
        g.grand_total.amount(),
        reference
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(Attempt {
        payment_id: row.payment_id,
        code: code.to_string(),
        reference,
        amount: g.grand_total,
        created_at: row.created_at,
    }))
}

/// Records the money as received on the attempt (creating one for a bank transfer that came
/// without an attempt of its own).
pub(super) async fn mark_paid(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    group: i64,
    payment: Option<i64>,
    provider: Provider,
    amount: Vnd,
    provider_ref: Option<&str>,
) -> Result<i64, sqlx::Error> {
    let amount = amount.amount();
    if let Some(p) = payment {
        sqlx::query!(
            "update payment set status = 'paid', paid_at = now(), provider_ref = coalesce($2, provider_ref), amount = $3 where payment_id = $1",
            p,
            provider_ref,
            amount
        )
        .execute(&mut **tx)
        .await?;
        return Ok(p);
    }
    let method = provider.method().key();
    let code: String = sqlx::query_scalar!(
        "select code from order_group where order_group_id = $1",
        group
    )
    .fetch_one(&mut **tx)
    .await?;
    let n: i64 = sqlx::query_scalar!(
        "select count(*) as \"n!\" from payment where order_group_id = $1",
        group
    )
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query_scalar!(
        "insert into payment (order_group_id, method, amount, reference, provider_ref, status, paid_at)
         values ($1, $2, $3, $4, $5, 'paid', now()) returning payment_id",
        group,
        method,
        amount,
        format!("{code}R{:02}", n + 1),
        provider_ref
    )
    .fetch_one(&mut **tx)
    .await
}
