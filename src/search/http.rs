//! `/search` (the results page), `/api/v1/search`, and the as-you-type suggestions.

use super::Terms;
use super::highlight::{highlight, matches_all, matches_all_folded};
use crate::catalog::listing::{ListQuery, Listing};
use crate::catalog::pages::{
    ApiFacets, ApiListing, Params, first_problem, list_view, listing_href,
};
use crate::catalog::snapshot::Snapshot;
use crate::catalog::views;
use crate::domain::vn_today;
use crate::error::{ApiError, AppError};
use crate::render::render_page;
use crate::state::AppState;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Serialize;

/// Search's part of the API description.
#[derive(utoipa::OpenApi)]
#[openapi(paths(api_search, api_suggest))]
pub struct ApiDoc;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/search", get(search_page))
        .route("/search/suggest", get(suggest_fragment))
        .route("/api/v1/search", get(api_search))
        .route("/api/v1/search/suggest", get(api_suggest))
}

async fn matching(
    state: &AppState,
    s: &Snapshot,
    q: &ListQuery,
) -> Result<(Listing, Terms), AppError> {
    let terms = Terms::parse(q.text.as_deref().unwrap_or(""));
    let listing = state
        .search
        .listing(s, q, &terms, vn_today())
        .await
        .map_err(|e| AppError::Unavailable(e.to_string()))?;
    Ok((listing, terms))
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
    let key = search_key("search", &state, &listing_href(&q));
    if problems.is_empty() {
        if let Some(hit) = s.pages.cached(&key) {
            return Ok(hit);
        }
    }
    let (listing, terms) = matching(&state, &s, &q).await?;
    let cacheable = problems.is_empty();
    let page = list_view(&s, &q, problems, listing, Some(&terms));
    Ok(if cacheable {
        s.pages.page(key, "catalog/list.html", || page)
    } else {
        render_page("catalog/list.html", &page)
    })
}

#[utoipa::path(
    get, path = "/api/v1/search", tag = "search",
    summary = "Products matching words, best match first, with the listing's filters and facets",
    description = "Typo-tolerant (a missing, extra, wrong or swapped letter per word), accent-\
insensitive, with English words mapped to Vietnamese ones. Each item carries `highlight`: its \
name as HTML with the matched parts in `<mark>`.",
    params(
        ("q" = String, Query, description = "What the shopper typed", example = "mat ong"),
        crate::catalog::listing::ListParams,
    ),
    responses(
        (status = 200, description = "A page of matches", body = ApiListing),
        (status = 400, description = "No words to search for, or a parameter that cannot be used", body = crate::error::ErrorBody),
        (status = 503, description = "The search engine cannot be reached", body = crate::error::ErrorBody),
    )
)]
pub(crate) async fn api_search(
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
    let key = search_key("api-search", &state, &listing_href(&q));
    if let Some(hit) = s.pages.cached(&key) {
        return Ok(hit);
    }
    let (listing, terms) = matching(&state, &s, &q).await?;
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
    Ok(s.pages.json(key, || body))
}

#[derive(Serialize, utoipa::ToSchema)]
struct Suggestion {
    label: String,
    /// the label as HTML with the matched parts marked
    highlight: String,
    url: String,
    detail: String,
}

/// What to offer under a search box as one types: a few products, producers and provinces.
#[derive(Serialize, Default, utoipa::ToSchema)]
struct Suggestions {
    query: String,
    products: Vec<Suggestion>,
    producers: Vec<Suggestion>,
    provinces: Vec<Suggestion>,
}

/// Suggestions start at two characters: fewer match half the catalog.
const SUGGEST_MIN_CHARS: usize = 2;
/// Products in the suggestion list: what fits above a phone's keyboard.
const SUGGESTED_PRODUCTS: usize = 6;

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
    let first = state
        .search
        .suggest(&s, &terms, SUGGESTED_PRODUCTS, today)
        .await
        .map_err(|e| AppError::Unavailable(e.to_string()))?;
    out.products = views::cards(&s, &first)
        .into_iter()
        .map(|c| Suggestion {
            highlight: highlight(&c.name, &terms),
            detail: format!(
                "{} · {}",
                crate::domain::Vnd::format(c.price_vnd.amount()),
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

/// The cache key of a search answer: what was asked, the day, and the search index version.
fn search_key(kind: &str, state: &AppState, asked: &str) -> String {
    format!(
        "{kind}|{}|{}|{asked}",
        vn_today(),
        state.search.generation()
    )
}

/// The cache key of a suggestion answer: the cleaned text decides it, nothing else.
fn suggest_key(kind: &str, state: &AppState, params: &[(String, String)]) -> String {
    let text = params
        .iter()
        .find(|(k, _)| k == "q")
        .and_then(|(_, v)| super::clean_query(v))
        .unwrap_or_default();
    search_key(kind, state, &text)
}

async fn suggest_fragment(
    State(state): State<AppState>,
    Query(params): Params,
) -> Result<Response, AppError> {
    let snapshot = state.catalog.snapshot();
    let key = suggest_key("suggest", &state, &params);
    if let Some(hit) = snapshot.pages.cached(&key) {
        return Ok(hit);
    }
    let s = suggestions(&state, &params).await?;
    Ok(snapshot.pages.page(key, "search/_suggest.html", || s))
}

#[utoipa::path(
    get, path = "/api/v1/search/suggest", tag = "search",
    summary = "Suggestions as one types (from two letters on)",
    params(("q" = Option<String>, Query, description = "What has been typed so far", example = "mat o")),
    responses(
        (status = 200, description = "Up to 6 products, 3 producers and 3 provinces; empty lists below two letters", body = Suggestions),
        (status = 503, description = "The search engine cannot be reached", body = crate::error::ErrorBody),
    )
)]
pub(crate) async fn api_suggest(
    State(state): State<AppState>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    let snapshot = state.catalog.snapshot();
    let key = suggest_key("api-suggest", &state, &params);
    if let Some(hit) = snapshot.pages.cached(&key) {
        return Ok(hit);
    }
    let s = suggestions(&state, &params).await?;
    Ok(snapshot.pages.json(key, || s))
}
