//! Orders after checkout: one state machine for every producer order, the timeline, stock
//! returned on cancellation, and the job that cancels orders whose online payment never came.

pub mod http;
pub mod notify;
pub mod views;

use serde::Serialize;
use sqlx::{PgPool, Postgres, Transaction};

/// Whether this visitor is the shopper of an order group: it belongs to their account, or they
/// placed it or proved code + phone in this session and are not someone who could have learnt
/// those facts from the other side (staff, or a member of a producer with a part in the group).
pub async fn is_shopper(
    pool: &PgPool,
    session: &crate::auth::Session,
    group_id: i64,
    owner: Option<i64>,
    code: &str,
) -> Result<bool, sqlx::Error> {
    if owner.is_some() && session.data.user_id == owner {
        return Ok(true);
    }
    if !session.data.orders.iter().any(|c| c == code) {
        return Ok(false);
    }
    match session.data.user_id {
        None => Ok(true),
        Some(uid) => Ok(!insider(pool, uid, group_id).await?),
    }
}

/// Staff, or a member of a producer with a part in the group.
pub async fn insider(pool: &PgPool, uid: i64, group_id: i64) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select exists(select 1 from app_user where user_id = $1
                          and role in ('province_staff', 'national_staff', 'admin'))
               or exists(select 1 from producer_member m join shop_order o using (producer_id)
                          where m.user_id = $1 and o.order_group_id = $2) as "e!""#,
        uid,
        group_id
    )
    .fetch_one(pool)
    .await
}

/// The order group `code` when this visitor is its shopper: its id.
pub async fn shoppers_group(
    pool: &PgPool,
    session: &crate::auth::Session,
    code: &str,
) -> Result<Option<i64>, sqlx::Error> {
    let Some(g) = sqlx::query!(
        "select order_group_id, user_id from order_group where code = $1",
        code
    )
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    Ok(is_shopper(pool, session, g.order_group_id, g.user_id, code)
        .await?
        .then_some(g.order_group_id))
}

/// An order part's state. Stored as text (`shop_order.status`, checked by the table) and
/// serialised as that text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Status {
    PendingPayment,
    Placed,
    Paid,
    Confirmed,
    Shipped,
    Delivered,
    /// the carrier could not deliver: the parcel is on its way back to the producer
    Returning,
    /// the parcel is back with the producer
    Returned,
    Cancelled,
    Refunded,
}

/// Who moves an order. Stored as text in `order_event.actor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Actor {
    Shopper,
    Producer,
    Expiry,
    Payment,
    Staff,
    /// the carrier's tracking (webhook or status query)
    Carrier,
}

impl Actor {
    pub fn key(self) -> &'static str {
        match self {
            Actor::Shopper => "shopper",
            Actor::Producer => "producer",
            Actor::Expiry => "expiry",
            Actor::Payment => "payment",
            Actor::Staff => "staff",
            Actor::Carrier => "carrier",
        }
    }

    /// As the order's timeline says it.
    pub fn label(self) -> &'static str {
        match self {
            Actor::Shopper => "Người mua",
            Actor::Producer => "Nhà sản xuất",
            Actor::Expiry => "Hệ thống (quá hạn thanh toán)",
            Actor::Payment => "Cổng thanh toán",
            Actor::Staff => "Cán bộ",
            Actor::Carrier => "Đơn vị vận chuyển",
        }
    }
}

impl Status {
    pub const ALL: [Status; 10] = [
        Status::PendingPayment,
        Status::Placed,
        Status::Paid,
        Status::Confirmed,
        Status::Shipped,
        Status::Delivered,
        Status::Returning,
        Status::Returned,
        Status::Cancelled,
        Status::Refunded,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Status::PendingPayment => "pending_payment",
            Status::Placed => "placed",
            Status::Paid => "paid",
            Status::Confirmed => "confirmed",
            Status::Shipped => "shipped",
            Status::Delivered => "delivered",
            Status::Returning => "returning",
            Status::Returned => "returned",
            Status::Cancelled => "cancelled",
            Status::Refunded => "refunded",
        }
    }

    pub fn from_key(k: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.key() == k)
    }

    pub fn label(self) -> &'static str {
        match self {
            Status::PendingPayment => "Chờ thanh toán",
            Status::Placed => "Chờ xác nhận (thanh toán khi nhận hàng)",
            Status::Paid => "Đã thanh toán, chờ xác nhận",
            Status::Confirmed => "Đã xác nhận, đang chuẩn bị hàng",
            Status::Shipped => "Đang giao",
            Status::Delivered => "Đã giao",
            Status::Returning => "Giao không thành công, đang hoàn về người bán",
            Status::Returned => "Đã hoàn hàng về người bán",
            Status::Cancelled => "Đã huỷ",
            Status::Refunded => "Đã hoàn tiền",
        }
    }

    /// Whether `actor` may move an order from `self` to `to`. Everything else is refused.
    pub fn allows(self, to: Status, actor: Actor) -> bool {
        use Actor as A;
        use Status as S;
        matches!(
            (self, to, actor),
            (S::PendingPayment, S::Paid, A::Payment | A::Staff)
                // staff apply money that came after the order expired (checked in `transition`)
                | (S::Cancelled, S::Paid, A::Staff)
                | (
                    S::PendingPayment,
                    S::Cancelled,
                    A::Shopper | A::Expiry | A::Staff
                )
                | (S::Placed | S::Paid, S::Confirmed, A::Producer)
                | (
                    S::Placed | S::Paid | S::Confirmed,
                    S::Cancelled,
                    A::Shopper | A::Producer | A::Staff
                )
                | (S::Confirmed, S::Shipped, A::Producer | A::Carrier)
                | (S::Shipped, S::Delivered, A::Producer | A::Carrier)
                | (S::Shipped, S::Returning, A::Carrier)
                | (S::Shipped | S::Returning, S::Returned, A::Carrier)
                // the producer says the parcel came back (one it sent itself, or one the carrier
                // has not reported)
                | (S::Returning, S::Returned, A::Producer | A::Staff)
                | (S::Cancelled | S::Delivered | S::Returned, S::Refunded, A::Staff)
        )
    }

    /// Whether the ledger has something to post: money arrived (paid, or cash at delivery), or a
    /// sale that had money is undone.
    fn moves_money(self, to: Status) -> bool {
        match to {
            Status::Paid | Status::Delivered | Status::Refunded => true,
            Status::Cancelled => matches!(self, Status::Paid | Status::Confirmed),
            // a parcel back unsold: what was paid online is owed back (cash was never collected)
            Status::Returned => true,
            _ => false,
        }
    }

    /// Stock goes back when an order that held it ends unsold.
    fn returns_stock(self, to: Status) -> bool {
        (to == Status::Cancelled && self != Status::Cancelled) || to == Status::Returned
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TransitionError {
    #[error("không tìm thấy đơn hàng")]
    NotFound,
    #[error("Không thể chuyển đơn hàng từ \"{}\" sang \"{}\".", .from.label(), .to.label())]
    Refused { from: Status, to: Status },
    #[error("{0}")]
    Invalid(&'static str),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// What a transition carries besides the new state.
#[derive(Debug, Default, Clone)]
pub struct Details {
    pub reason: Option<String>,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
}

/// Moves one producer order to `to` inside `tx`, if the state machine allows it: locks the order,
/// checks, updates, returns stock on cancellation, and writes the timeline entry.
pub async fn transition(
    tx: &mut Transaction<'_, Postgres>,
    order_id: i64,
    to: Status,
    actor: Actor,
    details: &Details,
) -> Result<Status, TransitionError> {
    let current = sqlx::query!(
        "select status, cancelled_by from shop_order where order_id = $1 for update",
        order_id
    )
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(TransitionError::NotFound)?;
    let from = Status::from_key(&current.status).ok_or(TransitionError::NotFound)?;
    if !from.allows(to, actor) {
        return Err(TransitionError::Refused { from, to });
    }
    if from == Status::Cancelled && to == Status::Paid {
        // only an order that expired waiting for this money comes back, and only with its stock
        if current.cancelled_by.as_deref() != Some("expiry") {
            return Err(TransitionError::Refused { from, to });
        }
        if !crate::inventory::take_order(&mut **tx, order_id).await?
            || !crate::experiences::retake_order(&mut **tx, order_id).await?
        {
            return Err(TransitionError::Invalid(
                "Không còn đủ hàng để khôi phục đơn đã quá hạn; hãy hoàn tiền cho người mua.",
            ));
        }
    }
    if to == Status::Cancelled
        && actor == Actor::Producer
        && details.reason.as_deref().is_none_or(|r| r.trim().len() < 3)
    {
        return Err(TransitionError::Invalid(
            "Vui lòng ghi lý do huỷ đơn để người mua biết.",
        ));
    }
    // an experience's policy: no cancellation by the shopper once the free cancellation passed
    if to == Status::Cancelled
        && actor == Actor::Shopper
        && !crate::experiences::may_cancel(&mut **tx, order_id).await?
    {
        return Err(TransitionError::Invalid(
            "Đã quá hạn huỷ miễn phí của dịch vụ du lịch: vé không được huỷ hay hoàn tiền. Vui lòng liên hệ cơ sở nếu cần đổi lịch.",
        ));
    }
    if to == Status::Shipped
        && (details
            .carrier
            .as_deref()
            .is_none_or(|c| c.trim().is_empty())
            || details
                .tracking_number
                .as_deref()
                .is_none_or(|t| t.trim().len() < 4))
    {
        return Err(TransitionError::Invalid(
            "Vui lòng nhập đơn vị vận chuyển và mã vận đơn.",
        ));
    }
    sqlx::query!(
        "update shop_order set status = $2,
             carrier = coalesce($3, carrier), tracking_number = coalesce($4, tracking_number),
             cancel_reason = case when $2 = 'cancelled' then $5 when $2 = 'paid' then null else cancel_reason end,
             cancelled_by = case when $2 = 'cancelled' then $6 when $2 = 'paid' then null else cancelled_by end,
             delivered_at = case when $2 = 'delivered' then now() else delivered_at end
         where order_id = $1",
        order_id,
        to.key(),
        details.carrier.as_deref().map(str::trim),
        details.tracking_number.as_deref().map(str::trim),
        details.reason.as_deref().map(str::trim),
        actor.key()
    )
    .execute(&mut **tx)
    .await?;
    if to == Status::Delivered {
        // cash on delivery is paid now
        crate::payments::record_cash(tx, order_id).await?;
        crate::invoicing::on_sale(tx, order_id, false).await?;
    }
    if to == Status::Paid {
        // a service (nothing ships) is the producer's sale once paid
        crate::invoicing::on_sale(tx, order_id, true).await?;
    }
    if matches!(to, Status::Cancelled | Status::Refunded | Status::Returned) {
        crate::invoicing::on_undone(tx, order_id).await?;
    }
    // a group cancelled in full gives its promotions' uses back; one that comes back takes them
    if to == Status::Cancelled {
        crate::promotions::give_back(&mut **tx, order_id).await?;
    }
    if from == Status::Cancelled && to == Status::Paid {
        crate::promotions::take_again(&mut **tx, order_id).await?;
    }
    if from.returns_stock(to) {
        crate::inventory::return_order(&mut **tx, order_id).await?;
        crate::experiences::release_order(&mut **tx, order_id).await?;
    }
    if from.moves_money(to) {
        // the ledger follows in the same transaction
        crate::settlement::catch_up(&mut **tx, &[order_id], time::OffsetDateTime::now_utc())
            .await?;
    }
    let note = match to {
        Status::Shipped => Some(format!(
            "{} · mã vận đơn {}",
            details.carrier.as_deref().unwrap_or("").trim(),
            details.tracking_number.as_deref().unwrap_or("").trim()
        )),
        _ => details.reason.clone(),
    };
    sqlx::query!(
        "insert into order_event (order_id, from_status, to_status, actor, note) values ($1, $2, $3, $4, $5)",
        order_id,
        from.key(),
        to.key(),
        actor.key(),
        note
    )
    .execute(&mut **tx)
    .await?;
    Ok(from)
}

/// Cancels orders whose online payment did not arrive in time, returning their stock. Safe with
/// any number of instances running it: each order is claimed with SKIP LOCKED and moved only from
/// pending_payment, so it is expired once.
pub async fn expire_once(pool: &PgPool) -> Result<Vec<i64>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let due = sqlx::query_scalar!(
        "select o.order_id from shop_order o join order_group g using (order_group_id)
         where o.status = 'pending_payment' and g.pay_before < now()
         order by o.order_id limit 500
         for update of o skip locked"
    )
    .fetch_all(&mut *tx)
    .await?;
    let details = Details {
        reason: Some("Quá thời hạn thanh toán; hàng đã được trả lại kho.".into()),
        ..Default::default()
    };
    let mut expired = vec![];
    for id in due {
        match transition(&mut tx, id, Status::Cancelled, Actor::Expiry, &details).await {
            Ok(_) => expired.push(id),
            Err(TransitionError::Database(e)) => return Err(e),
            Err(_) => {}
        }
    }
    tx.commit().await?;
    Ok(expired)
}

/// Runs `expire_once` every `every` until the process stops.
pub async fn expire_forever(pool: PgPool, every: std::time::Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        match expire_once(&pool).await {
            Ok(ids) if !ids.is_empty() => {
                tracing::info!(count = ids.len(), "unpaid orders expired, stock returned")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "order expiry failed; retrying"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Actor as A, Status as S};

    #[test]
    fn only_the_documented_moves_are_allowed() {
        assert!(S::Placed.allows(S::Confirmed, A::Producer));
        assert!(
            !S::Placed.allows(S::Confirmed, A::Shopper),
            "a shopper does not confirm"
        );
        assert!(
            !S::PendingPayment.allows(S::Confirmed, A::Producer),
            "not before payment"
        );
        assert!(S::Confirmed.allows(S::Shipped, A::Producer));
        assert!(
            !S::Shipped.allows(S::Cancelled, A::Shopper),
            "not once shipped"
        );
        assert!(
            !S::Delivered.allows(S::Shipped, A::Producer),
            "no going back"
        );
        assert!(S::PendingPayment.allows(S::Cancelled, A::Expiry));
        assert!(
            !S::Paid.allows(S::Cancelled, A::Expiry),
            "a paid order never expires"
        );
        assert!(
            !S::Cancelled.allows(S::Cancelled, A::Expiry),
            "expired once"
        );
    }
}
