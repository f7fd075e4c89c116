//! The hypervisor's view of one guest's v1 grant table. The guest side is
//! `hal::GrantTable`; the peer side (a simulated backend) maps and copies
//! through it, with domid and read-only enforced and in-use tracked the way
//! GTF_reading/GTF_writing work, so ending access while mapped fails.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use xenabi::grant_table as gt;
use xenabi::hal::{DomId, Gfn, GrantError, GrantRef, GrantTable, SharedMem, PAGE_SIZE};

use crate::mem::{SimMemory, SimPage};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GrantEntry {
    pub flags: u16,
    pub domid: DomId,
    pub frame: Gfn,
}

struct State {
    entries: HashMap<GrantRef, GrantEntry>,
    free: Vec<GrantRef>,
    allocated: HashMap<GrantRef, ()>,
    mapped: HashMap<GrantRef, u32>,
    memory: SimMemory,
    capacity: u32,
    /// peer operations refused, for tests
    refused: u64,
    /// guest-side bugs: freeing a granted or unknown ref, granting a ref
    /// that was never allocated
    misuses: u64,
}

/// Cloneable handle: the guest and its peer hold the same table.
#[derive(Clone)]
pub struct SimGrantTable(Rc<RefCell<State>>);

impl SimGrantTable {
    pub fn new(memory: SimMemory, capacity: u32) -> Self {
        let free = (gt::GNTTAB_NR_RESERVED_ENTRIES..capacity).rev().collect();
        SimGrantTable(Rc::new(RefCell::new(State {
            entries: HashMap::new(),
            free,
            allocated: HashMap::new(),
            mapped: HashMap::new(),
            memory,
            capacity,
            refused: 0,
            misuses: 0,
        })))
    }

    /// The guest mapped more grant-table frames: references up to
    /// `capacity` become allocatable (never shrinks).
    pub fn grow(&self, capacity: u32) {
        let mut s = self.0.borrow_mut();
        if capacity > s.capacity {
            let first = s.capacity.max(gt::GNTTAB_NR_RESERVED_ENTRIES);
            // keep low refs on top of the free stack
            let mut fresh: Vec<GrantRef> = (first..capacity).rev().collect();
            fresh.append(&mut s.free);
            s.free = fresh;
            s.capacity = capacity;
        }
    }

    pub fn capacity(&self) -> u32 {
        self.0.borrow().capacity
    }

    /// Guest-side misuse seen so far (tests assert it stays 0).
    pub fn misuses(&self) -> u64 {
        self.0.borrow().misuses
    }

    /// References the peer currently has mapped.
    pub fn mapped(&self) -> Vec<GrantRef> {
        let mut v: Vec<_> = self.0.borrow().mapped.keys().copied().collect();
        v.sort();
        v
    }

    pub fn entry(&self, r: GrantRef) -> Option<GrantEntry> {
        self.0.borrow().entries.get(&r).copied()
    }

    /// Entries still granting access: after a clean shutdown this is empty.
    pub fn active(&self) -> Vec<GrantRef> {
        let mut v: Vec<_> = self
            .0
            .borrow()
            .entries
            .iter()
            .filter(|(_, e)| e.flags & gt::GTF_TYPE_MASK != 0)
            .map(|(r, _)| *r)
            .collect();
        v.sort();
        v
    }

    pub fn allocated_refs(&self) -> usize {
        self.0.borrow().allocated.len()
    }

    pub fn refused(&self) -> u64 {
        self.0.borrow().refused
    }

    fn check(&self, peer: DomId, r: GrantRef, write: bool) -> Result<SimPage, i16> {
        let mut s = self.0.borrow_mut();
        let e = match s.entries.get(&r) {
            Some(e) if e.flags & gt::GTF_TYPE_MASK == gt::GTF_PERMIT_ACCESS => *e,
            _ => {
                s.refused += 1;
                return Err(gt::GNTST_BAD_GNTREF);
            }
        };
        if e.domid != peer || (write && e.flags & gt::GTF_READONLY != 0) {
            s.refused += 1;
            return Err(gt::GNTST_PERMISSION_DENIED);
        }
        s.memory.page(e.frame).ok_or(gt::GNTST_BAD_PAGE)
    }

    /// Map a grant (GNTTABOP_map_grant_ref): the entry is in use until unmap.
    pub fn map(&self, peer: DomId, r: GrantRef, readonly: bool) -> Result<SimPage, i16> {
        let page = self.check(peer, r, !readonly)?;
        let mut s = self.0.borrow_mut();
        *s.mapped.entry(r).or_insert(0) += 1;
        let e = s.entries.get_mut(&r).unwrap();
        e.flags |= if readonly {
            gt::GTF_READING
        } else {
            gt::GTF_READING | gt::GTF_WRITING
        };
        Ok(page)
    }

    pub fn unmap(&self, r: GrantRef) {
        let mut s = self.0.borrow_mut();
        let left = match s.mapped.get_mut(&r) {
            Some(n) => {
                *n -= 1;
                *n
            }
            None => return,
        };
        if left == 0 {
            s.mapped.remove(&r);
            if let Some(e) = s.entries.get_mut(&r) {
                e.flags &= !(gt::GTF_READING | gt::GTF_WRITING);
            }
        }
    }

    /// The page a GNTTABOP_copy of `len` bytes at `offset` may touch: the
    /// range must stay within the page, then the grant must allow it.
    fn copy_target(
        &self,
        peer: DomId,
        r: GrantRef,
        write: bool,
        offset: usize,
        len: usize,
    ) -> Result<SimPage, i16> {
        if offset.checked_add(len).is_none_or(|end| end > PAGE_SIZE) {
            return Err(gt::GNTST_BAD_COPY_ARG);
        }
        self.check(peer, r, write)
    }

    /// GNTTABOP_copy from the granted page into `buf`.
    pub fn copy_from(
        &self,
        peer: DomId,
        r: GrantRef,
        offset: usize,
        buf: &mut [u8],
    ) -> Result<(), i16> {
        self.copy_target(peer, r, false, offset, buf.len())?
            .read(offset, buf);
        Ok(())
    }

    /// GNTTABOP_copy from `data` into the granted page (needs a writable grant).
    pub fn copy_to(&self, peer: DomId, r: GrantRef, offset: usize, data: &[u8]) -> Result<(), i16> {
        self.copy_target(peer, r, true, offset, data.len())?
            .write(offset, data);
        Ok(())
    }
}

impl GrantTable for SimGrantTable {
    fn alloc_refs(&mut self, n: usize, out: &mut Vec<GrantRef>) -> Result<(), GrantError> {
        let mut s = self.0.borrow_mut();
        if s.free.len() < n {
            return Err(GrantError::Exhausted);
        }
        for _ in 0..n {
            let r = s.free.pop().unwrap();
            s.allocated.insert(r, ());
            out.push(r);
        }
        Ok(())
    }

    fn free_ref(&mut self, r: GrantRef) {
        let mut s = self.0.borrow_mut();
        let granted = s.entries.get(&r).is_some_and(|e| e.flags != 0);
        if !granted && s.allocated.remove(&r).is_some() {
            s.free.push(r);
        } else {
            // still granted (the ref would be reused under the peer) or
            // not ours: refuse and remember
            s.misuses += 1;
        }
    }

    fn grant(
        &mut self,
        r: GrantRef,
        domid: DomId,
        gfn: Gfn,
        readonly: bool,
    ) -> Result<(), GrantError> {
        let mut s = self.0.borrow_mut();
        if !s.allocated.contains_key(&r) {
            s.misuses += 1;
            return Err(GrantError::BadRef);
        }
        if s.entries.get(&r).is_some_and(|e| e.flags != 0) {
            return Err(GrantError::InUse);
        }
        let flags = gt::GTF_PERMIT_ACCESS | if readonly { gt::GTF_READONLY } else { 0 };
        s.entries.insert(
            r,
            GrantEntry {
                flags,
                domid,
                frame: gfn,
            },
        );
        Ok(())
    }

    fn end_access(&mut self, r: GrantRef) -> Result<(), GrantError> {
        let mut s = self.0.borrow_mut();
        let e = s.entries.get_mut(&r).ok_or(GrantError::BadRef)?;
        if e.flags & (gt::GTF_READING | gt::GTF_WRITING) != 0 {
            return Err(GrantError::InUse);
        }
        e.flags = 0;
        Ok(())
    }
}

/// A flat grant table with no peer: entries in a vector, references from
/// busdma-style free stack. For benchmarks and allocation counting, where the
/// simulator's bookkeeping would dominate what is measured.
pub struct ArrayGrantTable {
    entries: Vec<GrantEntry>,
    free: Vec<GrantRef>,
}

impl ArrayGrantTable {
    pub fn new(capacity: u32) -> Self {
        let free: Vec<GrantRef> = (gt::GNTTAB_NR_RESERVED_ENTRIES..capacity).rev().collect();
        let empty = GrantEntry {
            flags: 0,
            domid: 0,
            frame: 0,
        };
        ArrayGrantTable {
            entries: vec![empty; capacity as usize],
            free,
        }
    }

    pub fn active(&self) -> usize {
        self.entries.iter().filter(|e| e.flags != 0).count()
    }

    pub fn free_count(&self) -> usize {
        self.free.len()
    }
}

impl GrantTable for ArrayGrantTable {
    fn alloc_refs(&mut self, n: usize, out: &mut Vec<GrantRef>) -> Result<(), GrantError> {
        if self.free.len() < n {
            return Err(GrantError::Exhausted);
        }
        let at = self.free.len() - n;
        out.extend(self.free.drain(at..));
        Ok(())
    }
    fn free_ref(&mut self, r: GrantRef) {
        self.free.push(r);
    }
    fn grant(
        &mut self,
        r: GrantRef,
        domid: DomId,
        gfn: Gfn,
        readonly: bool,
    ) -> Result<(), GrantError> {
        let e = self.entries.get_mut(r as usize).ok_or(GrantError::BadRef)?;
        *e = GrantEntry {
            flags: gt::GTF_PERMIT_ACCESS | if readonly { gt::GTF_READONLY } else { 0 },
            domid,
            frame: gfn,
        };
        Ok(())
    }
    fn end_access(&mut self, r: GrantRef) -> Result<(), GrantError> {
        let e = self.entries.get_mut(r as usize).ok_or(GrantError::BadRef)?;
        e.flags = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mem::SimPageAlloc;
    use xenabi::hal::PageAlloc;

    const BACKEND: DomId = 0;

    fn table(capacity: u32) -> (SimGrantTable, SimPageAlloc) {
        let mem = SimMemory::new();
        (
            SimGrantTable::new(mem.clone(), capacity),
            SimPageAlloc::new(mem),
        )
    }

    fn one_ref(g: &mut SimGrantTable) -> GrantRef {
        let mut v = Vec::new();
        g.alloc_refs(1, &mut v).unwrap();
        v[0]
    }

    #[test]
    fn reserved_refs_are_not_allocatable_and_growth_adds_refs() {
        let (mut g, _) = table(10);
        let mut v = Vec::new();
        g.alloc_refs(2, &mut v).unwrap();
        assert_eq!(v, vec![8, 9]);
        assert_eq!(g.alloc_refs(1, &mut v), Err(GrantError::Exhausted));
        g.grow(12);
        g.alloc_refs(2, &mut v).unwrap();
        assert_eq!(&v[2..], &[10, 11]);
        assert_eq!(g.capacity(), 12);
    }

    #[test]
    fn peer_access_checks_domid_readonly_and_state() {
        let (mut g, mut pa) = table(32);
        let page = pa.alloc_page().unwrap();
        page.write(0, b"hello");
        let r = one_ref(&mut g);
        assert_eq!(
            g.copy_from(BACKEND, r, 0, &mut [0; 5]),
            Err(gt::GNTST_BAD_GNTREF)
        );
        g.grant(r, BACKEND, page.gfn(), true).unwrap();
        let mut got = [0u8; 5];
        g.copy_from(BACKEND, r, 0, &mut got).unwrap();
        assert_eq!(&got, b"hello");
        assert_eq!(
            g.copy_to(BACKEND, r, 0, b"x"),
            Err(gt::GNTST_PERMISSION_DENIED)
        );
        assert_eq!(
            g.copy_from(3, r, 0, &mut got),
            Err(gt::GNTST_PERMISSION_DENIED)
        );
        assert!(
            g.map(BACKEND, r, false).is_err(),
            "no writable map of a read-only grant"
        );
        assert_eq!(
            g.copy_from(BACKEND, r, 4092, &mut got),
            Err(gt::GNTST_BAD_COPY_ARG)
        );
        assert_eq!(
            g.copy_from(BACKEND, r, usize::MAX, &mut got),
            Err(gt::GNTST_BAD_COPY_ARG)
        );
        assert_eq!(g.refused(), 4);
    }

    #[test]
    fn end_access_fails_while_mapped_and_ref_reuse_is_refused() {
        let (mut g, mut pa) = table(32);
        let page = pa.alloc_page().unwrap();
        let r = one_ref(&mut g);
        g.grant(r, BACKEND, page.gfn(), false).unwrap();
        let view = g.map(BACKEND, r, false).unwrap();
        let _second = g.map(BACKEND, r, true).unwrap();
        let flags = g.entry(r).unwrap().flags;
        assert_ne!(flags & gt::GTF_READING, 0);
        assert_ne!(flags & gt::GTF_WRITING, 0);
        view.write(0, b"rx");
        assert_eq!(g.end_access(r), Err(GrantError::InUse));
        assert_eq!(
            g.grant(r, BACKEND, page.gfn(), false),
            Err(GrantError::InUse)
        );
        g.free_ref(r);
        assert_eq!(g.misuses(), 1, "freeing a granted ref is refused");
        assert_eq!(g.allocated_refs(), 1);
        g.unmap(r);
        assert_eq!(g.end_access(r), Err(GrantError::InUse), "one mapping left");
        g.unmap(r);
        assert!(g.mapped().is_empty());
        g.end_access(r).unwrap();
        assert!(g.active().is_empty());
        g.free_ref(r);
        assert_eq!(g.allocated_refs(), 0);
        g.free_ref(r);
        assert_eq!(g.misuses(), 2, "double free noticed");
        let mut got = [0u8; 2];
        page.read(0, &mut got);
        assert_eq!(&got, b"rx", "the peer wrote the guest's page");
    }

    #[test]
    fn active_lists_what_is_still_granted() {
        let (mut g, mut pa) = table(32);
        let page = pa.alloc_page().unwrap();
        let (a, b) = (one_ref(&mut g), one_ref(&mut g));
        g.grant(a, BACKEND, page.gfn(), true).unwrap();
        g.grant(b, BACKEND, page.gfn(), true).unwrap();
        g.end_access(a).unwrap();
        assert_eq!(g.active(), vec![b]);
        assert_eq!(
            g.grant(40, BACKEND, page.gfn(), true),
            Err(GrantError::BadRef)
        );
        assert_eq!(g.misuses(), 1);
    }

    #[test]
    fn a_grant_of_memory_the_guest_does_not_have_is_a_bad_page() {
        let (mut g, _) = table(32);
        let r = one_ref(&mut g);
        g.grant(r, BACKEND, 0xdead_beef, true).unwrap();
        assert_eq!(g.map(BACKEND, r, true).err(), Some(gt::GNTST_BAD_PAGE));
    }
}
