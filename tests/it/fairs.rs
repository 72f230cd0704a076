//! Fairs and sales points through the real router: staff create an event and invite a producer,
//! the producer's phone sells by QR and in cash, the bank's webhook (signed as SePay signs) pays
//! the sale, a short, late or repeated transfer is matched by its code, a sale replayed from the
//! phone's queue counts once, stock never goes below zero, and nobody reaches another's till.

use crate::helpers::{Answer, TestApp, Visitor, csrf, load_fixture, person};
use crate::payments::{now, sepay_request, sepay_signed};
use axum::http::StatusCode;
use ocop_market::domain::Vnd;
use ocop_market::fairs::{self, SaleCode, SaleRequest, TillMethod};

/// A fair in Quảng Ninh today, created through the staff's form; `ho-ba-che` (a household) is
/// invited and its owner accepts. Answers the event's id and the owner signed in.
async fn fair(app: &TestApp) -> (i64, Visitor<'_>, Visitor<'_>) {
    let fx = load_fixture(app).await;
    let (mut staff, _) = person(app, "qn-staff", "province_staff", Some(22)).await;
    let page = staff.get("/staff/events").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let today = ocop_market::domain::vn_today().to_string();
    let made = staff
        .post(
            "/staff/events",
            &[
                ("csrf", &csrf(&page)),
                ("kind", "fair"),
                ("name", "Hội chợ OCOP Quảng Ninh"),
                ("commune", &fx.qn_commune_a.to_string()),
                ("place", "Cung Triển lãm tỉnh"),
                ("starts_on", &today),
                ("ends_on", &today),
            ],
        )
        .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
    let id: i64 = sqlx::query_scalar("select max(event_id) from sale_event")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let board = staff.get(&format!("/staff/events/{id}")).await;
    let producer: i64 =
        sqlx::query_scalar("select producer_id from producer where slug = 'ho-ba-che'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let invited = staff
        .post(
            &format!("/staff/events/{id}/invite"),
            &[
                ("csrf", &csrf(&board)),
                ("producer_id", &producer.to_string()),
            ],
        )
        .await;
    assert_eq!(invited.status, StatusCode::SEE_OTHER, "{}", invited.body);
    let mut owner = member(app, "ho-ba-che", "bache").await;
    let list = owner.get("/producer/events").await;
    assert!(
        list.body.contains("Hội chợ OCOP Quảng Ninh"),
        "{}",
        list.body
    );
    let accepted = owner
        .post(
            &format!("/producer/events/{id}/answer"),
            &[("csrf", &csrf(&list)), ("answer", "accept")],
        )
        .await;
    assert_eq!(accepted.status, StatusCode::SEE_OTHER, "{}", accepted.body);
    (id, staff, owner)
}

async fn member<'a>(app: &'a TestApp, slug: &str, tag: &str) -> Visitor<'a> {
    let (v, uid) = person(app, tag, "producer", None).await;
    sqlx::query("insert into producer_member (producer_id, user_id, role) select producer_id, $2, 'owner' from producer where slug = $1")
        .bind(slug)
        .bind(uid)
        .execute(&app.pool)
        .await
        .unwrap();
    v
}

async fn product(app: &TestApp, slug: &str) -> (i64, i32) {
    sqlx::query_as("select product_id, stock from product where slug = $1")
        .bind(slug)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

fn key(n: u32) -> String {
    format!("00000000-0000-4000-8000-{n:012x}")
}

/// The phone sends a sale as the till's script does (the same form fields).
async fn sell(
    v: &mut Visitor<'_>,
    event: i64,
    key: &str,
    code: &str,
    method: &str,
    items: &str,
    extra: &[(&str, &str)],
) -> Answer {
    let till = v.get(&format!("/producer/till/{event}")).await;
    assert_eq!(till.status, StatusCode::OK, "{}", till.body);
    let token = csrf(&till);
    let mut fields = vec![
        ("csrf", token.as_str()),
        ("key", key),
        ("code", code),
        ("method", method),
        ("items", items),
        ("note", ""),
    ];
    fields.extend_from_slice(extra);
    v.post(&format!("/producer/till/{event}/sales"), &fields)
        .await
}

/// A transfer into the marketplace's account reported by SePay, signed with its algorithm.
async fn transfer(app: &TestApp, id: i64, memo: &str, amount: i64) -> StatusCode {
    let body = serde_json::json!({ "id": id, "gateway": "VietinBank", "transactionDate": "2026-12-04 10:00:00",
        "accountNumber": "1017595600", "code": null, "content": memo, "transferType": "in",
        "transferAmount": amount, "accumulated": 1, "referenceCode": format!("FT{id}"), "description": "" })
    .to_string();
    app.send(sepay_request(&body, &sepay_signed(&body, now())))
        .await
        .status
}

async fn sale_state(app: &TestApp, code: &str) -> (String, i64, String) {
    sqlx::query_as("select state, received, method from till_sale where code = $1")
        .bind(code)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_stallholder_sells_by_qr_the_banks_webhook_pays_it_and_the_province_counts_it_as_a_fair_sale()
 {
    let app = TestApp::without_workers().await;
    let (event, mut staff, mut owner) = fair(&app).await;
    let (cha_muc, stock) = product(&app, "cha-muc").await;
    assert_eq!(stock, 5);
    let sold = sell(
        &mut owner,
        event,
        &key(1),
        "QBK7M2XA",
        "vietqr",
        &format!("{cha_muc}:2:300000"),
        &[],
    )
    .await;
    assert_eq!(sold.status, StatusCode::SEE_OTHER, "{}", sold.body);
    let page = owner
        .get(&format!("/producer/till/{event}/sales/QBK7M2XA"))
        .await;
    assert!(page.body.contains("<svg"), "the QR is drawn: {}", page.body);
    assert!(page.body.contains("600.000"), "{}", page.body);
    assert_eq!(product(&app, "cha-muc").await.1, 3, "the stock is taken");
    assert_eq!(sale_state(&app, "QBK7M2XA").await.0, "awaiting");

    // the customer's bank writes the memo its own way
    assert_eq!(
        transfer(&app, 9001, "MBVCB.1234.qbk7m2xa.CT tu 0912", 600_000).await,
        StatusCode::OK
    );
    assert_eq!(
        sale_state(&app, "QBK7M2XA").await,
        ("paid".into(), 600_000, "vietqr".into())
    );
    let polled = owner
        .get(&format!(
            "/producer/till/{event}/sales/QBK7M2XA?format=json"
        ))
        .await;
    assert_eq!(polled.json()["sale"]["state"], "paid");
    // SePay sends it again: nothing moves twice
    assert_eq!(
        transfer(&app, 9001, "QBK7M2XA", 600_000).await,
        StatusCode::OK
    );
    assert_eq!(sale_state(&app, "QBK7M2XA").await.1, 600_000);

    // the money is the producer's, less the tax the law makes the marketplace withhold from a
    // household; every entry balances
    let producer: i64 =
        sqlx::query_scalar("select producer_id from producer where slug = 'ho-ba-che'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let (bank, payable, withheld): (i64, i64, i64) = sqlx::query_as(
        "select coalesce(sum(amount) filter (where account = 'clearing_bank'), 0)::bigint,
                coalesce(sum(amount) filter (where account = 'payable' and producer_id = $1), 0)::bigint,
                coalesce(-sum(amount) filter (where account in ('vat_withheld', 'pit_withheld')), 0)::bigint
         from journal_line",
    )
    .bind(producer)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(bank, 600_000);
    assert_eq!(-payable + withheld, 600_000);
    assert_eq!(withheld, 9_000, "1% VAT + 0.5% PIT on goods");

    // a cash sale with one tap
    let cash = sell(
        &mut owner,
        event,
        &key(2),
        "QBCASH22",
        "cash",
        "",
        &[("amount", "150000")],
    )
    .await;
    assert_eq!(cash.status, StatusCode::SEE_OTHER, "{}", cash.body);
    assert_eq!(sale_state(&app, "QBCASH22").await.0, "paid");

    // the event's board and the province's dashboard
    let board = staff.get(&format!("/staff/events/{event}")).await;
    assert!(board.body.contains("750.000"), "{}", board.body);
    assert!(
        board.body.contains("Chả mực")
            || board.body.contains("cha-muc")
            || board.body.contains("2 ·"),
        "best sellers: {}",
        board.body
    );
    let dash = staff.get("/staff/dashboard?period=today").await;
    assert_eq!(dash.status, StatusCode::OK);
    let at = dash
        .body
        .find("id=\"channels\"")
        .expect("the channels table");
    let channels = &dash.body[at..at + 2500];
    assert!(channels.contains("Hội chợ"), "{channels}");
    assert!(channels.contains("750.000"), "{channels}");
    assert!(
        channels.contains("80,0%") || channels.contains("80%"),
        "600k of 750k by QR: {channels}"
    );
}

#[tokio::test]
async fn a_short_transfer_waits_for_the_rest_and_a_late_one_is_shown_against_its_sale() {
    let app = TestApp::without_workers().await;
    let (event, _staff, mut owner) = fair(&app).await;
    let (cha_muc, _) = product(&app, "cha-muc").await;
    sell(
        &mut owner,
        event,
        &key(1),
        "QBSHRT22",
        "vietqr",
        &format!("{cha_muc}:1:300000"),
        &[],
    )
    .await;
    assert_eq!(
        transfer(&app, 7001, "QBSHRT22", 250_000).await,
        StatusCode::OK
    );
    assert_eq!(
        sale_state(&app, "QBSHRT22").await,
        ("awaiting".into(), 250_000, "vietqr".into())
    );
    let till = owner.get(&format!("/producer/till/{event}")).await;
    assert!(
        till.body.contains("250.000\u{a0}₫ / 300.000\u{a0}₫"),
        "{}",
        till.body
    );
    let page = owner
        .get(&format!("/producer/till/{event}/sales/QBSHRT22"))
        .await;
    assert!(page.body.contains("Chưa đủ"), "{}", page.body);
    assert_eq!(
        transfer(&app, 7002, "QBSHRT22 con thieu", 50_000).await,
        StatusCode::OK
    );
    assert_eq!(sale_state(&app, "QBSHRT22").await.0, "paid");

    // the customer paid cash after all; the transfer they had started arrives later
    sell(
        &mut owner,
        event,
        &key(2),
        "QBLATE22",
        "vietqr",
        "",
        &[("amount", "80000")],
    )
    .await;
    let page = owner
        .get(&format!("/producer/till/{event}/sales/QBLATE22"))
        .await;
    let settled = owner
        .post(
            &format!("/producer/till/{event}/sales/QBLATE22/settle"),
            &[("csrf", &csrf(&page)), ("how", "cash")],
        )
        .await;
    assert_eq!(settled.status, StatusCode::SEE_OTHER, "{}", settled.body);
    assert_eq!(
        transfer(&app, 7003, "QBLATE22", 80_000).await,
        StatusCode::OK
    );
    let (state, received, method) = sale_state(&app, "QBLATE22").await;
    assert_eq!(
        (state.as_str(), received, method.as_str()),
        ("paid", 80_000, "cash")
    );
    // the stallholder finds it by the amount the customer says they sent
    let found = owner
        .get(&format!("/producer/till/{event}?amount=80000"))
        .await;
    assert!(found.body.contains("QBLATE22"), "{}", found.body);
    assert!(found.body.contains("Đến muộn"), "{}", found.body);
    assert!(!found.body.contains("QBSHRT22"), "only what matches");
    // and the late money is in the ledger exactly once
    let lines: i64 =
        sqlx::query_scalar("select count(*) from journal_entry where event = 'till_transfer'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(lines, 3);

    // a transfer with an unknown sale code goes to staff review, changing nothing
    assert_eq!(
        transfer(&app, 7004, "QBZZZZ99", 10_000).await,
        StatusCode::OK
    );
    let review: i64 =
        sqlx::query_scalar("select count(*) from payment_event where outcome = 'review'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(review, 1);
}

#[tokio::test]
async fn a_sale_sent_again_from_the_phones_queue_counts_once_and_an_offline_sale_is_never_lost() {
    let app = TestApp::without_workers().await;
    let (event, _staff, mut owner) = fair(&app).await;
    let (cha_muc, _) = product(&app, "cha-muc").await;
    let items = format!("{cha_muc}:2:300000");
    let first = sell(&mut owner, event, &key(1), "QBTWYCE2", "cash", &items, &[]).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER);
    let again = sell(
        &mut owner,
        event,
        &key(1),
        "QBTWYCE2",
        "cash",
        &items,
        &[("offline", "1")],
    )
    .await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.body);
    let count: i64 = sqlx::query_scalar("select count(*) from till_sale")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 1);
    assert_eq!(product(&app, "cha-muc").await.1, 3, "taken once");

    // online, the till refuses what the stock has not
    let refused = sell(
        &mut owner,
        event,
        &key(2),
        "QBMXRE22",
        "cash",
        &format!("{cha_muc}:4:300000"),
        &[],
    )
    .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body.contains("Không đủ hàng"), "{}", refused.body);
    assert_eq!(product(&app, "cha-muc").await.1, 3);
    // offline, the goods already left: the sale is kept, the stock stops at zero
    let kept = sell(
        &mut owner,
        event,
        &key(3),
        "QBMXRE22",
        "cash",
        &format!("{cha_muc}:4:300000"),
        &[("offline", "1")],
    )
    .await;
    assert_eq!(kept.status, StatusCode::SEE_OTHER, "{}", kept.body);
    assert_eq!(product(&app, "cha-muc").await.1, 0);
    let till = owner.get(&format!("/producer/till/{event}")).await;
    assert!(till.body.contains("tồn kho không còn đủ"), "{}", till.body);

    // a code already used by another sale, negative quantities: refused, nothing changed
    let taken = sell(
        &mut owner,
        event,
        &key(4),
        "QBTWYCE2",
        "cash",
        "",
        &[("amount", "1000")],
    )
    .await;
    assert!(
        taken.body.contains("Mã giao dịch đã được dùng"),
        "{}",
        taken.body
    );
    let negative = sell(
        &mut owner,
        event,
        &key(5),
        "QBNEG222",
        "cash",
        &format!("{cha_muc}:-1:300000"),
        &[],
    )
    .await;
    assert_eq!(negative.status, StatusCode::BAD_REQUEST);
    let count: i64 = sqlx::query_scalar("select count(*) from till_sale")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 2);
}

#[tokio::test]
async fn many_tills_selling_the_last_units_at_once_never_take_the_stock_below_zero() {
    let app = TestApp::without_workers().await;
    let (event, _staff, _owner) = fair(&app).await;
    let (cha_muc, stock) = product(&app, "cha-muc").await;
    let producer: i64 =
        sqlx::query_scalar("select producer_id from producer where slug = 'ho-ba-che'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let seller: i64 =
        sqlx::query_scalar("select user_id from producer_member where producer_id = $1")
            .bind(producer)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let seat = fairs::seat(&app.pool, app.state.payments.bank.as_ref(), event, producer)
        .await
        .unwrap()
        .unwrap();
    let tries = (0..20u32).map(|i| {
        let (pool, seat) = (app.pool.clone(), seat.clone());
        tokio::spawn(async move {
            let req = SaleRequest {
                client_key: key(100 + i),
                code: SaleCode::parse(&format!(
                    "QBRACE{}",
                    [
                        "A", "B", "C", "D", "E", "F", "G", "H", "J", "K", "L", "M", "N", "P", "Q",
                        "R", "S", "T", "U", "V"
                    ][i as usize]
                        .repeat(2)
                ))
                .unwrap(),
                method: TillMethod::Cash,
                lines: vec![(cha_muc, 1, Vnd::new(300_000))],
                typed: None,
                note: String::new(),
                sold_at: time::OffsetDateTime::now_utc(),
                offline: false,
            };
            fairs::record_sale(&pool, &seat, producer, seller, &req)
                .await
                .unwrap()
                .is_ok()
        })
    });
    let mut sold = 0;
    for t in tries {
        sold += t.await.unwrap() as i32;
    }
    assert_eq!(sold, stock);
    assert_eq!(product(&app, "cha-muc").await.1, 0);
}

#[tokio::test]
async fn nobody_reaches_a_till_or_an_event_that_is_not_theirs() {
    let app = TestApp::without_workers().await;
    let (event, _staff, mut owner) = fair(&app).await;
    sell(
        &mut owner,
        event,
        &key(1),
        "QBMYNE22",
        "cash",
        "",
        &[("amount", "50000")],
    )
    .await;
    // another producer, not invited
    let mut rival = member(&app, "cong-ty-ha-noi", "rival").await;
    assert_eq!(
        rival.get(&format!("/producer/till/{event}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        rival
            .get(&format!("/producer/till/{event}/sales/QBMYNE22"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let home = rival.get("/producer/invoices").await;
    let tried = rival
        .post(
            &format!("/producer/till/{event}/sales"),
            &[
                ("csrf", &csrf(&home)),
                ("key", &key(2)),
                ("code", "QBRVAL22"),
                ("method", "cash"),
                ("items", ""),
                ("amount", "1000"),
            ],
        )
        .await;
    assert_eq!(tried.status, StatusCode::BAD_REQUEST);
    assert!(tried.body.contains("chưa nhận lời"), "{}", tried.body);
    let settled = rival
        .post(
            &format!("/producer/till/{event}/sales/QBMYNE22/settle"),
            &[("csrf", &csrf(&home)), ("how", "cancel")],
        )
        .await;
    assert_eq!(settled.status, StatusCode::NOT_FOUND);
    // Hà Nội's staff do not see Quảng Ninh's fair nor create one there
    let (mut hanoi, _) = person(&app, "hn-staff", "province_staff", Some(1)).await;
    assert_eq!(
        hanoi.get(&format!("/staff/events/{event}")).await.status,
        StatusCode::NOT_FOUND
    );
    let list = hanoi.get("/staff/events").await;
    assert!(!list.body.contains(&format!("/staff/events/{event}")));
    // a shopper is no producer
    let (mut shopper, _) = person(&app, "shopper", "shopper", None).await;
    assert_eq!(
        shopper.get(&format!("/producer/till/{event}")).await.status,
        StatusCode::NOT_FOUND
    );
    let count: i64 = sqlx::query_scalar("select count(*) from till_sale")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 1);
}

#[tokio::test]
async fn an_event_form_with_bad_dates_says_so_in_vietnamese_and_creates_nothing() {
    let app = TestApp::without_workers().await;
    let fx = load_fixture(&app).await;
    let (mut staff, _) = person(&app, "qn-staff", "province_staff", Some(22)).await;
    let page = staff.get("/staff/events").await;
    let answer = staff
        .post(
            "/staff/events",
            &[
                ("csrf", &csrf(&page)),
                ("kind", "fair"),
                ("name", "Phiên chợ Tết"),
                ("commune", &fx.qn_commune_a.to_string()),
                ("place", "Quảng trường"),
                ("starts_on", "2026-12-20"),
                ("ends_on", "2026-12-10"),
            ],
        )
        .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        answer
            .body
            .contains("Ngày kết thúc không được trước ngày bắt đầu"),
        "{}",
        answer.body
    );
    let no_end = staff
        .post(
            "/staff/events",
            &[
                ("csrf", &csrf(&page)),
                ("kind", "fair"),
                ("name", "Phiên chợ Tết"),
                ("commune", &fx.qn_commune_a.to_string()),
                ("place", "Quảng trường"),
                ("starts_on", "2026-12-20"),
            ],
        )
        .await;
    assert!(
        no_end.body.contains("Hội chợ cần ngày kết thúc"),
        "{}",
        no_end.body
    );
    let count: i64 = sqlx::query_scalar("select count(*) from sale_event")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 0);
}
