//! Postgres full-text search: folded, weighted tsvector per product (name above producer, place
//! and sector), a vocabulary with a trigram index for one-typo matches, prefix on the last word.

use super::{SearchBackend, SearchError, Terms};
use sqlx::PgPool;
use std::collections::BTreeSet;

pub struct PostgresSearch {
    pool: PgPool,
}

impl PostgresSearch {
    pub fn new(pool: PgPool) -> Self {
        PostgresSearch { pool }
    }

    /// Words of the vocabulary one edit away from each query word of five letters or more.
    async fn typo_alternatives(&self, terms: &Terms) -> Result<Vec<BTreeSet<String>>, sqlx::Error> {
        let mut alternatives: Vec<BTreeSet<String>> = terms
            .words
            .iter()
            // the word itself and its synonyms from search/products.json, as Meilisearch does
            .map(|w| {
                std::iter::once(w.clone())
                    .chain(super::vocabulary::synonyms(w).iter().cloned())
                    .collect()
            })
            .collect();
        let long: Vec<String> = terms
            .words
            .iter()
            .map(|w| {
                if Terms::typo_allowed(w) {
                    w.clone()
                } else {
                    String::new()
                }
            })
            .collect();
        if long.iter().all(String::is_empty) {
            return Ok(alternatives);
        }
        let rows = sqlx::query!(
            r#"
            select t.n as "n!", w.word as "word!"
            from unnest($1::text[]) with ordinality as t(term, n)
            join search_word w on w.word % t.term and levenshtein_less_equal(w.word, t.term, 1) <= 1
            where length(t.term) >= 5
            "#,
            &long
        )
        .fetch_all(&self.pool)
        .await?;
        for r in rows {
            if let Some(set) = alternatives.get_mut((r.n - 1) as usize) {
                set.insert(r.word);
            }
        }
        Ok(alternatives)
    }
}

/// `(banh) & (da | da:*)`: words are a–z0–9 only (see `Terms`), so the query cannot be broken.
fn tsquery(alternatives: &[BTreeSet<String>]) -> String {
    let last = alternatives.len().saturating_sub(1);
    alternatives
        .iter()
        .enumerate()
        .map(|(i, words)| {
            let mut parts: Vec<String> = words.iter().cloned().collect();
            if i == last {
                // as-you-type: the last word may be unfinished
                parts.extend(words.iter().map(|w| format!("{w}:*")));
            }
            format!("({})", parts.join(" | "))
        })
        .collect::<Vec<_>>()
        .join(" & ")
}

impl SearchBackend for PostgresSearch {
    fn name(&self) -> &'static str {
        "postgres"
    }

    async fn matches(&self, terms: &Terms, limit: usize) -> Result<Vec<i64>, SearchError> {
        if terms.is_empty() {
            return Ok(Vec::new());
        }
        let query = tsquery(&self.typo_alternatives(terms).await?);
        let ids = sqlx::query_scalar!(
            r#"
            select p.product_id as "id!"
            from product p, to_tsquery('simple', $1) q
            where p.search_tsv @@ q
            order by ts_rank(p.search_tsv, q) desc, p.product_id desc
            limit $2
            "#,
            query,
            limit as i64
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_word_also_matches_as_a_prefix() {
        let alts = vec![
            BTreeSet::from(["tra".to_string()]),
            BTreeSet::from(["v".to_string()]),
        ];
        assert_eq!(tsquery(&alts), "(tra) & (v | v:*)");
    }
}
