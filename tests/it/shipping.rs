//! Carriers at checkout: each producer's parcel quoted by every enabled carrier (GHN answering
//! from a stand-in with its recorded bodies, the sandbox carrier from its table), the shopper's
//! pick kept on the order as shown, a carrier that never answers left out within the budget, and
//! a stale or forged quote refused.

use crate::helpers::{Answer, Options, TestApp, Visitor, csrf, load_fixture};
use axum::http::StatusCode;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A carrier stand-in: answers each path with the body a test set (recorded carrier answers),
/// and keeps what it was asked.
#[derive(Clone)]
struct StandIn {
    url: String,
    prefix: String,
    answers: Arc<Mutex<HashMap<String, (u16, serde_json::Value)>>>,
    asked: Arc<Mutex<Vec<(String, serde_json::Value)>>>,
}

impl StandIn {
    async fn start(prefix: &str) -> StandIn {
        let answers: Arc<Mutex<HashMap<String, (u16, serde_json::Value)>>> = Arc::default();
        let asked: Arc<Mutex<Vec<(String, serde_json::Value)>>> = Arc::default();
        let (a, k) = (answers.clone(), asked.clone());
        let app =
            axum::Router::new().fallback(move |uri: axum::http::Uri, body: axum::body::Bytes| {
                let (a, k) = (a.clone(), k.clone());
                async move {
                    let path = uri.path().to_string();
                    let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
                    k.lock().unwrap().push((path.clone(), json));
                    let (status, answer) = a.lock().unwrap().get(&path).cloned().unwrap_or((
                        404,
                        serde_json::json!({"code": 404, "message": "not found"}),
                    ));
                    (
                        axum::http::StatusCode::from_u16(status).unwrap(),
                        axum::Json(answer),
                    )
                }
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}{prefix}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        StandIn {
            url,
            prefix: prefix.to_string(),
            answers,
            asked,
        }
    }

    fn answer(&self, path: &str, status: u16, body: serde_json::Value) {
        let path = format!("{}{path}", self.prefix);
        self.answers.lock().unwrap().insert(path, (status, body));
    }

    fn asked(&self, suffix: &str) -> Vec<serde_json::Value> {
        self.asked
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p.ends_with(suffix))
            .map(|(_, b)| b.clone())
            .collect()
    }
}

/// GHN answering the fee call with a recorded body.
async fn ghn_stand_in(fee: i64) -> StandIn {
    let ghn = StandIn::start("/shiip/public-api").await;
    ghn.answer(
        "/v2/shipping-order/fee",
        200,
        serde_json::json!({
            "code": 200, "message": "Success",
            "data": {"total": fee, "service_fee": fee, "insurance_fee": 0, "pick_station_fee": 0,
                     "coupon_value": 0, "r2s_fee": 0, "cod_fee": 0,
                     "pick_remote_areas_fee": 0, "deliver_remote_areas_fee": 0}
        }),
    );
    ghn
}

/// A carrier that takes the connection and never says a word.
async fn silent_carrier() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/shiip/public-api", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = vec![];
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    url
}

async fn app_with(ghn_url: Option<String>, sandbox: bool, budget_ms: u64) -> TestApp {
    TestApp::custom(Options {
        tweak: Some(Box::new(move |c| {
            c.shipping_sandbox = sandbox;
            c.quote_timeout_ms = budget_ms;
            if let Some(url) = ghn_url {
                c.ghn_token = Some("ghn-test-token".into());
                c.ghn_shop_id = Some("885".into());
                c.ghn_url = url;
            }
        })),
        ..Options::default()
    })
    .await
}

/// GHN's codes for the fixture's communes (what its master data would have filled).
async fn ghn_places(app: &TestApp) {
    sqlx::query(
        "insert into carrier_place (carrier, commune_code, district_id, ward_code, province_name, ward_name)
         select 'ghn', commune_code, 1000 + row_number() over (order by commune_code), 'W' || commune_code, '', name
         from commune where province_code in (1, 22)",
    )
    .execute(&app.pool)
    .await
    .unwrap();
}

fn hidden(page: &Answer, name: &str) -> Option<String> {
    let at = page.body.find(&format!("name=\"{name}\" value=\""))? + name.len() + 15;
    Some(page.body[at..at + page.body[at..].find('"')?].to_string())
}

/// The offer ids shown for a producer, in the page's order (cheapest first).
fn offers(page: &Answer, producer: i64) -> Vec<String> {
    let needle = format!("name=\"ship_{producer}\" value=\"");
    page.body
        .match_indices(&needle)
        .map(|(at, _)| {
            let start = at + needle.len();
            page.body[start..start + 20].to_string()
        })
        .collect()
}

async fn producer_id(app: &TestApp, slug: &str) -> i64 {
    sqlx::query_scalar("select producer_id from producer where slug = $1")
        .bind(slug)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// Fills the checkout form for Hà Nội and submits it with `extra` fields.
async fn submit(
    v: &mut Visitor<'_>,
    page: &Answer,
    commune: i32,
    extra: &[(&str, &str)],
) -> Answer {
    let token = hidden(page, "token").unwrap();
    let seen = hidden(page, "seen")
        .unwrap()
        .replace("&#x3A;", ":")
        .replace("&#x2C;", ",");
    let commune = commune.to_string();
    let csrf = csrf(page);
    let mut fields: Vec<(&str, &str)> = vec![
        ("csrf", &csrf),
        ("token", &token),
        ("seen", &seen),
        ("buyer_name", "Lê Thị Mua"),
        ("phone", "0912 000 111"),
        ("province", "1"),
        ("commune", &commune),
        ("street", "5 Lý Thái Tổ"),
        ("payment_method", "cod"),
    ];
    // the page's hidden fields, as a browser sends them back (unless the test says otherwise)
    let quoted_for = hidden(page, "quoted_for");
    if let Some(q) = quoted_for.as_deref() {
        if !extra.iter().any(|(k, _)| *k == "quoted_for") {
            fields.push(("quoted_for", q));
        }
    }
    fields.extend_from_slice(extra);
    v.post("/checkout", &fields).await
}

#[tokio::test]
async fn the_shopper_picks_a_carrier_for_each_parcel_and_the_order_keeps_the_fee_shown() {
    let ghn = ghn_stand_in(36_300).await;
    let app = app_with(Some(ghn.url.clone()), true, 2000).await;
    let f = load_fixture(&app).await;
    ghn_places(&app).await;
    let mut v = Visitor::new(&app);
    crate::orders::add(&mut v, "mien-dong", 2).await;
    let page = v.get("/checkout").await;
    // the address typed: before anything is placed, the fees for it are shown
    let quoted = submit(&mut v, &page, f.hn_commune, &[]).await;
    assert_eq!(quoted.status, StatusCode::OK, "{}", quoted.body);
    assert!(
        quoted
            .body
            .contains("Phí giao hàng đã được tính cho địa chỉ này")
    );
    assert!(
        quoted.body.contains("Giao Hàng Nhanh (GHN)"),
        "{}",
        quoted.body
    );
    assert!(quoted.body.contains("Vận chuyển thử nghiệm"));
    let binh_lieu = producer_id(&app, "htx-binh-lieu").await;
    let ids = offers(&quoted, binh_lieu);
    assert_eq!(ids.len(), 2, "one offer per carrier");
    // cheapest first and preselected: the sandbox's 34,000 for 1 kg between provinces, then GHN's 36,300
    assert!(
        quoted
            .body
            .contains(&format!("value=\"{}\" checked", ids[0]))
    );
    let asked_weight = ghn.asked("/v2/shipping-order/fee")[0]["weight"].clone();
    assert_eq!(
        asked_weight, 1000,
        "two 500 g units, asked at the 1 kg band"
    );
    // the shopper takes GHN, dearer but known
    let field = format!("ship_{binh_lieu}");
    let placed = submit(&mut v, &quoted, f.hn_commune, &[(&field, &ids[1])]).await;
    assert_eq!(placed.status, StatusCode::SEE_OTHER, "{}", placed.body);
    let (carrier, fee, quote_fee, paid_by, grand): (String, i64, i64, String, i64) = sqlx::query_as(
        "select o.ship_carrier, o.shipping_fee, o.ship_quote_fee, o.shipping_paid_by, g.grand_total
         from shop_order o join order_group g using (order_group_id)",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((carrier.as_str(), fee, quote_fee), ("ghn", 36_300, 36_300));
    assert_eq!(paid_by, "shopper");
    assert_eq!(grand, 2 * 50_000 + 36_300, "the total is the one shown");
}

#[tokio::test]
async fn a_parcel_that_ships_free_costs_the_shopper_nothing_and_the_producer_bears_the_carrier() {
    let app = app_with(None, true, 2000).await;
    let f = load_fixture(&app).await;
    let mut v = Visitor::new(&app);
    // 2 × 300,000: above the 500,000 free-shipping threshold
    crate::orders::add(&mut v, "cha-muc", 2).await;
    let page = v.get("/checkout").await;
    let quoted = submit(&mut v, &page, f.hn_commune, &[]).await;
    assert!(
        quoted.body.contains("Miễn phí giao hàng"),
        "{}",
        quoted.body
    );
    let ba_che = producer_id(&app, "ho-ba-che").await;
    let ids = offers(&quoted, ba_che);
    let field = format!("ship_{ba_che}");
    let placed = submit(&mut v, &quoted, f.hn_commune, &[(&field, &ids[0])]).await;
    assert_eq!(placed.status, StatusCode::SEE_OTHER, "{}", placed.body);
    let (fee, quote_fee, paid_by): (i64, i64, String) =
        sqlx::query_as("select shipping_fee, ship_quote_fee, shipping_paid_by from shop_order")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(fee, 0);
    assert!(quote_fee > 0, "what the carrier charges is kept");
    assert_eq!(paid_by, "producer");
}

#[tokio::test]
async fn a_forged_or_expired_quote_is_refused_and_nothing_is_placed() {
    let app = app_with(None, true, 2000).await;
    let f = load_fixture(&app).await;
    let mut v = Visitor::new(&app);
    crate::orders::add(&mut v, "mien-dong", 1).await;
    let page = v.get("/checkout").await;
    let quoted = submit(&mut v, &page, f.hn_commune, &[]).await;
    let binh_lieu = producer_id(&app, "htx-binh-lieu").await;
    let field = format!("ship_{binh_lieu}");
    for forged in ["0123456789abcdef0123", "not-an-offer", ""] {
        let answer = submit(&mut v, &quoted, f.hn_commune, &[(&field, forged)]).await;
        assert_eq!(
            answer.status,
            StatusCode::CONFLICT,
            "{forged}: {}",
            answer.body
        );
        assert!(answer.body.contains("Phí giao hàng vừa được tính lại"));
    }
    // an offer made for another commune does not carry over
    let ids = offers(&quoted, binh_lieu);
    let other: i32 = sqlx::query_scalar(
        "select commune_code from commune where province_code = 1 and commune_code <> $1 limit 1",
    )
    .bind(f.hn_commune)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let moved = submit(
        &mut v,
        &quoted,
        other,
        &[(&field, &ids[0]), ("quoted_for", &other.to_string())],
    )
    .await;
    assert_eq!(moved.status, StatusCode::CONFLICT, "{}", moved.body);
    let orders: i64 = sqlx::query_scalar("select count(*) from shop_order")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(orders, 0);
}

#[tokio::test]
async fn a_carrier_that_never_answers_is_left_out_and_checkout_goes_on_at_the_flat_fee() {
    let app = app_with(Some(silent_carrier().await), false, 400).await;
    let f = load_fixture(&app).await;
    ghn_places(&app).await;
    let mut v = Visitor::new(&app);
    crate::orders::add(&mut v, "mien-dong", 1).await;
    let page = v.get("/checkout").await;
    let started = Instant::now();
    let quoted = submit(&mut v, &page, f.hn_commune, &[]).await;
    let took = started.elapsed();
    assert_eq!(quoted.status, StatusCode::OK, "{}", quoted.body);
    assert!(
        took < Duration::from_secs(2),
        "waited {took:?} on a silent carrier"
    );
    assert!(
        !quoted.body.contains("name=\"ship_"),
        "no offer from a silent carrier"
    );
    assert!(
        quoted.body.contains("35.000"),
        "the flat fee between provinces"
    );
    let placed = submit(&mut v, &quoted, f.hn_commune, &[]).await;
    assert_eq!(placed.status, StatusCode::SEE_OTHER, "{}", placed.body);
    let (fee, carrier): (i64, Option<String>) =
        sqlx::query_as("select shipping_fee, ship_carrier from shop_order")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((fee, carrier), (35_000, None));
}

/// A carrier's webhook, as it posts it.
async fn post_raw(app: &TestApp, path: &str, body: String) -> StatusCode {
    app.send(
        axum::http::Request::post(path)
            .header("content-type", "application/json")
            .header("x-forwarded-for", "203.0.113.9")
            .body(axum::body::Body::from(body))
            .unwrap(),
    )
    .await
    .status
}

/// The owner of Bình Liêu's cooperative, signed in.
async fn binh_lieu_owner(app: &TestApp) -> Visitor<'_> {
    let (v, uid) = crate::helpers::person(app, "binhlieu", "producer", None).await;
    sqlx::query("insert into producer_member (producer_id, user_id, role) select producer_id, $1, 'owner' from producer where slug = 'htx-binh-lieu'")
        .bind(uid)
        .execute(&app.pool)
        .await
        .unwrap();
    v
}

/// A cash-on-delivery order of two packs of miến dong to Hà Nội, the sandbox carrier picked, and
/// confirmed by the producer. Returns the order's id.
async fn confirmed_order(app: &TestApp, owner: &mut Visitor<'_>) -> i64 {
    let f = crate::helpers::Fixture {
        qn_commune_a: 0,
        qn_commune_b: 0,
        hn_commune: sqlx::query_scalar(
            "select min(commune_code) from commune where province_code = 1",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap(),
    };
    let mut shopper = Visitor::new(app);
    crate::orders::add(&mut shopper, "mien-dong", 2).await;
    let page = shopper.get("/checkout").await;
    let quoted = submit(&mut shopper, &page, f.hn_commune, &[]).await;
    let binh_lieu = producer_id(app, "htx-binh-lieu").await;
    let ids = offers(&quoted, binh_lieu);
    let field = format!("ship_{binh_lieu}");
    let placed = submit(&mut shopper, &quoted, f.hn_commune, &[(&field, &ids[0])]).await;
    assert_eq!(placed.status, StatusCode::SEE_OTHER, "{}", placed.body);
    let id: i64 = sqlx::query_scalar("select max(order_id) from shop_order")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let page = owner.get(&format!("/producer/orders/{id}")).await;
    let confirmed = owner
        .post(
            &format!("/producer/orders/{id}/action"),
            &[("csrf", &csrf(&page)), ("action", "confirm")],
        )
        .await;
    assert_eq!(
        confirmed.status,
        StatusCode::SEE_OTHER,
        "{}",
        confirmed.body
    );
    id
}

/// One pack to Hà Nội at the flat fee (the shopper picked no carrier), confirmed: the producer
/// books a carrier itself.
async fn flat_fee_confirmed_order(app: &TestApp, owner: &mut Visitor<'_>) -> i64 {
    let mut shopper = Visitor::new(app);
    crate::orders::add(&mut shopper, "mien-dong", 1).await;
    let page = shopper.get("/checkout").await;
    let hn: i32 =
        sqlx::query_scalar("select min(commune_code) from commune where province_code = 1")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let quoted = submit(&mut shopper, &page, hn, &[]).await;
    let placed = submit(&mut shopper, &quoted, hn, &[]).await;
    assert_eq!(placed.status, StatusCode::SEE_OTHER, "{}", placed.body);
    let id: i64 = sqlx::query_scalar("select max(order_id) from shop_order")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let page = owner.get(&format!("/producer/orders/{id}")).await;
    owner
        .post(
            &format!("/producer/orders/{id}/action"),
            &[("csrf", &csrf(&page)), ("action", "confirm")],
        )
        .await;
    id
}

async fn order_status(app: &TestApp, id: i64) -> String {
    sqlx::query_scalar("select status from shop_order where order_id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

async fn book(owner: &mut Visitor<'_>, id: i64, carrier: &str) -> Answer {
    let page = owner.get(&format!("/producer/orders/{id}")).await;
    owner
        .post(
            &format!("/producer/orders/{id}/action"),
            &[
                ("csrf", &csrf(&page)),
                ("action", "book"),
                ("carrier", carrier),
            ],
        )
        .await
}

async fn tracking_of(app: &TestApp, id: i64) -> String {
    sqlx::query_scalar("select tracking from shipment where order_id = $1 and state = 'active'")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_producer_books_the_carrier_prints_the_label_and_the_parcel_moves_the_order() {
    let app = app_with(None, true, 2000).await;
    load_fixture(&app).await;
    let mut owner = binh_lieu_owner(&app).await;
    let id = confirmed_order(&app, &mut owner).await;
    // confirming booked the carrier the shopper picked
    let page = owner.get(&format!("/producer/orders/{id}")).await;
    assert!(
        page.body.contains("mã vận đơn <strong>SBX"),
        "{}",
        page.body
    );
    let booked = book(&mut owner, id, "sandbox").await;
    assert_eq!(booked.status, StatusCode::SEE_OTHER, "{}", booked.body);
    let tracking = tracking_of(&app, id).await;
    let (cod, code): (i64, String) =
        sqlx::query_as("select cod_amount, client_code from shipment where order_id = $1")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        cod,
        2 * 50_000 + 34_000,
        "the carrier collects goods and shipping"
    );
    assert_eq!(code, format!("OCOP-{id}"));
    // booking again (a double click) makes nothing more
    assert_eq!(
        book(&mut owner, id, "sandbox").await.status,
        StatusCode::SEE_OTHER
    );
    let shipments: i64 = sqlx::query_scalar("select count(*) from shipment")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(shipments, 1);
    // the label, one click from the order
    let label = owner.get(&format!("/producer/orders/{id}/label")).await;
    assert_eq!(label.status, StatusCode::SEE_OTHER);
    let to = label.headers["location"].to_str().unwrap().to_string();
    let printed = owner.get(&to).await;
    assert!(
        printed.body.contains(&tracking) && printed.body.contains("Lê Thị Mua"),
        "{}",
        printed.body
    );
    assert_eq!(
        order_status(&app, id).await,
        "confirmed",
        "not shipped until picked up"
    );
    // the sandbox carrier picks it up and delivers it: each click is the carrier's webhook
    let mut carrier = Visitor::new(&app);
    for (to, status) in [
        ("picked_up", "shipped"),
        ("in_transit", "shipped"),
        ("delivered", "delivered"),
    ] {
        let moved = carrier
            .post(&format!("/sandbox/shipping/{tracking}"), &[("to", to)])
            .await;
        assert_eq!(moved.status, StatusCode::SEE_OTHER, "{}", moved.body);
        assert_eq!(order_status(&app, id).await, status, "after {to}");
    }
    // the producer is told by mail when the carrier moves the order (not at every hop)
    let mails = crate::helpers::messages(&app).join("\n");
    assert!(
        mails.contains(&format!("Đơn hàng #{id} đã chuyển sang: Đã giao.")),
        "{mails}"
    );
    assert_eq!(
        mails
            .matches(&format!("Đơn hàng #{id} đã chuyển sang: Đang giao."))
            .count(),
        1,
        "picked up and in transit are one change of the order"
    );
    // a late "in transit" does not take the order back
    carrier
        .post(
            &format!("/sandbox/shipping/{tracking}"),
            &[("to", "in_transit")],
        )
        .await;
    assert_eq!(order_status(&app, id).await, "delivered");
    // the shopper reads the parcel's journey in Vietnamese
    let code: String = sqlx::query_scalar("select g.code from order_group g join shop_order o using (order_group_id) where o.order_id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let mut shopper = Visitor::new(&app);
    let lookup = shopper.get("/orders/lookup").await;
    shopper
        .post(
            "/orders/lookup",
            &[
                ("csrf", &csrf(&lookup)),
                ("code", &code),
                ("phone", "0912 000 111"),
            ],
        )
        .await;
    let order = shopper.get(&format!("/orders/{code}")).await;
    assert!(order.body.contains("Hành trình bưu kiện"), "{}", order.body);
    assert!(order.body.contains("Đã lấy hàng") && order.body.contains("Đã giao hàng"));
}

#[tokio::test]
async fn a_parcel_that_cannot_be_delivered_comes_back_and_its_stock_with_it() {
    let app = app_with(None, true, 2000).await;
    load_fixture(&app).await;
    let mut owner = binh_lieu_owner(&app).await;
    let id = confirmed_order(&app, &mut owner).await;
    book(&mut owner, id, "sandbox").await;
    let tracking = tracking_of(&app, id).await;
    let stock = || async {
        sqlx::query_scalar::<_, i32>("select stock from product where slug = 'mien-dong'")
            .fetch_one(&app.pool)
            .await
            .unwrap()
    };
    let before = stock().await;
    let mut carrier = Visitor::new(&app);
    for (to, status) in [
        ("picked_up", "shipped"),
        ("delivery_failed", "returning"),
        ("returned", "returned"),
    ] {
        carrier
            .post(&format!("/sandbox/shipping/{tracking}"), &[("to", to)])
            .await;
        assert_eq!(order_status(&app, id).await, status, "after {to}");
    }
    assert_eq!(stock().await, before + 2, "the two packs are back on sale");
    let page = owner.get(&format!("/producer/orders/{id}")).await;
    assert!(
        page.body.contains("Đã hoàn hàng về người bán"),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn a_delivery_whose_webhook_was_lost_is_found_by_the_poll() {
    let app = TestApp::custom(Options {
        serve: false,
        tweak: Some(Box::new(|c| c.shipping_sandbox = true)),
        ..Options::default()
    })
    .await;
    load_fixture(&app).await;
    let mut owner = binh_lieu_owner(&app).await;
    let id = confirmed_order(&app, &mut owner).await;
    book(&mut owner, id, "sandbox").await;
    let tracking = tracking_of(&app, id).await;
    let mut carrier = Visitor::new(&app);
    carrier
        .post(&format!("/sandbox/shipping/{tracking}"), &[("to", "lost")])
        .await;
    assert_eq!(order_status(&app, id).await, "confirmed", "nobody was told");
    let moved = ocop_market::shipping::shipments::poll_once(&app.state)
        .await
        .unwrap();
    assert_eq!(moved, 1);
    assert_eq!(order_status(&app, id).await, "delivered");
    // polled again at once, nothing is due
    assert_eq!(
        ocop_market::shipping::shipments::poll_once(&app.state)
            .await
            .unwrap(),
        0
    );
}

/// GHN's order detail answer, as recorded, in state `status`.
fn ghn_detail(tracking: &str, status: &str) -> serde_json::Value {
    serde_json::json!({
        "code": 200, "message": "Success",
        "data": {"order_code": tracking, "client_order_code": "OCOP-1", "status": status,
                 "updated_date": "2026-12-02T09:12:44.237Z", "cod_amount": 0,
                 "log": [{"status": status, "updated_date": "2026-12-02T09:12:44.237Z"}]}
    })
}

fn ghn_webhook(tracking: &str, status: &str, time: &str) -> String {
    serde_json::json!({
        "CODAmount": 0, "CODTransferDate": null, "ClientOrderCode": "", "OrderCode": tracking,
        "Status": status, "Time": time, "Type": "switch_status", "Reason": "", "ShopID": 885
    })
    .to_string()
}

#[tokio::test]
async fn a_ghn_webhook_moves_the_order_only_once_ghn_confirms_it_and_never_backwards() {
    let ghn = ghn_stand_in(36_300).await;
    let app = app_with(Some(ghn.url.clone()), false, 2000).await;
    load_fixture(&app).await;
    ghn_places(&app).await;
    ghn.answer(
        "/v2/shipping-order/create",
        200,
        serde_json::json!({"code": 200, "message": "Success", "data": {"order_code": "GANVX8UL", "total_fee": 36300, "expected_delivery_time": "2026-12-05T16:59:59Z"}}),
    );
    let mut owner = binh_lieu_owner(&app).await;
    // an order placed at the flat fee (no carrier picked at checkout), confirmed, booked with GHN
    let id = flat_fee_confirmed_order(&app, &mut owner).await;
    assert_eq!(
        book(&mut owner, id, "ghn").await.status,
        StatusCode::SEE_OTHER
    );
    let asked = ghn.asked("/v2/shipping-order/create");
    assert_eq!(asked[0]["client_order_code"], format!("OCOP-{id}"));
    assert_eq!(asked[0]["cod_amount"], 50_000 + 35_000);
    let post_hook = |body: String| post_raw(&app, "/shipping/ghn/webhook", body);
    // GHN says delivered, but asked, it says the parcel is still waiting for pickup: a hint only
    ghn.answer(
        "/v2/shipping-order/detail",
        200,
        ghn_detail("GANVX8UL", "ready_to_pick"),
    );
    let hint = post_hook(ghn_webhook("GANVX8UL", "delivered", "2026-12-02T09:12:44Z")).await;
    assert_eq!(hint, StatusCode::OK);
    assert_eq!(order_status(&app, id).await, "confirmed");
    // now GHN confirms it
    ghn.answer(
        "/v2/shipping-order/detail",
        200,
        ghn_detail("GANVX8UL", "delivered"),
    );
    post_hook(ghn_webhook("GANVX8UL", "delivered", "2026-12-02T10:00:00Z")).await;
    assert_eq!(order_status(&app, id).await, "delivered");
    // the same event again, and an older one after it: kept, nothing moves
    post_hook(ghn_webhook("GANVX8UL", "delivered", "2026-12-02T10:00:00Z")).await;
    ghn.answer(
        "/v2/shipping-order/detail",
        200,
        ghn_detail("GANVX8UL", "transporting"),
    );
    post_hook(ghn_webhook(
        "GANVX8UL",
        "transporting",
        "2026-12-02T08:00:00Z",
    ))
    .await;
    assert_eq!(order_status(&app, id).await, "delivered");
    let outcomes: Vec<(String, Option<String>)> = sqlx::query_as(
        "select outcome, reason from shipment_event where source = 'webhook' order by shipment_event_id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(outcomes.len(), 4, "every webhook kept: {outcomes:?}");
    assert_eq!(outcomes[1].0, "applied");
    assert_eq!(outcomes[2].1.as_deref(), Some("duplicate"));
    assert_eq!(outcomes[3].0, "recorded");
    // a webhook about a parcel that is not ours is kept and ignored
    ghn.answer(
        "/v2/shipping-order/detail",
        200,
        ghn_detail("NOTOURS1", "delivered"),
    );
    assert_eq!(
        post_hook(ghn_webhook("NOTOURS1", "delivered", "2026-12-02T10:00:00Z")).await,
        StatusCode::OK
    );
    let unknown: i64 =
        sqlx::query_scalar("select count(*) from shipment_event where outcome = 'unknown'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(unknown, 1);
}

#[tokio::test]
async fn a_carrier_refusal_is_shown_and_the_retry_makes_one_shipment_under_the_same_code() {
    let ghn = ghn_stand_in(36_300).await;
    let app = app_with(Some(ghn.url.clone()), false, 2000).await;
    load_fixture(&app).await;
    ghn_places(&app).await;
    let mut owner = binh_lieu_owner(&app).await;
    let id = flat_fee_confirmed_order(&app, &mut owner).await;
    // GHN is down, then refuses with its own words
    ghn.answer("/v2/shipping-order/create", 502, serde_json::json!({}));
    let down = book(&mut owner, id, "ghn").await;
    assert_eq!(down.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(down.body.contains("thử lại"), "{}", down.body);
    ghn.answer(
        "/v2/shipping-order/create",
        400,
        serde_json::json!({"code": 400, "message": "Số điện thoại người nhận không hợp lệ", "data": null}),
    );
    let refused = book(&mut owner, id, "ghn").await;
    assert!(
        refused
            .body
            .contains("GHN: Số điện thoại người nhận không hợp lệ"),
        "{}",
        refused.body
    );
    assert_eq!(order_status(&app, id).await, "confirmed");
    // then it works: still one shipment, and GHN saw one client code throughout
    ghn.answer(
        "/v2/shipping-order/create",
        200,
        serde_json::json!({"code": 200, "message": "Success", "data": {"order_code": "GANVX9AB", "total_fee": 36300}}),
    );
    assert_eq!(
        book(&mut owner, id, "ghn").await.status,
        StatusCode::SEE_OTHER
    );
    let rows: Vec<(String, Option<String>)> =
        sqlx::query_as("select state, tracking from shipment where order_id = $1")
            .bind(id)
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        rows,
        vec![("active".to_string(), Some("GANVX9AB".to_string()))]
    );
    let codes: std::collections::BTreeSet<String> = ghn
        .asked("/v2/shipping-order/create")
        .iter()
        .map(|b| b["client_order_code"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(codes.len(), 1, "{codes:?}");
}

#[tokio::test]
async fn a_forged_viettel_post_webhook_changes_nothing_and_the_real_one_moves_the_order() {
    let app = TestApp::custom(Options {
        tweak: Some(Box::new(|c| {
            c.shipping_sandbox = true;
            c.vtp_username = Some("0912345678".into());
            c.vtp_password = Some("vtp-test-password".into());
            c.vtp_webhook_token = Some("vtp-shared-token".into());
            c.vtp_url = "http://127.0.0.1:9/vtp".into();
        })),
        ..Options::default()
    })
    .await;
    load_fixture(&app).await;
    let mut owner = binh_lieu_owner(&app).await;
    let id = confirmed_order(&app, &mut owner).await;
    // a Viettel Post shipment instead of the sandbox's (as booking would have made it)
    sqlx::query("update shipment set state = 'cancelled'")
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query(
        "insert into shipment (order_id, carrier, client_code, tracking, state, track) values ($1, 'viettelpost', $2, '1762143511234', 'active', 'created')",
    )
    .bind(id)
    .bind(format!("OCOP-{id}"))
    .execute(&app.pool)
    .await
    .unwrap();
    let hook = |token: &str, status: i64, date: &str| {
        serde_json::json!({
            "DATA": {"ORDER_NUMBER": "1762143511234", "ORDER_REFERENCE": format!("OCOP-{id}"),
                     "ORDER_STATUSDATE": date, "ORDER_STATUS": status, "STATUS_NAME": "Phát thành công",
                     "NOTE": "", "MONEY_COLLECTION": 129000},
            "TOKEN": token
        })
        .to_string()
    };
    let forged = post_raw(
        &app,
        "/shipping/viettelpost/webhook",
        hook("đoán-mò", 501, "04/12/2026 10:21:31"),
    )
    .await;
    assert_eq!(forged, StatusCode::UNAUTHORIZED);
    assert_eq!(order_status(&app, id).await, "confirmed");
    let refused: i64 =
        sqlx::query_scalar("select count(*) from shipment_event where outcome = 'refused'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(refused, 1, "kept, and refused");
    let real = post_raw(
        &app,
        "/shipping/viettelpost/webhook",
        hook("vtp-shared-token", 501, "04/12/2026 10:21:31"),
    )
    .await;
    assert_eq!(real, StatusCode::OK);
    assert_eq!(order_status(&app, id).await, "delivered");
}

/// An account's balance in the ledger (debits positive).
async fn account(app: &TestApp, name: &str) -> i64 {
    sqlx::query_scalar::<_, Option<i64>>(
        "select sum(amount)::bigint from journal_line where account = $1",
    )
    .bind(name)
    .fetch_one(&app.pool)
    .await
    .unwrap()
    .unwrap_or(0)
}

#[tokio::test]
async fn cash_a_carrier_collects_is_owed_by_the_carrier_until_it_remits_and_the_shipping_is_the_carriers()
 {
    let app = app_with(None, true, 2000).await;
    load_fixture(&app).await;
    let mut owner = binh_lieu_owner(&app).await;
    let id = confirmed_order(&app, &mut owner).await;
    book(&mut owner, id, "sandbox").await;
    let tracking = tracking_of(&app, id).await;
    let mut carrier = Visitor::new(&app);
    for to in ["picked_up", "delivered"] {
        carrier
            .post(&format!("/sandbox/shipping/{tracking}"), &[("to", to)])
            .await;
    }
    let paid = 2 * 50_000 + 34_000;
    assert_eq!(
        account(&app, "carrier_cod").await,
        paid,
        "the carrier holds the cash"
    );
    assert_eq!(
        account(&app, "cash_collected").await,
        0,
        "the producer never touched it"
    );
    // the return window passes: the goods are the producer's, the shipping the carrier's
    let later = time::OffsetDateTime::now_utc() + time::Duration::days(8);
    ocop_market::settlement::release_due(&app.pool, later)
        .await
        .unwrap();
    assert_eq!(account(&app, "carriers_payable").await, -34_000);
    let producer: i64 = producer_id(&app, "htx-binh-lieu").await;
    let balance = ocop_market::ledger::producer_balances(&app.pool, producer)
        .await
        .unwrap();
    assert_eq!(
        balance.available.amount(),
        100_000 - 5_000,
        "goods less 5% commission; a cooperative has no tax withheld, and no cash to set against"
    );
    // the carrier pays us what it collected
    carrier
        .post(&format!("/sandbox/shipping/{tracking}"), &[("to", "remit")])
        .await;
    assert_eq!(account(&app, "carrier_cod").await, 0);
    assert_eq!(account(&app, "clearing_bank").await, paid);
    // told twice, it is booked once
    carrier
        .post(&format!("/sandbox/shipping/{tracking}"), &[("to", "remit")])
        .await;
    assert_eq!(account(&app, "clearing_bank").await, paid);
    let total: Option<i64> = sqlx::query_scalar("select sum(amount)::bigint from journal_line")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(total, Some(0));
}

#[tokio::test]
async fn province_staff_choose_their_carriers_chase_silent_parcels_and_see_cash_carriers_owe() {
    let app = app_with(None, true, 2000).await;
    let f = load_fixture(&app).await;
    let mut owner = binh_lieu_owner(&app).await;
    let id = confirmed_order(&app, &mut owner).await;
    book(&mut owner, id, "sandbox").await;
    let tracking = tracking_of(&app, id).await;
    let (mut qn, _) = crate::helpers::person(&app, "qn", "province_staff", Some(22)).await;
    let (mut hanoi, _) = crate::helpers::person(&app, "hn", "province_staff", Some(1)).await;
    // no news for four days: the parcel is listed to chase
    sqlx::query("update shipment set last_event_at = now() - interval '4 days'")
        .execute(&app.pool)
        .await
        .unwrap();
    let page = qn.get("/staff/shipping").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains(&tracking),
        "late parcel listed: {}",
        page.body
    );
    let other = hanoi.get("/staff/shipping").await;
    assert!(
        !other.body.contains(&tracking),
        "Hà Nội's staff do not see Quảng Ninh's parcels"
    );
    // delivered with cash collected: owed by the carrier until it remits
    let mut carrier = Visitor::new(&app);
    carrier
        .post(
            &format!("/sandbox/shipping/{tracking}"),
            &[("to", "delivered")],
        )
        .await;
    let page = qn.get("/staff/shipping").await;
    assert!(page.body.contains("134.000"), "{}", page.body);
    // the carrier's total opens parcel by parcel, to chase by tracking code
    let parcels = qn.get("/staff/shipping?cod=sandbox").await;
    assert!(
        parcels.body.contains(&format!("<td>{tracking}</td>")),
        "{}",
        parcels.body
    );
    let parcels = hanoi.get("/staff/shipping?cod=sandbox").await;
    assert!(!parcels.body.contains(&tracking), "not another province's");
    // the carrier's statement says it paid: staff record it by its codes, once
    for _ in 0..2 {
        let page = qn.get("/staff/shipping").await;
        let csrf_now = if page.body.contains("name=\"csrf\"") {
            csrf(&page)
        } else {
            String::new()
        };
        qn.post(
            "/staff/shipping/remitted",
            &[
                ("csrf", &csrf_now),
                ("carrier", "sandbox"),
                ("codes", &format!("{tracking}\nSBX999999999")),
            ],
        )
        .await;
    }
    assert_eq!(account(&app, "carrier_cod").await, 0);
    assert_eq!(account(&app, "clearing_bank").await, 134_000);
    let page = qn.get("/staff/shipping").await;
    assert!(page.body.contains("Không có khoản nào"), "{}", page.body);
    // Quảng Ninh turns the sandbox carrier off; Hà Nội's staff cannot touch Quảng Ninh
    let refused = hanoi
        .post(
            "/staff/shipping/carriers",
            &[("csrf", &csrf(&other)), ("province", "22")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let saved = qn
        .post(
            "/staff/shipping/carriers",
            &[("csrf", &csrf(&page)), ("province", "22")],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let mut shopper = Visitor::new(&app);
    crate::orders::add(&mut shopper, "mien-dong", 1).await;
    let checkout = shopper.get("/checkout").await;
    let quoted = submit(&mut shopper, &checkout, f.hn_commune, &[]).await;
    assert!(
        !quoted.body.contains("Vận chuyển thử nghiệm"),
        "turned off: {}",
        quoted.body
    );
}

#[tokio::test]
async fn cancelling_a_booked_order_calls_off_the_carrier_first() {
    let app = app_with(None, true, 2000).await;
    load_fixture(&app).await;
    let mut owner = binh_lieu_owner(&app).await;
    let id = confirmed_order(&app, &mut owner).await;
    book(&mut owner, id, "sandbox").await;
    let tracking = tracking_of(&app, id).await;
    let page = owner.get(&format!("/producer/orders/{id}")).await;
    let cancelled = owner
        .post(
            &format!("/producer/orders/{id}/action"),
            &[
                ("csrf", &csrf(&page)),
                ("action", "cancel"),
                ("reason", "Hết hàng đóng gói"),
            ],
        )
        .await;
    assert_eq!(
        cancelled.status,
        StatusCode::SEE_OTHER,
        "{}",
        cancelled.body
    );
    assert_eq!(order_status(&app, id).await, "cancelled");
    let state: String = sqlx::query_scalar("select state from shipment where order_id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(state, "cancelled");
    let parcel = Visitor::new(&app)
        .get(&format!("/sandbox/shipping/{tracking}"))
        .await;
    assert!(
        parcel.body.contains("Vận đơn đã huỷ"),
        "the carrier was told: {}",
        parcel.body
    );
}

#[tokio::test]
async fn ghns_master_data_places_our_communes_by_name_and_leaves_out_what_it_cannot_place() {
    let ghn = ghn_stand_in(36_300).await;
    // no background jobs: the weekly sync would ask GHN at the same time
    let url = ghn.url.clone();
    let app = TestApp::custom(Options {
        serve: false,
        tweak: Some(Box::new(move |c| {
            c.ghn_token = Some("ghn-test-token".into());
            c.ghn_shop_id = Some("885".into());
            c.ghn_url = url;
        })),
        ..Options::default()
    })
    .await;
    ghn.answer(
        "/master-data/province",
        200,
        serde_json::json!({"code": 200, "message": "Success", "data": [
            {"ProvinceID": 201, "ProvinceName": "Hà Nội", "NameExtension": ["Thành phố Hà Nội", "HN"]},
            {"ProvinceID": 269, "ProvinceName": "Lào Cai"}
        ]}),
    );
    ghn.answer(
        "/master-data/district",
        200,
        serde_json::json!({"code": 200, "message": "Success", "data": [
            {"DistrictID": 1489, "ProvinceID": 201, "DistrictName": "Quận Hoàn Kiếm"}
        ]}),
    );
    ghn.answer(
        "/master-data/ward",
        200,
        serde_json::json!({"code": 200, "message": "Success", "data": [
            {"WardCode": "1A0101", "DistrictID": 1489, "WardName": "Phường Hoàn Kiếm"},
            {"WardCode": "1A0102", "DistrictID": 1489, "WardName": "Phường Cửa Nam"}
        ]}),
    );
    let synced =
        ocop_market::shipping::places::sync(&app.state, ocop_market::shipping::CarrierId::Ghn)
            .await
            .unwrap();
    assert_eq!(synced.matched, 2, "{synced:?}");
    let placed: Vec<(i32, String, i64)> = sqlx::query_as(
        "select cp.commune_code, cp.ward_code, cp.district_id from carrier_place cp join commune c using (commune_code)
         where cp.carrier = 'ghn' and c.province_code = 1 order by 1",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let names: Vec<String> = sqlx::query_scalar(
        "select c.name from carrier_place cp join commune c using (commune_code) where cp.carrier = 'ghn' and c.province_code = 1 order by c.commune_code",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(names, ["Phường Hoàn Kiếm", "Phường Cửa Nam"], "{placed:?}");
    assert_eq!(placed[0].1, "1A0101");
    assert_eq!(placed[0].2, 1489);
    // the wards are asked district by district: one district in each of GHN's two provinces
    assert_eq!(ghn.asked("/master-data/ward").len(), 2);
}

#[tokio::test]
async fn the_labels_of_every_parcel_waiting_for_pickup_print_together() {
    let app = app_with(None, true, 2000).await;
    load_fixture(&app).await;
    let mut owner = binh_lieu_owner(&app).await;
    let first = confirmed_order(&app, &mut owner).await;
    let second = confirmed_order(&app, &mut owner).await;
    let list = owner.get("/producer/orders").await;
    assert!(
        list.body.contains("In nhãn 2 bưu kiện chờ lấy hàng"),
        "{}",
        list.body
    );
    let labels = owner.get("/producer/labels").await;
    assert_eq!(
        labels.status,
        StatusCode::SEE_OTHER,
        "one carrier: straight to its print page"
    );
    let printed = owner
        .get(labels.headers["location"].to_str().unwrap())
        .await;
    for id in [first, second] {
        let tracking = tracking_of(&app, id).await;
        assert!(
            printed.body.contains(&tracking),
            "{tracking}: {}",
            printed.body
        );
    }
}

#[tokio::test]
async fn viettel_posts_expired_token_is_replaced_by_a_new_login_and_the_quote_still_comes() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    // Viettel Post's stand-in: the first login hands out a token it then refuses (expired), the
    // second a good one; prices answer only the good token
    let logins = Arc::new(AtomicUsize::new(0));
    let counted = logins.clone();
    let vtp = axum::Router::new()
        .route(
            "/v2/user/Login",
            axum::routing::post(move || {
                let n = counted.fetch_add(1, Ordering::SeqCst);
                let token = if n == 0 { "expired-token" } else { "fresh-token" };
                async move {
                    axum::Json(serde_json::json!({"status": 200, "error": false, "message": "OK",
                        "data": {"userId": 7411092, "token": token, "partner": 7411092, "phone": "0912345678", "expired": 4102444800000i64}}))
                }
            }),
        )
        .route(
            "/v2/order/getPriceAll",
            axum::routing::post(|headers: axum::http::HeaderMap| async move {
                if headers.get("token").and_then(|t| t.to_str().ok()) == Some("fresh-token") {
                    (StatusCode::OK, axum::Json(serde_json::json!([
                        {"MA_DV_CHINH": "VHT", "TEN_DICHVU": "Chuyển phát tiêu chuẩn", "GIA_CUOC": 33000, "THOI_GIAN": "72 giờ", "EXCHANGE_WEIGHT": 1000}
                    ])))
                } else {
                    (StatusCode::UNAUTHORIZED, axum::Json(serde_json::json!({"status": 401, "error": true, "message": "Token không hợp lệ"})))
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, vtp).await });
    let app = TestApp::custom(Options {
        serve: false,
        tweak: Some(Box::new(move |c| {
            // an account of its own: the token kept in Redis is this account's alone
            c.vtp_username = Some(format!("vtp-{}", std::process::id()));
            c.vtp_password = Some("vtp-test-password".into());
            c.vtp_url = url;
        })),
        ..Options::default()
    })
    .await;
    let f = load_fixture(&app).await;
    sqlx::query(
        "insert into carrier_place (carrier, commune_code, province_id, district_id, ward_id, province_name, ward_name)
         select 'viettelpost', commune_code, province_code, 100 + province_code, commune_code, '', name
         from commune where province_code in (1, 22)",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let mut shopper = Visitor::new(&app);
    crate::orders::add(&mut shopper, "mien-dong", 1).await;
    let page = shopper.get("/checkout").await;
    let quoted = submit(&mut shopper, &page, f.hn_commune, &[]).await;
    assert!(quoted.body.contains("Viettel Post"), "{}", quoted.body);
    assert!(quoted.body.contains("33.000"), "{}", quoted.body);
    assert_eq!(
        logins.load(Ordering::SeqCst),
        2,
        "logged in again once the token was refused"
    );
}

#[tokio::test]
async fn a_carrier_that_cannot_place_the_producers_commune_is_shown_so_and_cannot_be_booked() {
    let ghn = ghn_stand_in(36_300).await;
    let app = app_with(Some(ghn.url.clone()), false, 2000).await;
    load_fixture(&app).await;
    // GHN knows Hà Nội but not the cooperative's commune in Quảng Ninh
    sqlx::query(
        "insert into carrier_place (carrier, commune_code, district_id, ward_code) select 'ghn', commune_code, 1, 'W' from commune where province_code = 1",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let mut owner = binh_lieu_owner(&app).await;
    let id = flat_fee_confirmed_order(&app, &mut owner).await;
    let page = owner.get(&format!("/producer/orders/{id}")).await;
    assert!(
        page.body
            .contains("hãng chưa có xã/phường của bạn trong danh mục"),
        "{}",
        page.body
    );
    let refused = book(&mut owner, id, "ghn").await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.body.contains("địa chỉ lấy hàng của bạn"),
        "{}",
        refused.body
    );
    assert!(
        ghn.asked("/v2/shipping-order/create").is_empty(),
        "nothing sent to a guessed address"
    );
}
