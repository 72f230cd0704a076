//! Filters, sorting, pagination and facet counts over the in-memory catalog.
//!
//! Facets are disjunctive, as shoppers expect: the count next to each value is the number of
//! products the listing would show if that value were chosen with every *other* filter kept.

use super::snapshot::{Admin, Snapshot};
use crate::domain::{ProducerType, Sector, Stars, Vnd};
use roaring::RoaringBitmap;
use std::collections::BTreeMap;
use std::sync::Arc;
use time::Date;

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Filter {
    pub province: Option<i16>,
    pub commune: Option<i32>,
    pub sector: Option<Sector>,
    pub stars: Option<Stars>,
    pub producer_type: Option<ProducerType>,
    pub price_min: Option<Vnd>,
    pub price_max: Option<Vnd>,
    pub in_stock: bool,
    /// buyers' average at least this many stars (3 or 4)
    pub min_rating: Option<u8>,
}

pub type FilterKey = (Filter, Date);
/// What a filter lets through (row positions) and its facet counts.
pub type Found = (Arc<RoaringBitmap>, Arc<Counts>);

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Sort {
    #[default]
    Newest,
    PriceAsc,
    PriceDesc,
    Stars,
    /// best verified-buyer rating first
    Rating,
    /// search results only: best match first
    Relevance,
}

impl Sort {
    pub const ALL: [Sort; 5] = [
        Sort::Newest,
        Sort::PriceAsc,
        Sort::PriceDesc,
        Sort::Stars,
        Sort::Rating,
    ];
    pub fn key(self) -> &'static str {
        match self {
            Sort::Newest => "newest",
            Sort::PriceAsc => "price_asc",
            Sort::PriceDesc => "price_desc",
            Sort::Stars => "stars",
            Sort::Rating => "rating",
            Sort::Relevance => "relevance",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Sort::Newest => "Mới nhất",
            Sort::PriceAsc => "Giá thấp đến cao",
            Sort::PriceDesc => "Giá cao đến thấp",
            Sort::Stars => "Nhiều sao nhất",
            Sort::Rating => "Đánh giá cao nhất",
            Sort::Relevance => "Phù hợp nhất",
        }
    }
    fn from_key(key: &str) -> Option<Sort> {
        Sort::ALL
            .into_iter()
            .chain([Sort::Relevance])
            .find(|s| s.key() == key)
    }
    /// The orders offered to a shopper: relevance only when there is something to be relevant to.
    /// The order a listing has when none is asked for.
    pub fn default_for(searching: bool) -> Sort {
        if searching {
            Sort::Relevance
        } else {
            Sort::Newest
        }
    }
    pub fn offered(searching: bool) -> Vec<Sort> {
        let mut all = if searching {
            vec![Sort::Relevance]
        } else {
            vec![]
        };
        all.extend(Sort::ALL);
        all
    }
}

pub const DEFAULT_PER_PAGE: u32 = 20;
pub const MAX_PER_PAGE: u32 = 100;
pub const MAX_PAGE: u32 = 100_000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListQuery {
    /// what the shopper typed into the search box, cleaned (search pages only)
    pub text: Option<String>,
    pub filter: Filter,
    pub sort: Sort,
    pub page: u32,
    pub per_page: u32,
}

impl Default for ListQuery {
    fn default() -> Self {
        ListQuery {
            text: None,
            filter: Filter::default(),
            sort: Sort::default(),
            page: 1,
            per_page: DEFAULT_PER_PAGE,
        }
    }
}

/// A parameter that could not be used, with the reason in Vietnamese.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub field: &'static str,
    pub message: String,
}

impl ListQuery {
    /// Reads the listing parameters. Every value that cannot be used is reported and left out:
    /// the API answers 400 with the first problem, pages show them as notices.
    pub fn parse(pairs: &[(String, String)], admin: &Admin) -> (ListQuery, Vec<Problem>) {
        let mut q = ListQuery::default();
        let mut problems = Vec::new();
        let mut bad =
            |field: &'static str, message: String| problems.push(Problem { field, message });
        for (key, raw) in pairs {
            let value = raw.trim();
            if value.is_empty() {
                continue;
            }
            match key.as_str() {
                "q" => q.text = crate::search::clean_query(raw),
                "province" => match value
                    .parse::<i16>()
                    .ok()
                    .filter(|c| admin.province(*c).is_some())
                {
                    Some(code) => q.filter.province = Some(code),
                    None => bad(
                        "province",
                        format!("Mã tỉnh/thành \"{}\" không tồn tại.", clip(value)),
                    ),
                },
                "commune" => match value.parse::<i32>().ok().and_then(|c| admin.commune(c)) {
                    Some(c) => q.filter.commune = Some(c.code),
                    None => bad(
                        "commune",
                        format!("Mã xã/phường \"{}\" không tồn tại.", clip(value)),
                    ),
                },
                "sector" => match Sector::from_key(value) {
                    Some(s) => q.filter.sector = Some(s),
                    None => bad(
                        "sector",
                        format!(
                            "Ngành \"{}\" không có; các ngành: {}.",
                            clip(value),
                            keys(Sector::ALL.iter().map(|s| s.key()))
                        ),
                    ),
                },
                "stars" => match Stars::parse(value) {
                    Some(s) => q.filter.stars = Some(s),
                    None => bad(
                        "stars",
                        format!(
                            "Số sao phải là 3, 4 hoặc 5 (nhận được \"{}\").",
                            clip(value)
                        ),
                    ),
                },
                "producer_type" => match ProducerType::from_key(value) {
                    Some(t) => q.filter.producer_type = Some(t),
                    None => bad(
                        "producer_type",
                        format!(
                            "Loại chủ thể \"{}\" không có; các loại: {}.",
                            clip(value),
                            keys(ProducerType::ALL.iter().map(|t| t.key()))
                        ),
                    ),
                },
                "price_min" | "price_max" => {
                    match Vnd::parse_amount(value).filter(|v| *v <= Vnd::MAX_PRICE) {
                        Some(v) if key == "price_min" => q.filter.price_min = Some(Vnd::new(v)),
                        Some(v) => q.filter.price_max = Some(Vnd::new(v)),
                        None => bad(
                            if key == "price_min" {
                                "price_min"
                            } else {
                                "price_max"
                            },
                            format!(
                                "Giá \"{}\" không hợp lệ: hãy nhập số đồng, ví dụ 150000.",
                                clip(value)
                            ),
                        ),
                    }
                }
                "in_stock" => match value {
                    "1" | "true" | "on" | "yes" => q.filter.in_stock = true,
                    "0" | "false" | "off" | "no" => q.filter.in_stock = false,
                    _ => bad(
                        "in_stock",
                        format!(
                            "in_stock phải là true hoặc false (nhận được \"{}\").",
                            clip(value)
                        ),
                    ),
                },
                "rating" => match value.parse::<u8>().ok().filter(|r| (1..=5).contains(r)) {
                    Some(r) => q.filter.min_rating = Some(r),
                    None => bad(
                        "rating",
                        format!(
                            "Điểm đánh giá tối thiểu phải là số từ 1 đến 5 (nhận được \"{}\").",
                            clip(value)
                        ),
                    ),
                },
                "sort" => match Sort::from_key(value) {
                    Some(s) => q.sort = s,
                    None => bad(
                        "sort",
                        format!(
                            "Cách sắp xếp \"{}\" không có; dùng: newest, price_asc, price_desc, stars, rating.",
                            clip(value)
                        ),
                    ),
                },
                "page" => match value
                    .parse::<u32>()
                    .ok()
                    .filter(|p| (1..=MAX_PAGE).contains(p))
                {
                    Some(p) => q.page = p,
                    None => bad(
                        "page",
                        format!(
                            "Số trang phải là số nguyên từ 1 (nhận được \"{}\").",
                            clip(value)
                        ),
                    ),
                },
                "per_page" => match value
                    .parse::<u32>()
                    .ok()
                    .filter(|p| (1..=MAX_PER_PAGE).contains(p))
                {
                    Some(p) => q.per_page = p,
                    None => bad(
                        "per_page",
                        format!(
                            "per_page phải từ 1 đến {MAX_PER_PAGE} (nhận được \"{}\").",
                            clip(value)
                        ),
                    ),
                },
                _ => {}
            }
        }
        // searching, the best match comes first unless the shopper asked for another order
        let sort_given = pairs
            .iter()
            .any(|(k, v)| k == "sort" && Sort::from_key(v.trim()).is_some());
        q.sort = match (&q.text, q.sort) {
            (Some(_), _) if !sort_given => Sort::Relevance,
            (None, Sort::Relevance) => Sort::Newest,
            (_, sort) => sort,
        };
        if let (Some(min), Some(max)) = (q.filter.price_min, q.filter.price_max) {
            if min > max {
                bad(
                    "price_max",
                    "Giá tối đa phải lớn hơn hoặc bằng giá tối thiểu.".into(),
                );
                q.filter.price_max = None;
            }
        }
        if let Some(commune) = q.filter.commune.and_then(|c| admin.commune(c)) {
            match q.filter.province {
                // a commune names its province: the commune facet needs to know it
                None => q.filter.province = Some(commune.province_code),
                Some(p) if p != commune.province_code => {
                    bad(
                        "commune",
                        format!("{} không thuộc tỉnh/thành đã chọn.", commune.name),
                    );
                    q.filter.commune = None;
                }
                Some(_) => {}
            }
        }
        (q, problems)
    }
}

/// The listing's query parameters as the API description states them; [`ListQuery::parse`] is
/// what reads them (a test keeps the bounds equal to its constants).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct ListParams {
    /// a province code (see `/api/v1/provinces`)
    province: Option<i16>,
    /// a commune code (see `/api/v1/provinces/{code}/communes`); it implies its province
    commune: Option<i32>,
    sector: Option<Sector>,
    /// OCOP stars: 3, 4 or 5
    #[param(minimum = 3, maximum = 5)]
    stars: Option<u8>,
    producer_type: Option<ProducerType>,
    /// lowest price in đồng
    #[param(minimum = 0, maximum = 1_000_000_000)]
    price_min: Option<i64>,
    /// highest price in đồng (not below `price_min`)
    #[param(minimum = 0, maximum = 1_000_000_000)]
    price_max: Option<i64>,
    /// only what can be bought now
    in_stock: Option<bool>,
    /// verified buyers' average at least this many stars
    #[param(minimum = 1, maximum = 5)]
    rating: Option<u8>,
    sort: Option<Sort>,
    #[param(minimum = 1, maximum = 100_000)]
    page: Option<u32>,
    #[param(minimum = 1, maximum = 100)]
    per_page: Option<u32>,
}

fn clip(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(40).collect()
}

fn keys<'a>(it: impl Iterator<Item = &'a str>) -> String {
    it.collect::<Vec<_>>().join(", ")
}

/// The total and every facet's counts for one filter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub total: u32,
    pub province: BTreeMap<i16, u32>,
    /// only when a province is chosen: its communes
    pub commune: BTreeMap<i32, u32>,
    pub sector: BTreeMap<Sector, u32>,
    pub stars: BTreeMap<u8, u32>,
    pub producer_type: BTreeMap<ProducerType, u32>,
    /// how many would remain with "in stock only" ticked
    pub in_stock: u32,
    /// how many would remain rated at least 3 (index 0) or 4 (index 1) stars; `None` where the
    /// search engine counted the facets
    pub rated_at_least: Option<[u32; 2]>,
}

/// The filters and counts by one pass over every row: the reference the facet bitmaps are tested
/// against.
#[cfg(test)]
pub(crate) mod reference {
    use super::*;
    use crate::catalog::snapshot::Row;

    const PROVINCE: u8 = 1;
    const COMMUNE: u8 = 2;
    const SECTOR: u8 = 4;
    const STARS: u8 = 8;
    const PRODUCER_TYPE: u8 = 16;
    const PRICE: u8 = 32;
    const STOCK: u8 = 64;
    const RATING: u8 = 128;

    /// Which filters a row fails, one bit each (the reference the bitmap counts are tested against).
    fn failures(r: &Row, f: &Filter) -> u8 {
        let mut m = 0;
        if f.province.is_some_and(|p| p != r.province) {
            m |= PROVINCE;
        }
        if f.commune.is_some_and(|c| c != r.commune) {
            m |= COMMUNE;
        }
        if f.sector.is_some_and(|s| s != r.sector) {
            m |= SECTOR;
        }
        if f.stars.is_some_and(|s| s.get() != r.stars) {
            m |= STARS;
        }
        if f.producer_type.is_some_and(|t| t != r.producer_type) {
            m |= PRODUCER_TYPE;
        }
        if f.price_min.is_some_and(|p| r.price < p) || f.price_max.is_some_and(|p| r.price > p) {
            m |= PRICE;
        }
        if f.in_stock && !r.in_stock {
            m |= STOCK;
        }
        if f.min_rating.is_some_and(|min| r.rating_tenths < min * 10) {
            m |= RATING;
        }
        m
    }

    /// The counts by one pass over `rows`: what the facet bitmaps must agree with, in tests.
    pub(crate) fn count<'a>(
        rows: impl Iterator<Item = &'a Row>,
        f: &Filter,
        today: Date,
    ) -> Counts {
        // Plain arrays in the loop (province codes are below 100): a map update per row and facet
        // would cost more than the whole scan.
        let mut province = [0u32; 128];
        let mut sector = [0u32; 8];
        let mut stars = [0u32; 8];
        let mut producer_type = [0u32; 8];
        let mut c = Counts::default();
        let mut rated = [0u32; 2];
        for r in rows.filter(|r| today < r.expires_on) {
            let m = failures(r, f);
            if m & !RATING == 0 {
                rated[0] += u32::from(r.rating_tenths >= 30);
                rated[1] += u32::from(r.rating_tenths >= 40);
            }
            if m & !STOCK == 0 && r.in_stock {
                c.in_stock += 1;
            }
            // A row counts for a facet when it fails no filter but that facet's own.
            let only = |dim: u8| m & !dim == 0;
            if only(PROVINCE) {
                province[r.province as usize & 127] += 1;
            }
            if f.province.is_some() && only(COMMUNE) {
                *c.commune.entry(r.commune).or_default() += 1;
            }
            if only(SECTOR) {
                sector[r.sector as usize] += 1;
            }
            if only(STARS) {
                stars[r.stars as usize & 7] += 1;
            }
            if only(PRODUCER_TYPE) {
                producer_type[r.producer_type as usize] += 1;
            }
            if m == 0 {
                c.total += 1;
            }
        }
        let nonzero = |a: &[u32]| {
            a.iter()
                .enumerate()
                .filter(|(_, n)| **n > 0)
                .map(|(i, n)| (i, *n))
                .collect::<Vec<_>>()
        };
        c.rated_at_least = Some(rated);
        c.province = nonzero(&province)
            .into_iter()
            .map(|(i, n)| (i as i16, n))
            .collect();
        c.sector = nonzero(&sector)
            .into_iter()
            .map(|(i, n)| (Sector::ALL[i], n))
            .collect();
        c.stars = nonzero(&stars)
            .into_iter()
            .map(|(i, n)| (i as u8, n))
            .collect();
        c.producer_type = nonzero(&producer_type)
            .into_iter()
            .map(|(i, n)| (ProducerType::ALL[i], n))
            .collect();
        c
    }
}

/// One page of results with the counts that go with them.
#[derive(Clone, Debug)]
pub struct Listing {
    pub product_ids: Vec<i64>,
    pub counts: Arc<Counts>,
}

impl Snapshot {
    /// The rows still on sale `today` when the snapshot is older than the day (certificates that
    /// expired since it was built); `None` when every row is.
    fn live(&self, today: Date) -> Option<RoaringBitmap> {
        (today > self.day).then(|| {
            self.rows
                .iter()
                .enumerate()
                .filter(|(_, r)| today < r.expires_on)
                .map(|(i, _)| i as u32)
                .collect()
        })
    }

    /// The rows that pass `f` today, and the facet counts, remembered per filter and day.
    pub fn counts(&self, f: &Filter, today: Date) -> (Arc<RoaringBitmap>, Arc<Counts>) {
        let key = (f.clone(), today);
        if let Some(c) = self.memo.lock().expect("memo lock").get(&key) {
            return c.clone();
        }
        let live = self.live(today);
        let (rows, counts) = self.facets.count(&self.rows, f, live.as_ref());
        let found = (Arc::new(rows), Arc::new(counts));
        let mut memo = self.memo.lock().expect("memo lock");
        // price ranges are free-form: the memo is bounded in bytes
        let size = 512 + found.0.serialized_size() + found.1.commune.len() * 24;
        memo.insert(key, found.clone(), size);
        found
    }

    pub fn list(&self, q: &ListQuery, today: Date) -> Listing {
        let (rows, counts) = self.counts(&q.filter, today);
        let product_ids = match q.sort {
            // the rows are newest first: the page is read off the bitmap
            Sort::Newest | Sort::Relevance => self.page_of(rows.iter(), q),
            _ => self.page_of(self.in_order(q).filter(|i| rows.contains(*i)), q),
        };
        Listing {
            product_ids,
            counts,
        }
    }

    /// The page and counts among search matches (`ranked`: best first), with the same filters
    /// and facets as the listing.
    pub fn list_matches(&self, ranked: &[i64], q: &ListQuery, today: Date) -> Listing {
        let matched: Vec<u32> = ranked
            .iter()
            .filter_map(|id| self.row_of.get(id).copied())
            .collect();
        // in ascending order, every insertion appends (in rank order, thousands of matches cost
        // milliseconds of shifting)
        let mut ascending = matched.clone();
        ascending.sort_unstable();
        ascending.dedup();
        let mut within =
            RoaringBitmap::from_sorted_iter(ascending).expect("row positions sorted and distinct");
        if let Some(live) = self.live(today) {
            within &= live;
        }
        let (rows, counts) = self.facets.count(&self.rows, &q.filter, Some(&within));
        let product_ids = if q.sort == Sort::Relevance {
            self.page_of(matched.iter().copied().filter(|i| rows.contains(*i)), q)
        } else {
            self.page_of(self.in_order(q).filter(|i| rows.contains(*i)), q)
        };
        Listing {
            product_ids,
            counts: Arc::new(counts),
        }
    }

    /// The first `n` listed products among `ranked`, in that order: suggestions need no counts.
    pub fn first_listed(&self, ranked: &[i64], n: usize, today: Date) -> Vec<i64> {
        ranked
            .iter()
            .filter(|id| {
                self.row_of
                    .get(id)
                    .is_some_and(|&i| today < self.rows[i as usize].expires_on)
            })
            .take(n)
            .copied()
            .collect()
    }

    /// Row positions in the query's order (relevance has no meaning without a search: newest).
    fn in_order(&self, q: &ListQuery) -> Box<dyn Iterator<Item = u32> + '_> {
        match q.sort {
            Sort::Newest | Sort::Relevance => Box::new(0..self.rows.len() as u32),
            Sort::PriceAsc => Box::new(self.by_price_asc.iter().copied()),
            Sort::PriceDesc => Box::new(self.by_price_desc.iter().copied()),
            Sort::Stars => Box::new(self.by_stars.iter().copied()),
            Sort::Rating => Box::new(self.by_rating.iter().copied()),
        }
    }

    /// The requested page of `passing` (rows that pass the filters, in the wanted order).
    fn page_of(&self, passing: impl Iterator<Item = u32>, q: &ListQuery) -> Vec<i64> {
        let skip = ((q.page - 1) as usize).saturating_mul(q.per_page as usize);
        passing
            .skip(skip)
            .take(q.per_page as usize)
            .map(|i| self.rows[i as usize].product_id)
            .collect()
    }
}
