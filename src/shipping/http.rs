//! The carriers' webhooks (`/shipping/{carrier}/webhook`) and, in sandbox mode, the sandbox
//! carrier's pages: a parcel a person moves along, and its printable label.

use super::carriers::{CarrierId, Track, sandbox};
use super::shipments;
use crate::error::AppError;
use crate::render::render_page;
use crate::state::AppState;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/shipping/{carrier}/webhook",
            post(webhook).layer(DefaultBodyLimit::max(64 * 1024)),
        )
        .route("/sandbox/shipping/labels", get(sandbox_labels))
        .route(
            "/sandbox/shipping/{tracking}",
            get(sandbox_page).post(sandbox_move),
        )
}

/// A carrier's webhook: limited per sending address, kept, read and confirmed. A carrier retries
/// what is not answered 2xx, so only what we could not store or apply gets a 5xx.
async fn webhook(
    State(state): State<AppState>,
    crate::auth::ClientIp(ip): crate::auth::ClientIp,
    Path(carrier): Path<String>,
    body: Bytes,
) -> Response {
    let Some(carrier) = CarrierId::from_key(&carrier) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if let Err(r) = crate::payments::gateways::limited(&state, carrier.key(), &ip).await {
        return r;
    }
    match shipments::receive(&state, carrier, &body).await {
        Ok(Ok(_)) => (StatusCode::OK, axum::Json(json!({"success": true}))).into_response(),
        Ok(Err(refusal)) => (
            match refusal {
                super::carriers::Refusal::BadToken => StatusCode::UNAUTHORIZED,
                super::carriers::Refusal::NotConfigured => StatusCode::NOT_FOUND,
                super::carriers::Refusal::Unreadable => StatusCode::BAD_REQUEST,
            },
            axum::Json(json!({"success": false, "message": refusal.as_str()})),
        )
            .into_response(),
        Err(e) => {
            tracing::error!(carrier = carrier.key(), error = %e, "shipment event not stored or applied; the carrier will retry");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

fn sandbox_on(state: &AppState) -> Result<(), AppError> {
    if state.carriers.sandbox {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

fn tracking_ok(t: &str) -> bool {
    t.len() <= 40 && t.starts_with("SBX") && t[3..].bytes().all(|b| b.is_ascii_digit())
}

/// The buttons a person presses for a parcel, in the order a parcel lives them.
const MOVES: [(&str, &str); 9] = [
    ("picked_up", "Đã lấy hàng"),
    ("in_transit", "Đang vận chuyển"),
    ("delivering", "Đang giao"),
    ("delivered", "Giao thành công"),
    ("delivery_failed", "Giao không thành công"),
    ("returning", "Đang hoàn hàng"),
    ("returned", "Đã hoàn hàng về người bán"),
    ("remit", "Đã chuyển tiền thu hộ (COD) cho sàn"),
    (
        "lost",
        "Giao thành công nhưng không gửi thông báo (webhook bị mất)",
    ),
];

async fn sandbox_page(
    State(state): State<AppState>,
    Path(tracking): Path<String>,
) -> Result<Response, AppError> {
    sandbox_on(&state)?;
    if !tracking_ok(&tracking) {
        return Err(AppError::NotFound);
    }
    let mut redis = state.redis.clone();
    let parcel = sandbox::get(&mut redis, &state.config.redis_namespace(), &tracking)
        .await
        .map_err(|_| AppError::NotFound)?;
    let moves: Vec<_> = MOVES
        .iter()
        .map(|(k, l)| json!({"key": k, "label": l}))
        .collect();
    Ok(render_page(
        "shipping/sandbox.html",
        &json!({
            "parcel": parcel,
            "track_label": parcel.track.label(),
            "moves": moves,
        }),
    )
    .into_response())
}

#[derive(Deserialize)]
struct Move {
    to: String,
}

/// A click: the parcel moves, and the carrier's webhook goes through the same path the real
/// carriers reach (or, for "lost", none: the poll finds it).
async fn sandbox_move(
    State(state): State<AppState>,
    Path(tracking): Path<String>,
    axum::Form(m): axum::Form<Move>,
) -> Result<Response, AppError> {
    sandbox_on(&state)?;
    if !tracking_ok(&tracking) {
        return Err(AppError::NotFound);
    }
    let (to, remit, send) = match m.to.as_str() {
        "remit" => (None, true, true),
        "lost" => (Some(Track::Delivered), false, false),
        k => (
            Some(
                Track::from_key(k)
                    .ok_or_else(|| AppError::bad("bad_move", "Trạng thái không hợp lệ."))?,
            ),
            false,
            true,
        ),
    };
    let mut redis = state.redis.clone();
    let body = sandbox::advance(
        &mut redis,
        &state.config.redis_namespace(),
        &tracking,
        to,
        remit,
    )
    .await
    .map_err(|_| AppError::NotFound)?;
    if send {
        // the sandbox signs nothing it would refuse; what it sends is applied like any webhook
        let _ = shipments::receive(&state, CarrierId::Sandbox, &body).await?;
    } else {
        // nobody is told: make the poll ask now rather than in an hour
        sqlx::query!(
            "update shipment set next_poll_at = now() where carrier = 'sandbox' and tracking = $1 and state = 'active'",
            tracking
        )
        .execute(&state.pool)
        .await?;
    }
    Ok(Redirect::to(&format!("/sandbox/shipping/{tracking}")).into_response())
}

#[derive(Deserialize)]
struct Codes {
    #[serde(default)]
    codes: String,
}

/// The sandbox carrier's labels, one per parcel, ready to print.
async fn sandbox_labels(
    State(state): State<AppState>,
    Query(q): Query<Codes>,
) -> Result<Response, AppError> {
    sandbox_on(&state)?;
    let codes: Vec<&str> = q
        .codes
        .split(',')
        .filter(|c| tracking_ok(c))
        .take(100)
        .collect();
    let labels = sqlx::query!(
        r#"select s.tracking as "tracking!", s.cod_amount, s.client_code, g.buyer_name, g.phone, g.street,
                  c.name as commune, pv.name as province, p.name as producer, p.address as producer_address,
                  coalesce(p.phone, '') as "producer_phone!"
           from shipment s join shop_order o using (order_id) join order_group g using (order_group_id)
           join commune c on c.commune_code = g.commune_code join province pv on pv.province_code = g.province_code
           join producer p on p.producer_id = o.producer_id
           where s.carrier = 'sandbox' and s.tracking = any($1)
           order by s.tracking"#,
        &codes as &[&str]
    )
    .fetch_all(&state.pool)
    .await?;
    let labels: Vec<_> = labels
        .into_iter()
        .map(|l| {
            json!({
                "tracking": l.tracking, "cod": l.cod_amount, "client_code": l.client_code,
                "to": format!("{} · {}", l.buyer_name, l.phone),
                "address": format!("{}, {}, {}", l.street, l.commune, l.province),
                "from": if l.producer_phone.is_empty() {
                    l.producer.clone()
                } else {
                    format!("{} · {}", l.producer, l.producer_phone)
                },
                "from_address": l.producer_address,
            })
        })
        .collect();
    if labels.is_empty() {
        return Err(AppError::NotFound);
    }
    Ok(render_page("shipping/labels.html", &json!({ "labels": labels })).into_response())
}
