//! Postgres full-text search: folded, weighted tsvector per product (name above producer, place
//! and sector), prefix on the last word. The vocabulary is kept in memory: one-typo matches are
//! found there, and a query no product can match never reaches Postgres.

use super::{SearchBackend, SearchError, Terms};
use sqlx::PgPool;
use std::collections::BTreeSet;

/// How many of the newest vocabulary numbers are read again on every refresh (see
/// `refresh_vocabulary`).
const LOOK_BACK: i64 = 256;

pub struct PostgresSearch {
    pool: PgPool,
    /// the vocabulary (`search_word`), in memory: one-typo neighbours are found here, in
    /// microseconds, instead of through the trigram index (tens of milliseconds per query)
    vocabulary: std::sync::RwLock<Vocabulary>,
}

/// Every word of the catalog's search text (a superset of the products' tsvector lexemes), by
/// length and in order, the number of the last one fetched, and the catalog snapshot it was
/// fetched for.
#[derive(Default)]
struct Vocabulary {
    last: i64,
    catalog_version: u64,
    by_length: Vec<Vec<Box<str>>>,
    ordered: BTreeSet<Box<str>>,
}

impl Vocabulary {
    fn add(&mut self, word: &str) {
        // query words are a–z and 0–9 only: nothing else can ever be asked for
        if word.is_empty()
            || !word
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            return;
        }
        let n = word.len();
        if self.by_length.len() <= n {
            self.by_length.resize_with(n + 1, Vec::new);
        }
        self.by_length[n].push(word.into());
        self.ordered.insert(word.into());
    }

    fn has_prefix(&self, prefix: &str) -> bool {
        self.ordered
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .next()
            .is_some_and(|w| w.starts_with(prefix))
    }

    /// Whether some product could match: every group has an alternative whose words are all in
    /// the vocabulary (the last group's as a prefix too). When not, Postgres need not be asked.
    fn could_match(&self, groups: &[Group]) -> bool {
        let last = groups.len().saturating_sub(1);
        groups.iter().enumerate().all(|(i, g)| {
            g.alternatives.iter().any(|alt| {
                if alt.starts_with('(') {
                    alt.split(|c: char| !c.is_ascii_alphanumeric())
                        .filter(|w| !w.is_empty())
                        .all(|w| self.ordered.contains(w))
                } else if i == last {
                    self.has_prefix(alt)
                } else {
                    self.ordered.contains(alt.as_str())
                }
            })
        })
    }

    /// The words one edit from `term` (a letter added, removed or changed, and as similar by
    /// trigrams as Postgres' `%` asks), or with two neighbouring letters swapped.
    fn neighbours(&self, term: &str) -> Vec<String> {
        let t = term.as_bytes();
        let lengths = t.len().saturating_sub(1)..=t.len() + 1;
        lengths
            .filter_map(|n| self.by_length.get(n))
            .flatten()
            .filter(|w| {
                let w = w.as_bytes();
                (one_edit(w, t) && trigram_similar(w, t)) || swapped(w, t)
            })
            .map(|w| w.to_string())
            .collect()
    }
}

/// At most one letter added, removed or changed (Levenshtein ≤ 1), on ASCII words.
fn one_edit(a: &[u8], b: &[u8]) -> bool {
    let (long, short) = if a.len() >= b.len() { (a, b) } else { (b, a) };
    match long.len() - short.len() {
        0 => long.iter().zip(short).filter(|(x, y)| x != y).count() <= 1,
        1 => {
            let i = long.iter().zip(short).take_while(|(x, y)| x == y).count();
            long[i + 1..] == short[i..]
        }
        _ => false,
    }
}

/// Two different neighbouring letters swapped, nothing else changed.
fn swapped(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff: Vec<usize> = (0..a.len()).filter(|&i| a[i] != b[i]).collect();
    matches!(diff.as_slice(), [i, j] if *j == i + 1 && a[*i] == b[*j] && a[*j] == b[*i])
}

/// pg_trgm's `%` at its default threshold (0.3) for one word each: the trigrams of the word
/// padded with two spaces before and one after, shared ÷ all distinct.
fn trigram_similar(a: &[u8], b: &[u8]) -> bool {
    fn trigrams(w: &[u8]) -> Vec<[u8; 3]> {
        let mut padded = Vec::with_capacity(w.len() + 3);
        padded.extend_from_slice(b"  ");
        padded.extend_from_slice(w);
        padded.push(b' ');
        let mut t: Vec<[u8; 3]> = padded.windows(3).map(|x| [x[0], x[1], x[2]]).collect();
        t.sort_unstable();
        t.dedup();
        t
    }
    let (ta, tb) = (trigrams(a), trigrams(b));
    let shared = ta.iter().filter(|x| tb.binary_search(x).is_ok()).count();
    let all = ta.len() + tb.len() - shared;
    10 * shared >= 3 * all
}

impl PostgresSearch {
    pub fn new(pool: PgPool) -> Self {
        PostgresSearch {
            pool,
            vocabulary: Default::default(),
        }
    }

    /// Fetches the words added to the vocabulary since the last look, once per catalog snapshot
    /// (words arrive with the product changes that make a new snapshot), so a product named a
    /// moment ago is found with a typo at once.
    /// `None`: look whatever the snapshot.
    async fn refresh_vocabulary(&self, catalog_version: Option<u64>) -> Result<(), sqlx::Error> {
        let last = {
            let v = self.vocabulary.read().expect("vocabulary lock");
            if catalog_version.is_some_and(|c| v.catalog_version >= c) {
                return Ok(());
            }
            v.last
        };
        // numbers are taken when a word is inserted, but transactions commit in any order: a
        // word numbered just below the last one seen may commit after it, so a margin is read
        // again (words already known are skipped)
        let added = sqlx::query!(
            r#"select word, added from search_word where added > $1 order by added"#,
            last - LOOK_BACK
        )
        .fetch_all(&self.pool)
        .await?;
        let mut v = self.vocabulary.write().expect("vocabulary lock");
        if let Some(c) = catalog_version {
            v.catalog_version = v.catalog_version.max(c);
        }
        for row in added {
            if !v.ordered.contains(row.word.as_str()) {
                v.add(&row.word);
            }
            v.last = v.last.max(row.added);
        }
        Ok(())
    }

    /// For each group of query words, what may match it: the word itself, its synonyms from
    /// search/products.json (an English word or pair standing for a Vietnamese phrase: "fish
    /// sauce" → `nuoc <-> mam`), and words of the vocabulary one edit away from a word of five
    /// letters or more.
    fn typo_alternatives(&self, terms: &Terms) -> Vec<Group> {
        let mut groups = group_phrases(&terms.words);
        let long: Vec<String> = groups
            .iter()
            .map(|g| match g.single() {
                Some(w) if Terms::typo_allowed(w) => w.to_string(),
                _ => String::new(),
            })
            .collect();
        let v = self.vocabulary.read().expect("vocabulary lock");
        for (g, term) in groups.iter_mut().zip(&long) {
            if !term.is_empty() {
                g.alternatives.extend(v.neighbours(term));
            }
        }
        groups
    }

    /// Ids of the products matching every word, best first, in the catalog snapshot
    /// `catalog_version`: the vocabulary decides what may match (typos, and whether anything can
    /// match at all), Postgres ranks.
    pub async fn matches_in(
        &self,
        terms: &Terms,
        limit: usize,
        catalog_version: Option<u64>,
    ) -> Result<Vec<i64>, SearchError> {
        if terms.is_empty() {
            return Ok(Vec::new());
        }
        self.refresh_vocabulary(catalog_version).await?;
        let groups = self.typo_alternatives(terms);
        if !self
            .vocabulary
            .read()
            .expect("vocabulary lock")
            .could_match(&groups)
        {
            return Ok(Vec::new());
        }
        let query = tsquery(&groups);
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
        self.matches_in(terms, limit, None).await
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
    fn a_query_with_a_word_no_product_has_is_answered_without_postgres() {
        let mut v = Vocabulary::default();
        for w in ["banh", "da", "ke", "nuoc", "mam", "3.5kg"] {
            v.add(w);
        }
        let possible = |q: &str| v.could_match(&group_phrases(&words(q)));
        assert!(possible("banh da"));
        assert!(possible("banh d"), "the last word may be unfinished");
        assert!(!possible("ban da"), "only the last word is a prefix");
        assert!(!possible("abc qxz"));
        // an English pair stands for a Vietnamese phrase whose words are all there
        assert!(possible("fish sauce"));
        assert!(
            v.ordered.len() == 5,
            "only what a query can ask for is kept"
        );
    }

    #[test]
    fn one_typo_neighbours_are_found_in_memory_as_postgres_would() {
        let mut v = Vocabulary::default();
        for w in [
            "thuot", "nguyen", "nguyet", "ngyuen", "nguyenx", "ngu", "buon", "banh",
        ] {
            v.add(w);
        }
        // two swapped letters count as one typo, as on Meilisearch
        assert_eq!(v.neighbours("thout"), ["thuot"]);
        let mut n = v.neighbours("nguyen");
        n.sort();
        // itself, a letter changed, two swapped, a letter added; not three letters away
        assert_eq!(n, ["nguyen", "nguyenx", "nguyet", "ngyuen"]);
        assert!(one_edit(b"nguyn", b"nguyen") && one_edit(b"nguyen", b"nguyn"));
        assert!(
            !one_edit(b"nguyen", b"ngyuen"),
            "a swap is two Levenshtein edits"
        );
        assert!(swapped(b"nguyen", b"ngyuen") && !swapped(b"baaab", b"baaab"));
        // pg_trgm: similarity('nguyen', 'nguyn') is 4/9
        assert!(trigram_similar(b"nguyen", b"nguyn"));
        assert!(!trigram_similar(b"abcde", b"xbcdy"));
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
