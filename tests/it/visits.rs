//! Visits for the dashboards: counted from real page answers, unique visitors without keeping
//! anything that identifies them, finished days copied to Postgres.

use crate::helpers::{TestApp, load_fixture};
use axum::body::Body;
use axum::http::{Request, header};

async fn visit(app: &TestApp, uri: &str, ip: &str, agent: &str) {
    let r = Request::get(uri)
        .header("x-forwarded-for", ip)
        .header(header::USER_AGENT, agent)
        .body(Body::empty())
        .unwrap();
    app.send(r).await;
}

#[tokio::test]
async fn page_views_product_views_and_unique_visitors_are_counted_per_province() {
    let app = TestApp::without_workers().await;
    load_fixture(&app).await;
    // the day's salt is fetched on the first flush
    app.state.visits.flush(&app.state.redis).await.unwrap();
    let day = ocop_market::domain::vn_today();
    let before = ocop_market::visits::read_day(&app.state.redis, &app.state.visits, day)
        .await
        .unwrap();
    let all_before = before
        .iter()
        .find(|r| r.0.is_none())
        .map(|r| (r.1, r.2, r.3))
        .unwrap_or((0, 0, 0));
    let qn_before = before
        .iter()
        .find(|r| r.0 == Some(22))
        .map(|r| (r.1, r.2, r.3))
        .unwrap_or((0, 0, 0));
    let agent = format!("test-agent-{}", app.db_name);
    // visitor A: home, a Quảng Ninh product twice; visitor B: the Quảng Ninh listing; not counted:
    // JSON, a missing page, a QR image
    visit(&app, "/", "10.9.0.1", &agent).await;
    visit(&app, "/products/mien-dong", "10.9.0.1", &agent).await;
    visit(&app, "/products/mien-dong", "10.9.0.1", &agent).await;
    visit(&app, "/products?province=22", "10.9.0.2", &agent).await;
    visit(&app, "/api/v1/products", "10.9.0.3", &agent).await;
    visit(&app, "/products/khong-co", "10.9.0.3", &agent).await;
    visit(&app, "/products/mien-dong/qr.svg", "10.9.0.3", &agent).await;
    visit(&app, "/search/suggest?q=mien", "10.9.0.3", &agent).await;
    app.state.visits.flush(&app.state.redis).await.unwrap();
    let after = ocop_market::visits::read_day(&app.state.redis, &app.state.visits, day)
        .await
        .unwrap();
    let all = after
        .iter()
        .find(|r| r.0.is_none())
        .map(|r| (r.1, r.2, r.3))
        .unwrap();
    let qn = after
        .iter()
        .find(|r| r.0 == Some(22))
        .map(|r| (r.1, r.2, r.3))
        .unwrap();
    assert_eq!(
        (
            all.0 - all_before.0,
            all.1 - all_before.1,
            all.2 - all_before.2
        ),
        (4, 2, 2),
        "marketplace: 4 pages, 2 product pages, 2 visitors"
    );
    assert_eq!(
        (qn.0 - qn_before.0, qn.1 - qn_before.1, qn.2 - qn_before.2),
        (3, 2, 2),
        "Quảng Ninh: its product twice and its listing"
    );
    // nothing that identifies a visitor is kept: no address or browser in Redis
    let mut redis = app.state.redis.clone();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("ocop:visits:{}:*", app.db_name))
        .query_async(&mut redis)
        .await
        .unwrap();
    for key in keys.iter().filter(|k| {
        k.starts_with("ocop:visits:uv:") || k.starts_with(&format!("ocop:visits:{day}"))
    }) {
        let dump: Option<Vec<u8>> = redis::cmd("DUMP")
            .arg(key)
            .query_async(&mut redis)
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&dump.unwrap_or_default()).to_string();
        assert!(
            !text.contains("10.9.0.1") && !text.contains(&agent),
            "{key} holds personal data"
        );
    }
}

#[tokio::test]
async fn finished_days_are_copied_to_postgres_once_whatever_runs_it() {
    let app = TestApp::without_workers().await;
    let yesterday = ocop_market::domain::vn_today() - time::Duration::days(1);
    let mut redis = app.state.redis.clone();
    let key = format!("ocop:visits:{}:{yesterday}", app.db_name);
    let _: () = redis::pipe()
        .hset(&key, "page:all", 120)
        .hset(&key, "product:all", 45)
        .hset(&key, "page:22", 30)
        .pfadd(
            format!("ocop:visits:{}:uv:{yesterday}:all", app.db_name),
            &["a1", "b2", "c3"],
        )
        .pfadd(
            format!("ocop:visits:{}:uv:{yesterday}:22", app.db_name),
            &["a1"],
        )
        .query_async(&mut redis)
        .await
        .unwrap();
    // two instances' jobs, and a rerun
    for _ in 0..3 {
        ocop_market::visits::persist_finished_days(
            &app.state.pool,
            &app.state.redis,
            &app.state.visits,
        )
        .await
        .unwrap();
    }
    let rows: Vec<(Option<i16>, i64, i64, i64)> = sqlx::query_as(
        "select province_code, page_views, product_views, unique_visitors from visit_daily where day = $1 order by province_code nulls first",
    )
    .bind(yesterday)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(rows, vec![(None, 120, 45, 3), (Some(22), 30, 0, 1)]);
}
