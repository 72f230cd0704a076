//! The listing as pages and API answers show it, shared by `/products` and `/search`: facet
//! groups with counts, the active filters, the no-JavaScript filter form, canonical URLs, and the
//! JSON shapes of the API.

use super::listing::{Counts, ListQuery, Problem, Sort};
use super::snapshot::Snapshot;
use super::views::{self, ProductCard};
use crate::domain::vn_today;
use crate::domain::{ProducerType, Sector};
use crate::error::{ApiError, AppError};
use crate::i18n::{label, place, tr, tr_with};
use axum::extract::Query;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

/// A listing's query string, as pairs in the order given.
pub(crate) type Params = Query<Vec<(String, String)>>;

/// A page of products with the facet counts of the whole result.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ApiListing {
    pub total: u32,
    pub page: u32,
    pub per_page: u32,
    pub items: Vec<ProductCard>,
    pub facets: ApiFacets,
}

/// For each filter value, how many products the result would have with that value chosen and
/// the other filters kept (every value appears, with 0 where nothing matches).
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ApiFacets {
    /// by province code
    province: BTreeMap<String, u32>,
    /// by commune code, only when a province is chosen
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(required = false)]
    commune: BTreeMap<String, u32>,
    /// by sector key
    sector: BTreeMap<&'static str, u32>,
    /// by stars: "3", "4", "5"
    stars: BTreeMap<String, u32>,
    /// by producer type key
    producer_type: BTreeMap<&'static str, u32>,
    /// how many are in stock
    in_stock: u32,
}

impl ApiFacets {
    /// Every possible value appears, with 0 where nothing matches, so clients need no special case.
    pub(crate) fn new(s: &Snapshot, c: &Counts) -> ApiFacets {
        ApiFacets {
            province: s
                .admin
                .provinces
                .iter()
                .map(|p| (p.code.to_string(), *c.province.get(&p.code).unwrap_or(&0)))
                .collect(),
            commune: c.commune.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            sector: Sector::ALL
                .iter()
                .map(|k| (k.key(), *c.sector.get(k).unwrap_or(&0)))
                .collect(),
            stars: [3u8, 4, 5]
                .iter()
                .map(|k| (k.to_string(), *c.stars.get(k).unwrap_or(&0)))
                .collect(),
            producer_type: ProducerType::ALL
                .iter()
                .map(|k| (k.key(), *c.producer_type.get(k).unwrap_or(&0)))
                .collect(),
            in_stock: c.in_stock,
        }
    }
}

pub(crate) fn first_problem(problems: Vec<Problem>) -> Result<(), ApiError> {
    match problems.into_iter().next() {
        Some(p) => Err(AppError::bad(invalid_code(p.field), p.message).into()),
        None => Ok(()),
    }
}

pub(crate) fn invalid_code(field: &str) -> &'static str {
    match field {
        "province" => "invalid_province",
        "commune" => "invalid_commune",
        "sector" => "invalid_sector",
        "stars" => "invalid_stars",
        "producer_type" => "invalid_producer_type",
        "price_min" | "price_max" => "invalid_price",
        "in_stock" => "invalid_in_stock",
        "sort" => "invalid_sort",
        "page" => "invalid_page",
        "per_page" => "invalid_per_page",
        "rating" => "invalid_rating",
        _ => "invalid_parameter",
    }
}

#[derive(Serialize)]
pub(crate) struct Link {
    label: String,
    count: Option<u32>,
    href: String,
    selected: bool,
}

pub(crate) struct FacetGroup {
    key: &'static str,
    title: String,
    options: Vec<Link>,
}

/// The facet lists as HTML, written here rather than by the template: some fifty links on every
/// listing, each a handful of template lookups, were a third of an uncached page's rendering.
fn facets_html(groups: &[FacetGroup]) -> String {
    use crate::render::escape_html as esc;
    let mut out = String::with_capacity(8 * 1024);
    for g in groups {
        let _ = write!(
            out,
            "<section class=\"facet facet-{}\">\n<h2>{}</h2>\n<ul>\n",
            g.key,
            esc(&g.title)
        );
        for o in &g.options {
            let _ = write!(out, "<li><a href=\"{}\"", esc(&o.href));
            if o.selected {
                out.push_str(" aria-current=\"true\" class=\"selected\"");
            }
            let _ = write!(out, ">{}", esc(&o.label));
            if let Some(n) = o.count {
                let _ = write!(out, " <span class=\"count\">{n}</span>");
            }
            out.push_str("</a></li>");
        }
        out.push_str("\n</ul>\n</section>\n");
    }
    out
}

#[derive(Serialize)]
pub(crate) struct Choice {
    value: String,
    label: String,
    selected: bool,
}

#[derive(Serialize)]
pub(crate) struct ListPage {
    title: String,
    /// this listing's one address: filters in a fixed order
    canonical: String,
    /// what was searched for, on /search
    query_text: Option<String>,
    /// shown when nothing matched: the best-rated products
    popular: Vec<String>,
    notices: Vec<String>,
    total: u32,
    /// the page's product cards, as HTML
    cards: Vec<String>,
    /// the facet lists, as HTML
    facets: String,
    sorts: Vec<Link>,
    pages: Vec<Link>,
    prev_href: Option<String>,
    next_href: Option<String>,
    clear_href: Option<String>,
    /// past the last page: where the results are (the first page)
    past_end: Option<String>,
    /// the filters in force, each with a link that removes it
    active: Vec<Link>,
    form: FilterForm,
}

/// The no-JavaScript form for what links cannot express (a price range, the stock tick box, the
/// order); the filters already chosen through facet links ride along as hidden fields.
#[derive(Serialize)]
pub(crate) struct FilterForm {
    hidden: Vec<(&'static str, String)>,
    sorts: Vec<Choice>,
    price_min: Option<crate::domain::Vnd>,
    price_max: Option<crate::domain::Vnd>,
    in_stock: bool,
}

/// The canonical listing URL for a query: same filters, same order of parameters.
pub fn listing_href(q: &ListQuery) -> String {
    let f = &q.filter;
    let mut s = String::from(if q.text.is_some() {
        "/search"
    } else {
        "/products"
    });
    let mut sep = '?';
    let mut put = |k: &str, v: &dyn std::fmt::Display| {
        let _ = write!(s, "{sep}{k}={v}");
        sep = '&';
    };
    if let Some(text) = &q.text {
        put(
            "q",
            &form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>(),
        );
    }
    if let Some(v) = f.province {
        put("province", &v);
    }
    if let Some(v) = f.commune {
        put("commune", &v);
    }
    if let Some(v) = f.sector {
        put("sector", &v.key());
    }
    if let Some(v) = f.stars {
        put("stars", &v.get());
    }
    if let Some(v) = f.producer_type {
        put("producer_type", &v.key());
    }
    if let Some(v) = f.price_min {
        put("price_min", &v.amount());
    }
    if let Some(v) = f.price_max {
        put("price_max", &v.amount());
    }
    if f.in_stock {
        put("in_stock", &"1");
    }
    if let Some(r) = f.min_rating {
        put("rating", &r);
    }
    if q.sort != Sort::default_for(q.text.is_some()) {
        put("sort", &q.sort.key());
    }
    if q.per_page != super::listing::DEFAULT_PER_PAGE {
        put("per_page", &q.per_page);
    }
    if q.page > 1 {
        put("page", &q.page);
    }
    s
}

/// The same query changed by `change`, back on page 1.
fn with(q: &ListQuery, change: impl FnOnce(&mut ListQuery)) -> String {
    let mut next = q.clone();
    next.page = 1;
    change(&mut next);
    listing_href(&next)
}

fn facet_groups(s: &Snapshot, q: &ListQuery, c: &Counts) -> Vec<FacetGroup> {
    let f = &q.filter;
    let mut groups = Vec::new();
    let option = |label: String, count: u32, selected: bool, href: String| Link {
        label,
        count: Some(count),
        href,
        selected,
    };

    groups.push(FacetGroup {
        key: "province",
        title: tr("facet-province"),
        options: s
            .admin
            .provinces
            .iter()
            .filter_map(|p| {
                let n = c.province.get(&p.code).copied().unwrap_or(0);
                let selected = f.province == Some(p.code);
                (n > 0 || selected).then(|| {
                    let href = with(q, |x| {
                        x.filter.province = (!selected).then_some(p.code);
                        x.filter.commune = None;
                    });
                    option(place(&p.name), n, selected, href)
                })
            })
            .collect(),
    });
    if let Some(province) = f.province.and_then(|p| s.admin.province(p)) {
        groups.push(FacetGroup {
            key: "commune",
            title: tr("facet-commune"),
            options: province
                .communes
                .iter()
                .filter_map(|code| {
                    let n = c.commune.get(code).copied().unwrap_or(0);
                    let selected = f.commune == Some(*code);
                    (n > 0 || selected).then(|| {
                        let name = s
                            .admin
                            .commune(*code)
                            .map(|c| place(&c.name))
                            .unwrap_or_default();
                        option(
                            name,
                            n,
                            selected,
                            with(q, |x| x.filter.commune = (!selected).then_some(*code)),
                        )
                    })
                })
                .collect(),
        });
    }
    groups.push(FacetGroup {
        key: "sector",
        title: tr("sector"),
        options: Sector::ALL
            .iter()
            .map(|&k| {
                let selected = f.sector == Some(k);
                let n = c.sector.get(&k).copied().unwrap_or(0);
                option(
                    label("sector", k.key(), k.label()),
                    n,
                    selected,
                    with(q, |x| x.filter.sector = (!selected).then_some(k)),
                )
            })
            .collect(),
    });
    groups.push(FacetGroup {
        key: "stars",
        title: tr("facet-stars"),
        options: crate::domain::Stars::ALL
            .iter()
            .map(|&k| {
                let selected = f.stars == Some(k);
                let n = c.stars.get(&k.get()).copied().unwrap_or(0);
                option(
                    tr_with("stars-short", &[("n", k.get().into())]),
                    n,
                    selected,
                    with(q, |x| x.filter.stars = (!selected).then_some(k)),
                )
            })
            .collect(),
    });
    groups.push(FacetGroup {
        key: "producer_type",
        title: tr("facet-producer-type"),
        options: ProducerType::ALL
            .iter()
            .map(|&k| {
                let selected = f.producer_type == Some(k);
                let n = c.producer_type.get(&k).copied().unwrap_or(0);
                option(
                    label("producer-type", k.key(), k.label()),
                    n,
                    selected,
                    with(q, |x| x.filter.producer_type = (!selected).then_some(k)),
                )
            })
            .collect(),
    });
    groups.push(FacetGroup {
        key: "rating",
        title: tr("facet-rating"),
        options: [4u8, 3]
            .iter()
            .map(|&min| {
                let selected = f.min_rating == Some(min);
                Link {
                    label: tr_with("rating-at-least", &[("n", min.into())]),
                    count: c.rated_at_least.map(|r| r[usize::from(min == 4)]),
                    href: with(q, |x| x.filter.min_rating = (!selected).then_some(min)),
                    selected,
                }
            })
            .collect(),
    });
    groups.push(FacetGroup {
        key: "in_stock",
        title: tr("availability"),
        options: vec![option(
            tr("in-stock"),
            c.in_stock,
            f.in_stock,
            with(q, |x| x.filter.in_stock = !f.in_stock),
        )],
    });
    groups
}

fn filter_form(q: &ListQuery) -> FilterForm {
    let f = &q.filter;
    let mut hidden = Vec::new();
    if let Some(v) = f.province {
        hidden.push(("province", v.to_string()));
    }
    if let Some(v) = f.commune {
        hidden.push(("commune", v.to_string()));
    }
    if let Some(v) = f.sector {
        hidden.push(("sector", v.key().to_string()));
    }
    if let Some(v) = f.stars {
        hidden.push(("stars", v.get().to_string()));
    }
    if let Some(v) = f.producer_type {
        hidden.push(("producer_type", v.key().to_string()));
    }
    if let Some(v) = f.min_rating {
        hidden.push(("rating", v.to_string()));
    }
    FilterForm {
        hidden,
        sorts: Sort::offered(q.text.is_some())
            .iter()
            .map(|k| Choice {
                value: k.key().into(),
                label: label("sort", k.key(), k.label()),
                selected: q.sort == *k,
            })
            .collect(),
        price_min: f.price_min,
        price_max: f.price_max,
        in_stock: f.in_stock,
    }
}

/// The listing page for `listing`: `/products`, or `/search` when the query has text (then
/// `terms` mark the matched words in the names).
pub(crate) fn list_view(
    s: &Snapshot,
    q: &ListQuery,
    problems: Vec<Problem>,
    listing: super::listing::Listing,
    terms: Option<&crate::search::Terms>,
) -> ListPage {
    let q = q.clone();
    let c = &listing.counts;
    let last_page = c.total.div_ceil(q.per_page).max(1);
    let page_link = |n: u32| Link {
        label: n.to_string(),
        count: None,
        href: listing_href(&ListQuery {
            page: n,
            ..q.clone()
        }),
        selected: n == q.page,
    };
    let window = q.page.saturating_sub(2).max(1)..=(q.page + 2).min(last_page);
    let title = match (&q.text, q.filter.province.and_then(|p| s.admin.province(p))) {
        (Some(text), _) => tr_with("search-results-for", &[("query", text.clone().into())]),
        (None, Some(p)) => tr_with("ocop-products-of", &[("place", place(&p.name).into())]),
        (None, None) => tr("ocop-products"),
    };
    ListPage {
        canonical: listing_href(&q),
        title,
        notices: problems
            .into_iter()
            .map(|p| tr_with("filter-ignored", &[("problem", p.message.into())]))
            .collect(),
        total: c.total,
        cards: views::cards_html(s, &listing.product_ids, terms),
        popular: if c.total == 0 {
            home_view(s, vn_today()).featured
        } else {
            Vec::new()
        },
        query_text: q.text.clone(),
        facets: facets_html(&facet_groups(s, &q, c)),
        sorts: Sort::offered(q.text.is_some())
            .into_iter()
            .map(|k| Link {
                label: label("sort", k.key(), k.label()),
                count: None,
                href: with(&q, |x| x.sort = k),
                selected: q.sort == k,
            })
            .collect(),
        pages: window.map(page_link).collect(),
        prev_href: (q.page > 1).then(|| {
            listing_href(&ListQuery {
                page: (q.page - 1).min(last_page),
                ..q.clone()
            })
        }),
        next_href: (q.page < last_page).then(|| {
            listing_href(&ListQuery {
                page: q.page + 1,
                ..q.clone()
            })
        }),
        // removing every filter keeps what was searched for
        clear_href: (q.filter != Default::default()).then(|| {
            listing_href(&ListQuery {
                text: q.text.clone(),
                ..Default::default()
            })
        }),
        past_end: (c.total > 0 && q.page > last_page).then(|| {
            listing_href(&ListQuery {
                page: 1,
                ..q.clone()
            })
        }),
        active: active_filters(s, &q),
        form: filter_form(&q),
    }
}

fn active_filters(s: &Snapshot, q: &ListQuery) -> Vec<Link> {
    let f = &q.filter;
    let chip = |label: String, href: String| Link {
        label,
        count: None,
        href,
        selected: true,
    };
    let mut out = Vec::new();
    if let Some(p) = f.province.and_then(|p| s.admin.province(p)) {
        out.push(chip(
            place(&p.name),
            with(q, |x| {
                x.filter.province = None;
                x.filter.commune = None;
            }),
        ));
    }
    if let Some(c) = f.commune.and_then(|c| s.admin.commune(c)) {
        out.push(chip(place(&c.name), with(q, |x| x.filter.commune = None)));
    }
    if let Some(v) = f.sector {
        out.push(chip(
            label("sector", v.key(), v.label()),
            with(q, |x| x.filter.sector = None),
        ));
    }
    if let Some(v) = f.stars {
        out.push(chip(
            tr_with("stars-short", &[("n", v.get().into())]),
            with(q, |x| x.filter.stars = None),
        ));
    }
    if let Some(v) = f.producer_type {
        out.push(chip(
            label("producer-type", v.key(), v.label()),
            with(q, |x| x.filter.producer_type = None),
        ));
    }
    let price = match (f.price_min, f.price_max) {
        (Some(a), Some(b)) => Some(format!(
            "{} – {}",
            crate::domain::Vnd::format(a.amount()),
            crate::domain::Vnd::format(b.amount())
        )),
        (Some(a), None) => Some(tr_with(
            "price-from-amount",
            &[("amount", crate::domain::Vnd::format(a.amount()).into())],
        )),
        (None, Some(b)) => Some(tr_with(
            "price-to-amount",
            &[("amount", crate::domain::Vnd::format(b.amount()).into())],
        )),
        (None, None) => None,
    };
    if let Some(label) = price {
        out.push(chip(
            label,
            with(q, |x| {
                x.filter.price_min = None;
                x.filter.price_max = None;
            }),
        ));
    }
    if let Some(min) = f.min_rating {
        out.push(chip(
            tr_with("rating-at-least", &[("n", min.into())]),
            with(q, |x| x.filter.min_rating = None),
        ));
    }
    if f.in_stock {
        out.push(chip(tr("in-stock"), with(q, |x| x.filter.in_stock = false)));
    }
    out
}

#[derive(Serialize)]
pub(crate) struct HomePage {
    canonical: &'static str,
    /// cards, as HTML
    featured: Vec<String>,
    sectors: Vec<Link>,
    provinces: Vec<Link>,
    total: u32,
    banner: Option<crate::banners::Banner>,
}

/// The home page's content for `today`: also the suggestions on an empty results page.
pub(crate) fn home_view(s: &Snapshot, today: time::Date) -> HomePage {
    let all = ListQuery {
        sort: Sort::Stars,
        per_page: 12,
        ..Default::default()
    };
    let top = s.list(&all, today);
    // featured: the newest 5★ and 4★ products, best first
    let featured: Vec<i64> = top
        .product_ids
        .into_iter()
        .filter(|id| {
            s.products
                .get(id)
                .and_then(|p| p.certificate.as_ref())
                .is_some_and(|c| c.stars.get() >= 4)
        })
        .collect();
    let c = top.counts;
    HomePage {
        canonical: "/",
        featured: views::cards_html(s, &featured, None),
        sectors: Sector::ALL
            .iter()
            .map(|k| Link {
                label: label("sector", k.key(), k.label()),
                count: Some(c.sector.get(k).copied().unwrap_or(0)),
                href: format!("/products?sector={}", k.key()),
                selected: false,
            })
            .collect(),
        provinces: s
            .admin
            .provinces
            .iter()
            .map(|p| Link {
                label: place(&p.name),
                count: Some(c.province.get(&p.code).copied().unwrap_or(0)),
                href: format!("/products?province={}", p.code),
                selected: false,
            })
            .collect(),
        total: c.total,
        // banners are written by staff in Vietnamese: other languages get the plain welcome
        banner: crate::i18n::current()
            .is_vi()
            .then(|| crate::banners::current(&s.banners, today).cloned())
            .flatten(),
    }
}
