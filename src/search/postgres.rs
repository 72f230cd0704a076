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

    /// For each group of query words, what may match it: the word itself, its synonyms from
    /// search/products.json (an English word or pair standing for a Vietnamese phrase: "fish
    /// sauce" → `nuoc <-> mam`), and words of the vocabulary one edit away from a word of five
    /// letters or more.
    async fn typo_alternatives(&self, terms: &Terms) -> Result<Vec<Group>, sqlx::Error> {
        let mut groups = group_phrases(&terms.words);
        let long: Vec<String> = groups
            .iter()
            .map(|g| match g.single() {
                Some(w) if Terms::typo_allowed(w) => w.to_string(),
                _ => String::new(),
            })
            .collect();
        if long.iter().all(String::is_empty) {
            return Ok(groups);
        }
        // one edit is a letter added, removed or changed (Levenshtein, found through the trigram
        // index), or two neighbours swapped ("thout" for "thuot", as Meilisearch counts it):
        // those few spellings are looked up exactly
        let (swapped, swapped_n): (Vec<String>, Vec<i64>) = long
            .iter()
            .enumerate()
            .flat_map(|(i, w)| {
                transpositions(w)
                    .into_iter()
                    .map(move |t| (t, i as i64 + 1))
            })
            .unzip();
        let rows = sqlx::query!(
            r#"
            select t.n as "n!", w.word as "word!"
            from unnest($1::text[]) with ordinality as t(term, n)
            join search_word w on w.word % t.term and levenshtein_less_equal(w.word, t.term, 1) <= 1
            where length(t.term) >= 5
            union all
            select t.n, w.word
            from unnest($2::text[], $3::bigint[]) as t(variant, n)
            join search_word w on w.word = t.variant
            "#,
            &long,
            &swapped,
            &swapped_n
        )
        .fetch_all(&self.pool)
        .await?;
        for r in rows {
            if let Some(g) = groups.get_mut((r.n - 1) as usize) {
                g.alternatives.insert(r.word);
            }
        }
        Ok(groups)
    }
}

/// Every spelling of `word` with two neighbouring letters swapped (none for short words).
fn transpositions(word: &str) -> Vec<String> {
    let chars: Vec<char> = word.chars().collect();
    if !Terms::typo_allowed(word) {
        return vec![];
    }
    (0..chars.len() - 1)
        .filter(|&i| chars[i] != chars[i + 1])
        .map(|i| {
            let mut c = chars.clone();
            c.swap(i, i + 1);
            c.into_iter().collect()
        })
        .collect()
}

/// The same query restricted to product names (weight A): a product whose name holds every word
/// ranks above one where they are spread over name, producer and place.
fn name_only(query: &str) -> String {
    let mut out = String::with_capacity(query.len() + 16);
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if word.is_empty() {
            return;
        }
        if let Some(stem) = word.strip_suffix(":*") {
            out.push_str(stem);
            out.push_str(":*A");
        } else {
            out.push_str(word);
            out.push_str(":A");
        }
        word.clear();
    };
    for c in query.chars() {
        if c.is_ascii_alphanumeric() || c == ':' || c == '*' {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// One or two query words that match together, and the tsquery pieces that may match them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Group {
    words: Vec<String>,
    /// words, or phrases written `(a <-> b)`
    alternatives: BTreeSet<String>,
}

impl Group {
    fn single(&self) -> Option<&str> {
        match self.words.as_slice() {
            [w] => Some(w),
            _ => None,
        }
    }
}

/// A synonym as a tsquery piece: words as they are, phrases as `(a <-> b)`.
fn piece(phrase: &str) -> String {
    let words: Vec<&str> = phrase
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    if words.len() == 1 {
        words[0].to_string()
    } else {
        format!("({})", words.join(" <-> "))
    }
}

/// Query words in groups: a pair with a synonym ("fish sauce") is one group, as are single words.
fn group_phrases(words: &[String]) -> Vec<Group> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        if let Some(next) = words.get(i + 1) {
            let pair = format!("{} {next}", words[i]);
            let targets = super::vocabulary::phrase_synonyms(&pair);
            if !targets.is_empty() {
                let mut alternatives: BTreeSet<String> = targets.iter().map(|t| piece(t)).collect();
                alternatives.insert(format!("({} <-> {next})", words[i]));
                out.push(Group {
                    words: vec![words[i].clone(), next.clone()],
                    alternatives,
                });
                i += 2;
                continue;
            }
        }
        let w = &words[i];
        let alternatives = std::iter::once(w.clone())
            .chain(super::vocabulary::synonyms(w).iter().cloned())
            .chain(
                super::vocabulary::phrase_synonyms(w)
                    .iter()
                    .map(|t| piece(t)),
            )
            .collect();
        out.push(Group {
            words: vec![w.clone()],
            alternatives,
        });
        i += 1;
    }
    out
}

/// `(banh) & (da | da:*)`: words are a–z0–9 only (see `Terms`), so the query cannot be broken.
fn tsquery(groups: &[Group]) -> String {
    let last = groups.len().saturating_sub(1);
    groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let words = &g.alternatives;
            let mut parts: Vec<String> = words.iter().cloned().collect();
            if i == last {
                // as-you-type: the last word may be unfinished (phrases are whole)
                parts.extend(
                    words
                        .iter()
                        .filter(|w| !w.starts_with('('))
                        .map(|w| format!("{w}:*")),
                );
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
        let in_name = name_only(&query);
        let ids = sqlx::query_scalar!(
            r#"
            select p.product_id as "id!"
            from product p, to_tsquery('simple', $1) q, to_tsquery('simple', $3) n
            where p.search_tsv @@ q
            order by (p.search_tsv @@ n) desc, ts_rank(p.search_tsv, q) desc, p.product_id desc
            limit $2
            "#,
            query,
            limit as i64,
            in_name
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_string).collect()
    }

    #[test]
    fn the_last_word_also_matches_as_a_prefix() {
        let groups = vec![
            Group {
                words: words("tra"),
                alternatives: BTreeSet::from(["tra".to_string()]),
            },
            Group {
                words: words("v"),
                alternatives: BTreeSet::from(["v".to_string()]),
            },
        ];
        assert_eq!(tsquery(&groups), "(tra) & (v | v:*)");
    }

    #[test]
    fn two_swapped_letters_are_one_typo_as_on_meilisearch() {
        let t = transpositions("thout");
        assert!(t.contains(&"thuot".to_string()), "{t:?}");
        assert!(transpositions("tra").is_empty(), "short words take no typo");
        assert!(!transpositions("baaab").contains(&"baaab".to_string()));
    }

    #[test]
    fn the_name_query_asks_for_every_word_in_the_name() {
        assert_eq!(
            name_only("(tra | che) & (mat <-> ong | v | v:*)"),
            "(tra:A | che:A) & (mat:A <-> ong:A | v:A | v:*A)"
        );
    }

    #[test]
    fn english_words_search_for_the_vietnamese_names_they_mean() {
        let q = tsquery(&group_phrases(&words("honey")));
        assert!(q.contains("(mat <-> ong)"), "{q}");
        let q = tsquery(&group_phrases(&words("fish sauce")));
        assert!(q.contains("(nuoc <-> mam)"), "{q}");
        assert!(!q.contains(" & "), "a known pair is one group: {q}");
    }
}
