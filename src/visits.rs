//! Visits, counted without slowing pages down: a page answer only bumps an in-memory tally, and a
//! background task moves the tallies to Redis every few seconds (a killed process loses at most
//! that much). Unique visitors are a daily HyperLogLog of a hash of (daily salt, address, browser);
//! the salt lives in Redis for the day and then expires, so no stored value can be traced back to
//! a person or linked across days. Finished days are copied to Postgres (`visit_daily`).

use crate::catalog::Catalog;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use sha2::Digest;
use sqlx::PgPool;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;
use time::Date;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// any marketplace page
    Page,
    /// a product's page (also counted as a page)
    Product,
}

type Key = (Date, Option<i16>);

#[derive(Default)]
pub struct Visits {
    /// keeps marketplaces that share a Redis apart (named after the database)
    namespace: String,
    tallies: Mutex<HashMap<(Date, Option<i16>, Kind), u64>>,
    visitors: Mutex<HashMap<Key, HashSet<u64>>>,
    salt: Mutex<Option<(Date, Vec<u8>)>>,
}

fn province_field(p: Option<i16>) -> String {
    p.map(|p| p.to_string()).unwrap_or_else(|| "all".into())
}

impl Visits {
    pub fn new(database_url: &str) -> Visits {
        let name = database_url
            .rsplit('/')
            .next()
            .unwrap_or("ocop")
            .split('?')
            .next()
            .unwrap_or("ocop");
        Visits {
            namespace: name.to_string(),
            ..Default::default()
        }
    }

    fn key(&self, rest: &str) -> String {
        format!("ocop:visits:{}:{rest}", self.namespace)
    }

    fn record(&self, day: Date, province: Option<i16>, kind: Kind, visitor: Option<u64>) {
        // the whole marketplace, and the province when there is one
        let scopes = std::iter::once(None).chain(province.map(Some));
        let mut t = self.tallies.lock().expect("visits lock");
        for p in scopes.clone() {
            *t.entry((day, p, Kind::Page)).or_default() += 1;
            if kind == Kind::Product {
                *t.entry((day, p, Kind::Product)).or_default() += 1;
            }
        }
        drop(t);
        if let Some(v) = visitor {
            let mut u = self.visitors.lock().expect("visits lock");
            for p in scopes {
                u.entry((day, p)).or_default().insert(v);
            }
        }
    }

    fn salt_for(&self, day: Date) -> Option<Vec<u8>> {
        self.salt
            .lock()
            .expect("visits lock")
            .as_ref()
            .filter(|(d, _)| *d == day)
            .map(|(_, s)| s.clone())
    }

    /// Moves the tallies to Redis. Safe with any number of instances: increments add up, and
    /// HyperLogLogs merge.
    pub async fn flush(&self, redis: &ConnectionManager) -> Result<(), redis::RedisError> {
        let tallies = std::mem::take(&mut *self.tallies.lock().expect("visits lock"));
        let visitors = std::mem::take(&mut *self.visitors.lock().expect("visits lock"));
        let mut redis = redis.clone();
        let today = crate::domain::vn_today();
        if self.salt_for(today).is_none() {
            let fresh = crate::crypto::random_token();
            let key = self.key(&format!("salt:{today}"));
            let _: Option<String> = redis::cmd("SET")
                .arg(&key)
                .arg(&fresh)
                .arg("NX")
                .arg("EX")
                .arg(2 * 86_400)
                .query_async(&mut redis)
                .await?;
            let salt: String = redis.get(&key).await?;
            *self.salt.lock().expect("visits lock") = Some((today, salt.into_bytes()));
        }
        if tallies.is_empty() && visitors.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for ((day, province, kind), n) in &tallies {
            let key = self.key(&day.to_string());
            let field = format!(
                "{}:{}",
                if *kind == Kind::Product {
                    "product"
                } else {
                    "page"
                },
                province_field(*province)
            );
            pipe.hincr(&key, field, *n)
                .ignore()
                .expire(&key, 8 * 86_400)
                .ignore();
        }
        for ((day, province), set) in &visitors {
            let key = self.key(&format!("uv:{day}:{}", province_field(*province)));
            let ids: Vec<String> = set.iter().map(|v| format!("{v:x}")).collect();
            pipe.pfadd(&key, ids)
                .ignore()
                .expire(&key, 8 * 86_400)
                .ignore();
        }
        let _: () = pipe.query_async(&mut redis).await?;
        Ok(())
    }
}

/// What the counting middleware reads: the tallies, the catalog (a product page's province), and
/// whether a proxy's `X-Forwarded-For` names the visitor.
#[derive(Clone)]
pub struct Counting {
    pub visits: Arc<Visits>,
    pub catalog: Arc<Catalog>,
    pub trust_proxy: bool,
}

/// Counts HTML pages answered with 200 to GET requests. Before the page is answered it only keeps
/// cheap handles (the URI and two header values); the rest happens for counted pages only.
pub async fn count(State(state): State<Counting>, request: Request, next: Next) -> Response {
    if request.method() != Method::GET {
        return next.run(request).await;
    }
    let uri = request.uri().clone();
    let peer = request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let forwarded = request.headers().get("x-forwarded-for").cloned();
    let agent = request.headers().get(header::USER_AGENT).cloned();
    let response = next.run(request).await;
    // as-you-type suggestions are fragments of a page already counted
    let html = !uri.path().starts_with("/search/suggest")
        && response.status() == StatusCode::OK
        && response
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|c| c.as_bytes().starts_with(b"text/html"));
    if !html {
        return response;
    }
    let day = crate::domain::vn_today();
    let snapshot = state.catalog.snapshot();
    let (kind, province) = match uri.path().strip_prefix("/products/") {
        Some(slug) if !slug.contains('/') => (
            Kind::Product,
            snapshot
                .product_by_slug(slug)
                .map(|(_, producer)| producer.province_code),
        ),
        _ => (
            Kind::Page,
            form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
                .find(|(k, _)| k == "province")
                .and_then(|(_, v)| v.parse::<i16>().ok())
                .filter(|p| snapshot.admin.province(*p).is_some()),
        ),
    };
    let visitor = state.visits.salt_for(day).map(|salt| {
        let mut h = sha2::Sha256::new();
        h.update(&salt);
        if let Some(ip) = peer {
            h.update(ip.to_string().as_bytes());
        }
        if state.trust_proxy {
            if let Some(f) = &forwarded {
                h.update(
                    f.as_bytes()
                        .split(|b| *b == b',')
                        .next()
                        .unwrap_or_default(),
                );
            }
        }
        h.update(b"|");
        if let Some(a) = &agent {
            h.update(a.as_bytes());
        }
        let digest = h.finalize();
        u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"))
    });
    state.visits.record(day, province, kind, visitor);
    response
}

/// Flushes every few seconds, and copies finished days to Postgres once a minute.
pub async fn follow(visits: Arc<Visits>, pool: PgPool, redis: ConnectionManager) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    let mut n = 0u64;
    loop {
        tick.tick().await;
        if let Err(e) = visits.flush(&redis).await {
            tracing::warn!(error = %e, "visit counts not flushed; will retry");
        }
        n += 1;
        if n % 12 == 1 {
            if let Err(e) = persist_finished_days(&pool, &redis, &visits).await {
                tracing::warn!(error = %e, "visit counts not copied to Postgres; will retry");
            }
        }
    }
}

/// Page views, product views and unique visitors of `day` from Redis, per province (None: all).
pub async fn read_day(
    redis: &ConnectionManager,
    visits: &Visits,
    day: Date,
) -> Result<Vec<(Option<i16>, i64, i64, i64)>, redis::RedisError> {
    let mut redis = redis.clone();
    let fields: HashMap<String, i64> = redis.hgetall(visits.key(&day.to_string())).await?;
    let mut provinces: HashSet<Option<i16>> = HashSet::new();
    for f in fields.keys() {
        if let Some((_, p)) = f.split_once(':') {
            provinces.insert(p.parse().ok());
        }
    }
    let mut out = vec![];
    for p in provinces {
        let pf = province_field(p);
        let uv: i64 = redis.pfcount(visits.key(&format!("uv:{day}:{pf}"))).await?;
        out.push((
            p,
            *fields.get(&format!("page:{pf}")).unwrap_or(&0),
            *fields.get(&format!("product:{pf}")).unwrap_or(&0),
            uv,
        ));
    }
    Ok(out)
}

/// Copies the last week's finished days into `visit_daily` (absolute values: running it twice, or
/// on several instances, writes the same numbers).
pub async fn persist_finished_days(
    pool: &PgPool,
    redis: &ConnectionManager,
    visits: &Visits,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let today = crate::domain::vn_today();
    for back in 1..=7 {
        let day = today - time::Duration::days(back);
        for (province, pages, products, uniques) in read_day(redis, visits, day).await? {
            sqlx::query!(
                "insert into visit_daily (day, province_code, page_views, product_views, unique_visitors)
                 values ($1, $2, $3, $4, $5)
                 on conflict (day, (coalesce(province_code, 0))) do update
                 set page_views = excluded.page_views, product_views = excluded.product_views,
                     unique_visitors = excluded.unique_visitors",
                day,
                province,
                pages,
                products,
                uniques
            )
            .execute(pool)
            .await?;
        }
    }
    Ok(())
}
