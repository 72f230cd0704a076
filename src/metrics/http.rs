//! `GET /metrics`: this instance's request counts beside the numbers every instance reads the
//! same from Postgres and Redis.

use super::{BUCKETS, Metrics};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// `GET /metrics`. With METRICS_TOKEN set, only for `Authorization: Bearer <token>`.
pub async fn metrics(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    if let Some(token) = state.config.metrics_token.as_deref() {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if !given.is_some_and(|g| crate::crypto::same(g.as_bytes(), token.as_bytes())) {
            return (StatusCode::UNAUTHORIZED, "metrics: bearer token required\n").into_response();
        }
    }
    let mut out = String::with_capacity(16 * 1024);
    write_requests(&state.metrics, &mut out);
    write_services(&state, &mut out).await;
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}

fn write_requests(m: &Metrics, out: &mut String) {
    let all = m.snapshot();
    out.push_str("# HELP ocop_http_requests_total Requests answered, by route template and status.\n# TYPE ocop_http_requests_total counter\n");
    for (method, route, status, s) in &all {
        let _ = writeln!(
            out,
            "ocop_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {}",
            label(route),
            s.count.load(Ordering::Relaxed)
        );
    }
    // the histogram adds statuses up: latency per route
    let mut per_route: std::collections::BTreeMap<
        (String, String),
        ([u64; BUCKETS.len()], u64, u64),
    > = Default::default();
    for (method, route, _, s) in &all {
        let e =
            per_route
                .entry((method.clone(), route.clone()))
                .or_insert(([0; BUCKETS.len()], 0, 0));
        for (i, b) in s.buckets.iter().enumerate() {
            e.0[i] += b.load(Ordering::Relaxed);
        }
        e.1 += s.count.load(Ordering::Relaxed);
        e.2 += s.micros.load(Ordering::Relaxed);
    }
    out.push_str("# HELP ocop_http_request_duration_seconds Time to answer, by route template.\n# TYPE ocop_http_request_duration_seconds histogram\n");
    for ((method, route), (buckets, count, micros)) in &per_route {
        let route = label(route);
        let mut cumulative = 0;
        for (i, le) in BUCKETS.iter().enumerate() {
            cumulative += buckets[i];
            let _ = writeln!(
                out,
                "ocop_http_request_duration_seconds_bucket{{method=\"{method}\",route=\"{route}\",le=\"{le}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "ocop_http_request_duration_seconds_bucket{{method=\"{method}\",route=\"{route}\",le=\"+Inf\"}} {count}\n\
             ocop_http_request_duration_seconds_sum{{method=\"{method}\",route=\"{route}\"}} {}\n\
             ocop_http_request_duration_seconds_count{{method=\"{method}\",route=\"{route}\"}} {count}",
            *micros as f64 / 1e6
        );
    }
}

async fn write_services(state: &AppState, out: &mut String) {
    let limit = Duration::from_secs(2);
    // Postgres: reachable, and how long a round trip takes
    let started = Instant::now();
    let pg = tokio::time::timeout(
        limit,
        sqlx::query_scalar!("select 1 as \"one!\"").fetch_one(&state.pool),
    )
    .await;
    let pg_up = matches!(pg, Ok(Ok(1)));
    let pg_secs = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut redis = state.redis.clone();
    let rd =
        tokio::time::timeout(limit, redis::cmd("PING").query_async::<String>(&mut redis)).await;
    let redis_up = matches!(rd, Ok(Ok(_)));
    let redis_secs = started.elapsed().as_secs_f64();
    let pool_size = state.pool.size();
    let idle = state.pool.num_idle() as u32;
    let _ = writeln!(
        out,
        "# HELP ocop_up Whether a service answered the scrape's ping (1) or not (0).\n# TYPE ocop_up gauge\n\
         ocop_up{{service=\"postgres\"}} {}\nocop_up{{service=\"redis\"}} {}\n\
         # HELP ocop_ping_seconds Round trip of the scrape's ping.\n# TYPE ocop_ping_seconds gauge\n\
         ocop_ping_seconds{{service=\"postgres\"}} {pg_secs:.6}\nocop_ping_seconds{{service=\"redis\"}} {redis_secs:.6}\n\
         # HELP ocop_db_pool_connections Connections this instance holds to Postgres.\n# TYPE ocop_db_pool_connections gauge\n\
         ocop_db_pool_connections{{state=\"idle\"}} {idle}\nocop_db_pool_connections{{state=\"in_use\"}} {}\n\
         ocop_db_pool_connections{{state=\"max\"}} {}\n\
         # HELP ocop_search_fallbacks_total Searches answered by Postgres because Meilisearch failed (this instance).\n\
         # TYPE ocop_search_fallbacks_total counter\nocop_search_fallbacks_total {}",
        pg_up as u8,
        redis_up as u8,
        pool_size.saturating_sub(idle),
        state.config.db_max_connections,
        state.search.fallbacks(),
    );
    let r = state
        .metrics
        .reconciled
        .lock()
        .expect("metrics lock")
        .clone();
    out.push_str("# HELP ocop_payment_reconciliation_total Questions this instance asked providers about unconfirmed payments, by what came of them.\n# TYPE ocop_payment_reconciliation_total counter\n");
    for (outcome, n) in [
        ("applied", r.applied),
        ("duplicate", r.duplicates),
        ("failed_payment", r.failed),
        ("review", r.review),
        ("pending", r.pending),
        ("error", r.errors),
    ] {
        let _ = writeln!(
            out,
            "ocop_payment_reconciliation_total{{outcome=\"{outcome}\"}} {n}"
        );
    }
    if !pg_up {
        return;
    }
    // All-time orders by payment method from the national rollup (a few rows), plus what waits.
    let orders = sqlx::query!(
        r#"select method as "method!", sum(orders)::bigint as "orders!", sum(paid_orders)::bigint as "paid!",
                  sum(cancelled_orders)::bigint as "cancelled!"
           from (select method, orders, paid_orders, cancelled_orders from stats_sales
                 where tier = 'y' and province_code = 0 and commune_code = 0
                 union all
                 select method, orders, paid_orders, cancelled_orders from stats_order_delta) f
           group by method order by method"#
    )
    .fetch_all(&state.pool);
    let payments = sqlx::query!(
        r#"select method as "method!", status as "status!", count(*) as "n!"
           from payment where created_at > now() - interval '24 hours' group by 1, 2 order by 1, 2"#
    )
    .fetch_all(&state.pool);
    let waiting = sqlx::query!(
        r#"select
             (select count(*) from shop_order where status = 'pending_payment') as "awaiting_payment!",
             (select count(*) from payment_event where outcome = 'review' and resolved_at is null) as "reviews!",
             (select count(*) from search_outbox where done_at is null) as "outbox!",
             (select coalesce(extract(epoch from now() - min(created_at)), 0)::float8
                from search_outbox where done_at is null) as "outbox_age!",
             (select count(*) from stats_order_delta) + (select count(*) from stats_line_delta) as "deltas!""#
    )
    .fetch_one(&state.pool);
    let (orders, payments, waiting) =
        match tokio::time::timeout(limit, async { tokio::try_join!(orders, payments, waiting) })
            .await
        {
            Ok(Ok(r)) => r,
            _ => return,
        };
    out.push_str("# HELP ocop_orders_total Producer orders placed since the start, by payment method and what became of them.\n# TYPE ocop_orders_total counter\n");
    for o in &orders {
        for (state, n) in [
            ("placed", o.orders),
            ("paid", o.paid),
            ("cancelled", o.cancelled),
        ] {
            let _ = writeln!(
                out,
                "ocop_orders_total{{method=\"{}\",state=\"{state}\"}} {n}",
                label(&o.method)
            );
        }
    }
    out.push_str("# HELP ocop_payments_24h Payment attempts of the last 24 hours, by method and status.\n# TYPE ocop_payments_24h gauge\n");
    for p in &payments {
        let _ = writeln!(
            out,
            "ocop_payments_24h{{method=\"{}\",status=\"{}\"}} {}",
            label(&p.method),
            label(&p.status),
            p.n
        );
    }
    let _ = writeln!(
        out,
        "# HELP ocop_orders_awaiting_payment Orders waiting for an online payment.\n# TYPE ocop_orders_awaiting_payment gauge\nocop_orders_awaiting_payment {}\n\
         # HELP ocop_payment_reviews_open Payment events waiting for staff.\n# TYPE ocop_payment_reviews_open gauge\nocop_payment_reviews_open {}\n\
         # HELP ocop_search_outbox_pending Catalog changes the search index has not applied yet.\n# TYPE ocop_search_outbox_pending gauge\nocop_search_outbox_pending {}\n\
         # HELP ocop_search_outbox_lag_seconds Age of the oldest of them.\n# TYPE ocop_search_outbox_lag_seconds gauge\nocop_search_outbox_lag_seconds {:.1}\n\
         # HELP ocop_stats_deltas_pending Sales changes not folded into the dashboards' rollups yet.\n# TYPE ocop_stats_deltas_pending gauge\nocop_stats_deltas_pending {}",
        waiting.awaiting_payment,
        waiting.reviews,
        waiting.outbox,
        waiting.outbox_age,
        waiting.deltas,
    );
}
