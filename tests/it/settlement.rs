//! The money loop through the real router and database: payments held, split when the return
//! window passes, reversed when a sale is undone (after a payout too), payouts frozen once and
//! confirmed by the bank, and the ledger's invariants after every step of random sequences.

use crate::helpers::{TestApp, load_fixture};
use crate::payments::{ordered_of, sepay_body, sepay_request, sepay_signed};
use axum::http::StatusCode;
use ocop_market::domain::Vnd;
use ocop_market::orders::{Actor, Details, Status, transition};
use ocop_market::settlement::payouts::{self, LineStatus, Started};
use ocop_market::settlement::{backfill, catch_up, release_due};
use time::{Duration, OffsetDateTime};

/// A bank transfer for `code` reported by SePay (signed as SePay signs).
pub(crate) async fn pay_by_transfer(app: &TestApp, code: &str, tx: i64) -> StatusCode {
    let total: i64 = sqlx::query_scalar("select grand_total from order_group where code = $1")
        .bind(code)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let body = sepay_body(tx, code, total);
    app.send(sepay_request(
        &body,
        &sepay_signed(&body, crate::payments::now()),
    ))
    .await
    .status
}

pub(crate) async fn order_of(app: &TestApp, code: &str, producer: &str) -> i64 {
    sqlx::query_scalar(
        "select o.order_id from shop_order o join order_group g using (order_group_id) join producer pr using (producer_id)
         where g.code = $1 and pr.slug = $2",
    )
    .bind(code)
    .bind(producer)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

pub async fn go(app: &TestApp, order: i64, steps: &[(Status, Actor)]) {
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

pub const DELIVER: &[(Status, Actor)] = &[
    (Status::Confirmed, Actor::Producer),
    (Status::Shipped, Actor::Producer),
    (Status::Delivered, Actor::Producer),
];

async fn entries(app: &TestApp) -> i64 {
    sqlx::query_scalar("select count(*) from journal_entry")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// (held, available) of a producer, as its statement shows them.
async fn balances(app: &TestApp, slug: &str) -> (i64, i64) {
    let id: i64 = sqlx::query_scalar("select producer_id from producer where slug = $1")
        .bind(slug)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let b = ocop_market::ledger::producer_balances(&app.pool, id)
        .await
        .unwrap();
    (b.held.amount(), b.available.amount())
}

/// Every invariant of the ledger, checked from the tables alone.
pub(crate) async fn ledger_holds(app: &TestApp) {
    let total: Option<i64> = sqlx::query_scalar("select sum(amount)::bigint from journal_line")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(total.unwrap_or(0), 0, "the whole ledger sums to zero");
    let unbalanced: i64 = sqlx::query_scalar(
        "select count(*) from (select entry_id from journal_line group by 1 having sum(amount) <> 0) x",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(unbalanced, 0);
    // the balances payouts and pages read (rollup plus deltas not folded yet) are the lines' sums
    let drifted: Vec<(i64, i64, i64, i64, i64)> = sqlx::query_as(
        r#"with lines as (
               select producer_id, coalesce(-sum(amount) filter (where account = 'held'), 0)::bigint as held,
                      coalesce(-sum(amount) filter (where account = 'payable'), 0)::bigint as payable
               from journal_line where producer_id is not null group by 1
           ), rollup as (
               select producer_id, sum(held)::bigint as held, sum(payable)::bigint as payable
               from (select producer_id, held, payable from producer_balance
                     union all select producer_id, held, payable from producer_balance_delta) b
               group by 1
           )
           select producer_id, coalesce(l.held, 0), coalesce(r.held, 0), coalesce(l.payable, 0), coalesce(r.payable, 0)
           from lines l full join rollup r using (producer_id)
           where coalesce(l.held, 0) <> coalesce(r.held, 0) or coalesce(l.payable, 0) <> coalesce(r.payable, 0)"#,
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert!(
        drifted.is_empty(),
        "balances drifted from the ledger: {drifted:?}"
    );
    // per order: what the shopper paid, and what a funder's promotion paid in, is all accounted
    // for, in whichever state it is
    let rows: Vec<(i64, String, i64, i64, i64, i64, i64, i64, i64, bool, bool)> = sqlx::query_as(
        r#"select o.order_id, o.status, o.goods_total + o.shipping_fee - o.discount_total
                  + coalesce(sum(l.amount) filter (where l.account in ('promotions_marketplace', 'promotions_province')), 0)::bigint,
              coalesce(-sum(l.amount) filter (where l.account = 'held'), 0)::bigint,
              coalesce(-sum(l.amount) filter (where l.account = 'payable' and l.component <> 'cash'), 0)::bigint,
              coalesce(-sum(l.amount) filter (where l.account = 'commission'), 0)::bigint,
              coalesce(-sum(l.amount) filter (where l.account in ('vat_withheld', 'pit_withheld')), 0)::bigint,
              coalesce(sum(l.amount) filter (where l.account = 'held' and l.component = 'fee'), 0)::bigint,
              coalesce(-sum(l.amount) filter (where l.account = 'refunds_owed' and l.amount < 0), 0)::bigint,
              bool_or(e.event = 'release'), bool_or(e.event = 'reversal')
           from journal_entry e join journal_line l using (entry_id) join shop_order o on o.order_id = e.order_id
           group by o.order_id"#,
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    for (
        id,
        status,
        paid,
        held,
        producer,
        commission,
        taxes,
        producer_fee,
        refunded,
        released,
        reversed,
    ) in rows
    {
        if reversed {
            assert_eq!(
                (held, producer, commission, taxes),
                (0, 0, 0, 0),
                "order {id} ({status}) undone"
            );
            assert_eq!(refunded, paid, "order {id}: all of it owed back");
        } else if released {
            assert_eq!(held, 0, "order {id}");
            assert_eq!(
                producer + commission + taxes + producer_fee,
                paid,
                "order {id}: paid = producer + commission + taxes + fees"
            );
        } else {
            assert_eq!(held + producer_fee, paid, "order {id} ({status}) held");
        }
    }
}

#[tokio::test]
async fn money_is_held_when_paid_and_split_when_the_return_window_passes() {
    let app = TestApp::without_workers().await;
    load_fixture(&app).await;
    let (_, code) = ordered_of(&app, &["mien-dong", "cha-muc"], "vietqr").await;
    // the bank's callback, delivered three times
    for _ in 0..3 {
        assert_eq!(pay_by_transfer(&app, &code, 9001).await, StatusCode::OK);
    }
    assert_eq!(
        entries(&app).await,
        2,
        "one payment entry per producer order"
    );
    let coop = order_of(&app, &code, "htx-binh-lieu").await;
    let household = order_of(&app, &code, "ho-ba-che").await;
    let shipping: i64 =
        sqlx::query_scalar("select shipping_fee from shop_order where order_id = $1")
            .bind(household)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(balances(&app, "ho-ba-che").await, (300_000 + shipping, 0));
    ledger_holds(&app).await;

    go(&app, coop, DELIVER).await;
    go(&app, household, DELIVER).await;
    let now = OffsetDateTime::now_utc();
    assert_eq!(
        release_due(&app.pool, now).await.unwrap(),
        0,
        "still in the return window"
    );
    assert_eq!(
        release_due(&app.pool, now + Duration::days(6))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        release_due(&app.pool, now + Duration::days(8))
            .await
            .unwrap(),
        2
    );
    // the household: 5% commission, VAT 1% and PIT 0,5% withheld on the goods
    assert_eq!(
        balances(&app, "ho-ba-che").await,
        (0, 300_000 + shipping - 15_000 - 3_000 - 1_500)
    );
    // the cooperative: commission only
    let coop_shipping: i64 =
        sqlx::query_scalar("select shipping_fee from shop_order where order_id = $1")
            .bind(coop)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        balances(&app, "htx-binh-lieu").await,
        (0, 50_000 + coop_shipping - 2_500)
    );
    ledger_holds(&app).await;

    // everything again: the callback, the job, the catch-up of every order, the backfill
    let before = entries(&app).await;
    assert_eq!(pay_by_transfer(&app, &code, 9001).await, StatusCode::OK);
    assert_eq!(
        release_due(&app.pool, now + Duration::days(30))
            .await
            .unwrap(),
        0
    );
    let mut conn = app.pool.acquire().await.unwrap();
    assert_eq!(
        catch_up(&mut conn, &[coop, household], now + Duration::days(30))
            .await
            .unwrap(),
        0
    );
    drop(conn);
    assert_eq!(backfill(&app.pool, now).await.unwrap(), 0);
    assert_eq!(entries(&app).await, before, "replaying posts nothing");
}

#[tokio::test]
async fn the_ledger_refuses_an_unbalanced_entry_and_any_edit() {
    let app = TestApp::without_workers().await;
    let mut tx = app.pool.begin().await.unwrap();
    let id: i64 = sqlx::query_scalar(
        "insert into journal_entry (key, event) values ('test:1', 'adjustment') returning entry_id",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    let unbalanced = sqlx::query(
        "insert into journal_line (entry_id, account, component, amount) values ($1, 'commission', 'adjustment', 100), ($1, 'adjustments', 'adjustment', -99)",
    )
    .bind(id)
    .execute(&mut *tx)
    .await;
    assert!(
        unbalanced.is_err(),
        "an entry that does not sum to zero is refused"
    );
    drop(tx);

    let mut tx = app.pool.begin().await.unwrap();
    sqlx::query("insert into journal_entry (key, event) values ('test:2', 'adjustment')")
        .execute(&mut *tx)
        .await
        .unwrap();
    assert!(
        tx.commit().await.is_err(),
        "an entry with no lines is refused"
    );

    let mut conn = app.pool.acquire().await.unwrap();
    let mut e =
        ocop_market::ledger::Entry::new("test:3".into(), ocop_market::ledger::Event::Adjustment);
    e.transfer(
        ocop_market::ledger::Account::Adjustments,
        ocop_market::ledger::Account::Commission,
        ocop_market::ledger::Component::Adjustment,
        Vnd::new(1_000),
    );
    assert_eq!(
        ocop_market::ledger::post(&mut conn, &[e.clone()])
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        ocop_market::ledger::post(&mut conn, &[e]).await.unwrap(),
        0,
        "once per key"
    );
    for sql in [
        "update journal_line set amount = amount * 2",
        "delete from journal_line",
        "update journal_entry set memo = 'sửa'",
        "delete from journal_entry",
    ] {
        assert!(
            sqlx::query(sql).execute(&mut *conn).await.is_err(),
            "{sql} is refused"
        );
    }
    ledger_holds(&app).await;
}

async fn pay_account(app: &TestApp, slug: &str) {
    sqlx::query(
        "insert into payout_account (producer_id, bank_bin, account_no, holder_name, payouts_from)
         select producer_id, '970436', '0071001234567', 'HO BA CHE', now() - interval '1 day' from producer where slug = $1",
    )
    .bind(slug)
    .execute(&app.pool)
    .await
    .unwrap();
}

/// A paid, delivered and released order of the household Ba Chẽ; answers its order id and the
/// clock after its release.
async fn sold_and_released(app: &TestApp, tx: i64) -> (i64, OffsetDateTime) {
    let (_, code) = ordered_of(app, &["cha-muc"], "vietqr").await;
    assert_eq!(pay_by_transfer(app, &code, tx).await, StatusCode::OK);
    let order = order_of(app, &code, "ho-ba-che").await;
    go(app, order, DELIVER).await;
    let later = OffsetDateTime::now_utc() + Duration::days(8);
    assert_eq!(release_due(&app.pool, later).await.unwrap(), 1);
    (order, later)
}

#[tokio::test]
async fn two_payout_runs_started_at_once_make_one_and_freeze_each_balance_once() {
    let app = TestApp::without_workers().await;
    load_fixture(&app).await;
    let (_, later) = sold_and_released(&app, 7001).await;
    pay_account(&app, "ho-ba-che").await;
    let (_, available) = balances(&app, "ho-ba-che").await;
    assert!(available > 100_000);
    let today = later.date();
    let (a, b) = tokio::join!(
        payouts::start_run(&app.pool, 22, today, None, later),
        payouts::start_run(&app.pool, 22, today, None, later)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let made = [a, b]
        .iter()
        .filter(|s| matches!(s, Started::New { lines: 1, .. }))
        .count();
    assert_eq!(made, 1, "one run, one line: {a:?} {b:?}");
    assert!([a, b].iter().any(|s| matches!(s, Started::Exists { .. })));
    assert_eq!(
        balances(&app, "ho-ba-che").await,
        (0, 0),
        "the whole balance is frozen"
    );
    let (amount, status): (i64, LineStatus) =
        sqlx::query_as("select amount, status from payout_line")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((amount, status), (available, LineStatus::Sent));
    // a run the next day finds nothing more to pay
    let next = payouts::start_run(&app.pool, 22, today + Duration::days(1), None, later)
        .await
        .unwrap();
    assert!(matches!(next, Started::New { lines: 0, .. }), "{next:?}");
    ledger_holds(&app).await;
}

#[tokio::test]
async fn the_bank_reports_the_payout_and_a_returned_transfer_puts_the_money_back() {
    let app = TestApp::without_workers().await;
    load_fixture(&app).await;
    let (_, later) = sold_and_released(&app, 7101).await;
    pay_account(&app, "ho-ba-che").await;
    let (_, available) = balances(&app, "ho-ba-che").await;
    payouts::start_run(&app.pool, 22, later.date(), None, later)
        .await
        .unwrap();
    let reference: String = sqlx::query_scalar("select reference from payout_line")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let transfer = |id: i64, kind: &str, amount: i64| {
        serde_json::json!({ "id": id, "gateway": "MBBank", "transactionDate": "2026-12-07 10:00:00",
            "accountNumber": "1017595600", "code": null, "content": format!("{reference} chi tra OCOP"),
            "transferType": kind, "transferAmount": amount, "accumulated": 1, "referenceCode": format!("FT{id}"),
            "description": "" })
        .to_string()
    };
    // a transfer out of a different amount confirms nothing
    let wrong = transfer(8001, "out", available - 1);
    let answer = app
        .send(sepay_request(
            &wrong,
            &sepay_signed(&wrong, crate::payments::now()),
        ))
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    let status: LineStatus = sqlx::query_scalar("select status from payout_line")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(status, LineStatus::Sent);
    // the real one, twice
    let out = transfer(8002, "out", available);
    for _ in 0..2 {
        let answer = app
            .send(sepay_request(
                &out,
                &sepay_signed(&out, crate::payments::now()),
            ))
            .await;
        assert_eq!(answer.status, StatusCode::OK);
    }
    let status: LineStatus = sqlx::query_scalar("select status from payout_line")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(status, LineStatus::Paid);
    assert_eq!(balances(&app, "ho-ba-che").await, (0, 0));
    // the receiving bank sends it back
    let back = transfer(8003, "in", available);
    let answer = app
        .send(sepay_request(
            &back,
            &sepay_signed(&back, crate::payments::now()),
        ))
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    let status: LineStatus = sqlx::query_scalar("select status from payout_line")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(status, LineStatus::Returned);
    assert_eq!(
        balances(&app, "ho-ba-che").await,
        (0, available),
        "back in the balance"
    );
    let paid_entries: i64 =
        sqlx::query_scalar("select count(*) from journal_entry where event = 'payout_paid'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(paid_entries, 1, "paid once");
    ledger_holds(&app).await;
}

#[tokio::test]
async fn a_refund_after_a_payout_leaves_the_producer_owing_until_the_next_payout() {
    let app = TestApp::without_workers().await;
    load_fixture(&app).await;
    let (first, later) = sold_and_released(&app, 7201).await;
    pay_account(&app, "ho-ba-che").await;
    let (_, net) = balances(&app, "ho-ba-che").await;
    payouts::start_run(&app.pool, 22, later.date(), None, later)
        .await
        .unwrap();
    let line: i64 = sqlx::query_scalar("select payout_line_id from payout_line")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let mut conn = app.pool.acquire().await.unwrap();
    payouts::settle_line(&mut conn, line, LineStatus::Paid, Some("FT123"), None, None)
        .await
        .unwrap()
        .unwrap();
    drop(conn);
    // the shopper returns the goods: staff record the refund
    go(&app, first, &[(Status::Refunded, Actor::Staff)]).await;
    assert_eq!(
        balances(&app, "ho-ba-che").await,
        (0, -net),
        "owes what it was paid"
    );
    ledger_holds(&app).await;
    // the next sale pays the debt first
    let (_, later) = sold_and_released(&app, 7202).await;
    let (_, available) = balances(&app, "ho-ba-che").await;
    assert_eq!(
        available, 0,
        "the second sale's net settles the debt exactly"
    );
    let next = payouts::start_run(&app.pool, 22, later.date() + Duration::days(7), None, later)
        .await
        .unwrap();
    assert!(
        matches!(next, Started::New { lines: 0, .. }),
        "nothing to pay: {next:?}"
    );
    ledger_holds(&app).await;
}

#[tokio::test]
async fn cash_on_delivery_is_set_against_what_the_producer_is_owed() {
    let app = TestApp::without_workers().await;
    load_fixture(&app).await;
    let (_, code) = ordered_of(&app, &["cha-muc"], "cod").await;
    let order = order_of(&app, &code, "ho-ba-che").await;
    assert_eq!(
        entries(&app).await,
        0,
        "nothing before the cash is collected"
    );
    go(&app, order, DELIVER).await;
    let later = OffsetDateTime::now_utc() + Duration::days(8);
    release_due(&app.pool, later).await.unwrap();
    // the producer kept the cash: it owes the commission and the tax withheld
    assert_eq!(
        balances(&app, "ho-ba-che").await,
        (0, -(15_000 + 3_000 + 1_500))
    );
    ledger_holds(&app).await;
}

#[tokio::test]
async fn the_history_gets_its_entries_and_right_balances_at_the_first_start() {
    let app = TestApp::without_workers().await;
    ocop_market::seed::demo(&app.pool).await.unwrap();
    ocop_market::seed::orders::orders(&app.pool, 400, |_, _| {})
        .await
        .unwrap();
    let now = OffsetDateTime::now_utc();
    let posted = backfill(&app.pool, now).await.unwrap();
    assert!(posted > 0);
    let missed: i64 = sqlx::query_scalar(
        "select count(*) from shop_order o join order_group g using (order_group_id)
         where (o.status = 'delivered' or (g.payment_method <> 'cod' and o.status in ('paid', 'confirmed', 'shipped', 'refunded')))
           and not exists (select 1 from journal_entry e where e.order_id = o.order_id)",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(missed, 0, "every order with money has its entries");
    ledger_holds(&app).await;
    assert_eq!(
        backfill(&app.pool, now).await.unwrap(),
        0,
        "a rerun posts nothing"
    );
    assert_eq!(
        release_due(&app.pool, now).await.unwrap(),
        0,
        "due releases were posted"
    );
    let released: i64 = sqlx::query_scalar(
        "select count(*) from shop_order o where status = 'delivered' and delivered_at < now() - interval '7 days'
           and not exists (select 1 from journal_entry e where e.order_id = o.order_id and e.event = 'release')",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(released, 0);
}

/// A small deterministic generator: the same seed gives the same sequence, so a failure repeats.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

#[tokio::test]
async fn random_sequences_of_payments_deliveries_refunds_and_payouts_keep_every_invariant() {
    let app = TestApp::without_workers().await;
    load_fixture(&app).await;
    pay_account(&app, "ho-ba-che").await;
    pay_account(&app, "htx-binh-lieu").await;
    sqlx::query("update product set stock = 1000")
        .execute(&app.pool)
        .await
        .unwrap();
    app.refresh().await;
    let mut rng = Lcg(20_251_203);
    let mut clock = OffsetDateTime::now_utc();
    let mut orders: Vec<(String, bool)> = vec![]; // (code, online)
    let mut run_day = 0;
    for step in 0..300 {
        match rng.next(10) {
            // a new order, online or cash
            0 | 1 if orders.len() < 14 => {
                let online = rng.next(3) > 0;
                let slugs: &[&str] = if rng.next(2) == 0 {
                    &["cha-muc"]
                } else {
                    &["mien-dong", "cha-muc"]
                };
                let (_, code) =
                    ordered_of(&app, slugs, if online { "vietqr" } else { "cod" }).await;
                orders.push((code, online));
            }
            // pay (or replay the payment of) an order
            2 | 9 if !orders.is_empty() => {
                let i = rng.next(orders.len() as u64) as usize;
                let (code, online) = &orders[i];
                if *online {
                    // one bank transaction per order: paying again is the same callback again
                    pay_by_transfer(&app, code, 60_000 + i as i64).await;
                }
            }
            // move a producer order along, or undo it
            3 | 4 if !orders.is_empty() => {
                let (code, _) = &orders[rng.next(orders.len() as u64) as usize];
                let ids: Vec<i64> = sqlx::query_scalar("select order_id from shop_order o join order_group g using (order_group_id) where g.code = $1")
                    .bind(code)
                    .fetch_all(&app.pool)
                    .await
                    .unwrap();
                let id = ids[rng.next(ids.len() as u64) as usize];
                let status: String =
                    sqlx::query_scalar("select status from shop_order where order_id = $1")
                        .bind(id)
                        .fetch_one(&app.pool)
                        .await
                        .unwrap();
                let next: &[(Status, Actor)] = match (status.as_str(), rng.next(4)) {
                    ("paid" | "placed", 0) => &[(Status::Cancelled, Actor::Producer)],
                    ("paid" | "placed", _) => DELIVER,
                    ("delivered", 0) | ("cancelled", _) => &[(Status::Refunded, Actor::Staff)],
                    _ => &[],
                };
                let mut tx = app.pool.begin().await.unwrap();
                let mut ok = true;
                for (to, actor) in next {
                    let details = Details {
                        reason: Some("lý do thử".into()),
                        carrier: Some("GHN".into()),
                        tracking_number: Some("GHN1".into()),
                    };
                    if transition(&mut tx, id, *to, *actor, &details)
                        .await
                        .is_err()
                    {
                        ok = false;
                        break;
                    }
                }
                if ok {
                    tx.commit().await.unwrap()
                }
            }
            // time passes and the job runs (twice: a second instance)
            5 | 6 => {
                clock += Duration::days(rng.next(9) as i64);
                release_due(&app.pool, clock).await.unwrap();
                release_due(&app.pool, clock).await.unwrap();
            }
            // a payout run, and the bank's answer for its lines
            7 => {
                run_day += 1;
                payouts::start_run(
                    &app.pool,
                    22,
                    clock.date() + Duration::days(run_day),
                    None,
                    clock,
                )
                .await
                .unwrap();
            }
            _ => {
                let lines: Vec<(i64, LineStatus)> = sqlx::query_as("select payout_line_id, status from payout_line where status in ('sent', 'paid')")
                    .fetch_all(&app.pool)
                    .await
                    .unwrap();
                for (l, status) in lines {
                    let to = match (status, rng.next(4)) {
                        (LineStatus::Sent, 0) => LineStatus::Failed,
                        (LineStatus::Sent, _) => LineStatus::Paid,
                        (_, 0) => LineStatus::Returned,
                        // and sometimes the bank's confirmation again
                        _ => LineStatus::Paid,
                    };
                    let mut conn = app.pool.acquire().await.unwrap();
                    let _ = payouts::settle_line(&mut conn, l, to, Some("FT"), None, None)
                        .await
                        .unwrap();
                }
            }
        }
        // the job runs (folding the balances now and then), then the invariants hold and
        // replaying everything changes nothing
        release_due(&app.pool, clock).await.unwrap();
        if rng.next(4) == 0 {
            ocop_market::ledger::fold_balances(&app.pool).await.unwrap();
        }
        ledger_holds(&app).await;
        let before = entries(&app).await;
        let all: Vec<i64> = sqlx::query_scalar("select order_id from shop_order")
            .fetch_all(&app.pool)
            .await
            .unwrap();
        let mut conn = app.pool.acquire().await.unwrap();
        assert_eq!(
            catch_up(&mut conn, &all, clock).await.unwrap(),
            0,
            "step {step}: replay posted"
        );
        drop(conn);
        release_due(&app.pool, clock).await.unwrap();
        assert_eq!(entries(&app).await, before, "step {step}");
        // what is frozen in payouts in flight is exactly the sent lines
        let (in_flight, sent): (Option<i64>, Option<i64>) = sqlx::query_as(
            "select (select -sum(amount)::bigint from journal_line where account = 'payouts_in_flight'),
                    (select sum(amount)::bigint from payout_line where status = 'sent')",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert_eq!(in_flight.unwrap_or(0), sent.unwrap_or(0), "step {step}");
    }
    // the sequence went through every kind of event
    let kinds: Vec<String> =
        sqlx::query_scalar("select distinct event from journal_entry order by 1")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        kinds,
        [
            "cash_collected",
            "payment",
            "payout_failed",
            "payout_paid",
            "payout_returned",
            "payout_sent",
            "refund",
            "release",
            "reversal"
        ],
    );
}

/// The owner of Ba Chẽ (a household), signed in.
async fn ba_che_owner(app: &TestApp) -> crate::helpers::Visitor<'_> {
    let (v, uid) = crate::helpers::person(app, "bache", "producer", None).await;
    sqlx::query("insert into producer_member (producer_id, user_id, role) select producer_id, $1, 'owner' from producer where slug = 'ho-ba-che'")
        .bind(uid)
        .execute(&app.pool)
        .await
        .unwrap();
    v
}

#[tokio::test]
async fn a_producer_sets_where_to_be_paid_with_its_password_and_a_change_holds_payouts() {
    let app = TestApp::without_workers().await;
    load_fixture(&app).await;
    let mut owner = ba_che_owner(&app).await;
    let form = owner.get("/producer/money/account").await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    let token = crate::helpers::csrf(&form);
    let post =
        |bin: &'static str, account: &'static str, tax: &'static str, password: &'static str| {
            vec![
                ("csrf", token.clone()),
                ("bank_bin", bin.to_string()),
                ("account_no", account.to_string()),
                ("holder_name", "Nguyễn Thị Hoà".to_string()),
                ("tax_code", tax.to_string()),
                ("citizen_id", "022204012345".to_string()),
                ("password", password.to_string()),
            ]
        };
    let send = async |owner: &mut crate::helpers::Visitor<'_>,
                      fields: Vec<(&'static str, String)>| {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        owner.post("/producer/money/account", &fields).await
    };
    // wrong password, unknown bank, a tax code whose check digit is wrong: refused, nothing saved
    let a = send(
        &mut owner,
        post("970436", "0071001234567", "", "sai mật khẩu"),
    )
    .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(a.body.contains("Mật khẩu không đúng"), "{}", a.body);
    let a = send(
        &mut owner,
        post("123456", "0071001234567", "", crate::helpers::PASSWORD),
    )
    .await;
    assert!(a.body.contains("Vui lòng chọn ngân hàng"), "{}", a.body);
    let a = send(
        &mut owner,
        post(
            "970436",
            "0071001234567",
            "0100109107",
            crate::helpers::PASSWORD,
        ),
    )
    .await;
    assert!(a.body.contains("chữ số kiểm tra không khớp"), "{}", a.body);
    let saved: i64 = sqlx::query_scalar("select count(*) from payout_account")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(saved, 0, "nothing saved");
    // the first details: no hold
    let a = send(
        &mut owner,
        post("970436", "0071 0012 34567", "", crate::helpers::PASSWORD),
    )
    .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let (holder, held): (String, bool) =
        sqlx::query_as("select holder_name, payouts_from > now() from payout_account")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((holder.as_str(), held), ("NGUYEN THI HOA", false));
    // a change: held for the configured hours, and the owner is told by mail
    let a = send(
        &mut owner,
        post("970422", "9999888877", "", crate::helpers::PASSWORD),
    )
    .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    let held: bool =
        sqlx::query_scalar("select payouts_from > now() + interval '71 hours' from payout_account")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(held, "payouts wait after a change");
    let page = owner.get("/producer/money").await;
    assert!(page.body.contains("chi trả tạm dừng"), "{}", page.body);
    assert!(page.body.contains("••••••8877"), "the account is masked");
    assert!(
        crate::helpers::messages(&app)
            .iter()
            .any(|m| m.contains("Tài khoản nhận tiền") && m.contains("8877")),
        "the owner was told"
    );
    let logged: i64 =
        sqlx::query_scalar("select count(*) from audit_log where entity = 'payout_account'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(logged, 2);
}

#[tokio::test]
async fn the_producer_reads_its_statement_and_staff_pay_it_from_the_run_page() {
    let app = TestApp::without_workers().await;
    load_fixture(&app).await;
    let (order, _) = sold_and_released(&app, 7301).await;
    pay_account(&app, "ho-ba-che").await;
    let (_, net) = balances(&app, "ho-ba-che").await;
    let mut owner = ba_che_owner(&app).await;
    let later = OffsetDateTime::now_utc() + Duration::days(8);
    let month = ocop_market::settlement::reports::Period::containing(later).key();
    let page = owner.get(&format!("/producer/money?month={month}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains(&format!("đơn #{order}")),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("15.000"),
        "the commission is on the statement"
    );
    assert!(page.body.contains("1.500"), "and the PIT withheld");
    let csv = owner
        .get(&format!("/producer/money.csv?month={month}"))
        .await;
    assert!(csv.body.contains(&format!("{net}")), "{}", csv.body);
    let tax = owner
        .get(&format!("/producer/money/tax?year={}", later.year()))
        .await;
    assert!(
        tax.body.contains("3.000"),
        "VAT withheld on the certificate: {}",
        tax.body
    );

    // staff of another province see nothing of it
    let (mut hanoi, _) = crate::helpers::person(&app, "hn", "province_staff", Some(1)).await;
    let (mut qn, _) = crate::helpers::person(&app, "qn", "province_staff", Some(22)).await;
    let runs = qn.get("/staff/payouts").await;
    let token = crate::helpers::csrf(&runs);
    let started = qn
        .post("/staff/payouts", &[("csrf", &token), ("province", "22")])
        .await;
    assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.body);
    let run: i64 = sqlx::query_scalar("select payout_run_id from payout_run")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let page = qn.get(&format!("/staff/payouts/{run}")).await;
    assert!(page.body.contains("<svg"), "a VietQR per line");
    assert!(page.body.contains("OCOPPAY"), "{}", page.body);
    let file = qn.get(&format!("/staff/payouts/{run}/bank.csv")).await;
    assert!(
        file.body.contains(&format!(
            "970436,Vietcombank,0071001234567,HO BA CHE,{net},OCOPPAY"
        )),
        "{}",
        file.body
    );
    assert_eq!(
        hanoi.get(&format!("/staff/payouts/{run}")).await.status,
        StatusCode::NOT_FOUND
    );
    let again = qn
        .post("/staff/payouts", &[("csrf", &token), ("province", "22")])
        .await;
    assert!(
        again.headers[axum::http::header::LOCATION]
            .to_str()
            .unwrap()
            .contains("run_exists")
    );
    let hn_token = crate::helpers::csrf(&hanoi.get("/staff/payouts").await);
    let forbidden = hanoi
        .post("/staff/payouts", &[("csrf", &hn_token), ("province", "22")])
        .await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);

    let line: i64 = sqlx::query_scalar("select payout_line_id from payout_line")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let other = hanoi
        .post(
            &format!("/staff/payout-lines/{line}/confirm"),
            &[("csrf", &hn_token), ("bank_ref", "FT999")],
        )
        .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND, "not in their province");
    let empty = qn
        .post(
            &format!("/staff/payout-lines/{line}/confirm"),
            &[("csrf", &token), ("bank_ref", "")],
        )
        .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(empty.body.contains("Nhập mã giao dịch"));
    let ok = qn
        .post(
            &format!("/staff/payout-lines/{line}/confirm"),
            &[("csrf", &token), ("bank_ref", "FT26120712345")],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    let twice = qn
        .post(
            &format!("/staff/payout-lines/{line}/confirm"),
            &[("csrf", &token), ("bank_ref", "FT26120712345")],
        )
        .await;
    assert_eq!(
        twice.status,
        StatusCode::SEE_OTHER,
        "a double click changes nothing"
    );
    let paid: i64 =
        sqlx::query_scalar("select count(*) from journal_entry where event = 'payout_paid'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(paid, 1);
    let logged: i64 =
        sqlx::query_scalar("select count(*) from audit_log where action = 'payout.confirm'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(logged, 1);
    let statement = owner
        .get(&format!(
            "/producer/money?month={}",
            ocop_market::settlement::reports::Period::containing(OffsetDateTime::now_utc()).key()
        ))
        .await;
    assert!(statement.body.contains("Đã nhận trong năm"));
    assert!(
        statement.body.contains(&Vnd::new(net).to_string()),
        "the money reached the producer: {}",
        statement.body
    );

    // the declaration lists the household with what was withheld
    let tax = qn.get(&format!("/staff/tax?month={month}")).await;
    assert!(tax.body.contains("Hộ kinh doanh Ba Chẽ"), "{}", tax.body);
    let csv = qn.get(&format!("/staff/tax.csv?month={month}")).await;
    assert!(csv.body.contains("300000,0,3000,1500"), "{}", csv.body);
    let overview = qn.get("/staff/settlement").await;
    assert_eq!(overview.status, StatusCode::OK, "{}", overview.body);
}

#[tokio::test]
async fn an_adjustment_needs_a_reason_and_posts_once() {
    let app = TestApp::without_workers().await;
    load_fixture(&app).await;
    let (mut qn, _) = crate::helpers::person(&app, "qn", "province_staff", Some(22)).await;
    let page = qn.get("/staff/settlement").await;
    let token = crate::helpers::csrf(&page);
    let form_token = {
        let at = page.body.find("name=\"token\" value=\"").unwrap() + 20;
        page.body[at..at + page.body[at..].find('"').unwrap()].to_string()
    };
    let post = |reason: &'static str, producer: &'static str| {
        vec![
            ("csrf", token.clone()),
            ("token", form_token.clone()),
            ("producer", producer.to_string()),
            ("direction", "for".to_string()),
            ("amount", "50.000".to_string()),
            ("reason", reason.to_string()),
        ]
    };
    let send = async |v: &mut crate::helpers::Visitor<'_>, f: Vec<(&'static str, String)>| {
        let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        v.post("/staff/settlement/adjust", &f).await
    };
    let no_reason = send(&mut qn, post("  ", "ho-ba-che")).await;
    assert_eq!(no_reason.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        no_reason.body.contains("ghi rõ lý do"),
        "{}",
        no_reason.body
    );
    let elsewhere = send(&mut qn, post("Bù phí giao hàng", "cong-ty-ha-noi")).await;
    assert!(
        elsewhere
            .body
            .contains("Không tìm thấy chủ thể trong phạm vi"),
        "another province"
    );
    assert_eq!(entries(&app).await, 0, "nothing posted");
    for _ in 0..2 {
        let ok = send(&mut qn, post("Bù phí giao hàng tháng 11", "ho-ba-che")).await;
        assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    }
    assert_eq!(entries(&app).await, 1, "a double submission posts once");
    assert_eq!(balances(&app, "ho-ba-che").await, (0, 50_000));
    let logged: i64 = sqlx::query_scalar(
        "select count(*) from audit_log where action = 'ledger.adjust' and reason like 'Bù phí%'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(logged, 1);
    ledger_holds(&app).await;
}

#[tokio::test]
async fn a_channel_fee_borne_by_producers_comes_out_of_their_share_and_province_staff_cannot_set_it()
 {
    let app = TestApp::without_workers().await;
    load_fixture(&app).await;
    let (mut national, _) = crate::helpers::person(&app, "tw", "national_staff", None).await;
    let (mut qn, _) = crate::helpers::person(&app, "qn", "province_staff", Some(22)).await;
    let page = national.get("/staff/commission").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let token = crate::helpers::csrf(&page);
    let fields = |token: &str, fee: &str| {
        vec![
            ("csrf", token.to_string()),
            ("fee_vietqr", fee.to_string()),
            ("payer_vietqr", "producer".to_string()),
            ("fee_vnpay", "1,1".into()),
            ("payer_vnpay", "marketplace".into()),
            ("fee_momo", "1,5".into()),
            ("payer_momo", "marketplace".into()),
            ("fee_card", "2,9".into()),
            ("payer_card", "marketplace".into()),
            ("return_window_days", "7".into()),
            ("payout_min", "100.000".into()),
            ("bank_change_hold_hours", "72".into()),
            ("payout_weekday", "1".into()),
        ]
    };
    let send = async |v: &mut crate::helpers::Visitor<'_>, f: Vec<(&'static str, String)>| {
        let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        v.post("/staff/settlement/settings", &f).await
    };
    let refused = send(&mut national, fields(&token, "12")).await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "above 10%"
    );
    let qn_token = crate::helpers::csrf(&qn.get("/staff/commission").await);
    let not_theirs = send(&mut qn, fields(&qn_token, "1")).await;
    assert_ne!(
        not_theirs.status,
        StatusCode::SEE_OTHER,
        "province staff do not set fees"
    );
    let ok = send(&mut national, fields(&token, "1")).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);

    // a province sets 0% for its cooperatives; a percentage that is not one is refused
    let qn_rule = |percent: &'static str| {
        vec![
            ("csrf", qn_token.clone()),
            ("sector", String::new()),
            ("producer_type", "cooperative".to_string()),
            ("producer", String::new()),
            ("percent", percent.to_string()),
            ("valid_from", String::new()),
            ("reason", "Quyết định 12/QĐ-UBND".to_string()),
        ]
    };
    let send_rule = async |v: &mut crate::helpers::Visitor<'_>, f: Vec<(&'static str, String)>| {
        let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        v.post("/staff/commission", &f).await
    };
    let bad = send_rule(&mut qn, qn_rule("năm")).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        send_rule(&mut qn, qn_rule("0")).await.status,
        StatusCode::SEE_OTHER
    );
    let rules = qn.get("/staff/commission").await;
    assert!(
        rules.body.contains("Quảng Ninh · Hợp tác xã"),
        "{}",
        rules.body
    );
    let (order, _) = sold_and_released(&app, 7401).await;
    let shipping: i64 =
        sqlx::query_scalar("select shipping_fee from shop_order where order_id = $1")
            .bind(order)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let total = 300_000 + shipping;
    let fee = (total + 50) / 100; // 1%, rounded half up
    assert_eq!(
        balances(&app, "ho-ba-che").await,
        (0, total - fee - 15_000 - 3_000 - 1_500),
        "the fee came out of the producer's share"
    );
    // Bình Liêu is a cooperative of Quảng Ninh: no commission on its next sale
    let (_, code) = ordered_of(&app, &["mien-dong"], "cod").await;
    let coop = order_of(&app, &code, "htx-binh-lieu").await;
    go(&app, coop, DELIVER).await;
    release_due(&app.pool, OffsetDateTime::now_utc() + Duration::days(8))
        .await
        .unwrap();
    let commission: Option<i64> = sqlx::query_scalar(
        "select sum(l.amount)::bigint from journal_line l join journal_entry e using (entry_id) where e.order_id = $1 and l.account = 'commission'",
    )
    .bind(coop)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(commission, None, "0% for the province's cooperatives");
    ledger_holds(&app).await;
}

#[tokio::test]
async fn a_household_records_its_tax_identity_and_staff_mark_it_checked_against_the_papers() {
    let app = TestApp::without_workers().await;
    load_fixture(&app).await;
    let (_, later) = sold_and_released(&app, 7501).await;
    let mut owner = ba_che_owner(&app).await;
    let page = owner.get("/producer/profile").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let token = crate::helpers::csrf(&page);
    let (province, commune): (i16, i32) =
        sqlx::query_as("select province_code, commune_code from producer where slug = 'ho-ba-che'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let (province, commune) = (province.to_string(), commune.to_string());
    let fields = |tax: &'static str| {
        vec![
            ("csrf", token.clone()),
            ("name", "Hộ kinh doanh Ba Chẽ".to_string()),
            ("producer_type", "household".into()),
            ("province", province.clone()),
            ("commune", commune.clone()),
            ("address", "Thôn 1".into()),
            ("phone", "0912345678".into()),
            ("registration_no", "22A8001234".into()),
            ("story", String::new()),
            ("tax_code", tax.to_string()),
            ("citizen_id", String::new()),
        ]
    };
    let send = async |v: &mut crate::helpers::Visitor<'_>, f: Vec<(&'static str, String)>| {
        let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        v.post("/producer/profile", &f).await
    };
    let bad = send(&mut owner, fields("0100109107")).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.body.contains("chữ số kiểm tra không khớp"),
        "{}",
        bad.body
    );
    let ok = send(&mut owner, fields("0100109106")).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);

    let (mut qn, _) = crate::helpers::person(&app, "qn", "province_staff", Some(22)).await;
    let (mut hanoi, _) = crate::helpers::person(&app, "hn", "province_staff", Some(1)).await;
    let month = ocop_market::settlement::reports::Period::containing(later).key();
    let tax = qn.get(&format!("/staff/tax?month={month}")).await;
    assert!(
        tax.body.contains("0100109106") && tax.body.contains("Đã đối chiếu giấy tờ"),
        "{}",
        tax.body
    );
    let id: i64 = sqlx::query_scalar("select producer_id from producer where slug = 'ho-ba-che'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let hn_token = crate::helpers::csrf(&hanoi.get("/staff/settlement").await);
    let elsewhere = hanoi
        .post(
            &format!("/staff/producers/{id}/identity-checked"),
            &[("csrf", &hn_token), ("month", &month)],
        )
        .await;
    assert_eq!(
        elsewhere.status,
        StatusCode::NOT_FOUND,
        "not their province"
    );
    let checked = qn
        .post(
            &format!("/staff/producers/{id}/identity-checked"),
            &[("csrf", &crate::helpers::csrf(&tax)), ("month", &month)],
        )
        .await;
    assert_eq!(checked.status, StatusCode::SEE_OTHER);
    assert!(
        qn.get(&format!("/staff/tax?month={month}"))
            .await
            .body
            .contains("đã đối chiếu")
    );
    // a change of identity needs checking again
    send(&mut owner, fields("0300588569")).await;
    let again: bool = sqlx::query_scalar(
        "select identity_checked_at is null from producer where producer_id = $1",
    )
    .bind(id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(again);
}

#[tokio::test]
async fn a_payout_run_that_fails_halfway_leaves_nothing_and_the_next_start_pays_everyone_once() {
    let app = TestApp::without_workers().await;
    load_fixture(&app).await;
    let (_, later) = sold_and_released(&app, 7601).await;
    pay_account(&app, "ho-ba-che").await;
    // a second producer of the province with money to be paid
    let (_, code) = ordered_of(&app, &["mien-dong", "mien-dong", "mien-dong"], "vietqr").await;
    assert_eq!(pay_by_transfer(&app, &code, 7602).await, StatusCode::OK);
    go(&app, order_of(&app, &code, "htx-binh-lieu").await, DELIVER).await;
    release_due(&app.pool, later).await.unwrap();
    pay_account(&app, "htx-binh-lieu").await;
    // the database gives way after the lines are written, while the balances are being frozen
    sqlx::raw_sql(
        "create function fail_second() returns trigger language plpgsql as $$
         begin
           if new.account = 'payouts_in_flight' and (select count(*) from payout_line) > 1 then
             raise exception 'disk full';
           end if;
           return new;
         end $$;
         create trigger fail_second before insert on journal_line for each row execute function fail_second();",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let failed = payouts::start_run(&app.pool, 22, later.date(), None, later).await;
    assert!(failed.is_err());
    let left: (i64, i64, i64) = sqlx::query_as(
        "select (select count(*) from payout_run), (select count(*) from payout_line),
                (select count(*) from journal_entry where event = 'payout_sent')",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(left, (0, 0, 0), "nothing of the interrupted run remains");
    sqlx::raw_sql("drop trigger fail_second on journal_line")
        .execute(&app.pool)
        .await
        .unwrap();
    let started = payouts::start_run(&app.pool, 22, later.date(), None, later)
        .await
        .unwrap();
    assert!(
        matches!(started, Started::New { lines: 2, .. }),
        "{started:?}"
    );
    assert_eq!(balances(&app, "ho-ba-che").await, (0, 0));
    assert_eq!(balances(&app, "htx-binh-lieu").await, (0, 0));
    ledger_holds(&app).await;
}
