//! The search outbox worker: sends catalog changes to the search engine, in order, at least once,
//! marking them done only when the engine confirms. Any number of instances may run it: rows are
//! claimed with `FOR UPDATE SKIP LOCKED` and each product is held by one worker at a time (a
//! transaction-scoped advisory lock), so a product's changes are never sent out of order.
//!
//! Changes travel in batches: everything pending (up to `BATCH` rows) goes as one document
//! task, plus one deletion task when products left the catalog, which Meilisearch applies
//! together. An edit waits at most for the batch before it and its own.

use super::Search;
use super::documents::{self, Doc};
use crate::domain::vn_today;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Where the worker sends documents: Meilisearch in production, a recorder in tests.
pub trait SearchIndex: Send + Sync {
    /// Upserts `upserts` and removes `deletes`; returns once the engine has applied both.
    fn apply(
        &self,
        upserts: &[Doc],
        deletes: &[i64],
    ) -> impl Future<Output = Result<(), String>> + Send;

    /// Whether there is an engine to send documents to (else rows are only marked done).
    fn wants_documents(&self) -> bool {
        true
    }
}

/// Most outbox rows in one batch: a burst of edits, or a producer's whole catalog renamed.
const BATCH: i64 = 500;
/// After the first notification of a burst, how long to wait for the rest of it.
const GATHER: Duration = Duration::from_millis(15);
/// Namespace of the per-product advisory locks.
const LOCK_NAMESPACE: i32 = 7_301;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Round {
    /// outbox rows marked done
    pub sent: usize,
    /// outbox rows put back for a later attempt
    pub failed: usize,
}

/// Claims one batch of due changes, sends the products' current state, records the outcome.
pub async fn run_once(pool: &PgPool, index: &impl SearchIndex) -> Result<Round, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let claimed = sqlx::query!(
        r#"
        select outbox_id, product_id from search_outbox
        where done_at is null and next_attempt_at <= now()
        order by outbox_id
        limit $1
        for update skip locked
        "#,
        BATCH
    )
    .fetch_all(&mut *tx)
    .await?;
    if claimed.is_empty() {
        return Ok(Round::default());
    }
    let mut products: Vec<i64> = claimed.iter().map(|r| r.product_id).collect();
    products.sort_unstable();
    products.dedup();
    // products another worker is sending right now stay for the next round
    let held = sqlx::query_scalar!(
        r#"select id as "id!" from unnest($1::bigint[]) as id where pg_try_advisory_xact_lock($2, id::int)"#,
        &products,
        LOCK_NAMESPACE
    )
    .fetch_all(&mut *tx)
    .await?;
    let rows: Vec<i64> = claimed
        .iter()
        .filter(|r| held.contains(&r.product_id))
        .map(|r| r.outbox_id)
        .collect();
    if rows.is_empty() {
        return Ok(Round::default());
    }
    // the state sent is read now, after the locks: never older than the change that queued it
    let docs = if index.wants_documents() {
        documents::load(pool, Some(&held)).await?
    } else {
        Vec::new()
    };
    let upserts: Vec<Doc> = docs.iter().filter_map(|(_, d)| d.clone()).collect();
    let deletes: Vec<i64> = docs
        .iter()
        .filter(|(_, d)| d.is_none())
        .map(|(id, _)| *id)
        .collect();
    let round = match index.apply(&upserts, &deletes).await {
        Ok(()) => {
            sqlx::query!(
                "update search_outbox set done_at = now() where outbox_id = any($1)",
                &rows
            )
            .execute(&mut *tx)
            .await?;
            if index.wants_documents() {
                // every instance drops the search answers it cached from the older index
                sqlx::query!("select from pg_notify('search_indexed', '')")
                    .execute(&mut *tx)
                    .await?;
            }
            Round {
                sent: rows.len(),
                failed: 0,
            }
        }
        Err(error) => {
            tracing::warn!(search.error = %error, outbox.rows = rows.len(), "search index update failed; will retry");
            // 2, 4, 8 … seconds, at most five minutes
            sqlx::query!(
                r#"update search_outbox
                   set attempts = attempts + 1, last_error = $2,
                       next_attempt_at = now() + make_interval(secs => least(300, power(2, attempts + 1)))
                   where outbox_id = any($1)"#,
                &rows,
                error
            )
            .execute(&mut *tx)
            .await?;
            Round {
                sent: 0,
                failed: rows.len(),
            }
        }
    };
    tx.commit().await?;
    Ok(round)
}

/// Queues the products whose certificate expired on `day` (and the week before, in case no
/// instance ran then) so they leave the index without anyone touching them. Runs once per day
/// across all instances.
pub async fn queue_expired(pool: &PgPool, day: time::Date) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let first = sqlx::query!(
        "insert into job_run (job, day) values ('search-expiry', $1) on conflict do nothing",
        day
    )
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if first {
        sqlx::query!(
            "insert into search_outbox (product_id) select product_id from certificate where expires_on <= $1 and expires_on > $1 - 7",
            day
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(first)
}

/// Runs the worker until the process stops: woken by `search_outbox` notifications, and every
/// few seconds for retries that have come due. Also follows `search_indexed`, so this instance's
/// cached search answers never outlive the index they came from, whoever updated it.
pub async fn follow(pool: PgPool, index: impl SearchIndex, search: Arc<Search>) {
    loop {
        if let Err(e) = follow_once(&pool, &index, &search).await {
            tracing::warn!(error = %e, "search outbox worker lost its connection; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

async fn follow_once(
    pool: &PgPool,
    index: &impl SearchIndex,
    search: &Search,
) -> Result<(), sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener
        .listen_all(["search_outbox", "search_indexed"])
        .await?;
    // whatever was indexed while we were not listening
    search.index_changed();
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        let today = vn_today();
        queue_expired(pool, today).await?;
        loop {
            let round = run_once(pool, index).await?;
            if round.sent > 0 {
                search.index_changed();
            }
            if round.sent == 0 {
                break;
            }
        }
        // old rows are kept a week for looking into problems
        sqlx::query!("delete from search_outbox where done_at < now() - interval '7 days'")
            .execute(pool)
            .await?;
        // wait for work, then for the rest of its burst: one batch serves them all
        loop {
            tokio::select! {
                n = listener.recv() => {
                    if n?.channel() == "search_indexed" {
                        search.index_changed();
                        continue;
                    }
                }
                _ = tick.tick() => {}
            }
            let deadline = tokio::time::Instant::now() + GATHER;
            while let Ok(n) = tokio::time::timeout_at(deadline, listener.recv()).await {
                if n?.channel() == "search_indexed" {
                    search.index_changed();
                }
            }
            break;
        }
    }
}

/// Where there is no search engine to keep up to date, the outbox is still drained (marked done):
/// `ocop-market reindex` builds the index from scratch when an engine is added later.
pub struct NoIndex;

impl SearchIndex for NoIndex {
    async fn apply(&self, _: &[Doc], _: &[i64]) -> Result<(), String> {
        Ok(())
    }

    fn wants_documents(&self) -> bool {
        false
    }
}
