//! Reconciliation: a payment whose callback never came is found by asking its provider (through
//! the sandbox gateways, which answer VNPAY querydr, MoMo query and Stripe's session retrieval as
//! the real ones do), applied once however many instances ask, and the callback that finally
//! arrives afterwards changes nothing.

use crate::helpers::{Options, TestApp};
use crate::payments::{
    now, ordered, paid_payments, press, start, statuses, stocked, stripe_signed,
};
use axum::http::{HeaderMap, StatusCode};
use ocop_market::config::Config;
use ocop_market::payments::gateways::{self as gw, vnpay};
use ocop_market::payments::reconcile::{self, Report};
use ocop_market::payments::{self as pay};
use std::time::{Duration, Instant};

type Tweak = Option<Box<dyn FnOnce(&mut Config) + Send>>;

/// The instances' own workers wait a day, so only the test's passes ask.
fn quiet() -> Tweak {
    Some(Box::new(|c: &mut Config| {
        c.reconcile_after_secs = Some(86_400)
    }))
}

async fn reference(app: &TestApp, code: &str) -> String {
    sqlx::query_scalar(
        "select p.reference from payment p join order_group g using (order_group_id)
         where g.code = $1 order by p.payment_id desc limit 1",
    )
    .bind(code)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

/// How the events about an order ended: (outcome, source, count).
async fn outcomes(app: &TestApp, code: &str) -> Vec<(String, String, i64)> {
    sqlx::query_as(
        "select e.outcome, coalesce(e.headers->>'x-ocop-source', 'callback'), count(*)
         from payment_event e join order_group g using (order_group_id)
         where g.code = $1 group by 1, 2 order by 1, 2",
    )
    .bind(code)
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

fn sum(reports: &[Report]) -> Report {
    let mut total = Report::default();
    for r in reports {
        total.add(r);
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lost_callback_is_found_at_the_provider_and_applied_once_by_two_instances() {
    let a = stocked(quiet()).await;
    let b = TestApp::custom(Options {
        database: Some(a.db_name.clone()),
        tweak: quiet(),
        ..Options::default()
    })
    .await;
    // each gateway takes the money but its notification never reaches the shop
    let mut lost = vec![];
    for method in ["vnpay", "momo", "card"] {
        let (mut v, code) = ordered(&a, method).await;
        let to = start(&mut v, &code, method).await;
        let back = press(&mut v, &to, "lost").await;
        assert_eq!(
            back.status,
            StatusCode::SEE_OTHER,
            "{method}: {}",
            back.body
        );
        assert_eq!(
            statuses(&a, &code).await,
            vec!["pending_payment"],
            "{method}: nothing is paid without word from the provider"
        );
        lost.push((method, code));
    }
    // a shopper who opened VNPAY's page and walked away: asked about, left as it is
    let (mut v, walked_away) = ordered(&a, "vnpay").await;
    start(&mut v, &walked_away, "vnpay").await;

    // both instances ask at once, three times over (a zero delay makes every pass ask again)
    let client = reqwest::Client::new();
    let passes: Vec<_> = (0..3)
        .flat_map(|_| [a.state.clone(), b.state.clone()])
        .map(|state| {
            let client = client.clone();
            tokio::spawn(async move {
                reconcile::reconcile_once(&state, &client, Duration::ZERO)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut reports = vec![];
    for p in passes {
        reports.push(p.await.unwrap());
    }
    let total = sum(&reports);
    assert_eq!(
        total.applied, 3,
        "each lost payment applied once: {reports:?}"
    );
    assert_eq!(total.errors, 0, "{reports:?}");
    assert_eq!(total.review, 0, "{reports:?}");
    assert!(
        total.pending >= 1,
        "the abandoned attempt was asked about: {reports:?}"
    );
    for (method, code) in &lost {
        assert_eq!(statuses(&a, code).await, vec!["paid"], "{method}");
        let m = if *method == "card" { "card" } else { method };
        assert_eq!(
            paid_payments(&a, code).await,
            vec![(m.to_string(), true)],
            "{method}: one paid payment"
        );
    }
    assert_eq!(statuses(&a, &walked_away).await, vec!["pending_payment"]);
    let stock: i32 = sqlx::query_scalar("select stock from product where slug = 'mien-dong'")
        .fetch_one(&a.pool)
        .await
        .unwrap();
    assert_eq!(
        stock,
        100 - 2 * 4,
        "stock taken once per order, none returned"
    );

    // the notifications finally arrive, exactly as each gateway would have sent them
    for (method, code) in &lost {
        let reference = reference(&a, code).await;
        match *method {
            "vnpay" => {
                let fields = pay::sandbox::recall(&a.state, "vnpay", &reference)
                    .await
                    .unwrap()
                    .unwrap();
                let mut params: std::collections::BTreeMap<String, String> =
                    serde_json::from_value(fields).unwrap();
                let hash = vnpay::vnpay_sign(&params, pay::SANDBOX_VNPAY_SECRET);
                params.insert("vnp_SecureHash".into(), hash.clone());
                let query = format!("{}&vnp_SecureHash={hash}", vnpay::vnpay_hash_data(&params));
                let answer =
                    gw::receive::<gw::Vnpay>(&b.state, &HeaderMap::new(), query.as_bytes()).await;
                let body = axum::body::to_bytes(answer.into_body(), 10_000)
                    .await
                    .unwrap();
                assert!(
                    String::from_utf8_lossy(&body).contains("\"02\""),
                    "VNPAY is told the order is already confirmed: {body:?}"
                );
            }
            "momo" => {
                let ipn = pay::sandbox::recall(&a.state, "momo", &reference)
                    .await
                    .unwrap()
                    .unwrap();
                let answer = gw::receive::<gw::Momo>(
                    &b.state,
                    &HeaderMap::new(),
                    ipn.to_string().as_bytes(),
                )
                .await;
                assert_eq!(answer.status(), StatusCode::NO_CONTENT);
            }
            _ => {
                let session =
                    pay::sandbox::recall(&a.state, "stripe", &format!("cs_test_{reference}"))
                        .await
                        .unwrap()
                        .unwrap();
                let body = serde_json::json!({ "id": "evt_late", "object": "event",
                    "type": "checkout.session.completed", "created": now(), "data": { "object": session } })
                .to_string();
                let mut headers = HeaderMap::new();
                headers.insert("stripe-signature", stripe_signed(&body).parse().unwrap());
                let answer = gw::receive::<gw::Stripe>(&b.state, &headers, body.as_bytes()).await;
                assert_eq!(answer.status(), StatusCode::OK);
            }
        }
        let seen = outcomes(&a, code).await;
        let count = |outcome: &str, source: &str| -> i64 {
            seen.iter()
                .filter(|(o, s, _)| o == outcome && s == source)
                .map(|r| r.2)
                .sum()
        };
        assert_eq!(count("applied", "reconciliation"), 1, "{method}: {seen:?}");
        assert_eq!(count("duplicate", "callback"), 1, "{method}: {seen:?}");
        // a pass that raced another may have asked twice: a duplicate too, never a review
        assert!(
            seen.iter()
                .all(|(o, s, _)| o == "applied" || (o == "duplicate" && !s.is_empty())),
            "{method}: nothing for staff to review: {seen:?}"
        );
        assert_eq!(statuses(&a, code).await, vec!["paid"], "{method}");
        assert_eq!(paid_payments(&a, code).await.len(), 1, "{method}");
    }
}

#[tokio::test]
async fn questions_are_spaced_out_then_stop_and_a_forged_answer_changes_nothing() {
    // a "VNPAY" that says paid, signed with the wrong key
    let stub = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let stub_url = format!("http://{}/", stub.local_addr().unwrap());
    let asked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = asked.clone();
    let forged = axum::Router::new().route(
        "/",
        axum::routing::post(move |axum::Json(q): axum::Json<serde_json::Value>| {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async move {
                let mut a = serde_json::json!({
                    "vnp_ResponseId": "1", "vnp_Command": "querydr", "vnp_ResponseCode": "00", "vnp_Message": "OK",
                    "vnp_TmnCode": q["vnp_TmnCode"], "vnp_TxnRef": q["vnp_TxnRef"], "vnp_Amount": "99900000",
                    "vnp_OrderInfo": "x", "vnp_BankCode": "NCB", "vnp_PayDate": "20261124100000",
                    "vnp_TransactionNo": "777", "vnp_TransactionType": "01", "vnp_TransactionStatus": "00" });
                a["vnp_SecureHash"] = vnpay::vnpay_pipe_sign(
                    &vnpay::VNPAY_QUERY_RESPONSE_FIELDS,
                    &a,
                    "NOT-THE-MERCHANTS-SECRET",
                )
                .into();
                axum::Json(a)
            }
        }),
    );
    tokio::spawn(async move { axum::serve(stub, forged).await.unwrap() });
    let app = stocked(Some(Box::new(move |c: &mut Config| {
        c.reconcile_after_secs = Some(86_400);
        c.vnpay_api_url = Some(stub_url);
    })))
    .await;
    let (mut v, code) = ordered(&app, "vnpay").await;
    start(&mut v, &code, "vnpay").await;
    let client = reqwest::Client::new();
    let after = Duration::from_secs(60);
    let pass = || reconcile::reconcile_once(&app.state, &client, after);
    let backdate = |what: &'static str, minutes: i32| {
        let pool = app.pool.clone();
        async move {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "update payment set {what} = {what} - make_interval(mins => $1)"
            )))
            .bind(minutes)
            .execute(&pool)
            .await
            .unwrap();
        }
    };

    // too young to ask about
    assert_eq!(pass().await.unwrap().asked, 0);
    backdate("created_at", 10).await;
    let first = pass().await.unwrap();
    assert_eq!((first.asked, first.errors), (1, 1), "{first:?}");
    assert_eq!(statuses(&app, &code).await, vec!["pending_payment"]);
    let (rejected, why): (i64, Option<String>) = sqlx::query_as(
        "select count(*), max(verification_error) from payment_event
         where outcome = 'rejected' and headers->>'x-ocop-source' = 'reconciliation'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        (rejected, why.as_deref()),
        (1, Some("bad signature")),
        "the forged answer is kept as evidence and refused"
    );
    let paid: i64 = sqlx::query_scalar("select count(*) from payment where status = 'paid'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(paid, 0);

    // in its first hour it is asked every minute (the delay), not sooner
    assert_eq!(pass().await.unwrap().asked, 0, "asked again at once");
    backdate("checked_at", 1).await;
    assert_eq!(pass().await.unwrap().asked, 1);
    // older than an hour: asked hourly
    backdate("created_at", 60).await;
    backdate("checked_at", 30).await;
    assert_eq!(
        pass().await.unwrap().asked,
        0,
        "half an hour is not yet an hour"
    );
    backdate("checked_at", 31).await;
    assert_eq!(pass().await.unwrap().asked, 1);
    // after a day nobody asks any more
    backdate("created_at", 24 * 60).await;
    backdate("checked_at", 2 * 60).await;
    assert_eq!(pass().await.unwrap().asked, 0);
    assert_eq!(
        asked.load(std::sync::atomic::Ordering::SeqCst),
        3,
        "the provider was asked exactly when due"
    );
}

#[tokio::test]
async fn the_running_shop_finds_a_lost_payment_by_itself() {
    // as a person trying the sandbox would see it: press "lost", wait, the order turns paid
    let app = stocked(Some(Box::new(|c: &mut Config| {
        c.reconcile_after_secs = Some(1)
    })))
    .await;
    let (mut v, code) = ordered(&app, "momo").await;
    let to = start(&mut v, &code, "momo").await;
    press(&mut v, &to, "lost").await;
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        let waiting =
            v.get(&format!("/orders/{code}/status")).await.json()["waiting_for_payment"] == true;
        if !waiting {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the order was not found paid by the background job"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(statuses(&app, &code).await, vec!["paid"]);
    assert_eq!(
        outcomes(&app, &code).await,
        vec![("applied".into(), "reconciliation".into(), 1)]
    );
}
