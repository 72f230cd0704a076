//! The application at the top of the module graph: the router that merges each capability's
//! router, the layers every answer passes, and serving. The shared state lives below everything
//! in `state.rs`.

use crate::state::AppState;

use crate::catalog::Catalog;
use crate::config::Config;
use axum::Router;
use axum::http::{HeaderValue, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use redis::aio::ConnectionManager;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;

/// The Content-Security-Policy of every answer.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

pub fn router(state: AppState) -> Router {
    // browsers remember to use https only when the shop is served over https
    let hsts = state
        .config
        .public_url()
        .starts_with("https://")
        .then(|| HeaderValue::from_static("max-age=31536000; includeSubDomains"));
    // uploaded pictures: random names, re-encoded by us, never changed once written
    let media = tower::ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        ))
        .service(tower_http::services::ServeDir::new(
            state.media.public_dir(),
        ));
    // the shop's pages are counted for the dashboards (in memory, flushed every few seconds)
    let counted = Router::new()
        .merge(crate::catalog::http::router())
        .merge(crate::search::http::router())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::visits::count,
        ))
        // a client holding a cached answer's entity tag gets a 304
        .layer(axum::middleware::from_fn(crate::render::not_modified));
    Router::new()
        .nest_service("/media", media)
        .merge(counted)
        .merge(crate::auth::http::router())
        .merge(crate::addresses::router())
        .merge(crate::producer::http::router())
        .merge(crate::staff::http::router())
        .merge(crate::banners::http::router())
        .merge(crate::cart::http::router())
        .merge(crate::checkout::http::router())
        .merge(crate::orders::http::router())
        .merge(crate::payments::http::router())
        .merge(crate::payments::sandbox::router())
        .merge(crate::shipping::http::router())
        .merge(crate::invoicing::http::router())
        .merge(crate::fairs::http::router())
        .merge(crate::promotions::http::router())
        .merge(crate::experiences::http::router())
        .merge(crate::reviews::http::router())
        .merge(crate::registry::http::router())
        // the API's description, from each capability's own part
        .merge(crate::openapi::router(crate::openapi::document(
            vec![
                <crate::catalog::http::ApiDoc as utoipa::OpenApi>::openapi(),
                <crate::search::http::ApiDoc as utoipa::OpenApi>::openapi(),
                <crate::staff::dashboard::ApiDoc as utoipa::OpenApi>::openapi(),
            ],
            &state
                .catalog
                .snapshot()
                .admin
                .provinces
                .iter()
                .map(|p| p.code)
                .collect::<Vec<_>>(),
        )))
        .merge(crate::health::router())
        .merge(crate::alerts::router())
        .route("/metrics", get(crate::metrics::http::metrics))
        .route("/static/app.css", get(|| async { asset(CSS, &APP_CSS) }))
        .route(
            "/static/portal.css",
            get(|| async { asset(CSS, &PORTAL_CSS) }),
        )
        .route(
            "/static/search.js",
            get(|| async { asset(JS, include_str!("../templates/static/search.js")) }),
        )
        .route(
            "/static/portal.js",
            get(|| async { asset(JS, include_str!("../templates/static/portal.js")) }),
        )
        .route(
            "/static/cart.js",
            get(|| async { asset(JS, include_str!("../templates/static/cart.js")) }),
        )
        .route(
            "/static/pay.js",
            get(|| async { asset(JS, include_str!("../templates/static/pay.js")) }),
        )
        .route(
            "/static/till.js",
            get(|| async { asset(JS, include_str!("../templates/static/till.js")) }),
        )
        // qrcode-generator 2.0.4 (Kazuhiko Arase, MIT): the till draws a sale's QR offline
        .route(
            "/static/qrcode.js",
            get(|| async { asset(JS, include_str!("../templates/static/qrcode.js")) }),
        )
        .route(
            "/static/voucher.js",
            get(|| async { asset(JS, include_str!("../templates/static/voucher.js")) }),
        )
        .route(
            "/static/checkin.js",
            get(|| async { asset(JS, include_str!("../templates/static/checkin.js")) }),
        )
        .route(
            "/static/favicon.svg",
            get(|| async { asset(SVG, include_str!("../templates/static/favicon.svg")) }),
        )
        // browsers ask for this name whatever the page says
        .route(
            "/favicon.ico",
            get(|| async { Redirect::permanent("/static/favicon.svg") }),
        )
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::i18n::http::negotiate,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::cors::cors,
        ))
        .layer(CompressionLayer::new())
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        ))
        // pages are rendered on the server from our own files: no inline script or style, no
        // framing by anyone (clickjacking), nothing loaded from elsewhere
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            hsts,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::metrics::observe,
        ))
        .with_state(state)
}

/// A file compiled into the binary, cacheable for an hour.
fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

const CSS: &str = "text/css; charset=utf-8";

// The styles as sent: the sources' comments are for people, not for a phone's connection.
static APP_CSS: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| minify_css(include_str!("../templates/static/app.css")));
static PORTAL_CSS: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| minify_css(include_str!("../templates/static/portal.css")));

/// Drops comments and the whitespace around braces, semicolons and commas; everything else (the
/// spaces inside values such as `calc(50% + 6px)` or `1px solid`) stays as written.
pub fn minify_css(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut rest = source;
    while let Some(start) = rest.find("/*") {
        out.push_str(&rest[..start]);
        rest = rest[start + 2..]
            .find("*/")
            .map_or("", |end| &rest[start + 2 + end + 2..]);
    }
    out.push_str(rest);
    let collapsed = out.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut tight = String::with_capacity(collapsed.len());
    let chars: Vec<char> = collapsed.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let prev = i.checked_sub(1).map(|j| chars[j]);
        let next = chars.get(i + 1).copied();
        let around = |x: Option<char>| matches!(x, Some('{' | '}' | ';' | ','));
        if c == ' ' && (around(prev) || around(next)) {
            continue;
        }
        tight.push(c);
    }
    tight.replace(";}", "}")
}
const JS: &str = "text/javascript; charset=utf-8";
const SVG: &str = "image/svg+xml";

async fn not_found(uri: Uri) -> Response {
    if uri.path().starts_with("/api/") {
        crate::error::ApiError(crate::error::AppError::NotFound).into_response()
    } else {
        crate::error::AppError::NotFound.into_response()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    #[error("cannot load the catalog from Postgres: {0}")]
    Catalog(sqlx::Error),
    #[error("cannot reach Redis at {url}: {source}")]
    Redis {
        url: String,
        source: redis::RedisError,
    },
    #[error("bad Meilisearch configuration: {0}")]
    Search(crate::search::SearchError),
    #[error(
        "PAYMENT_SANDBOX is on while real provider secrets are configured ({0}): the sandbox would sign callbacks with them. Turn the sandbox off, or unset those secrets"
    )]
    SandboxWithRealSecrets(String),
    #[error("bad mail configuration: {0}")]
    Mail(String),
    #[error("no HTTP client for the carriers: {0}")]
    Http(String),
    #[error("cannot listen on {bind}: {source}")]
    Bind {
        bind: std::net::SocketAddr,
        source: std::io::Error,
    },
}

pub async fn connect_redis(url: &str) -> Result<ConnectionManager, StartError> {
    let redacted = crate::config::redact(url);
    let client = redis::Client::open(url).map_err(|source| StartError::Redis {
        url: redacted.clone(),
        source,
    })?;
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(3)))
        .set_response_timeout(Some(Duration::from_secs(2)))
        .set_number_of_retries(1);
    let mut conn = tokio::time::timeout(
        Duration::from_secs(5),
        client.get_connection_manager_with_config(config),
    )
    .await
    .map_err(|_| StartError::Redis {
        url: redacted.clone(),
        source: redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut)),
    })?
    .map_err(|source| StartError::Redis {
        url: redacted.clone(),
        source,
    })?;
    redis::cmd("PING")
        .query_async::<String>(&mut conn)
        .await
        .map_err(|source| StartError::Redis {
            url: redacted,
            source,
        })?;
    Ok(conn)
}

/// A built application: bound, migrated, catalog loaded; `run` serves until SIGTERM/ctrl-c.
pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    pub async fn build(config: Config) -> Result<Application, StartError> {
        // what the memos may hold, before the first snapshot makes any
        crate::memo::configure(crate::memo::Budgets {
            pages: config.page_cache_mb * 1024 * 1024,
            search: config.search_memo_mb * 1024 * 1024,
            counts: config.counts_memo_mb * 1024 * 1024,
        });
        // the sandbox signs callbacks: never with a real provider's secret
        let real = config.real_provider_secrets();
        if config.payment_sandbox && !real.is_empty() {
            return Err(StartError::SandboxWithRealSecrets(real.join(", ")));
        }
        let pool = crate::db::connect(&config.database_url, config.db_max_connections).await?;
        crate::db::migrate(&pool).await?;
        let mut redis = connect_redis(&config.redis_url).await?;
        let cookie_key = crate::cart::cookie_key(&mut redis, config.secret_key.as_deref())
            .await
            .map_err(|source| StartError::Redis {
                url: crate::config::redact(&config.redis_url),
                source,
            })?;
        let catalog = Catalog::load(pool.clone())
            .await
            .map_err(StartError::Catalog)?;
        let listener = TcpListener::bind(config.bind)
            .await
            .map_err(|source| StartError::Bind {
                bind: config.bind,
                source,
            })?;
        let mut config = config;
        if let Ok(addr) = listener.local_addr() {
            config.bind = addr;
        }
        let meili = match &config.meili_url {
            Some(url) => Some(
                crate::search::MeiliSearch::new(
                    url,
                    config.meili_master_key.as_deref(),
                    &config.meili_index,
                )
                .map_err(StartError::Search)?,
            ),
            None => None,
        };
        let search = Arc::new(crate::search::Search::new(pool.clone(), meili));
        let state = AppState {
            pool,
            redis,
            catalog,
            search,
            mailer: crate::mail::Mailer::from_config(&config).map_err(StartError::Mail)?,
            media: crate::media::MediaStore::new(config.media_dir.clone()),
            cookie_key: Arc::new(cookie_key),
            payments: Arc::new(crate::payments::Providers::from_config(&config)),
            carriers: Arc::new(crate::shipping::config::Carriers::from_config(&config)),
            http: reqwest::Client::builder()
                .connect_timeout(std::time::Duration::from_secs(3))
                .build()
                .map_err(|e| StartError::Http(e.to_string()))?,
            visits: Arc::new(crate::visits::Visits::new(&config.database_url)),
            metrics: Arc::default(),
            config: Arc::new(config),
        };
        Ok(Application { listener, state })
    }

    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.state.config.bind
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let follower = tokio::spawn(self.state.catalog.clone().follow_changes());
        let visits = tokio::spawn(crate::visits::follow(
            self.state.visits.clone(),
            self.state.pool.clone(),
            self.state.redis.clone(),
        ));
        let stats = tokio::spawn(crate::stats::fold_forever(
            self.state.pool.clone(),
            Duration::from_secs(10),
        ));
        let expiry = tokio::spawn(crate::orders::expire_forever(
            self.state.pool.clone(),
            Duration::from_secs(30),
        ));
        let reconcile = tokio::spawn(crate::payments::reconcile::reconcile_forever(
            self.state.clone(),
            Duration::from_secs(15),
        ));
        let housekeeping = tokio::spawn(housekeeping_forever(
            self.state.clone(),
            Duration::from_secs(3600),
        ));
        let alerts = tokio::spawn(crate::alerts::send_forever(self.state.clone()));
        let settlement = tokio::spawn(crate::settlement::release_forever(
            self.state.pool.clone(),
            Duration::from_secs(300),
        ));
        let shipments = tokio::spawn(crate::shipping::shipments::poll_forever(
            self.state.clone(),
            Duration::from_secs(60),
        ));
        let places = tokio::spawn(crate::shipping::places::sync_weekly(self.state.clone()));
        let invoices = tokio::spawn(crate::invoicing::issue_forever(
            self.state.clone(),
            Duration::from_secs(30),
        ));
        let payouts = tokio::spawn(crate::settlement::payouts::weekly_forever(
            self.state.pool.clone(),
            Duration::from_secs(3600),
        ));
        let pool = self.state.pool.clone();
        let search = self.state.search.clone();
        let outbox = match self.state.search.meili().cloned() {
            Some(meili) => tokio::spawn(async move {
                // settings are applied at every start; Meilisearch being down must not stop the shop
                if let Err(e) = meili.ensure_index(meili.index_name()).await {
                    tracing::warn!(error = %e, "could not apply Meilisearch settings; search falls back to Postgres");
                }
                crate::search::outbox::follow(pool, meili, search).await
            }),
            None => tokio::spawn(crate::search::outbox::follow(
                pool,
                crate::search::outbox::NoIndex,
                search,
            )),
        };
        tracing::info!(
            search.backend = self.state.search.backend_name(),
            "search ready"
        );
        if self.state.payments.sandbox {
            tracing::warn!(
                "PAYMENT_SANDBOX is on: simulated payment pages can mark orders paid; never in production"
            );
        }
        let state = self.state.clone();
        let app = router(self.state);
        // the peer's address reaches handlers (rate limits count by it without TRUST_PROXY)
        let result = axum::serve(
            self.listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await;
        // Workers stop between transactions (an aborted one rolls back and the next instance
        // redoes it); the page views counted in memory are handed to Redis first.
        if let Err(e) = state.visits.flush(&state.redis).await {
            tracing::warn!(error = %e, "visit counts not flushed at shutdown");
        }
        follower.abort();
        expiry.abort();
        reconcile.abort();
        housekeeping.abort();
        alerts.abort();
        settlement.abort();
        payouts.abort();
        shipments.abort();
        places.abort();
        invoices.abort();
        visits.abort();
        stats.abort();
        outbox.abort();
        result
    }
}

/// Uploads nothing points at any more are removed after this long (an upload whose form is
/// still being saved is not an orphan yet).
pub const ORPHAN_GRACE: Duration = Duration::from_secs(3600);

/// What is kept only for a while: refused provider callbacks (after REFUSED_EVENT_DAYS) and
/// uploaded files nothing points at. Safe on every instance at once.
pub async fn housekeeping_once(
    state: &AppState,
    grace: Duration,
) -> Result<(u64, usize), sqlx::Error> {
    let purged =
        crate::payments::purge_refused(&state.pool, state.config.refused_event_days).await?;
    let swept = crate::media::sweep_orphans(&state.pool, &state.media, grace).await?;
    Ok((purged, swept))
}

async fn housekeeping_forever(state: AppState, every: Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        match housekeeping_once(&state, ORPHAN_GRACE).await {
            Ok((0, 0)) => {}
            Ok((purged, swept)) => {
                tracing::info!(
                    refused_events = purged,
                    orphaned_files = swept,
                    "housekeeping"
                )
            }
            Err(e) => tracing::warn!(error = %e, "housekeeping failed; retrying next hour"),
        }
    }
}

/// Resolves on SIGTERM or ctrl-c: in-flight requests then finish before the process exits.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: finishing in-flight requests");
}

#[cfg(test)]
mod tests {
    use super::minify_css;

    #[test]
    fn styles_are_sent_without_comments_but_with_every_rule() {
        let source = include_str!("../templates/static/app.css");
        let sent = minify_css(source);
        assert!(!sent.contains("/*") && !sent.contains('\n'));
        assert_eq!(sent.matches('{').count(), source.matches('{').count());
        assert!(
            sent.len() < source.len() * 9 / 10,
            "{} of {}",
            sent.len(),
            source.len()
        );
        assert_eq!(
            minify_css(
                ".a, .b { margin: calc(50% + 6px) 0; /* why */ border: 1px solid var(--line); }\n@media (min-width: 720px) { .a { color: red; } }"
            ),
            ".a,.b{margin: calc(50% + 6px) 0;border: 1px solid var(--line)}@media (min-width: 720px){.a{color: red}}"
        );
    }
}
