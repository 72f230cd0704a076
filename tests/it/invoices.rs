//! Receipts and invoices through the real router: a business buyer's invoice request, the
//! producer's e-invoice account (sealed), issuing once delivered through the sandbox provider,
//! the retry after a timeout that finds the first invoice, the adjustment after a refund, and a
//! refused account reported once.

use crate::helpers::{Answer, TestApp, Visitor, csrf, load_fixture, person};
use crate::settlement::{DELIVER, go};
use axum::http::StatusCode;
use ocop_market::orders::{Actor, Status};

/// A shopper in Hà Nội orders two packets of Bình Liêu's miến, cash on delivery, with `extra`
/// fields on the checkout form (the company section, say). Answers the checkout's answer.
async fn order(v: &mut Visitor<'_>, extra: &[(&str, &str)]) -> Answer {
    crate::orders::add(v, "mien-dong", 2).await;
    let page = v.get("/checkout").await;
    let hidden = |name: &str| {
        let at = page
            .body
            .find(&format!("name=\"{name}\" value=\""))
            .unwrap()
            + name.len()
            + 15;
        page.body[at..at + page.body[at..].find('"').unwrap()].to_string()
    };
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
    let commune = commune.to_string();
    let csrf_now = csrf(&page);
    let mut fields = vec![
        ("csrf", csrf_now.as_str()),
        ("token", token.as_str()),
        ("seen", seen.as_str()),
        ("buyer_name", "Nguyễn Văn An"),
        ("phone", "0912 000 111"),
        ("email", "an@example.vn"),
        ("province", "1"),
        ("commune", commune.as_str()),
        ("street", "12 Tràng Tiền"),
        ("payment_method", "cod"),
    ];
    fields.extend_from_slice(extra);
    v.post("/checkout", &fields).await
}

const COMPANY: &[(&str, &str)] = &[
    ("want_invoice", "1"),
    ("inv_company", "Công ty TNHH Quà Tặng Việt"),
    ("inv_tax_code", "0312345673"),
    ("inv_address", "12 Tràng Tiền, Hoàn Kiếm, Hà Nội"),
    ("inv_email", "ketoan@quatang.vn"),
];

async fn owner(app: &TestApp) -> Visitor<'_> {
    let (v, uid) = person(app, "binhlieu", "producer", None).await;
    sqlx::query("insert into producer_member (producer_id, user_id, role) select producer_id, $1, 'owner' from producer where slug = 'htx-binh-lieu'")
        .bind(uid)
        .execute(&app.pool)
        .await
        .unwrap();
    v
}

/// The producer connects the sandbox provider through its page.
async fn connect(v: &mut Visitor<'_>, username: &str, password: &str) -> Answer {
    let page = v.get("/producer/invoices").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    v.post(
        "/producer/invoices/account",
        &[
            ("csrf", &csrf(&page)),
            ("provider", "sandbox"),
            ("seller_tax_code", "0200000014"),
            ("pattern", "1/001"),
            ("series", "C26TBL"),
            ("vat_rate", "5"),
            ("username", username),
            ("password", password),
        ],
    )
    .await
}

async fn the_order(app: &TestApp) -> (i64, String) {
    sqlx::query_as("select o.order_id, g.code from shop_order o join order_group g using (order_group_id) order by o.order_id desc limit 1")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

async fn invoices(app: &TestApp) -> Vec<(String, String, Option<String>, i32)> {
    sqlx::query_as("select kind, state, number, attempts from invoice order by invoice_id")
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

/// Runs the invoice job until nothing is due (each pass pushes a failed one out, so this ends).
async fn run_job(app: &TestApp) {
    ocop_market::invoicing::issue_once(&app.state)
        .await
        .unwrap();
}

async fn due_now(app: &TestApp) {
    sqlx::query("update invoice set next_try_at = now() where state = 'pending'")
        .execute(&app.pool)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_business_buyer_asks_for_an_invoice_and_a_wrong_tax_code_is_refused_with_nothing_ordered()
{
    let app = TestApp::without_workers().await;
    load_fixture(&app).await;
    let mut shopper = Visitor::new(&app);
    let mut wrong: Vec<(&str, &str)> = COMPANY.to_vec();
    wrong[2] = ("inv_tax_code", "0101243151");
    let refused = order(&mut shopper, &wrong).await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("chữ số kiểm tra không khớp"),
        "{}",
        refused.body
    );
    let groups: i64 = sqlx::query_scalar("select count(*) from order_group")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(groups, 0, "nothing ordered");
    let placed = order(&mut shopper, COMPANY).await;
    assert_eq!(placed.status, StatusCode::SEE_OTHER, "{}", placed.body);
    let (id, code) = the_order(&app).await;
    let (company, tax): (String, String) =
        sqlx::query_as("select buyer_company, buyer_tax_code from order_group")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        (company.as_str(), tax.as_str()),
        ("Công ty TNHH Quà Tặng Việt", "0312345673")
    );
    // the producer sees who the invoice is for; the shopper's receipt names the company
    let mut producer = owner(&app).await;
    let page = producer.get(&format!("/producer/orders/{id}")).await;
    assert!(
        page.body
            .contains("Công ty TNHH Quà Tặng Việt · MST 0312345673"),
        "{}",
        page.body
    );
    let receipt = shopper.get(&format!("/orders/{code}/receipt")).await;
    assert_eq!(receipt.status, StatusCode::OK, "{}", receipt.body);
    assert!(receipt.body.contains("Hoá đơn cho"), "{}", receipt.body);
    assert!(receipt.body.contains("HTX Bình Liêu"));
    assert!(
        receipt.body.contains("MST 0123456787"),
        "the marketplace's tax code"
    );
    // a stranger with the code but not the phone gets nothing
    let stranger = Visitor::new(&app)
        .get(&format!("/orders/{code}/receipt"))
        .await;
    assert_eq!(stranger.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_producers_invoice_is_issued_once_delivered_and_the_buyer_downloads_it() {
    let app = TestApp::without_workers().await;
    load_fixture(&app).await;
    let mut producer = owner(&app).await;
    assert_eq!(
        connect(&mut producer, "binhlieu", "sandbox").await.status,
        StatusCode::SEE_OTHER
    );
    // the password is sealed, not stored in clear
    let sealed: Vec<u8> = sqlx::query_scalar("select sealed from einvoice_account")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(!sealed.windows(7).any(|w| w == b"sandbox"));
    let mut shopper = Visitor::new(&app);
    order(&mut shopper, COMPANY).await;
    let (id, code) = the_order(&app).await;
    run_job(&app).await;
    assert!(invoices(&app).await.is_empty(), "nothing before delivery");
    go(&app, id, DELIVER).await;
    run_job(&app).await;
    let issued = invoices(&app).await;
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0].1, "issued");
    let number = issued[0].2.clone().unwrap();
    // the buyer sees the number and opens the invoice
    let page = shopper.get(&format!("/orders/{code}")).await;
    assert!(
        page.body.contains(&format!("số <strong>{number}</strong>")),
        "{}",
        page.body
    );
    let link = page.body.split("href=\"/sandbox/einvoice/").nth(1).unwrap();
    let lookup = &link[..link.find('"').unwrap()];
    let invoice = shopper.get(&format!("/sandbox/einvoice/{lookup}")).await;
    assert_eq!(invoice.status, StatusCode::OK);
    assert!(
        invoice.body.contains("Công ty TNHH Quà Tặng Việt"),
        "{}",
        invoice.body
    );
    assert!(
        invoice.body.contains("Một trăm ba mươi lăm nghìn đồng"),
        "2 × 50.000 of goods and the 35.000 shipping the producer charged: {}",
        invoice.body
    );
    // the producer's page lists it
    let list = producer.get("/producer/invoices").await;
    assert!(
        list.body.contains(&number) && list.body.contains("Đã phát hành"),
        "{}",
        list.body
    );
}

#[tokio::test]
async fn a_retry_after_a_timeout_finds_the_first_invoice_and_never_issues_a_second() {
    let app = TestApp::without_workers().await;
    load_fixture(&app).await;
    let mut producer = owner(&app).await;
    // the slow sandbox: it issues, then the answer is lost
    connect(&mut producer, "cham", "sandbox").await;
    let mut shopper = Visitor::new(&app);
    order(&mut shopper, &[]).await;
    let (id, _) = the_order(&app).await;
    go(&app, id, DELIVER).await;
    run_job(&app).await;
    let first = invoices(&app).await;
    assert_eq!(
        (first[0].1.as_str(), first[0].3),
        ("pending", 1),
        "{first:?}"
    );
    let page = producer.get("/producer/invoices").await;
    assert!(
        page.body.contains("không trả lời kịp"),
        "the reason shows: {}",
        page.body
    );
    due_now(&app).await;
    run_job(&app).await;
    let after = invoices(&app).await;
    assert_eq!(after[0].1, "issued", "{after:?}");
    let at_provider: i64 = sqlx::query_scalar("select count(*) from sandbox_invoice")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(at_provider, 1, "one invoice at the provider");
    let number: String = sqlx::query_scalar("select number from sandbox_invoice")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(after[0].2.as_deref(), Some(number.as_str()));
}

#[tokio::test]
async fn a_refund_after_invoicing_issues_an_adjusting_invoice_and_keeps_the_first() {
    let app = TestApp::without_workers().await;
    load_fixture(&app).await;
    let mut producer = owner(&app).await;
    connect(&mut producer, "binhlieu", "sandbox").await;
    let mut shopper = Visitor::new(&app);
    order(&mut shopper, &[]).await;
    let (id, code) = the_order(&app).await;
    go(&app, id, DELIVER).await;
    run_job(&app).await;
    go(&app, id, &[(Status::Refunded, Actor::Staff)]).await;
    run_job(&app).await;
    let all = invoices(&app).await;
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!((all[0].0.as_str(), all[0].1.as_str()), ("sale", "issued"));
    assert_eq!(
        (all[1].0.as_str(), all[1].1.as_str()),
        ("adjustment", "issued")
    );
    let adjusts: String = sqlx::query_scalar(
        "select body->'adjusts'->>'number' from sandbox_invoice order by number desc limit 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        Some(adjusts),
        all[0].2.clone(),
        "the adjustment names the original"
    );
    let page = shopper.get(&format!("/orders/{code}")).await;
    assert!(
        page.body.contains("Hoá đơn điều chỉnh giảm"),
        "{}",
        page.body
    );
    // an order cancelled before its invoice ever left is simply not invoiced
    order(&mut shopper, &[]).await;
    let (second, _) = the_order(&app).await;
    go(&app, second, &[(Status::Cancelled, Actor::Producer)]).await;
    run_job(&app).await;
    assert_eq!(invoices(&app).await.len(), 2);
}

#[tokio::test]
async fn refused_credentials_are_reported_once_and_nothing_is_retried_until_they_are_saved_again() {
    let app = TestApp::without_workers().await;
    load_fixture(&app).await;
    let mut producer = owner(&app).await;
    connect(&mut producer, "binhlieu", "sai-mat-khau").await;
    let mut shopper = Visitor::new(&app);
    order(&mut shopper, &[]).await;
    let (id, _) = the_order(&app).await;
    go(&app, id, DELIVER).await;
    run_job(&app).await;
    assert_eq!(invoices(&app).await[0].1, "stuck");
    let page = producer.get("/producer/invoices").await;
    assert!(
        page.body.contains("Nhà cung cấp từ chối tài khoản"),
        "{}",
        page.body
    );
    // another delivered order waits too, without a call to the provider
    order(&mut shopper, &[]).await;
    let (second, _) = the_order(&app).await;
    go(&app, second, DELIVER).await;
    due_now(&app).await;
    run_job(&app).await;
    let waiting = invoices(&app).await;
    assert_eq!(
        (waiting[1].1.as_str(), waiting[1].3),
        ("pending", 0),
        "not tried: {waiting:?}"
    );
    let told: Vec<String> = crate::helpers::messages(&app)
        .into_iter()
        .filter(|m| m.contains("/producer/invoices"))
        .collect();
    assert_eq!(told.len(), 1, "the owner is told once: {told:?}");
    // the right password: both go out
    assert_eq!(
        connect(&mut producer, "binhlieu", "sandbox").await.status,
        StatusCode::SEE_OTHER
    );
    run_job(&app).await;
    assert!(
        invoices(&app).await.iter().all(|i| i.1 == "issued"),
        "{:?}",
        invoices(&app).await
    );
}

#[tokio::test]
async fn a_provider_that_is_down_leaves_the_invoice_waiting_with_its_reason_and_a_producer_without_an_account_prints_a_receipt()
 {
    let app = TestApp::without_workers().await;
    load_fixture(&app).await;
    let mut producer = owner(&app).await;
    let mut shopper = Visitor::new(&app);
    order(&mut shopper, &[]).await;
    let (id, _) = the_order(&app).await;
    go(&app, id, DELIVER).await;
    run_job(&app).await;
    assert!(invoices(&app).await.is_empty(), "no account, no e-invoice");
    let receipt = producer
        .get(&format!("/producer/orders/{id}/receipt"))
        .await;
    assert_eq!(receipt.status, StatusCode::OK);
    let (_, code) = the_order(&app).await;
    assert!(
        !receipt.body.contains(&code),
        "the shopper's code stays the shopper's"
    );
    assert!(
        receipt.body.contains("Phiếu bán hàng") && receipt.body.contains("Miến"),
        "{}",
        receipt.body
    );
    // another producer's part is not this one's to print
    let (mut other, uid) = person(&app, "hanoi", "producer", None).await;
    sqlx::query("insert into producer_member (producer_id, user_id, role) select producer_id, $1, 'owner' from producer where slug = 'cong-ty-ha-noi'")
        .bind(uid).execute(&app.pool).await.unwrap();
    assert_eq!(
        other
            .get(&format!("/producer/orders/{id}/receipt"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // down: the next order waits with the provider's answer
    connect(&mut producer, "loi", "sandbox").await;
    order(&mut shopper, &[]).await;
    let (second, _) = the_order(&app).await;
    go(&app, second, DELIVER).await;
    run_job(&app).await;
    let last: (String, Option<String>) = sqlx::query_as("select state, last_error from invoice")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(last, ("pending".to_string(), Some("HTTP 503".to_string())));
}

#[tokio::test]
async fn each_month_the_marketplace_invoices_each_producer_its_commission_once() {
    let app = TestApp::without_workers().await;
    load_fixture(&app).await;
    let mut producer = owner(&app).await;
    let mut shopper = Visitor::new(&app);
    order(&mut shopper, &[]).await;
    let (id, _) = the_order(&app).await;
    go(&app, id, DELIVER).await;
    let later = time::OffsetDateTime::now_utc() + time::Duration::days(8);
    let month = later
        .to_offset(time::macros::offset!(+7))
        .date()
        .replace_day(1)
        .unwrap();
    let next_month = (month + time::Duration::days(32)).replace_day(5).unwrap();
    assert_eq!(
        ocop_market::invoicing::commission_month_once(&app.state, next_month)
            .await
            .unwrap(),
        0,
        "nothing charged yet: the month is not claimed"
    );
    // the return window passes: the sale is the producer's, less the commission
    ocop_market::settlement::release_due(&app.pool, later)
        .await
        .unwrap();
    let created = ocop_market::invoicing::commission_month_once(&app.state, next_month)
        .await
        .unwrap();
    assert_eq!(created, 1, "Bình Liêu was charged commission that month");
    assert_eq!(
        ocop_market::invoicing::commission_month_once(&app.state, next_month)
            .await
            .unwrap(),
        0,
        "a month is invoiced once, whichever instance runs it"
    );
    run_job(&app).await;
    let (state, amount): (String, i64) =
        sqlx::query_as("select state, amount from invoice where kind = 'commission'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(state, "issued");
    let (commission, fee): (i64, i64) = sqlx::query_as(
        "select coalesce(sum(l.amount) filter (where l.component = 'commission'), 0)::bigint,
                coalesce(sum(l.amount) filter (where l.component = 'fee'), 0)::bigint
         from journal_line l join producer p using (producer_id) where p.slug = 'htx-binh-lieu' and l.account = 'payable'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(commission > 0);
    assert_eq!(
        amount,
        commission + fee,
        "what the ledger charged, to the đồng"
    );
    let (seller, buyer): (String, String) = sqlx::query_as(
        "select body->'seller'->>'name', body->'buyer'->>'name' from sandbox_invoice",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(seller, "Sàn TMĐT sản phẩm OCOP (thử nghiệm)");
    assert_eq!(buyer, "HTX Bình Liêu");
    let page = producer.get("/producer/invoices").await;
    assert!(page.body.contains("Hoá đơn phí sàn"), "{}", page.body);
    let (mut staff, _) = person(&app, "qn", "province_staff", Some(22)).await;
    let staff_page = staff.get("/staff/invoices").await;
    assert_eq!(staff_page.status, StatusCode::OK, "{}", staff_page.body);
    assert!(
        staff_page
            .body
            .contains(&format!("{:02}/{}", u8::from(month.month()), month.year())),
        "{}",
        staff_page.body
    );
}

/// A provider stand-in: answers each path with what a test set (recorded answers) and keeps
/// what it was asked, bodies as text (JSON, forms or SOAP alike).
#[derive(Clone)]
struct StandIn {
    url: String,
    answers: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, (u16, String)>>>,
    asked: std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>,
}

impl StandIn {
    async fn start() -> StandIn {
        let s = StandIn {
            url: String::new(),
            answers: Default::default(),
            asked: Default::default(),
        };
        let (a, k) = (s.answers.clone(), s.asked.clone());
        let app = axum::Router::new().fallback(move |uri: axum::http::Uri, body: String| {
            let (a, k) = (a.clone(), k.clone());
            async move {
                let path = uri.path().to_string();
                k.lock().unwrap().push((path.clone(), body));
                let (status, answer) = a
                    .lock()
                    .unwrap()
                    .get(&path)
                    .cloned()
                    .unwrap_or((404, "{}".into()));
                (
                    axum::http::StatusCode::from_u16(status).unwrap(),
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    answer,
                )
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        StandIn { url, ..s }
    }

    fn answer(&self, path: &str, status: u16, body: &str) {
        self.answers
            .lock()
            .unwrap()
            .insert(path.to_string(), (status, body.to_string()));
    }

    fn asked(&self, suffix: &str) -> Vec<String> {
        self.asked
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p.ends_with(suffix))
            .map(|(_, b)| b.clone())
            .collect()
    }
}

const VIETTEL: &str = "/services/einvoiceapplication/api/InvoiceAPI";

#[tokio::test]
async fn viettel_is_asked_in_its_own_shapes_and_an_answer_lost_to_a_timeout_is_found_by_its_transaction_uuid()
 {
    let app = TestApp::without_workers().await;
    load_fixture(&app).await;
    let viettel = StandIn::start().await;
    viettel.answer("/auth/login", 200, r#"{"access_token":"eyJhbGciOiJSUzI1NiJ9.e30.c2ln","token_type":"bearer","refresh_token":"r","expires_in":599,"scope":"openid","iat":1764700000,"invoice_cluster":"cluster4","type":1,"jti":"3fdfbeb6"}"#);
    // the gateway times out after Viettel took the invoice
    viettel.answer(
        &format!("{VIETTEL}/InvoiceWS/createInvoice/0200000014"),
        504,
        "Gateway Time-out",
    );
    viettel.answer(
        &format!("{VIETTEL}/InvoiceWS/searchInvoiceByTransactionUuid"),
        200,
        r#"{"transactionUuid":"x","errorCode":null,"description":null,"result":null}"#,
    );
    let mut producer = owner(&app).await;
    let page = producer.get("/producer/invoices").await;
    let saved = producer
        .post(
            "/producer/invoices/account",
            &[
                ("csrf", &csrf(&page)),
                ("provider", "viettel"),
                ("url", &viettel.url),
                ("seller_tax_code", "0200000014"),
                ("pattern", "1/001"),
                ("series", "C26TBL"),
                ("vat_rate", "5"),
                ("username", "0200000014"),
                ("password", "mat-khau-viettel"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let mut shopper = Visitor::new(&app);
    order(&mut shopper, COMPANY).await;
    let (id, code) = the_order(&app).await;
    go(&app, id, DELIVER).await;
    run_job(&app).await;
    let key: String = sqlx::query_scalar("select provider_key from invoice")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let created = viettel.asked("/createInvoice/0200000014");
    assert_eq!(created.len(), 1);
    let body: serde_json::Value = serde_json::from_str(&created[0]).unwrap();
    assert_eq!(body["generalInvoiceInfo"]["transactionUuid"], key.as_str());
    assert_eq!(body["buyerInfo"]["buyerTaxCode"], "0312345673");
    assert_eq!(body["summarizeInfo"]["totalAmountWithTax"], 135_000);
    assert_eq!(invoices(&app).await[0].1, "pending");
    // by the retry Viettel has it: it is found by our key, not created again
    viettel.answer(
        &format!("{VIETTEL}/InvoiceWS/searchInvoiceByTransactionUuid"),
        200,
        r#"{"transactionUuid":"x","errorCode":null,"description":null,"result":[{"supplierTaxCode":"0200000014","invoiceNo":"C26TBL7","reservationCode":"TJ9X1KDPW3H","issueDate":1796230800000,"status":"Đã phát hành"}]}"#,
    );
    due_now(&app).await;
    run_job(&app).await;
    assert_eq!(
        viettel.asked("/createInvoice/0200000014").len(),
        1,
        "never twice"
    );
    assert!(
        viettel
            .asked("/searchInvoiceByTransactionUuid")
            .last()
            .unwrap()
            .contains(&format!("transactionUuid={key}"))
    );
    let issued = invoices(&app).await;
    assert_eq!(
        (issued[0].1.as_str(), issued[0].2.as_deref()),
        ("issued", Some("C26TBL7"))
    );
    // the buyer downloads Viettel's PDF through the order page
    let invoice_id: i64 = sqlx::query_scalar("select invoice_id from invoice")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    viettel.answer(
        &format!("{VIETTEL}/InvoiceUtilsWS/getInvoiceRepresentationFile"),
        200,
        r#"{"errorCode":0,"description":null,"fileToBytes":"JVBERi0xLjQKJcfsj6IK","paymentStatus":true,"fileName":"C26TBL7.pdf"}"#,
    );
    let pdf = shopper
        .get(&format!("/orders/{code}/invoices/{invoice_id}"))
        .await;
    assert_eq!(pdf.status, StatusCode::OK);
    assert_eq!(pdf.content_type, "application/pdf");
    assert!(pdf.body.starts_with("%PDF"));
    // Viettel down: the page says where to look it up instead
    viettel.answer(
        &format!("{VIETTEL}/InvoiceUtilsWS/getInvoiceRepresentationFile"),
        503,
        "Service Unavailable",
    );
    let down = shopper
        .get(&format!("/orders/{code}/invoices/{invoice_id}"))
        .await;
    assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        down.body.contains("TJ9X1KDPW3H") && down.body.contains("vinvoice.viettel.vn"),
        "{}",
        down.body
    );
    // another shopper cannot fetch it
    let stranger = Visitor::new(&app)
        .get(&format!("/orders/{code}/invoices/{invoice_id}"))
        .await;
    assert_ne!(stranger.status, StatusCode::OK);
}
