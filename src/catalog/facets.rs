//! Filtering and facet counts as set operations: one compressed bitmap (roaring) of row positions
//! per facet value, built with the snapshot. A filter combination nobody asked before costs a
//! few intersections and popcounts instead of a pass over every product.

use super::listing::{Counts, Filter};
use super::snapshot::Row;
use crate::domain::{ProducerType, Sector};
use roaring::RoaringBitmap;
use std::collections::{BTreeMap, HashMap};

const PROVINCE: usize = 0;
const COMMUNE: usize = 1;
const SECTOR: usize = 2;
const STARS: usize = 3;
const PRODUCER_TYPE: usize = 4;
const PRICE: usize = 5;
const STOCK: usize = 6;
const RATING: usize = 7;
const DIMENSIONS: usize = 8;

/// The rows (positions in the snapshot's newest-first list) of each facet value.
#[derive(Debug, Default)]
pub struct FacetIndex {
    rows: usize,
    province: HashMap<i16, RoaringBitmap>,
    commune: HashMap<i32, RoaringBitmap>,
    sector: Vec<RoaringBitmap>,
    /// by the number of stars (0..=5)
    stars: Vec<RoaringBitmap>,
    producer_type: Vec<RoaringBitmap>,
    in_stock: RoaringBitmap,
    /// `rated[k - 1]`: buyers' average at least k stars
    rated: Vec<RoaringBitmap>,
    /// prices in ascending order, and the rows in that order
    prices: Vec<i64>,
    by_price: Vec<u32>,
    /// `price_prefix[b]`: the rows of the `b * price_step` cheapest
    price_prefix: Vec<RoaringBitmap>,
    price_step: usize,
}

/// At most this many price prefixes are kept: memory grows with rows × this, and a price bound
/// costs at most one step of single insertions.
const PRICE_PREFIXES: usize = 64;

impl FacetIndex {
    /// `by_price_asc`: row positions by ascending price.
    pub fn build(rows: &[Row], by_price_asc: &[u32]) -> FacetIndex {
        let mut ix = FacetIndex {
            rows: rows.len(),
            sector: vec![RoaringBitmap::new(); Sector::ALL.len()],
            stars: vec![RoaringBitmap::new(); 6],
            producer_type: vec![RoaringBitmap::new(); ProducerType::ALL.len()],
            rated: vec![RoaringBitmap::new(); 5],
            ..Default::default()
        };
        // rows arrive in ascending position: appending keeps every bitmap sorted and compact
        for (i, r) in rows.iter().enumerate() {
            let i = i as u32;
            ix.province.entry(r.province).or_default().insert(i);
            ix.commune.entry(r.commune).or_default().insert(i);
            ix.sector[r.sector as usize].insert(i);
            ix.stars[usize::from(r.stars.min(5))].insert(i);
            ix.producer_type[r.producer_type as usize].insert(i);
            if r.in_stock {
                ix.in_stock.insert(i);
            }
            for k in 1..=5u8 {
                if r.rating_tenths >= k * 10 {
                    ix.rated[usize::from(k - 1)].insert(i);
                }
            }
        }
        ix.by_price = by_price_asc.to_vec();
        ix.prices = by_price_asc
            .iter()
            .map(|&i| rows[i as usize].price.amount())
            .collect();
        ix.price_step = rows.len().div_ceil(PRICE_PREFIXES).max(256);
        let mut prefix = RoaringBitmap::new();
        for (rank, &i) in by_price_asc.iter().enumerate() {
            if rank % ix.price_step == 0 {
                ix.price_prefix.push(prefix.clone());
            }
            prefix.insert(i);
        }
        ix.price_prefix.push(prefix);
        ix
    }

    /// The rows of the `k` cheapest.
    fn cheapest(&self, k: usize) -> RoaringBitmap {
        let b = (k / self.price_step).min(self.price_prefix.len() - 1);
        let mut set = self.price_prefix[b].clone();
        for &i in &self.by_price[(b * self.price_step).min(k)..k] {
            set.insert(i);
        }
        set
    }

    fn price_range(&self, f: &Filter) -> RoaringBitmap {
        let lo = f
            .price_min
            .map_or(0, |p| self.prices.partition_point(|&x| x < p.amount()));
        let hi = f.price_max.map_or(self.prices.len(), |p| {
            self.prices.partition_point(|&x| x <= p.amount())
        });
        if lo >= hi {
            return RoaringBitmap::new();
        }
        let mut set = self.cheapest(hi);
        if lo > 0 {
            set -= self.cheapest(lo);
        }
        set
    }

    /// Each filter that is set, as the rows it lets through.
    fn filter_sets(&self, f: &Filter) -> [Option<RoaringBitmap>; DIMENSIONS] {
        let pick = |set: Option<&RoaringBitmap>| set.cloned().unwrap_or_default();
        let mut sets: [Option<RoaringBitmap>; DIMENSIONS] = Default::default();
        sets[PROVINCE] = f.province.map(|p| pick(self.province.get(&p)));
        sets[COMMUNE] = f.commune.map(|c| pick(self.commune.get(&c)));
        sets[SECTOR] = f.sector.map(|s| pick(self.sector.get(s as usize)));
        sets[STARS] = f.stars.map(|s| pick(self.stars.get(usize::from(s.get()))));
        sets[PRODUCER_TYPE] = f
            .producer_type
            .map(|t| pick(self.producer_type.get(t as usize)));
        sets[PRICE] = (f.price_min.is_some() || f.price_max.is_some()).then(|| self.price_range(f));
        sets[STOCK] = f.in_stock.then(|| self.in_stock.clone());
        sets[RATING] = f
            .min_rating
            .map(|k| pick(self.rated.get(usize::from(k.clamp(1, 5) - 1))));
        sets
    }

    /// The rows in `within` (all rows when `None`) that pass every filter but `except`.
    fn passing(
        &self,
        sets: &[Option<RoaringBitmap>; DIMENSIONS],
        within: Option<&RoaringBitmap>,
        except: Option<usize>,
    ) -> RoaringBitmap {
        let mut chosen: Vec<&RoaringBitmap> = sets
            .iter()
            .enumerate()
            .filter(|(d, _)| Some(*d) != except)
            .filter_map(|(_, s)| s.as_ref())
            .chain(within)
            .collect();
        // smallest first: every later intersection is cheaper
        chosen.sort_by_key(|s| s.len());
        let mut it = chosen.into_iter();
        let Some(first) = it.next() else {
            let mut all = RoaringBitmap::new();
            all.insert_range(0..self.rows as u32);
            return all;
        };
        let mut acc = first.clone();
        for s in it {
            acc &= s;
        }
        acc
    }

    /// The rows that pass `f` (within `within`), and the counts of every facet: a value's count
    /// is what the result would hold with that value chosen and the other filters kept.
    pub fn count(
        &self,
        rows: &[Row],
        f: &Filter,
        within: Option<&RoaringBitmap>,
    ) -> (RoaringBitmap, Counts) {
        let sets = self.filter_sets(f);
        let base = self.passing(&sets, within, None);
        // the rows that pass every filter but dimension d's (the result itself when d is unset)
        let others = |d: usize| -> std::borrow::Cow<'_, RoaringBitmap> {
            if sets[d].is_some() {
                std::borrow::Cow::Owned(self.passing(&sets, within, Some(d)))
            } else {
                std::borrow::Cow::Borrowed(&base)
            }
        };
        let mut c = Counts {
            total: base.len() as u32,
            ..Default::default()
        };
        let o = others(PROVINCE);
        c.province = self
            .province
            .iter()
            .map(|(p, set)| (*p, o.intersection_len(set) as u32))
            .filter(|(_, n)| *n > 0)
            .collect();
        if f.province.is_some() {
            // within one province: few rows, tallied directly
            let mut commune = BTreeMap::new();
            for i in others(COMMUNE).iter() {
                *commune.entry(rows[i as usize].commune).or_insert(0u32) += 1;
            }
            c.commune = commune;
        }
        let o = others(SECTOR);
        c.sector = Sector::ALL
            .iter()
            .map(|s| (*s, o.intersection_len(&self.sector[*s as usize]) as u32))
            .filter(|(_, n)| *n > 0)
            .collect();
        let o = others(STARS);
        c.stars = (0..self.stars.len())
            .map(|s| (s as u8, o.intersection_len(&self.stars[s]) as u32))
            .filter(|(_, n)| *n > 0)
            .collect();
        let o = others(PRODUCER_TYPE);
        c.producer_type = ProducerType::ALL
            .iter()
            .map(|t| {
                (
                    *t,
                    o.intersection_len(&self.producer_type[*t as usize]) as u32,
                )
            })
            .filter(|(_, n)| *n > 0)
            .collect();
        c.in_stock = others(STOCK).intersection_len(&self.in_stock) as u32;
        let o = others(RATING);
        c.rated_at_least = Some([
            o.intersection_len(&self.rated[2]) as u32,
            o.intersection_len(&self.rated[3]) as u32,
        ]);
        (base, c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::listing::reference::count as reference_count;
    use crate::domain::{Stars, Vnd};
    use time::macros::date;

    /// Rows spread over a few values of every facet, deterministic.
    fn rows(n: usize) -> Vec<Row> {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move |m: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % m
        };
        (0..n)
            .map(|i| Row {
                product_id: i as i64 + 1,
                province: [1, 22, 66, 79][next(4) as usize],
                commune: 100 + next(12) as i32,
                sector: Sector::ALL[next(6) as usize],
                stars: 3 + next(3) as u8,
                producer_type: ProducerType::ALL[next(4) as usize],
                price: Vnd::new(10_000 * (1 + next(60) as i64)),
                in_stock: next(5) > 0,
                expires_on: date!(2030 - 01 - 01),
                rating_tenths: if next(3) == 0 { 0 } else { 10 + next(41) as u8 },
            })
            .collect()
    }

    #[test]
    fn bitmap_counts_equal_a_pass_over_every_row_for_any_filter() {
        let rows = rows(3_000);
        let mut by_price: Vec<u32> = (0..rows.len() as u32).collect();
        by_price.sort_by_key(|&i| rows[i as usize].price);
        let ix = FacetIndex::build(&rows, &by_price);
        let today = date!(2026 - 12 - 04);
        let mut filters = vec![Filter::default()];
        for (k, price) in [(0, 0), (1, 5), (2, 17), (3, 40), (4, 59), (5, 61)] {
            filters.push(Filter {
                province: (k % 2 == 0).then_some([1, 22, 66, 79, 5][k % 5]),
                sector: (k % 3 == 0).then_some(Sector::ALL[k]),
                stars: Stars::new(3 + (k % 3) as u8).filter(|_| k > 2),
                producer_type: (k == 4).then_some(ProducerType::Household),
                price_min: (k > 1).then_some(Vnd::new(10_000 * price)),
                price_max: (k != 3).then_some(Vnd::new(10_000 * (price + 20))),
                in_stock: k % 2 == 1,
                min_rating: (k == 5).then_some(4),
                commune: (k == 2).then_some(105),
            });
        }
        // edges of the price steps: bounds equal to a price, between prices, beyond all
        for p in [9_999, 10_000, 10_001, 300_000, 600_000, 600_001] {
            filters.push(Filter {
                price_min: Some(Vnd::new(p)),
                ..Default::default()
            });
            filters.push(Filter {
                price_max: Some(Vnd::new(p)),
                ..Default::default()
            });
        }
        for f in &filters {
            let (base, counts) = ix.count(&rows, f, None);
            assert_eq!(counts, reference_count(rows.iter(), f, today), "{f:?}");
            assert_eq!(base.len() as u32, counts.total);
        }
        // within search matches: the same as counting the matches alone
        let matched: RoaringBitmap = (0..rows.len() as u32).step_by(7).collect();
        for f in &filters {
            let (_, counts) = ix.count(&rows, f, Some(&matched));
            let expected = reference_count(matched.iter().map(|i| &rows[i as usize]), f, today);
            assert_eq!(counts, expected, "{f:?}");
        }
    }
}
