//! Checkout benchmark, run by bench/checkout.sh against a scratch database: how many checkouts a
//! second one instance places when buyers do not compete, and what happens when 200 buyers race
//! for the last 10 units. Requests go through the real router (sessions, CSRF, Redis cart,
//! Postgres transaction); only the TCP hop is left out. Prints numbers; asserts nothing.
//!
//! With carriers configured (`SHIPPING_SANDBOX=1`, or a carrier's account), each shopper first
//! sees the checkout page with the carriers' quotes for its address (timed on its own: the first
//! asks the carriers, the rest come from the cache) and the order takes the quote shown.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use clap::Parser;
use http_body_util::BodyExt;
use ocop_market::app::Application;
use ocop_market::config::Config;
use std::time::{Duration, Instant};
use tower::ServiceExt;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    config: Config,
    /// checkouts in the uncontended run
    #[arg(long, default_value_t = 2000)]
    checkouts: usize,
    /// checkouts in flight at once
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// leave out the 200-buyer race
    #[arg(long)]
    no_race: bool,
}

struct Shopper {
    cookie: String,
    form: String,
    /// how long the page with the carriers' quotes took (None without carriers)
    quoted_in: Option<Duration>,
}

async fn send(app: &axum::Router, req: Request<Body>) -> (StatusCode, Vec<String>, String) {
    let res = app.clone().oneshot(req).await.expect("router answers");
    let status = res.status();
    let cookies = res
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|c| c.split(';').next())
        .filter(|c| !c.ends_with('='))
        .map(str::to_string)
        .collect();
    let body =
        String::from_utf8_lossy(&res.into_body().collect().await.unwrap().to_bytes()).into_owned();
    (status, cookies, body)
}

fn field(body: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let at = body
        .find(&marker)
        .map(|i| i + marker.len())
        .expect("field on the page");
    body[at..at + body[at..].find('"').unwrap()].to_string()
}

/// A shopper with `slug` in the cart and the checkout form filled in, ready to press the button.
async fn prepare(app: &axum::Router, slug: &str, commune: i32, quotes: bool) -> Shopper {
    let (_, cookies, _) = send(
        app,
        Request::post("/cart/add")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!("slug={slug}&qty=1")))
            .unwrap(),
    )
    .await;
    let mut jar: Vec<String> = cookies;
    let (_, more, page) = send(
        app,
        Request::get("/checkout")
            .header(header::COOKIE, jar.join("; "))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    jar.extend(more);
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("csrf", &field(&page, "csrf"))
        .append_pair("token", &field(&page, "token"))
        .append_pair("seen", &field(&page, "seen"))
        .append_pair("buyer_name", "Khách thử tải")
        .append_pair("phone", "0912345678")
        .append_pair("province", "1")
        .append_pair("commune", &commune.to_string())
        .append_pair("street", "1 Tràng Tiền")
        .append_pair("payment_method", "cod")
        .finish();
    let cookie = jar.join("; ");
    if !quotes {
        return Shopper {
            cookie,
            form,
            quoted_in: None,
        };
    }
    // with carriers, the address first brings the page with their quotes; the cheapest is taken
    let started = Instant::now();
    let (status, _, quoted) = send(
        app,
        Request::post("/checkout")
            .header(header::COOKIE, &cookie)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form.clone()))
            .unwrap(),
    )
    .await;
    let took = started.elapsed();
    if status == StatusCode::OK && quoted.contains("name=\"quoted_for\"") {
        let mut form = form_urlencoded::Serializer::new(form);
        form.append_pair("quoted_for", &field(&quoted, "quoted_for"));
        for (at, _) in quoted.match_indices("name=\"ship_") {
            let rest = &quoted[at + 6..];
            let name = &rest[..rest.find('"').unwrap()];
            let v = rest.find("value=\"").unwrap() + 7;
            let value = &rest[v..v + rest[v..].find('"').unwrap()];
            if rest[..rest.find('>').unwrap()].contains("checked") {
                form.append_pair(name, value);
            }
        }
        return Shopper {
            cookie,
            form: form.finish(),
            quoted_in: Some(took),
        };
    }
    Shopper {
        cookie,
        form,
        quoted_in: None,
    }
}

async fn place(app: &axum::Router, s: &Shopper) -> (StatusCode, Duration) {
    let started = Instant::now();
    let (status, _, _) = send(
        app,
        Request::post("/checkout")
            .header(header::COOKIE, &s.cookie)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(s.form.clone()))
            .unwrap(),
    )
    .await;
    (status, started.elapsed())
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let app = Application::build(cli.config).await.expect("app builds");
    let state = app.state().clone();
    let pool = state.pool.clone();
    let router = ocop_market::app::router(state.clone());
    // with carriers, each shopper sees their quotes before placing
    let quotes = !state.carriers.available().is_empty();
    let commune: i32 =
        sqlx::query_scalar("select commune_code from commune where province_code = 1 limit 1")
            .fetch_one(&pool)
            .await
            .unwrap();
    sqlx::query("update product set stock = 1000000")
        .execute(&pool)
        .await
        .unwrap();
    state.catalog.refresh_all().await.unwrap();
    let slugs: Vec<String> = state
        .catalog
        .snapshot()
        .rows
        .iter()
        .take(5000)
        .map(|r| {
            state.catalog.snapshot().products[&r.product_id]
                .slug
                .clone()
        })
        .collect();

    // uncontended: every buyer a different product
    let mut shoppers = Vec::with_capacity(cli.checkouts);
    for i in 0..cli.checkouts {
        shoppers.push(prepare(&router, &slugs[i % slugs.len()], commune, quotes).await);
    }
    let mut quoted: Vec<Duration> = shoppers.iter().filter_map(|s| s.quoted_in).collect();
    if !quoted.is_empty() {
        quoted.sort();
        println!(
            "checkout page with carriers' quotes ({} shoppers, the first asks, the rest from the cache): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            quoted.len(),
            pct(&quoted, 0.5),
            pct(&quoted, 0.99),
            pct(&quoted, 1.0)
        );
    }
    let started = Instant::now();
    let mut latencies = Vec::with_capacity(cli.checkouts);
    let mut ok = 0;
    for chunk in shoppers.chunks(cli.concurrency) {
        let results = futures_join(chunk.iter().map(|s| place(&router, s))).await;
        for (status, took) in results {
            ok += (status == StatusCode::SEE_OTHER) as usize;
            latencies.push(took);
        }
    }
    let elapsed = started.elapsed();
    latencies.sort();
    println!(
        "uncontended checkouts: {} placed of {} in {:.2} s = {:.0} checkouts/s ({} in flight), p50 {:.1} ms, p99 {:.1} ms",
        ok,
        cli.checkouts,
        elapsed.as_secs_f64(),
        ok as f64 / elapsed.as_secs_f64(),
        cli.concurrency,
        pct(&latencies, 0.5),
        pct(&latencies, 0.99)
    );

    if cli.no_race {
        return;
    }
    // the race: 200 buyers, 10 units, all pressing the button at once
    let slug = &slugs[slugs.len() - 1];
    sqlx::query("update product set stock = 10 where slug = $1")
        .bind(slug)
        .execute(&pool)
        .await
        .unwrap();
    state.catalog.refresh_all().await.unwrap();
    let mut racers = Vec::with_capacity(200);
    for _ in 0..200 {
        racers.push(prepare(&router, slug, commune, quotes).await);
    }
    let started = Instant::now();
    let handles: Vec<_> = racers
        .into_iter()
        .map(|s| {
            let router = router.clone();
            tokio::spawn(async move { place(&router, &s).await.0 })
        })
        .collect();
    let (mut sold, mut refused, mut other) = (0, 0, 0);
    for h in handles {
        match h.await.unwrap() {
            StatusCode::SEE_OTHER => sold += 1,
            StatusCode::CONFLICT => refused += 1,
            _ => other += 1,
        }
    }
    let settled = started.elapsed();
    let stock: i32 = sqlx::query_scalar("select stock from product where slug = $1")
        .bind(slug)
        .fetch_one(&pool)
        .await
        .unwrap();
    println!(
        "race: 200 buyers for 10 units → {sold} orders placed, {refused} told it is sold out, {other} other answers; stock now {stock}; settled in {:.0} ms",
        settled.as_secs_f64() * 1000.0
    );
}

/// Polls a batch of futures together on this task (they borrow the router).
async fn futures_join<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut pending: Vec<Option<std::pin::Pin<Box<F>>>> =
        futures.map(|f| Some(Box::pin(f))).collect();
    let mut results: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        for (slot, result) in pending.iter_mut().zip(results.iter_mut()) {
            if let Some(f) = slot {
                if let std::task::Poll::Ready(v) = f.as_mut().poll(cx) {
                    *result = Some(v);
                    *slot = None;
                }
            }
        }
        if pending.iter().all(Option::is_none) {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    results.into_iter().map(Option::unwrap).collect()
}
