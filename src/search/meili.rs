//! The Meilisearch backend, used as it is built to be used: each search asks for the page it
//! shows and the facet counts it shows. Queries are folded a–z0–9 words only; filters are built
//! from the listing's typed values (province code, sector enum, stars, prices, in stock), never
//! from text a shopper sent, and mean exactly what they mean on `/products`.

use super::documents::Doc;
use super::outbox::SearchIndex;
use super::{SearchBackend, SearchError, Terms};
use crate::catalog::listing::{Counts, Filter, ListQuery, Listing, Sort};
use crate::domain::{ProducerType, Sector};
use meilisearch_sdk::client::{Client, SwapIndexes};
use meilisearch_sdk::search::{MatchingStrategies, SearchQuery, SearchResults, Selectors};
use meilisearch_sdk::settings::Settings;
use meilisearch_sdk::task_info::TaskInfo;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// The index settings, kept as data beside the code.
pub const SETTINGS_JSON: &str = include_str!("../../search/products.json");

pub fn settings() -> Settings {
    serde_json::from_str(SETTINGS_JSON).expect("search/products.json is valid Meilisearch settings")
}

/// Documents per task when the whole catalog is sent: Meilisearch batches queued tasks itself.
const REBUILD_CHUNK: usize = 5_000;
/// How often a task's state is asked for while waiting: an edit waits for it to be findable.
const TASK_POLL: Duration = Duration::from_millis(10);

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

/// The facets a listing shows, as Meilisearch attributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Facet {
    Province,
    Commune,
    Sector,
    Stars,
    ProducerType,
    InStock,
}

impl Facet {
    fn attribute(self) -> &'static str {
        match self {
            Facet::Province => "province_code",
            Facet::Commune => "commune_code",
            Facet::Sector => "sector",
            Facet::Stars => "stars",
            Facet::ProducerType => "producer_type",
            Facet::InStock => "in_stock",
        }
    }
}

/// One filter condition, and the facet it belongs to (a facet's count ignores its own filter).
struct Condition {
    facet: Option<Facet>,
    expression: String,
}

/// The listing's filter as Meilisearch conditions, built from typed values only. Certificate
/// expiry is not one: expired products leave the index by the outbox's daily job a few seconds
/// after midnight, and a range filter on every search would cost a third of Meilisearch's time.
fn conditions(f: &Filter) -> Vec<Condition> {
    let mut out = Vec::new();
    let mut add =
        |facet: Option<Facet>, expression: String| out.push(Condition { facet, expression });
    if let Some(p) = f.province {
        add(Some(Facet::Province), format!("province_code = {p}"));
    }
    if let Some(c) = f.commune {
        add(Some(Facet::Commune), format!("commune_code = {c}"));
    }
    if let Some(s) = f.sector {
        add(Some(Facet::Sector), format!("sector = \"{}\"", s.key()));
    }
    if let Some(s) = f.stars {
        add(Some(Facet::Stars), format!("stars = {}", s.get()));
    }
    if let Some(t) = f.producer_type {
        add(
            Some(Facet::ProducerType),
            format!("producer_type = \"{}\"", t.key()),
        );
    }
    if let Some(min) = f.price_min {
        add(None, format!("price_vnd >= {}", min.amount()));
    }
    if let Some(max) = f.price_max {
        add(None, format!("price_vnd <= {}", max.amount()));
    }
    if f.in_stock {
        add(Some(Facet::InStock), "in_stock = true".into());
    }
    if let Some(min) = f.min_rating {
        add(None, format!("rating >= {}", u32::from(min) * 10));
    }
    out
}

/// The order of a sorted listing, ties broken as the catalog breaks them (newest first).
fn sort_rules(sort: Sort) -> &'static [&'static str] {
    match sort {
        Sort::Relevance => &[],
        Sort::Newest => &["created_at:desc", "id:desc"],
        Sort::PriceAsc => &["price_vnd:asc", "created_at:desc", "id:desc"],
        Sort::PriceDesc => &["price_vnd:desc", "created_at:desc", "id:desc"],
        Sort::Stars => &["stars:desc", "created_at:desc", "id:desc"],
        Sort::Rating => &[
            "rating:desc",
            "rating_count:desc",
            "created_at:desc",
            "id:desc",
        ],
    }
}

/// Adds one facet's distribution to the counts, keeping only values the catalog knows.
fn add_distribution(counts: &mut Counts, facet: Facet, values: &HashMap<String, usize>) {
    fn fill<K: Ord>(
        map: &mut BTreeMap<K, u32>,
        values: &HashMap<String, usize>,
        key: impl Fn(&str) -> Option<K>,
    ) {
        for (value, n) in values {
            if let Some(k) = key(value).filter(|_| *n > 0) {
                map.insert(k, *n as u32);
            }
        }
    }
    match facet {
        Facet::Province => fill(&mut counts.province, values, |v| v.parse().ok()),
        Facet::Commune => fill(&mut counts.commune, values, |v| v.parse().ok()),
        Facet::Sector => fill(&mut counts.sector, values, Sector::from_key),
        Facet::Stars => fill(&mut counts.stars, values, |v| v.parse().ok()),
        Facet::ProducerType => fill(&mut counts.producer_type, values, ProducerType::from_key),
        Facet::InStock => {
            counts.in_stock = values.get("true").copied().unwrap_or(0) as u32;
        }
    }
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
            .wait_for_completion(&self.client, None, Some(Duration::from_secs(120)))
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

    /// Waits until every task has been applied; the first failure is the answer.
    async fn finish(&self, tasks: Vec<TaskInfo>, within: Duration) -> Result<(), SearchError> {
        for task in tasks {
            let done = task
                .wait_for_completion(&self.client, Some(TASK_POLL), Some(within))
                .await
                .map_err(unavailable)?;
            if !done.is_success() {
                return Err(SearchError::Unavailable(format!("task failed: {done:?}")));
            }
        }
        Ok(())
    }

    /// Sends documents and deletions to `uid` (queued together, so Meilisearch applies them in
    /// one batch) and waits until they are applied.
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
        self.finish(tasks, Duration::from_secs(30)).await
    }

    /// Removes this index and its documents (tests clean up after themselves with it).
    pub async fn drop_index(&self) {
        let _ = self.client.delete_index(&self.index).await;
    }

    /// Builds a fresh index beside the live one, then swaps them: searches never see it half
    /// built. Every chunk is queued at once, so Meilisearch indexes them as one batch.
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
        let index = self.client.index(&fresh);
        let mut tasks = Vec::new();
        for chunk in docs.chunks(REBUILD_CHUNK) {
            tasks.push(
                index
                    .add_or_replace(chunk, Some("id"))
                    .await
                    .map_err(unavailable)?,
            );
        }
        for (task, chunk) in tasks.into_iter().zip(docs.chunks(REBUILD_CHUNK)) {
            self.finish(vec![task], Duration::from_secs(600)).await?;
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

    /// One page of matches for `q` with the listing's facet counts, in one round trip.
    ///
    /// Facets are disjunctive, as on `/products`: the main query counts the facets that are not
    /// filtered; each filtered facet gets a query of its own without its filter (no hits, its
    /// counts only). Hits are the ids of the page, best or sorted first; the catalog shows them.
    pub async fn listing(&self, q: &ListQuery, terms: &Terms) -> Result<Listing, SearchError> {
        if terms.is_empty() {
            return Ok(Listing {
                product_ids: Vec::new(),
                counts: Arc::new(Counts::default()),
            });
        }
        let text = terms.words.join(" ");
        let all = conditions(&q.filter);
        let mut shown = vec![
            Facet::Province,
            Facet::Sector,
            Facet::Stars,
            Facet::ProducerType,
            Facet::InStock,
        ];
        if q.filter.province.is_some() {
            shown.push(Facet::Commune);
        }
        let filtered = |f: Facet| all.iter().any(|c| c.facet == Some(f));
        // in stock is a count, not a list: with its filter on, it is the total
        let main_facets: Vec<&str> = shown
            .iter()
            .filter(|f| !filtered(**f))
            .map(|f| f.attribute())
            .collect();
        let main_filter: Vec<&str> = all.iter().map(|c| c.expression.as_str()).collect();
        let own: Vec<(Facet, [&str; 1], Vec<&str>)> = shown
            .iter()
            .copied()
            .filter(|f| *f != Facet::InStock && filtered(*f))
            .map(|f| {
                let without: Vec<&str> = all
                    .iter()
                    .filter(|c| c.facet != Some(f))
                    .map(|c| c.expression.as_str())
                    .collect();
                (f, [f.attribute()], without)
            })
            .collect();

        let index = self.client.index(&self.index);
        let mut main = SearchQuery::new(&index);
        main.with_query(&text)
            .with_matching_strategy(MatchingStrategies::ALL)
            .with_array_filter(main_filter)
            .with_facets(Selectors::Some(&main_facets))
            .with_page(q.page as usize)
            .with_hits_per_page(q.per_page as usize)
            .with_attributes_to_retrieve(Selectors::Some(&["id"]));
        let sort = sort_rules(q.sort);
        if !sort.is_empty() {
            main.with_sort(sort);
        }
        let mut multi = self.client.multi_search();
        multi.with_search_query(main);
        for (_, attribute, without) in &own {
            let mut query = SearchQuery::new(&index);
            query
                .with_query(&text)
                .with_matching_strategy(MatchingStrategies::ALL)
                .with_array_filter(without.clone())
                .with_facets(Selectors::Some(attribute))
                .with_limit(0);
            multi.with_search_query(query);
        }
        let answer = multi.execute::<Hit>().await.map_err(unavailable)?;
        let mut results = answer.results.into_iter();
        let first: SearchResults<Hit> = results
            .next()
            .ok_or_else(|| unavailable("multi-search answered no results"))?;
        let mut counts = Counts {
            total: first.total_hits.unwrap_or(0) as u32,
            ..Counts::default()
        };
        let distribution = first.facet_distribution.unwrap_or_default();
        for facet in shown.iter().filter(|f| !filtered(**f)) {
            if let Some(values) = distribution.get(facet.attribute()) {
                add_distribution(&mut counts, *facet, values);
            }
        }
        if q.filter.in_stock {
            counts.in_stock = counts.total;
        }
        for ((facet, _, _), result) in own.iter().zip(results) {
            if let Some(values) = result
                .facet_distribution
                .as_ref()
                .and_then(|d| d.get(facet.attribute()))
            {
                add_distribution(&mut counts, *facet, values);
            }
        }
        let product_ids = first.hits.into_iter().map(|h| h.result.id).collect();
        Ok(Listing {
            product_ids,
            counts: Arc::new(counts),
        })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Stars;

    #[test]
    fn filters_are_built_from_typed_values_and_name_their_facet() {
        let f = Filter {
            province: Some(22),
            commune: Some(7093),
            sector: Some(Sector::ALL[0]),
            stars: Stars::new(4),
            producer_type: Some(ProducerType::ALL[0]),
            price_min: Some(crate::domain::Vnd::new(10_000)),
            price_max: Some(crate::domain::Vnd::new(90_000)),
            in_stock: true,
            min_rating: Some(4),
        };
        let c = conditions(&f);
        let text: Vec<&str> = c.iter().map(|c| c.expression.as_str()).collect();
        assert!(text.contains(&"province_code = 22"));
        assert!(text.contains(&"commune_code = 7093"));
        assert!(text.contains(&format!("sector = \"{}\"", Sector::ALL[0].key()).as_str()));
        assert!(text.contains(&"stars = 4"));
        assert!(text.contains(&"rating >= 40"));
        assert!(text.contains(&"price_vnd >= 10000") && text.contains(&"price_vnd <= 90000"));
        assert!(text.contains(&"in_stock = true"));
        assert_eq!(c.len(), 9);
        assert_eq!(
            c.iter().filter(|c| c.facet.is_none()).count(),
            3,
            "prices and the rating threshold are no facet"
        );
        assert!(conditions(&Filter::default()).is_empty());
    }
}
