//! Memory the process keeps to answer faster (rendered pages, search matches, facet counts,
//! Meilisearch answers) is bounded in bytes, from configuration: `PAGE_CACHE_MB`,
//! `SEARCH_MEMO_MB` and `COUNTS_MEMO_MB`. Each memo belongs to one catalog snapshot (or index
//! version) and is dropped with it; within one, a memo that would pass its budget starts over,
//! which keeps the hot entries cheap to refill and the bound exact.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::OnceLock;

/// The byte budgets, one per kind of memo.
#[derive(Clone, Copy, Debug)]
pub struct Budgets {
    pub pages: usize,
    pub search: usize,
    pub counts: usize,
}

impl Default for Budgets {
    fn default() -> Self {
        const MB: usize = 1024 * 1024;
        Budgets {
            pages: 64 * MB,
            search: 64 * MB,
            counts: 16 * MB,
        }
    }
}

static BUDGETS: OnceLock<Budgets> = OnceLock::new();

/// Set once at start-up from the configuration (later calls change nothing).
pub fn configure(b: Budgets) {
    let _ = BUDGETS.set(b);
}

pub fn budgets() -> Budgets {
    *BUDGETS.get_or_init(Budgets::default)
}

/// A map that never holds more than `budget` bytes by its own count of them.
pub struct Bounded<K, V> {
    map: HashMap<K, (V, usize)>,
    bytes: usize,
    budget: usize,
}

impl<K: Hash + Eq, V> Bounded<K, V> {
    pub fn new(budget: usize) -> Self {
        Bounded {
            map: HashMap::new(),
            bytes: 0,
            budget,
        }
    }

    pub fn get<Q>(&self, k: &Q) -> Option<&V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.get(k).map(|(v, _)| v)
    }

    /// Keeps `v`, which takes about `size` bytes; an entry larger than the whole budget is not
    /// kept at all.
    pub fn insert(&mut self, k: K, v: V, size: usize) {
        if size > self.budget {
            return;
        }
        if self.bytes + size > self.budget {
            self.map.clear();
            self.bytes = 0;
        }
        if let Some((_, old)) = self.map.insert(k, (v, size)) {
            self.bytes -= old;
        }
        self.bytes += size;
    }

    pub fn clear(&mut self) {
        self.map.clear();
        self.bytes = 0;
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_memo_never_holds_more_than_its_budget() {
        let mut m = Bounded::new(1_000);
        for i in 0..100 {
            m.insert(i, vec![0u8; 90], 100);
            assert!(m.bytes() <= 1_000, "{} bytes", m.bytes());
        }
        assert!(m.len() <= 10 && !m.is_empty());
        m.insert(7, vec![], 10_000);
        assert!(m.get(&7).is_none_or(|v| v.len() == 90), "too big to keep");
        m.insert(1, vec![1], 10);
        m.insert(1, vec![2], 10);
        assert_eq!(m.get(&1), Some(&vec![2]));
    }
}
