//! `/staff/...`: queues, approvals, verification, revocation, the audit log, appointments.

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
use serde::Deserialize;
use serde_json::{Value, json};

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
        .route("/staff/users", get(users_page).post(appoint))
        .route("/staff/users/disable", post(disable_account))
}

#[derive(Deserialize, Default)]
struct ListQuery {
    status: Option<String>,
    ok: Option<String>,
    q: Option<String>,
    before: Option<i64>,
    page: Option<String>,
}

/// Rows per page of a back-office list.
const PER_PAGE: i64 = 50;

/// The page asked for (1 when absent or not a number) and the links around it, for `total` rows.
fn paging(asked: Option<&str>, total: i64, href: impl Fn(i64) -> String) -> (i64, Value) {
    let last = ((total + PER_PAGE - 1) / PER_PAGE).max(1);
    let page = asked
        .and_then(|p| p.trim().parse::<i64>().ok())
        .unwrap_or(1)
        .clamp(1, last);
    let nav = json!({
        "page": page, "last": last, "total": total,
        "first_row": if total == 0 { 0 } else { (page - 1) * PER_PAGE + 1 },
        "last_row": (page * PER_PAGE).min(total),
        "prev": (page > 1).then(|| href(page - 1)),
        "next": (page < last).then(|| href(page + 1)),
    });
    (page, nav)
}

fn notice_text(key: Option<&str>) -> Option<&'static str> {
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

fn page(state: &AppState, session: &Session, staff: &Staff, extra: Value) -> Value {
    let mut ctx = json!({
        "csrf": session.data.csrf,
        "staff": staff.view(&state),
        "scope_name": province_name(state, staff.province),
        "values": {}, "errors": {},
    });
    if let (Value::Object(base), Value::Object(more)) = (&mut ctx, extra) {
        base.extend(more);
    }
    ctx
}

fn show(status: StatusCode, template: &str, ctx: &Value) -> Response {
    (status, render_page(template, ctx)).into_response()
}

fn province_name(state: &AppState, code: Option<i16>) -> Option<String> {
    code.and_then(|c| {
        state
            .catalog
            .snapshot()
            .admin
            .province(c)
            .map(|p| p.name.clone())
    })
}

async fn home(
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
    let ctx = page(
        &state,
        &session,
        &staff,
        json!({ "pending_producers": counts.producers, "pending_certificates": counts.certificates }),
    );
    Ok(show(StatusCode::OK, "staff/home.html", &ctx))
}

async fn producers(
    State(state): State<AppState>,
    staff: Staff,
    session: Session,
    Query(q): Query<ListQuery>,
) -> Result<Response, AppError> {
    let status = match q.status.as_deref() {
        Some(s @ ("approved" | "rejected")) => s,
        _ => "pending",
    };
    let total = sqlx::query_scalar!(
        r#"select count(*) as "n!" from producer pr
           where pr.status = $1 and ($2::smallint is null or pr.province_code = $2)"#,
        status,
        staff.province
    )
    .fetch_one(&state.pool)
    .await?;
    let (page_no, nav) = paging(q.page.as_deref(), total, |n| {
        format!("/staff/producers?status={status}&page={n}")
    });
    let rows: Vec<Value> = sqlx::query!(
        r#"select pr.producer_id, pr.name, pr.producer_type, pr.address, pr.phone, pr.email, pr.registration_no,
                  pr.rejection_reason, pr.created_at, c.name as commune_name, pv.name as province_name,
                  (select u.display_name from producer_member m join app_user u using (user_id)
                    where m.producer_id = pr.producer_id and m.role = 'owner') as owner_name
           from producer pr join commune c on c.commune_code = pr.commune_code
           join province pv on pv.province_code = pr.province_code
           where pr.status = $1 and ($2::smallint is null or pr.province_code = $2)
           order by pr.created_at, pr.producer_id
           limit $3 offset $4"#,
        status,
        staff.province,
        PER_PAGE,
        (page_no - 1) * PER_PAGE
    )
    .fetch_all(&state.pool)
    .await?
    .into_iter()
    .map(|r| {
        json!({
            "id": r.producer_id, "name": r.name,
            "type": crate::domain::ProducerType::from_key(&r.producer_type).map(|t| t.label()),
            "address": r.address, "phone": r.phone, "email": r.email, "registration_no": r.registration_no,
            "rejection_reason": r.rejection_reason, "created_at": r.created_at,
            "commune": r.commune_name, "province": r.province_name, "owner": r.owner_name,
        })
    })
    .collect();
    let ctx = page(
        &state,
        &session,
        &staff,
        json!({ "producers": rows, "status": status, "nav": nav, "notice": notice_text(q.ok.as_deref()) }),
    );
    Ok(show(StatusCode::OK, "staff/producers.html", &ctx))
}

#[derive(Deserialize)]
struct ReasonForm {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    revoked_on: String,
}

fn reason(form: &ReasonForm) -> Result<String, AppError> {
    let r = form.reason.trim();
    if r.chars().count() < 5 || r.chars().count() > 500 {
        return Err(AppError::bad(
            "reason_required",
            "Vui lòng ghi lý do (từ 5 đến 500 ký tự) để chủ thể biết cần làm gì. Chưa có gì thay đổi.",
        ));
    }
    Ok(r.to_string())
}

/// Mails the producer's owner (when they gave an email address).
async fn notify_owner(state: &AppState, producer_id: i64, subject: &str, body: String) {
    match owner_email(state, producer_id).await {
        Ok(to) => state.mailer.notify(to.as_deref(), subject, body).await,
        Err(e) => tracing::warn!(error = %e, "owner's address not found; notification not sent"),
    }
}

/// The owner's address, for notifications.
async fn owner_email(state: &AppState, producer_id: i64) -> Result<Option<String>, AppError> {
    Ok(sqlx::query_scalar!(
        "select u.email from producer_member m join app_user u using (user_id) where m.producer_id = $1 and m.role = 'owner'",
        producer_id
    )
    .fetch_optional(&state.pool)
    .await?
    .flatten())
}

async fn decide_producer(
    state: &AppState,
    staff: &Staff,
    id: i64,
    reject: Option<String>,
) -> Result<String, AppError> {
    let action = if reject.is_some() {
        "producer.reject"
    } else {
        "producer.approve"
    };
    let mut tx =
        crate::audit::begin(&state.pool, staff.user.user_id, action, reject.as_deref()).await?;
    let name = sqlx::query_scalar!(
        r#"update producer set status = $3, rejection_reason = $4, reviewed_by = $5, reviewed_at = now()
           where producer_id = $1 and status = 'pending' and ($2::smallint is null or province_code = $2)
           returning name"#,
        id,
        staff.province,
        if reject.is_some() { "rejected" } else { "approved" },
        reject,
        staff.user.user_id
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(AppError::NotFound)?;
    tx.commit().await?;
    state.catalog.refresh_after(&[], &[id]).await;
    Ok(name)
}

async fn approve_producer(
    State(state): State<AppState>,
    staff: Staff,
    Id(id): Id,
    CheckedForm { .. }: CheckedForm<ReasonForm>,
) -> Result<Response, AppError> {
    let name = decide_producer(&state, &staff, id, None).await?;
    notify_owner(&state, id,
            "Chủ thể OCOP của bạn đã được phê duyệt",
            format!("{name} đã được cán bộ OCOP phê duyệt trên Sàn OCOP.\n\nSản phẩm có giấy chứng nhận đã được xác nhận sẽ được bày bán.\n{}/producer\n", state.config.public_url()),
        )
        .await;
    Ok(Redirect::to("/staff/producers?ok=approved").into_response())
}

async fn reject_producer(
    State(state): State<AppState>,
    staff: Staff,
    Id(id): Id,
    CheckedForm { form, .. }: CheckedForm<ReasonForm>,
) -> Result<Response, AppError> {
    let why = reason(&form)?;
    let name = decide_producer(&state, &staff, id, Some(why.clone())).await?;
    notify_owner(&state, id,
            "Đăng ký chủ thể OCOP cần bổ sung",
            format!("Đăng ký của {name} chưa được phê duyệt.\n\nLý do: {why}\n\nBạn có thể sửa thông tin và gửi lại tại:\n{}/producer/profile\n", state.config.public_url()),
        )
        .await;
    Ok(Redirect::to("/staff/producers?ok=rejected").into_response())
}

async fn certificates(
    State(state): State<AppState>,
    staff: Staff,
    session: Session,
    Query(q): Query<ListQuery>,
) -> Result<Response, AppError> {
    let status = match q.status.as_deref() {
        Some("verified") => "verified",
        _ => "pending",
    };
    let search =
        q.q.as_deref()
            .map(crate::domain::fold_vietnamese)
            .filter(|s| !s.is_empty());
    let total = sqlx::query_scalar!(
        r#"select count(*) as "n!" from certificate c join product p using (product_id) join producer pr using (producer_id)
           where c.verification = $1 and ($2::smallint is null or pr.province_code = $2)
             and ($3::text is null or p.search_name like '%' || $3 || '%')"#,
        status,
        staff.province,
        search
    )
    .fetch_one(&state.pool)
    .await?;
    let (page_no, nav) = paging(q.page.as_deref(), total, |n| {
        let mut qs = form_urlencoded::Serializer::new(String::new());
        qs.append_pair("status", status);
        if let Some(text) = q.q.as_deref().filter(|t| !t.trim().is_empty()) {
            qs.append_pair("q", text);
        }
        qs.append_pair("page", &n.to_string());
        format!("/staff/certificates?{}", qs.finish())
    });
    let rows: Vec<Value> = sqlx::query!(
        r#"select c.certificate_id, c.decision_number, c.stars, c.awarding_level, c.awarding_body, c.issued_on, c.expires_on,
                  c.status, c.revoked_on, c.revoked_reason, c.scan_file is not null as "has_scan!", c.created_at,
                  p.product_id, p.name as product_name, p.slug, pr.name as producer_name, pr.status as producer_status,
                  pv.name as province_name, p.sector, certificate_version(c.certificate_id) as "version!"
           from certificate c join product p using (product_id) join producer pr using (producer_id)
           join province pv on pv.province_code = pr.province_code
           where c.verification = $1 and ($2::smallint is null or pr.province_code = $2)
             and ($3::text is null or p.search_name like '%' || $3 || '%')
           order by case when $1 = 'pending' then c.created_at end, c.issued_on desc, c.certificate_id desc
           limit $4 offset $5"#,
        status,
        staff.province,
        search,
        PER_PAGE,
        (page_no - 1) * PER_PAGE
    )
    .fetch_all(&state.pool)
    .await?
    .into_iter()
    .map(|r| {
        json!({
            "id": r.certificate_id, "decision_number": r.decision_number, "stars": r.stars,
            "awarding_level": crate::domain::AwardingLevel::from_key(&r.awarding_level).map(|l| l.label()),
            "awarding_body": r.awarding_body, "issued_on": r.issued_on.to_string(), "expires_on": r.expires_on.to_string(),
            "revoked": r.status == "revoked", "revoked_on": r.revoked_on.map(|d| d.to_string()), "revoked_reason": r.revoked_reason,
            "has_scan": r.has_scan, "product_id": r.product_id, "product_name": r.product_name, "slug": r.slug,
            "producer_name": r.producer_name, "producer_approved": r.producer_status == "approved", "province": r.province_name,
            "sector": crate::domain::Sector::from_key(&r.sector).map(|s| s.label()), "version": r.version,
        })
    })
    .collect();
    let today = crate::domain::vn_today().to_string();
    let ctx = page(
        &state,
        &session,
        &staff,
        json!({ "certificates": rows, "status": status, "q": q.q, "today": today, "nav": nav, "notice": notice_text(q.ok.as_deref()) }),
    );
    Ok(show(StatusCode::OK, "staff/certificates.html", &ctx))
}

/// The product and producer of a certificate inside this staff member's scope, or 404.
async fn certificate_in_scope(
    state: &AppState,
    staff: &Staff,
    id: i64,
) -> Result<(i64, i64, String), AppError> {
    let r = sqlx::query!(
        r#"select p.product_id, p.producer_id, p.name from certificate c join product p using (product_id)
           join producer pr using (producer_id)
           where c.certificate_id = $1 and ($2::smallint is null or pr.province_code = $2)"#,
        id,
        staff.province
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or(AppError::NotFound)?;
    Ok((r.product_id, r.producer_id, r.name))
}

#[derive(Deserialize)]
struct VerifyForm {
    /// what the page showed (`certificate_version`)
    #[serde(default)]
    version: String,
}

async fn verify_certificate(
    State(state): State<AppState>,
    staff: Staff,
    Id(id): Id,
    CheckedForm { form, .. }: CheckedForm<VerifyForm>,
) -> Result<Response, AppError> {
    let (product_id, producer_id, name) = certificate_in_scope(&state, &staff, id).await?;
    let mut tx =
        crate::audit::begin(&state.pool, staff.user.user_id, "certificate.verify", None).await?;
    // the product's row is the lock a producer's edit also takes: nothing changes in between
    sqlx::query!(
        "select product_id from product where product_id = $1 for update",
        product_id
    )
    .fetch_one(&mut *tx)
    .await?;
    let current = sqlx::query!(
        r#"select verification, certificate_version(certificate_id) as "version!" from certificate
           where certificate_id = $1 for update"#,
        id
    )
    .fetch_one(&mut *tx)
    .await?;
    if current.verification != "pending" {
        return Err(AppError::bad(
            "not_pending",
            "Giấy chứng nhận này không còn chờ xác nhận.",
        ));
    }
    if !crate::crypto::same(current.version.as_bytes(), form.version.as_bytes()) {
        return Err(AppError::Conflict(
            "Chủ thể đã sửa sản phẩm hoặc giấy chứng nhận sau khi bạn mở trang. Chưa có gì được xác nhận; hãy tải lại trang và xem lại hồ sơ.".into(),
        ));
    }
    sqlx::query!(
        "update certificate set verification = 'verified', verified_by = $2, verified_at = now()
         where certificate_id = $1",
        id,
        staff.user.user_id
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    state.catalog.refresh_after(&[product_id], &[]).await;
    notify_owner(
        &state,
        producer_id,
        "Giấy chứng nhận OCOP đã được xác nhận",
        format!("Giấy chứng nhận OCOP của sản phẩm \"{name}\" đã được xác nhận.\n"),
    )
    .await;
    Ok(Redirect::to("/staff/certificates?ok=verified").into_response())
}

async fn reject_certificate(
    State(state): State<AppState>,
    staff: Staff,
    Id(id): Id,
    CheckedForm { form, .. }: CheckedForm<ReasonForm>,
) -> Result<Response, AppError> {
    let why = reason(&form)?;
    let (_, producer_id, name) = certificate_in_scope(&state, &staff, id).await?;
    let mut tx = crate::audit::begin(
        &state.pool,
        staff.user.user_id,
        "certificate.reject",
        Some(&why),
    )
    .await?;
    let n = sqlx::query!(
        "update certificate set verification = 'rejected', rejection_reason = $2, verified_by = $3, verified_at = now()
         where certificate_id = $1 and verification = 'pending'",
        id,
        why,
        staff.user.user_id
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if n != 1 {
        return Err(AppError::bad(
            "not_pending",
            "Giấy chứng nhận này không còn chờ xác nhận.",
        ));
    }
    tx.commit().await?;
    notify_owner(
        &state,
        producer_id,
        "Giấy chứng nhận OCOP chưa được xác nhận",
        format!("Giấy chứng nhận của sản phẩm \"{name}\" chưa được xác nhận.\n\nLý do: {why}\n"),
    )
    .await;
    Ok(Redirect::to("/staff/certificates?ok=cert_rejected").into_response())
}

async fn revoke_certificate(
    State(state): State<AppState>,
    staff: Staff,
    Id(id): Id,
    CheckedForm { form, .. }: CheckedForm<ReasonForm>,
) -> Result<Response, AppError> {
    let why = reason(&form)?;
    let today = crate::domain::vn_today();
    let revoked_on = match form.revoked_on.trim() {
        "" => today,
        s => crate::producer::parse_date(s)
            .filter(|d| *d <= today)
            .ok_or_else(|| AppError::bad("bad_date", "Ngày thu hồi theo dạng ngày/tháng/năm và không sau hôm nay. Chưa có gì thay đổi."))?,
    };
    let (product_id, producer_id, name) = certificate_in_scope(&state, &staff, id).await?;
    let mut tx = crate::audit::begin(
        &state.pool,
        staff.user.user_id,
        "certificate.revoke",
        Some(&why),
    )
    .await?;
    let n = sqlx::query!(
        "update certificate set status = 'revoked', revoked_on = $2, revoked_reason = $3
         where certificate_id = $1 and verification = 'verified' and status = 'active'",
        id,
        revoked_on,
        why
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if n != 1 {
        return Err(AppError::bad(
            "not_active",
            "Giấy chứng nhận này chưa được xác nhận hoặc đã bị thu hồi.",
        ));
    }
    tx.commit().await?;
    // gone from this instance's listing now; the search outbox was written in the same transaction
    state.catalog.refresh_after(&[product_id], &[]).await;
    notify_owner(&state, producer_id, "Chứng nhận OCOP đã bị thu hồi", format!("Chứng nhận OCOP của sản phẩm \"{name}\" đã bị thu hồi từ ngày {revoked_on}.\n\nLý do: {why}\n"))
        .await;
    Ok(Redirect::to("/staff/certificates?status=verified&ok=revoked").into_response())
}

async fn scan(
    State(state): State<AppState>,
    staff: Staff,
    Id(id): Id,
) -> Result<Response, AppError> {
    let file = sqlx::query_scalar!(
        r#"select c.scan_file from certificate c join product p using (product_id) join producer pr using (producer_id)
           where c.certificate_id = $1 and ($2::smallint is null or pr.province_code = $2)"#,
        id,
        staff.province
    )
    .fetch_optional(&state.pool)
    .await?
    .flatten()
    .ok_or(AppError::NotFound)?;
    crate::media::scan_answer(&state.media, &file).await
}

async fn orders(
    State(state): State<AppState>,
    staff: Staff,
    session: Session,
    Query(q): Query<ListQuery>,
) -> Result<Response, AppError> {
    let status = q
        .status
        .as_deref()
        .and_then(crate::orders::Status::from_key);
    // an order code, or the buyer's phone written any usual way
    let asked = q.q.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let code = asked
        .map(|a| a.to_uppercase().replace(' ', ""))
        .filter(|c| c.starts_with("OCOP"));
    let phone = asked.and_then(|a| crate::auth::identity::parse_phone(a).ok());
    let searching = asked.is_some();
    if searching && code.is_none() && phone.is_none() {
        let ctx = page(
            &state,
            &session,
            &staff,
            json!({ "orders": [], "filters": [], "any": true, "q": asked,
                    "problem": "Nhập mã đơn (bắt đầu bằng OCOP) hoặc số điện thoại người nhận.", "nav": null }),
        );
        return Ok(show(
            StatusCode::UNPROCESSABLE_ENTITY,
            "staff/orders.html",
            &ctx,
        ));
    }
    let total = sqlx::query_scalar!(
        r#"select count(*) as "n!" from shop_order o join order_group g using (order_group_id)
           join producer pr using (producer_id)
           where ($1::smallint is null or pr.province_code = $1) and ($2::text is null or o.status = $2)
             and ($3::text is null or g.code = $3) and ($4::text is null or g.phone = $4)"#,
        staff.province,
        status.map(crate::orders::Status::key),
        code,
        phone
    )
    .fetch_one(&state.pool)
    .await?;
    let href = |n: i64| {
        let mut qs = form_urlencoded::Serializer::new(String::new());
        if let Some(s) = status {
            qs.append_pair("status", s.key());
        }
        if let Some(a) = asked {
            qs.append_pair("q", a);
        }
        qs.append_pair("page", &n.to_string());
        format!("/staff/orders?{}", qs.finish())
    };
    let (page_no, nav) = paging(q.page.as_deref(), total, href);
    let rows: Vec<Value> = sqlx::query!(
        r#"select o.order_id, o.status, o.goods_total, o.shipping_fee, o.created_at, o.cancel_reason,
                  g.code, g.payment_method, g.buyer_name, pr.name as producer_name, pv.name as province_name
           from shop_order o join order_group g using (order_group_id)
           join producer pr using (producer_id) join province pv on pv.province_code = pr.province_code
           where ($1::smallint is null or pr.province_code = $1) and ($2::text is null or o.status = $2)
             and ($3::text is null or g.code = $3) and ($4::text is null or g.phone = $4)
           order by o.created_at desc, o.order_id desc limit $5 offset $6"#,
        staff.province,
        status.map(crate::orders::Status::key),
        code,
        phone,
        PER_PAGE,
        (page_no - 1) * PER_PAGE
    )
    .fetch_all(&state.pool)
    .await?
    .into_iter()
    .map(|o| {
        let st = crate::orders::Status::from_key(&o.status);
        json!({
            "order_id": o.order_id, "code": o.code, "producer": o.producer_name, "province": o.province_name,
            "buyer": o.buyer_name,
            "status_label": st.map(|s| s.label()), "total": o.goods_total + o.shipping_fee, "created_at": o.created_at,
            "cancel_reason": o.cancel_reason,
            "method": crate::checkout::PaymentMethod::from_key(&o.payment_method).map(|m| m.label()),
        })
    })
    .collect();
    let filters: Vec<Value> = crate::orders::Status::ALL
        .iter()
        .map(|s| json!({ "key": s.key(), "label": s.label(), "current": Some(*s) == status }))
        .collect();
    let ctx = page(
        &state,
        &session,
        &staff,
        json!({ "orders": rows, "filters": filters, "any": status.is_none(), "q": asked, "nav": nav,
                "notice": notice_text(q.ok.as_deref()) }),
    );
    Ok(show(StatusCode::OK, "staff/orders.html", &ctx))
}

/// One order part, whole: buyer, address, payments, lines, timeline, and the refund form.
async fn order_detail(
    State(state): State<AppState>,
    staff: Staff,
    session: Session,
    Id(id): Id,
    Query(q): Query<ListQuery>,
) -> Result<Response, AppError> {
    let mut order = crate::orders::views::staff_view(&state, id, staff.province)
        .await?
        .ok_or(AppError::NotFound)?;
    let status = order["part"]["status"]
        .as_str()
        .and_then(crate::orders::Status::from_key);
    order["can_refund"] = json!(status.is_some_and(|s| s
        .allows(crate::orders::Status::Refunded, crate::orders::Actor::Staff)));
    let ctx = page(
        &state,
        &session,
        &staff,
        json!({ "order": order, "notice": notice_text(q.ok.as_deref()) }),
    );
    Ok(show(StatusCode::OK, "staff/order.html", &ctx))
}

/// Records that money went back to the shopper outside the system (a returned delivery, a
/// cancelled order that had been paid).
async fn refund(
    State(state): State<AppState>,
    staff: Staff,
    Id(id): Id,
    CheckedForm { form, .. }: CheckedForm<ReasonForm>,
) -> Result<Response, AppError> {
    let why = reason(&form)?;
    let in_scope = sqlx::query_scalar!(
        r#"select exists(select 1 from shop_order o join producer pr using (producer_id)
            where o.order_id = $1 and ($2::smallint is null or pr.province_code = $2)) as "e!""#,
        id,
        staff.province
    )
    .fetch_one(&state.pool)
    .await?;
    if !in_scope {
        return Err(AppError::NotFound);
    }
    let mut tx =
        crate::audit::begin(&state.pool, staff.user.user_id, "order.refund", Some(&why)).await?;
    let details = crate::orders::Details {
        reason: Some(format!("{why} (ghi nhận bởi {})", staff.user.display_name)),
        ..Default::default()
    };
    crate::orders::transition(
        &mut tx,
        id,
        crate::orders::Status::Refunded,
        crate::orders::Actor::Staff,
        &details,
    )
    .await?;
    tx.commit().await?;
    crate::orders::notify::change(&state, id, crate::orders::Status::Refunded).await;
    Ok(Redirect::to(&format!("/staff/orders/{id}?ok=refunded")).into_response())
}

async fn audit(
    State(state): State<AppState>,
    NationalStaff(staff): NationalStaff,
    session: Session,
    Query(q): Query<ListQuery>,
) -> Result<Response, AppError> {
    const PAGE: i64 = 100;
    let entries = crate::audit::recent(&state.pool, None, q.before, PAGE).await?;
    let older = (entries.len() as i64 == PAGE)
        .then(|| entries.last().map(|e| e.audit_id))
        .flatten();
    let ctx = page(
        &state,
        &session,
        &staff,
        json!({ "entries": entries, "older": older }),
    );
    Ok(show(StatusCode::OK, "staff/audit.html", &ctx))
}

async fn users_ctx(
    state: &AppState,
    staff: &Staff,
    session: &Session,
    extra: Value,
) -> Result<Value, AppError> {
    let people: Vec<Value> = sqlx::query!(
        r#"select u.display_name, u.email, u.phone, u.role, pv.name as "province?"
           from app_user u left join province pv using (province_code)
           where u.role in ('province_staff', 'national_staff', 'admin')
           order by u.role, pv.name nulls first, u.display_name"#
    )
    .fetch_all(&state.pool)
    .await?
    .into_iter()
    .map(|u| json!({ "name": u.display_name, "login": u.email.or(u.phone), "role": u.role, "province": u.province }))
    .collect();
    let provinces: Vec<Value> = state
        .catalog
        .snapshot()
        .admin
        .provinces
        .iter()
        .map(|p| json!({ "code": p.code.to_string(), "name": p.name }))
        .collect();
    let roles = [
        Role::ProvinceStaff,
        Role::NationalStaff,
        Role::Admin,
        Role::Shopper,
    ]
    .map(|r| {
        let label = match r {
            Role::Shopper => "Thôi giữ vai trò (người mua)",
            other => other.label(),
        };
        json!({ "key": r.key(), "label": label })
    });
    let mut ctx = page(state, session, staff, extra);
    ctx["people"] = json!(people);
    ctx["provinces"] = json!(provinces);
    ctx["roles"] = json!(roles);
    Ok(ctx)
}

async fn users_page(
    State(state): State<AppState>,
    Admin(user): Admin,
    session: Session,
    Query(q): Query<ListQuery>,
) -> Result<Response, AppError> {
    let staff = Staff {
        user,
        province: None,
    };
    let ctx = users_ctx(
        &state,
        &staff,
        &session,
        json!({ "notice": notice_text(q.ok.as_deref()) }),
    )
    .await?;
    Ok(show(StatusCode::OK, "staff/users.html", &ctx))
}

#[derive(Deserialize)]
struct AppointForm {
    #[serde(default)]
    login: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    province: String,
}

async fn appoint(
    State(state): State<AppState>,
    Admin(user): Admin,
    CheckedForm { form, session }: CheckedForm<AppointForm>,
) -> Result<Response, AppError> {
    let staff = Staff {
        user: user.clone(),
        province: None,
    };
    let mut errors = serde_json::Map::new();
    let login = crate::auth::identity::Login::parse(&form.login);
    if let Err(msg) = &login {
        errors.insert("login".into(), json!(msg));
    }
    // staff appoint staff, or return someone to shopping; producers are made by membership
    let role = Role::from_key(&form.role).filter(|r| *r != Role::Producer);
    if role.is_none() {
        errors.insert("role".into(), json!("Vui lòng chọn vai trò."));
    }
    let province = form
        .province
        .parse::<i16>()
        .ok()
        .filter(|p| state.catalog.snapshot().admin.province(*p).is_some());
    if role == Some(Role::ProvinceStaff) && province.is_none() {
        errors.insert(
            "province".into(),
            json!("Cán bộ cấp tỉnh cần được gán một tỉnh, thành phố."),
        );
    }
    let values = json!({ "login": form.login, "role": form.role, "province": form.province });
    if !errors.is_empty() {
        let ctx = users_ctx(
            &state,
            &staff,
            &session,
            json!({ "values": values, "errors": errors }),
        )
        .await?;
        return Ok(show(
            StatusCode::UNPROCESSABLE_ENTITY,
            "staff/users.html",
            &ctx,
        ));
    }
    let login = login.expect("checked");
    let role = role.expect("checked");
    let province = (role == Role::ProvinceStaff).then_some(province).flatten();
    let mut tx = crate::audit::begin(&state.pool, user.user_id, "user.appoint", None).await?;
    // a producer member cannot be staff: whoever vouches for producers must not be one
    let updated = sqlx::query_scalar!(
        r#"update app_user set role = $2, province_code = $3
           where (email = $1 or phone = $1) and user_id <> $4
             and not exists (select 1 from producer_member m where m.user_id = app_user.user_id)
           returning user_id"#,
        login.as_str(),
        role as Role,
        province,
        user.user_id
    )
    .fetch_optional(&mut *tx)
    .await?;
    if updated.is_none() {
        errors.insert(
            "login".into(),
            json!("Không có tài khoản nào với email hoặc số điện thoại này có thể được bổ nhiệm (người đó cần đăng ký trước, không thuộc chủ thể OCOP nào, và không phải chính bạn)."),
        );
        let ctx = users_ctx(
            &state,
            &staff,
            &session,
            json!({ "values": values, "errors": errors }),
        )
        .await?;
        return Ok(show(
            StatusCode::UNPROCESSABLE_ENTITY,
            "staff/users.html",
            &ctx,
        ));
    }
    tx.commit().await?;
    Ok(Redirect::to("/staff/users?ok=appointed").into_response())
}

#[derive(Deserialize)]
struct DisableForm {
    #[serde(default)]
    login: String,
    #[serde(default)]
    reason: String,
}

/// An admin switches an account off: it can no longer log in, and every session it has ends.
async fn disable_account(
    State(state): State<AppState>,
    Admin(user): Admin,
    CheckedForm { form, .. }: CheckedForm<DisableForm>,
) -> Result<Response, AppError> {
    let login = crate::auth::identity::Login::parse(&form.login)
        .map_err(|m| AppError::bad("bad_login", format!("{m} Chưa có gì thay đổi.")))?;
    let why = form.reason.trim();
    if why.chars().count() < 5 {
        return Err(AppError::bad(
            "reason_required",
            "Vui lòng ghi lý do khoá tài khoản (ít nhất 5 ký tự). Chưa có gì thay đổi.",
        ));
    }
    let mut tx = crate::audit::begin(&state.pool, user.user_id, "user.disable", Some(why)).await?;
    let target = sqlx::query_scalar!(
        "update app_user set disabled_at = now()
         where (email = $1 or phone = $1) and user_id <> $2 and disabled_at is null
         returning user_id",
        login.as_str(),
        user.user_id
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| {
        AppError::bad(
            "no_such_account",
            "Không có tài khoản đang hoạt động nào với email hoặc số điện thoại này (và không thể tự khoá chính mình).",
        )
    })?;
    tx.commit().await?;
    crate::auth::session::end_sessions(&state, target, None).await?;
    Ok(Redirect::to("/staff/users?ok=disabled").into_response())
}
