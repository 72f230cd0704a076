//! Fair and sales-point pages: staff create events, invite producers and watch each event's live
//! board (`/staff/events`); producers answer invitations (`/producer/events`) and sell from the
//! till (`/producer/till/{event}`), which works on a phone through a flaky connection.

use super::{
    Channel, Filter, NewEvent, Refused, SaleCode, SaleRequest, SaleState, Settle, TillMethod,
};
use crate::auth::{ProducerMember, Session, Staff};
use crate::domain::Vnd;
use crate::error::AppError;
use crate::forms::CheckedForm;
use crate::render::render_page;
use crate::state::AppState;
use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use time::{Date, OffsetDateTime};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/staff/events", get(staff_events).post(create_event))
        .route("/staff/events/{id}", get(staff_event))
        .route("/staff/events/{id}/invite", post(invite))
        .route("/producer/events", get(producer_events))
        .route("/producer/events/{id}/answer", post(answer))
        .route("/producer/till/{id}", get(till))
        .route("/producer/till/{id}/sales", post(record))
        .route("/producer/till/{id}/sales/{code}", get(sale_page))
        .route("/producer/till/{id}/sales/{code}/settle", post(settle))
}

fn date_field(form: &BTreeMap<String, String>, key: &str) -> Option<Date> {
    let s = form.get(key)?.trim();
    Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).ok()
}

// ---------- staff ----------

#[derive(Serialize)]
struct EventsPage {
    staff: Value,
    csrf: String,
    events: Vec<super::EventView>,
    picker: Value,
    values: BTreeMap<String, String>,
    errors: BTreeMap<&'static str, &'static str>,
}

async fn events_page(
    state: &AppState,
    staff: &Staff,
    session: &Session,
    values: BTreeMap<String, String>,
    errors: BTreeMap<&'static str, &'static str>,
) -> Result<Response, AppError> {
    let province = staff
        .province
        .or_else(|| values.get("province").and_then(|p| p.parse::<i16>().ok()));
    let mut values = values;
    if let Some(p) = staff.province {
        values.insert("province".into(), p.to_string());
    }
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = EventsPage {
        staff: staff.view(state),
        csrf: session.data.csrf.clone(),
        events: super::events(&state.pool, staff.province).await?,
        picker: state.catalog.snapshot().admin.picker(province),
        values,
        errors,
    };
    Ok((status, render_page("fairs/staff_events.html", &page)).into_response())
}

async fn staff_events(
    State(state): State<AppState>,
    staff: Staff,
    session: Session,
) -> Result<Response, AppError> {
    events_page(&state, &staff, &session, BTreeMap::new(), BTreeMap::new()).await
}

async fn create_event(
    State(state): State<AppState>,
    staff: Staff,
    CheckedForm { form, session }: CheckedForm<BTreeMap<String, String>>,
) -> Result<Response, AppError> {
    let mut errors = BTreeMap::new();
    let province = staff.province.or_else(|| {
        form.get("province")
            .and_then(|p| p.trim().parse::<i16>().ok())
    });
    let admin = &state.catalog.snapshot().admin;
    let commune = form
        .get("commune")
        .and_then(|c| c.trim().parse::<i32>().ok())
        .and_then(|c| admin.commune(c))
        .filter(|c| Some(c.province_code) == province);
    if form.get("step").map(String::as_str) == Some("province") {
        // the no-JavaScript province button: show its communes, nothing saved
        return events_page(&state, &staff, &session, form, errors).await;
    }
    if province.is_none_or(|p| admin.province(p).is_none() || !staff.covers(p)) {
        errors.insert("province", "Vui lòng chọn tỉnh, thành phố.");
    }
    if commune.is_none() {
        errors.insert("commune", "Vui lòng chọn xã, phường nơi tổ chức.");
    }
    let kind = form.get("kind").and_then(|k| Channel::from_key(k));
    if kind.is_none() {
        errors.insert("kind", "Vui lòng chọn loại: hội chợ hay điểm bán.");
    }
    let starts_on = date_field(&form, "starts_on");
    if starts_on.is_none() {
        errors.insert("starts_on", "Vui lòng nhập ngày bắt đầu (năm-tháng-ngày).");
    }
    let ends_on = date_field(&form, "ends_on");
    if ends_on.is_none() && !form.get("ends_on").is_none_or(|e| e.trim().is_empty()) {
        errors.insert("ends_on", "Ngày kết thúc không đọc được (năm-tháng-ngày).");
    }
    if let (Some(kind), Some(starts_on), Some(c), Some(p)) = (kind, starts_on, commune, province) {
        let e = NewEvent {
            kind,
            name: form.get("name").cloned().unwrap_or_default(),
            province_code: p,
            commune_code: c.code,
            place: form.get("place").cloned().unwrap_or_default(),
            starts_on,
            ends_on,
        };
        for (k, m) in e.check() {
            errors.entry(k).or_insert(m);
        }
        if errors.is_empty() {
            let id = super::create_event(&state.pool, staff.user.user_id, &e).await?;
            return Ok(Redirect::to(&format!("/staff/events/{id}")).into_response());
        }
    }
    events_page(&state, &staff, &session, form, errors).await
}

#[derive(Serialize)]
struct Candidate {
    producer_id: i64,
    name: String,
}

#[derive(Serialize)]
struct EventPage {
    staff: Value,
    csrf: String,
    event: super::EventView,
    place: String,
    board: super::Board,
    candidates: Vec<Candidate>,
    notice: Option<&'static str>,
    refreshed_at: OffsetDateTime,
}

#[derive(Deserialize, Default)]
struct Notice {
    ok: Option<String>,
}

async fn staff_event(
    State(state): State<AppState>,
    staff: Staff,
    session: Session,
    Path(id): Path<i64>,
    Query(q): Query<Notice>,
) -> Result<Response, AppError> {
    let event = super::event(&state.pool, id)
        .await?
        .filter(|e| staff.covers(e.province_code))
        .ok_or(AppError::NotFound)?;
    let board = super::board(&state.pool, id).await?;
    let candidates = sqlx::query_as!(
        Candidate,
        "select p.producer_id, p.name from producer p
         where p.province_code = $1 and p.status = 'approved'
           and not exists (select 1 from event_producer ep where ep.event_id = $2 and ep.producer_id = p.producer_id)
         order by p.name limit 500",
        event.province_code,
        id
    )
    .fetch_all(&state.pool)
    .await?;
    let commune = sqlx::query_scalar!(
        "select commune_code from sale_event where event_id = $1",
        id
    )
    .fetch_one(&state.pool)
    .await?;
    let page = EventPage {
        staff: staff.view(&state),
        csrf: session.data.csrf.clone(),
        place: state
            .catalog
            .snapshot()
            .admin
            .place(commune, event.province_code),
        event,
        board,
        candidates,
        notice: match q.ok.as_deref() {
            Some("invited") => Some("Đã mời. Chủ thể nhận lời trong cổng nhà sản xuất."),
            _ => None,
        },
        refreshed_at: OffsetDateTime::now_utc(),
    };
    Ok(render_page("fairs/staff_event.html", &page))
}

#[derive(Deserialize)]
struct InviteForm {
    #[serde(default)]
    producer_id: String,
}

async fn invite(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    CheckedForm { form, .. }: CheckedForm<InviteForm>,
) -> Result<Response, AppError> {
    super::event(&state.pool, id)
        .await?
        .filter(|e| staff.covers(e.province_code))
        .ok_or(AppError::NotFound)?;
    let producer = form
        .producer_id
        .trim()
        .parse::<i64>()
        .map_err(|_| AppError::bad("no_producer", "Vui lòng chọn chủ thể để mời."))?;
    if !super::invite(&state.pool, staff.user.user_id, id, producer).await? {
        return Err(AppError::bad(
            "not_invitable",
            "Chỉ mời được chủ thể đã duyệt của tỉnh tổ chức sự kiện.",
        ));
    }
    Ok(Redirect::to(&format!("/staff/events/{id}?ok=invited")).into_response())
}

// ---------- producer: invitations ----------

#[derive(Serialize)]
struct InvitationsPage<'a> {
    member: &'a ProducerMember,
    csrf: String,
    invitations: Vec<super::Invitation>,
    has_payout_account: bool,
    notice: Option<&'static str>,
}

async fn producer_events(
    State(state): State<AppState>,
    member: ProducerMember,
    session: Session,
    Query(q): Query<Notice>,
) -> Result<Response, AppError> {
    let has_payout_account = sqlx::query_scalar!(
        r#"select exists (select 1 from payout_account where producer_id = $1) as "e!""#,
        member.producer_id
    )
    .fetch_one(&state.pool)
    .await?;
    let page = InvitationsPage {
        invitations: super::invitations(&state.pool, member.producer_id).await?,
        member: &member,
        csrf: session.data.csrf.clone(),
        has_payout_account,
        notice: match q.ok.as_deref() {
            Some("accepted") => Some("Đã nhận lời. Mở máy bán hàng khi sự kiện bắt đầu."),
            Some("declined") => Some("Đã từ chối lời mời."),
            _ => None,
        },
    };
    Ok(render_page("fairs/producer_events.html", &page))
}

#[derive(Deserialize)]
struct AnswerForm {
    #[serde(default)]
    answer: String,
    #[serde(default)]
    own_account: Option<String>,
}

async fn answer(
    State(state): State<AppState>,
    member: ProducerMember,
    Path(id): Path<i64>,
    CheckedForm { form, .. }: CheckedForm<AnswerForm>,
) -> Result<Response, AppError> {
    // the owner commits the producer; its staff sell at the stall
    member.owner()?;
    let accept = form.answer == "accept";
    if !super::answer(
        &state.pool,
        id,
        member.producer_id,
        accept,
        form.own_account.is_some(),
    )
    .await?
    {
        return Err(AppError::NotFound);
    }
    Ok(Redirect::to(if accept {
        "/producer/events?ok=accepted"
    } else {
        "/producer/events?ok=declined"
    })
    .into_response())
}

// ---------- producer: the till ----------

#[derive(Serialize)]
struct TillProduct {
    product_id: i64,
    name: String,
    unit: String,
    price: Vnd,
    stock: i32,
}

#[derive(Serialize)]
struct TillPage<'a> {
    member: &'a ProducerMember,
    csrf: String,
    seat: super::Seat,
    products: Vec<TillProduct>,
    sales: Vec<super::SaleView>,
    today: Date,
    /// the day's paid sales: count, value, of which by transfer
    day_sales: i64,
    day_value: Vnd,
    day_non_cash: Vnd,
    lookup: BTreeMap<String, String>,
    looked_up: bool,
    sandbox: bool,
    notice: Option<String>,
    /// a sale's key and code for a phone without JavaScript (the till makes its own)
    fresh_key: String,
    fresh_code: String,
}

async fn seat_of(
    state: &AppState,
    member: &ProducerMember,
    id: i64,
) -> Result<super::Seat, AppError> {
    super::seat(
        &state.pool,
        state.payments.bank.as_ref(),
        id,
        member.producer_id,
    )
    .await?
    .ok_or(AppError::NotFound)
}

#[derive(Deserialize, Default)]
struct TillQuery {
    amount: Option<String>,
    time: Option<String>,
    ok: Option<String>,
}

async fn till(
    State(state): State<AppState>,
    member: ProducerMember,
    session: Session,
    Path(id): Path<i64>,
    Query(q): Query<TillQuery>,
) -> Result<Response, AppError> {
    let seat = seat_of(&state, &member, id).await?;
    let products = sqlx::query_as!(
        TillProduct,
        r#"select product_id, name, unit, price_vnd as "price: Vnd", stock from product
           where producer_id = $1 and not hidden order by name"#,
        member.producer_id
    )
    .fetch_all(&state.pool)
    .await?;
    let today = crate::domain::vn_today();
    // the stallholder finds a customer's sale by the amount they sent and about when
    let amount = q
        .amount
        .as_deref()
        .and_then(Vnd::parse_amount)
        .filter(|a| *a > 0)
        .map(Vnd::new);
    let around = q.time.as_deref().and_then(|t| {
        time::Time::parse(
            t.trim(),
            time::macros::format_description!("[hour]:[minute]"),
        )
        .ok()
    });
    let looked_up = amount.is_some() || around.is_some();
    let filter = Filter {
        event_id: Some(id),
        day: Some(today),
        amount,
        around,
        ..Filter::default()
    };
    let sales = super::sales(&state.pool, member.producer_id, &filter).await?;
    let all_today = if looked_up {
        super::sales(
            &state.pool,
            member.producer_id,
            &Filter {
                event_id: Some(id),
                day: Some(today),
                ..Filter::default()
            },
        )
        .await?
    } else {
        sales.clone()
    };
    let paid: Vec<&super::SaleView> = all_today
        .iter()
        .filter(|s| s.state == SaleState::Paid)
        .collect();
    let mut lookup = BTreeMap::new();
    if let Some(a) = &q.amount {
        lookup.insert("amount".to_string(), a.clone());
    }
    if let Some(t) = &q.time {
        lookup.insert("time".to_string(), t.clone());
    }
    let page = TillPage {
        member: &member,
        csrf: session.data.csrf.clone(),
        day_sales: paid.len() as i64,
        day_value: paid.iter().map(|s| s.amount).sum(),
        day_non_cash: paid
            .iter()
            .filter(|s| s.method == TillMethod::Vietqr)
            .map(|s| s.amount)
            .sum(),
        seat,
        products,
        sales,
        today,
        lookup,
        looked_up,
        sandbox: state.config.payment_sandbox,
        fresh_key: super::fresh_key(),
        fresh_code: super::fresh_code().as_str().to_string(),
        notice: q.ok.map(|o| match o.as_str() {
            "cash" => "Đã ghi nhận tiền mặt.".to_string(),
            "received" => "Đã ghi nhận tiền vào tài khoản của cơ sở.".to_string(),
            "cancel" => "Đã huỷ giao dịch, hàng đã trả lại tồn kho.".to_string(),
            _ => "Đã ghi nhận.".to_string(),
        }),
    };
    Ok(render_page("fairs/till.html", &page))
}

/// What a phone sends (as a form, so the CSRF check is the portal's).
#[derive(Deserialize)]
struct SaleForm {
    #[serde(default)]
    key: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    method: String,
    /// `product:quantity:unit price` separated by `;`
    #[serde(default)]
    items: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    note: String,
    /// the phone's clock, in milliseconds since 1970
    #[serde(default)]
    sold_at: String,
    #[serde(default)]
    offline: Option<String>,
}

fn parse_items(items: &str) -> Option<Vec<(i64, i32, Vnd)>> {
    let mut lines: Vec<(i64, i32, Vnd)> = vec![];
    for part in items.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let mut f = part.split(':');
        let (Some(id), Some(q), Some(price), None) = (f.next(), f.next(), f.next(), f.next())
        else {
            return None;
        };
        let line = (
            id.parse().ok()?,
            q.parse().ok()?,
            Vnd::new(price.parse::<i64>().ok().filter(|p| *p > 0)?),
        );
        if lines.iter().any(|l| l.0 == line.0) || lines.len() >= 100 {
            return None;
        }
        lines.push(line);
    }
    Some(lines)
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"))
}

fn refusal(json: bool, message: String) -> Response {
    if json {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({ "ok": false, "error": message })),
        )
            .into_response()
    } else {
        AppError::bad("till_refused", message).into_response()
    }
}

/// The VietQR a waiting transfer sale shows.
fn payload(seat: &super::Seat, sale: &super::SaleView) -> Option<String> {
    let a = seat.account.as_ref()?;
    (sale.state == SaleState::Awaiting && sale.method == TillMethod::Vietqr).then(|| {
        crate::payments::gateways::bank::vietqr_payload(
            &a.bin,
            &a.number,
            sale.amount - sale.received,
            &sale.code,
        )
    })
}

async fn record(
    State(state): State<AppState>,
    member: ProducerMember,
    Path(id): Path<i64>,
    headers: HeaderMap,
    CheckedForm { form, .. }: CheckedForm<SaleForm>,
) -> Result<Response, AppError> {
    let json = wants_json(&headers);
    let Some(seat) = super::seat(
        &state.pool,
        state.payments.bank.as_ref(),
        id,
        member.producer_id,
    )
    .await?
    else {
        return Ok(refusal(json, Refused::NotSeated.message()));
    };
    let (Some(code), Some(method), Some(lines)) = (
        SaleCode::parse(&form.code),
        TillMethod::from_key(&form.method),
        parse_items(&form.items),
    ) else {
        return Ok(refusal(json, Refused::BadKey.message()));
    };
    let typed = if form.amount.trim().is_empty() {
        None
    } else {
        match Vnd::parse_amount(&form.amount) {
            Some(a) => Some(Vnd::new(a)),
            None => {
                return Ok(refusal(
                    json,
                    "Số tiền không đọc được: chỉ nhập số, ví dụ 150000.".into(),
                ));
            }
        }
    };
    let sold_at = form
        .sold_at
        .trim()
        .parse::<i64>()
        .ok()
        .and_then(|ms| OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok())
        .unwrap_or_else(OffsetDateTime::now_utc);
    let req = SaleRequest {
        client_key: form.key.trim().to_string(),
        code,
        method,
        lines,
        typed,
        note: form.note,
        sold_at,
        offline: form.offline.is_some(),
    };
    match super::record_sale(
        &state.pool,
        &seat,
        member.producer_id,
        member.user.user_id,
        &req,
    )
    .await?
    {
        Err(r) => Ok(refusal(json, r.message())),
        Ok(sale) if json => Ok(Json(json!({
            "ok": true, "payload": payload(&seat, &sale), "sale": sale,
        }))
        .into_response()),
        Ok(sale) => {
            Ok(Redirect::to(&format!("/producer/till/{id}/sales/{}", sale.code)).into_response())
        }
    }
}

#[derive(Serialize)]
struct SalePage<'a> {
    member: &'a ProducerMember,
    csrf: String,
    seat: super::Seat,
    sale: super::SaleView,
    qr_svg: Option<String>,
    sandbox: bool,
}

#[derive(Deserialize, Default)]
struct SaleQuery {
    format: Option<String>,
}

/// A sale: its QR while it waits (drawn by the server, for a phone without JavaScript), what
/// came in, and the stallholder's buttons; `?format=json` is what the till polls.
async fn sale_page(
    State(state): State<AppState>,
    member: ProducerMember,
    session: Session,
    Path((id, code)): Path<(i64, String)>,
    Query(q): Query<SaleQuery>,
) -> Result<Response, AppError> {
    let code = SaleCode::parse(&code).ok_or(AppError::NotFound)?;
    let seat = seat_of(&state, &member, id).await?;
    let sale = super::state_of(&state.pool, member.producer_id, &code)
        .await?
        .filter(|s| s.event_id == id)
        .ok_or(AppError::NotFound)?;
    if q.format.as_deref() == Some("json") {
        return Ok(Json(json!({ "ok": true, "sale": sale })).into_response());
    }
    let qr_svg = payload(&seat, &sale).map(|p| crate::settlement::reports::qr_svg(&p));
    let page = SalePage {
        member: &member,
        csrf: session.data.csrf.clone(),
        seat,
        sale,
        qr_svg,
        sandbox: state.config.payment_sandbox,
    };
    Ok(render_page("fairs/sale.html", &page))
}

#[derive(Deserialize)]
struct SettleForm {
    #[serde(default)]
    how: String,
}

async fn settle(
    State(state): State<AppState>,
    member: ProducerMember,
    Path((id, code)): Path<(i64, String)>,
    CheckedForm { form, .. }: CheckedForm<SettleForm>,
) -> Result<Response, AppError> {
    let code = SaleCode::parse(&code).ok_or(AppError::NotFound)?;
    let sale = super::state_of(&state.pool, member.producer_id, &code)
        .await?
        .filter(|s| s.event_id == id)
        .ok_or(AppError::NotFound)?;
    let how = match form.how.as_str() {
        "cash" => Settle::Cash,
        "received" => Settle::OwnAccountReceived,
        "cancel" => Settle::Cancel,
        _ => return Err(AppError::bad("bad_action", "Thao tác không hợp lệ.")),
    };
    if !super::settle(&state.pool, member.producer_id, sale.sale_id, how).await? {
        return Err(AppError::Conflict(
            "Giao dịch này không còn chờ tiền (đã nhận tiền hoặc đã huỷ). Tải lại trang để xem."
                .into(),
        ));
    }
    Ok(Redirect::to(&format!("/producer/till/{id}?ok={}", form.how)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phone_sends_each_product_once_with_a_positive_price() {
        assert_eq!(
            parse_items("12:2:150000;7:1:45000"),
            Some(vec![(12, 2, Vnd::new(150_000)), (7, 1, Vnd::new(45_000))])
        );
        assert_eq!(parse_items(""), Some(vec![]));
        assert_eq!(parse_items("12:2:150000;12:1:150000"), None);
        assert_eq!(parse_items("12:2:0"), None);
        assert_eq!(parse_items("12:2"), None);
        assert_eq!(parse_items("12:x:100"), None);
    }
}
