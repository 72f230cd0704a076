//! Promotions through the real checkout, ledger and portals: a discount split across producers to
//! the đồng and borne by its funder, limits that hold when 200 shoppers race, and the sentences a
//! shopper or producer reads when a code cannot be used.

use crate::helpers::{TestApp, Visitor, csrf, load_fixture, person};
use crate::orders::{add, checkout_adding};
use crate::settlement::{DELIVER, go, ledger_holds, order_of, pay_by_transfer};
use axum::http::{StatusCode, header};
use ocop_market::checkout::{Asked, Delivery, PaymentMethod, PlaceError, SeenLine, place_order};
use ocop_market::domain::Vnd;
use ocop_market::orders::{Actor, Status};
use ocop_market::promotions::VoucherCode;
use time::{Duration, OffsetDateTime};

const RULE: ocop_market::checkout::ShippingRule = ocop_market::checkout::ShippingRule {
    same_province: Vnd::new(20_000),
    other_province: Vnd::new(35_000),
    free_from: Vnd::new(5_000_000),
};

/// A running promotion, written as staff or a producer would make it.
async fn promotion(
    app: &TestApp,
    code: Option<&str>,
    kind: &str,
    value: i64,
    funder: &str,
    producer: Option<&str>,
    total_limit: Option<i32>,
) -> i64 {
    let staff: i64 = sqlx::query_scalar(
        "insert into app_user (email, display_name, password_hash, role) values ($1, 'Cán bộ', '$argon2id$x', 'national_staff') returning user_id",
    )
    .bind(format!("km-{}-{}@example.vn", code.unwrap_or("auto").to_lowercase(), app.db_name))
    .fetch_one(&app.pool)
    .await
    .unwrap();
    sqlx::query_scalar(
        "insert into promotion (code, name, kind, value, starts_at, total_limit, funder, funder_producer, scope_producer, created_by)
         select $1, 'Khuyến mãi thử', $2, $3, now() - interval '1 day', $4, $5, p.producer_id, p.producer_id, $7
         from (select (select producer_id from producer where slug = $6) as producer_id) p
         returning promotion_id",
    )
    .bind(code)
    .bind(kind)
    .bind(value)
    .bind(total_limit)
    .bind(funder)
    .bind(producer)
    .bind(staff)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

async fn product(app: &TestApp, slug: &str) -> (i64, Vnd) {
    let (id, price): (i64, i64) =
        sqlx::query_as("select product_id, price_vnd from product where slug = $1")
            .bind(slug)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    (id, Vnd::new(price))
}

async fn delivery(app: &TestApp, phone: &str, method: PaymentMethod) -> Delivery {
    let commune: i32 = sqlx::query_scalar(
        "select commune_code from commune where province_code = 1 order by commune_code limit 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    Delivery {
        buyer_name: "Trần Văn Khách".into(),
        phone: phone.into(),
        email: None,
        province_code: 1,
        commune_code: commune,
        street: "12 Hàng Bạc".into(),
        note: String::new(),
        method,
        company: None,
    }
}

/// One order for `lines` (slug, quantity) with the voucher `code`, as the shopper saw `seen` off.
async fn order(
    app: &TestApp,
    token: usize,
    phone: &str,
    lines: &[(&str, u32)],
    code: Option<&str>,
    seen: i64,
) -> Result<String, PlaceError> {
    let mut seen_lines = vec![];
    for (slug, quantity) in lines {
        let (product_id, price) = product(app, slug).await;
        seen_lines.push(SeenLine {
            product_id,
            quantity: *quantity,
            price,
        });
    }
    let d = delivery(app, phone, PaymentMethod::Vietqr).await;
    let asked = Asked {
        voucher: code.map(|c| VoucherCode::parse(c).unwrap()),
        seen: Vnd::new(seen),
        ..Default::default()
    };
    let placed = place_order(
        &app.pool,
        RULE,
        30,
        &format!("{token:064x}"),
        None,
        &d,
        &seen_lines,
        &Default::default(),
        &asked,
    )
    .await?;
    // as the checkout does: the transfer's memo is expected before it arrives
    ocop_market::payments::start_attempt(&app.pool, &placed.code, PaymentMethod::Vietqr)
        .await
        .unwrap();
    Ok(placed.code)
}

/// The ledger's lines of an order's release, by account and component.
async fn released(app: &TestApp, order: i64) -> Vec<(String, String, i64)> {
    sqlx::query_as(
        "select l.account, l.component, sum(l.amount)::bigint from journal_line l join journal_entry e using (entry_id)
         where e.order_id = $1 and e.event = 'release' group by 1, 2 order by 1, 2",
    )
    .bind(order)
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

fn line<'a>(lines: &'a [(String, String, i64)], account: &str, component: &str) -> i64 {
    lines
        .iter()
        .find(|(a, c, _)| a == account && c == component)
        .map_or(0, |l| l.2)
}

#[tokio::test]
async fn a_marketplace_voucher_is_split_between_two_producers_borne_by_the_marketplace_and_a_cancelled_part_takes_back_only_its_share()
 {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    promotion(
        &app,
        Some("SAN40K"),
        "amount",
        40_000,
        "marketplace",
        None,
        None,
    )
    .await;
    // 2 × 50.000 from Bình Liêu and 300.000 from Ba Chẽ: 40.000 off, split 10.000 / 30.000
    let code = order(
        &app,
        1,
        "0987000001",
        &[("mien-dong", 2), ("cha-muc", 1)],
        Some("san40k"),
        40_000,
    )
    .await
    .unwrap();
    let (goods, shipping, discount, grand): (i64, i64, i64, i64) = sqlx::query_as(
        "select goods_total, shipping_total, discount_total, grand_total from order_group where code = $1",
    )
    .bind(&code)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((goods, discount), (400_000, 40_000));
    assert_eq!(grand, goods + shipping - discount, "the shopper pays less");
    let lines: Vec<(String, i64)> =
        sqlx::query_as("select name, discount from order_line order by product_id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        lines.iter().map(|l| l.1).collect::<Vec<_>>(),
        vec![10_000, 30_000],
        "{lines:?}"
    );

    assert_eq!(pay_by_transfer(&app, &code, 9001).await, StatusCode::OK);
    let binh_lieu = order_of(&app, &code, "htx-binh-lieu").await;
    let ba_che = order_of(&app, &code, "ho-ba-che").await;
    // Ba Chẽ cannot ship: its part is cancelled and its own share goes back to the shopper
    go(&app, ba_che, &[(Status::Cancelled, Actor::Producer)]).await;
    go(&app, binh_lieu, DELIVER).await;
    ocop_market::settlement::release_due(&app.pool, OffsetDateTime::now_utc() + Duration::days(60))
        .await
        .unwrap();
    let owed_back: i64 = sqlx::query_scalar(
        "select -sum(l.amount)::bigint from journal_line l join journal_entry e using (entry_id)
         where e.order_id = $1 and l.account = 'refunds_owed'",
    )
    .bind(ba_che)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let ba_che_fee: i64 =
        sqlx::query_scalar("select shipping_fee from shop_order where order_id = $1")
            .bind(ba_che)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        owed_back,
        300_000 + ba_che_fee - 30_000,
        "what was paid for that part"
    );
    // Bình Liêu is owed its goods at full price: the marketplace pays in the 10.000
    let r = released(&app, binh_lieu).await;
    assert_eq!(line(&r, "payable", "goods"), -100_000, "{r:?}");
    assert_eq!(
        line(&r, "promotions_marketplace", "discount"),
        10_000,
        "{r:?}"
    );
    assert_eq!(
        line(&r, "commission", "commission"),
        -5_000,
        "5% of the full price"
    );
    ledger_holds(&app).await;
}

#[tokio::test]
async fn a_producer_funded_voucher_comes_off_what_the_producer_is_owed_and_what_it_pays_commission_and_tax_on()
 {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    promotion(
        &app,
        Some("BACHE10"),
        "percent",
        10,
        "producer",
        Some("ho-ba-che"),
        None,
    )
    .await;
    let code = order(
        &app,
        2,
        "0987000002",
        &[("mien-dong", 2), ("cha-muc", 1)],
        Some("BACHE10"),
        30_000,
    )
    .await
    .unwrap();
    pay_by_transfer(&app, &code, 9002).await;
    let ba_che = order_of(&app, &code, "ho-ba-che").await;
    let binh_lieu = order_of(&app, &code, "htx-binh-lieu").await;
    go(&app, ba_che, DELIVER).await;
    go(&app, binh_lieu, DELIVER).await;
    ocop_market::settlement::release_due(&app.pool, OffsetDateTime::now_utc() + Duration::days(60))
        .await
        .unwrap();
    let r = released(&app, ba_che).await;
    assert_eq!(
        line(&r, "payable", "discount"),
        30_000,
        "Ba Chẽ bears its 10%"
    );
    // commission 5% and a household's tax (1% VAT, 0.5% PIT) on the 270.000 it sold for
    assert_eq!(line(&r, "commission", "commission"), -13_500, "{r:?}");
    assert_eq!(line(&r, "vat_withheld", "vat"), -2_700, "{r:?}");
    assert_eq!(line(&r, "pit_withheld", "pit"), -1_350, "{r:?}");
    let other = released(&app, binh_lieu).await;
    assert_eq!(
        line(&other, "payable", "discount"),
        0,
        "Bình Liêu's goods were not covered"
    );
    ledger_holds(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_shoppers_racing_for_a_voucher_limited_to_ten_get_exactly_ten_uses() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    sqlx::query("update product set stock = 1000 where slug = 'mien-dong'")
        .execute(&app.pool)
        .await
        .unwrap();
    app.refresh().await;
    let id = promotion(
        &app,
        Some("MUOI10"),
        "amount",
        5_000,
        "marketplace",
        None,
        Some(10),
    )
    .await;
    let (product_id, price) = product(&app, "mien-dong").await;
    let seen = vec![SeenLine {
        product_id,
        quantity: 1,
        price,
    }];
    let asked = Asked {
        voucher: Some(VoucherCode::parse("MUOI10").unwrap()),
        seen: Vnd::new(5_000),
        ..Default::default()
    };
    let mut handles = vec![];
    for i in 0..200usize {
        // 200 different shoppers: the limit per customer is not what stops them
        let d = delivery(&app, &format!("09870{i:05}"), PaymentMethod::Vietqr).await;
        let (pool, seen, asked) = (app.pool.clone(), seen.clone(), asked.clone());
        handles.push(tokio::spawn(async move {
            let token = format!("{:064x}", 1000 + i);
            place_order(
                &pool,
                RULE,
                30,
                &token,
                None,
                &d,
                &seen,
                &Default::default(),
                &asked,
            )
            .await
        }));
    }
    let (mut placed, mut refused) = (0, vec![]);
    for h in handles {
        match h.await.unwrap() {
            Ok(_) => placed += 1,
            Err(PlaceError::Changed(why)) => refused.push(why.join(" ")),
            Err(e) => panic!("unexpected: {e:?}"),
        }
    }
    assert_eq!(placed, 10);
    assert_eq!(refused.len(), 190);
    assert!(
        refused.iter().all(|r| r.contains("hết lượt")),
        "{:?}",
        &refused[..3]
    );
    let (used, uses): (i32, i64) = sqlx::query_as(
        "select used, (select count(*) from promotion_use where promotion_id = $1) from promotion where promotion_id = $1",
    )
    .bind(id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((used, uses), (10, 10));
    let stock: i32 = sqlx::query_scalar("select stock from product where slug = 'mien-dong'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stock, 990, "a refused checkout takes no stock");
}

#[tokio::test]
async fn an_expired_exhausted_or_unknown_code_is_explained_and_changes_nothing() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let id = promotion(
        &app,
        Some("HETHAN"),
        "amount",
        5_000,
        "marketplace",
        None,
        None,
    )
    .await;
    sqlx::query("update promotion set starts_at = now() - interval '10 days', ends_at = now() - interval '1 day' where promotion_id = $1")
        .bind(id)
        .execute(&app.pool)
        .await
        .unwrap();
    let full = promotion(
        &app,
        Some("HETLUOT"),
        "amount",
        5_000,
        "marketplace",
        None,
        Some(1),
    )
    .await;
    sqlx::query("update promotion set used = 1 where promotion_id = $1")
        .bind(full)
        .execute(&app.pool)
        .await
        .unwrap();
    let mut v = Visitor::new(&app);
    add(&mut v, "mien-dong", 1).await;
    for (code, says) in [
        ("HETHAN", "đã hết hạn"),
        ("HETLUOT", "hết lượt sử dụng"),
        ("KHONGCO", "không tồn tại"),
        ("giảm!", "chữ cái hoặc chữ số"),
    ] {
        let page = v.get("/checkout").await;
        let answer = checkout_adding(&mut v, &page, "cod", &[("voucher", code)]).await;
        assert_ne!(
            answer.status,
            StatusCode::SEE_OTHER,
            "{code} placed an order"
        );
        assert!(answer.body.contains(says), "{code}: {}", answer.body);
    }
    let orders: i64 = sqlx::query_scalar("select count(*) from order_group")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(orders, 0);
    // a discount smaller than the page showed stops the order too
    promotion(&app, None, "amount", 2_000, "marketplace", None, None).await;
    let page = v.get("/checkout").await;
    assert!(page.body.contains("−2.000"), "the automatic one is shown");
    let answer = checkout_adding(&mut v, &page, "cod", &[("seen_discount", "9000")]).await;
    assert_eq!(answer.status, StatusCode::CONFLICT);
    assert!(
        answer.body.contains("Khuyến mãi vừa thay đổi"),
        "{}",
        answer.body
    );
}

#[tokio::test]
async fn a_producer_owner_makes_a_voucher_for_its_own_goods_only_and_staff_fund_their_province() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let (mut owner, owner_id) = person(&app, "bache", "producer", None).await;
    sqlx::query("insert into producer_member (producer_id, user_id, role) select producer_id, $1, 'owner' from producer where slug = 'ho-ba-che'")
        .bind(owner_id)
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("update producer set status = 'approved'")
        .execute(&app.pool)
        .await
        .unwrap();
    let page = owner.get("/producer/promotions").await;
    assert_eq!(page.status, StatusCode::OK);
    let today = ocop_market::domain::vn_today().to_string();
    let (foreign, _) = product(&app, "mien-dong").await;
    let foreign_field = format!("product_{foreign}");
    // another producer's product is refused, and so is a date in the past
    let refused = owner
        .post(
            "/producer/promotions",
            &[
                ("csrf", &csrf(&page)),
                ("name", "Giảm giá chả mực"),
                ("code", "CHAMUC"),
                ("kind", "percent"),
                ("value", "10"),
                ("starts_on", "2020-01-01"),
                (&foreign_field, "1"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.body.contains("không được ở quá khứ"),
        "{}",
        refused.body
    );
    let refused = owner
        .post(
            "/producer/promotions",
            &[
                ("csrf", &csrf(&page)),
                ("name", "Giảm giá chả mực"),
                ("code", "CHAMUC"),
                ("kind", "percent"),
                ("value", "10"),
                ("starts_on", &today),
                (&foreign_field, "1"),
            ],
        )
        .await;
    assert!(
        refused.body.contains("sản phẩm của chính cơ sở"),
        "{}",
        refused.body
    );
    let made = owner
        .post(
            "/producer/promotions",
            &[
                ("csrf", &csrf(&page)),
                ("name", "Giảm giá chả mực"),
                ("code", "chamuc"),
                ("kind", "percent"),
                ("value", "10"),
                ("starts_on", &today),
                ("total_limit", "50"),
            ],
        )
        .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
    let (funder, producer, scope): (String, Option<i64>, Option<i64>) = sqlx::query_as(
        "select funder, funder_producer, scope_producer from promotion where code = 'CHAMUC'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(funder, "producer");
    assert_eq!(producer, scope, "it funds and covers its own goods");
    let list = owner.get("/producer/promotions?ok=created").await;
    assert!(list.body.contains("CHAMUC") && list.body.contains("Giảm 10%"));

    // province staff fund their own province's programme; another province is refused
    let (mut staff, _) = person(&app, "qn", "province_staff", Some(22)).await;
    let page = staff.get("/staff/promotions").await;
    assert_eq!(page.status, StatusCode::OK);
    let made = staff
        .post(
            "/staff/promotions",
            &[
                ("csrf", &csrf(&page)),
                ("name", "Tuần lễ OCOP Quảng Ninh"),
                ("kind", "amount"),
                ("value", "20.000"),
                ("min_order", "200.000"),
                ("starts_on", &today),
                ("scope_province", "1"),
            ],
        )
        .await;
    assert_eq!(made.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(made.body.contains("tỉnh của bạn"));
    let made = staff
        .post(
            "/staff/promotions",
            &[
                ("csrf", &csrf(&page)),
                ("name", "Tuần lễ OCOP Quảng Ninh"),
                ("kind", "amount"),
                ("value", "20.000"),
                ("min_order", "200.000"),
                ("starts_on", &today),
            ],
        )
        .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
    let (funder, province): (String, Option<i16>) = sqlx::query_as(
        "select funder, scope_province from promotion where name = 'Tuần lễ OCOP Quảng Ninh'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((funder.as_str(), province), ("province", Some(22)));
    // the producer cannot stop the province's promotion, nor staff the producer's
    let theirs: i64 =
        sqlx::query_scalar("select promotion_id from promotion where funder = 'province'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let page = owner.get("/producer/promotions").await;
    let stop = owner
        .post(
            &format!("/producer/promotions/{theirs}/stop"),
            &[("csrf", &csrf(&page))],
        )
        .await;
    assert_eq!(stop.status, StatusCode::NOT_FOUND);
    let location = made
        .headers
        .get(header::LOCATION)
        .unwrap()
        .to_str()
        .unwrap();
    assert_eq!(location, "/staff/promotions?ok=created");
}

#[tokio::test]
async fn an_automatic_promotion_once_per_customer_is_simply_not_offered_the_second_time() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let id = promotion(&app, None, "amount", 5_000, "marketplace", None, None).await;
    sqlx::query("update promotion set per_customer_limit = 1 where promotion_id = $1")
        .bind(id)
        .execute(&app.pool)
        .await
        .unwrap();
    let discount = |code: String| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("select discount_total from order_group where code = $1")
                .bind(code)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let first = order(&app, 1, "0987000009", &[("mien-dong", 1)], None, 5_000)
        .await
        .unwrap();
    assert_eq!(discount(first).await, 5_000);
    let second = order(&app, 2, "0987000009", &[("mien-dong", 1)], None, 0)
        .await
        .expect("the order goes through without it");
    assert_eq!(discount(second).await, 0);
    let other = order(&app, 3, "0987000010", &[("mien-dong", 1)], None, 5_000)
        .await
        .unwrap();
    assert_eq!(
        discount(other).await,
        5_000,
        "another shopper still gets it"
    );
}
