//! The Meilisearch backend: settings from `search/products.json`, folded documents, queries of
//! folded words only (no filter expression is ever built from input: filters and facets are
//! applied by the catalog, the same for both backends).

use super::documents::Doc;
use super::outbox::SearchIndex;
use super::{SearchBackend, SearchError, Terms};
use meilisearch_sdk::client::{Client, SwapIndexes};
use meilisearch_sdk::search::{MatchingStrategies, Selectors};
use meilisearch_sdk::settings::Settings;
use serde::Deserialize;
use std::time::Duration;

/// The index settings, kept as data beside the code.
pub const SETTINGS_JSON: &str = include_str!("../../search/products.json");

pub fn settings() -> Settings {
    serde_json::from_str(SETTINGS_JSON).expect("search/products.json is valid Meilisearch settings")
}

#[derive(Clone)]
pub struct MeiliSearch {
    client: Client,
    index: String,
}

#[derive(Deserialize)]
struct Hit {
    id: i64,
}

fn unavailable(e: impl std::fmt::Display) -> SearchError {
    SearchError::Unavailable(e.to_string())
}

impl MeiliSearch {
    pub fn new(url: &str, key: Option<&str>, index: &str) -> Result<MeiliSearch, SearchError> {
        let client = Client::new(url.trim_end_matches('/'), key).map_err(unavailable)?;
        Ok(MeiliSearch {
            client,
            index: index.to_string(),
        })
    }

    pub fn index_name(&self) -> &str {
        &self.index
    }

    /// Creates the index if needed and applies the settings; the same settings twice change nothing.
    pub async fn ensure_index(&self, uid: &str) -> Result<(), SearchError> {
        if self.client.get_index(uid).await.is_err() {
            self.client
                .create_index(uid, Some("id"))
                .await
                .map_err(unavailable)?
                .wait_for_completion(&self.client, None, Some(Duration::from_secs(30)))
                .await
                .map_err(unavailable)?;
        }
        let task = self
            .client
            .index(uid)
            .set_settings(&settings())
            .await
            .map_err(unavailable)?
            .wait_for_completion(&self.client, None, Some(Duration::from_secs(60)))
            .await
            .map_err(unavailable)?;
        if task.is_failure() {
            return Err(SearchError::Unavailable(format!(
                "settings refused: {:?}",
                task.unwrap_failure()
            )));
        }
        Ok(())
    }

    /// Sends documents and deletions to `uid` and waits until Meilisearch has applied them.
    async fn apply_to(
        &self,
        uid: &str,
        upserts: &[Doc],
        deletes: &[i64],
    ) -> Result<(), SearchError> {
        let index = self.client.index(uid);
        let mut tasks = Vec::new();
        if !upserts.is_empty() {
            tasks.push(
                index
                    .add_or_replace(upserts, Some("id"))
                    .await
                    .map_err(unavailable)?,
            );
        }
        if !deletes.is_empty() {
            tasks.push(index.delete_documents(deletes).await.map_err(unavailable)?);
        }
        for task in tasks {
            let done = task
                .wait_for_completion(
                    &self.client,
                    Some(Duration::from_millis(50)),
                    Some(Duration::from_secs(30)),
                )
                .await
                .map_err(unavailable)?;
            if !done.is_success() {
                return Err(SearchError::Unavailable(format!("task failed: {done:?}")));
            }
        }
        Ok(())
    }

    /// Removes this index and its documents (tests clean up after themselves with it).
    pub async fn drop_index(&self) {
        let _ = self.client.delete_index(&self.index).await;
    }

    /// Builds a fresh index beside the live one, then swaps them: searches never see it half built.
    pub async fn rebuild(
        &self,
        pool: &sqlx::PgPool,
        progress: &indicatif::ProgressBar,
    ) -> Result<usize, SearchError> {
        let fresh = format!(
            "{}_{}",
            self.index,
            time::OffsetDateTime::now_utc().unix_timestamp()
        );
        self.ensure_index(&self.index).await?;
        self.ensure_index(&fresh).await?;
        let docs: Vec<Doc> = super::documents::load(pool, None)
            .await?
            .into_iter()
            .filter_map(|(_, d)| d)
            .collect();
        progress.set_length(docs.len() as u64);
        for chunk in docs.chunks(1_000) {
            self.apply_to(&fresh, chunk, &[]).await?;
            progress.inc(chunk.len() as u64);
        }
        let swap = SwapIndexes {
            indexes: (self.index.clone(), fresh.clone()),
            rename: None,
        };
        let task = self
            .client
            .swap_indexes([&swap])
            .await
            .map_err(unavailable)?
            .wait_for_completion(&self.client, None, Some(Duration::from_secs(60)))
            .await
            .map_err(unavailable)?;
        if !task.is_success() {
            return Err(SearchError::Unavailable(format!("swap failed: {task:?}")));
        }
        // after the swap the fresh name holds the old documents
        let _ = self.client.delete_index(&fresh).await;
        Ok(docs.len())
    }
}

impl SearchBackend for MeiliSearch {
    fn name(&self) -> &'static str {
        "meilisearch"
    }

    async fn matches(&self, terms: &Terms, limit: usize) -> Result<Vec<i64>, SearchError> {
        if terms.is_empty() {
            return Ok(Vec::new());
        }
        // only folded a–z0–9 words reach Meilisearch: there is no syntax in them to inject
        let query = terms.words.join(" ");
        let index = self.client.index(&self.index);
        let results = index
            .search()
            .with_query(&query)
            .with_limit(limit)
            .with_matching_strategy(MatchingStrategies::ALL)
            .with_attributes_to_retrieve(Selectors::Some(&["id"]))
            .execute::<Hit>()
            .await
            .map_err(unavailable)?;
        Ok(results.hits.into_iter().map(|h| h.result.id).collect())
    }
}

impl SearchIndex for MeiliSearch {
    async fn apply(&self, upserts: &[Doc], deletes: &[i64]) -> Result<(), String> {
        self.apply_to(&self.index, upserts, deletes)
            .await
            .map_err(|e| e.to_string())
    }
}
