//! The dashboards' numbers against independent queries over the raw orders: exact before and
//! after the deltas are folded, per province and for the whole country.

use crate::helpers::{TestApp, load_fixture};
use ocop_market::checkout::{Delivery, PaymentMethod, SeenLine, ShippingRule, place_order};
use ocop_market::domain::Vnd;
use ocop_market::orders::{Actor, Details, Status, transition};
use ocop_market::stats::Summary;

const RULE: ShippingRule = ShippingRule {
    same_province: Vnd::new(20_000),
    other_province: Vnd::new(35_000),
    free_from: Vnd::new(500_000),
};

async fn order(app: &TestApp, n: usize, method: PaymentMethod, slugs: &[(&str, u32)]) -> Vec<i64> {
    let commune: i32 = sqlx::query_scalar(
        "select commune_code from commune where province_code = 1 order by commune_code limit 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let d = Delivery {
        buyer_name: "Khách".into(),
        phone: "0912345678".into(),
        email: None,
        province_code: 1,
        commune_code: commune,
        street: "1 Phố Huế".into(),
        note: String::new(),
        method,
        company: None,
    };
    let mut seen = vec![];
    for (slug, q) in slugs {
        let (id, price): (i64, i64) =
            sqlx::query_as("select product_id, price_vnd from product where slug = $1")
                .bind(slug)
                .fetch_one(&app.pool)
                .await
                .unwrap();
        seen.push(SeenLine {
            product_id: id,
            quantity: *q,
            price: Vnd::new(price),
        });
    }
    let placed = place_order(
        &app.pool,
        RULE,
        30,
        &format!("{:064x}", 900 + n),
        None,
        &d,
        &seen,
        &Default::default(),
        &Default::default(),
    )
    .await
    .unwrap();
    sqlx::query_scalar(
        "select order_id from shop_order where order_group_id = $1 order by order_id",
    )
    .bind(placed.order_group_id)
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

async fn go(app: &TestApp, order: i64, steps: &[(Status, Actor)]) {
    let mut tx = app.pool.begin().await.unwrap();
    for (to, actor) in steps {
        let details = Details {
            reason: Some("lý do thử".into()),
            carrier: Some("GHN".into()),
            tracking_number: Some("GHN12345".into()),
        };
        transition(&mut tx, order, *to, *actor, &details)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
}

/// The same numbers, computed straight from the orders with the definitions restated.
async fn independent(app: &TestApp, province: Option<i16>) -> Summary {
    let r: (i64, i64, i64, i64, i64, i64, i64, i64) = sqlx::query_as(
        r#"
        with o as (
            select o.*, g.payment_method as method,
                   (o.status in ('paid', 'confirmed', 'shipped', 'delivered')
                    and (g.payment_method <> 'cod' or o.status = 'delivered')) as paid
            from shop_order o join order_group g using (order_group_id) join producer pr using (producer_id)
            where ($1::smallint is null or pr.province_code = $1)
              and (g.created_at at time zone 'Asia/Ho_Chi_Minh')::date = (now() at time zone 'Asia/Ho_Chi_Minh')::date
        )
        select count(*),
               count(*) filter (where paid),
               count(*) filter (where status in ('cancelled', 'refunded') and cancelled_by is not null),
               coalesce(sum(goods_total) filter (where paid), 0)::bigint,
               count(*) filter (where paid and method <> 'cod'),
               coalesce(sum(goods_total) filter (where paid and method <> 'cod'), 0)::bigint,
               count(distinct producer_id) filter (where paid),
               (select count(distinct l.product_id) from order_line l join o on o.order_id = l.order_id where o.paid)
        from o
        "#,
    )
    .bind(province)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let pm = |a: i64, b: i64| if b == 0 { 0 } else { (a * 1000 + b / 2) / b };
    Summary {
        orders: r.0,
        paid_orders: r.1,
        cancelled_orders: r.2,
        gmv: r.3,
        average_order_value: if r.1 == 0 { 0 } else { r.3 / r.1 },
        cancellation_per_mille: pm(r.2, r.0),
        non_cash_count_per_mille: pm(r.4, r.1),
        non_cash_value_per_mille: pm(r.5, r.3),
        by_method: vec![],
        active_producers: r.6,
        products_sold: r.7,
    }
}

fn headline(mut s: Summary) -> Summary {
    s.by_method.clear();
    s
}

#[tokio::test]
async fn every_headline_number_equals_an_independent_query_before_and_after_folding() {
    let app = TestApp::without_workers().await;
    load_fixture(&app).await;
    sqlx::query("update product set stock = 1000")
        .execute(&app.pool)
        .await
        .unwrap();
    let mut n = 0;
    let mut next = || {
        n += 1;
        n
    };
    // online, paid and shipped; paid and delivered then refunded; waiting; expired
    let a = order(
        &app,
        next(),
        PaymentMethod::Vietqr,
        &[("mien-dong", 2), ("banh-da-ke", 1)],
    )
    .await;
    for o in &a {
        go(
            &app,
            *o,
            &[
                (Status::Paid, Actor::Payment),
                (Status::Confirmed, Actor::Producer),
                (Status::Shipped, Actor::Producer),
            ],
        )
        .await;
    }
    let b = order(&app, next(), PaymentMethod::Vnpay, &[("cha-muc", 1)]).await;
    go(
        &app,
        b[0],
        &[
            (Status::Paid, Actor::Payment),
            (Status::Confirmed, Actor::Producer),
            (Status::Shipped, Actor::Producer),
            (Status::Delivered, Actor::Producer),
            (Status::Refunded, Actor::Staff),
        ],
    )
    .await;
    order(&app, next(), PaymentMethod::Momo, &[("mien-dong", 1)]).await;
    let d = order(&app, next(), PaymentMethod::Card, &[("gom-bat-trang", 3)]).await;
    go(&app, d[0], &[(Status::Cancelled, Actor::Expiry)]).await;
    // cash: delivered (paid), confirmed only (not yet paid), cancelled by the producer then refunded
    let e = order(&app, next(), PaymentMethod::Cod, &[("banh-da-ke", 4)]).await;
    go(
        &app,
        e[0],
        &[
            (Status::Confirmed, Actor::Producer),
            (Status::Shipped, Actor::Producer),
            (Status::Delivered, Actor::Producer),
        ],
    )
    .await;
    let f = order(&app, next(), PaymentMethod::Cod, &[("mien-dong", 5)]).await;
    go(&app, f[0], &[(Status::Confirmed, Actor::Producer)]).await;
    let g = order(&app, next(), PaymentMethod::Vietqr, &[("cha-muc", 2)]).await;
    go(
        &app,
        g[0],
        &[
            (Status::Paid, Actor::Payment),
            (Status::Cancelled, Actor::Producer),
            (Status::Refunded, Actor::Staff),
        ],
    )
    .await;

    let today = ocop_market::domain::vn_today();
    for folded in [false, true] {
        if folded {
            assert!(ocop_market::stats::fold(&app.pool).await.unwrap() > 0);
            let left: i64 = sqlx::query_scalar("select (select count(*) from stats_order_delta) + (select count(*) from stats_line_delta)")
                .fetch_one(&app.pool)
                .await
                .unwrap();
            assert_eq!(left, 0, "everything folded");
        }
        for province in [None, Some(22), Some(1)] {
            let ours = Summary::load(&app.pool, province, today, today)
                .await
                .unwrap();
            assert_eq!(
                headline(ours.clone()),
                independent(&app, province).await,
                "province {province:?}, folded {folded}"
            );
            if province.is_none() {
                // 8 producer orders; paid: a's two, e (cash, delivered) — b was refunded, g cancelled
                assert_eq!(
                    (ours.orders, ours.paid_orders, ours.cancelled_orders),
                    (8, 3, 2)
                );
                let methods: Vec<(String, i64)> = ours
                    .by_method
                    .iter()
                    .map(|m| (m.method.clone(), m.paid_orders))
                    .collect();
                assert!(
                    methods.contains(&("vietqr".into(), 2)) && methods.contains(&("cod".into(), 1)),
                    "{methods:?}"
                );
            }
        }
    }
    // another day has nothing
    let yesterday = today - time::Duration::days(1);
    assert_eq!(
        Summary::load(&app.pool, None, yesterday, yesterday)
            .await
            .unwrap()
            .orders,
        0
    );
}

async fn staff_visitor<'a>(
    app: &'a TestApp,
    tag: &str,
    role: &str,
    province: Option<i16>,
) -> crate::helpers::Visitor<'a> {
    crate::helpers::person(app, tag, role, province).await.0
}

#[tokio::test]
async fn the_dashboard_shows_each_province_its_own_numbers_and_csv_opens_in_excel() {
    let app = TestApp::without_workers().await;
    load_fixture(&app).await;
    sqlx::query("update product set stock = 1000")
        .execute(&app.pool)
        .await
        .unwrap();
    // a paid order in Quảng Ninh (22), another in Hà Nội (1)
    let qn = order(&app, 1, PaymentMethod::Vietqr, &[("mien-dong", 2)]).await;
    go(&app, qn[0], &[(Status::Paid, Actor::Payment)]).await;
    let hn = order(&app, 2, PaymentMethod::Vnpay, &[("gom-bat-trang", 1)]).await;
    go(&app, hn[0], &[(Status::Paid, Actor::Payment)]).await;

    let mut quang_ninh = staff_visitor(&app, "qn", "province_staff", Some(22)).await;
    // asking for Hà Nội changes nothing for Quảng Ninh's staff
    let page = quang_ninh
        .get("/staff/dashboard?period=today&province=1")
        .await;
    assert_eq!(page.status, axum::http::StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains("Miến dong Bình Liêu") && page.body.contains("HTX Bình Liêu"),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("Gốm") && !page.body.contains("Công ty TNHH Hà Nội"),
        "never another province's numbers"
    );
    assert!(page.body.contains("<svg class=\"chart\""));
    // the province's communes ranked by what they sold, each named with its value
    assert!(
        page.body.contains("Xã, phường bán được nhiều nhất")
            && page.body.contains("<svg class=\"chart ranking\""),
        "{}",
        page.body
    );
    // this year so far is compared with the same days a year earlier, not with the year before
    let today = ocop_market::domain::vn_today();
    let year = quang_ninh.get("/staff/dashboard?period=year").await;
    let hint = format!(
        "01/01/{} – {:02}/{:02}/{}, so với 01/01/{} – {:02}/{:02}/{}",
        today.year(),
        today.day(),
        today.month() as u8,
        today.year(),
        today.year() - 1,
        today.day().min(today.month().length(today.year() - 1)),
        today.month() as u8,
        today.year() - 1
    );
    assert!(year.body.contains(&hint), "{hint} missing: {}", year.body);
    // shares with a decimal comma; changes with sign, arrow and words
    assert!(
        !year.body.contains(".0%") && year.body.contains("Tỷ lệ huỷ</dt><dd>0%"),
        "{}",
        year.body
    );
    assert!(year.body.contains("kỳ so sánh chưa có số liệu") || year.body.contains("▲"));
    for by in ["week", "month"] {
        let series = quang_ninh
            .get(&format!("/staff/dashboard?period=year&by={by}"))
            .await;
        assert_eq!(series.status, axum::http::StatusCode::OK, "{by}");
        let csv = quang_ninh
            .get(&format!("/staff/dashboard.csv?table={by}&period=year"))
            .await;
        assert!(csv.body.contains(",1,1,100000"), "{by}: {}", csv.body);
    }
    let csv = quang_ninh
        .get("/staff/dashboard.csv?table=sector&period=today&province=1")
        .await;
    assert!(csv.content_type.starts_with("text/csv"));
    assert!(
        csv.body.starts_with('\u{feff}'),
        "a byte-order mark so Excel reads UTF-8"
    );
    assert!(csv.body.contains("Thực phẩm,,2,100000"), "{}", csv.body);
    assert!(
        !csv.body.contains("Lưu niệm"),
        "Hà Nội's pottery is not in Quảng Ninh's CSV"
    );

    let mut national = staff_visitor(&app, "tw", "national_staff", None).await;
    let all = national.get("/staff/dashboard?period=today").await;
    assert!(all.body.contains("Miến dong Bình Liêu") && all.body.contains("Công ty TNHH Hà Nội"));
    let hanoi = national
        .get("/staff/dashboard?period=today&province=1")
        .await;
    assert!(!hanoi.body.contains("Miến dong Bình Liêu"));
    // shoppers and producers see nothing
    let mut shopper = staff_visitor(&app, "shopper", "shopper", None).await;
    assert_eq!(
        shopper.get("/staff/dashboard").await.status,
        axum::http::StatusCode::NOT_FOUND
    );
    assert_eq!(
        shopper
            .get("/staff/dashboard.csv?table=sector")
            .await
            .status,
        axum::http::StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_province_reporting_system_reads_its_numbers_with_a_token_and_nothing_else() {
    let app = TestApp::without_workers().await;
    load_fixture(&app).await;
    sqlx::query("update product set stock = 1000")
        .execute(&app.pool)
        .await
        .unwrap();
    let qn = order(&app, 1, PaymentMethod::Vietqr, &[("mien-dong", 2)]).await;
    go(&app, qn[0], &[(Status::Paid, Actor::Payment)]).await;
    let hn = order(&app, 2, PaymentMethod::Vnpay, &[("gom-bat-trang", 1)]).await;
    go(&app, hn[0], &[(Status::Paid, Actor::Payment)]).await;

    let mut staff = staff_visitor(&app, "qn-api", "province_staff", Some(22)).await;
    let page = staff.get("/staff/dashboard").await;
    let made = staff
        .post(
            "/staff/api-tokens",
            &[
                ("csrf", &crate::helpers::csrf(&page)),
                ("label", "Sở Công Thương"),
            ],
        )
        .await;
    let at = made.body.find("ocop_").expect("the token is shown once");
    let token = made.body[at..at + 5 + 64].to_string();
    let today = ocop_market::domain::vn_today();
    let call = |uri: String, auth: Option<String>| {
        let mut r = axum::http::Request::get(uri);
        if let Some(a) = auth {
            r = r.header(axum::http::header::AUTHORIZATION, a);
        }
        r.body(axum::body::Body::empty()).unwrap()
    };
    let answer = app
        .send(call(
            format!("/api/v1/stats/summary?from={today}&to={today}&province=1"),
            Some(format!("Bearer {token}")),
        ))
        .await;
    assert_eq!(answer.status, axum::http::StatusCode::OK, "{}", answer.body);
    let body = answer.json();
    assert_eq!(
        body["province"], 22,
        "a province's token reads that province, whatever it asks"
    );
    assert_eq!(body["summary"]["paid_orders"], 1);
    assert_eq!(body["summary"]["gmv"], 100_000);
    let table = app
        .send(call(
            format!("/api/v1/stats/producer?from={today}&to={today}"),
            Some(format!("Bearer {token}")),
        ))
        .await
        .json();
    assert_eq!(table["rows"].as_array().unwrap().len(), 1);
    assert_eq!(table["rows"][0]["label"], "HTX Bình Liêu");
    for auth in [
        None,
        Some("Bearer ocop_nope".to_string()),
        Some(format!("Basic {token}")),
    ] {
        let refused = app
            .send(call("/api/v1/stats/summary".into(), auth.clone()))
            .await;
        assert_eq!(
            refused.status,
            axum::http::StatusCode::UNAUTHORIZED,
            "{auth:?}"
        );
        assert!(refused.body.contains("\"error\""));
    }
    // only a hash is kept
    let stored: String = sqlx::query_scalar("select token_hash from staff_api_token")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(!stored.contains(&token[5..]));
}

#[tokio::test]
async fn days_begin_at_midnight_in_vietnam_not_in_utc() {
    let app = TestApp::without_workers().await;
    load_fixture(&app).await;
    let commune: i32 = sqlx::query_scalar(
        "select commune_code from commune where province_code = 1 order by commune_code limit 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let producer: i64 =
        sqlx::query_scalar("select producer_id from producer where slug = 'htx-binh-lieu'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    // 16:59:59 UTC is 23:59:59 in Vietnam on the 31st; 17:00 UTC is already 1 April there
    for (i, at) in ["2026-03-31 16:59:59+00", "2026-03-31 17:00:00+00"]
        .iter()
        .enumerate()
    {
        let group: i64 = sqlx::query_scalar(
            "insert into order_group (code, checkout_token, buyer_name, phone, province_code, commune_code, street, payment_method,
                                      goods_total, shipping_total, grand_total, created_at)
             values ($1, $2, 'Khách', '0912345678', 1, $3, '1 Phố Huế', 'cod', 50000, 0, 50000, $4::timestamptz) returning order_group_id",
        )
        .bind(format!("OCOPTIME000{i}"))
        .bind(format!("{:064x}", 7000 + i))
        .bind(commune)
        .bind(*at)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        sqlx::query("insert into shop_order (order_group_id, producer_id, status, goods_total, shipping_fee) values ($1, $2, 'placed', 50000, 0)")
            .bind(group)
            .bind(producer)
            .execute(&app.pool)
            .await
            .unwrap();
    }
    let day = |s: &str| {
        time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).unwrap()
    };
    let march = Summary::load(&app.pool, None, day("2026-03-31"), day("2026-03-31"))
        .await
        .unwrap();
    let april = Summary::load(&app.pool, None, day("2026-04-01"), day("2026-04-01"))
        .await
        .unwrap();
    assert_eq!((march.orders, april.orders), (1, 1));
}

/// The rollups are read in pieces (whole years and months, days at the edges) plus the deltas not
/// folded yet; over a seeded three-year history with fresh changes on top, every table of every
/// period reads the same as the orders themselves, nationally and for a province.
#[tokio::test]
async fn a_three_year_history_reads_the_same_from_the_rollups_as_from_the_orders() {
    use ocop_market::stats::{Scope, Source, Table, breakdown};
    let app = TestApp::without_workers().await;
    ocop_market::seed::scale(&app.pool, 300).await.unwrap();
    let first = ocop_market::seed::orders::orders(&app.pool, 4_000, |_, _| {})
        .await
        .unwrap();
    assert_eq!((first.added, first.total), (4_000, 4_000));
    // asking for more adds only the difference
    let second = ocop_market::seed::orders::orders(&app.pool, 6_000, |_, _| {})
        .await
        .unwrap();
    assert_eq!((second.added, second.total), (2_000, 6_000));
    let count = |sql: &'static str| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(count("select count(*) from shop_order").await, 6_000);
    assert!(count("select count(distinct method) from payment").await == 5);
    // changes after the rebuild wait in the deltas: refunds of old orders, payments of new ones
    sqlx::query("update shop_order set status = 'refunded' where order_id in
                 (select order_id from shop_order where status = 'delivered' order by order_id limit 25)")
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("update shop_order set status = 'paid' where status = 'pending_payment'")
        .execute(&app.pool)
        .await
        .unwrap();
    assert!(count("select count(*) from stats_order_delta").await >= 25);

    let today = ocop_market::domain::vn_today();
    let day = |s: &str| {
        time::Date::parse(s, &time::format_description::well_known::Iso8601::DATE).unwrap()
    };
    let days = time::Duration::days;
    let periods = [
        (today, today),
        (today - days(6), today),
        (today - days(29), today),
        (today.replace_day(1).unwrap(), today),
        (
            today
                .replace_day(1)
                .unwrap()
                .replace_month(time::Month::January)
                .unwrap(),
            today,
        ),
        (today - days(3 * 365), today),
        (day("2024-12-20"), day("2025-03-10")),
        (day("2024-02-29"), day("2024-02-29")),
    ];
    let province: i16 = sqlx::query_scalar(
        "select p.province_code from shop_order o join producer p using (producer_id)
         group by 1 order by count(*) desc limit 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let listed: Vec<i64> =
        sqlx::query_scalar("select product_id from product where product_id % 3 = 0")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    let tables = [
        "method",
        "producer_type",
        "commune",
        "province",
        "producer",
        "product",
        "sector",
        "stars",
        "day",
        "week",
        "month",
    ];
    for folded in [false, true] {
        if folded {
            assert!(ocop_market::stats::fold(&app.pool).await.unwrap() > 0);
        }
        for scope in [None, Some(province)] {
            for (from, to) in periods {
                let rollups = Scope {
                    province: scope,
                    from,
                    to,
                    today,
                    source: Source::Rollups,
                };
                let orders = Scope {
                    source: Source::Orders,
                    ..rollups
                };
                let what = format!("{scope:?} {from}..{to}, folded {folded}");
                assert_eq!(
                    Summary::headline(&app.pool, &rollups).await.unwrap(),
                    Summary::headline(&app.pool, &orders).await.unwrap(),
                    "{what}"
                );
                for t in tables {
                    let t = Table::from_key(t).unwrap();
                    assert_eq!(
                        breakdown(&app.pool, &rollups, t, &listed).await.unwrap(),
                        breakdown(&app.pool, &orders, t, &listed).await.unwrap(),
                        "{t:?} {what}"
                    );
                }
            }
        }
    }
    // and the whole history agrees with a count of the orders
    let all = Summary::load(&app.pool, None, today - days(3 * 366), today)
        .await
        .unwrap();
    assert_eq!(all.orders, 6_000);
    assert_eq!(
        all.gmv,
        count("select coalesce(sum(o.goods_total), 0)::bigint from shop_order o join order_group g using (order_group_id)
               where o.status in ('paid', 'confirmed', 'shipped', 'delivered')
                 and (g.payment_method <> 'cod' or o.status = 'delivered')")
        .await
    );
    assert!(
        all.active_producers > 100 && all.products_sold > 200,
        "{all:?}"
    );
}

/// "Sold" has one meaning: the producer's home and the province's dashboard show the same
/// amount for the same 30 days. Cash counts once delivered (a confirmed cash order is not sold
/// yet), online money once received, and a refund takes it back.
#[tokio::test]
async fn a_producer_and_its_province_count_the_same_sales() {
    let app = TestApp::without_workers().await;
    load_fixture(&app).await;
    sqlx::query("update product set stock = 1000")
        .execute(&app.pool)
        .await
        .unwrap();
    // all at HTX Bình Liêu, the only Quảng Ninh producer selling here
    let cash_confirmed = order(&app, 1, PaymentMethod::Cod, &[("mien-dong", 1)]).await[0];
    go(
        &app,
        cash_confirmed,
        &[(Status::Confirmed, Actor::Producer)],
    )
    .await;
    let cash_delivered = order(&app, 2, PaymentMethod::Cod, &[("mien-dong", 2)]).await[0];
    go(
        &app,
        cash_delivered,
        &[
            (Status::Confirmed, Actor::Producer),
            (Status::Shipped, Actor::Producer),
            (Status::Delivered, Actor::Producer),
        ],
    )
    .await;
    let paid = order(&app, 3, PaymentMethod::Vietqr, &[("tra-hoa-vang", 1)]).await[0];
    go(&app, paid, &[(Status::Paid, Actor::Payment)]).await;
    let refunded = order(&app, 4, PaymentMethod::Vnpay, &[("tra-hoa-vang", 3)]).await[0];
    go(
        &app,
        refunded,
        &[
            (Status::Paid, Actor::Payment),
            (Status::Cancelled, Actor::Staff),
            (Status::Refunded, Actor::Staff),
        ],
    )
    .await;
    sqlx::query("select fold_stats()")
        .execute(&app.pool)
        .await
        .unwrap();
    let expected: i64 = sqlx::query_scalar(
        "select sum(goods_total)::bigint from shop_order where order_id = any($1)",
    )
    .bind(vec![cash_delivered, paid])
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let amount = |html: &str, label: &str| -> String {
        let at = html
            .find(label)
            .unwrap_or_else(|| panic!("{label}: {html}"));
        let dd = &html[at..];
        let start = dd.find("<dd>").unwrap() + 4;
        dd[start..start + dd[start..].find("</dd>").unwrap()].to_string()
    };
    let written = ocop_market::domain::Vnd::format(expected);

    let (mut owner, owner_id) = crate::helpers::person(&app, "chu", "producer", None).await;
    sqlx::query(
        "insert into producer_member (producer_id, user_id, role)
         select producer_id, $1, 'owner' from producer where slug = 'htx-binh-lieu'",
    )
    .bind(owner_id)
    .execute(&app.pool)
    .await
    .unwrap();
    let home = owner.get("/producer").await;
    assert_eq!(
        amount(&home.body, "Doanh số đã thanh toán"),
        written,
        "the producer's home"
    );
    let mut staff = staff_visitor(&app, "qn", "province_staff", Some(22)).await;
    let dashboard = staff.get("/staff/dashboard?period=30d").await;
    assert_eq!(
        amount(&dashboard.body, "Giá trị hàng bán"),
        written,
        "the province's dashboard"
    );
}
