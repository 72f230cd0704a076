//! Parcels in the back office: which carriers each province offers, shipments with no news for
//! days (to chase), and cash on delivery the carriers collected but have not paid us yet, per
//! carrier. Province staff see and set their province only; every change goes to the audit log.

use super::*;
use crate::domain::Vnd;
use crate::shipping::CarrierId;
use time::OffsetDateTime;

#[derive(Deserialize, Default)]
pub(super) struct ShippingQuery {
    province: Option<String>,
    days: Option<String>,
    ok: Option<String>,
    /// a carrier whose unremitted parcels are listed one by one
    cod: Option<String>,
}

#[derive(Serialize)]
struct CarrierRow {
    key: &'static str,
    name: &'static str,
    configured: bool,
    enabled: bool,
}

#[derive(Serialize)]
struct Late {
    order_id: i64,
    carrier: &'static str,
    tracking: String,
    track: &'static str,
    last_event_at: Option<OffsetDateTime>,
    producer: String,
}

#[derive(Serialize)]
struct Owed {
    key: &'static str,
    carrier: &'static str,
    parcels: i64,
    amount: Vnd,
    oldest: Option<OffsetDateTime>,
}

/// One parcel whose cash the carrier still owes, to chase by its tracking code.
#[derive(Serialize)]
struct OwedParcel {
    order_id: i64,
    producer: String,
    tracking: String,
    amount: Vnd,
    delivered_at: Option<OffsetDateTime>,
}

#[derive(Serialize)]
struct ShippingPage {
    /// the province whose carriers are shown (one for province staff; chosen by national staff)
    province: Option<i16>,
    province_name: Option<String>,
    provinces: Vec<(i16, String)>,
    carriers: Vec<CarrierRow>,
    days: i64,
    late: Vec<Late>,
    owed: Vec<Owed>,
    /// the carrier drilled into, and its parcels (oldest first)
    cod_carrier: Option<&'static str>,
    cod_parcels: Vec<OwedParcel>,
    notice: Option<&'static str>,
}

pub(super) async fn shipping(
    State(state): State<AppState>,
    staff: Staff,
    session: Session,
    Query(q): Query<ShippingQuery>,
) -> Result<Response, AppError> {
    let province = staff.province.or_else(|| {
        q.province
            .as_deref()
            .and_then(|p| p.parse::<i16>().ok())
            .filter(|p| province_name(&state, Some(*p)).is_some())
    });
    let days = q
        .days
        .as_deref()
        .and_then(|d| d.parse::<i64>().ok())
        .unwrap_or(3)
        .clamp(1, 60);
    let off: Vec<CarrierId> = match province {
        Some(p) => sqlx::query_scalar!(
            r#"select carrier as "c: CarrierId" from carrier_setting where province_code = $1 and not enabled"#,
            p
        )
        .fetch_all(&state.pool)
        .await?,
        None => vec![],
    };
    let carriers = CarrierId::ALL
        .into_iter()
        .map(|c| CarrierRow {
            key: c.key(),
            name: c.name(),
            configured: state.carriers.configured(c),
            enabled: state.carriers.configured(c) && !off.contains(&c),
        })
        .collect();
    let scope = staff.province;
    let late = sqlx::query!(
        r#"select s.order_id, s.carrier as "carrier: CarrierId", s.tracking as "tracking!", s.track, s.last_event_at,
                  p.name as producer
           from shipment s join shop_order o using (order_id) join producer p using (producer_id)
           where s.state = 'active' and coalesce(s.last_event_at, s.created_at) < now() - make_interval(days => $1::int)
             and ($2::smallint is null or p.province_code = $2)
           order by coalesce(s.last_event_at, s.created_at) limit 200"#,
        days as i32,
        scope
    )
    .fetch_all(&state.pool)
    .await?
    .into_iter()
    .map(|r| Late {
        order_id: r.order_id,
        carrier: r.carrier.name(),
        tracking: r.tracking,
        track: r
            .track
            .as_deref()
            .and_then(crate::shipping::Track::from_key)
            .map(crate::shipping::Track::label)
            .unwrap_or(""),
        last_event_at: r.last_event_at,
        producer: r.producer,
    })
    .collect();
    let owed = sqlx::query!(
        r#"select s.carrier as "carrier: CarrierId", count(*) as "parcels!", sum(s.cod_amount)::bigint as "amount!",
                  min(s.last_event_at) as oldest
           from shipment s join shop_order o using (order_id) join producer p using (producer_id)
           where s.cod_amount > 0 and s.cod_remitted_at is null and s.track = 'delivered'
             and ($1::smallint is null or p.province_code = $1)
           group by 1 order by 1"#,
        scope
    )
    .fetch_all(&state.pool)
    .await?
    .into_iter()
    .map(|r| Owed {
        key: r.carrier.key(),
        carrier: r.carrier.name(),
        parcels: r.parcels,
        amount: Vnd::new(r.amount),
        oldest: r.oldest,
    })
    .collect();
    let cod_carrier = q.cod.as_deref().and_then(CarrierId::from_key);
    let cod_parcels = match cod_carrier {
        Some(c) => sqlx::query!(
            r#"select s.order_id, p.name as producer, s.tracking as "tracking!", s.cod_amount, s.last_event_at
               from shipment s join shop_order o using (order_id) join producer p using (producer_id)
               where s.carrier = $1 and s.cod_amount > 0 and s.cod_remitted_at is null and s.track = 'delivered'
                 and ($2::smallint is null or p.province_code = $2)
               order by s.last_event_at nulls first, s.order_id limit 500"#,
            c.key(),
            scope
        )
        .fetch_all(&state.pool)
        .await?
        .into_iter()
        .map(|r| OwedParcel {
            order_id: r.order_id,
            producer: r.producer,
            tracking: r.tracking,
            amount: Vnd::new(r.cod_amount),
            delivered_at: r.last_event_at,
        })
        .collect(),
        None => vec![],
    };
    let snapshot = state.catalog.snapshot();
    let page = ShippingPage {
        province,
        province_name: province_name(&state, province),
        provinces: if staff.province.is_none() {
            snapshot
                .admin
                .provinces
                .iter()
                .map(|p| (p.code, p.name.clone()))
                .collect()
        } else {
            vec![]
        },
        carriers,
        days,
        late,
        owed,
        cod_carrier: cod_carrier.map(CarrierId::name),
        cod_parcels,
        notice: (q.ok.as_deref() == Some("carriers"))
            .then_some("Đã lưu các đơn vị vận chuyển của tỉnh."),
    };
    Ok(show(
        StatusCode::OK,
        "staff/shipping.html",
        &framed(&state, &session, &staff, page),
    ))
}

/// Sets which of the configured carriers a province offers.
pub(super) async fn save_carriers(
    State(state): State<AppState>,
    staff: Staff,
    CheckedForm { form, .. }: CheckedForm<BTreeMap<String, String>>,
) -> Result<Response, AppError> {
    // one checkbox per carrier (`on_<carrier>`), ticked or absent
    let province = form
        .get("province")
        .and_then(|p| p.parse::<i16>().ok())
        .filter(|p| province_name(&state, Some(*p)).is_some())
        .ok_or_else(|| AppError::bad("bad_province", "Vui lòng chọn tỉnh."))?;
    if !staff.covers(province) {
        return Err(AppError::Forbidden);
    }
    let mut tx =
        crate::audit::begin(&state.pool, staff.user.user_id, "shipping.carriers", None).await?;
    for c in CarrierId::ALL {
        let on = form.contains_key(&format!("on_{}", c.key()));
        sqlx::query!(
            "insert into carrier_setting (province_code, carrier, enabled, updated_by) values ($1, $2, $3, $4)
             on conflict (province_code, carrier) do update
                 set enabled = excluded.enabled, updated_at = now(), updated_by = excluded.updated_by",
            province,
            c.key(),
            on,
            staff.user.user_id
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    crate::shipping::quotes::forget_enabled(&state, province).await;
    Ok(Redirect::to(&format!("/staff/shipping?province={province}&ok=carriers")).into_response())
}

/// Staff record the cash a carrier paid us, by the tracking codes on its statement.
pub(super) async fn cod_remitted(
    State(state): State<AppState>,
    staff: Staff,
    CheckedForm { form, .. }: CheckedForm<BTreeMap<String, String>>,
) -> Result<Response, AppError> {
    let carrier = form
        .get("carrier")
        .and_then(|c| CarrierId::from_key(c))
        .ok_or_else(|| AppError::bad("bad_carrier", "Vui lòng chọn hãng vận chuyển."))?;
    let codes: Vec<String> = form
        .get("codes")
        .map(|c| {
            c.split(|ch: char| ch.is_whitespace() || ch == ',' || ch == ';')
                .filter(|t| (4..=40).contains(&t.len()))
                .map(str::to_string)
                .take(2000)
                .collect()
        })
        .unwrap_or_default();
    if codes.is_empty() {
        return Err(AppError::bad(
            "no_codes",
            "Vui lòng dán các mã vận đơn có trong bảng đối soát của hãng.",
        ));
    }
    let marked = crate::shipping::shipments::staff_remitted(
        &state,
        staff.user.user_id,
        staff.province,
        carrier,
        &codes,
    )
    .await?;
    tracing::info!(
        carrier = carrier.key(),
        marked,
        staff.id = staff.user.user_id,
        "cash on delivery recorded as remitted"
    );
    Ok(Redirect::to("/staff/shipping?ok=remitted").into_response())
}
