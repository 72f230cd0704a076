//! Keeping the search index true: the outbox, its worker, the daily expiry, the fallback, and the
//! Meilisearch backend against the same expectations as Postgres (when MEILI_URL is set).

use crate::helpers::{TestApp, load_fixture};
use ocop_market::catalog::listing::ListQuery;
use ocop_market::search::documents::Doc;
use ocop_market::search::outbox::{Round, SearchIndex, follow, queue_expired, run_once};
use ocop_market::search::{MeiliSearch, PostgresSearch, Search, SearchBackend, Terms};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Stands in for the engine: records what it is sent, and can be told to fail or to take time.
#[derive(Default)]
struct Recorder {
    fail: AtomicBool,
    /// how long applying a batch takes, in milliseconds
    delay_ms: AtomicU64,
    /// batches applied
    batches: AtomicU64,
    /// per product, every state sent, in order (None = deleted)
    sent: Mutex<HashMap<i64, Vec<Option<i64>>>>,
}

impl SearchIndex for Recorder {
    async fn apply(&self, upserts: &[Doc], deletes: &[i64]) -> Result<(), String> {
        if self.fail.load(Ordering::SeqCst) {
            return Err("engine unavailable".into());
        }
        let delay = self.delay_ms.load(Ordering::SeqCst);
        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
        self.batches.fetch_add(1, Ordering::SeqCst);
        let mut sent = self.sent.lock().unwrap();
        for d in upserts {
            sent.entry(d.id)
                .or_default()
                .push(Some(d.price_vnd.amount()));
        }
        for id in deletes {
            sent.entry(*id).or_default().push(None);
        }
        Ok(())
    }
}

async fn pending(app: &TestApp) -> i64 {
    sqlx::query_scalar("select count(*) from search_outbox where done_at is null")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

async fn id_of(app: &TestApp, slug: &str) -> i64 {
    sqlx::query_scalar("select product_id from product where slug = $1")
        .bind(slug)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// Marks everything queued so far as sent, so a test starts from a quiet outbox.
async fn settle(app: &TestApp) {
    sqlx::query("update search_outbox set done_at = now() where done_at is null")
        .execute(&app.pool)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_change_and_its_outbox_row_commit_or_roll_back_together() {
    let app = TestApp::without_workers().await;
    load_fixture(&app).await;
    settle(&app).await;
    let mut tx = app.pool.begin().await.unwrap();
    sqlx::query("update product set price_vnd = 1234 where slug = 'mien-dong'")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(
        pending(&app).await,
        0,
        "a rolled-back change queues nothing"
    );
    sqlx::query("update product set price_vnd = 1234 where slug = 'mien-dong'")
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("update certificate set status = 'revoked', revoked_on = current_date, revoked_reason = 'x' where product_id = $1")
        .bind(id_of(&app, "cha-muc").await)
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(pending(&app).await, 2);
    // renaming a producer queues each of its products
    sqlx::query("update producer set name = 'Công ty Mới' where slug = 'cong-ty-ha-noi'")
        .execute(&app.pool)
        .await
        .unwrap();
    let products: i64 = sqlx::query_scalar(
        "select count(distinct product_id) from search_outbox where done_at is null",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(products, 2 + 3);
}

#[tokio::test]
async fn the_worker_sends_the_current_state_and_marks_rows_done_only_when_the_engine_confirms() {
    let app = TestApp::without_workers().await;
    load_fixture(&app).await;
    settle(&app).await;
    let recorder = Recorder::default();
    sqlx::query("update product set price_vnd = 51000 where slug = 'mien-dong'")
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("update product set price_vnd = 52000 where slug = 'mien-dong'")
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("update product set hidden = true where slug = 'cha-muc'")
        .execute(&app.pool)
        .await
        .unwrap();

    recorder.fail.store(true, Ordering::SeqCst);
    assert_eq!(
        run_once(&app.pool, &recorder).await.unwrap(),
        Round { sent: 0, failed: 3 }
    );
    assert_eq!(
        pending(&app).await,
        3,
        "nothing is lost when the engine fails"
    );
    let (attempts, later): (i32, bool) =
        sqlx::query_as("select max(attempts), bool_and(next_attempt_at > now()) from search_outbox where done_at is null").fetch_one(&app.pool).await.unwrap();
    assert_eq!((attempts, later), (1, true), "retried later, with backoff");
    assert_eq!(
        run_once(&app.pool, &recorder).await.unwrap(),
        Round::default(),
        "not before it is due"
    );

    sqlx::query("update search_outbox set next_attempt_at = now() where done_at is null")
        .execute(&app.pool)
        .await
        .unwrap();
    recorder.fail.store(false, Ordering::SeqCst);
    assert_eq!(
        run_once(&app.pool, &recorder).await.unwrap(),
        Round { sent: 3, failed: 0 }
    );
    assert_eq!(pending(&app).await, 0);
    let sent = recorder.sent.lock().unwrap();
    // two queued changes, one send of the latest state
    assert_eq!(sent[&id_of(&app, "mien-dong").await], vec![Some(52000)]);
    assert_eq!(
        sent[&id_of(&app, "cha-muc").await],
        vec![None],
        "a hidden product leaves the index"
    );
}

#[tokio::test]
async fn two_workers_never_send_a_product_out_of_order() {
    let app = TestApp::without_workers().await;
    load_fixture(&app).await;
    settle(&app).await;
    let recorder = std::sync::Arc::new(Recorder::default());
    let slugs = [
        "mien-dong",
        "tra-hoa-vang",
        "cha-muc",
        "gom-bat-trang",
        "banh-da-ke",
    ];
    let writer = {
        let pool = app.pool.clone();
        tokio::spawn(async move {
            for price in 1_001..=1_040i64 {
                for slug in slugs {
                    sqlx::query("update product set price_vnd = $1 where slug = $2")
                        .bind(price)
                        .bind(slug)
                        .execute(&pool)
                        .await
                        .unwrap();
                }
            }
        })
    };
    let worker = |pool: sqlx::PgPool, recorder: std::sync::Arc<Recorder>| {
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            while started.elapsed() < std::time::Duration::from_secs(30) {
                let round = run_once(&pool, &*recorder).await.unwrap();
                let quiet = round.sent == 0
                    && sqlx::query_scalar::<_, i64>(
                        "select count(*) from search_outbox where done_at is null",
                    )
                    .fetch_one(&pool)
                    .await
                    .unwrap()
                        == 0;
                if quiet
                    && sqlx::query_scalar::<_, i64>(
                        "select count(*) from product where price_vnd = 1040",
                    )
                    .fetch_one(&pool)
                    .await
                    .unwrap()
                        == 5
                {
                    break;
                }
            }
        })
    };
    let a = worker(app.pool.clone(), recorder.clone());
    let b = worker(app.pool.clone(), recorder.clone());
    writer.await.unwrap();
    a.await.unwrap();
    b.await.unwrap();
    assert_eq!(pending(&app).await, 0);
    let sent = recorder.sent.lock().unwrap();
    for slug in slugs {
        let prices: Vec<i64> = sent[&id_of(&app, slug).await]
            .iter()
            .map(|p| p.unwrap())
            .collect();
        assert!(
            prices.windows(2).all(|w| w[0] <= w[1]),
            "{slug} sent out of order: {prices:?}"
        );
        assert_eq!(
            *prices.last().unwrap(),
            1040,
            "{slug} ends in its final state"
        );
    }
}

/// The worker's engine in a test: the shared recorder.
struct Shared(Arc<Recorder>);

impl SearchIndex for Shared {
    async fn apply(&self, upserts: &[Doc], deletes: &[i64]) -> Result<(), String> {
        self.0.apply(upserts, deletes).await
    }
}

#[tokio::test]
async fn a_burst_of_edits_reaches_the_engine_in_a_few_batches_and_invalidates_cached_answers() {
    let app = TestApp::without_workers().await;
    load_fixture(&app).await;
    settle(&app).await;
    let recorder = Arc::new(Recorder::default());
    // an engine that takes a moment per batch, as Meilisearch does
    recorder.delay_ms.store(150, Ordering::SeqCst);
    let search = Arc::new(Search::new(app.pool.clone(), None));
    let worker = tokio::spawn(follow(
        app.pool.clone(),
        Shared(recorder.clone()),
        search.clone(),
    ));
    // the worker is listening once it has drained the (empty) queue
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let before = search.generation();
    let products: Vec<i64> = sqlx::query_scalar("select product_id from product order by 1")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    // 40 edits, each its own transaction, from 8 connections at once
    let edits: Vec<_> = (0..8)
        .map(|lane| {
            let pool = app.pool.clone();
            let products = products.clone();
            tokio::spawn(async move {
                for i in 0..5usize {
                    let n = lane * 5 + i;
                    sqlx::query("update product set price_vnd = $1 where product_id = $2")
                        .bind(60_000 + n as i64)
                        .bind(products[n % products.len()])
                        .execute(&pool)
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for edit in edits {
        edit.await.unwrap();
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while pending(&app).await > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the burst was not sent"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    worker.abort();
    let batches = recorder.batches.load(Ordering::SeqCst);
    assert!(
        (1..=4).contains(&batches),
        "40 edits went to the engine in {batches} batches"
    );
    let finals: HashMap<i64, i64> =
        sqlx::query_as::<_, (i64, i64)>("select product_id, price_vnd from product")
            .fetch_all(&app.pool)
            .await
            .unwrap()
            .into_iter()
            .collect();
    let sent = recorder.sent.lock().unwrap();
    for (id, states) in sent.iter() {
        assert_eq!(
            states.last().unwrap().unwrap_or(finals[id]),
            finals[id],
            "product {id} ends in its final state"
        );
    }
    assert!(
        search.generation() > before,
        "answers cached before the batch are not served after it"
    );
}

#[tokio::test]
async fn certificates_that_expire_today_are_queued_once_whatever_the_number_of_instances() {
    let app = TestApp::without_workers().await;
    load_fixture(&app).await;
    let today = ocop_market::domain::vn_today();
    sqlx::query("update certificate set expires_on = $1 where product_id = $2")
        .bind(today)
        .bind(id_of(&app, "mien-dong").await)
        .execute(&app.pool)
        .await
        .unwrap();
    settle(&app).await;
    let day = today.next_day().unwrap();
    let (first, second) =
        tokio::join!(queue_expired(&app.pool, day), queue_expired(&app.pool, day));
    assert!(
        first.unwrap() ^ second.unwrap(),
        "exactly one instance runs the day's job"
    );
    let queued: Vec<i64> =
        sqlx::query_scalar("select product_id from search_outbox where done_at is null")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert!(queued.contains(&id_of(&app, "mien-dong").await));
}

#[tokio::test]
async fn the_running_app_drains_its_outbox() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while pending(&app).await > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the outbox worker did not drain the queue"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_search_engine_that_does_not_answer_falls_back_to_postgres() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    // nothing listens on this port
    let port = crate::helpers::free_port();
    let meili =
        MeiliSearch::new(&format!("http://127.0.0.1:{port}"), Some("key"), "products").unwrap();
    let search = Search::new(app.pool.clone(), Some(meili));
    app.refresh().await;
    let snapshot = app.state.catalog.snapshot();
    let query = ListQuery {
        text: Some("banh da".into()),
        ..ListQuery::default()
    };
    let today = ocop_market::domain::vn_today();
    let found = search
        .listing(&snapshot, &query, &Terms::parse("banh da"), today)
        .await
        .unwrap();
    assert!(found.product_ids.contains(&id_of(&app, "banh-da-ke").await));
    assert_eq!(found.counts.total, 1);
    let suggested = search
        .suggest(&snapshot, &Terms::parse("banh da"), 6, today)
        .await
        .unwrap();
    assert!(suggested.contains(&id_of(&app, "banh-da-ke").await));
    assert_eq!(
        search.fallbacks(),
        2,
        "each answer from Postgres is counted"
    );
}

/// The same queries through Meilisearch and Postgres find the same products.
#[tokio::test]
async fn meilisearch_finds_what_postgres_finds() {
    let Ok(url) = std::env::var("MEILI_URL") else {
        eprintln!(
            "skipped meilisearch_finds_what_postgres_finds: MEILI_URL is not set (Meilisearch cannot be installed from this machine's package registries)"
        );
        return;
    };
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let index = format!("test_{}", app.db_name);
    let meili = MeiliSearch::new(
        &url,
        std::env::var("MEILI_MASTER_KEY").ok().as_deref(),
        &index,
    )
    .unwrap();
    meili.ensure_index(&index).await.expect("settings apply");
    meili
        .ensure_index(&index)
        .await
        .expect("settings apply twice");
    let docs: Vec<Doc> = ocop_market::search::documents::load(&app.pool, None)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|(_, d)| d)
        .collect();
    meili.apply(&docs, &[]).await.unwrap();
    let postgres = PostgresSearch::new(app.pool.clone());
    let listed: Vec<i64> = docs.iter().map(|d| d.id).collect();
    for q in [
        "banh da",
        "mien dong",
        "Bình Liêu",
        "tra hoa v",
        "quang ninh",
        "ha noi",
        "\" OR 1=1",
        "banh cu",
    ] {
        let terms = Terms::parse(q);
        let mut m = meili.matches(&terms, 1000).await.unwrap();
        let mut p: Vec<i64> = postgres
            .matches(&terms, 1000)
            .await
            .unwrap()
            .into_iter()
            .filter(|id| listed.contains(id))
            .collect();
        m.sort();
        p.sort();
        assert_eq!(m, p, "{q}");
    }
    meili.drop_index().await;
}
