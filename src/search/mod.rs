//! Search: what shoppers type, on phones, often without diacritics and with typos.
//!
//! Postgres answers "which products match these words, best first" and the catalog snapshot
//! filters, counts, sorts and pages them exactly as on `/products`. Meilisearch is asked for the
//! page and the facet counts themselves, with the same filters built from the same typed values,
//! so both backends show the same facets for the same matches.

pub mod documents;
pub mod highlight;
pub mod http;
pub mod meili;
pub mod outbox;
mod postgres;
pub mod vocabulary;

pub use meili::MeiliSearch;
pub use postgres::PostgresSearch;

use crate::catalog::listing::{DEFAULT_PER_PAGE, Filter, ListQuery, Listing, Sort};
use crate::catalog::snapshot::Snapshot;
use crate::domain::fold_vietnamese;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use time::Date;

/// Longest query we look at: longer ones are cut, not refused.
pub const MAX_QUERY_CHARS: usize = 200;
/// Most words of a query that take part in matching.
const MAX_TERMS: usize = 10;

/// The query as typed, without control characters, spaces folded, cut to 200 characters.
pub fn clean_query(raw: &str) -> Option<String> {
    let cleaned: String = raw
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(MAX_QUERY_CHARS)
        .collect();
    let cleaned = cleaned.trim().to_string();
    (!cleaned.is_empty()).then_some(cleaned)
}

/// The words of a query, folded ("Bánh Đa" → ["banh", "da"]); only a–z and 0–9 survive, so no
/// query syntax of any backend can be smuggled through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Terms {
    pub words: Vec<String>,
}

impl Terms {
    pub fn parse(text: &str) -> Terms {
        let folded = fold_vietnamese(text);
        let all: Vec<String> = folded
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect();
        // stop words do not have to match (as in Meilisearch), unless they are all there is
        let meaningful: Vec<String> = all
            .iter()
            .filter(|w| !vocabulary::is_stop_word(w))
            .cloned()
            .collect();
        let words = if meaningful.is_empty() {
            all
        } else {
            meaningful
        };
        Terms {
            words: words.into_iter().take(MAX_TERMS).collect(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }
    /// Typos are forgiven in words of five letters or more, as shoppers expect.
    pub fn typo_allowed(word: &str) -> bool {
        word.chars().count() >= 5
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("search database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("search engine unavailable: {0}")]
    Unavailable(String),
}

/// One behaviour, several engines: every word must match, with one typo allowed in words of
/// five letters or more and the last word matching as a prefix.
pub trait SearchBackend: Send + Sync {
    fn name(&self) -> &'static str;
    /// Ids of the products matching every word, best match first, at most `limit`.
    fn matches(
        &self,
        terms: &Terms,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<i64>, SearchError>> + Send;
}

/// How long Meilisearch may take before the request is answered from Postgres instead. Measured
/// on 2 cores with 20,000 products at 32 connections (bench/search.sh), a page with its facets
/// takes a few milliseconds and p99 stays well below this; past it Meilisearch is down or
/// truly overloaded, and waiting longer only makes the shopper wait.
const MEILI_DEADLINE: Duration = Duration::from_millis(250);

/// Enough matches for every facet count to be exact in a province-sized catalog, and for the
/// national catalog's broadest words (the Postgres path counts facets in memory).
const MATCH_LIMIT: usize = 20_000;

/// What a Meilisearch answer was asked for: the words, and for a listing its filters, order and
/// page (`None` for suggestions).
type AnswerKey = (Vec<String>, Option<(Filter, Sort, u32, u32)>);

/// Meilisearch answers kept while the index stays as it was: the results page, the API and the
/// suggestions for the same words share them, as they share Postgres matches per snapshot.
struct Answers {
    generation: u64,
    by_key: crate::memo::Bounded<AnswerKey, Listing>,
}

impl Default for Answers {
    fn default() -> Self {
        Answers {
            generation: 0,
            by_key: crate::memo::Bounded::new(crate::memo::budgets().search),
        }
    }
}

/// The search the app uses: Meilisearch when configured, Postgres otherwise, and Postgres again
/// whenever Meilisearch is down or slow, so a shopper never sees an error for it.
pub struct Search {
    postgres: PostgresSearch,
    meili: Option<MeiliSearch>,
    fallbacks: AtomicU64,
    /// Bumped each time the search index applied changes (here or on another instance): cached
    /// answers carry it, so none outlives the index state it was computed from.
    generation: AtomicU64,
    answers: Mutex<Answers>,
}

impl Search {
    pub fn new(pool: sqlx::PgPool, meili: Option<MeiliSearch>) -> Search {
        Search {
            postgres: PostgresSearch::new(pool),
            meili,
            fallbacks: AtomicU64::new(0),
            generation: AtomicU64::new(0),
            answers: Mutex::new(Answers::default()),
        }
    }

    pub fn backend_name(&self) -> &'static str {
        match &self.meili {
            Some(m) => m.name(),
            None => self.postgres.name(),
        }
    }

    pub fn meili(&self) -> Option<&MeiliSearch> {
        self.meili.as_ref()
    }

    /// Searches answered by Postgres because Meilisearch failed or was slow.
    pub fn fallbacks(&self) -> u64 {
        self.fallbacks.load(Ordering::Relaxed)
    }

    /// The version of the search index this instance knows of, for cache keys. Postgres answers
    /// from the same data the catalog snapshot was loaded from, so its answers live as long as
    /// the snapshot; Meilisearch catches up a moment later and says so by bumping this.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn index_changed(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    fn fell_back(&self, reason: String) {
        let total = self.fallbacks.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::warn!(search.reason = %reason, search.fallbacks = total, "Meilisearch unavailable: searching Postgres");
    }

    /// Runs a Meilisearch request under the deadline; `None` (and one fallback counted) when it
    /// fails or is late.
    async fn on_meili<T>(
        &self,
        request: impl Future<Output = Result<T, SearchError>>,
    ) -> Option<T> {
        let reason = match tokio::time::timeout(MEILI_DEADLINE, request).await {
            Ok(Ok(answer)) => return Some(answer),
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer within {} ms", MEILI_DEADLINE.as_millis()),
        };
        self.fell_back(reason);
        None
    }

    /// Ranked matches from Postgres, asked once per catalog snapshot and words.
    async fn postgres_ranked(
        &self,
        s: &Snapshot,
        terms: &Terms,
    ) -> Result<Arc<Vec<i64>>, SearchError> {
        if let Some(ids) = s.remembered_matches(&terms.words) {
            return Ok(ids);
        }
        let ids = Arc::new(
            self.postgres
                .matches_in(terms, MATCH_LIMIT, Some(s.version))
                .await?,
        );
        s.remember_matches(terms.words.clone(), ids.clone());
        Ok(ids)
    }

    /// The Meilisearch answer kept for `key`, if the index has not changed since.
    fn remembered(&self, key: &AnswerKey) -> Option<Listing> {
        let answers = self.answers.lock().expect("search answers lock");
        (answers.generation == self.generation())
            .then(|| answers.by_key.get(key).cloned())
            .flatten()
    }

    /// The Meilisearch answer for `key`, asked once per index version.
    async fn meili_answer(
        &self,
        key: AnswerKey,
        ask: impl Future<Output = Result<Listing, SearchError>>,
    ) -> Option<Listing> {
        let generation = self.generation();
        if let Some(hit) = self.remembered(&key) {
            return Some(hit);
        }
        let answer = self.on_meili(ask).await?;
        let mut answers = self.answers.lock().expect("search answers lock");
        if answers.generation != generation {
            answers.by_key.clear();
            answers.generation = generation;
        }
        let size =
            512 + answer.product_ids.len() * 8 + key.0.iter().map(|w| w.len() + 24).sum::<usize>();
        answers.by_key.insert(key, answer.clone(), size);
        Some(answer)
    }

    /// The page of matches for `q` and the listing's facet counts for them.
    pub async fn listing(
        &self,
        s: &Snapshot,
        q: &ListQuery,
        terms: &Terms,
        today: Date,
    ) -> Result<Listing, SearchError> {
        if let Some(meili) = &self.meili {
            let key = (
                terms.words.clone(),
                Some((q.filter.clone(), q.sort, q.page, q.per_page)),
            );
            if let Some(answer) = self.meili_answer(key, meili.listing(q, terms)).await {
                // the page as the catalog knows it today: a product that left it a moment ago
                // (and the index a moment later) is not shown
                return Ok(Listing {
                    product_ids: s.first_listed(&answer.product_ids, q.per_page as usize, today),
                    counts: answer.counts,
                });
            }
        }
        let ids = self.postgres_ranked(s, terms).await?;
        Ok(s.list_matches(&ids, q, today))
    }

    /// The first `n` listed products matching `terms`, best first (suggestions).
    pub async fn suggest(
        &self,
        s: &Snapshot,
        terms: &Terms,
        n: usize,
        today: Date,
    ) -> Result<Vec<i64>, SearchError> {
        if let Some(meili) = &self.meili {
            // the top of the plain results for the same words, when someone asked for them
            let results = (
                terms.words.clone(),
                Some((Filter::default(), Sort::Relevance, 1, DEFAULT_PER_PAGE)),
            );
            if n <= DEFAULT_PER_PAGE as usize {
                if let Some(answer) = self.remembered(&results) {
                    return Ok(s.first_listed(&answer.product_ids, n, today));
                }
            }
            let ask = async {
                Ok(Listing {
                    // the best n matches, ids only: suggestions need no facets
                    product_ids: meili.matches(terms, n).await?,
                    counts: Arc::default(),
                })
            };
            if let Some(answer) = self.meili_answer((terms.words.clone(), None), ask).await {
                return Ok(s.first_listed(&answer.product_ids, n, today));
            }
        }
        let ids = self.postgres_ranked(s, terms).await?;
        Ok(s.first_listed(&ids, n, today))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_cleaned_and_cut_not_refused() {
        assert_eq!(
            clean_query("  bánh\u{0}  đa\n kế "),
            Some("bánh đa kế".into())
        );
        assert_eq!(clean_query(" \t "), None);
        assert_eq!(clean_query(&"a".repeat(500)).unwrap().chars().count(), 200);
    }

    #[test]
    fn terms_are_folded_words_and_nothing_else() {
        assert_eq!(Terms::parse("Bánh ĐA kế").words, ["banh", "da", "ke"]);
        assert_eq!(
            Terms::parse("\" OR 1=1 -- stars = 5 \\").words,
            ["or", "1", "1", "stars", "5"]
        );
        assert!(Terms::parse("!!! ***").is_empty());
        assert_eq!(Terms::parse("mật ong và chè").words, ["mat", "ong", "che"]);
        assert_eq!(Terms::parse("và").words, ["va"]);
    }
}
