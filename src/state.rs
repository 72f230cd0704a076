//! The state every handler may reach, at the bottom of the module graph: it names the types it
//! holds, and none of their modules imports it back. Middleware and extractors that need only a
//! part ask for that part (`State<PgPool>`, `State<Arc<Metrics>>`, …) through `FromRef`.
//! Holds no state of its own: Postgres and Redis are the truth, the catalog snapshot is a cache
//! of Postgres kept current by notifications, so any number of instances may run side by side.

use crate::catalog::Catalog;
use crate::config::Config;
use axum::extract::FromRef;
use redis::aio::ConnectionManager;
use sqlx::PgPool;
use std::sync::Arc;

/// What every handler may use.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub redis: ConnectionManager,
    pub catalog: Arc<Catalog>,
    pub search: Arc<crate::search::Search>,
    pub mailer: crate::mail::Mailer,
    pub media: crate::media::MediaStore,
    /// signs cart cookies; the same on every instance
    pub cookie_key: Arc<Vec<u8>>,
    /// payment providers' accounts and secrets (never logged)
    pub payments: Arc<crate::payments::config::Providers>,
    /// carriers' accounts (never logged)
    pub carriers: Arc<crate::shipping::config::Carriers>,
    /// one HTTP client for outside providers (its connections are reused)
    pub http: reqwest::Client,
    /// page views not yet moved to Redis (a few seconds' worth)
    pub visits: Arc<crate::visits::Visits>,
    /// request counts and latencies of this instance, for `/metrics`
    pub metrics: Arc<crate::metrics::Metrics>,
    pub config: Arc<Config>,
}

impl FromRef<AppState> for PgPool {
    fn from_ref(s: &AppState) -> PgPool {
        s.pool.clone()
    }
}

impl FromRef<AppState> for ConnectionManager {
    fn from_ref(s: &AppState) -> ConnectionManager {
        s.redis.clone()
    }
}

impl FromRef<AppState> for Arc<Config> {
    fn from_ref(s: &AppState) -> Arc<Config> {
        s.config.clone()
    }
}

impl FromRef<AppState> for Arc<crate::metrics::Metrics> {
    fn from_ref(s: &AppState) -> Arc<crate::metrics::Metrics> {
        s.metrics.clone()
    }
}

impl FromRef<AppState> for Arc<Catalog> {
    fn from_ref(s: &AppState) -> Arc<Catalog> {
        s.catalog.clone()
    }
}

impl FromRef<AppState> for crate::visits::Counting {
    fn from_ref(s: &AppState) -> crate::visits::Counting {
        crate::visits::Counting {
            visits: s.visits.clone(),
            catalog: s.catalog.clone(),
            trust_proxy: s.config.trust_proxy,
        }
    }
}
