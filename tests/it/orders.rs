//! Cart, checkout and orders against real Redis and Postgres: the races that oversell stock or
//! double orders elsewhere, the checks between cart and order, and the order's life afterwards.

use crate::helpers::{Answer, TestApp, Visitor, csrf, load_fixture, person};
use axum::http::{StatusCode, header};
use ocop_market::checkout::{
    Delivery, PaymentMethod, PlaceError, SeenLine, ShippingRule, place_order,
};
use ocop_market::domain::Vnd;

const RULE: ShippingRule = ShippingRule {
    same_province: Vnd::new(20_000),
    other_province: Vnd::new(35_000),
    free_from: Vnd::new(500_000),
};

async fn product_id(app: &TestApp, slug: &str) -> i64 {
    sqlx::query_scalar("select product_id from product where slug = $1")
        .bind(slug)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

async fn stock(app: &TestApp, slug: &str) -> i32 {
    sqlx::query_scalar("select stock from product where slug = $1")
        .bind(slug)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

async fn set_stock(app: &TestApp, slug: &str, n: i32) {
    sqlx::query("update product set stock = $2 where slug = $1")
        .bind(slug)
        .bind(n)
        .execute(&app.pool)
        .await
        .unwrap();
    app.refresh().await;
}

async fn count(app: &TestApp, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("select count(*) from {table}")))
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

async fn delivery(app: &TestApp, method: PaymentMethod) -> Delivery {
    let commune: i32 = sqlx::query_scalar(
        "select commune_code from commune where province_code = 1 order by commune_code limit 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    Delivery {
        buyer_name: "Trần Văn Khách".into(),
        phone: "0987654321".into(),
        email: Some(format!("khach-{}@example.vn", app.db_name)),
        province_code: 1,
        commune_code: commune,
        street: "12 Hàng Bạc".into(),
        note: String::new(),
        method,
        company: None,
    }
}

async fn price(app: &TestApp, slug: &str) -> i64 {
    sqlx::query_scalar("select price_vnd from product where slug = $1")
        .bind(slug)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

fn token(n: usize) -> String {
    format!("{:064x}", n as u128 * 7919 + 1)
}

/// `buyers` checkouts at once, each for one unit of every product in `slugs`.
async fn race(app: &TestApp, buyers: usize, slugs: &[&str]) -> (usize, Vec<String>) {
    let d = delivery(app, PaymentMethod::Cod).await;
    let mut seen = vec![];
    for slug in slugs {
        seen.push(SeenLine {
            product_id: product_id(app, slug).await,
            quantity: 1,
            price: Vnd::new(price(app, slug).await),
        });
    }
    let handles: Vec<_> = (0..buyers)
        .map(|i| {
            let pool = app.pool.clone();
            let d = d.clone();
            let seen = seen.clone();
            let t = token(i + 1000 * slugs.len());
            tokio::spawn(async move {
                place_order(
                    &pool,
                    RULE,
                    30,
                    &t,
                    None,
                    &d,
                    &seen,
                    &Default::default(),
                    &Default::default(),
                )
                .await
            })
        })
        .collect();
    let mut placed = 0;
    let mut refusals = vec![];
    for h in handles {
        match h.await.unwrap() {
            Ok(_) => placed += 1,
            Err(PlaceError::Changed(p)) => refusals.push(p.join(" ")),
            Err(e) => panic!("unexpected: {e:?}"),
        }
    }
    (placed, refusals)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_buyers_for_ten_units_buy_exactly_ten() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    set_stock(&app, "mien-dong", 10).await;
    let (placed, refusals) = race(&app, 50, &["mien-dong"]).await;
    assert_eq!(placed, 10);
    assert_eq!(stock(&app, "mien-dong").await, 0);
    assert_eq!(refusals.len(), 40);
    assert!(
        refusals.iter().all(|r| r.contains("hết hàng")),
        "{refusals:?}"
    );
    let (sector, stars): (String, i16) =
        sqlx::query_as("select sector, stars from order_line limit 1")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        (sector.as_str(), stars),
        ("food", 3),
        "each line keeps the sector and stars it was sold under"
    );
    let sold: i64 = sqlx::query_scalar("select coalesce(sum(quantity), 0) from order_line")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(sold, 10);

    // the same with every order holding products of two producers
    set_stock(&app, "mien-dong", 10).await;
    set_stock(&app, "banh-da-ke", 100).await;
    let (placed, _) = race(&app, 50, &["mien-dong", "banh-da-ke"]).await;
    assert_eq!(placed, 10);
    assert_eq!(
        (
            stock(&app, "mien-dong").await,
            stock(&app, "banh-da-ke").await
        ),
        (0, 90)
    );
    let split: Vec<i64> = sqlx::query_scalar(
        "select count(*) from shop_order o join order_line l using (order_id) join product p using (product_id)
         where p.slug = 'banh-da-ke' group by o.order_group_id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(split.len(), 10, "ten groups, each with its Hà Nội part");
    let producers_per_group: Vec<i64> = sqlx::query_scalar(
        "select count(*) from shop_order o where exists (select 1 from order_line l join product p using (product_id)
           where l.order_id in (select order_id from shop_order where order_group_id = o.order_group_id) and p.slug = 'banh-da-ke')
         group by order_group_id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert!(
        producers_per_group.iter().all(|n| *n == 2),
        "one order per producer: {producers_per_group:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_checkout_sent_twice_at_once_makes_one_order() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let d = delivery(&app, PaymentMethod::Cod).await;
    let seen = vec![SeenLine {
        product_id: product_id(&app, "mien-dong").await,
        quantity: 2,
        price: Vnd::new(50_000),
    }];
    let before = stock(&app, "mien-dong").await;
    let t = token(1);
    let none = Default::default();
    let asked = Default::default();
    let (a, b) = tokio::join!(
        place_order(&app.pool, RULE, 30, &t, None, &d, &seen, &none, &asked),
        place_order(&app.pool, RULE, 30, &t, None, &d, &seen, &none, &asked)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.code, b.code);
    assert!(
        a.replayed != b.replayed,
        "one placed it, the other found it"
    );
    assert_eq!(count(&app, "order_group").await, 1);
    assert_eq!(
        stock(&app, "mien-dong").await,
        before - 2,
        "stock taken once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unpaid_order_expires_once_and_returns_its_stock_once() {
    let app = TestApp::without_workers().await;
    load_fixture(&app).await;
    let d = delivery(&app, PaymentMethod::Vietqr).await;
    let seen = vec![SeenLine {
        product_id: product_id(&app, "mien-dong").await,
        quantity: 3,
        price: Vnd::new(50_000),
    }];
    let before = stock(&app, "mien-dong").await;
    place_order(
        &app.pool,
        RULE,
        30,
        &token(2),
        None,
        &d,
        &seen,
        &Default::default(),
        &Default::default(),
    )
    .await
    .unwrap();
    assert_eq!(stock(&app, "mien-dong").await, before - 3);
    // not yet due: nothing happens
    assert!(
        ocop_market::orders::expire_once(&app.pool)
            .await
            .unwrap()
            .is_empty()
    );
    sqlx::query("update order_group set pay_before = now() - interval '1 minute'")
        .execute(&app.pool)
        .await
        .unwrap();
    // two instances' workers at the same moment
    let (a, b) = tokio::join!(
        ocop_market::orders::expire_once(&app.pool),
        ocop_market::orders::expire_once(&app.pool)
    );
    assert_eq!(a.unwrap().len() + b.unwrap().len(), 1, "expired once");
    assert_eq!(
        stock(&app, "mien-dong").await,
        before,
        "stock returned once"
    );
    let (status, by): (String, String) =
        sqlx::query_as("select status, cancelled_by from shop_order")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((status.as_str(), by.as_str()), ("cancelled", "expiry"));
    assert!(
        ocop_market::orders::expire_once(&app.pool)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(stock(&app, "mien-dong").await, before);
    let events: i64 =
        sqlx::query_scalar("select count(*) from order_event where to_status = 'cancelled'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(events, 1);
}

pub async fn add(v: &mut Visitor<'_>, slug: &str, qty: u32) -> Answer {
    v.post("/cart/add", &[("slug", slug), ("qty", &qty.to_string())])
        .await
}

/// Posts the checkout form as the page shows it, with an address in Hà Nội.
async fn checkout(v: &mut Visitor<'_>, page: &Answer) -> Answer {
    checkout_with(v, page, "cod").await
}

/// The same, paying with `method`.
pub async fn checkout_with(v: &mut Visitor<'_>, page: &Answer, method: &str) -> Answer {
    checkout_adding(v, page, method, &[]).await
}

/// The same, with more fields (a voucher, say).
pub async fn checkout_adding(
    v: &mut Visitor<'_>,
    page: &Answer,
    method: &str,
    more: &[(&str, &str)],
) -> Answer {
    let hidden = |name: &str| {
        let at = page
            .body
            .find(&format!("name=\"{name}\" value=\""))
            .unwrap_or_else(|| panic!("no {name}: {}", page.body))
            + name.len()
            + 15;
        page.body[at..at + page.body[at..].find('"').unwrap()].to_string()
    };
    // from the in-memory map, so a test with Postgres cut can still fill the form
    let commune: i32 = *v
        .app
        .state
        .catalog
        .snapshot()
        .admin
        .province(1)
        .unwrap()
        .communes
        .iter()
        .min()
        .unwrap();
    let (token, seen) = (
        hidden("token"),
        hidden("seen").replace("&#x3A;", ":").replace("&#x2C;", ","),
    );
    let csrf = csrf(page);
    let commune = commune.to_string();
    let email = format!("mua-{}@example.vn", v.app.db_name);
    let mut fields = vec![
        ("csrf", csrf.as_str()),
        ("token", &token),
        ("seen", &seen),
        ("buyer_name", "Lê Thị Mua"),
        ("phone", "0912 000 111"),
        ("email", &email),
        ("province", "1"),
        ("commune", &commune),
        ("street", "5 Lý Thái Tổ"),
        ("payment_method", method),
    ];
    fields.extend_from_slice(more);
    v.post("/checkout", &fields).await
}

#[tokio::test]
async fn a_shopper_fills_a_cart_logs_in_and_the_carts_merge_then_orders() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let email = format!("shopper-{}@example.vn", app.db_name);
    sqlx::query(
        "insert into app_user (email, display_name, password_hash) values ($1, 'Khách', $2)",
    )
    .bind(&email)
    .bind(ocop_market::auth::identity::hash_password("mật khẩu dài"))
    .execute(&app.pool)
    .await
    .unwrap();
    // earlier, on another device, the account's cart got 8 of mien-dong (10 in stock)
    let mut phone = Visitor::new(&app);
    phone.sign_in(&email, "mật khẩu dài").await;
    assert_eq!(
        add(&mut phone, "mien-dong", 8).await.status,
        StatusCode::SEE_OTHER
    );

    let mut v = Visitor::new(&app);
    let added = add(&mut v, "mien-dong", 5).await;
    assert_eq!(added.status, StatusCode::SEE_OTHER);
    let cookies: Vec<_> = added
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|c| c.to_str().unwrap().to_string())
        .collect();
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("ocop_cart=") && c.contains("HttpOnly")),
        "{cookies:?}"
    );
    assert!(
        cookies.iter().any(|c| c.starts_with("ocop_cart_n=5")),
        "the badge count: {cookies:?}"
    );
    let cart_cookie = cookies
        .iter()
        .find(|c| c.starts_with("ocop_cart="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    v.cookie = Some(cart_cookie.clone());
    add(&mut v, "banh-da-ke", 1).await;
    // a tampered cart cookie names nobody's cart
    let mut forger = Visitor::new(&app);
    forger.cookie = Some(cart_cookie.replace(&cart_cookie[10..14], "ffff"));
    assert!(!forger.get("/cart").await.body.contains("Miến dong"));
    // more than the stock is capped, with a word about it
    let json = app
        .send(
            axum::http::Request::post("/cart/add")
                .header(header::COOKIE, &cart_cookie)
                .header(header::ACCEPT, "application/json")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(axum::body::Body::from("slug=mien-dong&qty=20"))
                .unwrap(),
        )
        .await;
    assert_eq!(json.json()["quantity"], 10);
    assert_eq!(json.json()["outcome"], "capped");
    // a cross-site post is refused
    let cross = app
        .send(
            axum::http::Request::post("/cart/add")
                .header(header::COOKIE, &cart_cookie)
                .header("origin", "https://evil.example")
                .header(header::HOST, "shop.ocop.vn")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(axum::body::Body::from("slug=banh-da-ke&qty=3"))
                .unwrap(),
        )
        .await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);

    let cart = v.get("/cart").await;
    assert!(
        cart.body.contains("HTX Bình Liêu") && cart.body.contains("Công ty TNHH Hà Nội"),
        "grouped by producer"
    );
    assert!(cart.body.contains("11 sản phẩm"), "{}", cart.body);

    // logging in merges: 8 + 10 capped at the 10 in stock; bánh đa kế joins
    let done = v.sign_in(&email, "mật khẩu dài").await;
    let cookies: Vec<_> = done
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|c| c.to_str().unwrap().to_string())
        .collect();
    assert!(
        cookies.iter().any(|c| c.starts_with("ocop_cart=;")),
        "the anonymous cart is forgotten"
    );
    let merged = v.get("/cart").await;
    assert!(merged.body.contains("value=\"10\""), "{}", merged.body);
    assert!(merged.body.contains("Bánh đa kế") || merged.body.contains("banh-da-ke"));

    // checkout: the order is placed once, the cart emptied, stock taken
    let page = v.get("/checkout").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let placed = checkout(&mut v, &page).await;
    assert_eq!(placed.status, StatusCode::SEE_OTHER, "{}", placed.body);
    let location = placed
        .headers
        .get(header::LOCATION)
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(location.starts_with("/orders/OCOP"));
    // the same form again (a double click, a retried POST): the same order
    let again = checkout(&mut v, &page).await;
    assert_eq!(
        again
            .headers
            .get(header::LOCATION)
            .unwrap()
            .to_str()
            .unwrap(),
        location
    );
    assert_eq!(count(&app, "order_group").await, 1);
    assert_eq!(stock(&app, "mien-dong").await, 0);
    assert_eq!(stock(&app, "banh-da-ke").await, 6);
    let order = v.get(&location).await;
    assert_eq!(order.status, StatusCode::OK);
    assert!(
        order.body.contains("Chờ xác nhận") && order.body.contains("5 Lý Thái Tổ"),
        "{}",
        order.body
    );
    assert!(
        !v.get("/cart").await.body.contains("value=\"10\""),
        "the cart is empty now"
    );
    // the shopper was told by mail
    let mails = std::fs::read_dir(&app.state.config.mail_dir)
        .map(|d| d.count())
        .unwrap_or(0);
    assert!(mails >= 1);
    // a stranger cannot open it without the phone number
    let mut stranger = Visitor::new(&app);
    assert_eq!(stranger.get(&location).await.status, StatusCode::SEE_OTHER);
    let code = location
        .trim_start_matches("/orders/")
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let lookup = stranger.get("/orders/lookup").await;
    let wrong = stranger
        .post(
            "/orders/lookup",
            &[
                ("csrf", &csrf(&lookup)),
                ("code", &code),
                ("phone", "0900000000"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::NOT_FOUND);
    assert!(
        wrong
            .body
            .contains("Không tìm thấy đơn hàng nào có cả mã đơn và số điện thoại này")
            && !wrong.body.contains("aria-invalid"),
        "a right code with a wrong phone blames the pair, not the code's format: {}",
        wrong.body
    );
    let malformed = stranger
        .post(
            "/orders/lookup",
            &[
                ("csrf", &csrf(&lookup)),
                ("code", "OCOP12"),
                ("phone", "0912000111"),
            ],
        )
        .await;
    assert!(
        malformed
            .body
            .contains(r#"id="f-code" name="code" type="text" value="OCOP12" aria-invalid="true""#)
            && !malformed.body.contains(
                r#"id="f-phone" name="phone" type="tel" value="0912000111" aria-invalid"#
            ),
        "a code of the wrong shape is marked, the phone is not: {}",
        malformed.body
    );
    let right = stranger
        .post(
            "/orders/lookup",
            &[
                ("csrf", &csrf(&lookup)),
                ("code", &code.to_lowercase()),
                ("phone", "0912000111"),
            ],
        )
        .await;
    assert_eq!(right.status, StatusCode::SEE_OTHER);
    assert_eq!(
        stranger.get(&format!("/orders/{code}")).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_price_change_or_a_lapsed_certificate_stops_the_order_with_a_reason() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let mut v = Visitor::new(&app);
    add(&mut v, "mien-dong", 2).await;
    let page = v.get("/checkout").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);

    sqlx::query("update product set price_vnd = 55000 where slug = 'mien-dong'")
        .execute(&app.pool)
        .await
        .unwrap();
    let stopped = checkout(&mut v, &page).await;
    assert_eq!(stopped.status, StatusCode::CONFLICT, "{}", stopped.body);
    assert!(
        stopped.body.contains("vừa thay đổi từ 50.000"),
        "{}",
        stopped.body
    );
    assert!(
        stopped.body.contains("55.000"),
        "the page shows the new price"
    );
    assert_eq!(count(&app, "order_group").await, 0);
    assert_eq!(stock(&app, "mien-dong").await, 10);

    // the certificate lapses today
    sqlx::query("update certificate set expires_on = (now() at time zone 'Asia/Ho_Chi_Minh')::date from product p where p.product_id = certificate.product_id and p.slug = 'mien-dong'")
        .execute(&app.pool)
        .await
        .unwrap();
    let again = checkout(&mut v, &stopped).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
    assert!(again.body.contains("không được bán nữa"), "{}", again.body);
    assert_eq!(count(&app, "order_group").await, 0);
    assert_eq!(stock(&app, "mien-dong").await, 10);
}

/// One cash order for two producers (Bình Liêu's miến dong ×2 and Hà Nội's bánh đa Kế), with an
/// owner signed in for each producer.
struct TwoProducers<'a> {
    code: String,
    group_id: i64,
    hanoi_order: i64,
    binhlieu_order: i64,
    hanoi: Visitor<'a>,
    binhlieu: Visitor<'a>,
}

async fn two_producers(app: &TestApp) -> TwoProducers<'_> {
    load_fixture(app).await;
    let d = delivery(app, PaymentMethod::Cod).await;
    let seen = vec![
        SeenLine {
            product_id: product_id(app, "mien-dong").await,
            quantity: 2,
            price: Vnd::new(50_000),
        },
        SeenLine {
            product_id: product_id(app, "banh-da-ke").await,
            quantity: 1,
            price: Vnd::new(45_000),
        },
    ];
    let placed = place_order(
        &app.pool,
        RULE,
        30,
        &token(9),
        None,
        &d,
        &seen,
        &Default::default(),
        &Default::default(),
    )
    .await
    .unwrap();
    let orders: Vec<(i64, String)> = sqlx::query_as(
        "select o.order_id, pr.slug from shop_order o join producer pr using (producer_id) where order_group_id = $1 order by pr.slug",
    )
    .bind(placed.order_group_id)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let order_of = |slug: &str| orders.iter().find(|(_, s)| s == slug).unwrap().0;
    let member = |slug: &'static str, tag: &'static str| async move {
        let (v, uid) = person(app, tag, "producer", None).await;
        sqlx::query("insert into producer_member (producer_id, user_id, role) select producer_id, $2, 'owner' from producer where slug = $1")
            .bind(slug)
            .bind(uid)
            .execute(&app.pool)
            .await
            .unwrap();
        v
    };
    TwoProducers {
        code: placed.code.clone(),
        group_id: placed.order_group_id,
        hanoi_order: order_of("cong-ty-ha-noi"),
        binhlieu_order: order_of("htx-binh-lieu"),
        hanoi: member("cong-ty-ha-noi", "hanoi").await,
        binhlieu: member("htx-binh-lieu", "binhlieu").await,
    }
}

/// Takes an order part from placed to delivered through the producer's own page.
async fn ship_and_deliver(v: &mut Visitor<'_>, id: i64) {
    let token = csrf(&v.get(&format!("/producer/orders/{id}")).await);
    for fields in [
        vec![("action", "confirm".to_string())],
        vec![
            ("action", "ship".into()),
            ("carrier", "Viettel Post".into()),
            ("tracking_number", "VTP123456789".into()),
        ],
        vec![("action", "deliver".into())],
    ] {
        let mut fields = fields;
        fields.push(("csrf", token.clone()));
        assert_eq!(act(v, id, fields).await.status, StatusCode::SEE_OTHER);
    }
}

#[tokio::test]
async fn each_producer_ships_from_its_own_part_with_its_own_fee() {
    let app = TestApp::new().await;
    let o = two_producers(&app).await;
    // fees: Bình Liêu (Quảng Ninh → Hà Nội) 35.000, Hà Nội → Hà Nội 20.000
    let fees: Vec<i64> = sqlx::query_scalar(
        "select shipping_fee from shop_order where order_group_id = $1 order by shipping_fee",
    )
    .bind(o.group_id)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(fees, vec![20_000, 35_000]);
}

#[tokio::test]
async fn a_producer_sees_only_its_part_by_its_own_number_and_cannot_act_on_anothers() {
    let app = TestApp::new().await;
    let TwoProducers {
        code,
        hanoi_order,
        binhlieu_order,
        mut hanoi,
        mut binhlieu,
        ..
    } = two_producers(&app).await;
    let list = hanoi.get("/producer/orders").await;
    assert!(list.body.contains(&format!("#{hanoi_order}")));
    assert!(
        !list.body.contains(&code),
        "the group's code is the shopper's, not the producer's"
    );
    let mine = hanoi.get(&format!("/producer/orders/{hanoi_order}")).await;
    assert!(mine.body.contains("Bánh đa Kế"), "{}", mine.body);
    assert!(
        !mine.body.contains("Miến dong"),
        "never another producer's lines"
    );
    assert_eq!(
        hanoi
            .get(&format!("/producer/orders/{binhlieu_order}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let other = binhlieu.get("/account").await;
    let refused = act(
        &mut binhlieu,
        hanoi_order,
        vec![("csrf", csrf(&other)), ("action", "confirm".into())],
    )
    .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
    let status: String = sqlx::query_scalar("select status from shop_order where order_id = $1")
        .bind(hanoi_order)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(status, "placed", "nothing moved");
}

#[tokio::test]
async fn a_producer_confirms_ships_with_a_tracking_number_and_delivers_in_that_order() {
    let app = TestApp::new().await;
    let TwoProducers {
        hanoi_order,
        mut hanoi,
        ..
    } = two_producers(&app).await;
    let token_h = csrf(&hanoi.get(&format!("/producer/orders/{hanoi_order}")).await);
    // delivering before shipping is refused and changes nothing
    let early = act(
        &mut hanoi,
        hanoi_order,
        vec![("csrf", token_h.clone()), ("action", "deliver".into())],
    )
    .await;
    assert_eq!(early.status, StatusCode::BAD_REQUEST);
    assert!(early.body.contains("Không thể chuyển"), "{}", early.body);
    assert_eq!(
        act(
            &mut hanoi,
            hanoi_order,
            vec![("csrf", token_h.clone()), ("action", "confirm".into())]
        )
        .await
        .status,
        StatusCode::SEE_OTHER
    );
    let no_tracking = act(
        &mut hanoi,
        hanoi_order,
        vec![
            ("csrf", token_h.clone()),
            ("action", "ship".into()),
            ("carrier", "GHN".into()),
        ],
    )
    .await;
    // the same page comes back, the message beside the shipping form, the carrier kept
    assert_eq!(no_tracking.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        no_tracking
            .body
            .contains("Vui lòng nhập đơn vị vận chuyển và mã vận đơn.")
            && no_tracking.body.contains(
                r#"name="carrier" placeholder="ví dụ Viettel Post, GHN, VNPost" value="GHN""#
            )
            && no_tracking.body.contains(
                r#"name="tracking_number" value="" aria-describedby="e-ship" aria-invalid="true""#
            ),
        "{}",
        no_tracking.body
    );
    let shipped = act(
        &mut hanoi,
        hanoi_order,
        vec![
            ("csrf", token_h.clone()),
            ("action", "ship".into()),
            ("carrier", "Viettel Post".into()),
            ("tracking_number", "VTP123456789".into()),
        ],
    )
    .await;
    assert_eq!(shipped.status, StatusCode::SEE_OTHER);
    assert_eq!(
        act(
            &mut hanoi,
            hanoi_order,
            vec![("csrf", token_h.clone()), ("action", "deliver".into())]
        )
        .await
        .status,
        StatusCode::SEE_OTHER
    );
    let timeline: i64 = sqlx::query_scalar("select count(*) from order_event where order_id = $1")
        .bind(hanoi_order)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(timeline, 4, "placed, confirmed, shipped, delivered");
    let summary = hanoi.get("/producer").await;
    assert!(
        summary.body.contains("45.000\u{a0}₫</dd>"),
        "the delivered order counts as sold: {}",
        summary.body
    );
}

#[tokio::test]
async fn a_producer_cancels_its_part_only_with_a_reason_and_the_stock_comes_back() {
    let app = TestApp::new().await;
    let TwoProducers {
        group_id,
        binhlieu_order,
        mut binhlieu,
        ..
    } = two_producers(&app).await;
    let before = stock(&app, "mien-dong").await;
    let token_b = csrf(
        &binhlieu
            .get(&format!("/producer/orders/{binhlieu_order}"))
            .await,
    );
    let no_reason = act(
        &mut binhlieu,
        binhlieu_order,
        vec![("csrf", token_b.clone()), ("action", "cancel".into())],
    )
    .await;
    assert_eq!(no_reason.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        no_reason.body.contains("Vui lòng ghi lý do huỷ đơn")
            && no_reason
                .body
                .contains(r#"id="reason" name="reason" required value="" aria-invalid="true""#),
        "the cancel form comes back with its message: {}",
        no_reason.body
    );
    assert_eq!(stock(&app, "mien-dong").await, before, "nothing moved yet");
    let cancelled = act(
        &mut binhlieu,
        binhlieu_order,
        vec![
            ("csrf", token_b),
            ("action", "cancel".into()),
            ("reason", "Hết hàng trong kho thực tế".into()),
        ],
    )
    .await;
    assert_eq!(cancelled.status, StatusCode::SEE_OTHER);
    assert_eq!(stock(&app, "mien-dong").await, before + 2);
    let statuses: Vec<String> = sqlx::query_scalar(
        "select status from shop_order where order_group_id = $1 order by order_id",
    )
    .bind(group_id)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert!(
        statuses.contains(&"placed".to_string()) && statuses.contains(&"cancelled".to_string()),
        "the other producer's part is untouched: {statuses:?}"
    );
}

#[tokio::test]
async fn another_provinces_staff_neither_see_nor_refund_an_order() {
    let app = TestApp::new().await;
    let TwoProducers {
        hanoi_order,
        mut hanoi,
        ..
    } = two_producers(&app).await;
    ship_and_deliver(&mut hanoi, hanoi_order).await;
    let (mut qn_staff, _) = person(&app, "qn-staff", "province_staff", Some(22)).await;
    let page = qn_staff.get("/staff/orders").await;
    assert!(
        !page
            .body
            .contains(&format!("/staff/orders/{hanoi_order}\""))
    );
    assert_eq!(
        qn_staff
            .get(&format!("/staff/orders/{hanoi_order}"))
            .await
            .status,
        StatusCode::NOT_FOUND,
        "another province's order has no detail page for them"
    );
    let token = csrf(&qn_staff.get("/account").await);
    let refused = qn_staff
        .post(
            &format!("/staff/orders/{hanoi_order}/refund"),
            &[("csrf", &token), ("reason", "Khách trả hàng")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
    let status: String = sqlx::query_scalar("select status from shop_order where order_id = $1")
        .bind(hanoi_order)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(status, "delivered");
}

#[tokio::test]
async fn province_staff_find_an_order_by_code_or_phone_and_record_a_returned_deliverys_refund() {
    let app = TestApp::new().await;
    let TwoProducers {
        code,
        hanoi_order,
        mut hanoi,
        ..
    } = two_producers(&app).await;
    ship_and_deliver(&mut hanoi, hanoi_order).await;
    let (mut hn_staff, _) = person(&app, "hn-staff", "province_staff", Some(1)).await;
    let list = hn_staff.get("/staff/orders").await;
    assert!(
        list.body
            .contains(&format!("/staff/orders/{hanoi_order}\""))
            && list.body.contains("1–1 trong 1"),
        "the list links the order and counts its rows: {}",
        list.body
    );
    // found by its code and by the buyer's phone, written any usual way
    let phone: String = sqlx::query_scalar("select phone from order_group where code = $1")
        .bind(&code)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    for q in [
        code.to_lowercase(),
        format!("{} {}", &phone[..4], &phone[4..]),
    ] {
        let found = hn_staff
            .get(&format!(
                "/staff/orders?q={}",
                form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
            ))
            .await;
        assert!(
            found
                .body
                .contains(&format!("/staff/orders/{hanoi_order}\"")),
            "{q}: {}",
            found.body
        );
    }
    let nonsense = hn_staff.get("/staff/orders?q=abc").await;
    assert_eq!(nonsense.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        nonsense
            .body
            .contains("Nhập mã đơn (bắt đầu bằng OCOP) hoặc số điện thoại")
    );
    // the detail: buyer, payments, lines, timeline, and the refund form
    let page = hn_staff.get(&format!("/staff/orders/{hanoi_order}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains(&code)
            && page.body.contains("Người nhận")
            && page.body.contains("class=\"timeline\"")
            && page
                .body
                .contains(&format!("/staff/orders/{hanoi_order}/refund")),
        "{}",
        page.body
    );
    let refunded = hn_staff
        .post(
            &format!("/staff/orders/{hanoi_order}/refund"),
            &[
                ("csrf", &csrf(&page)),
                ("reason", "Khách trả hàng, đã chuyển khoản lại"),
            ],
        )
        .await;
    assert_eq!(refunded.status, StatusCode::SEE_OTHER, "{}", refunded.body);
    let status: String = sqlx::query_scalar("select status from shop_order where order_id = $1")
        .bind(hanoi_order)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(status, "refunded");
    let summary = hanoi.get("/producer").await;
    assert!(
        !summary.body.contains("45.000\u{a0}₫</dd>"),
        "a refunded order no longer counts as sold: {}",
        summary.body
    );
}

async fn act(v: &mut Visitor<'_>, id: i64, fields: Vec<(&'static str, String)>) -> Answer {
    let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    v.post(&format!("/producer/orders/{id}/action"), &refs)
        .await
}

#[tokio::test]
async fn without_redis_the_cart_says_so_payments_still_land_and_the_shop_recovers_by_itself() {
    // Redis through a proxy the test cuts, to see what shoppers get when Redis is gone
    let proxy = crate::operations::Proxy::start("127.0.0.1:6379").await;
    let app = TestApp::with_redis(format!("redis://{}", proxy.addr)).await;
    load_fixture(&app).await;
    let mut v = Visitor::new(&app);
    // one order placed (waiting for its bank transfer), then a second product in the cart
    add(&mut v, "mien-dong", 1).await;
    let page = v.get("/checkout").await;
    let placed = checkout_with(&mut v, &page, "vietqr").await;
    assert_eq!(placed.status, StatusCode::SEE_OTHER, "{}", placed.body);
    let code: String = sqlx::query_scalar("select code from order_group")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        add(&mut v, "mien-dong", 1).await.status,
        StatusCode::SEE_OTHER
    );

    proxy.cut();
    for answer in [
        v.get("/cart").await,
        add(&mut v, "mien-dong", 1).await,
        v.get("/checkout").await,
    ] {
        assert_eq!(
            answer.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{}",
            answer.body
        );
        assert!(
            answer.body.contains("Giỏ hàng tạm thời không khả dụng"),
            "{}",
            answer.body
        );
    }
    // the catalog still answers, and the bank's word about the first order still lands
    assert_eq!(app.get("/products").await.status, StatusCode::OK);
    let total: i64 = sqlx::query_scalar("select grand_total from order_group")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let body = crate::payments::sepay_body(5150, &code, total);
    let webhook = app
        .send(crate::payments::sepay_request(
            &body,
            &crate::payments::sepay_signed(&body, crate::payments::now()),
        ))
        .await;
    assert_eq!(webhook.status, StatusCode::OK, "{}", webhook.body);
    assert_eq!(count(&app, "order_group").await, 1);

    // Redis is back: the same visitor's cart is there again, without a restart
    proxy.restore();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let cart = loop {
        let cart = v.get("/cart").await;
        if cart.status == StatusCode::OK || std::time::Instant::now() > deadline {
            break cart;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(cart.status, StatusCode::OK, "{}", cart.body);
    assert!(cart.body.contains("Miến dong"), "{}", cart.body);
    let page = v.get("/checkout").await;
    let second = checkout_with(&mut v, &page, "cod").await;
    assert_eq!(second.status, StatusCode::SEE_OTHER, "{}", second.body);
    // nothing lost, nothing doubled: two orders, the first paid once
    assert_eq!(count(&app, "order_group").await, 2);
    let paid: Vec<String> = sqlx::query_scalar(
        "select g.code from payment p join order_group g using (order_group_id) where p.status = 'paid'",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(paid, vec![code]);
}

/// Waits for the change notification to reach the in-memory catalog.
async fn eventually(
    app: &TestApp,
    uri: &str,
    check: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let (_, body) = app.api(uri).await;
        if check(&body) || std::time::Instant::now() > deadline {
            return body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn stock_sold_shows_on_every_page_whether_or_not_the_product_runs_out() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    // a sale that leaves stock: the quick path (indexes shared)
    sqlx::query("update product set stock = 7 where slug = 'mien-dong'")
        .execute(&app.pool)
        .await
        .unwrap();
    let p = eventually(&app, "/api/v1/products/mien-dong", |b| b["stock"] == 7).await;
    assert_eq!(p["stock"], 7);
    let listed = eventually(&app, "/api/v1/products?in_stock=true", |_| true).await;
    assert!(
        listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["slug"] == "mien-dong")
    );
    // the last unit: the listing's in-stock filter changes too
    sqlx::query("update product set stock = 0 where slug = 'mien-dong'")
        .execute(&app.pool)
        .await
        .unwrap();
    let listed = eventually(&app, "/api/v1/products?in_stock=true", |b| {
        !b["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["slug"] == "mien-dong")
    })
    .await;
    assert!(
        !listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["slug"] == "mien-dong")
    );
    let p = eventually(&app, "/api/v1/products/mien-dong", |b| {
        b["in_stock"] == false
    })
    .await;
    assert_eq!(p["in_stock"], false);
}

/// A sold-out product's page takes an email; when stock comes back the shopper gets one mail,
/// once, whichever instance sends it; a bad address comes back to the form with the reason.
#[tokio::test]
async fn a_shopper_asks_to_hear_when_a_sold_out_product_is_back_and_hears_once() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let page = app.get("/products/tra-hoa-vang").await;
    assert!(
        page.body.contains("Hết hàng")
            && page
                .body
                .contains(r#"action="/products/tra-hoa-vang/alert""#),
        "{}",
        page.body
    );
    let mut v = Visitor::new(&app);
    let bad = v
        .post(
            "/products/tra-hoa-vang/alert",
            &[("email", "khong-phai-email")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("Email không hợp lệ") && bad.body.contains("khong-phai-email"));
    let email = format!("cho-hang-{}@example.vn", app.db_name);
    for _ in 0..2 {
        let asked = v
            .post("/products/tra-hoa-vang/alert", &[("email", &email)])
            .await;
        assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
        assert!(asked.body.contains("Sàn sẽ báo cho bạn"));
    }
    let mails_to = || {
        crate::helpers::messages(&app)
            .into_iter()
            .filter(|m| m.contains(&format!("To: {email}")))
            .count()
    };
    // still sold out: nothing is sent
    assert_eq!(ocop_market::alerts::send_due(&app.state).await.unwrap(), 0);
    sqlx::query("update product set stock = 12 where slug = 'tra-hoa-vang'")
        .execute(&app.pool)
        .await
        .unwrap();
    app.refresh().await;
    // two instances at once: one mail
    let (a, b) = tokio::join!(
        ocop_market::alerts::send_due(&app.state),
        ocop_market::alerts::send_due(&app.state)
    );
    assert_eq!(a.unwrap() + b.unwrap(), 1);
    assert_eq!(mails_to(), 1);
    assert_eq!(ocop_market::alerts::send_due(&app.state).await.unwrap(), 0);
    assert_eq!(mails_to(), 1, "told once");
    let mail = crate::helpers::messages(&app)
        .into_iter()
        .find(|m| m.contains(&format!("To: {email}")))
        .unwrap();
    assert!(mail.contains("/products/tra-hoa-vang"), "{mail}");
}
