//! Operations: every request gets an id (the caller's `X-Request-Id` when it is sane, a fresh one
//! otherwise) that names it in the logs and comes back in the answer; its route, status and
//! latency feed `/metrics` (Prometheus text format) beside the numbers operators watch — orders
//! and payments by method and state, work waiting (search outbox, payment reviews, unfolded
//! sales deltas), search fallbacks, and the Postgres and Redis connections.
//!
//! Request counts live in this process (Prometheus scrapes each instance); everything else is
//! read from Postgres and Redis at scrape time, so every instance tells the same story.

pub mod http;

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tracing::Instrument;

/// Upper bounds of the latency buckets, seconds.
pub(crate) const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

#[derive(Default)]
pub(crate) struct RouteStats {
    pub(crate) count: AtomicU64,
    pub(crate) micros: AtomicU64,
    pub(crate) buckets: [AtomicU64; BUCKETS.len()],
}

/// route template → (method, status, counts). Routes are templates (`/products/{slug}`), so the
/// set stays small whatever is requested; a request finds its counters without allocating.
#[derive(Default)]
pub struct Metrics {
    routes: RwLock<HashMap<String, Vec<(String, u16, Arc<RouteStats>)>>>,
    /// what this instance's payment reconciliation has done since it started
    pub reconciled: std::sync::Mutex<crate::payments::reconcile::report::Report>,
}

impl Metrics {
    fn record(&self, method: &str, route: &str, status: u16, took: Duration) {
        let found = self
            .routes
            .read()
            .expect("metrics lock")
            .get(route)
            .and_then(|v| v.iter().find(|e| e.0 == method && e.1 == status))
            .map(|e| e.2.clone());
        let stats = match found {
            Some(s) => s,
            None => {
                let mut routes = self.routes.write().expect("metrics lock");
                let entries = routes.entry(route.to_string()).or_default();
                match entries.iter().find(|e| e.0 == method && e.1 == status) {
                    Some(e) => e.2.clone(),
                    None => {
                        let s = Arc::new(RouteStats::default());
                        entries.push((method.to_string(), status, s.clone()));
                        s
                    }
                }
            }
        };
        let secs = took.as_secs_f64();
        stats.count.fetch_add(1, Ordering::Relaxed);
        stats
            .micros
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            stats.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// (method, route, status, counts), sorted.
    pub(crate) fn snapshot(&self) -> Vec<(String, String, u16, Arc<RouteStats>)> {
        let routes = self.routes.read().expect("metrics lock");
        let mut all: Vec<_> = routes
            .iter()
            .flat_map(|(route, v)| {
                v.iter()
                    .map(move |(m, st, s)| (m.clone(), route.clone(), *st, s.clone()))
            })
            .collect();
        all.sort_by(|a, b| (&a.0, &a.1, a.2).cmp(&(&b.0, &b.1, b.2)));
        all
    }
}

/// A request id: the caller's when it is short and plain (a load balancer's), else a new one —
/// this process's random prefix and a counter, unique across instances without a system call.
fn request_id(req: &Request) -> String {
    static PREFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    req.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            (8..=64).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_string)
        .unwrap_or_else(|| {
            let prefix = PREFIX.get_or_init(|| {
                let mut bytes = [0u8; 4];
                getrandom::fill(&mut bytes).expect("the operating system's random source");
                bytes.iter().map(|b| format!("{b:02x}")).collect()
            });
            format!("{prefix}{:016x}", NEXT.fetch_add(1, Ordering::Relaxed))
        })
}

/// Names the request in every log line it causes, logs its outcome, counts it.
pub async fn observe(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request_id(&req);
    let matched = req.extensions().get::<MatchedPath>().cloned();
    let route = matched.as_ref().map_or("(unmatched)", |m| m.as_str());
    let method = req.method().clone();
    // the path only, never the query (order codes and phone numbers travel there)
    let span = tracing::info_span!("request", id = %id, method = %method, route = %route);
    let mut response = next.run(req).instrument(span.clone()).await;
    let took = started.elapsed();
    let status = response.status().as_u16();
    // any other method string would be a new series each: a way to fill memory
    let method_label = match method.as_str() {
        m @ ("GET" | "POST" | "HEAD" | "PUT" | "PATCH" | "DELETE" | "OPTIONS") => m,
        _ => "OTHER",
    };
    metrics.record(method_label, route, status, took);
    span.in_scope(|| {
        tracing::info!(
            status,
            ms = (took.as_secs_f64() * 1000.0 * 10.0).round() / 10.0,
            "served"
        )
    });
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", v);
    }
    response
}
