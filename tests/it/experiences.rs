//! Tourism experiences sold by the slot, against the real database and router: capacity that
//! holds when many book at once, a voucher used once at two gates, the cancellation policy, and
//! the sentences a tourist reads when a booking cannot be made.

use crate::helpers::{TestApp, Visitor, csrf, load_fixture};
use axum::http::StatusCode;
use ocop_market::checkout::{Asked, Delivery, PaymentMethod, PlaceError, SeenLine, place_order};
use ocop_market::domain::Vnd;
use ocop_market::experiences::{CheckIn, Terms};
use ocop_market::orders::{Actor, Details, Status, TransitionError, transition};
use std::collections::BTreeMap;

const RULE: ocop_market::checkout::ShippingRule = ocop_market::checkout::ShippingRule {
    same_province: Vnd::new(20_000),
    other_province: Vnd::new(35_000),
    free_from: Vnd::new(500_000),
};

/// Ba Chẽ's certified homestay tour, every day at 08:00 and 14:00 for `capacity` guests.
pub(crate) async fn homestay(app: &TestApp, capacity: i32) -> i64 {
    let id: i64 = sqlx::query_scalar(
        "insert into product (producer_id, slug, name, sector, price_vnd, stock, unit, story)
         select producer_id, 'homestay-ba-che', 'Homestay và tour làng Ba Chẽ', 'tourism', 350000, 0, 'khách', 'Ngủ nhà sàn, hái chè'
         from producer where slug = 'ho-ba-che' returning product_id",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    sqlx::query(
        "insert into certificate (product_id, stars, awarding_level, decision_number, issued_on, expires_on)
         values ($1, 4, 'provincial', '15/QĐ-UBND', current_date - 100, current_date + 900)",
    )
    .bind(id)
    .execute(&app.pool)
    .await
    .unwrap();
    let producer: i64 =
        sqlx::query_scalar("select producer_id from producer where slug = 'ho-ba-che'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let terms = Terms {
        duration_minutes: 240,
        meeting_point: "Nhà văn hoá thôn Khe Tâm, Ba Chẽ".into(),
        languages: vec!["vi".into(), "en".into()],
        capacity,
        cutoff_hours: 12,
        free_cancel_hours: 48,
        weekdays: vec![1, 2, 3, 4, 5, 6, 7],
        start_minutes: vec![480, 840],
    };
    assert!(
        ocop_market::experiences::save(&app.pool, producer, id, &terms)
            .await
            .unwrap()
    );
    app.refresh().await;
    id
}

/// A slot of the homestay starting `days` from now (the first of that day).
async fn slot(app: &TestApp, product: i64, days: i64) -> i64 {
    sqlx::query_scalar(
        "select slot_id from experience_slot where product_id = $1
           and starts_at >= now() + make_interval(days => $2::int) order by starts_at limit 1",
    )
    .bind(product)
    .bind(days as i32)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

fn delivery(phone: &str) -> Delivery {
    Delivery {
        buyer_name: "Emma Tourist".into(),
        phone: phone.into(),
        email: None,
        province_code: 22,
        commune_code: 0,
        street: "Nhà văn hoá thôn Khe Tâm".into(),
        note: String::new(),
        method: PaymentMethod::Cod,
        company: None,
    }
}

async fn book(
    app: &TestApp,
    product: i64,
    slot: i64,
    guests: u32,
    token: usize,
) -> Result<i64, PlaceError> {
    let commune: i32 =
        sqlx::query_scalar("select commune_code from producer where slug = 'ho-ba-che'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let mut d = delivery("0987111222");
    d.commune_code = commune;
    let seen = [SeenLine {
        product_id: product,
        quantity: guests,
        price: Vnd::new(350_000),
    }];
    let asked = Asked {
        slots: BTreeMap::from([(product, slot)]),
        ..Default::default()
    };
    let placed = place_order(
        &app.pool,
        RULE,
        30,
        &format!("{:064x}", 77_000 + token),
        None,
        &d,
        &seen,
        &Default::default(),
        &asked,
    )
    .await?;
    Ok(
        sqlx::query_scalar("select order_id from shop_order where order_group_id = $1")
            .bind(placed.order_group_id)
            .fetch_one(&app.pool)
            .await
            .unwrap(),
    )
}

async fn booked(app: &TestApp, slot: i64) -> i32 {
    sqlx::query_scalar("select booked from experience_slot where slot_id = $1")
        .bind(slot)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_tourists_booking_the_last_five_seats_at_once_get_exactly_five() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let product = homestay(&app, 5).await;
    let s = slot(&app, product, 3).await;
    let handles: Vec<_> = (0..20)
        .map(|i| {
            let pool = app.pool.clone();
            tokio::spawn(async move {
                let commune: i32 = sqlx::query_scalar(
                    "select commune_code from producer where slug = 'ho-ba-che'",
                )
                .fetch_one(&pool)
                .await
                .unwrap();
                let mut d = delivery(&format!("09871{i:05}"));
                d.commune_code = commune;
                let seen = [SeenLine {
                    product_id: product,
                    quantity: 1,
                    price: Vnd::new(350_000),
                }];
                let asked = Asked {
                    slots: BTreeMap::from([(product, s)]),
                    ..Default::default()
                };
                let token = format!("{:064x}", 88_000 + i);
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
            })
        })
        .collect();
    let (mut placed, mut refused) = (0, vec![]);
    for h in handles {
        match h.await.unwrap() {
            Ok(_) => placed += 1,
            Err(PlaceError::Changed(why)) => refused.push(why.join(" ")),
            Err(e) => panic!("unexpected: {e:?}"),
        }
    }
    assert_eq!(placed, 5);
    assert_eq!(booked(&app, s).await, 5);
    assert!(refused.iter().all(|r| r.contains("hết chỗ")), "{refused:?}");
    let vouchers: i64 = sqlx::query_scalar("select count(distinct code) from booking")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(vouchers, 5, "one voucher per booking");
    let stock: i32 = sqlx::query_scalar("select stock from product where product_id = $1")
        .bind(product)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stock, 0, "seats are not stock");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_voucher_scanned_at_two_gates_at_once_lets_the_guests_in_once_and_then_says_when_and_by_whom()
 {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let product = homestay(&app, 8).await;
    let s = slot(&app, product, 1).await;
    let order = book(&app, product, s, 3, 1).await.unwrap();
    let code: String = sqlx::query_scalar("select code from booking where order_id = $1")
        .bind(order)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(code.starts_with("BK") && code.len() == 8, "{code}");
    let producer: i64 =
        sqlx::query_scalar("select producer_id from producer where slug = 'ho-ba-che'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let gate: i64 = sqlx::query_scalar(
        "insert into app_user (email, display_name, password_hash, role) values ('cong@example.vn', 'Cổng số 1', '$argon2id$x', 'producer') returning user_id",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let typed = code.to_lowercase();
    let (a, b) = tokio::join!(
        ocop_market::experiences::check_in(&app.pool, producer, gate, &typed),
        ocop_market::experiences::check_in(&app.pool, producer, gate, &code)
    );
    let outcomes = [a.unwrap(), b.unwrap()];
    let welcomed = outcomes
        .iter()
        .filter(|o| matches!(o, CheckIn::Welcome { .. }))
        .count();
    assert_eq!(welcomed, 1, "{outcomes:?}");
    match ocop_market::experiences::check_in(&app.pool, producer, gate, &code)
        .await
        .unwrap()
    {
        CheckIn::Used { voucher, by } => {
            assert!(voucher.redeemed_at.is_some());
            assert_eq!(by, "Cổng số 1");
            assert_eq!(voucher.guests, 3);
        }
        other => panic!("{other:?}"),
    }
    // checked in is delivered: a household's tour is taxed as a service (5% VAT, 2% PIT) when
    // the money is released
    let status: String = sqlx::query_scalar("select status from shop_order where order_id = $1")
        .bind(order)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(status, "delivered");
    ocop_market::settlement::release_due(
        &app.pool,
        time::OffsetDateTime::now_utc() + time::Duration::days(60),
    )
    .await
    .unwrap();
    let taxes: Vec<(String, i64)> = sqlx::query_as(
        "select l.account, -sum(l.amount)::bigint from journal_line l join journal_entry e using (entry_id)
         where e.order_id = $1 and e.event = 'release' and l.account in ('vat_withheld', 'pit_withheld')
         group by 1 order by 1",
    )
    .bind(order)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        taxes,
        vec![
            ("pit_withheld".to_string(), 21_000),
            ("vat_withheld".to_string(), 52_500)
        ],
        "on 3 × 350.000"
    );
    // another producer's gate does not know the voucher
    let other: i64 =
        sqlx::query_scalar("select producer_id from producer where slug = 'htx-binh-lieu'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(matches!(
        ocop_market::experiences::check_in(&app.pool, other, gate, &code)
            .await
            .unwrap(),
        CheckIn::NotFound
    ));
}

#[tokio::test]
async fn cancelling_before_the_free_cancellation_deadline_gives_the_seats_back_and_after_it_is_refused()
 {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let product = homestay(&app, 8).await;
    let far = slot(&app, product, 5).await;
    let order = book(&app, product, far, 2, 1).await.unwrap();
    assert_eq!(booked(&app, far).await, 2);
    let mut tx = app.pool.begin().await.unwrap();
    transition(
        &mut tx,
        order,
        Status::Cancelled,
        Actor::Shopper,
        &Details::default(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(booked(&app, far).await, 0, "the seats are free again");

    // a slot starting within 48 hours: no cancellation, no refund
    let near = slot(&app, product, 1).await;
    let order = book(&app, product, near, 2, 2).await.unwrap();
    let mut tx = app.pool.begin().await.unwrap();
    let refused = transition(
        &mut tx,
        order,
        Status::Cancelled,
        Actor::Shopper,
        &Details::default(),
    )
    .await;
    assert!(
        matches!(refused, Err(TransitionError::Invalid(m)) if m.contains("quá hạn huỷ miễn phí")),
        "{refused:?}"
    );
    drop(tx);
    assert_eq!(booked(&app, near).await, 2);
    // province staff see the guests coming by the day of their visit
    let day: time::Date = sqlx::query_scalar(
        "select (starts_at at time zone 'Asia/Ho_Chi_Minh')::date from experience_slot where slot_id = $1",
    )
    .bind(near)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let (mut staff, _) = crate::helpers::person(&app, "qn", "province_staff", Some(22)).await;
    let page = staff.get("/staff/dashboard").await;
    assert_eq!(page.status, StatusCode::OK);
    let shown = format!(
        "{:02}/{:02}/{}</th><td class=\"num\">1</td><td class=\"num\">2</td>",
        day.day(),
        u8::from(day.month()),
        day.year()
    );
    assert!(page.body.contains(&shown), "{shown} in {}", page.body);
}

#[tokio::test]
async fn a_past_slot_a_full_slot_and_impossible_guest_numbers_are_explained_and_book_nothing() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let product = homestay(&app, 2).await;
    let open = slot(&app, product, 3).await;
    let past: i64 = sqlx::query_scalar(
        "insert into experience_slot (product_id, starts_at, capacity) values ($1, now() - interval '2 hours', 2) returning slot_id",
    )
    .bind(product)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let mut v = Visitor::new(&app);
    let page = v.get("/experiences/homestay-ba-che").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Nhà văn hoá thôn Khe Tâm") && page.body.contains("còn 2 chỗ"));
    let token_at = page.body.find("name=\"token\" value=\"").unwrap() + 20;
    let token = page.body[token_at..token_at + 64].to_string();
    let post = |slot: String, guests: &'static str| {
        let token = token.clone();
        let csrf = csrf(&page);
        (slot, guests, token, csrf)
    };
    for (slot, guests, says) in [
        (open.to_string(), "-1", "Số khách từ 1"),
        (open.to_string(), "0", "Số khách từ 1"),
        (open.to_string(), "3", "chỉ còn 2 chỗ"),
        (past.to_string(), "1", "đã qua"),
        (String::new(), "1", "Vui lòng chọn ngày và giờ"),
    ] {
        let (slot, guests, token, csrf) = post(slot, guests);
        let answer = v
            .post(
                "/experiences/homestay-ba-che",
                &[
                    ("csrf", &csrf),
                    ("token", &token),
                    ("slot", &slot),
                    ("guests", guests),
                    ("buyer_name", "Emma Tourist"),
                    ("phone", "0987 111 222"),
                    ("payment_method", "cod"),
                ],
            )
            .await;
        assert_ne!(
            answer.status,
            StatusCode::SEE_OTHER,
            "{slot} × {guests} booked"
        );
        assert!(
            answer.body.contains(says),
            "{slot} × {guests}: {}",
            answer.body
        );
    }
    let orders: i64 = sqlx::query_scalar("select count(*) from order_group")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(orders, 0);
    assert_eq!(booked(&app, open).await, 0);
    // the cart cannot take a slot-booked experience around its calendar
    let d = delivery("0987111222");
    let refused = place_order(
        &app.pool,
        RULE,
        30,
        &format!("{:064x}", 5),
        None,
        &Delivery {
            commune_code: sqlx::query_scalar(
                "select commune_code from producer where slug = 'ho-ba-che'",
            )
            .fetch_one(&app.pool)
            .await
            .unwrap(),
            ..d
        },
        &[SeenLine {
            product_id: product,
            quantity: 1,
            price: Vnd::new(350_000),
        }],
        &Default::default(),
        &Default::default(),
    )
    .await;
    assert!(
        matches!(&refused, Err(PlaceError::Changed(p)) if p[0].contains("chọn ngày, giờ")),
        "{refused:?}"
    );
}

#[tokio::test]
async fn guests_who_do_not_come_are_not_refunded_and_the_order_is_settled_only_after_the_start() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let product = homestay(&app, 8).await;
    let s = slot(&app, product, 3).await;
    let order = book(&app, product, s, 2, 1).await.unwrap();
    let code: String = sqlx::query_scalar("select code from booking where order_id = $1")
        .bind(order)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let producer: i64 =
        sqlx::query_scalar("select producer_id from producer where slug = 'ho-ba-che'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(
        !ocop_market::experiences::no_show(&app.pool, producer, &code)
            .await
            .unwrap(),
        "not before the slot starts"
    );
    sqlx::query(
        "update experience_slot set starts_at = now() - interval '3 hours' where slot_id = $1",
    )
    .bind(s)
    .execute(&app.pool)
    .await
    .unwrap();
    assert!(
        ocop_market::experiences::no_show(&app.pool, producer, &code)
            .await
            .unwrap()
    );
    let (status, redeemed): (String, bool) = sqlx::query_as(
        "select o.status, b.redeemed_at is not null from shop_order o join booking b using (order_id) where o.order_id = $1",
    )
    .bind(order)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((status.as_str(), redeemed), ("delivered", false));
    assert!(
        !ocop_market::experiences::no_show(&app.pool, producer, &code)
            .await
            .unwrap(),
        "once"
    );
}

#[tokio::test]
async fn one_client_cannot_hold_a_calendar_with_more_than_twenty_bookings_an_hour() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let product = homestay(&app, 50).await;
    let open = slot(&app, product, 3).await;
    let mut v = Visitor::new(&app);
    let mut statuses = vec![];
    for _ in 0..21 {
        let page = v.get("/experiences/homestay-ba-che").await;
        let token_at = page.body.find("name=\"token\" value=\"").unwrap() + 20;
        let token = page.body[token_at..token_at + 64].to_string();
        let answer = v
            .post(
                "/experiences/homestay-ba-che",
                &[
                    ("csrf", &csrf(&page)),
                    ("token", &token),
                    ("slot", &open.to_string()),
                    ("guests", "1"),
                    ("buyer_name", "Emma Tourist"),
                    ("phone", "0987 111 222"),
                    ("payment_method", "cod"),
                ],
            )
            .await;
        if answer.status == StatusCode::TOO_MANY_REQUESTS {
            assert!(
                answer.body.contains("quá nhiều lượt đặt chỗ"),
                "{}",
                answer.body
            );
        }
        statuses.push(answer.status);
    }
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::SEE_OTHER)
            .count(),
        20
    );
    assert_eq!(statuses[20], StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(booked(&app, open).await, 20);
}
