//! A least-recently-used set bounded by bytes, for the execute worker's module cache and the
//! host's picture of it (which routes each execution to a worker that holds its module). Both
//! sides use this one type, so they evict alike.
//!
//! The entry used last is always kept, even alone over the budget: a worker can always run
//! the module it just loaded again without reloading it, which the host relies on to skip
//! linking the artifact file for a repeated job.

use std::collections::VecDeque;

/// Entries with a size, the least recently used first out once the sizes pass the budget.
#[derive(Debug)]
pub struct ByteLru<K, V> {
    budget: u64,
    /// Least recently used first.
    entries: VecDeque<(K, u64, V)>,
    total: u64,
}

impl<K: PartialEq + Copy, V> ByteLru<K, V> {
    /// An empty set holding at most `budget` bytes (besides the entry used last).
    pub fn new(budget: u64) -> Self {
        Self {
            budget,
            entries: VecDeque::new(),
            total: 0,
        }
    }

    /// The value of `key`, now the most recently used; `None` if absent.
    pub fn get(&mut self, key: &K) -> Option<&V> {
        let at = self.entries.iter().position(|(k, ..)| k == key)?;
        let entry = self.entries.remove(at)?;
        self.entries.push_back(entry);
        self.entries.back().map(|(_, _, v)| v)
    }

    /// Whether `key` is held, without touching its recency.
    pub fn contains(&self, key: &K) -> bool {
        self.entries.iter().any(|(k, ..)| k == key)
    }

    /// Inserts (or replaces) `key` as the most recently used, then evicts the least recently
    /// used entries until the sizes fit the budget or only this one is left. Returns the keys
    /// evicted.
    pub fn insert(&mut self, key: K, size: u64, value: V) -> Vec<K> {
        self.remove(&key);
        self.entries.push_back((key, size, value));
        self.total += size;
        let mut evicted = Vec::new();
        while self.total > self.budget && self.entries.len() > 1 {
            if let Some((k, s, _)) = self.entries.pop_front() {
                self.total -= s;
                evicted.push(k);
            }
        }
        evicted
    }

    /// Removes `key`, if held.
    pub fn remove(&mut self, key: &K) {
        if let Some(at) = self.entries.iter().position(|(k, ..)| k == key)
            && let Some((_, size, _)) = self.entries.remove(at)
        {
            self.total -= size;
        }
    }

    /// Empties the set.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.total = 0;
    }

    /// Bytes held.
    pub fn total_bytes(&self) -> u64 {
        self.total
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(lru: &ByteLru<u8, ()>) -> Vec<u8> {
        lru.entries.iter().map(|(k, ..)| *k).collect()
    }

    #[test]
    fn evicts_the_least_recently_used_past_the_budget() {
        let mut lru = ByteLru::new(100);
        assert!(lru.insert(1, 40, ()).is_empty());
        assert!(lru.insert(2, 40, ()).is_empty());
        assert!(lru.get(&1).is_some(), "1 is now the most recent");
        assert_eq!(lru.insert(3, 40, ()), vec![2]);
        assert_eq!(keys(&lru), [1, 3]);
        assert_eq!(lru.total_bytes(), 80);
        assert!(lru.get(&2).is_none());
    }

    #[test]
    fn keeps_the_last_entry_even_over_the_budget() {
        let mut lru = ByteLru::new(100);
        lru.insert(1, 40, ());
        assert_eq!(lru.insert(2, 500, ()), vec![1]);
        assert_eq!(keys(&lru), [2]);
        assert_eq!(lru.insert(3, 10, ()), vec![2]);
        assert_eq!(keys(&lru), [3]);
        // A budget of zero keeps exactly the last one.
        let mut none = ByteLru::new(0);
        none.insert(1, 1, ());
        assert_eq!(none.insert(2, 1, ()), vec![1]);
        assert_eq!(keys(&none), [2]);
    }

    #[test]
    fn reinserting_replaces_and_removing_frees() {
        let mut lru = ByteLru::new(100);
        lru.insert(1, 40, ());
        lru.insert(2, 40, ());
        lru.insert(1, 50, ());
        assert_eq!(keys(&lru), [2, 1]);
        assert_eq!(lru.total_bytes(), 90);
        lru.remove(&2);
        assert_eq!(lru.total_bytes(), 50);
        assert!(lru.contains(&1) && !lru.contains(&2));
        lru.clear();
        assert!(lru.is_empty());
    }
}
