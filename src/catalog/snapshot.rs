//! The catalog read model: every instance holds an immutable snapshot of the catalog in memory,
//! so listing, facets and product pages need no SQL at request time. Postgres stays the only
//! source of truth: row triggers `pg_notify('catalog_changed', ...)` and each instance reloads
//! just the rows named, with a periodic full reload as a safety net for missed notifications.

use crate::domain::{AwardingLevel, ProducerType, Sector, Stars, Vnd};
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use time::{Date, OffsetDateTime};

#[derive(Debug)]
pub struct Province {
    pub code: i16,
    pub name: String,
    pub division_type: String,
    /// communes of this province, sorted by name
    pub communes: Vec<i32>,
}

#[derive(Debug)]
pub struct Commune {
    pub code: i32,
    pub province_code: i16,
    pub name: String,
    pub division_type: String,
}

/// The 34 provinces and 3,321 communes: loaded once, they change only by migration.
#[derive(Debug)]
pub struct Admin {
    pub provinces: Vec<Province>,
    pub communes: HashMap<i32, Commune>,
    province_index: HashMap<i16, usize>,
}

impl Admin {
    pub async fn load(pool: &PgPool) -> Result<Admin, sqlx::Error> {
        let provinces = sqlx::query!(
            "select province_code, name, division_type from province order by province_code"
        )
        .fetch_all(pool)
        .await?;
        let communes = sqlx::query!(
            "select commune_code, province_code, name, division_type from commune order by province_code, name"
        )
        .fetch_all(pool)
        .await?;
        let mut admin = Admin {
            provinces: provinces
                .into_iter()
                .map(|p| Province {
                    code: p.province_code,
                    name: p.name,
                    division_type: p.division_type,
                    communes: vec![],
                })
                .collect(),
            communes: HashMap::with_capacity(communes.len()),
            province_index: HashMap::new(),
        };
        admin.province_index = admin
            .provinces
            .iter()
            .enumerate()
            .map(|(i, p)| (p.code, i))
            .collect();
        for c in communes {
            if let Some(&i) = admin.province_index.get(&c.province_code) {
                admin.provinces[i].communes.push(c.commune_code);
            }
            admin.communes.insert(
                c.commune_code,
                Commune {
                    code: c.commune_code,
                    province_code: c.province_code,
                    name: c.name,
                    division_type: c.division_type,
                },
            );
        }
        Ok(admin)
    }

    pub fn province(&self, code: i16) -> Option<&Province> {
        self.province_index.get(&code).map(|&i| &self.provinces[i])
    }
    pub fn commune(&self, code: i32) -> Option<&Commune> {
        self.communes.get(&code)
    }

    /// "Commune, Province", as an address ends.
    pub fn place(&self, commune: i32, province: i16) -> String {
        let c = self.commune(commune).map(|c| c.name.as_str()).unwrap_or("");
        let p = self
            .province(province)
            .map(|p| p.name.as_str())
            .unwrap_or("");
        format!("{c}, {p}")
    }

    /// What the province → commune picker (`portal/_place.html`) lists: every province, and the
    /// communes of the one chosen.
    pub fn picker(&self, province: Option<i16>) -> serde_json::Value {
        let provinces: Vec<serde_json::Value> = self
            .provinces
            .iter()
            .map(|p| serde_json::json!({ "code": p.code.to_string(), "name": p.name }))
            .collect();
        let communes: Vec<serde_json::Value> = province
            .and_then(|c| self.province(c))
            .map(|p| {
                p.communes
                    .iter()
                    .filter_map(|c| self.commune(*c))
                    .map(|c| serde_json::json!({ "code": c.code.to_string(), "name": c.name }))
                    .collect()
            })
            .unwrap_or_default();
        serde_json::json!({ "provinces": provinces, "communes": communes })
    }
}

#[derive(Debug, Clone)]
pub struct Certificate {
    pub stars: Stars,
    pub awarding_level: AwardingLevel,
    pub awarding_body: String,
    pub decision_number: String,
    pub issued_on: Date,
    pub expires_on: Date,
    pub potential_five_star: bool,
    pub revoked: Option<(Date, String)>,
}

impl Certificate {
    pub fn valid_on(&self, day: Date) -> bool {
        self.revoked.is_none() && day < self.expires_on
    }
}

#[derive(Debug)]
pub struct Product {
    pub id: i64,
    pub producer_id: i64,
    pub slug: String,
    pub name: String,
    pub sector: Sector,
    pub story: String,
    pub price_vnd: Vnd,
    pub stock: i32,
    pub unit: String,
    pub weight_grams: Option<i32>,
    /// length, width, height in cm, when the producer gave them
    pub dims_cm: Option<(i16, i16, i16)>,
    pub images: Vec<String>,
    pub hidden: bool,
    pub created_at: OffsetDateTime,
    /// units paid for, all time, as the sales rollups counted them at the last reload
    pub sold: i64,
    /// listed until this day (excluded), by `product_listing`; never listed when `None`
    pub listed_until: Option<Date>,
    /// the most recently issued certificate, whatever its state
    pub certificate: Option<Certificate>,
    /// the producer's English text, when written
    pub name_en: Option<String>,
    pub story_en: Option<String>,
    /// verified buyers' ratings, visible ones only (kept by `reviews`)
    pub rating_sum: i32,
    pub rating_count: i32,
    /// the latest visible reviews, newest first
    pub reviews: Vec<ReviewView>,
}

impl Product {
    /// The average rating in tenths of a star, rounded; 0 when nobody rated it.
    pub fn rating_tenths(&self) -> u8 {
        crate::domain::average_tenths(self.rating_sum.into(), self.rating_count.into()).clamp(0, 50)
            as u8
    }
}

/// A review as the product page shows it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ReviewView {
    pub review_id: i64,
    /// the given name and an initial
    pub author: String,
    #[schema(minimum = 1, maximum = 5)]
    pub rating: i16,
    pub body: String,
    pub photos: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// the producer's public reply
    pub reply: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub replied_at: Option<OffsetDateTime>,
}

/// How many reviews a product page shows (the newest).
pub const REVIEWS_SHOWN: i64 = 10;

/// Indicative exchange rates, VND per unit of each currency, as staff last entered them.
#[derive(Debug, Default)]
pub struct Fx {
    pub rates: HashMap<String, f64>,
}

impl Fx {
    pub async fn load(pool: &PgPool) -> Result<Fx, sqlx::Error> {
        let rows = sqlx::query!(r#"select currency, vnd_per_unit::float8 as "rate!" from fx_rate"#)
            .fetch_all(pool)
            .await?;
        Ok(Fx {
            rates: rows.into_iter().map(|r| (r.currency, r.rate)).collect(),
        })
    }

    /// "≈ US$4.20" in the current language's currency (its `currency` message), or nothing for
    /// Vietnamese or a currency without a rate.
    pub fn approx(&self, price: Vnd) -> Option<String> {
        let lang = crate::i18n::current();
        if lang.is_vi() {
            return None;
        }
        let currency = lang.try_format("currency", None)?;
        let rate = *self.rates.get(&currency)?;
        let amount = price.amount() as f64 / rate;
        let mut args = fluent_bundle::FluentArgs::new();
        // two decimals where a unit is worth much (USD, EUR, CNY); none for KRW-like units
        let shown = if rate >= 100.0 {
            format!("{amount:.2}")
        } else {
            format!("{}", amount.round() as i64)
        };
        args.set("amount", shown);
        lang.try_format("approx-amount", Some(&args))
    }
}

#[derive(Debug)]
pub struct Producer {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub producer_type: ProducerType,
    pub province_code: i16,
    pub commune_code: i32,
    pub address: String,
    pub phone: Option<String>,
    pub story: String,
    pub approved: bool,
    /// the name folded for matching ("Hợp tác xã Bình Liêu" → "hop tac xa binh lieu")
    pub folded_name: String,
}

/// A listable product reduced to what filters, facets and sorting look at.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    pub product_id: i64,
    pub province: i16,
    pub commune: i32,
    pub sector: Sector,
    pub stars: u8,
    pub producer_type: ProducerType,
    pub price: Vnd,
    pub in_stock: bool,
    pub expires_on: Date,
    /// buyers' average in tenths of a star, 0 when unrated
    pub rating_tenths: u8,
}

static VERSIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

fn next_version() -> u64 {
    VERSIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// One immutable version of the catalog. Requests hold an `Arc` to it for their whole life.
pub struct Snapshot {
    pub admin: Arc<Admin>,
    pub products: HashMap<i64, Arc<Product>>,
    pub producers: HashMap<i64, Arc<Producer>>,
    // The indexes are shared between snapshots that differ only in what they do not index (a
    // stock count that stays above zero, a name, a story): such a change costs a map update,
    // not a rebuild, which matters when every checkout changes stock.
    product_slugs: Arc<HashMap<String, i64>>,
    producer_slugs: Arc<HashMap<String, i64>>,
    /// listable rows, newest first
    pub rows: Arc<Vec<Row>>,
    /// row positions in the other sort orders
    pub by_price_asc: Arc<Vec<u32>>,
    pub by_price_desc: Arc<Vec<u32>>,
    pub by_stars: Arc<Vec<u32>>,
    pub by_rating: Arc<Vec<u32>>,
    /// the rows of each facet value, as bitmaps: filters and counts by intersection
    pub facets: Arc<super::facets::FacetIndex>,
    pub producer_products: Arc<HashMap<i64, Vec<i64>>>,
    /// approved producers with listed products, by name (suggestions walk this)
    pub producers_by_name: Arc<Vec<i64>>,
    /// product id → position in `rows`
    pub row_of: Arc<HashMap<i64, u32>>,
    /// the Vietnamese day the listable set was computed for
    pub day: Date,
    /// a number no earlier snapshot of this process had: what was derived from the catalog's
    /// text (the search vocabulary) is refreshed when it changes
    pub version: u64,
    /// the home page's banners still to show (`banners::current` picks the day's)
    pub banners: Arc<Vec<crate::banners::Banner>>,
    /// counts per filter, computed on first use: the snapshot never changes, so neither do they
    pub(crate) memo: Mutex<crate::memo::Bounded<super::listing::FilterKey, super::listing::Found>>,
    /// rendered pages and API answers of this snapshot
    pub pages: crate::render::PageCache,
    /// indicative exchange rates for visitors' currencies
    pub fx: Arc<Fx>,
    /// ranked Postgres search matches by folded words: they change only with the catalog
    pub(crate) search_memo: Mutex<crate::memo::Bounded<Vec<String>, Arc<Vec<i64>>>>,
    /// product cards rendered as HTML, by language index and product (a quarter of the pages'
    /// budget)
    pub(crate) card_html: Mutex<crate::memo::Bounded<(usize, i64), Arc<str>>>,
}

impl Snapshot {
    fn build(
        admin: Arc<Admin>,
        products: HashMap<i64, Arc<Product>>,
        producers: HashMap<i64, Arc<Producer>>,
        banners: Arc<Vec<crate::banners::Banner>>,
        fx: Arc<Fx>,
        day: Date,
    ) -> Snapshot {
        let mut listed: Vec<&Arc<Product>> =
            products.values().filter(|p| is_listable(p, day)).collect();
        listed.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        let rows: Vec<Row> = listed
            .iter()
            .map(|p| {
                let producer = &producers[&p.producer_id];
                let cert = p
                    .certificate
                    .as_ref()
                    .expect("listable products are certified");
                Row {
                    product_id: p.id,
                    province: producer.province_code,
                    commune: producer.commune_code,
                    sector: p.sector,
                    stars: cert.stars.get(),
                    producer_type: producer.producer_type,
                    price: p.price_vnd,
                    in_stock: p.stock > 0,
                    expires_on: cert.expires_on,
                    rating_tenths: p.rating_tenths(),
                }
            })
            .collect();
        let mut by_price_asc: Vec<u32> = (0..rows.len() as u32).collect();
        by_price_asc.sort_by_key(|&i| rows[i as usize].price);
        // stable sorts of the newest-first rows: equal prices or stars stay newest first
        let mut by_price_desc: Vec<u32> = (0..rows.len() as u32).collect();
        by_price_desc.sort_by_key(|&i| std::cmp::Reverse(rows[i as usize].price));
        let mut by_stars: Vec<u32> = (0..rows.len() as u32).collect();
        by_stars.sort_by_key(|&i| std::cmp::Reverse(rows[i as usize].stars));
        // best average first (compared exactly, as fractions), then more reviews, then newest
        let mut by_rating: Vec<u32> = (0..rows.len() as u32).collect();
        by_rating.sort_by(|&a, &b| {
            let (pa, pb) = (
                &products[&rows[a as usize].product_id],
                &products[&rows[b as usize].product_id],
            );
            let key = |p: &Product| {
                (
                    p.rating_count > 0,
                    p.rating_sum as i64,
                    p.rating_count as i64,
                )
            };
            let (ha, sa, ca) = key(pa);
            let (hb, sb, cb) = key(pb);
            hb.cmp(&ha)
                .then_with(|| (sb * ca.max(1)).cmp(&(sa * cb.max(1))))
                .then_with(|| cb.cmp(&ca))
        });
        let facets = super::facets::FacetIndex::build(&rows, &by_price_asc);
        let mut producer_products: HashMap<i64, Vec<i64>> = HashMap::new();
        for p in &listed {
            producer_products
                .entry(p.producer_id)
                .or_default()
                .push(p.id);
        }
        let row_of = rows
            .iter()
            .enumerate()
            .map(|(i, r)| (r.product_id, i as u32))
            .collect();
        let mut by_name: Vec<&Arc<Producer>> = producers
            .values()
            .filter(|p| p.approved && producer_products.contains_key(&p.id))
            .collect();
        by_name.sort_by(|a, b| a.folded_name.cmp(&b.folded_name).then(a.id.cmp(&b.id)));
        let producers_by_name = by_name.into_iter().map(|p| p.id).collect();
        Snapshot {
            product_slugs: Arc::new(products.values().map(|p| (p.slug.clone(), p.id)).collect()),
            producer_slugs: Arc::new(producers.values().map(|p| (p.slug.clone(), p.id)).collect()),
            admin,
            products,
            producers,
            rows: Arc::new(rows),
            by_price_asc: Arc::new(by_price_asc),
            by_price_desc: Arc::new(by_price_desc),
            by_stars: Arc::new(by_stars),
            by_rating: Arc::new(by_rating),
            facets: Arc::new(facets),
            producer_products: Arc::new(producer_products),
            row_of: Arc::new(row_of),
            producers_by_name: Arc::new(producers_by_name),
            day,
            version: next_version(),
            banners,
            fx,
            memo: Mutex::new(crate::memo::Bounded::new(crate::memo::budgets().counts)),
            pages: Default::default(),
            search_memo: Mutex::new(crate::memo::Bounded::new(crate::memo::budgets().search)),
            card_html: Mutex::new(crate::memo::Bounded::new(crate::memo::budgets().pages / 4)),
        }
    }

    /// This snapshot with `changed` products swapped in, sharing every index, when none of the
    /// changes touches what the indexes hold (listability, slug, price, stock above zero or not,
    /// stars, expiry, sector, order); `None` when a full rebuild is needed.
    fn with_unindexed_changes(
        &self,
        changed: &HashMap<i64, Arc<Product>>,
        day: Date,
    ) -> Option<Snapshot> {
        if day != self.day {
            return None;
        }
        for (id, new) in changed {
            let old = self.products.get(id)?;
            let same = old.slug == new.slug
                && old.producer_id == new.producer_id
                && old.hidden == new.hidden
                && old.price_vnd == new.price_vnd
                && (old.stock > 0) == (new.stock > 0)
                && old.sector == new.sector
                && old.created_at == new.created_at
                && old.rating_sum == new.rating_sum
                && old.rating_count == new.rating_count
                && is_listable(old, day) == is_listable(new, day)
                && match (&old.certificate, &new.certificate) {
                    (Some(a), Some(b)) => {
                        a.stars == b.stars
                            && a.expires_on == b.expires_on
                            && a.revoked.is_none() == b.revoked.is_none()
                    }
                    (None, None) => true,
                    _ => false,
                };
            if !same {
                return None;
            }
        }
        let mut products = self.products.clone();
        products.extend(changed.iter().map(|(id, p)| (*id, p.clone())));
        Some(Snapshot {
            admin: self.admin.clone(),
            products,
            producers: self.producers.clone(),
            product_slugs: self.product_slugs.clone(),
            producer_slugs: self.producer_slugs.clone(),
            rows: self.rows.clone(),
            by_price_asc: self.by_price_asc.clone(),
            by_price_desc: self.by_price_desc.clone(),
            by_stars: self.by_stars.clone(),
            by_rating: self.by_rating.clone(),
            facets: self.facets.clone(),
            producer_products: self.producer_products.clone(),
            producers_by_name: self.producers_by_name.clone(),
            row_of: self.row_of.clone(),
            day,
            version: next_version(),
            banners: self.banners.clone(),
            fx: self.fx.clone(),
            memo: Mutex::new(crate::memo::Bounded::new(crate::memo::budgets().counts)),
            pages: Default::default(),
            search_memo: Mutex::new(crate::memo::Bounded::new(crate::memo::budgets().search)),
            card_html: Mutex::new(crate::memo::Bounded::new(crate::memo::budgets().pages / 4)),
        })
    }

    /// A product a shopper may open: visible and from an approved producer, certified now or once.
    pub fn product_by_slug(&self, slug: &str) -> Option<(&Arc<Product>, &Arc<Producer>)> {
        let product = self.products.get(self.product_slugs.get(slug)?)?;
        let producer = self.producers.get(&product.producer_id)?;
        (!product.hidden && producer.approved && product.certificate.is_some())
            .then_some((product, producer))
    }

    pub fn producer_by_slug(&self, slug: &str) -> Option<&Arc<Producer>> {
        self.producers
            .get(self.producer_slugs.get(slug)?)
            .filter(|p| p.approved)
    }

    /// Postgres matches remembered for `words` in this snapshot.
    pub fn remembered_matches(&self, words: &[String]) -> Option<Arc<Vec<i64>>> {
        let memo = self.search_memo.lock().expect("search memo lock");
        memo.get(words).cloned()
    }

    pub fn remember_matches(&self, words: Vec<String>, ids: Arc<Vec<i64>>) {
        let mut memo = self.search_memo.lock().expect("search memo lock");
        // a broad word matches thousands of products: counted by what it holds
        let size = 64 + ids.len() * 8 + words.iter().map(|w| w.len() + 24).sum::<usize>();
        memo.insert(words, ids, size);
    }

    pub fn listed_count(&self) -> usize {
        self.rows.len()
    }

    /// Listable products per province, counted for `day`.
    pub fn province_counts(&self, day: Date) -> BTreeMap<i16, u32> {
        let mut counts: BTreeMap<i16, u32> =
            self.admin.provinces.iter().map(|p| (p.code, 0)).collect();
        for r in self.rows.iter().filter(|r| day < r.expires_on) {
            *counts.entry(r.province).or_default() += 1;
        }
        counts
    }
}

/// Listed on `day`, by the one definition (`product_listing` in SQL, loaded with the product).
pub fn is_listable(p: &Product, day: Date) -> bool {
    p.listed_until.is_some_and(|until| day < until)
}

/// The handle every request and the refresher share.
pub struct Catalog {
    pool: PgPool,
    current: RwLock<Arc<Snapshot>>,
    /// one refresh at a time: each reads Postgres after the previous one finished, so a slower,
    /// older refresh never overwrites a newer one
    refreshing: tokio::sync::Mutex<()>,
}

impl Catalog {
    pub async fn load(pool: PgPool) -> Result<Arc<Catalog>, sqlx::Error> {
        let admin = Arc::new(Admin::load(&pool).await?);
        let products = load_products(&pool, None).await?;
        let producers = load_producers(&pool, None).await?;
        let today = crate::domain::vn_today();
        let banners = Arc::new(crate::banners::load_current(&pool, today).await?);
        let fx = Arc::new(Fx::load(&pool).await?);
        let snapshot = Snapshot::build(admin, products, producers, banners, fx, today);
        Ok(Arc::new(Catalog {
            pool,
            current: RwLock::new(Arc::new(snapshot)),
            refreshing: tokio::sync::Mutex::new(()),
        }))
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.read().expect("catalog lock").clone()
    }

    /// Reloads everything: at start-up, after a lost notification connection, at midnight.
    pub async fn refresh_all(&self) -> Result<(), sqlx::Error> {
        let _one_at_a_time = self.refreshing.lock().await;
        let products = load_products(&self.pool, None).await?;
        let producers = load_producers(&self.pool, None).await?;
        let admin = self.snapshot().admin.clone();
        let today = crate::domain::vn_today();
        let banners = Arc::new(crate::banners::load_current(&self.pool, today).await?);
        let fx = Arc::new(Fx::load(&self.pool).await?);
        let next = Snapshot::build(admin, products, producers, banners, fx, today);
        *self.current.write().expect("catalog lock") = Arc::new(next);
        Ok(())
    }

    /// Reloads the named products and producers (with all of a producer's products).
    pub async fn refresh(
        &self,
        product_ids: &HashSet<i64>,
        producer_ids: &HashSet<i64>,
    ) -> Result<(), sqlx::Error> {
        let _one_at_a_time = self.refreshing.lock().await;
        let mut product_ids: Vec<i64> = product_ids.iter().copied().collect();
        let producer_ids: Vec<i64> = producer_ids.iter().copied().collect();
        if !producer_ids.is_empty() {
            let more = sqlx::query_scalar!(
                "select product_id from product where producer_id = any($1)",
                &producer_ids
            )
            .fetch_all(&self.pool)
            .await?;
            product_ids.extend(more);
        }
        let fresh_products = load_products(&self.pool, Some(&product_ids)).await?;
        let old = self.snapshot();
        let today = crate::domain::vn_today();
        if producer_ids.is_empty() && fresh_products.len() == product_ids.len() {
            if let Some(next) = old.with_unindexed_changes(&fresh_products, today) {
                *self.current.write().expect("catalog lock") = Arc::new(next);
                return Ok(());
            }
        }
        let fresh_producers = load_producers(&self.pool, Some(&producer_ids)).await?;
        let mut products = old.products.clone();
        for id in &product_ids {
            products.remove(id);
        }
        products.extend(fresh_products);
        let mut producers = old.producers.clone();
        for id in &producer_ids {
            producers.remove(id);
        }
        producers.extend(fresh_producers);
        let next = Snapshot::build(
            old.admin.clone(),
            products,
            producers,
            old.banners.clone(),
            old.fx.clone(),
            crate::domain::vn_today(),
        );
        *self.current.write().expect("catalog lock") = Arc::new(next);
        Ok(())
    }

    /// After a change this instance made: its own pages show it at once (the others follow the
    /// notification). A failure is only logged: the listener catches up.
    pub async fn refresh_after(&self, products: &[i64], producers: &[i64]) {
        let products: HashSet<i64> = products.iter().copied().collect();
        let producers: HashSet<i64> = producers.iter().copied().collect();
        if let Err(e) = self.refresh(&products, &producers).await {
            tracing::warn!(error = %e, "catalog refresh after a change failed; the listener will catch up");
        }
    }

    /// Follows `catalog_changed` notifications until the process stops. Safe with any number of
    /// instances: each only updates its own copy.
    pub async fn follow_changes(self: Arc<Self>) {
        loop {
            if let Err(e) = self.listen_once().await {
                tracing::warn!(error = %e, "catalog listener lost its connection; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }

    async fn listen_once(&self) -> Result<(), sqlx::Error> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen("catalog_changed").await?;
        // Anything that changed while we were not listening is picked up here.
        self.refresh_all().await?;
        let mut full_reload = tokio::time::interval(Duration::from_secs(300));
        full_reload.tick().await;
        loop {
            tokio::select! {
                first = listener.recv() => {
                    let first = first?;
                    let mut products = HashSet::new();
                    let mut producers = HashSet::new();
                    let mut everything = false;
                    let mut note = |payload: &str| match payload.split_once(':') {
                        Some(("product", id)) => { id.parse().map(|id| products.insert(id)).ok(); }
                        Some(("producer", id)) => { id.parse().map(|id| producers.insert(id)).ok(); }
                        // banners change a few times a season: a full reload carries them
                        Some(("banners", _)) => everything = true,
                        Some(("fx", _)) => everything = true,
                        _ => {}
                    };
                    note(first.payload());
                    // Gather what arrives with it: one reload serves a whole burst of changes.
                    let deadline = tokio::time::Instant::now() + Duration::from_millis(25);
                    while let Ok(next) = tokio::time::timeout_at(deadline, listener.recv()).await {
                        note(next?.payload());
                    }
                    if everything || products.len() + producers.len() > 2_000 {
                        self.refresh_all().await?;
                    } else {
                        self.refresh(&products, &producers).await?;
                    }
                }
                _ = full_reload.tick() => self.refresh_all().await?,
                _ = sleep_until_vn_midnight(self.snapshot().day) => self.refresh_all().await?,
            }
        }
    }
}

/// Certificates expire at the start of a Vietnamese day: rebuild the listable set then.
async fn sleep_until_vn_midnight(day: Date) {
    let next = day
        .next_day()
        .expect("not the end of time")
        .midnight()
        .assume_offset(crate::domain::VN_OFFSET);
    let wait = (next - OffsetDateTime::now_utc())
        .whole_milliseconds()
        .max(0) as u64;
    tokio::time::sleep(Duration::from_millis(wait + 50)).await;
}

async fn load_products(
    pool: &PgPool,
    ids: Option<&[i64]>,
) -> Result<HashMap<i64, Arc<Product>>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"
        select p.product_id, p.producer_id, p.slug, p.name, p.sector, p.story, p.price_vnd as "price_vnd: Vnd", p.stock, p.unit,
               p.weight_grams, p.length_cm, p.width_cm, p.height_cm, p.images, p.hidden, p.created_at,
               c.stars as "stars?", c.awarding_level as "awarding_level?", c.awarding_body as "awarding_body?",
               c.decision_number as "decision_number?", c.issued_on as "issued_on?", c.expires_on as "expires_on?",
               c.potential_five_star as "potential_five_star?", c.revoked_on, c.revoked_reason,
               coalesce(s.sold, 0)::bigint as "sold!", l.listed_until,
               p.name_en, p.story_en, p.rating_sum, p.rating_count
        from product p
        join product_listing l using (product_id)
        left join (
            select product_id, sum(paid_quantity) as sold from stats_product
            where tier = 'y' and ($1::bigint[] is null or product_id = any($1))
            group by product_id
        ) s on s.product_id = p.product_id
        -- the certificate the listing rule looked at: its latest verified one
        left join certificate c on c.certificate_id = l.certificate_id
        where $1::bigint[] is null or p.product_id = any($1)
        "#,
        ids as Option<&[i64]>
    )
    .fetch_all(pool)
    .await?;
    // the newest visible reviews of the products that have any
    let reviewed: Vec<i64> = rows
        .iter()
        .filter(|r| r.rating_count > 0)
        .map(|r| r.product_id)
        .collect();
    let mut reviews: HashMap<i64, Vec<ReviewView>> = HashMap::new();
    if !reviewed.is_empty() {
        let shown = sqlx::query!(
            r#"select r.product_id as "product_id!", r.review_id as "review_id!", r.author as "author!",
                      r.rating as "rating!", r.body as "body!", r.photos as "photos!",
                      r.created_at as "created_at!", r.reply, r.replied_at
               from unnest($1::bigint[]) as t(product_id)
               cross join lateral (
                   select * from review v
                   where v.product_id = t.product_id and v.hidden_at is null
                   order by v.created_at desc, v.review_id desc limit $2
               ) r"#,
            &reviewed,
            REVIEWS_SHOWN
        )
        .fetch_all(pool)
        .await?;
        for r in shown {
            reviews.entry(r.product_id).or_default().push(ReviewView {
                review_id: r.review_id,
                author: r.author,
                rating: r.rating,
                body: r.body,
                photos: r.photos,
                created_at: r.created_at,
                reply: r.reply,
                replied_at: r.replied_at,
            });
        }
    }
    let mut out = HashMap::with_capacity(rows.len());
    for r in rows {
        let Some(sector) = Sector::from_key(&r.sector) else {
            continue;
        };
        let certificate = match (
            r.stars.and_then(|s| Stars::new(s as u8)),
            r.issued_on,
            r.expires_on,
        ) {
            (Some(stars), Some(issued_on), Some(expires_on)) => Some(Certificate {
                stars,
                awarding_level: r
                    .awarding_level
                    .as_deref()
                    .and_then(AwardingLevel::from_key)
                    .unwrap_or(stars.awarding_level()),
                awarding_body: r.awarding_body.unwrap_or_default(),
                decision_number: r.decision_number.unwrap_or_default(),
                issued_on,
                expires_on,
                potential_five_star: r.potential_five_star.unwrap_or(false),
                revoked: r
                    .revoked_on
                    .map(|d| (d, r.revoked_reason.unwrap_or_default())),
            }),
            _ => None,
        };
        out.insert(
            r.product_id,
            Arc::new(Product {
                id: r.product_id,
                producer_id: r.producer_id,
                slug: r.slug,
                name: r.name,
                sector,
                story: r.story,
                price_vnd: r.price_vnd,
                stock: r.stock,
                unit: r.unit,
                weight_grams: r.weight_grams,
                dims_cm: match (r.length_cm, r.width_cm, r.height_cm) {
                    (Some(l), Some(w), Some(h)) => Some((l, w, h)),
                    _ => None,
                },
                images: r.images,
                hidden: r.hidden,
                created_at: r.created_at,
                certificate,
                sold: r.sold,
                listed_until: r.listed_until,
                name_en: r.name_en,
                story_en: r.story_en,
                rating_sum: r.rating_sum,
                rating_count: r.rating_count,
                reviews: reviews.remove(&r.product_id).unwrap_or_default(),
            }),
        );
    }
    Ok(out)
}

async fn load_producers(
    pool: &PgPool,
    ids: Option<&[i64]>,
) -> Result<HashMap<i64, Arc<Producer>>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"
        select producer_id, slug, name, producer_type, province_code, commune_code, address, phone, story, status
        from producer where $1::bigint[] is null or producer_id = any($1)
        "#,
        ids as Option<&[i64]>
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let producer_type = ProducerType::from_key(&r.producer_type)?;
            Some((
                r.producer_id,
                Arc::new(Producer {
                    id: r.producer_id,
                    slug: r.slug,
                    folded_name: crate::domain::fold_vietnamese(&r.name),
                    name: r.name,
                    producer_type,
                    province_code: r.province_code,
                    commune_code: r.commune_code,
                    address: r.address,
                    phone: r.phone,
                    story: r.story,
                    approved: r.status == "approved",
                }),
            ))
        })
        .collect())
}
