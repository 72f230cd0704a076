//! `/search` (the results page), `/api/v1/search`, and the as-you-type suggestions.

use super::Terms;
use super::highlight::{highlight, matches_all, matches_all_folded};
use crate::app::AppState;
use crate::catalog::http::{ApiFacets, ApiListing, Params, first_problem, list_view, listing_href};
use crate::catalog::listing::{ListQuery, Listing};
use crate::catalog::snapshot::Snapshot;
use crate::catalog::views;
use crate::domain::vn_today;
use crate::error::{ApiError, AppError};
use crate::render::render_page;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Serialize;
use std::sync::Arc;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/search", get(search_page))
        .route("/search/suggest", get(suggest_fragment))
        .route("/api/v1/search", get(api_search))
        .route("/api/v1/search/suggest", get(api_suggest))
}

/// Enough matches for every facet count to be exact in a province-sized catalog, and for the
/// national catalog's broadest words.
const MATCH_LIMIT: usize = 20_000;

/// Ranked matches for `terms`, asked of the backend once per catalog snapshot.
async fn ranked(state: &AppState, s: &Snapshot, terms: &Terms) -> Result<Arc<Vec<i64>>, AppError> {
    if let Some(ids) = s.remembered_matches(&terms.words, state.search.freshness()) {
        return Ok(ids);
    }
    let ids = state
        .search
        .matches(terms, MATCH_LIMIT)
        .await
        .map_err(|e| AppError::Unavailable(e.to_string()))?;
    let ids = Arc::new(ids);
    s.remember_matches(terms.words.clone(), ids.clone());
    Ok(ids)
}

async fn matching(state: &AppState, q: &ListQuery) -> Result<(Listing, Terms), AppError> {
    let s = state.catalog.snapshot();
    let terms = Terms::parse(q.text.as_deref().unwrap_or(""));
    let ids = ranked(state, &s, &terms).await?;
    Ok((s.list_matches(&ids, q, vn_today()), terms))
}

async fn search_page(
    State(state): State<AppState>,
    Query(params): Params,
) -> Result<Response, AppError> {
    let s = state.catalog.snapshot();
    let (q, problems) = ListQuery::parse(&params, &s.admin);
    if q.text.is_none() {
        // nothing typed: the listing, with whatever filters came along
        return Ok(Redirect::to(&listing_href(&q)).into_response());
    }
    let today = vn_today();
    let key = format!("search|{today}|{}", listing_href(&q));
    if problems.is_empty() {
        if let Some(hit) = s.pages.cached_within(&key, state.search.freshness()) {
            return Ok(hit);
        }
    }
    let (listing, terms) = matching(&state, &q).await?;
    let cacheable = problems.is_empty();
    let page = list_view(&s, &q, problems, listing, Some(&terms));
    Ok(if cacheable {
        s.pages
            .page_within(key, "catalog/list.html", state.search.freshness(), || page)
    } else {
        render_page("catalog/list.html", &page)
    })
}

async fn api_search(
    State(state): State<AppState>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    let s = state.catalog.snapshot();
    let (q, problems) = ListQuery::parse(&params, &s.admin);
    first_problem(problems)?;
    if q.text.is_none() {
        return Err(
            AppError::bad("missing_query", "Hãy nhập từ khóa tìm kiếm (tham số q).").into(),
        );
    }
    let key = format!("api-search|{}|{}", vn_today(), listing_href(&q));
    if let Some(hit) = s.pages.cached_within(&key, state.search.freshness()) {
        return Ok(hit);
    }
    let (listing, terms) = matching(&state, &q).await?;
    let mut items = views::cards(&s, &listing.product_ids);
    for item in &mut items {
        item.highlight = Some(highlight(&item.name, &terms));
    }
    let body = ApiListing {
        total: listing.counts.total,
        page: q.page,
        per_page: q.per_page,
        facets: ApiFacets::new(&s, &listing.counts),
        items,
    };
    Ok(s.pages.json_within(key, state.search.freshness(), || body))
}

#[derive(Serialize)]
struct Suggestion {
    label: String,
    /// the label as HTML with the matched parts marked
    highlight: String,
    url: String,
    detail: String,
}

#[derive(Serialize, Default)]
struct Suggestions {
    query: String,
    products: Vec<Suggestion>,
    producers: Vec<Suggestion>,
    provinces: Vec<Suggestion>,
}

/// Suggestions start at two characters: fewer match half the catalog.
const SUGGEST_MIN_CHARS: usize = 2;

async fn suggestions(
    state: &AppState,
    params: &[(String, String)],
) -> Result<Suggestions, AppError> {
    let text = params
        .iter()
        .find(|(k, _)| k == "q")
        .and_then(|(_, v)| super::clean_query(v))
        .unwrap_or_default();
    let terms = Terms::parse(&text);
    let mut out = Suggestions {
        query: text.clone(),
        ..Default::default()
    };
    if text.chars().count() < SUGGEST_MIN_CHARS || terms.is_empty() {
        return Ok(out);
    }
    let s = state.catalog.snapshot();
    let today = vn_today();
    let ids = ranked(state, &s, &terms).await?;
    let first = s.first_listed(&ids, 6, today);
    out.products = views::cards(&s, &first)
        .into_iter()
        .map(|c| Suggestion {
            highlight: highlight(&c.name, &terms),
            detail: format!(
                "{} · {}",
                crate::domain::Vnd::format(c.price_vnd),
                c.province_name
            ),
            label: c.name,
            url: c.url,
        })
        .collect();
    // by name, stopping at the third match
    let producers = s
        .producers_by_name
        .iter()
        .filter_map(|id| s.producers.get(id))
        .filter(|p| matches_all_folded(&p.folded_name, &terms));
    out.producers = producers
        .take(3)
        .map(|p| Suggestion {
            highlight: highlight(&p.name, &terms),
            label: p.name.clone(),
            url: format!("/producers/{}", p.slug),
            detail: s
                .admin
                .province(p.province_code)
                .map(|v| v.name.clone())
                .unwrap_or_default(),
        })
        .collect();
    out.provinces = s
        .admin
        .provinces
        .iter()
        .filter(|p| matches_all(&p.name, &terms))
        .take(3)
        .map(|p| Suggestion {
            highlight: highlight(&p.name, &terms),
            label: p.name.clone(),
            url: format!("/products?province={}", p.code),
            detail: "Tỉnh/thành".into(),
        })
        .collect();
    Ok(out)
}

/// The cache key of a suggestion answer: the cleaned text decides it, nothing else.
fn suggest_key(kind: &str, params: &[(String, String)]) -> String {
    let text = params
        .iter()
        .find(|(k, _)| k == "q")
        .and_then(|(_, v)| super::clean_query(v))
        .unwrap_or_default();
    format!("{kind}|{}|{text}", vn_today())
}

async fn suggest_fragment(
    State(state): State<AppState>,
    Query(params): Params,
) -> Result<Response, AppError> {
    let snapshot = state.catalog.snapshot();
    let key = suggest_key("suggest", &params);
    if let Some(hit) = snapshot.pages.cached_within(&key, state.search.freshness()) {
        return Ok(hit);
    }
    let s = suggestions(&state, &params).await?;
    Ok(snapshot
        .pages
        .page_within(key, "search/_suggest.html", state.search.freshness(), || s))
}

async fn api_suggest(
    State(state): State<AppState>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    let snapshot = state.catalog.snapshot();
    let key = suggest_key("api-suggest", &params);
    if let Some(hit) = snapshot.pages.cached_within(&key, state.search.freshness()) {
        return Ok(hit);
    }
    let s = suggestions(&state, &params).await?;
    Ok(snapshot
        .pages
        .json_within(key, state.search.freshness(), || s))
}
