//! Cash on delivery: nothing to open and no one to ask. Each producer's part is paid when it is
//! delivered, recorded by the order's state machine in the same transaction.

use super::{Gateway, Handled, Read, Refusal};
use crate::domain::Vnd;
use crate::payments::{PaymentMethod, Provider, Providers};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

pub struct Cash;

impl Gateway for Cash {
    const PROVIDER: Provider = Provider::Cod;

    /// No one calls back about cash.
    fn read(
        _p: &Providers,
        _headers: &HeaderMap,
        _body: &[u8],
        _now: i64,
    ) -> Result<Read, Refusal> {
        Err(Refusal::NotConfigured)
    }

    fn answer(_handled: Handled) -> Response {
        StatusCode::NOT_FOUND.into_response()
    }
}

/// Cash on delivery: the producer's part is paid when it is delivered.
pub async fn record_cash(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    order_id: i64,
) -> Result<(), sqlx::Error> {
    let o = sqlx::query!(
        r#"select o.order_group_id, o.goods_total + o.shipping_fee - o.discount_total as "amount!: Vnd", g.code,
                  g.payment_method as "payment_method: PaymentMethod"
           from shop_order o join order_group g using (order_group_id) where o.order_id = $1"#,
        order_id
    )
    .fetch_one(&mut **tx)
    .await?;
    if o.payment_method != PaymentMethod::Cod {
        return Ok(());
    }
    sqlx::query!(
        "insert into payment (order_group_id, method, amount, reference, status, paid_at)
         values ($1, 'cod', $2, $3, 'paid', now()) on conflict (reference) do nothing",
        o.order_group_id,
        o.amount.amount(),
        format!("{}C{order_id}", o.code)
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}
