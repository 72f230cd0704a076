//! The producer's home: its products with their state, the last 30 days' sales, what waits.

use super::*;

#[derive(Serialize)]
pub(super) struct ProductLine {
    id: i64,
    name: String,
    slug: String,
    price_vnd: Vnd,
    stock: i32,
    unit: String,
    image: Option<String>,
    state: &'static str,
    listed: bool,
    /// a tourism product, sold by the slot
    tourism: bool,
}

pub(super) async fn home(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    Query(n): Query<Notice>,
) -> Result<Response, AppError> {
    let Some(member) = ProducerMember::of(&state, user.clone()).await? else {
        let page = WelcomePage {
            csrf: &session.data.csrf,
            staff: user.role.is_staff(),
            user: &user,
        };
        return Ok(show(StatusCode::OK, "producer/welcome.html", &page));
    };
    let rows = sqlx::query!(
        r#"
        select p.product_id, p.name, p.slug, p.price_vnd as "price_vnd: Vnd", p.stock, p.unit, p.hidden, p.images, p.sector,
               c.verification as "verification?", c.status as "cert_status?", c.expires_on as "expires_on?"
        from product p
        left join lateral (
            select verification, status, expires_on from certificate c
            where c.product_id = p.product_id and c.verification <> 'rejected'
            order by (c.verification = 'verified') desc, c.issued_on desc, c.certificate_id desc limit 1
        ) c on true
        where p.producer_id = $1
        order by p.created_at desc, p.product_id desc
        "#,
        member.producer_id
    )
    .fetch_all(&state.pool)
    .await?;
    let snapshot = state.catalog.snapshot();
    let today = crate::domain::vn_today();
    let mut lines = Vec::with_capacity(rows.len());
    let (mut units, mut value, mut low, mut listed_count) = (0i64, Vnd::ZERO, 0, 0);
    for r in rows {
        let listed = snapshot.row_of.contains_key(&r.product_id);
        let state_label = if listed {
            "Đang bán"
        } else if r.hidden {
            "Đang ẩn"
        } else if !member.is_approved() {
            "Chờ duyệt chủ thể"
        } else {
            match (
                r.verification.as_deref(),
                r.cert_status.as_deref(),
                r.expires_on,
            ) {
                (None, _, _) => "Chưa có chứng nhận OCOP",
                (Some("pending"), _, _) => "Chờ xác nhận chứng nhận",
                (_, Some("revoked"), _) => "Chứng nhận đã bị thu hồi",
                (_, _, Some(e)) if e <= today => "Chứng nhận đã hết hạn",
                _ => "Đang cập nhật",
            }
        };
        listed_count += listed as i32;
        units += r.stock as i64;
        value += r.price_vnd.times(r.stock.max(0) as u32);
        low += (r.stock < 5) as i32;
        lines.push(ProductLine {
            id: r.product_id,
            name: r.name,
            slug: r.slug,
            price_vnd: r.price_vnd,
            stock: r.stock,
            unit: r.unit,
            image: r.images.first().map(|u| crate::media::thumbnail_url(u)),
            state: state_label,
            listed,
            tourism: r.sector == "tourism",
        });
    }
    // the last 30 days as the province's dashboard counts them (Vietnamese days, today included);
    // sold means paid by the one definition both use (`order_is_paid`: online money received, or
    // cash once delivered; not refunded)
    let since = crate::domain::vn_today() - time::Duration::days(29);
    let sales = sqlx::query!(
        r#"select count(*) filter (where o.status not in ('cancelled', 'pending_payment')) as "orders!",
                  coalesce(sum(o.goods_total) filter (where order_is_paid(o.status, g.payment_method)), 0)::bigint as "sold!: Vnd",
                  count(*) filter (where o.status in ('placed', 'paid')) as "to_confirm!",
                  count(*) filter (where o.status = 'confirmed') as "to_ship!"
           from shop_order o join order_group g using (order_group_id)
           where o.producer_id = $1 and (o.created_at at time zone 'Asia/Ho_Chi_Minh')::date >= $2"#,
        member.producer_id,
        since
    )
    .fetch_one(&state.pool)
    .await?;
    let top: Vec<TopLine> = sqlx::query_as!(
        TopLine,
        r#"select l.name, sum(l.quantity)::bigint as "quantity!", sum(l.line_total)::bigint as "value!: Vnd"
           from order_line l join shop_order o using (order_id)
           where o.producer_id = $1 and (o.created_at at time zone 'Asia/Ho_Chi_Minh')::date >= $2
             and o.status not in ('cancelled', 'pending_payment', 'refunded')
           group by l.name order by 3 desc limit 5"#,
        member.producer_id,
        since
    )
    .fetch_all(&state.pool)
    .await?;
    let page = HomePage {
        csrf: &session.data.csrf,
        member,
        sales: Sales {
            orders: sales.orders,
            sold: sales.sold,
            to_confirm: sales.to_confirm,
            to_ship: sales.to_ship,
            top,
        },
        notice: notice_text(n.ok.as_deref()),
        summary: Summary {
            products: lines.len(),
            listed: listed_count,
            units,
            stock_value: value,
            low,
        },
        products: lines,
    };
    Ok(show(StatusCode::OK, "producer/home.html", &page))
}

/// Someone signed in who belongs to no producer yet: how to register one (staff cannot).
#[derive(Serialize)]
struct WelcomePage<'a> {
    csrf: &'a str,
    user: &'a CurrentUser,
    staff: bool,
}

/// The producer's home page.
#[derive(Serialize)]
struct HomePage<'a> {
    csrf: &'a str,
    member: ProducerMember,
    /// the last 30 days, as the province's dashboard counts them
    sales: Sales,
    notice: Option<&'static str>,
    products: Vec<ProductLine>,
    summary: Summary,
}

#[derive(Serialize)]
struct Sales {
    orders: i64,
    sold: Vnd,
    to_confirm: i64,
    to_ship: i64,
    top: Vec<TopLine>,
}

/// One of the best sellers of the last 30 days.
#[derive(Serialize)]
struct TopLine {
    name: String,
    quantity: i64,
    value: Vnd,
}

/// The catalog at a glance: products, listed ones, units in stock and their value, low stock.
#[derive(Serialize)]
struct Summary {
    products: usize,
    listed: i32,
    units: i64,
    stock_value: Vnd,
    low: i32,
}
