//! Payments end to end: each provider paid through its sandbox page (which signs callbacks with
//! the provider's real algorithm), every kind of bad callback refused and kept, duplicates that
//! change nothing, mismatched money sent to staff review and settled there.

use crate::helpers::{Answer, Options, TestApp, Visitor, csrf, load_fixture};
use crate::orders::{add, checkout_with};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use ocop_market::config::Config;
use ocop_market::payments::gateways::{self as gw, bank, momo, stripe, vnpay};
use ocop_market::payments::{self as pay};

/// A shopper with an order paid by `method`, on the order page; answers the visitor and code.
pub(crate) async fn ordered<'a>(app: &'a TestApp, method: &str) -> (Visitor<'a>, String) {
    ordered_of(app, &["mien-dong", "mien-dong"], method).await
}

/// The same, for one of each of `slugs` (a slug twice is two of it).
pub(crate) async fn ordered_of<'a>(
    app: &'a TestApp,
    slugs: &[&str],
    method: &str,
) -> (Visitor<'a>, String) {
    let mut v = Visitor::new(app);
    for slug in slugs {
        add(&mut v, slug, 1).await;
    }
    let page = v.get("/checkout").await;
    let placed = checkout_with(&mut v, &page, method).await;
    assert_eq!(placed.status, StatusCode::SEE_OTHER, "{}", placed.body);
    let location = placed
        .headers
        .get(header::LOCATION)
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let code = location
        .trim_start_matches("/orders/")
        .split('?')
        .next()
        .unwrap()
        .to_string();
    (v, code)
}

pub(crate) async fn statuses(app: &TestApp, code: &str) -> Vec<String> {
    sqlx::query_scalar("select o.status from shop_order o join order_group g using (order_group_id) where g.code = $1")
        .bind(code)
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

pub(crate) async fn paid_payments(app: &TestApp, code: &str) -> Vec<(String, bool)> {
    sqlx::query_as("select p.method, p.non_cash from payment p join order_group g using (order_group_id) where g.code = $1 and p.status = 'paid'")
        .bind(code)
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#x2F;", "/")
        .replace("&amp;", "&")
}

/// The hidden fields of a sandbox page's form.
fn hidden_fields(page: &Answer) -> Vec<(String, String)> {
    let mut out = vec![];
    for part in page.body.split("<input type=\"hidden\" name=\"").skip(1) {
        let (name, rest) = part.split_once('"').unwrap();
        let value = rest
            .split_once("value=\"")
            .unwrap()
            .1
            .split_once('"')
            .unwrap()
            .0;
        out.push((unescape(name), unescape(value)));
    }
    out
}

pub(crate) fn path_of(location: &str) -> String {
    match location.find("://") {
        Some(i) => location[i + 3..]
            .find('/')
            .map(|j| location[i + 3 + j..].to_string())
            .unwrap(),
        None => location.to_string(),
    }
}

/// Presses `choice` on the sandbox page at `location`.
pub(crate) async fn press(v: &mut Visitor<'_>, location: &str, choice: &str) -> Answer {
    let page = v.get(&path_of(location)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let action = page
        .body
        .split("<form method=\"post\" action=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let mut fields = hidden_fields(&page);
    fields.push(("choice".into(), choice.into()));
    let refs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    v.post(&unescape(&action), &refs).await
}

/// Starts paying `code` with a gateway from the order page; answers where the shopper is sent.
pub(crate) async fn start(v: &mut Visitor<'_>, code: &str, method: &str) -> String {
    let page = v.get(&format!("/orders/{code}")).await;
    assert!(
        page.body.contains(&format!("/pay/{code}/{method}")),
        "{}",
        page.body
    );
    let go = v
        .post(&format!("/pay/{code}/{method}"), &[("csrf", &csrf(&page))])
        .await;
    assert_eq!(go.status, StatusCode::SEE_OTHER, "{}", go.body);
    go.headers
        .get(header::LOCATION)
        .unwrap()
        .to_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn every_provider_pays_through_its_sandbox_page() {
    let app = stocked(None).await;

    // VietQR: the QR and the words for people who type, then a transfer reported by SePay, then Casso
    for via in ["sepay", "casso"] {
        let (mut v, code) = ordered(&app, "vietqr").await;
        let page = v.get(&format!("/orders/{code}")).await;
        assert!(
            page.body.contains("<svg")
                && page.body.contains("1017595600")
                && page.body.contains(&code),
            "{}",
            page.body
        );
        assert_eq!(
            v.get(&format!("/orders/{code}/status")).await.json()["waiting_for_payment"],
            true
        );
        let bank = v.get(&format!("/sandbox/bank/{code}")).await;
        let paid = v
            .post(
                &format!("/sandbox/bank/{code}"),
                &[("choice", "pay"), ("via", via)],
            )
            .await;
        assert_eq!(paid.status, StatusCode::SEE_OTHER, "{via}: {}", paid.body);
        let _ = bank;
        assert_eq!(statuses(&app, &code).await, vec!["paid"], "{via}");
        assert_eq!(
            paid_payments(&app, &code).await,
            vec![("vietqr".to_string(), true)]
        );
        assert_eq!(
            v.get(&format!("/orders/{code}/status")).await.json()["waiting_for_payment"],
            false
        );
    }
    // VNPAY: signed redirect, the simulated gateway checks it, IPN, then the return page
    let (mut v, code) = ordered(&app, "vnpay").await;
    let to = start(&mut v, &code, "vnpay").await;
    assert!(
        to.contains("/sandbox/vnpay?") && to.contains("vnp_SecureHash="),
        "{to}"
    );
    let back = press(&mut v, &to, "pay").await;
    assert_eq!(back.status, StatusCode::SEE_OTHER, "{}", back.body);
    let shown = v
        .get(&path_of(
            back.headers
                .get(header::LOCATION)
                .unwrap()
                .to_str()
                .unwrap(),
        ))
        .await;
    assert!(
        shown.body.contains("giao dịch thành công"),
        "{}",
        shown.body
    );
    assert_eq!(statuses(&app, &code).await, vec!["paid"]);
    assert_eq!(
        paid_payments(&app, &code).await,
        vec![("vnpay".to_string(), true)]
    );
    // MoMo: create (signed), pay page, IPN answered 204
    let (mut v, code) = ordered(&app, "momo").await;
    let to = start(&mut v, &code, "momo").await;
    assert_eq!(
        press(&mut v, &to, "pay").await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(statuses(&app, &code).await, vec!["paid"]);
    assert_eq!(
        paid_payments(&app, &code).await,
        vec![("momo".to_string(), true)]
    );
    // Stripe: a Checkout Session through async-stripe, then checkout.session.completed
    let (mut v, code) = ordered(&app, "card").await;
    let to = start(&mut v, &code, "card").await;
    assert!(to.contains("/sandbox/stripe/pay?"), "{to}");
    assert_eq!(
        press(&mut v, &to, "pay").await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(statuses(&app, &code).await, vec!["paid"]);
    assert_eq!(
        paid_payments(&app, &code).await,
        vec![("card".to_string(), true)]
    );
    // a cancelled card payment changes nothing but the attempt
    let (mut v, code) = ordered(&app, "card").await;
    let to = start(&mut v, &code, "card").await;
    press(&mut v, &to, "cancel").await;
    assert_eq!(statuses(&app, &code).await, vec!["pending_payment"]);
    // every verified event was kept with its raw body
    let unverified: i64 =
        sqlx::query_scalar("select count(*) from payment_event where not verified")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(unverified, 0);
}

/// The fixture catalog, with enough miến dong for several orders.
pub(crate) async fn stocked(tweak: Option<Box<dyn FnOnce(&mut Config) + Send>>) -> TestApp {
    let app = TestApp::custom(Options {
        tweak,
        ..Options::default()
    })
    .await;
    load_fixture(&app).await;
    sqlx::query("update product set stock = 100 where slug = 'mien-dong'")
        .execute(&app.pool)
        .await
        .unwrap();
    app.refresh().await;
    app
}

pub(crate) fn sepay_request(body: &str, headers: &[(&str, String)]) -> Request<Body> {
    let mut r =
        Request::post("/payments/sepay/webhook").header(header::CONTENT_TYPE, "application/json");
    for (k, v) in headers {
        r = r.header(*k, v);
    }
    r.body(Body::from(body.to_string())).unwrap()
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub(crate) fn sepay_body(id: i64, code: &str, amount: i64) -> String {
    serde_json::json!({ "id": id, "gateway": "MBBank", "transactionDate": "2026-11-24 10:00:00", "accountNumber": "1017595600",
        "code": null, "content": format!("{code} thanh toan"), "transferType": "in", "transferAmount": amount,
        "accumulated": 1, "referenceCode": "FT1", "description": "" })
    .to_string()
}

/// A `Stripe-Signature` header for `body`, signed now with the sandbox's webhook secret.
pub(crate) fn stripe_signed(body: &str) -> String {
    let t = now();
    format!(
        "t={t},v1={}",
        stripe::stripe_signature(pay::SANDBOX_STRIPE_WEBHOOK_SECRET, t, body.as_bytes())
    )
}

pub(crate) fn sepay_signed(body: &str, t: i64) -> Vec<(&'static str, String)> {
    vec![
        ("x-sepay-timestamp", t.to_string()),
        (
            "x-sepay-signature",
            bank::sepay_signature(pay::SANDBOX_SEPAY_SECRET, &t.to_string(), body.as_bytes()),
        ),
    ]
}

async fn events(app: &TestApp) -> (i64, i64) {
    sqlx::query_as("select count(*), count(*) filter (where not verified) from payment_event")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// An order waiting for a bank transfer, and its total: what the bad callbacks below are about.
async fn awaiting_payment(app: &TestApp) -> (String, i64) {
    load_fixture(app).await;
    let (_, code) = ordered(app, "vietqr").await;
    let total: i64 = sqlx::query_scalar("select grand_total from order_group where code = $1")
        .bind(&code)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    (code, total)
}

/// Nothing a refused callback said was acted on.
async fn still_unpaid(app: &TestApp, code: &str) {
    assert_eq!(
        statuses(app, code).await,
        vec!["pending_payment"],
        "nothing was paid"
    );
    assert!(paid_payments(app, code).await.is_empty());
}

#[tokio::test]
async fn bad_sepay_callbacks_are_refused_kept_and_change_nothing() {
    let app = TestApp::new().await;
    let (code, total) = awaiting_payment(&app).await;
    let good = sepay_body(501, &code, total);

    // SePay
    let stale = sepay_signed(&good, now() - 3600);
    let forged = vec![
        ("x-sepay-timestamp", now().to_string()),
        ("x-sepay-signature", format!("sha256={}", "0".repeat(64))),
    ];
    let mut tampered = sepay_signed(&good, now());
    let tampered_body = good.replace(
        &format!("\"transferAmount\":{total}"),
        &format!("\"transferAmount\":{}", total * 10),
    );
    assert_ne!(tampered_body, good);
    tampered.truncate(2);
    for (what, body, headers) in [
        ("forged", good.clone(), forged),
        ("tampered amount", tampered_body, tampered),
        ("stale", good.clone(), stale),
        ("missing header", good.clone(), vec![]),
        (
            "garbage",
            "{not json".to_string(),
            sepay_signed("{not json", now()),
        ),
    ] {
        let before = events(&app).await;
        let answer = app.send(sepay_request(&body, &headers)).await;
        assert!(
            answer.status == StatusCode::UNAUTHORIZED || answer.status == StatusCode::BAD_REQUEST,
            "sepay {what}: {}",
            answer.status
        );
        assert_eq!(answer.json()["success"], false, "sepay {what}");
        let after = events(&app).await;
        assert_eq!(
            (after.0 - before.0, after.1 - before.1),
            (1, 1),
            "sepay {what}: the raw event is kept, unverified"
        );
    }
    still_unpaid(&app, &code).await;
}

#[tokio::test]
async fn bad_casso_callbacks_are_refused_kept_and_change_nothing() {
    let app = TestApp::new().await;
    let (code, total) = awaiting_payment(&app).await;
    let casso_body = serde_json::json!({ "error": 0, "data": { "id": 777, "reference": "FT777", "description": format!("{code} ck"), "amount": total,
        "accountNumber": "1017595600" } });
    let t = (now() * 1000).to_string();
    let signature = |t: &str, body: &serde_json::Value| {
        format!(
            "t={t},v1={}",
            bank::casso_signature(pay::SANDBOX_CASSO_KEY, t, body)
        )
    };
    let mut tampered = casso_body.clone();
    tampered["data"]["amount"] = serde_json::json!(total * 10);
    for (what, body, sig) in [
        (
            "forged",
            casso_body.to_string(),
            Some(format!("t={t},v1={}", "a".repeat(128))),
        ),
        (
            "tampered amount",
            tampered.to_string(),
            Some(signature(&t, &casso_body)),
        ),
        (
            "stale",
            casso_body.to_string(),
            Some(signature(&((now() - 3600) * 1000).to_string(), &casso_body)),
        ),
        ("missing header", casso_body.to_string(), None),
        (
            "garbage",
            "garbage".to_string(),
            Some(signature(&t, &casso_body)),
        ),
    ] {
        let mut r = Request::post("/payments/casso/webhook")
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(s) = sig {
            r = r.header("x-casso-signature", s);
        }
        let before = events(&app).await;
        let answer = app.send(r.body(Body::from(body)).unwrap()).await;
        assert!(
            answer.status.is_client_error(),
            "casso {what}: {}",
            answer.status
        );
        assert_eq!(answer.json()["success"], false);
        assert_eq!(
            events(&app).await.1 - before.1,
            1,
            "casso {what} kept unverified"
        );
    }
    still_unpaid(&app, &code).await;
}

#[tokio::test]
async fn bad_vnpay_ipns_are_answered_97_kept_and_change_nothing() {
    let app = TestApp::new().await;
    let (code, total) = awaiting_payment(&app).await;
    let reference = code.clone();
    let mut params: std::collections::BTreeMap<String, String> = [
        ("vnp_Amount", (total * 100).to_string()),
        ("vnp_ResponseCode", "00".into()),
        ("vnp_TransactionStatus", "00".into()),
        ("vnp_TransactionNo", "14000001".into()),
        ("vnp_TxnRef", reference),
        ("vnp_TmnCode", "OCOPTEST".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let good_hash = vnpay::vnpay_sign(&params, pay::SANDBOX_VNPAY_SECRET);
    let query = |p: &std::collections::BTreeMap<String, String>, hash: Option<&str>| {
        let mut q = vnpay::vnpay_hash_data(p);
        if let Some(h) = hash {
            q.push_str(&format!("&vnp_SecureHash={h}"));
        }
        q
    };
    let mut old_params = params.clone();
    old_params.insert("vnp_PayDate".into(), "20240101120000".into());
    let stale = query(
        &old_params,
        Some(&vnpay::vnpay_sign(&old_params, pay::SANDBOX_VNPAY_SECRET)),
    );
    let forged = query(&params, Some(&"b".repeat(128)));
    let missing = query(&params, None);
    params.insert("vnp_Amount".into(), (total * 1000).to_string());
    let tampered = query(&params, Some(&good_hash));
    for (what, q) in [
        ("forged", forged),
        ("missing", missing),
        ("stale", stale),
        ("tampered amount", tampered),
        ("garbage", "%%%garbage".to_string()),
    ] {
        let before = events(&app).await;
        let answer = app.get(&format!("/payments/vnpay/ipn?{q}")).await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "vnpay answers 200 with its RspCode"
        );
        assert_eq!(
            answer.json()["RspCode"],
            "97",
            "vnpay {what}: {}",
            answer.body
        );
        assert_eq!(
            events(&app).await.1 - before.1,
            1,
            "vnpay {what} kept unverified"
        );
    }
    still_unpaid(&app, &code).await;
}

#[tokio::test]
async fn bad_momo_ipns_are_refused_kept_and_change_nothing() {
    let app = TestApp::new().await;
    let (code, total) = awaiting_payment(&app).await;
    let mut ipn = momo::MomoResult {
        partner_code: "MOMOTEST".into(),
        order_id: code.clone(),
        request_id: format!("{code}R"),
        amount: total,
        order_info: "x".into(),
        order_type: "momo_wallet".into(),
        trans_id: 1,
        result_code: 0,
        message: "Successful.".into(),
        pay_type: "qr".into(),
        response_time: now() * 1000,
        extra_data: String::new(),
        signature: String::new(),
    };
    ipn.signature = ocop_market::crypto::hmac_sha256_hex(
        pay::SANDBOX_MOMO_SECRET.as_bytes(),
        momo::momo_result_raw("ACCESSKEYTEST", &ipn).as_bytes(),
    );
    let mut tampered = ipn.clone();
    tampered.amount = total * 10;
    let mut forged = ipn.clone();
    forged.signature = "c".repeat(64);
    let mut stale = ipn.clone();
    stale.response_time = (now() - 2 * 24 * 3600) * 1000;
    stale.signature = ocop_market::crypto::hmac_sha256_hex(
        pay::SANDBOX_MOMO_SECRET.as_bytes(),
        momo::momo_result_raw("ACCESSKEYTEST", &stale).as_bytes(),
    );
    let mut unsigned = ipn.clone();
    unsigned.signature = String::new();
    for (what, body) in [
        ("forged", serde_json::to_string(&forged).unwrap()),
        ("tampered amount", serde_json::to_string(&tampered).unwrap()),
        ("stale", serde_json::to_string(&stale).unwrap()),
        (
            "missing signature",
            serde_json::to_string(&unsigned).unwrap(),
        ),
        ("garbage", "[]".to_string()),
    ] {
        let before = events(&app).await;
        let answer = app
            .send(
                Request::post("/payments/momo/ipn")
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(body))
                    .unwrap(),
            )
            .await;
        assert!(
            answer.status.is_client_error(),
            "momo {what}: {}",
            answer.status
        );
        assert_eq!(
            events(&app).await.1 - before.1,
            1,
            "momo {what} kept unverified"
        );
    }
    still_unpaid(&app, &code).await;
}

#[tokio::test]
async fn bad_stripe_webhooks_are_answered_400_kept_and_change_nothing() {
    let app = TestApp::new().await;
    let (code, total) = awaiting_payment(&app).await;
    let stripe_event = serde_json::json!({ "id": "evt_1", "type": "checkout.session.completed",
        "data": { "object": { "id": "cs_1", "client_reference_id": code, "amount_total": total, "payment_status": "paid" } } })
    .to_string();
    let sig = |t: i64, body: &str| {
        format!(
            "t={t},v1={}",
            stripe::stripe_signature(pay::SANDBOX_STRIPE_WEBHOOK_SECRET, t, body.as_bytes())
        )
    };
    let tampered = stripe_event.replace(&format!("\"amount_total\":{total}"), "\"amount_total\":1");
    for (what, body, header_value) in [
        (
            "forged",
            stripe_event.clone(),
            Some(format!("t={},v1={}", now(), "d".repeat(64))),
        ),
        ("tampered amount", tampered, Some(sig(now(), &stripe_event))),
        (
            "stale",
            stripe_event.clone(),
            Some(sig(now() - 301, &stripe_event)),
        ),
        ("missing header", stripe_event.clone(), None),
        (
            "garbage",
            "garbage".to_string(),
            Some(sig(now(), "garbage")),
        ),
    ] {
        let mut r = Request::post("/payments/stripe/webhook");
        if let Some(h) = header_value {
            r = r.header("stripe-signature", h);
        }
        let before = events(&app).await;
        let answer = app.send(r.body(Body::from(body)).unwrap()).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "stripe {what}");
        assert_eq!(
            events(&app).await.1 - before.1,
            1,
            "stripe {what} kept unverified"
        );
    }
    still_unpaid(&app, &code).await;
}

#[tokio::test]
async fn a_duplicate_changes_nothing_and_wrong_or_late_money_goes_to_staff() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let (mut shopper, code) = ordered(&app, "vietqr").await;
    let total: i64 = sqlx::query_scalar("select grand_total from order_group where code = $1")
        .bind(&code)
        .fetch_one(&app.pool)
        .await
        .unwrap();

    // too little: review, order still waiting
    let short = sepay_body(9001, &code, total - 5_000);
    let answer = app
        .send(sepay_request(&short, &sepay_signed(&short, now())))
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(statuses(&app, &code).await, vec!["pending_payment"]);
    // the shopper sees what arrived and what is missing, and no QR inviting the whole again
    let page = shopper.get(&format!("/orders/{code}")).await;
    let arrived = ocop_market::domain::Vnd::format(total - 5_000);
    assert!(
        page.body
            .contains(&format!("Sàn đã nhận {arrived}, còn thiếu 5.000\u{a0}₫"))
            && page.body.contains("Đừng chuyển lại toàn bộ số tiền")
            && !page.body.contains("class=\"qr\"")
            && !page.body.contains("/pay/"),
        "{}",
        page.body
    );
    // the right amount, delivered twice (a retry): paid once
    let good = sepay_body(9002, &code, total);
    for _ in 0..2 {
        assert_eq!(
            app.send(sepay_request(&good, &sepay_signed(&good, now())))
                .await
                .status,
            StatusCode::OK
        );
    }
    assert_eq!(statuses(&app, &code).await, vec!["paid"]);
    assert_eq!(paid_payments(&app, &code).await.len(), 1);
    let outcomes: Vec<(String, Option<String>)> = sqlx::query_as(
        "select outcome, review_reason from payment_event order by payment_event_id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        outcomes,
        vec![
            ("review".into(), Some("amount_too_low".into())),
            ("applied".into(), None),
            ("duplicate".into(), None)
        ]
    );
    // money for an order that is already paid, and for no order at all
    let again = sepay_body(9003, &code, total);
    app.send(sepay_request(&again, &sepay_signed(&again, now())))
        .await;
    let unknown = sepay_body(9004, "OCOPZZZZ9999", 50_000);
    app.send(sepay_request(&unknown, &sepay_signed(&unknown, now())))
        .await;
    let reasons: Vec<String> = sqlx::query_scalar("select review_reason from payment_event where outcome = 'review' order by payment_event_id")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        reasons,
        vec!["amount_too_low", "already_paid", "unknown_code"]
    );

    // a late payment: the order expired and gave its stock back; staff apply it and the stock is taken again
    let (_, late) = ordered(&app, "vietqr").await;
    let late_total: i64 = sqlx::query_scalar("select grand_total from order_group where code = $1")
        .bind(&late)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let stock_before: i32 =
        sqlx::query_scalar("select stock from product where slug = 'mien-dong'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    sqlx::query("update order_group set pay_before = now() - interval '1 minute' where code = $1")
        .bind(&late)
        .execute(&app.pool)
        .await
        .unwrap();
    ocop_market::orders::expire_once(&app.pool).await.unwrap();
    assert_eq!(statuses(&app, &late).await, vec!["cancelled"]);
    let body = sepay_body(9005, &late, late_total);
    app.send(sepay_request(&body, &sepay_signed(&body, now())))
        .await;
    let (event_id, reason): (i64, String) = sqlx::query_as(
        "select payment_event_id, review_reason from payment_event where provider_tx_id = '9005'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(reason, "order_cancelled");

    // staff of Quảng Ninh (the producer's province) settle it in the back office
    let (mut staff, _) = crate::helpers::person(&app, "staff", "province_staff", Some(22)).await;
    let queue = staff.get("/staff/payments").await;
    assert!(
        queue.body.contains("Đơn đã huỷ hoặc quá hạn thanh toán") && queue.body.contains(&late),
        "{}",
        queue.body
    );
    // the facts staff need, read out of the callback; nothing is pre-chosen
    assert!(
        queue.body.contains(&format!("<q>{late} thanh toan</q>"))
            && queue.body.contains("sepay · MBBank"),
        "the transfer's memo and bank are shown: {}",
        queue.body
    );
    assert!(
        queue
            .body
            .contains(r#"<option value="" selected>— Chọn cách xử lý —</option>"#)
    );
    assert!(queue.body.contains("Dữ liệu gốc từ sepay"));
    let no_note = staff
        .post(
            &format!("/staff/payments/{event_id}/resolve"),
            &[("csrf", &csrf(&queue)), ("resolution", "applied")],
        )
        .await;
    assert_eq!(no_note.status, StatusCode::BAD_REQUEST);
    let applied = staff
        .post(
            &format!("/staff/payments/{event_id}/resolve"),
            &[
                ("csrf", &csrf(&queue)),
                ("resolution", "applied"),
                ("note", "Khách chuyển khoản trễ 5 phút, còn hàng"),
            ],
        )
        .await;
    assert_eq!(applied.status, StatusCode::SEE_OTHER, "{}", applied.body);
    assert_eq!(statuses(&app, &late).await, vec!["paid"]);
    // the decision, and the order it moved, are in the audit log with the note as the reason
    let logged: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "select action, entity, reason from audit_log where action = 'payment.resolve' order by audit_id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let note = Some("Khách chuyển khoản trễ 5 phút, còn hàng".to_string());
    assert!(
        logged.contains(&(
            "payment.resolve".into(),
            "payment_event".into(),
            note.clone()
        )) && logged.contains(&("payment.resolve".into(), "shop_order".into(), note)),
        "{logged:?}"
    );
    let (mut national, _) = crate::helpers::person(&app, "national", "national_staff", None).await;
    let log = national.get("/staff/audit").await;
    assert!(
        log.body.contains("Xử lý khoản tiền cần xem xét") && log.body.contains("Khoản tiền #"),
        "{}",
        log.body
    );
    // the queue says what was done
    let after = staff.get(&location_of(&applied)).await;
    assert!(
        after
            .body
            .contains(&format!("Đã áp dụng khoản tiền vào đơn {late}")),
        "{}",
        after.body
    );
    let stock_after: i32 = sqlx::query_scalar("select stock from product where slug = 'mien-dong'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        stock_after, stock_before,
        "taken at order, returned at expiry, taken again when applied"
    );
    // the overpaid-twice case is recorded as refunded
    let (dup_id,): (i64,) =
        sqlx::query_as("select payment_event_id from payment_event where provider_tx_id = '9003'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let queue = staff.get("/staff/payments").await;
    let refunded = staff
        .post(
            &format!("/staff/payments/{dup_id}/resolve"),
            &[
                ("csrf", &csrf(&queue)),
                ("resolution", "refunded"),
                ("note", "Đã chuyển trả khách ngày 24/11"),
            ],
        )
        .await;
    assert_eq!(refunded.status, StatusCode::SEE_OTHER);
    // the unknown transfer is not in Quảng Ninh's queue: national staff handle it
    assert!(
        !staff
            .get("/staff/payments")
            .await
            .body
            .contains("OCOPZZZZ9999")
    );
}

fn location_of(answer: &Answer) -> String {
    answer.headers[header::LOCATION]
        .to_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn cash_on_delivery_is_paid_when_delivered() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let (_, code) = ordered(&app, "cod").await;
    assert!(paid_payments(&app, &code).await.is_empty());
    let order: i64 = sqlx::query_scalar("select o.order_id from shop_order o join order_group g using (order_group_id) where g.code = $1")
        .bind(&code)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let mut tx = app.pool.begin().await.unwrap();
    for (to, details) in [
        (ocop_market::orders::Status::Confirmed, Default::default()),
        (
            ocop_market::orders::Status::Shipped,
            ocop_market::orders::Details {
                carrier: Some("GHN".into()),
                tracking_number: Some("GHN0001".into()),
                ..Default::default()
            },
        ),
        (ocop_market::orders::Status::Delivered, Default::default()),
    ] {
        ocop_market::orders::transition(
            &mut tx,
            order,
            to,
            ocop_market::orders::Actor::Producer,
            &details,
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    assert_eq!(
        paid_payments(&app, &code).await,
        vec![("cod".to_string(), false)],
        "recorded as cash, not non-cash"
    );
}

/// Every provider's genuine callback, delivered 10 times one after another and 10 times at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_valid_callback_replayed_changes_state_exactly_once() {
    let app = stocked(None).await;
    for provider in ["sepay", "casso", "vnpay", "momo", "stripe"] {
        let method = match provider {
            "sepay" | "casso" => "vietqr",
            "stripe" => "card",
            other => other,
        };
        let (_, code) = ordered(&app, method).await;
        let total: i64 = sqlx::query_scalar("select grand_total from order_group where code = $1")
            .bind(&code)
            .fetch_one(&app.pool)
            .await
            .unwrap();
        let reference = if method == "vietqr" {
            code.clone()
        } else {
            ocop_market::payments::start_attempt(
                &app.pool,
                &code,
                ocop_market::checkout::PaymentMethod::from_key(method).unwrap(),
            )
            .await
            .unwrap()
            .unwrap()
            .reference
        };
        // one genuine callback, signed now
        let (headers, body): (Vec<(&'static str, String)>, String) = match provider {
            "sepay" => {
                let body = sepay_body(70_000 + total, &code, total);
                (sepay_signed(&body, now()), body)
            }
            "casso" => {
                let body = serde_json::json!({ "error": 0, "data": { "id": 80_000 + total, "reference": "FT8", "description": code, "amount": total, "accountNumber": "1017595600" } });
                let t = (now() * 1000).to_string();
                (
                    vec![(
                        "x-casso-signature",
                        format!(
                            "t={t},v1={}",
                            bank::casso_signature(pay::SANDBOX_CASSO_KEY, &t, &body)
                        ),
                    )],
                    body.to_string(),
                )
            }
            "vnpay" => {
                let mut p: std::collections::BTreeMap<String, String> = [
                    ("vnp_Amount", (total * 100).to_string()),
                    ("vnp_ResponseCode", "00".into()),
                    ("vnp_TransactionStatus", "00".into()),
                    ("vnp_TransactionNo", "15000001".into()),
                    ("vnp_TxnRef", reference.clone()),
                    ("vnp_TmnCode", "OCOPTEST".into()),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
                let h = vnpay::vnpay_sign(&p, pay::SANDBOX_VNPAY_SECRET);
                p.insert("vnp_SecureHash".into(), h.clone());
                (
                    vec![],
                    format!("{}&vnp_SecureHash={h}", vnpay::vnpay_hash_data(&p)),
                )
            }
            "momo" => {
                let mut r = momo::MomoResult {
                    partner_code: "MOMOTEST".into(),
                    order_id: reference.clone(),
                    request_id: format!("{reference}R"),
                    amount: total,
                    order_info: "x".into(),
                    order_type: "momo_wallet".into(),
                    trans_id: 42,
                    result_code: 0,
                    message: "Successful.".into(),
                    pay_type: "qr".into(),
                    response_time: now() * 1000,
                    extra_data: String::new(),
                    signature: String::new(),
                };
                r.signature = ocop_market::crypto::hmac_sha256_hex(
                    pay::SANDBOX_MOMO_SECRET.as_bytes(),
                    momo::momo_result_raw("ACCESSKEYTEST", &r).as_bytes(),
                );
                (vec![], serde_json::to_string(&r).unwrap())
            }
            _ => {
                let body = serde_json::json!({ "id": format!("evt_{reference}"), "type": "checkout.session.completed",
                    "data": { "object": { "id": "cs_x", "client_reference_id": reference, "amount_total": total, "payment_status": "paid" } } })
                .to_string();
                (vec![("stripe-signature", stripe_signed(&body))], body)
            }
        };
        let mut header_map = axum::http::HeaderMap::new();
        for (k, v) in &headers {
            header_map.insert(*k, v.parse().unwrap());
        }
        let deliver = |state: ocop_market::state::AppState,
                       header_map: axum::http::HeaderMap,
                       body: String| async move {
            match provider {
                "sepay" => gw::receive::<gw::Sepay>(&state, &header_map, body.as_bytes())
                    .await
                    .status(),
                "casso" => gw::receive::<gw::Casso>(&state, &header_map, body.as_bytes())
                    .await
                    .status(),
                "vnpay" => gw::receive::<gw::Vnpay>(&state, &header_map, body.as_bytes())
                    .await
                    .status(),
                "momo" => gw::receive::<gw::Momo>(&state, &header_map, body.as_bytes())
                    .await
                    .status(),
                _ => gw::receive::<gw::Stripe>(&state, &header_map, body.as_bytes())
                    .await
                    .status(),
            }
        };
        for _ in 0..10 {
            assert!(
                deliver(app.state.clone(), header_map.clone(), body.clone())
                    .await
                    .is_success(),
                "{provider}"
            );
        }
        let at_once: Vec<_> = (0..10)
            .map(|_| tokio::spawn(deliver(app.state.clone(), header_map.clone(), body.clone())))
            .collect();
        for h in at_once {
            assert!(h.await.unwrap().is_success(), "{provider}");
        }
        assert_eq!(statuses(&app, &code).await, vec!["paid"], "{provider}");
        assert_eq!(
            paid_payments(&app, &code).await.len(),
            1,
            "{provider}: paid once"
        );
        let paid_events: i64 = sqlx::query_scalar(
            "select count(*) from order_event e join shop_order o using (order_id) join order_group g using (order_group_id)
             where g.code = $1 and e.to_status = 'paid'",
        )
        .bind(&code)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert_eq!(paid_events, 1, "{provider}: one state change");
        let (kept, applied): (i64, i64) =
            sqlx::query_as("select count(*), count(*) filter (where outcome = 'applied') from payment_event where provider = $1")
                .bind(provider)
                .fetch_one(&app.pool)
                .await
                .unwrap();
        assert_eq!(
            (kept, applied),
            (20, 1),
            "{provider}: all 20 deliveries kept, one acted on"
        );
    }
}

/// A group of two producers' parts, paid by one transfer: the shopper gets one mail for the
/// whole group, with every line and the total; each producer one mail with its own lines.
#[tokio::test]
async fn one_payment_for_two_producers_is_one_mail_to_the_shopper_with_the_items_and_total() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    // each producer's owner has a mailbox
    for (tag, slug) in [("binhlieu", "mien-dong"), ("hanoi", "gom-bat-trang")] {
        sqlx::query(
            "with u as (insert into app_user (email, display_name, password_hash, role)
                        values ($1, $2, '$argon2id$x', 'producer') returning user_id)
             insert into producer_member (producer_id, user_id, role)
             select p.producer_id, u.user_id, 'owner' from product p, u where p.slug = $3",
        )
        .bind(format!("chu-{tag}-{}@example.vn", app.db_name))
        .bind(format!("Chủ {tag}"))
        .bind(slug)
        .execute(&app.pool)
        .await
        .unwrap();
    }
    let (_, code) = ordered_of(&app, &["mien-dong", "gom-bat-trang"], "vietqr").await;
    let total: i64 = sqlx::query_scalar("select grand_total from order_group where code = $1")
        .bind(&code)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let placed = crate::helpers::messages(&app);
    let shopper_placed: Vec<&String> = placed
        .iter()
        .filter(|m| m.contains(&format!("To: mua-{}", app.db_name)))
        .collect();
    assert_eq!(shopper_placed.len(), 1, "one mail for the order placed");
    assert!(
        shopper_placed[0].contains("Miến dong Bình Liêu × 1")
            && shopper_placed[0].contains("Gốm")
            && shopper_placed[0].contains(&format!(
                "Tổng cộng: {}",
                ocop_market::domain::Vnd::format(total)
            )),
        "{}",
        shopper_placed[0]
    );
    let body = sepay_body(9101, &code, total);
    assert_eq!(
        app.send(sepay_request(&body, &sepay_signed(&body, now())))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(statuses(&app, &code).await, vec!["paid", "paid"]);
    let after = crate::helpers::messages(&app);
    let new: Vec<&String> = after.iter().skip(placed.len()).collect();
    let to_shopper: Vec<&&String> = new
        .iter()
        .filter(|m| m.contains(&format!("To: mua-{}", app.db_name)))
        .collect();
    assert_eq!(
        to_shopper.len(),
        1,
        "one mail for the group, not one per producer: {new:?}"
    );
    assert!(
        to_shopper[0].contains("Miến dong Bình Liêu × 1") && to_shopper[0].contains("Gốm"),
        "{}",
        to_shopper[0]
    );
    for tag in ["binhlieu", "hanoi"] {
        let theirs: Vec<&&String> = new
            .iter()
            .filter(|m| m.contains(&format!("To: chu-{tag}-")))
            .collect();
        assert_eq!(theirs.len(), 1, "{tag} hears once of its own part: {new:?}");
        let other = if tag == "hanoi" {
            "Miến dong"
        } else {
            "Gốm"
        };
        assert!(!theirs[0].contains(other), "{tag} sees only its own lines");
    }
    assert!(
        new.iter()
            .all(|m| !m.contains(&code) || m.contains(&format!("To: mua-{}", app.db_name))),
        "producers' mails never carry the shopper's code"
    );
}
