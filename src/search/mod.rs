//! Search: what shoppers type, on phones, often without diacritics and with typos.
//!
//! A backend only answers "which products match these words, best first"; filters, facet counts,
//! sorting and pages then come from the catalog snapshot exactly as on `/products`, so every
//! backend shows the same facets for the same matches.

pub mod documents;
pub mod highlight;
pub mod http;
pub mod meili;
pub mod outbox;
mod postgres;
pub mod vocabulary;

pub use meili::MeiliSearch;
pub use postgres::PostgresSearch;

use crate::domain::fold_vietnamese;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

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

/// How long Meilisearch may take before the request is answered from Postgres instead.
const MEILI_TIMEOUT: Duration = Duration::from_millis(300);

/// The search the app uses: Meilisearch when configured, Postgres otherwise, and Postgres again
/// whenever Meilisearch is down or slow, so a shopper never sees an error for it.
pub struct Search {
    postgres: PostgresSearch,
    meili: Option<MeiliSearch>,
    fallbacks: AtomicU64,
}

impl Search {
    pub fn new(pool: sqlx::PgPool, meili: Option<MeiliSearch>) -> Search {
        Search {
            postgres: PostgresSearch::new(pool),
            meili,
            fallbacks: AtomicU64::new(0),
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

    /// How long a search answer may be reused within one catalog snapshot. Postgres answers from
    /// the same data the snapshot was loaded from, so for as long as the snapshot lives; the
    /// Meilisearch index catches up with a change a moment after the snapshot does, so briefly.
    pub fn freshness(&self) -> Option<Duration> {
        self.meili.as_ref().map(|_| Duration::from_secs(2))
    }

    /// Searches answered by Postgres because Meilisearch failed or was slow.
    pub fn fallbacks(&self) -> u64 {
        self.fallbacks.load(Ordering::Relaxed)
    }

    pub async fn matches(&self, terms: &Terms, limit: usize) -> Result<Vec<i64>, SearchError> {
        if let Some(meili) = &self.meili {
            let reason =
                match tokio::time::timeout(MEILI_TIMEOUT, meili.matches(terms, limit)).await {
                    Ok(Ok(ids)) => return Ok(ids),
                    Ok(Err(e)) => e.to_string(),
                    Err(_) => format!("no answer within {} ms", MEILI_TIMEOUT.as_millis()),
                };
            let total = self.fallbacks.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::warn!(search.reason = %reason, search.fallbacks = total, "Meilisearch unavailable: searching Postgres");
        }
        self.postgres.matches(terms, limit).await
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
