//! Payment routes that are not one provider's: starting an online payment, the shoppers' return
//! page, the order page's status poll, and the staff review queue. Each gateway brings its own
//! callback and return routes (`gateways::routes`).

use super::review::{Reason, Resolution};
use super::{Provider, gateways};
use crate::auth::{Session, Staff};
use crate::checkout::PaymentMethod;
use crate::domain::Vnd;
use crate::error::AppError;
use crate::forms::{CheckedForm, Id};
use crate::render::render_page;
use crate::state::AppState;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(gateways::routes())
        .route("/pay/{code}/{method}", post(start))
        .route("/orders/{code}/status", get(status))
        .route("/staff/payments", get(review_queue))
        .route("/staff/payments/{id}/resolve", post(resolve))
}

async fn start(
    State(state): State<AppState>,
    Path((code, method)): Path<(String, String)>,
    crate::auth::ClientIp(ip): crate::auth::ClientIp,
    CheckedForm { session, .. }: CheckedForm<BTreeMap<String, String>>,
) -> Result<Response, AppError> {
    if !session.data.orders.contains(&code) && !owns(&state, &session, &code).await? {
        return Err(AppError::NotFound);
    }
    let method = PaymentMethod::from_key(&method)
        .filter(|m| m.online() && state.payments.enabled().contains(m))
        .ok_or(AppError::NotFound)?;
    let to = begin(&state, &code, method, &ip).await?;
    Ok(Redirect::to(&to).into_response())
}

/// Starts paying order group `code` with `method` (online, enabled) and says where the shopper
/// goes next: the provider's page, or the order page when there is nothing left to pay.
pub async fn begin(
    state: &AppState,
    code: &str,
    method: PaymentMethod,
    ip: &str,
) -> Result<String, AppError> {
    let Some(attempt) = super::start_attempt(&state.pool, code, method).await? else {
        return Ok(format!("/orders/{code}"));
    };
    sqlx::query!(
        "update order_group set payment_method = $2 where code = $1",
        code,
        method.key()
    )
    .execute(&state.pool)
    .await?;
    gateways::start(state, method, &attempt, ip).await
}

async fn owns(state: &AppState, session: &Session, code: &str) -> Result<bool, AppError> {
    let Some(uid) = session.data.user_id else {
        return Ok(false);
    };
    Ok(sqlx::query_scalar!(
        "select exists(select 1 from order_group where code = $1 and user_id = $2) as \"e!\"",
        code,
        uid
    )
    .fetch_one(&state.pool)
    .await?)
}

pub(super) async fn return_page(
    state: &AppState,
    valid: bool,
    ok: bool,
    reference: &str,
) -> Result<Response, AppError> {
    let code = sqlx::query_scalar!(
        "select g.code from payment p join order_group g using (order_group_id) where p.reference = $1",
        reference
    )
    .fetch_optional(&state.pool)
    .await?;
    Ok(render_page(
        "payments/return.html",
        &json!({ "valid": valid, "ok": ok, "code": code }),
    ))
}

// ---------- the order page's poll ----------

async fn status(
    State(state): State<AppState>,
    session: Session,
    Path(code): Path<String>,
) -> Result<Response, AppError> {
    if !session.data.orders.contains(&code) && !owns(&state, &session, &code).await? {
        return Err(AppError::NotFound);
    }
    let statuses = sqlx::query_scalar!(
        r#"select o.status as "status: crate::orders::Status" from shop_order o join order_group g using (order_group_id) where g.code = $1"#,
        code
    )
    .fetch_all(&state.pool)
    .await?;
    let waiting = !statuses.is_empty()
        && statuses
            .iter()
            .all(|s| *s == crate::orders::Status::PendingPayment);
    Ok(axum::Json(json!({ "waiting_for_payment": waiting, "statuses": statuses })).into_response())
}

// ---------- staff review queue ----------

#[derive(Deserialize)]
struct QueueQuery {
    /// what the last action did, said back to the person who did it
    done: Option<String>,
    code: Option<String>,
}

/// The review queue's page.
#[derive(Serialize)]
struct QueuePage<'a> {
    csrf: &'a str,
    events: Vec<QueueRow>,
    /// what the last action did
    done: Option<String>,
    staff: serde_json::Value,
}

/// Money waiting for staff, with what the provider said about it.
#[derive(Serialize)]
struct QueueRow {
    id: i64,
    provider: Provider,
    received_at: time::OffsetDateTime,
    /// what the provider said arrived (unknown for an unreadable callback)
    amount: Option<Vnd>,
    reason: &'static str,
    too_low: bool,
    tx: Option<String>,
    code: Option<String>,
    grand_total: Option<Vnd>,
    facts: super::events::Facts,
    /// the start of the raw callback
    body: String,
    /// the order group spans provinces: only national staff may settle it
    national_only: bool,
}

async fn review_queue(
    State(state): State<AppState>,
    staff: Staff,
    session: Session,
    Query(q): Query<QueueQuery>,
) -> Result<Response, AppError> {
    let events: Vec<QueueRow> = sqlx::query!(
        r#"select e.payment_event_id, e.provider as "provider: Provider", e.received_at, e.amount as "amount: Vnd",
                  e.review_reason as "review_reason: Reason", e.provider_tx_id,
                  g.code as "code?", g.grand_total as "grand_total?: Vnd", e.body,
                  ($1::smallint is not null and exists (select 1 from shop_order o join producer pr using (producer_id)
                        where o.order_group_id = e.order_group_id and pr.province_code <> $1)) as "national_only!"
           from payment_event e left join order_group g using (order_group_id)
           where e.outcome = 'review' and e.resolved_at is null
             and ($1::smallint is null
                  or exists (select 1 from shop_order o join producer pr using (producer_id)
                             where o.order_group_id = e.order_group_id and pr.province_code = $1))
           order by e.received_at limit 200"#,
        staff.province
    )
    .fetch_all(&state.pool)
    .await?
    .into_iter()
    .map(|r| QueueRow {
        id: r.payment_event_id,
        provider: r.provider,
        received_at: r.received_at,
        amount: r.amount,
        reason: r.review_reason.map_or("Cần xem xét", Reason::label),
        too_low: r.review_reason == Some(Reason::AmountTooLow),
        tx: r.provider_tx_id,
        code: r.code,
        grand_total: r.grand_total,
        facts: gateways::facts(r.provider, &r.body),
        body: r.body.chars().take(400).collect(),
        national_only: r.national_only,
    })
    .collect();
    let code = q
        .code
        .filter(|c| c.len() == 12 && c.chars().all(|c| c.is_ascii_alphanumeric()));
    let done = match (q.done.as_deref(), code) {
        (Some("applied"), Some(c)) => Some(format!(
            "Đã áp dụng khoản tiền vào đơn {c}: đơn chuyển sang đã thanh toán và người bán được báo."
        )),
        (Some("refunded"), _) => {
            Some("Đã ghi nhận: khoản tiền đã được hoàn ngoài hệ thống.".to_string())
        }
        (Some("dismissed"), _) => Some("Đã ghi nhận: bỏ qua khoản này.".to_string()),
        _ => None,
    };
    let page = QueuePage {
        csrf: &session.data.csrf,
        events,
        done,
        staff: staff.view(&state),
    };
    Ok(render_page("staff/payments.html", &page))
}

#[derive(Deserialize)]
struct ResolveForm {
    #[serde(default)]
    resolution: String,
    #[serde(default)]
    note: String,
}

async fn resolve(
    State(state): State<AppState>,
    staff: Staff,
    Id(id): Id,
    CheckedForm { form, .. }: CheckedForm<ResolveForm>,
) -> Result<Response, AppError> {
    let resolution = Resolution::from_key(&form.resolution)
        .ok_or_else(|| AppError::bad("bad_resolution", "Vui lòng chọn cách xử lý."))?;
    if form.note.trim().chars().count() < 5 {
        return Err(AppError::bad(
            "note_required",
            "Vui lòng ghi chú cách xử lý (ít nhất 5 ký tự). Chưa có gì thay đổi.",
        ));
    }
    // in scope: national staff everything; province staff only money whose every order is in
    // their province (a group spanning provinces, or money of no known order, is national staff's)
    let visible = sqlx::query_scalar!(
        r#"select exists(select 1 from payment_event e where e.payment_event_id = $1 and ($2::smallint is null
             or (exists (select 1 from shop_order o where o.order_group_id = e.order_group_id)
                 and not exists (select 1 from shop_order o join producer pr using (producer_id)
                                 where o.order_group_id = e.order_group_id and pr.province_code <> $2)))) as "e!""#,
        id,
        staff.province
    )
    .fetch_one(&state.pool)
    .await?;
    if !visible {
        return Err(AppError::NotFound);
    }
    match super::review::resolve(
        &state.pool,
        id,
        staff.user.user_id,
        resolution,
        form.note.trim(),
    )
    .await?
    {
        Ok(()) => {
            let code = sqlx::query_scalar!(
                "select g.code from payment_event e join order_group g using (order_group_id) where e.payment_event_id = $1",
                id
            )
            .fetch_optional(&state.pool)
            .await?
            .unwrap_or_default();
            Ok(Redirect::to(&format!(
                "/staff/payments?done={}&code={code}",
                resolution.key()
            ))
            .into_response())
        }
        Err(message) => Err(AppError::bad(
            "cannot_resolve",
            format!("{message} Chưa có gì thay đổi."),
        )),
    }
}
