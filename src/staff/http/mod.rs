//! `/staff/...`: queues, approvals, verification, revocation, the audit log, appointments.

mod audit;
mod certificates;
mod fx;
mod invoices;
mod money;
mod orders;
mod producers;
mod shipping;
mod users;

use audit::*;
use certificates::*;
use fx::*;
use invoices::*;
use money::*;
use orders::*;
use producers::*;
use shipping::*;
use users::*;

use crate::auth::{Admin, NationalStaff, Session, Staff};
use crate::domain::Role;
use crate::error::AppError;
use crate::forms::{CheckedForm, Id};
use crate::render::render_page;
use crate::state::AppState;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/staff", get(home))
        .route("/staff/producers", get(producers))
        .route("/staff/producers/{id}/approve", post(approve_producer))
        .route("/staff/producers/{id}/reject", post(reject_producer))
        .route("/staff/certificates", get(certificates))
        .route("/staff/certificates/{id}/verify", post(verify_certificate))
        .route("/staff/certificates/{id}/reject", post(reject_certificate))
        .route("/staff/certificates/{id}/revoke", post(revoke_certificate))
        .route("/staff/certificates/{id}/scan", get(scan))
        .route("/staff/dashboard", get(super::dashboard::page))
        .route("/staff/dashboard.csv", get(super::dashboard::csv))
        .route("/staff/api-tokens", post(super::dashboard::create_token))
        .route("/api/v1/stats/summary", get(super::dashboard::api_summary))
        .route("/api/v1/stats/{table}", get(super::dashboard::api_table))
        .route("/staff/orders", get(orders))
        .route("/staff/orders/{id}", get(order_detail))
        .route("/staff/orders/{id}/refund", post(refund))
        .route("/staff/audit", get(audit))
        .route("/staff/settlement", get(settlement))
        .route("/staff/settlement/adjust", post(adjust))
        .route("/staff/payouts", get(payouts_page).post(start_run))
        .route("/staff/payouts/{id}", get(run_page))
        .route("/staff/payouts/{id}/bank.csv", get(bank_file))
        .route("/staff/payout-lines/{id}/{action}", post(settle))
        .route("/staff/tax", get(tax))
        .route(
            "/staff/producers/{id}/identity-checked",
            post(identity_checked),
        )
        .route("/staff/tax.csv", get(tax_csv))
        .route("/staff/commission", get(commission).post(add_rule))
        .route("/staff/settlement/settings", post(save_settings))
        .route("/staff/shipping", get(shipping))
        .route("/staff/invoices", get(invoices))
        .route("/staff/shipping/carriers", post(save_carriers))
        .route("/staff/shipping/remitted", post(cod_remitted))
        .route("/staff/users", get(users_page).post(appoint))
        .route("/staff/users/disable", post(disable_account))
        .route("/staff/fx", get(fx_page).post(fx_save))
}

#[derive(Deserialize, Default)]
pub(super) struct ListQuery {
    status: Option<String>,
    ok: Option<String>,
    q: Option<String>,
    before: Option<i64>,
    page: Option<String>,
}

/// Rows per page of a back-office list.
pub(super) const PER_PAGE: i64 = 50;

/// The page asked for (1 when absent or not a number) and the links around it, for `total` rows.
pub(super) fn paging(asked: Option<&str>, total: i64, href: impl Fn(i64) -> String) -> (i64, Nav) {
    let last = ((total + PER_PAGE - 1) / PER_PAGE).max(1);
    let page = asked
        .and_then(|p| p.trim().parse::<i64>().ok())
        .unwrap_or(1)
        .clamp(1, last);
    let nav = Nav {
        page,
        last,
        total,
        first_row: if total == 0 {
            0
        } else {
            (page - 1) * PER_PAGE + 1
        },
        last_row: (page * PER_PAGE).min(total),
        prev: (page > 1).then(|| href(page - 1)),
        next: (page < last).then(|| href(page + 1)),
    };
    (page, nav)
}

/// The links around one page of a back-office list, and which rows it shows.
#[derive(Serialize)]
pub(super) struct Nav {
    page: i64,
    last: i64,
    total: i64,
    first_row: i64,
    last_row: i64,
    prev: Option<String>,
    next: Option<String>,
}

pub(super) fn notice_text(key: Option<&str>) -> Option<&'static str> {
    Some(match key? {
        "approved" => {
            "Đã phê duyệt chủ thể. Sản phẩm có chứng nhận đã xác nhận sẽ được bày bán ngay."
        }
        "rejected" => "Đã từ chối và gửi lý do cho chủ thể.",
        "verified" => "Đã xác nhận giấy chứng nhận.",
        "cert_rejected" => "Đã từ chối giấy chứng nhận và gửi lý do cho chủ thể.",
        "revoked" => "Đã thu hồi chứng nhận: sản phẩm đã rời khỏi sàn và kết quả tìm kiếm.",
        "appointed" => "Đã cập nhật vai trò.",
        "disabled" => "Đã khoá tài khoản: mọi phiên đăng nhập của tài khoản đã kết thúc.",
        "refunded" => "Đã ghi nhận hoàn tiền.",
        _ => return None,
    })
}

/// A back-office page: the frame every one of them has (the CSRF token, who is signed in and
/// their scope) around the page's own typed content.
#[derive(Serialize)]
pub(super) struct Framed<'a, T> {
    csrf: &'a str,
    staff: Value,
    scope_name: Option<String>,
    #[serde(flatten)]
    body: T,
}

pub(super) fn framed<'a, T: Serialize>(
    state: &AppState,
    session: &'a Session,
    staff: &Staff,
    body: T,
) -> Framed<'a, T> {
    Framed {
        csrf: &session.data.csrf,
        staff: staff.view(state),
        scope_name: province_name(state, staff.province),
        body,
    }
}

pub(super) fn show(status: StatusCode, template: &str, ctx: &impl Serialize) -> Response {
    (status, render_page(template, ctx)).into_response()
}

pub(super) fn province_name(state: &AppState, code: Option<i16>) -> Option<String> {
    code.and_then(|c| {
        state
            .catalog
            .snapshot()
            .admin
            .province(c)
            .map(|p| p.name.clone())
    })
}

pub(super) async fn home(
    State(state): State<AppState>,
    staff: Staff,
    session: Session,
) -> Result<Response, AppError> {
    let counts = sqlx::query!(
        r#"select
             (select count(*) from producer where status = 'pending' and ($1::smallint is null or province_code = $1)) as "producers!",
             (select count(*) from certificate c join product p using (product_id) join producer pr using (producer_id)
               where c.verification = 'pending' and ($1::smallint is null or pr.province_code = $1)) as "certificates!""#,
        staff.province
    )
    .fetch_one(&state.pool)
    .await?;
    let page = HomePage {
        pending_producers: counts.producers,
        pending_certificates: counts.certificates,
    };
    Ok(show(
        StatusCode::OK,
        "staff/home.html",
        &framed(&state, &session, &staff, page),
    ))
}

/// What waits for this staff member.
#[derive(Serialize)]
struct HomePage {
    pending_producers: i64,
    pending_certificates: i64,
}
