//! Orders in the staff member's scope: the list with counts and search, the detail, a refund.

use super::*;
use crate::checkout::PaymentMethod;
use crate::domain::Vnd;
use crate::orders::Status;

pub(super) async fn orders(
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
        let page = OrdersPage {
            orders: vec![],
            filters: vec![],
            any: true,
            q: asked,
            problem: Some("Nhập mã đơn (bắt đầu bằng OCOP) hoặc số điện thoại người nhận."),
            nav: None,
            notice: None,
        };
        return Ok(show(
            StatusCode::UNPROCESSABLE_ENTITY,
            "staff/orders.html",
            &framed(&state, &session, &staff, page),
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
    let rows: Vec<OrderRow> = sqlx::query!(
        r#"select o.order_id, o.status as "status: Status", o.goods_total as "goods_total: Vnd",
                  o.shipping_fee as "shipping_fee: Vnd", o.discount_total as "discount_total: Vnd", o.created_at, o.cancel_reason, g.code,
                  g.payment_method as "payment_method: PaymentMethod", g.buyer_name, pr.name as producer_name, pv.name as province_name
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
    .map(|o| OrderRow {
        order_id: o.order_id,
        code: o.code,
        producer: o.producer_name,
        province: o.province_name,
        buyer: o.buyer_name,
        status_label: o.status.label(),
        total: o.goods_total + o.shipping_fee - o.discount_total,
        created_at: o.created_at,
        cancel_reason: o.cancel_reason,
        method: o.payment_method.label(),
    })
    .collect();
    let filters = crate::orders::views::status_filters(status);
    let page = OrdersPage {
        orders: rows,
        filters,
        any: status.is_none(),
        q: asked,
        problem: None,
        nav: Some(nav),
        notice: notice_text(q.ok.as_deref()),
    };
    Ok(show(
        StatusCode::OK,
        "staff/orders.html",
        &framed(&state, &session, &staff, page),
    ))
}

/// The orders in scope, 50 a page, by state, or found by code or phone.
#[derive(Serialize)]
struct OrdersPage<'a> {
    orders: Vec<OrderRow>,
    filters: Vec<crate::orders::views::StatusFilter>,
    /// no state filter is chosen
    any: bool,
    /// the code or phone asked for
    q: Option<&'a str>,
    problem: Option<&'static str>,
    nav: Option<Nav>,
    notice: Option<&'static str>,
}

#[derive(Serialize)]
struct OrderRow {
    order_id: i64,
    code: String,
    producer: String,
    province: String,
    buyer: String,
    status_label: &'static str,
    total: Vnd,
    created_at: time::OffsetDateTime,
    cancel_reason: Option<String>,
    method: &'static str,
}

/// One order part, whole, as staff see it.
#[derive(Serialize)]
struct OrderPage {
    order: crate::orders::views::StaffOrder,
    notice: Option<&'static str>,
}

/// One order part, whole: buyer, address, payments, lines, timeline, and the refund form.
pub(super) async fn order_detail(
    State(state): State<AppState>,
    staff: Staff,
    session: Session,
    Id(id): Id,
    Query(q): Query<ListQuery>,
) -> Result<Response, AppError> {
    let order = crate::orders::views::staff_view(&state, id, staff.province)
        .await?
        .ok_or(AppError::NotFound)?;
    let page = OrderPage {
        order,
        notice: notice_text(q.ok.as_deref()),
    };
    Ok(show(
        StatusCode::OK,
        "staff/order.html",
        &framed(&state, &session, &staff, page),
    ))
}

/// Records that money went back to the shopper outside the system (a returned delivery, a
/// cancelled order that had been paid).
pub(super) async fn refund(
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
