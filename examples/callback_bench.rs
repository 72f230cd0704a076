//! Payment callback benchmark, run by bench/settlement.sh against a scratch catalog: how many
//! signed SePay bank-transfer callbacks a second one instance applies (each pays an order: claim,
//! decision, state machine, and since the ledger, its entries), through the real router; only
//! the TCP hop is left out. Uses nothing newer than the callback itself, so the same file measures
//! an older commit for comparison. Prints numbers; asserts nothing.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use clap::Parser;
use ocop_market::app::Application;
use ocop_market::config::Config;
use ocop_market::payments::gateways::bank::sepay_signature;
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tower::ServiceExt;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    config: Config,
    /// callbacks (orders paid)
    #[arg(long, default_value_t = 3000)]
    callbacks: i64,
    /// callbacks in flight at once
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let secret = cli
        .config
        .sepay_webhook_secret
        .clone()
        .expect("SEPAY_WEBHOOK_SECRET is set");
    let app = Application::build(cli.config).await.expect("app builds");
    let state = app.state().clone();
    let pool = state.pool.clone();
    let router = ocop_market::app::router(state.clone());
    // orders waiting for a transfer, one product line each, from the seeded catalog
    let start: i64 =
        sqlx::query_scalar("select coalesce(max(order_group_id), 0) + 1 from order_group")
            .fetch_one(&pool)
            .await
            .unwrap();
    let n = cli.callbacks;
    for sql in [
        "insert into order_group (order_group_id, code, checkout_token, buyer_name, phone, province_code, commune_code,
                                  street, payment_method, goods_total, shipping_total, grand_total, pay_before)
         overriding system value
         select g, 'OCOP' || lpad(upper(to_hex(g)), 8, '0'), 'bench-callback-' || lpad(g::text, 10, '0'), 'Khách',
                '0912345678', c.province_code, c.commune_code, '1 Tràng Tiền', 'vietqr', p.price_vnd, 30000,
                p.price_vnd + 30000, now() + interval '1 hour'
         from generate_series($1::bigint, $1 + $2 - 1) g
         cross join lateral (select commune_code, province_code from commune where province_code = 1 limit 1) c
         cross join lateral (select price_vnd from product where product_id = 1 + g % 1000) p",
        "insert into shop_order (order_group_id, producer_id, status, goods_total, shipping_fee)
         select g, p.producer_id, 'pending_payment', p.price_vnd, 30000
         from generate_series($1::bigint, $1 + $2 - 1) g
         cross join lateral (select producer_id, price_vnd from product where product_id = 1 + g % 1000) p",
        "insert into order_line (order_id, product_id, name, unit, unit_price, quantity, line_total, sector, stars)
         select o.order_id, p.product_id, p.name, p.unit, p.price_vnd, 1, p.price_vnd, p.sector, 4
         from shop_order o join product p on p.product_id = 1 + o.order_group_id % 1000
         where o.order_group_id between $1 and $1 + $2 - 1",
        "insert into payment (order_group_id, method, amount, reference)
         select order_group_id, 'vietqr', grand_total, code from order_group
         where order_group_id between $1 and $1 + $2 - 1",
    ] {
        sqlx::query(sql)
            .bind(start)
            .bind(n)
            .execute(&pool)
            .await
            .unwrap();
    }
    let codes: Vec<(String, i64)> = sqlx::query_as(
        "select code, grand_total from order_group where order_group_id between $1 and $1 + $2 - 1 order by 1",
    )
    .bind(start)
    .bind(n)
    .fetch_all(&pool)
    .await
    .unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let requests: Vec<Request<Body>> = codes
        .iter()
        .enumerate()
        .map(|(i, (code, total))| {
            let body = serde_json::json!({ "id": 7_000_000 + start + i as i64, "gateway": "MBBank",
                "transactionDate": "2026-12-03 10:00:00", "accountNumber": "1017595600", "code": null,
                "content": format!("{code} thanh toan"), "transferType": "in", "transferAmount": total,
                "accumulated": 1, "referenceCode": format!("FT{i}"), "description": "" })
            .to_string();
            Request::post("/payments/sepay/webhook")
                .header(header::CONTENT_TYPE, "application/json")
                .header("x-sepay-timestamp", &now)
                .header("x-sepay-signature", sepay_signature(&secret, &now, body.as_bytes()))
                // one client address each, as SePay's servers are few but the limit is per address
                .header("x-forwarded-for", format!("10.{}.{}.{}", i / 65536 % 256, i / 256 % 256, i % 256))
                .body(Body::from(body))
                .unwrap()
        })
        .collect();
    let started = Instant::now();
    let mut ok = 0usize;
    let mut requests = requests.into_iter();
    loop {
        let batch: Vec<_> = requests.by_ref().take(cli.concurrency).collect();
        if batch.is_empty() {
            break;
        }
        let handles: Vec<_> = batch
            .into_iter()
            .map(|r| {
                let router = router.clone();
                tokio::spawn(async move { router.oneshot(r).await.unwrap().status() })
            })
            .collect();
        for h in handles {
            ok += (h.await.unwrap() == StatusCode::OK) as usize;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let paid: i64 = sqlx::query_scalar(
        "select count(*) from shop_order where order_group_id between $1 and $1 + $2 - 1 and status = 'paid'",
    )
    .bind(start)
    .bind(n)
    .fetch_one(&pool)
    .await
    .unwrap();
    println!(
        "payment callbacks (SePay, signed, {} in flight): {:.0}/s · {ok} answered 200 · {paid} of {n} orders paid",
        cli.concurrency,
        n as f64 / secs
    );
}
