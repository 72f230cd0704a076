//! Settlement at scale, run by bench/settlement.sh against a scratch database: a ledger holding
//! `--orders` sold orders (a payment and a release each, eleven lines, as the real postings make)
//! over the past year for `--producers` producers of one province, then
//!  - one payout run over all of them (freezing every balance, one transaction), timed;
//!  - the producer's money page (`GET /producer/money`, balances + the month's statement + payout
//!    totals) through the real router with a signed-in owner, p50 / p95 over `--samples`.
//! Prints numbers; asserts nothing.

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
    #[arg(long, default_value_t = 10_000)]
    producers: i64,
    #[arg(long, default_value_t = 1_000_000)]
    orders: i64,
    #[arg(long, default_value_t = 200)]
    samples: usize,
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let app = Application::build(cli.config).await.expect("app builds");
    let state = app.state().clone();
    let pool = state.pool.clone();
    let router = ocop_market::app::router(state.clone());
    let commune: i32 =
        sqlx::query_scalar("select commune_code from commune where province_code = 22 limit 1")
            .fetch_one(&pool)
            .await
            .unwrap();
    let started = Instant::now();
    let first: i64 = sqlx::query_scalar(
        "insert into producer (slug, name, producer_type, province_code, commune_code)
         select 'bench-payout-' || g, 'Hộ kinh doanh thử ' || g, 'household', 22, $2
         from generate_series(1, $1::bigint) g
         on conflict do nothing returning producer_id",
    )
    .bind(cli.producers)
    .bind(commune)
    .fetch_all(&pool)
    .await
    .unwrap()
    .into_iter()
    .min()
    .expect("fresh producers (run on a scratch database)");
    sqlx::query(
        "insert into payout_account (producer_id, bank_bin, account_no, holder_name, payouts_from)
         select producer_id, '970436', lpad(producer_id::text, 13, '0'), 'HO KINH DOANH THU', now() - interval '1 day'
         from producer where producer_id >= $1",
    )
    .bind(first)
    .execute(&pool)
    .await
    .unwrap();
    // a year of sold orders, in chunks: the payment (clearing → held) and the release (held →
    // payable less 5% commission, 1% VAT, 0.5% PIT), balanced like the real entries
    let chunk = 100_000i64;
    let mut done = 0i64;
    while done < cli.orders {
        let n = chunk.min(cli.orders - done);
        sqlx::query(
            "with e as (
                 insert into journal_entry (key, event, producer_id, province_code, at)
                 select 'bench-release:' || g, 'release', $3 + g % $4, 22,
                        now() - make_interval(secs => (g * 31536000.0 / $5)::double precision)
                 from generate_series($1::bigint, $1 + $2 - 1) g
                 returning entry_id, producer_id
             ), a as (
                 select entry_id, producer_id, 100000 + (entry_id % 50) * 10000 as g from e
             )
             insert into journal_line (entry_id, account, producer_id, component, amount)
             select a.entry_id, v.account, case when v.account in ('held', 'payable') then a.producer_id end, v.component, v.amount
             from a cross join lateral (values
                 ('clearing_bank', 'payment', a.g + 30000), ('held', 'payment', -(a.g + 30000)),
                 ('held', 'payment', a.g + 30000), ('payable', 'goods', -a.g), ('payable', 'shipping', -30000),
                 ('payable', 'commission', a.g / 20), ('commission', 'commission', -(a.g / 20)),
                 ('payable', 'vat', a.g / 100), ('vat_withheld', 'vat', -(a.g / 100)),
                 ('payable', 'pit', a.g / 200), ('pit_withheld', 'pit', -(a.g / 200))
             ) v(account, component, amount)",
        )
        .bind(done)
        .bind(n)
        .bind(first)
        .bind(cli.producers)
        .bind(cli.orders)
        .execute(&pool)
        .await
        .unwrap();
        done += n;
        eprintln!("ledger: {done} of {} orders", cli.orders);
    }
    // what the release job does every few minutes: fold the balance deltas posting appended
    let t = Instant::now();
    let folded = ocop_market::ledger::fold_balances(&pool).await.unwrap();
    println!(
        "balance deltas folded: {folded} in {:.2} s",
        t.elapsed().as_secs_f64()
    );
    sqlx::raw_sql("analyze journal_entry; analyze journal_line; analyze producer_balance")
        .execute(&pool)
        .await
        .unwrap();
    let lines: i64 = sqlx::query_scalar("select count(*) from journal_line")
        .fetch_one(&pool)
        .await
        .unwrap();
    println!(
        "ledger: {} producers, {} orders, {} journal lines, built in {:.0} s",
        cli.producers,
        cli.orders,
        lines,
        started.elapsed().as_secs_f64()
    );

    // owners for a few producers, signed in through the login form
    let owners = 20.min(cli.producers);
    let hash = ocop_market::auth::identity::hash_password("mật khẩu thử nghiệm");
    let mut cookies = vec![];
    for i in 0..owners {
        let email = format!("bench-owner-{i}@example.vn");
        let uid: i64 = sqlx::query_scalar(
            "insert into app_user (email, display_name, password_hash, role) values ($1, 'Chủ hộ', $2, 'producer') returning user_id",
        )
        .bind(&email)
        .bind(&hash)
        .fetch_one(&pool)
        .await
        .unwrap();
        sqlx::query(
            "insert into producer_member (producer_id, user_id, role) values ($1, $2, 'owner')",
        )
        .bind(first + i)
        .bind(uid)
        .execute(&pool)
        .await
        .unwrap();
        let login = router
            .clone()
            .oneshot(Request::get("/login").body(Body::empty()).unwrap())
            .await
            .unwrap();
        let jar: Vec<String> = login
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_string))
            .collect();
        let page = String::from_utf8_lossy(&login.into_body().collect().await.unwrap().to_bytes())
            .into_owned();
        let at = page.find("name=\"csrf\" value=\"").unwrap() + 19;
        let csrf = &page[at..at + page[at..].find('"').unwrap()];
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("csrf", csrf)
            .append_pair("login", &email)
            .append_pair("password", "mật khẩu thử nghiệm")
            .finish();
        let signed = router
            .clone()
            .oneshot(
                Request::post("/login")
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .header("x-forwarded-for", format!("10.9.0.{i}"))
                    .header(header::COOKIE, jar.join("; "))
                    .body(Body::from(form))
                    .unwrap(),
            )
            .await
            .unwrap();
        // the session is renewed at sign-in: a cookie set again replaces the one of that name
        let mut jar: std::collections::BTreeMap<String, String> = jar
            .into_iter()
            .filter_map(|c| {
                c.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
            })
            .collect();
        assert_eq!(signed.status(), StatusCode::SEE_OTHER, "signed in");
        for c in signed
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok()?.split(';').next())
        {
            if let Some((k, v)) = c.split_once('=') {
                jar.insert(k.to_string(), v.to_string());
            }
        }
        cookies.push(
            jar.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; "),
        );
    }
    let mut times = vec![];
    for i in 0..cli.samples {
        let t = Instant::now();
        let res = router
            .clone()
            .oneshot(
                Request::get("/producer/money")
                    .header(header::COOKIE, &cookies[i % cookies.len()])
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "the money page answers");
        res.into_body().collect().await.unwrap();
        times.push(t.elapsed());
    }
    times.sort();
    println!(
        "GET /producer/money (balances, this month's statement, payouts; {} orders each): p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        cli.orders / cli.producers,
        percentile(&times, 0.5),
        percentile(&times, 0.95),
        percentile(&times, 1.0)
    );

    let t = Instant::now();
    let now = time::OffsetDateTime::now_utc();
    let started = ocop_market::settlement::payouts::start_run(
        &pool,
        22,
        ocop_market::domain::vn_today(),
        None,
        now,
    )
    .await
    .unwrap();
    let secs = t.elapsed().as_secs_f64();
    let total: Option<i64> = sqlx::query_scalar("select sum(amount)::bigint from payout_line")
        .fetch_one(&pool)
        .await
        .unwrap();
    println!(
        "payout run over {} producers: {started:?} in {secs:.2} s, {} đồng frozen",
        cli.producers,
        total.unwrap_or(0)
    );
}
