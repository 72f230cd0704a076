//! What operators rely on: request ids and metrics, JSON logs without secrets, a graceful stop,
//! several instances on one Postgres and Redis, and Postgres going away and coming back.

use crate::helpers::{Options, TestApp, Visitor, base_url, load_fixture};
use axum::http::StatusCode;
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[tokio::test]
async fn every_answer_names_its_request_and_metrics_count_routes_orders_and_services() {
    let app = TestApp::new().await;
    ocop_market::seed::scale(&app.pool, 40).await.unwrap();
    ocop_market::seed::orders::orders(&app.pool, 120, |_, _| {})
        .await
        .unwrap();
    app.refresh().await;

    let home = app.get("/").await;
    let id = home.headers["x-request-id"].to_str().unwrap().to_string();
    assert!(
        id.len() == 24 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{id}"
    );
    let other = app.get("/").await;
    assert_ne!(other.headers["x-request-id"], home.headers["x-request-id"]);
    // a load balancer's id is kept; anything odd is replaced
    let ask = |id: &'static str| {
        axum::http::Request::get("/healthz")
            .header("x-request-id", id)
            .body(axum::body::Body::empty())
            .unwrap()
    };
    assert_eq!(
        app.send(ask("lb-7f3a9c2e-0001")).await.headers["x-request-id"],
        "lb-7f3a9c2e-0001"
    );
    assert_ne!(
        app.send(ask("<script>alert(1)</script>")).await.headers["x-request-id"],
        "<script>alert(1)</script>"
    );
    for _ in 0..3 {
        assert_eq!(
            app.get("/products/no-such-product").await.status,
            StatusCode::NOT_FOUND
        );
    }

    let m = app.get("/metrics").await;
    assert_eq!(m.status, StatusCode::OK);
    assert!(m.content_type.starts_with("text/plain; version=0.0.4"));
    let value = |series: &str| -> f64 {
        m.body
            .lines()
            .find_map(|l| l.strip_prefix(series).and_then(|v| v.strip_prefix(' ')))
            .unwrap_or_else(|| panic!("no {series} in\n{}", m.body))
            .parse()
            .unwrap()
    };
    assert_eq!(
        value(r#"ocop_http_requests_total{method="GET",route="/",status="200"}"#),
        2.0
    );
    // routes are templates, whatever the address asked for
    assert_eq!(
        value(r#"ocop_http_requests_total{method="GET",route="/products/{slug}",status="404"}"#),
        3.0
    );
    assert_eq!(
        value(r#"ocop_http_request_duration_seconds_count{method="GET",route="/"}"#),
        2.0
    );
    assert!(
        value(r#"ocop_http_request_duration_seconds_bucket{method="GET",route="/",le="+Inf"}"#)
            == 2.0
    );
    assert_eq!(value(r#"ocop_up{service="postgres"}"#), 1.0);
    assert_eq!(value(r#"ocop_up{service="redis"}"#), 1.0);
    assert!(value(r#"ocop_db_pool_connections{state="max"}"#) >= 1.0);
    assert_eq!(value("ocop_search_fallbacks_total"), 0.0);
    // every seeded order counted once, by method
    let placed: f64 = ["cod", "vietqr", "vnpay", "momo", "card"]
        .iter()
        .map(|method| {
            m.body
                .lines()
                .find_map(|l| {
                    l.strip_prefix(&format!(
                        "ocop_orders_total{{method=\"{method}\",state=\"placed\"}} "
                    ))
                })
                .map(|v| v.parse::<f64>().unwrap())
                .unwrap_or(0.0)
        })
        .sum();
    assert_eq!(placed, 120.0);
    for family in [
        "ocop_payments_24h",
        "ocop_orders_awaiting_payment",
        "ocop_payment_reviews_open",
        "ocop_search_outbox_lag_seconds",
        "ocop_stats_deltas_pending",
    ] {
        assert!(
            m.body.contains(&format!("# TYPE {family} ")),
            "{family} missing"
        );
    }
}

#[tokio::test]
async fn metrics_can_be_kept_for_the_scraper_alone() {
    let app = TestApp::custom(Options {
        tweak: Some(Box::new(|c| c.metrics_token = Some("scrape-7b1e5d".into()))),
        ..Options::default()
    })
    .await;
    assert_eq!(app.get("/metrics").await.status, StatusCode::UNAUTHORIZED);
    let with = |token: &'static str| {
        axum::http::Request::get("/metrics")
            .header("authorization", format!("Bearer {token}"))
            .body(axum::body::Body::empty())
            .unwrap()
    };
    assert_eq!(
        app.send(with("wrong")).await.status,
        StatusCode::UNAUTHORIZED
    );
    let ok = app.send(with("scrape-7b1e5d")).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert!(ok.body.contains("ocop_http_requests_total"));
}

/// One HTTP/1.1 exchange over a plain socket: the answer's status line, headers and body.
fn http(addr: &str, request: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

fn cookie_of(answer: &str) -> String {
    answer
        .lines()
        .filter_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or_else(|| l.strip_prefix("Set-Cookie: "))
        })
        .map(|c| c.split(';').next().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The real binary, as an operator runs it: JSON logs that name each request and never hold a
/// password, and SIGTERM letting a request that is still running finish before the exit.
#[tokio::test]
async fn the_server_logs_json_without_secrets_and_stops_gracefully_on_sigterm() {
    let db = TestApp::without_workers().await;
    let mail = std::env::temp_dir().join(format!("ocop-mail-bin-{}", db.db_name));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ocop-market"))
        .arg("serve")
        .env("DATABASE_URL", format!("{}/{}", base_url(), db.db_name))
        .env("BIND", "127.0.0.1:0")
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .env("MAIL_DIR", &mail)
        .env("MEDIA_DIR", &mail)
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let lines = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let reader = {
        let lines = lines.clone();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let line = line.unwrap();
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                    if let Some(a) = v["fields"]["http.addr"].as_str() {
                        let _ = addr_tx.send(a.to_string());
                    }
                }
                lines.lock().unwrap().push(line);
            }
        })
    };
    let addr = addr_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the server says where it listens");

    // a sign-in attempt, with its password, held up by a lock on the accounts table
    let login_page = {
        let addr = addr.clone();
        tokio::task::spawn_blocking(move || {
            http(
                &addr,
                "GET /login HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
            )
        })
        .await
        .unwrap()
    };
    let cookie = cookie_of(&login_page);
    let token = crate::helpers::csrf_in(&login_page);
    let mut lock = db.pool.begin().await.unwrap();
    sqlx::query("lock table app_user in access exclusive mode")
        .execute(&mut *lock)
        .await
        .unwrap();
    // an account of its own: sign-in limits count per account, across runs too
    let body = format!(
        "csrf={token}&login=ai-do-{}%40example.vn&password=Mat-Khau-Bi-Mat-42",
        db.db_name
    );
    let request = format!(
        "POST /login HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Request-Id: req-graceful-0001\r\n\
         Cookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let in_flight = {
        let addr = addr.clone();
        tokio::task::spawn_blocking(move || http(&addr, &request))
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!in_flight.is_finished(), "the request waits on the lock");
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "the server waits for the request in flight"
    );
    lock.rollback().await.unwrap();
    let answer = in_flight.await.unwrap();
    // the sign-in finished (the account does not exist: refused, as it should be)
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(answer.contains("Đăng nhập"), "{answer}");
    assert!(
        answer.contains("x-request-id: req-graceful-0001"),
        "{answer}"
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the server did not stop");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status:?}");
    reader.join().unwrap();

    let lines = lines.lock().unwrap();
    assert!(!lines.is_empty());
    for l in lines.iter() {
        serde_json::from_str::<serde_json::Value>(l)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
        assert!(
            !l.contains("Mat-Khau-Bi-Mat-42"),
            "a password in the logs: {l}"
        );
    }
    let served = lines
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["span"]["id"] == "req-graceful-0001" && v["fields"]["message"] == "served")
        .unwrap_or_else(|| panic!("no log line for the request: {lines:#?}"));
    assert_eq!(served["span"]["route"], "/login");
    assert!(
        lines.iter().any(|l| l.contains("shutting down")),
        "{lines:#?}"
    );
    let _ = std::fs::remove_dir_all(&mail);
}

/// Two instances on one Postgres and one Redis, as behind a load balancer: a cart started on
/// one goes on on the other, and work due when both start (an unpaid order past its time, sales
/// changes to fold) is done once.
#[tokio::test]
async fn two_instances_share_carts_and_do_each_job_once() {
    let seed = TestApp::without_workers().await;
    load_fixture(&seed).await;
    // an online order whose payment time is over, and the sales changes it wrote
    let mut v = Visitor::new(&seed);
    let added = crate::orders::add(&mut v, "mien-dong", 2).await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    let stock_before: i32 =
        sqlx::query_scalar("select stock from product where slug = 'mien-dong'")
            .fetch_one(&seed.pool)
            .await
            .unwrap();
    let checkout_page = v.get("/checkout").await;
    let placed = crate::orders::checkout_with(&mut v, &checkout_page, "vnpay").await;
    assert_eq!(placed.status, StatusCode::SEE_OTHER, "{}", placed.body);
    sqlx::query("update order_group set pay_before = now() - interval '1 minute'")
        .execute(&seed.pool)
        .await
        .unwrap();
    let deltas: i64 = sqlx::query_scalar("select count(*) from stats_order_delta")
        .fetch_one(&seed.pool)
        .await
        .unwrap();
    assert!(deltas > 0);

    // both instances start at once; each runs every background job
    let second = || Options {
        database: Some(seed.db_name.clone()),
        ..Options::default()
    };
    let (a, b) = tokio::join!(TestApp::custom(second()), TestApp::custom(second()));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, left): (String, i64) = sqlx::query_as(
            "select (select status from shop_order limit 1),
                    (select count(*) from stats_order_delta) + (select count(*) from stats_line_delta)",
        )
        .fetch_one(&seed.pool)
        .await
        .unwrap();
        if status == "cancelled" && left == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "jobs did not run: {status}, {left} deltas"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (cancellations, stock_after): (i64, i32) = sqlx::query_as(
        "select (select count(*) from order_event where to_status = 'cancelled'),
                (select stock from product where slug = 'mien-dong')",
    )
    .fetch_one(&seed.pool)
    .await
    .unwrap();
    assert_eq!(cancellations, 1, "expired once");
    assert_eq!(stock_after, stock_before, "stock returned once");
    let today = ocop_market::domain::vn_today();
    let s = ocop_market::stats::Summary::load(&seed.pool, None, today, today)
        .await
        .unwrap();
    assert_eq!(
        (s.orders, s.cancelled_orders, s.paid_orders),
        (1, 1, 0),
        "folded once"
    );

    // the cart: started on A, continued on B
    let mut on_a = Visitor::new(&a);
    let r = crate::orders::add(&mut on_a, "banh-da-ke", 3).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let mut on_b = Visitor {
        app: &b,
        cookie: on_a.cookie.clone(),
        ip: on_a.ip.clone(),
    };
    let cart = on_b.get("/cart").await;
    assert_eq!(cart.status, StatusCode::OK);
    assert!(cart.body.contains("Bánh đa Kế"), "{}", cart.body);
    assert!(cart.body.contains("value=\"3\""), "{}", cart.body);
    drop((a, b));
}

/// A TCP proxy a test can cut and restore: the app's way to Postgres going away and coming back.
pub struct Proxy {
    pub addr: std::net::SocketAddr,
    up: Arc<AtomicBool>,
    cut: tokio::sync::watch::Sender<u64>,
}

impl Proxy {
    pub async fn start(target: &'static str) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let (cut, watch) = tokio::sync::watch::channel(0u64);
        let is_up = up.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if !is_up.load(Ordering::SeqCst) {
                    continue; // dropped: the connection is refused
                }
                let mut cuts = watch.clone();
                cuts.mark_unchanged();
                tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                            _ = cuts.changed() => {}
                        }
                    }
                });
            }
        });
        Proxy { addr, up, cut }
    }

    /// Every open connection closes; new ones are refused until `restore`.
    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cut.send_modify(|n| *n += 1);
    }

    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn when_postgres_goes_away_shoppers_get_a_clear_page_and_the_shop_recovers_by_itself() {
    let proxy = Proxy::start("127.0.0.1:5432").await;
    let name = TestApp::fresh_database().await;
    let app = TestApp::custom(Options {
        database: Some(name.clone()),
        database_url: Some(format!("postgres://postgres@{}/{name}", proxy.addr)),
        ..Options::default()
    })
    .await;
    load_fixture(&app).await;
    // the truth, seen past the proxy
    let direct = sqlx::PgPool::connect(&format!("{}/{name}", base_url()))
        .await
        .unwrap();
    let orders = || async {
        sqlx::query_scalar::<_, i64>("select count(*) from order_group")
            .fetch_one(&direct)
            .await
            .unwrap()
    };
    let mut v = Visitor::new(&app);
    crate::orders::add(&mut v, "mien-dong", 1).await;
    let checkout_page = v.get("/checkout").await;
    assert_eq!(checkout_page.status, StatusCode::OK);

    proxy.cut();
    // the catalog is served from memory; placing the order says what happened, in Vietnamese
    assert_eq!(v.get("/products").await.status, StatusCode::OK);
    assert_eq!(v.get("/products/mien-dong").await.status, StatusCode::OK);
    let failed = crate::orders::checkout_with(&mut v, &checkout_page, "cod").await;
    assert_eq!(
        failed.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        failed.body
    );
    assert!(
        failed.body.contains("tạm thời gián đoạn"),
        "{}",
        failed.body
    );
    assert!(
        failed.body.contains("chưa được ghi nhận"),
        "{}",
        failed.body
    );
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(orders().await, 0);

    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(20);
    while app.get("/readyz").await.status != StatusCode::OK {
        assert!(Instant::now() < deadline, "the app did not reconnect");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // the same form sent again makes the order, once
    let placed = crate::orders::checkout_with(&mut v, &checkout_page, "cod").await;
    assert_eq!(placed.status, StatusCode::SEE_OTHER, "{}", placed.body);
    let again = crate::orders::checkout_with(&mut v, &checkout_page, "cod").await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.body);
    assert_eq!(orders().await, 1);

    // a bank's webhook arriving while Postgres is away is refused with a 5xx, so the bank sends
    // it again; once Postgres is back, the retry pays the order, once
    crate::orders::add(&mut v, "mien-dong", 1).await;
    let page = v.get("/checkout").await;
    let placed = crate::orders::checkout_with(&mut v, &page, "vietqr").await;
    assert_eq!(placed.status, StatusCode::SEE_OTHER, "{}", placed.body);
    let location = placed.headers["location"].to_str().unwrap();
    let code = location["/orders/".len()..]
        .split(['?', '#'])
        .next()
        .unwrap()
        .to_string();
    let amount: i64 = sqlx::query_scalar("select grand_total from order_group where code = $1")
        .bind(&code)
        .fetch_one(&direct)
        .await
        .unwrap();
    let body = crate::payments::sepay_body(7_700_001, &code, amount);
    let webhook = || {
        crate::payments::sepay_request(
            &body,
            &crate::payments::sepay_signed(&body, crate::payments::now()),
        )
    };
    proxy.cut();
    let refused = app.send(webhook()).await;
    assert!(refused.status.is_server_error(), "{}", refused.body);
    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(20);
    while app.get("/readyz").await.status != StatusCode::OK {
        assert!(Instant::now() < deadline, "the app did not reconnect");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for _ in 0..2 {
        assert_eq!(app.send(webhook()).await.status, StatusCode::OK);
    }
    let (status, applied): (String, i64) = sqlx::query_as(
        "select (select o.status from shop_order o join order_group g using (order_group_id) where g.code = $1),
                (select count(*) from payment_event where outcome = 'applied')",
    )
    .bind(&code)
    .fetch_one(&direct)
    .await
    .unwrap();
    assert_eq!((status.as_str(), applied), ("paid", 1));
    direct.close().await;
}

/// Meilisearch configured but not answering (stopped, or not reachable): shoppers still find
/// products (Postgres answers), operators see it in /metrics, and the index changes wait in the
/// outbox for its return.
#[tokio::test]
async fn when_meilisearch_is_down_search_answers_from_postgres_and_changes_wait_for_it() {
    let port = crate::helpers::free_port();
    let app = TestApp::custom(Options {
        tweak: Some(Box::new(move |c| {
            c.meili_url = Some(format!("http://127.0.0.1:{port}"));
        })),
        ..Options::default()
    })
    .await;
    load_fixture(&app).await;
    let page = app.get("/search?q=banh+da").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Bánh đa Kế"), "{}", page.body);
    let metrics = app.get("/metrics").await.body;
    let fallbacks: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("ocop_search_fallbacks_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(fallbacks >= 1.0, "{metrics}");
    let pending: i64 =
        sqlx::query_scalar("select count(*) from search_outbox where done_at is null")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(pending > 0, "changes wait for the index");
    assert!(metrics.contains("ocop_search_outbox_pending "), "{metrics}");
}
