//! An order part as people read it (lines, timeline, payments), for the shopper's, the
//! producer's and the staff's pages.

use super::{Actor, Status};
use crate::checkout::PaymentMethod;
use crate::domain::Vnd;
use crate::error::AppError;
use crate::state::AppState;
use serde::Serialize;
use time::OffsetDateTime;

/// One state to filter an order list by, as the lists' tabs show it.
#[derive(Serialize)]
pub(crate) struct StatusFilter {
    key: &'static str,
    label: &'static str,
    current: bool,
}

/// Every order state as a filter, `current` marked.
pub(crate) fn status_filters(current: Option<Status>) -> Vec<StatusFilter> {
    Status::ALL
        .iter()
        .map(|s| StatusFilter {
            key: s.key(),
            label: s.label(),
            current: Some(*s) == current,
        })
        .collect()
}

#[derive(Serialize)]
pub(crate) struct Line {
    name: String,
    unit: String,
    unit_price: Vnd,
    quantity: i32,
    line_total: Vnd,
    /// what promotions took off it
    discount: Vnd,
    product_id: i64,
}

#[derive(Serialize)]
pub(crate) struct Event {
    at: OffsetDateTime,
    label: String,
    actor: String,
    note: Option<String>,
}

#[derive(Serialize)]
pub struct OrderView {
    pub(crate) order_id: i64,
    pub(crate) producer_name: String,
    pub(crate) status: Status,
    pub(crate) status_label: String,
    pub(crate) goods_total: Vnd,
    pub(crate) shipping_fee: Vnd,
    pub(crate) discount_total: Vnd,
    pub(crate) carrier: Option<String>,
    pub(crate) tracking_number: Option<String>,
    pub(crate) cancel_reason: Option<String>,
    pub(crate) lines: Vec<Line>,
    /// a voucher per booked experience
    pub(crate) vouchers: Vec<crate::experiences::Voucher>,
    pub(crate) events: Vec<Event>,
    /// what the carrier said about the parcel, oldest first
    pub(crate) parcel: Vec<ParcelEvent>,
    pub(crate) shopper_can_cancel: bool,
}

#[derive(Serialize)]
pub(crate) struct ParcelEvent {
    at: OffsetDateTime,
    label: &'static str,
    note: Option<String>,
}

/// One order part as staff see it: the buyer, the group's payments, the part's lines and
/// timeline; `None` when it does not exist or lies outside `province`.
pub async fn staff_view(
    state: &AppState,
    order_id: i64,
    province: Option<i16>,
) -> Result<Option<StaffOrder>, AppError> {
    let Some(o) = sqlx::query!(
        r#"select o.order_group_id, o.producer_id, g.code, g.buyer_name, g.phone, g.email, g.street, g.note,
                  g.payment_method as "payment_method: PaymentMethod", g.created_at,
                  g.grand_total as "grand_total: Vnd", c.name as commune_name, pv.name as province_name,
                  pr.province_code as producer_province
           from shop_order o join order_group g using (order_group_id) join producer pr using (producer_id)
           join commune c on c.commune_code = g.commune_code join province pv on pv.province_code = g.province_code
           where o.order_id = $1"#,
        order_id
    )
    .fetch_optional(&state.pool)
    .await?
    else {
        return Ok(None);
    };
    if province.is_some_and(|p| p != o.producer_province) {
        return Ok(None);
    }
    let part = order_views(state, o.order_group_id, Some(o.producer_id))
        .await?
        .into_iter()
        .next();
    let payments: Vec<PaymentRow> = sqlx::query!(
        r#"select method as "method: PaymentMethod", amount as "amount: Vnd",
                  status as "status: crate::payments::attempts::Status", reference, created_at, paid_at
           from payment where order_group_id = $1 order by payment_id"#,
        o.order_group_id
    )
    .fetch_all(&state.pool)
    .await?
    .into_iter()
    .map(|p| PaymentRow {
        method: p.method.label(),
        amount: p.amount,
        status: p.status.label(),
        reference: p.reference,
        created_at: p.created_at,
        paid_at: p.paid_at,
    })
    .collect();
    Ok(Some(StaffOrder {
        order_id,
        code: o.code,
        buyer_name: o.buyer_name,
        phone: o.phone,
        email: o.email,
        address: format!("{}, {}, {}", o.street, o.commune_name, o.province_name),
        note: o.note,
        method: o.payment_method.label(),
        created_at: o.created_at,
        grand_total: o.grand_total,
        can_refund: part
            .as_ref()
            .is_some_and(|p| p.status.allows(Status::Refunded, Actor::Staff)),
        part,
        payments,
    }))
}

/// One order part as staff see it.
#[derive(Serialize)]
pub struct StaffOrder {
    order_id: i64,
    code: String,
    buyer_name: String,
    phone: String,
    email: Option<String>,
    address: String,
    note: String,
    method: &'static str,
    created_at: OffsetDateTime,
    grand_total: Vnd,
    part: Option<OrderView>,
    payments: Vec<PaymentRow>,
    /// staff may record that the money went back
    can_refund: bool,
}

/// One payment attempt of the order's group.
#[derive(Serialize)]
pub struct PaymentRow {
    method: &'static str,
    amount: Vnd,
    status: &'static str,
    reference: String,
    created_at: OffsetDateTime,
    paid_at: Option<OffsetDateTime>,
}

pub(crate) async fn order_views(
    state: &AppState,
    group_id: i64,
    producer: Option<i64>,
) -> Result<Vec<OrderView>, AppError> {
    let orders = sqlx::query!(
        r#"select o.order_id, o.status as "status: Status", o.goods_total as "goods_total: Vnd",
                  o.shipping_fee as "shipping_fee: Vnd", o.discount_total as "discount_total: Vnd",
                  o.carrier, o.tracking_number, o.cancel_reason, pr.name as producer_name
           from shop_order o join producer pr using (producer_id)
           where o.order_group_id = $1 and ($2::bigint is null or o.producer_id = $2)
           order by pr.name, o.order_id"#,
        group_id,
        producer
    )
    .fetch_all(&state.pool)
    .await?;
    let ids: Vec<i64> = orders.iter().map(|o| o.order_id).collect();
    let lines = sqlx::query!(
        r#"select order_id, product_id, name, unit, unit_price as "unit_price: Vnd", quantity,
                  line_total as "line_total: Vnd", discount as "discount: Vnd"
           from order_line where order_id = any($1) order by name"#,
        &ids
    )
    .fetch_all(&state.pool)
    .await?;
    let vouchers = crate::experiences::vouchers(&state.pool, &ids).await?;
    let events = sqlx::query!(
        r#"select order_id, at, to_status as "to_status: Status", actor as "actor: Actor", note
           from order_event where order_id = any($1) order by order_event_id"#,
        &ids
    )
    .fetch_all(&state.pool)
    .await?;
    let parcel = sqlx::query!(
        r#"select s.order_id, e.at as "at!", e.track as "track!", e.note
           from shipment s join shipment_event e using (shipment_id)
           where s.order_id = any($1) and s.state <> 'cancelled' and e.outcome = 'applied'
             and e.at is not null and e.track is not null
           order by e.at, e.shipment_event_id"#,
        &ids
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(orders
        .into_iter()
        .map(|o| {
            let status = o.status;
            OrderView {
                order_id: o.order_id,
                producer_name: o.producer_name,
                status_label: crate::i18n::label("status", status.key(), status.label()),
                // a booked experience follows its cancellation policy
                shopper_can_cancel: status.allows(Status::Cancelled, Actor::Shopper)
                    && vouchers
                        .iter()
                        .filter(|v| v.order_id == o.order_id)
                        .all(|v| v.cancellable),
                status,
                goods_total: o.goods_total,
                shipping_fee: o.shipping_fee,
                discount_total: o.discount_total,
                carrier: o.carrier,
                tracking_number: o.tracking_number,
                cancel_reason: o.cancel_reason,
                lines: lines
                    .iter()
                    .filter(|l| l.order_id == o.order_id)
                    .map(|l| Line {
                        name: l.name.clone(),
                        unit: l.unit.clone(),
                        unit_price: l.unit_price,
                        quantity: l.quantity,
                        line_total: l.line_total,
                        discount: l.discount,
                        product_id: l.product_id,
                    })
                    .collect(),
                vouchers: vouchers
                    .iter()
                    .filter(|v| v.order_id == o.order_id)
                    .cloned()
                    .collect(),
                events: events
                    .iter()
                    .filter(|e| e.order_id == o.order_id)
                    .map(|e| Event {
                        at: e.at,
                        label: crate::i18n::label("status", e.to_status.key(), e.to_status.label()),
                        actor: crate::i18n::label("actor", e.actor.key(), e.actor.label()),
                        note: e.note.clone(),
                    })
                    .collect(),
                parcel: parcel
                    .iter()
                    .filter(|e| e.order_id == o.order_id)
                    .filter_map(|e| {
                        Some(ParcelEvent {
                            at: e.at,
                            label: crate::shipping::Track::from_key(&e.track)?.label(),
                            note: e.note.clone(),
                        })
                    })
                    .collect(),
            }
        })
        .collect())
}
