//! `/healthz`: the process is up. `/readyz`: Postgres and Redis answer.

use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use std::time::Duration;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> Response {
    let limit = Duration::from_secs(2);
    let pg = tokio::time::timeout(
        limit,
        sqlx::query_scalar!("select 1 as \"one!\"").fetch_one(&state.pool),
    )
    .await;
    let mut redis = state.redis.clone();
    let rd =
        tokio::time::timeout(limit, redis::cmd("PING").query_async::<String>(&mut redis)).await;
    let pg_ok = matches!(pg, Ok(Ok(1)));
    let redis_ok = matches!(rd, Ok(Ok(_)));
    let status = if pg_ok && redis_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let word = |ok: bool| if ok { "ok" } else { "unavailable" };
    (
        status,
        Json(serde_json::json!({ "postgres": word(pg_ok), "redis": word(redis_ok) })),
    )
        .into_response()
}
