//! Test harness: a fresh Postgres database per test, cloned from a migrated template (so 3,321
//! communes are not reloaded for every test), and the real application serving it.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use ocop_market::app::Application;
use ocop_market::config::Config;
use ocop_market::state::AppState;
use sqlx::{Connection, PgConnection, PgPool};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use tower::ServiceExt;

pub fn base_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_string())
}

fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_string())
}

/// The migrated template, created once per migration set (its name carries their checksums).
fn template() -> &'static str {
    static TEMPLATE: OnceLock<String> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        std::thread::spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(create_template())
        })
        .join()
        .expect("template creation")
    })
}

async fn create_template() -> String {
    let mut hash: u64 = 1469598103934665603;
    for m in ocop_market::db::MIGRATOR.iter() {
        for b in m.checksum.iter() {
            hash = (hash ^ *b as u64).wrapping_mul(1099511628211);
        }
    }
    let name = format!("ocop_tpl_{:x}", hash);
    let mut admin = PgConnection::connect(&format!("{}/postgres", base_url()))
        .await
        .expect("Postgres for tests");
    // several test processes may start at once
    sqlx::query("select pg_advisory_lock(72017)")
        .execute(&mut admin)
        .await
        .unwrap();
    let exists: bool =
        sqlx::query_scalar("select exists(select 1 from pg_database where datname = $1)")
            .bind(&name)
            .fetch_one(&mut admin)
            .await
            .unwrap();
    if !exists {
        let building = format!("{name}_building");
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "drop database if exists {building}"
        )))
        .execute(&mut admin)
        .await
        .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("create database {building}")))
            .execute(&mut admin)
            .await
            .unwrap();
        {
            let pool = PgPool::connect(&format!("{}/{building}", base_url()))
                .await
                .unwrap();
            ocop_market::db::migrate(&pool)
                .await
                .expect("migrations apply");
            pool.close().await;
        }
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "alter database {building} rename to {name}"
        )))
        .execute(&mut admin)
        .await
        .unwrap();
        // templates of older migration sets are of no further use
        let stale: Vec<String> = sqlx::query_scalar(
            r"select datname from pg_database where datname like 'ocop\_tpl\_%' and datname not like '%\_building' and datname <> $1",
        )
        .bind(&name)
        .fetch_all(&mut admin)
        .await
        .unwrap();
        for old in stale {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "drop database if exists {old}"
            )))
            .execute(&mut admin)
            .await;
        }
    }
    sqlx::query("select pg_advisory_unlock(72017)")
        .execute(&mut admin)
        .await
        .unwrap();
    name
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Meilisearch,
}

pub struct TestApp {
    pub state: AppState,
    pub pool: PgPool,
    pub addr: std::net::SocketAddr,
    pub db_name: String,
    router: axum::Router,
}

/// How `TestApp::custom` builds an app.
pub struct Options {
    pub serve: bool,
    pub backend: Backend,
    pub redis: Option<String>,
    /// an existing database (another instance of the same marketplace)
    pub database: Option<String>,
    /// reach Postgres here instead (a proxy)
    pub database_url: Option<String>,
    pub tweak: Option<Box<dyn FnOnce(&mut Config) + Send>>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            serve: true,
            backend: Backend::Postgres,
            redis: None,
            database: None,
            database_url: None,
            tweak: None,
        }
    }
}

pub struct Answer {
    pub headers: axum::http::HeaderMap,
    pub status: StatusCode,
    pub content_type: String,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

impl TestApp {
    /// A fresh database with the schema and the map of Vietnam, and no catalog; the app serves
    /// it on a real port with its background workers running.
    pub async fn new() -> TestApp {
        Self::build(true, Backend::Postgres).await
    }

    /// A served app that reaches Redis at `url` (a proxy a test can cut).
    pub async fn with_redis(url: String) -> TestApp {
        Self::build_with(true, Backend::Postgres, Some(url)).await
    }

    /// A served app searching with `backend` (Meilisearch needs MEILI_URL; each app gets its
    /// own index, named after its database, dropped with it).
    pub async fn with_backend(backend: Backend) -> TestApp {
        Self::build(true, backend).await
    }

    /// The same, answering through the router only, with no background worker: for tests that
    /// drive a worker themselves.
    pub async fn without_workers() -> TestApp {
        Self::build(false, Backend::Postgres).await
    }

    async fn build(serve: bool, backend: Backend) -> TestApp {
        Self::build_with(serve, backend, None).await
    }

    async fn build_with(serve: bool, backend: Backend, redis: Option<String>) -> TestApp {
        Self::custom(Options {
            serve,
            backend,
            redis,
            ..Options::default()
        })
        .await
    }

    /// A fresh database for a test that starts the app its own way (the real binary, say).
    pub async fn fresh_database() -> String {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let template = template();
        let db_name = format!(
            "ocop_t_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let mut admin = PgConnection::connect(&format!("{}/postgres", base_url()))
            .await
            .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "create database {db_name} template {template}"
        )))
        .execute(&mut admin)
        .await
        .expect("create test database");
        admin.close().await.ok();
        db_name
    }

    /// An app built as `options` say: another instance on an existing database, Postgres or
    /// Redis through a proxy a test can cut, a configuration of its own.
    pub async fn custom(options: Options) -> TestApp {
        let Options {
            serve,
            backend,
            redis,
            database,
            database_url,
            tweak,
        } = options;
        let db_name = match database {
            Some(name) => name,
            None => Self::fresh_database().await,
        };
        let mut config = Config {
            database_url: database_url.unwrap_or_else(|| format!("{}/{db_name}", base_url())),
            redis_url: redis.unwrap_or_else(redis_url),
            bind: "127.0.0.1:0".parse().unwrap(),
            public_url: Some("https://ocop.example.vn".into()),
            db_max_connections: 5,
            meili_url: match backend {
                Backend::Postgres => None,
                Backend::Meilisearch => {
                    Some(std::env::var("MEILI_URL").expect("MEILI_URL for a Meilisearch test"))
                }
            },
            meili_master_key: std::env::var("MEILI_MASTER_KEY").ok(),
            meili_index: format!("test_{db_name}"),
            // tests say who they are with X-Forwarded-For, so their rate limits do not mix
            trust_proxy: true,
            mail_dir: std::env::temp_dir().join(format!("ocop-mail-{db_name}")),
            smtp_url: None,
            secret_key: None,
            shipping_same_province_vnd: 20_000,
            shipping_other_province_vnd: 35_000,
            shipping_free_from_vnd: 500_000,
            // carriers are off unless a test turns them on: one step to place an order
            shipping_sandbox: false,
            ghn_token: None,
            ghn_shop_id: None,
            ghn_url: "http://127.0.0.1:9/ghn".into(),
            ghtk_token: None,
            ghtk_client_source: None,
            ghtk_url: "http://127.0.0.1:9/ghtk".into(),
            vtp_username: None,
            vtp_password: None,
            vtp_url: "http://127.0.0.1:9/vtp".into(),
            vtp_print_url: "http://127.0.0.1:9/print".into(),
            vtp_webhook_token: None,
            quote_timeout_ms: 2000,
            order_payment_minutes: 30,
            payment_sandbox: true,
            stats_from_orders: false,
            metrics_token: None,
            vietqr_bank_bin: None,
            vietqr_account_no: None,
            vietqr_account_name: None,
            sepay_api_key: None,
            sepay_webhook_secret: None,
            casso_checksum_key: None,
            vnpay_tmn_code: None,
            vnpay_hash_secret: None,
            vnpay_url: None,
            vnpay_api_url: None,
            momo_partner_code: None,
            momo_access_key: None,
            momo_secret_key: None,
            momo_endpoint: None,
            stripe_secret_key: None,
            stripe_webhook_secret: None,
            stripe_api_url: None,
            reconcile_after_secs: None,
            mail_from: "Sàn OCOP <no-reply@ocop.local>".into(),
            media_dir: std::env::temp_dir().join(format!("ocop-media-{db_name}")),
            log_format: "text".into(),
            refused_event_days: 30,
            cart_writes_per_minute: 120,
            cors_origins: String::new(),
            page_cache_mb: 64,
            search_memo_mb: 64,
            counts_memo_mb: 16,
            support_phone: Some("0203 3800 800".into()),
            support_email: Some("hotro@ocop.example.vn".into()),
            invoice_key: Some("5e".repeat(32)),
            invoice_sandbox: true,
            market_legal_name: "Sàn TMĐT sản phẩm OCOP (thử nghiệm)".into(),
            market_tax_code: Some("0123456787".into()),
            market_address: "Số 2 Ngọc Hà, Phường Ba Đình, Thành phố Hà Nội".into(),
            market_einvoice_provider: Some("sandbox".into()),
            market_einvoice_url: String::new(),
            market_einvoice_pattern: "1/001".into(),
            market_einvoice_series: "C26TMK".into(),
            market_einvoice_username: "san-ocop".into(),
            market_einvoice_password: "sandbox".into(),
            market_einvoice_app_id: String::new(),
            market_einvoice_account: String::new(),
            market_einvoice_account_password: String::new(),
            market_einvoice_vat_rate: 10,
        };
        if let Some(tweak) = tweak {
            tweak(&mut config);
        }
        let app = Application::build(config).await.expect("app builds");
        let state = app.state().clone();
        let addr = app.local_addr();
        if serve {
            tokio::spawn(app.run(std::future::pending()));
        }
        let router = ocop_market::app::router(state.clone());
        TestApp {
            pool: state.pool.clone(),
            state,
            addr,
            db_name,
            router,
        }
    }

    /// Waits until the search outbox is drained: every change so far is in the search index.
    pub async fn settle_search(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let pending: i64 =
                sqlx::query_scalar("select count(*) from search_outbox where done_at is null")
                    .fetch_one(&self.pool)
                    .await
                    .unwrap();
            if pending == 0 {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the search index did not catch up: {pending} changes pending"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Rebuilds the in-memory catalog now, rather than waiting for the notification.
    pub async fn refresh(&self) {
        self.state
            .catalog
            .refresh_all()
            .await
            .expect("catalog reload");
    }

    pub async fn get(&self, uri: &str) -> Answer {
        self.send(Request::get(uri).body(Body::empty()).unwrap())
            .await
    }

    /// A GET with request headers (Accept-Language, a cookie).
    pub async fn get_with_headers(&self, uri: &str, headers: &[(&str, &str)]) -> Answer {
        let mut request = Request::get(uri);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }

    /// Any request, through the real router.
    pub async fn send(&self, request: Request<Body>) -> Answer {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Answer {
            headers,
            status,
            content_type,
            // pictures and scans are not text; pages are
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    pub async fn api(&self, uri: &str) -> (StatusCode, serde_json::Value) {
        let a = self.get(uri).await;
        assert!(
            a.content_type.starts_with("application/json"),
            "{uri} answered {}: {}",
            a.content_type,
            a.body
        );
        (a.status, a.json())
    }
}

/// Keeps a failed test's database for a look; drops a passed one.
impl Drop for TestApp {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("test database kept for inspection: {}", self.db_name);
            return;
        }
        let name = self.db_name.clone();
        // A client of its own: the app's client has connections driven by the test's runtime,
        // which is blocked right here until this thread ends.
        let meili = self.state.search.meili().map(|m| {
            let config = &self.state.config;
            ocop_market::search::MeiliSearch::new(
                config.meili_url.as_deref().unwrap_or_default(),
                config.meili_master_key.as_deref(),
                m.index_name(),
            )
            .expect("the same Meilisearch settings as the app's")
        });
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async move {
                    if let Some(meili) = meili {
                        meili.drop_index().await;
                    }
                    if let Ok(mut admin) =
                        PgConnection::connect(&format!("{}/postgres", base_url())).await
                    {
                        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                            "drop database if exists {name} with (force)"
                        )))
                        .execute(&mut admin)
                        .await;
                    }
                })
        })
        .join()
        .ok();
    }
}

/// A small catalog whose every count is known by hand. Dates are relative to today, so what is
/// valid stays valid whatever day the tests run.
pub struct Fixture {
    pub qn_commune_a: i32,
    pub qn_commune_b: i32,
    pub hn_commune: i32,
}

pub async fn load_fixture(app: &TestApp) -> Fixture {
    let pool = &app.pool;
    let communes: Vec<(i32,)> = sqlx::query_as(
        "select commune_code from commune where province_code = 22 order by commune_code limit 2",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let hn: (i32,) = sqlx::query_as(
        "select commune_code from commune where province_code = 1 order by commune_code limit 1",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let f = Fixture {
        qn_commune_a: communes[0].0,
        qn_commune_b: communes[1].0,
        hn_commune: hn.0,
    };
    let producer = |slug: &str, name: &str, kind: &str, province: i16, commune: i32| {
        sqlx::query("insert into producer (slug, name, producer_type, province_code, commune_code, story) values ($1, $2, $3, $4, $5, 'Câu chuyện')")
            .bind(slug.to_string())
            .bind(name.to_string())
            .bind(kind.to_string())
            .bind(province)
            .bind(commune)
    };
    producer(
        "htx-binh-lieu",
        "HTX Bình Liêu",
        "cooperative",
        22,
        f.qn_commune_a,
    )
    .execute(pool)
    .await
    .unwrap();
    producer(
        "ho-ba-che",
        "Hộ kinh doanh Ba Chẽ",
        "household",
        22,
        f.qn_commune_b,
    )
    .execute(pool)
    .await
    .unwrap();
    producer(
        "cong-ty-ha-noi",
        "Công ty TNHH Hà Nội",
        "firm",
        1,
        f.hn_commune,
    )
    .execute(pool)
    .await
    .unwrap();
    // slug, producer, sector, price, stock, stars, certificate state, hidden
    let products: &[(&str, &str, &str, i64, i32, i16, &str, bool)] = &[
        (
            "mien-dong",
            "htx-binh-lieu",
            "food",
            50_000,
            10,
            3,
            "valid",
            false,
        ),
        (
            "tra-hoa-vang",
            "htx-binh-lieu",
            "beverage",
            120_000,
            0,
            4,
            "valid",
            false,
        ),
        (
            "chả-muc",
            "ho-ba-che",
            "food",
            300_000,
            5,
            5,
            "valid",
            false,
        ),
        (
            "gom-bat-trang",
            "cong-ty-ha-noi",
            "souvenir",
            80_000,
            3,
            3,
            "valid",
            false,
        ),
        (
            "banh-da-ke",
            "cong-ty-ha-noi",
            "food",
            45_000,
            7,
            4,
            "valid",
            false,
        ),
        (
            "banh-cu",
            "cong-ty-ha-noi",
            "food",
            10_000,
            9,
            3,
            "expired",
            false,
        ),
        (
            "mat-ong-cu",
            "htx-binh-lieu",
            "food",
            20_000,
            9,
            4,
            "revoked",
            false,
        ),
        ("an-giau", "ho-ba-che", "food", 30_000, 9, 3, "valid", true),
        (
            "chua-chung-nhan",
            "ho-ba-che",
            "food",
            30_000,
            9,
            0,
            "none",
            false,
        ),
    ];
    for (i, &(slug, producer, sector, price, stock, stars, cert, hidden)) in
        products.iter().enumerate()
    {
        let slug = if slug == "chả-muc" { "cha-muc" } else { slug };
        let names = [
            "Miến dong Bình Liêu",
            "Trà hoa vàng",
            "Chả mực Hạ Long",
            "Gốm Bát Tràng",
            "Bánh đa Kế",
            "Bánh cũ",
            "Mật ong cũ",
            "Hàng ẩn",
            "Chưa chứng nhận",
        ];
        let id: (i64,) = sqlx::query_as(
            "insert into product (producer_id, slug, name, sector, price_vnd, stock, unit, hidden, story, images, created_at)
             select producer_id, $2, $3, $4, $5, $6, 'gói', $7, 'Câu chuyện ' || $3, array['/img/demo/' || $2 || '.svg'], now() - make_interval(days => $8)
             from producer where slug = $1 returning product_id",
        )
        .bind(producer)
        .bind(slug)
        .bind(names[i])
        .bind(sector)
        .bind(price)
        .bind(stock)
        .bind(hidden)
        .bind(i as i32)
        .fetch_one(pool)
        .await
        .unwrap();
        let level = if stars == 5 { "central" } else { "provincial" };
        let sql = match cert {
            "valid" => "insert into certificate (product_id, stars, awarding_level, decision_number, issued_on, expires_on)
                        values ($1, $2, $3, '12/QĐ-UBND', current_date - 100, (current_date - 100) + interval '36 months')",
            "expired" => "insert into certificate (product_id, stars, awarding_level, decision_number, issued_on, expires_on)
                          values ($1, $2, $3, '13/QĐ-UBND', current_date - interval '37 months', current_date - interval '1 month')",
            "revoked" => "insert into certificate (product_id, stars, awarding_level, decision_number, issued_on, expires_on, status, revoked_on, revoked_reason)
                          values ($1, $2, $3, '14/QĐ-UBND', current_date - 300, current_date + 700, 'revoked', current_date - 10, 'Không đạt khi đánh giá lại')",
            _ => continue,
        };
        sqlx::query(sql)
            .bind(id.0)
            .bind(stars)
            .bind(level)
            .execute(pool)
            .await
            .unwrap();
    }
    app.refresh().await;
    f
}

/// A browser: keeps the session cookie, comes from one address, posts forms.
pub struct Visitor<'a> {
    pub app: &'a TestApp,
    pub cookie: Option<String>,
    pub ip: String,
}

impl<'a> Visitor<'a> {
    /// Signs in through the form, as a person would; answers what the form's POST got.
    pub async fn sign_in(&mut self, login: &str, password: &str) -> Answer {
        let form = self.get("/login").await;
        self.post(
            "/login",
            &[
                ("csrf", &csrf(&form)),
                ("login", login),
                ("password", password),
            ],
        )
        .await
    }

    pub fn new(app: &'a TestApp) -> Self {
        let n: u32 = std::process::id()
            ^ (std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos());
        Visitor {
            app,
            cookie: None,
            ip: format!("10.{}.{}.{}", n % 250, (n / 250) % 250, (n / 62_500) % 250),
        }
    }

    /// Keeps every cookie the site sets, as a browser's jar would; an empty value forgets one.
    pub fn remember(&mut self, answer: &Answer) {
        let mut jar: Vec<(String, String)> = self
            .cookie
            .as_deref()
            .unwrap_or("")
            .split("; ")
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        for set in answer
            .headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
        {
            if let Some((name, value)) = set.split(';').next().and_then(|p| p.split_once('=')) {
                jar.retain(|(k, _)| k != name);
                if !value.is_empty() {
                    jar.push((name.to_string(), value.to_string()));
                }
            }
        }
        self.cookie = (!jar.is_empty()).then(|| {
            jar.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        });
    }

    pub async fn get(&mut self, uri: &str) -> Answer {
        let mut r = Request::get(uri).header("x-forwarded-for", &self.ip);
        if let Some(c) = &self.cookie {
            r = r.header(header::COOKIE, c);
        }
        let answer = self.app.send(r.body(Body::empty()).unwrap()).await;
        self.remember(&answer);
        answer
    }

    pub async fn post(&mut self, uri: &str, fields: &[(&str, &str)]) -> Answer {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let mut r = Request::post(uri)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header("x-forwarded-for", &self.ip);
        if let Some(c) = &self.cookie {
            r = r.header(header::COOKIE, c);
        }
        let answer = self.app.send(r.body(Body::from(body)).unwrap()).await;
        self.remember(&answer);
        answer
    }

    /// A multipart form as a browser sends it: text fields, then files (field, file name, bytes).
    pub async fn post_multipart(
        &mut self,
        uri: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &str, Vec<u8>)],
    ) -> Answer {
        let boundary = "----ocoptestboundary7MA4YWxkTrZu0gW";
        let mut body: Vec<u8> = Vec::new();
        for (name, value) in fields {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                    .as_bytes(),
            );
        }
        for (name, file_name, bytes) in files {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n")
                    .as_bytes(),
            );
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let mut r = Request::post(uri)
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .header("x-forwarded-for", &self.ip);
        if let Some(c) = &self.cookie {
            r = r.header(header::COOKIE, c);
        }
        let answer = self.app.send(r.body(Body::from(body)).unwrap()).await;
        self.remember(&answer);
        answer
    }
}

/// The CSRF token in a page's form.
pub fn csrf(page: &Answer) -> String {
    csrf_in(&page.body)
}

/// The CSRF token of the first form in an HTML text.
pub fn csrf_in(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .unwrap_or_else(|| panic!("no csrf field: {html}"))
        + 19;
    html[at..at + 64].to_string()
}

/// A port nothing listens on (for a while): for a server to start on, or a service that is down.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub const PASSWORD: &str = "mật khẩu dài";

fn password_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| ocop_market::auth::identity::hash_password(PASSWORD))
}

/// A person with `role` (and province for province staff), logged in through the real form.
pub async fn person<'a>(
    app: &'a TestApp,
    tag: &str,
    role: &str,
    province: Option<i16>,
) -> (Visitor<'a>, i64) {
    let email = format!("{tag}-{}@example.vn", app.db_name);
    let id: i64 = sqlx::query_scalar(
        "insert into app_user (email, display_name, password_hash, role, province_code) values ($1, $2, $3, $4, $5) returning user_id",
    )
    .bind(&email)
    .bind(format!("Người {tag}"))
    .bind(password_hash())
    .bind(role)
    .bind(province)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let mut v = Visitor::new(app);
    let done = v.sign_in(&email, PASSWORD).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    (v, id)
}

/// The messages the app sent (mail, and SMS in development), oldest first.
pub fn messages(app: &TestApp) -> Vec<String> {
    let dir = std::env::temp_dir().join(format!("ocop-mail-{}", app.db_name));
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .collect()
}

/// The path of the newest sign-up confirmation link the app sent.
pub fn confirm_link(app: &TestApp) -> Option<String> {
    messages(app).iter().rev().find_map(|m| {
        let at = m.find("/signup/confirm?token=")?;
        Some(m[at..at + 22 + 64].to_string())
    })
}

/// Signs up through the form and then the link the confirmation message carries, as a person
/// would; answers what following the link got.
pub async fn sign_up(
    v: &mut Visitor<'_>,
    token: &str,
    name: &str,
    login: &str,
    password: &str,
) -> Answer {
    let sent = v
        .post(
            "/signup",
            &[
                ("csrf", token),
                ("display_name", name),
                ("login", login),
                ("password", password),
                ("password_confirm", password),
            ],
        )
        .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
    assert!(sent.body.contains("đường dẫn xác nhận"), "{}", sent.body);
    let link = confirm_link(v.app).expect("a confirmation message");
    v.get(&link).await
}
