//! Shipments: made at the carrier when the producer confirms an order (one per order at a time,
//! retried under the same client code, never twice), their labels, and what the carriers say about
//! them. Webhooks are stored raw first, deduplicated, and confirmed by asking the carrier before
//! they move anything; a polling job asks about shipments with no recent news. Carrier statuses
//! move the order: picked up → shipped, delivered → delivered, failed delivery → returning,
//! returned → returned (stock back). A status that goes backwards is recorded, never applied.

use super::carriers::{
    self, CarrierError, CarrierId, Event, Item, Label, NewShipment, Party, Place, Refusal, Track,
};
use crate::domain::Vnd;
use crate::orders::{Actor, Details, Status, TransitionError, transition};
use crate::state::AppState;
use serde::Serialize;
use sqlx::PgPool;
use time::OffsetDateTime;

/// Our reference for an order at the carriers (the n-th shipment after cancelled ones).
pub fn client_code(order_id: i64, attempt: i64) -> String {
    if attempt <= 1 {
        format!("OCOP-{order_id}")
    } else {
        format!("OCOP-{order_id}-{attempt}")
    }
}

/// What became of asking for a shipment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Made {
    /// the carrier has it (now, or from an earlier try)
    Active { tracking: String },
    /// the carrier refused or could not be reached: its words, and whether trying again may help
    Failed { message: String, retryable: bool },
    /// another request is making it right now
    InProgress,
}

/// Asks `carrier` to carry a confirmed order. Safe to repeat: the shipment row is claimed first
/// (one per order), and the carrier gets the same client code on every try.
pub async fn create(
    state: &AppState,
    producer_id: i64,
    order_id: i64,
    carrier: CarrierId,
    user_id: Option<i64>,
) -> Result<Made, sqlx::Error> {
    let mut tx = state.pool.begin().await?;
    let order = sqlx::query!(
        r#"select o.status as "status: Status", o.goods_total, o.shipping_fee, o.discount_total, o.ship_service,
                  g.buyer_name, g.phone, g.street, g.commune_code, g.province_code as to_province,
                  g.payment_method, g.note,
                  p.name as producer_name, coalesce(p.phone, '') as "producer_phone!", p.address,
                  p.commune_code as from_commune, p.province_code as from_province
           from shop_order o join order_group g using (order_group_id) join producer p using (producer_id)
           where o.order_id = $1 and o.producer_id = $2
           for update of o"#,
        order_id,
        producer_id
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(order) = order else {
        return Ok(Made::Failed {
            message: "Không tìm thấy đơn hàng.".into(),
            retryable: false,
        });
    };
    if order.status != Status::Confirmed {
        return Ok(Made::Failed {
            message: "Chỉ tạo vận đơn cho đơn đã xác nhận, chưa giao.".into(),
            retryable: false,
        });
    }
    let live = sqlx::query!(
        r#"select shipment_id, state, tracking,
                  -- a try that never finished (the process stopped while the carrier was asked)
                  (state = 'creating' and updated_at < now() - interval '2 minutes') as "stale!"
           from shipment where order_id = $1 and state <> 'cancelled'"#,
        order_id
    )
    .fetch_optional(&mut *tx)
    .await?;
    let attempts: i64 = sqlx::query_scalar!(
        r#"select count(*) as "n!" from shipment where order_id = $1"#,
        order_id
    )
    .fetch_one(&mut *tx)
    .await?;
    // the carrier collects what the shopper pays at the door
    let cod = if order.payment_method == "cod" {
        order.goods_total + order.shipping_fee - order.discount_total
    } else {
        0
    };
    let (shipment_id, code) = match live {
        Some(s) if s.state == "active" || s.state == "done" => {
            return Ok(Made::Active {
                tracking: s.tracking.unwrap_or_default(),
            });
        }
        Some(s) if s.state == "creating" && !s.stale => return Ok(Made::InProgress),
        Some(s) => {
            // a failed try: the same row and client code; asking another carrier takes a new code,
            // since the one asked before may have made it under the old one
            let code = sqlx::query_scalar!(
                "update shipment set state = 'creating', error = null, created_by = $3,
                     client_code = case when carrier = $2 then client_code else $4 end, carrier = $2
                 where shipment_id = $1 returning client_code",
                s.shipment_id,
                carrier.key(),
                user_id,
                client_code(order_id, attempts + 1)
            )
            .fetch_one(&mut *tx)
            .await?;
            (s.shipment_id, code)
        }
        None => {
            let code = client_code(order_id, attempts + 1);
            let id = sqlx::query_scalar!(
                "insert into shipment (order_id, carrier, client_code, cod_amount, created_by)
                 values ($1, $2, $3, $4, $5) returning shipment_id",
                order_id,
                carrier.key(),
                code,
                cod,
                user_id
            )
            .fetch_one(&mut *tx)
            .await?;
            (id, code)
        }
    };
    let lines = sqlx::query!(
        r#"select l.name, l.quantity, l.unit_price, l.unit, p.weight_grams, p.length_cm, p.width_cm, p.height_cm
           from order_line l left join product p using (product_id) where l.order_id = $1 order by l.product_id"#,
        order_id
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;

    let pieces: Vec<super::Piece> = lines
        .iter()
        .map(|l| {
            let dims = match (l.length_cm, l.width_cm, l.height_cm) {
                (Some(a), Some(b), Some(c)) => Some((a, b, c)),
                _ => None,
            };
            super::Piece::new(
                l.weight_grams,
                dims,
                &l.unit,
                l.quantity.max(0) as u32,
                Vnd::new(l.unit_price),
            )
        })
        .collect();
    let parcel = super::parcel(&pieces, Vnd::new(cod));
    let items = lines
        .iter()
        .zip(&pieces)
        .map(|(l, p)| Item {
            name: l.name.clone(),
            quantity: l.quantity,
            weight_g: p.weight_g,
            price: Vnd::new(l.unit_price),
        })
        .collect();
    let ends = places(
        &state.pool,
        carrier,
        (order.from_province, order.from_commune),
        (order.to_province, order.commune_code),
    )
    .await;
    let made = match ends {
        Err(e) => Err(e),
        Ok((from, to)) => {
            let shipment = NewShipment {
                client_code: code,
                from: Party {
                    name: order.producer_name,
                    phone: order.producer_phone,
                    street: order.address,
                    place: from,
                },
                to: Party {
                    name: order.buyer_name,
                    phone: order.phone,
                    street: order.street,
                    place: to,
                },
                parcel,
                service: order.ship_service.unwrap_or_default(),
                items,
                note: order.note,
            };
            ask_create(state, carrier, &shipment).await
        }
    };
    match made {
        Ok(c) => {
            let mut tx = state.pool.begin().await?;
            sqlx::query!(
                "update shipment set state = 'active', tracking = $2, fee = $3, expected_at = $4, track = 'created',
                     last_event_at = now(), next_poll_at = case when carrier = 'viettelpost' then null else now() + interval '1 hour' end
                 where shipment_id = $1",
                shipment_id,
                c.tracking,
                c.fee.map(|f| f.amount()),
                c.expected
            )
            .execute(&mut *tx)
            .await?;
            sqlx::query!(
                "insert into shipment_event (carrier, source, shipment_id, track, carrier_status, note, at, outcome)
                 values ($1, 'create', $2, 'created', 'created', $3, now(), 'applied')",
                carrier.key(),
                shipment_id,
                format!("{} · mã vận đơn {}", carrier.name(), c.tracking)
            )
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(Made::Active {
                tracking: c.tracking,
            })
        }
        Err(e) => {
            let message = e.to_string();
            sqlx::query!(
                "update shipment set state = 'failed', error = $2 where shipment_id = $1",
                shipment_id,
                message
            )
            .execute(&state.pool)
            .await?;
            tracing::warn!(carrier = carrier.key(), order.id = order_id, error = %e, "shipment not created");
            Ok(Made::Failed {
                retryable: e.retryable(),
                message,
            })
        }
    }
}

async fn ask_create(
    state: &AppState,
    carrier: CarrierId,
    s: &NewShipment,
) -> Result<carriers::Created, CarrierError> {
    let c = &state.carriers;
    let mut redis = state.redis.clone();
    match carrier {
        CarrierId::Sandbox if c.sandbox => {
            carriers::sandbox::create(&mut redis, &state.config.redis_namespace(), s).await
        }
        CarrierId::Ghn => {
            carriers::ghn::create(
                c.ghn.as_ref().ok_or(CarrierError::NotConfigured)?,
                &state.http,
                s,
            )
            .await
        }
        CarrierId::Ghtk => {
            carriers::ghtk::create(
                c.ghtk.as_ref().ok_or(CarrierError::NotConfigured)?,
                &state.http,
                s,
            )
            .await
        }
        CarrierId::Viettelpost => {
            let cfg = c.vtp.as_ref().ok_or(CarrierError::NotConfigured)?;
            carriers::vtp::create(cfg, &state.http, &mut redis, s).await
        }
        CarrierId::Sandbox => Err(CarrierError::NotConfigured),
    }
}

/// Both ends as the carrier keys them (the sandbox by our province codes).
pub async fn places(
    pool: &PgPool,
    carrier: CarrierId,
    from: (i16, i32),
    to: (i16, i32),
) -> Result<(Place, Place), CarrierError> {
    if carrier == CarrierId::Sandbox {
        let at = |p: i16| Place {
            province_id: Some(i64::from(p)),
            ..Place::default()
        };
        return Ok((at(from.0), at(to.0)));
    }
    let rows = sqlx::query!(
        "select commune_code, province_id, district_id, ward_id, ward_code, province_name, district_name, ward_name
         from carrier_place where carrier = $1 and commune_code = any($2)",
        carrier.key(),
        &[from.1, to.1][..]
    )
    .fetch_all(pool)
    .await
    .map_err(|_| CarrierError::Unavailable("cơ sở dữ liệu".into()))?;
    let find = |code: i32| {
        rows.iter().find(|r| r.commune_code == code).map(|r| Place {
            province_id: r.province_id,
            district_id: r.district_id,
            ward_id: r.ward_id,
            ward_code: r.ward_code.clone(),
            province_name: r.province_name.clone(),
            district_name: r.district_name.clone(),
            ward_name: r.ward_name.clone(),
        })
    };
    match (find(from.1), find(to.1)) {
        (Some(f), Some(t)) => Ok((f, t)),
        (None, _) => Err(CarrierError::Refused(format!(
            "{} chưa xác định được địa chỉ lấy hàng của bạn (xã/phường chưa có trong danh mục của hãng). Hãy chọn hãng khác hoặc tự giao.",
            carrier.name()
        ))),
        (_, None) => Err(CarrierError::Refused(format!(
            "{} chưa xác định được địa chỉ người nhận (xã/phường chưa có trong danh mục của hãng). Hãy chọn hãng khác hoặc tự giao.",
            carrier.name()
        ))),
    }
}

/// Asks the carrier where a parcel is now.
pub async fn ask_status(
    state: &AppState,
    carrier: CarrierId,
    tracking: &str,
) -> Result<Event, CarrierError> {
    let c = &state.carriers;
    let mut redis = state.redis.clone();
    match carrier {
        CarrierId::Sandbox if c.sandbox => {
            carriers::sandbox::status(&mut redis, &state.config.redis_namespace(), tracking).await
        }
        CarrierId::Ghn => {
            carriers::ghn::status(
                c.ghn.as_ref().ok_or(CarrierError::NotConfigured)?,
                &state.http,
                tracking,
            )
            .await
        }
        CarrierId::Ghtk => {
            carriers::ghtk::status(
                c.ghtk.as_ref().ok_or(CarrierError::NotConfigured)?,
                &state.http,
                tracking,
            )
            .await
        }
        CarrierId::Viettelpost | CarrierId::Sandbox => Err(CarrierError::Unsupported),
    }
}

/// Calls off the carrier before an order is cancelled: a shipment not picked up yet is cancelled
/// at the carrier (and here); one the carrier already has stops the cancellation, in words the
/// person reads.
pub async fn withdraw(state: &AppState, order_id: i64) -> Result<Result<(), String>, sqlx::Error> {
    let Some(s) = sqlx::query!(
        r#"select shipment_id, carrier as "carrier: CarrierId", tracking, state, track
           from shipment where order_id = $1 and state <> 'cancelled'"#,
        order_id
    )
    .fetch_optional(&state.pool)
    .await?
    else {
        return Ok(Ok(()));
    };
    match (s.state.as_str(), s.track.as_deref()) {
        ("failed", _) => {}
        ("creating", _) => {
            return Ok(Err(
                "Vận đơn đang được tạo; vui lòng thử lại sau ít giây.".into()
            ));
        }
        ("active", Some("created")) => {
            let tracking = s.tracking.clone().unwrap_or_default();
            if let Err(e) = ask_cancel(state, s.carrier, &tracking).await {
                return Ok(Err(format!(
                    "Chưa huỷ được vận đơn {tracking} ở {}: {e}. Đơn hàng chưa bị huỷ.",
                    s.carrier.name()
                )));
            }
            sqlx::query!(
                "insert into shipment_event (carrier, source, shipment_id, track, carrier_status, note, at, outcome)
                 values ($1, 'create', $2, 'cancelled', 'cancelled', 'Đã huỷ vận đơn', now(), 'applied')",
                s.carrier.key(),
                s.shipment_id
            )
            .execute(&state.pool)
            .await?;
        }
        _ => {
            return Ok(Err(format!(
                "Hàng đã được giao cho {}: không huỷ được đơn nữa.",
                s.carrier.name()
            )));
        }
    }
    sqlx::query!(
        "update shipment set state = 'cancelled', track = 'cancelled', next_poll_at = null where shipment_id = $1",
        s.shipment_id
    )
    .execute(&state.pool)
    .await?;
    Ok(Ok(()))
}

async fn ask_cancel(
    state: &AppState,
    carrier: CarrierId,
    tracking: &str,
) -> Result<(), CarrierError> {
    let c = &state.carriers;
    let mut redis = state.redis.clone();
    match carrier {
        CarrierId::Sandbox if c.sandbox => {
            carriers::sandbox::cancel(&mut redis, &state.config.redis_namespace(), tracking).await
        }
        CarrierId::Ghn => {
            carriers::ghn::cancel(
                c.ghn.as_ref().ok_or(CarrierError::NotConfigured)?,
                &state.http,
                tracking,
            )
            .await
        }
        CarrierId::Ghtk => {
            carriers::ghtk::cancel(
                c.ghtk.as_ref().ok_or(CarrierError::NotConfigured)?,
                &state.http,
                tracking,
            )
            .await
        }
        CarrierId::Viettelpost => {
            let cfg = c.vtp.as_ref().ok_or(CarrierError::NotConfigured)?;
            carriers::vtp::cancel(cfg, &state.http, &mut redis, tracking).await
        }
        CarrierId::Sandbox => Err(CarrierError::NotConfigured),
    }
}

/// Labels for several shipments of one carrier, printed together where the carrier allows.
pub async fn labels(
    state: &AppState,
    carrier: CarrierId,
    trackings: &[String],
) -> Result<Vec<Label>, CarrierError> {
    let c = &state.carriers;
    let mut redis = state.redis.clone();
    Ok(match carrier {
        CarrierId::Sandbox => vec![carriers::sandbox::label(trackings)],
        CarrierId::Ghn => vec![
            carriers::ghn::label(
                c.ghn.as_ref().ok_or(CarrierError::NotConfigured)?,
                &state.http,
                trackings,
            )
            .await?,
        ],
        CarrierId::Viettelpost => vec![
            carriers::vtp::label(
                c.vtp.as_ref().ok_or(CarrierError::NotConfigured)?,
                &state.http,
                &mut redis,
                trackings,
            )
            .await?,
        ],
        // GHTK answers one PDF per label
        CarrierId::Ghtk => {
            let cfg = c.ghtk.as_ref().ok_or(CarrierError::NotConfigured)?;
            let mut out = vec![];
            for t in trackings {
                out.push(carriers::ghtk::label(cfg, &state.http, t).await?);
            }
            out
        }
    })
}

/// A shipment as the pages show it.
#[derive(Debug, Clone, Serialize)]
pub struct View {
    pub shipment_id: i64,
    pub carrier: CarrierId,
    pub carrier_name: &'static str,
    pub tracking: Option<String>,
    pub state: String,
    pub track: Option<Track>,
    pub track_label: Option<&'static str>,
    pub error: Option<String>,
    pub fee: Option<Vnd>,
    pub expected_at: Option<OffsetDateTime>,
    pub events: Vec<EventView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventView {
    pub at: OffsetDateTime,
    pub label: &'static str,
    pub note: Option<String>,
}

/// The order's live shipment with what the carrier said, oldest first.
pub async fn for_order(pool: &PgPool, order_id: i64) -> Result<Option<View>, sqlx::Error> {
    let Some(s) = sqlx::query!(
        r#"select shipment_id, carrier as "carrier: CarrierId", tracking, state, track, error, fee, expected_at
           from shipment where order_id = $1 and state <> 'cancelled'"#,
        order_id
    )
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    let events = sqlx::query!(
        r#"select at as "at!", track as "track!", note from shipment_event
           where shipment_id = $1 and outcome = 'applied' and at is not null and track is not null
           order by at, shipment_event_id"#,
        s.shipment_id
    )
    .fetch_all(pool)
    .await?;
    let track = s.track.as_deref().and_then(Track::from_key);
    Ok(Some(View {
        shipment_id: s.shipment_id,
        carrier: s.carrier,
        carrier_name: s.carrier.name(),
        tracking: s.tracking,
        state: s.state,
        track,
        track_label: track.map(Track::label),
        error: s.error,
        fee: s.fee.map(Vnd::new),
        expected_at: s.expected_at,
        events: events
            .into_iter()
            .filter_map(|e| {
                Some(EventView {
                    at: e.at,
                    label: Track::from_key(&e.track)?.label(),
                    note: e.note,
                })
            })
            .collect(),
    }))
}

/// What became of a carrier's word about a shipment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// the shipment (and maybe the order) moved
    Moved {
        order_id: i64,
        /// the order's new state, when the parcel's news moved it
        order_to: Option<Status>,
    },
    /// kept: a state it already had, an older one, or one going backwards
    Recorded,
    /// no shipment of ours has that code
    Unknown,
}

/// Applies what the carrier says about a shipment (confirmed already): the shipment's state
/// moves forward only, and the order follows.
pub async fn apply(
    pool: &PgPool,
    carrier: CarrierId,
    event: &Event,
    event_row: Option<i64>,
) -> Result<Applied, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let s = sqlx::query!(
        "select shipment_id, order_id, track, tracking, state from shipment
         where carrier = $1 and ((tracking is not null and tracking = $2) or client_code = $3)
           and state in ('active', 'done')
         order by shipment_id desc limit 1
         for update",
        carrier.key(),
        event.tracking.as_deref().unwrap_or(""),
        event.client_code.as_deref().unwrap_or("")
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(s) = s else {
        if let Some(id) = event_row {
            sqlx::query!(
                "update shipment_event set outcome = 'unknown', reason = 'no such shipment' where shipment_event_id = $1",
                id
            )
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        return Ok(Applied::Unknown);
    };
    let current = s
        .track
        .as_deref()
        .and_then(Track::from_key)
        .unwrap_or(Track::Created);
    let forward = event.track.rank() > current.rank() && !current.is_final();
    // the carrier says the cash it collected is paid to us
    let remitted_now = event.cod_remitted
        && sqlx::query!(
            "update shipment set cod_remitted_at = $2
             where shipment_id = $1 and cod_remitted_at is null and cod_amount > 0",
            s.shipment_id,
            event.at
        )
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
    let mut order_to = None;
    if forward {
        sqlx::query!(
            "update shipment set track = $2, last_event_at = $3,
                 state = case when $4 then 'done' else state end,
                 next_poll_at = case when $4 then null else next_poll_at end
             where shipment_id = $1",
            s.shipment_id,
            event.track.key(),
            event.at,
            event.track.is_final()
        )
        .execute(&mut *tx)
        .await?;
        order_to = move_order(
            &mut tx,
            s.order_id,
            carrier,
            s.tracking.as_deref().unwrap_or(""),
            event.track,
        )
        .await?;
    }
    if remitted_now {
        // the ledger: what the carrier owed is in our bank, in the same transaction
        crate::settlement::catch_up(&mut tx, &[s.order_id], OffsetDateTime::now_utc()).await?;
    }
    let applied = forward || remitted_now;
    let outcome = if applied {
        Applied::Moved {
            order_id: s.order_id,
            order_to,
        }
    } else {
        Applied::Recorded
    };
    if let Some(id) = event_row {
        sqlx::query!(
            "update shipment_event set shipment_id = $2, outcome = $3, reason = $4 where shipment_event_id = $1",
            id,
            s.shipment_id,
            // the timeline shows what moved the parcel; a remittance alone is kept with its reason
            if forward { "applied" } else { "recorded" },
            match (forward, remitted_now) {
                (true, _) => None,
                (false, true) => Some("cash on delivery remitted"),
                (false, false) if event.track == current => Some("same state"),
                (false, false) => Some("not forward"),
            }
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(outcome)
}

/// The order's states a carrier status leads to, in order (a parcel delivered before we heard it
/// was picked up passes through shipped).
fn order_path(track: Track) -> &'static [Status] {
    match track {
        Track::PickedUp | Track::InTransit | Track::Delivering => &[Status::Shipped],
        Track::Delivered => &[Status::Shipped, Status::Delivered],
        Track::DeliveryFailed | Track::Returning => &[Status::Shipped, Status::Returning],
        Track::Returned => &[Status::Shipped, Status::Returned],
        Track::Created | Track::Cancelled | Track::Exception => &[],
    }
}

async fn move_order(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    order_id: i64,
    carrier: CarrierId,
    tracking: &str,
    track: Track,
) -> Result<Option<Status>, sqlx::Error> {
    let details = Details {
        reason: Some(format!("{}: {}", carrier.name(), track.label())),
        carrier: Some(carrier.name().to_string()),
        tracking_number: Some(tracking.to_string()),
    };
    let mut moved = None;
    for &to in order_path(track) {
        match transition(tx, order_id, to, Actor::Carrier, &details).await {
            Ok(_) => moved = Some(to),
            // already there, or past it (a producer marked it by hand): nothing to do
            Err(TransitionError::Refused { .. }) | Err(TransitionError::Invalid(_)) => {}
            Err(TransitionError::NotFound) => {}
            Err(TransitionError::Database(e)) => return Err(e),
        }
    }
    Ok(moved)
}

/// A webhook from `carrier`: kept raw, read, deduplicated, confirmed by asking the carrier
/// (Viettel Post cannot be asked: its shared token is the check), then applied. `Err` only when
/// it could not be stored or applied: the carrier should send it again.
pub async fn receive(
    state: &AppState,
    carrier: CarrierId,
    body: &[u8],
) -> Result<Result<Applied, Refusal>, sqlx::Error> {
    let raw = String::from_utf8_lossy(body);
    let row = sqlx::query_scalar!(
        "insert into shipment_event (carrier, source, body) values ($1, 'webhook', $2) returning shipment_event_id",
        carrier.key(),
        raw.as_ref()
    )
    .fetch_one(&state.pool)
    .await?;
    let read = match carrier {
        CarrierId::Ghn if state.carriers.ghn.is_some() => carriers::ghn::read_webhook(body),
        CarrierId::Ghtk if state.carriers.ghtk.is_some() => carriers::ghtk::read_webhook(body),
        CarrierId::Viettelpost => carriers::vtp::read_webhook(state.carriers.vtp.as_ref(), body),
        CarrierId::Sandbox if state.carriers.sandbox => carriers::sandbox::read_webhook(body),
        _ => Err(Refusal::NotConfigured),
    };
    let event = match read {
        Ok(e) => e,
        Err(r) => {
            sqlx::query!(
                "update shipment_event set outcome = 'refused', reason = $2 where shipment_event_id = $1",
                row,
                r.as_str()
            )
            .execute(&state.pool)
            .await?;
            return Ok(Err(r));
        }
    };
    // (carrier, parcel, status, time), and whether it says the cash was remitted: GHN reports a
    // remittance as the same status at a later time, the sandbox maybe within the same second
    let key = format!(
        "{}|{}|{}|{}{}",
        carrier.key(),
        event
            .tracking
            .as_deref()
            .or(event.client_code.as_deref())
            .unwrap_or(""),
        event.carrier_status,
        event.at.unix_timestamp(),
        if event.cod_remitted { "|cod" } else { "" },
    );
    let fresh = sqlx::query!(
        "update shipment_event set dedupe_key = $2, track = $3, carrier_status = $4, note = $5, at = $6
         where shipment_event_id = $1 and not exists (select 1 from shipment_event where dedupe_key = $2)",
        row,
        key,
        event.track.key(),
        event.carrier_status,
        event.note,
        event.at
    )
    .execute(&state.pool)
    .await;
    let fresh = match fresh {
        Ok(r) => r.rows_affected() == 1,
        // two deliveries of one event at once: the other one has it
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => false,
        Err(e) => return Err(e),
    };
    if !fresh {
        sqlx::query!(
            "update shipment_event set outcome = 'recorded', reason = 'duplicate' where shipment_event_id = $1",
            row
        )
        .execute(&state.pool)
        .await?;
        return Ok(Ok(Applied::Recorded));
    }
    // a hint until the carrier confirms it
    let confirmed = match (carrier, event.tracking.as_deref()) {
        (CarrierId::Viettelpost, _) => Some(event.clone()),
        (_, Some(tracking)) => match ask_status(state, carrier, tracking).await {
            Ok(now) => Some(Event {
                // the carrier's own word on where the parcel is, with the hint's identity
                tracking: event.tracking.clone(),
                client_code: event.client_code.clone(),
                cod_remitted: now.cod_remitted || event.cod_remitted && now.track == event.track,
                ..now
            }),
            Err(e) => {
                tracing::warn!(carrier = carrier.key(), error = %e, "webhook not confirmed; the poll will ask again");
                None
            }
        },
        (_, None) => None,
    };
    match confirmed {
        Some(e) => {
            let applied = apply(&state.pool, carrier, &e, Some(row)).await?;
            if let Applied::Moved {
                order_id,
                order_to: Some(to),
            } = applied
            {
                crate::orders::notify::change(state, order_id, to).await;
            }
            Ok(Ok(applied))
        }
        None => {
            sqlx::query!(
                "update shipment_event set outcome = 'recorded', reason = 'not confirmed by the carrier' where shipment_event_id = $1",
                row
            )
            .execute(&state.pool)
            .await?;
            Ok(Ok(Applied::Recorded))
        }
    }
}

/// Staff record that a carrier paid us the cash it collected for these parcels (from the
/// carrier's statement and our bank's, for carriers that do not report it themselves, such as
/// Viettel Post). Each goes through `apply`, so the ledger moves once, however often it is said.
/// Returns how many parcels were newly marked.
pub async fn staff_remitted(
    state: &AppState,
    staff_id: i64,
    province: Option<i16>,
    carrier: CarrierId,
    trackings: &[String],
) -> Result<usize, sqlx::Error> {
    let due = sqlx::query!(
        r#"select s.shipment_id, s.tracking as "tracking!", s.client_code
           from shipment s join shop_order o using (order_id) join producer p using (producer_id)
           where s.carrier = $1 and s.tracking = any($2) and s.track = 'delivered'
             and s.cod_amount > 0 and s.cod_remitted_at is null
             and ($3::smallint is null or p.province_code = $3)"#,
        carrier.key(),
        trackings,
        province
    )
    .fetch_all(&state.pool)
    .await?;
    let mut marked = 0;
    for s in due {
        let now = OffsetDateTime::now_utc();
        let row = sqlx::query_scalar!(
            "insert into shipment_event (carrier, source, shipment_id, track, carrier_status, note, at)
             values ($1, 'staff', $2, 'delivered', 'remitted', $3, $4) returning shipment_event_id",
            carrier.key(),
            s.shipment_id,
            format!("Cán bộ #{staff_id} ghi nhận hãng đã chuyển tiền thu hộ"),
            now
        )
        .fetch_one(&state.pool)
        .await?;
        let event = Event {
            tracking: Some(s.tracking),
            client_code: Some(s.client_code),
            track: Track::Delivered,
            carrier_status: "remitted".into(),
            note: None,
            at: now,
            cod_remitted: true,
            cod_amount: None,
        };
        if matches!(
            apply(&state.pool, carrier, &event, Some(row)).await?,
            Applied::Moved { .. }
        ) {
            marked += 1;
        }
    }
    Ok(marked)
}

/// Asks the carriers about active shipments with no news for a while. Safe on several instances:
/// each shipment is claimed (SKIP LOCKED) and its next poll pushed back before anyone asks.
pub async fn poll_once(state: &AppState) -> Result<usize, sqlx::Error> {
    let due = sqlx::query!(
        r#"with due as (
               select shipment_id from shipment
               where state = 'active' and next_poll_at <= now()
               order by next_poll_at limit 50
               for update skip locked
           )
           update shipment s set next_poll_at = now() + interval '30 minutes'
           from due where s.shipment_id = due.shipment_id
           returning s.shipment_id, s.carrier as "carrier: CarrierId", s.tracking as "tracking!""#
    )
    .fetch_all(&state.pool)
    .await?;
    let mut moved = 0;
    for s in due {
        match ask_status(state, s.carrier, &s.tracking).await {
            Ok(event) => {
                let row = sqlx::query_scalar!(
                    "insert into shipment_event (carrier, source, shipment_id, track, carrier_status, note, at)
                     values ($1, 'poll', $2, $3, $4, $5, $6) returning shipment_event_id",
                    s.carrier.key(),
                    s.shipment_id,
                    event.track.key(),
                    event.carrier_status,
                    event.note,
                    event.at
                )
                .fetch_one(&state.pool)
                .await?;
                if let Applied::Moved { order_id, order_to } =
                    apply(&state.pool, s.carrier, &event, Some(row)).await?
                {
                    moved += 1;
                    if let Some(to) = order_to {
                        crate::orders::notify::change(state, order_id, to).await;
                    }
                }
            }
            Err(e) => {
                tracing::info!(carrier = s.carrier.key(), error = %e, "shipment status not available")
            }
        }
    }
    Ok(moved)
}

/// Runs `poll_once` every `every` until the process stops.
pub async fn poll_forever(state: AppState, every: std::time::Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        match poll_once(&state).await {
            Ok(n) if n > 0 => tracing::info!(moved = n, "shipments moved by the carriers' status"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "shipment polling failed; retrying"),
        }
    }
}
