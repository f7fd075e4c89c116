//! Grant-reference allocator: O(1) alloc and free from a free stack, a
//! bitmap to catch double frees, the reserved first entries never handed
//! out, and growth when the kernel maps another grant-table frame.

extern crate alloc;

use alloc::vec::Vec;

use xenabi::grant_table::GNTTAB_NR_RESERVED_ENTRIES;
use xenabi::hal::{GrantError, GrantRef};

pub struct RefAllocator {
    free: Vec<GrantRef>,
    in_use: Vec<u64>,
    capacity: u32,
}

impl RefAllocator {
    /// A table of `capacity` entries (references 8.. are usable).
    pub fn new(capacity: u32) -> Self {
        let mut a = RefAllocator {
            free: Vec::new(),
            in_use: Vec::new(),
            capacity: 0,
        };
        a.grow(capacity);
        a
    }

    /// Extend the table to `capacity` entries (never shrinks).
    pub fn grow(&mut self, capacity: u32) {
        if capacity <= self.capacity {
            return;
        }
        let first = self.capacity.max(GNTTAB_NR_RESERVED_ENTRIES);
        self.in_use.resize(capacity.div_ceil(64) as usize, 0);
        self.free.reserve(capacity.saturating_sub(first) as usize);
        // pushed high to low so low references come out first
        for r in (first..capacity).rev() {
            self.free.push(r);
        }
        self.capacity = capacity;
    }

    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    pub fn free_count(&self) -> usize {
        self.free.len()
    }

    pub fn in_use_count(&self) -> usize {
        self.in_use.iter().map(|w| w.count_ones() as usize).sum()
    }

    pub fn alloc(&mut self) -> Result<GrantRef, GrantError> {
        let r = self.free.pop().ok_or(GrantError::Exhausted)?;
        self.in_use[(r / 64) as usize] |= 1 << (r % 64);
        Ok(r)
    }

    /// `n` references or none.
    pub fn alloc_batch(&mut self, n: usize, out: &mut Vec<GrantRef>) -> Result<(), GrantError> {
        if self.free.len() < n {
            return Err(GrantError::Exhausted);
        }
        for _ in 0..n {
            let r = self.alloc()?;
            out.push(r);
        }
        Ok(())
    }

    pub fn is_allocated(&self, r: GrantRef) -> bool {
        r < self.capacity && self.in_use[(r / 64) as usize] & (1 << (r % 64)) != 0
    }

    /// Return a reference; a reserved, unknown or already free one is refused.
    pub fn free(&mut self, r: GrantRef) -> Result<(), GrantError> {
        if r < GNTTAB_NR_RESERVED_ENTRIES || !self.is_allocated(r) {
            return Err(GrantError::BadRef);
        }
        self.in_use[(r / 64) as usize] &= !(1 << (r % 64));
        self.free.push(r);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_refs_are_never_handed_out() {
        let mut a = RefAllocator::new(16);
        let mut got = Vec::new();
        a.alloc_batch(8, &mut got).unwrap();
        assert_eq!(got, (8..16).collect::<Vec<_>>());
        assert_eq!(a.alloc(), Err(GrantError::Exhausted));
        assert_eq!(a.free(3), Err(GrantError::BadRef));
    }

    #[test]
    fn batch_is_all_or_nothing() {
        let mut a = RefAllocator::new(20);
        let mut got = Vec::new();
        assert_eq!(a.alloc_batch(13, &mut got), Err(GrantError::Exhausted));
        assert!(got.is_empty());
        assert_eq!(a.free_count(), 12);
        a.alloc_batch(12, &mut got).unwrap();
        assert_eq!(a.free_count(), 0);
    }

    #[test]
    fn double_free_and_unknown_refs_are_refused() {
        let mut a = RefAllocator::new(64);
        let r = a.alloc().unwrap();
        a.free(r).unwrap();
        assert_eq!(a.free(r), Err(GrantError::BadRef));
        assert_eq!(a.free(1000), Err(GrantError::BadRef));
        assert_eq!(a.in_use_count(), 0);
    }

    #[test]
    fn a_table_smaller_than_the_reserved_entries_hands_out_nothing() {
        let mut a = RefAllocator::new(4);
        assert_eq!(a.alloc(), Err(GrantError::Exhausted));
        assert_eq!(a.free(2), Err(GrantError::BadRef));
        a.grow(9);
        assert_eq!(a.alloc(), Ok(8));
        assert_eq!(a.alloc(), Err(GrantError::Exhausted));
    }

    #[test]
    fn grows_with_the_table() {
        let mut a = RefAllocator::new(512);
        let mut got = Vec::new();
        a.alloc_batch(504, &mut got).unwrap();
        assert_eq!(a.alloc(), Err(GrantError::Exhausted));
        a.grow(1024);
        assert_eq!(a.alloc().unwrap(), 512);
        assert_eq!(a.free_count(), 511);
    }

    proptest::proptest! {
        /// Against a set model: never a reserved ref, never the same ref
        /// twice, batches all or nothing, frees of anything not held refused,
        /// counts always add up.
        #[test]
        fn matches_a_set_model(ops in proptest::collection::vec((0u8..4, 0u32..1200), 1..300)) {
            use std::collections::BTreeSet;
            let mut a = RefAllocator::new(16);
            let mut held = BTreeSet::new();
            let mut cap = 16u32;
            for (op, x) in ops {
                match op {
                    0 => match a.alloc() {
                        Ok(r) => {
                            proptest::prop_assert!((GNTTAB_NR_RESERVED_ENTRIES..cap).contains(&r));
                            proptest::prop_assert!(held.insert(r));
                        }
                        Err(_) => proptest::prop_assert_eq!(held.len() as u32, cap - 8),
                    },
                    1 => {
                        let mut out = Vec::new();
                        let n = (x % 20) as usize;
                        let free = (cap - 8) as usize - held.len();
                        let res = a.alloc_batch(n, &mut out);
                        proptest::prop_assert_eq!(res.is_ok(), n <= free);
                        proptest::prop_assert_eq!(out.len(), if n <= free { n } else { 0 });
                        for r in out {
                            proptest::prop_assert!(held.insert(r));
                        }
                    }
                    2 => {
                        let r = x % (cap + 4);
                        let want_ok = held.remove(&r);
                        proptest::prop_assert_eq!(a.free(r).is_ok(), want_ok);
                    }
                    _ => {
                        if x > cap && x < 1100 {
                            a.grow(x);
                            cap = x;
                        }
                    }
                }
                proptest::prop_assert_eq!(a.in_use_count(), held.len());
                proptest::prop_assert_eq!(a.free_count() + held.len(), (cap - 8) as usize);
            }
        }
    }
}
