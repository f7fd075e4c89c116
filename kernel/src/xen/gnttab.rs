//! The grant table (v1) on PVH: frames mapped with
//! XENMEM_add_to_physmap(XENMAPSPACE_grant_table), grown on demand up to the
//! maximum GNTTABOP_query_size reports; entries written in the order Xen's
//! protocol requires; end of access with a cmpxchg loop on the flags.

extern crate alloc;

use alloc::vec::Vec;

use busdma::RefAllocator;
use xenabi::grant_table as gt;
use xenabi::hal::{DomId, Gfn, GrantError, GrantRef, GrantTable};

use super::hypercall;
use crate::mem::Page;
use crate::phys::PhysRegion;

pub struct XenGrantTable {
    /// Frames Xen mapped for us, in table order (each holds 512 entries).
    frames: Vec<PhysRegion>,
    max_frames: u32,
    /// Reference bookkeeping (never the reserved first 8).
    refs: RefAllocator,
}

pub struct GrantTableInfo {
    pub max_frames: u32,
}

impl XenGrantTable {
    /// Query the limits and map the first frame.
    pub fn new() -> Result<(XenGrantTable, GrantTableInfo), &'static str> {
        let mut q = gt::GnttabQuerySize {
            dom: xenabi::xen::DOMID_SELF,
            ..Default::default()
        };
        if hypercall::gnttab_query_size(&mut q) < 0 || q.status != gt::GNTST_OKAY {
            return Err("GNTTABOP_query_size failed");
        }
        let mut t = XenGrantTable {
            frames: Vec::new(),
            max_frames: q.max_nr_frames,
            refs: RefAllocator::new(0),
        };
        t.grow()
            .map_err(|_| "cannot map the first grant-table frame")?;
        Ok((
            t,
            GrantTableInfo {
                max_frames: q.max_nr_frames,
            },
        ))
    }

    pub fn frames(&self) -> usize {
        self.frames.len()
    }

    /// Map one more grant-table frame and add its entries to the free pool.
    fn grow(&mut self) -> Result<(), GrantError> {
        let idx = self.frames.len() as u32;
        if idx >= self.max_frames {
            return Err(GrantError::Exhausted);
        }
        let page = Page::alloc().ok_or(GrantError::Exhausted)?;
        let gfn = page.paddr() >> 12;
        hypercall::add_to_physmap(xenabi::memory::XENMAPSPACE_GRANT_TABLE, idx as u64, gfn)
            .map_err(|_| GrantError::Exhausted)?;
        // Xen replaced our RAM frame with the grant frame: it is never freed.
        self.frames.push(page.leak());
        self.refs
            .grow(self.frames.len() as u32 * gt::ENTRIES_PER_FRAME);
        Ok(())
    }

    fn entry(&self, r: GrantRef) -> Result<(&PhysRegion, usize), GrantError> {
        let frame = (r / gt::ENTRIES_PER_FRAME) as usize;
        if r < gt::GNTTAB_NR_RESERVED_ENTRIES || frame >= self.frames.len() {
            return Err(GrantError::BadRef);
        }
        Ok((
            &self.frames[frame],
            (r % gt::ENTRIES_PER_FRAME) as usize * gt::GRANT_ENTRY_SIZE,
        ))
    }

    pub fn free_count(&self) -> usize {
        self.refs.free_count()
    }
}

impl GrantTable for XenGrantTable {
    fn alloc_refs(&mut self, n: usize, out: &mut Vec<GrantRef>) -> Result<(), GrantError> {
        while self.refs.free_count() < n {
            self.grow()?;
        }
        self.refs.alloc_batch(n, out)
    }

    fn free_ref(&mut self, r: GrantRef) {
        if let Ok((f, off)) = self.entry(r) {
            // Only an entry that grants nothing may go back to the pool.
            if f.read_u16(off + gt::GRANT_ENTRY_FLAGS_OFFSET) == 0 && self.refs.free(r).is_err() {
                crate::println!(
                    "gnttab: error reason=\"free of a reference not allocated\" ref={}",
                    r
                );
            }
        }
    }

    fn grant(
        &mut self,
        r: GrantRef,
        domid: DomId,
        gfn: Gfn,
        readonly: bool,
    ) -> Result<(), GrantError> {
        let (f, off) = self.entry(r)?;
        if gfn > u32::MAX as u64 {
            return Err(GrantError::BadRef); // v1 entries hold a 32-bit frame
        }
        if f.read_u16(off + gt::GRANT_ENTRY_FLAGS_OFFSET) != 0 {
            return Err(GrantError::InUse);
        }
        // Frame and domid first; the flags (a release store) make it valid.
        f.write_u16(off + gt::GRANT_ENTRY_DOMID_OFFSET, domid);
        xenabi::hal::SharedMem::write_u32(f, off + gt::GRANT_ENTRY_FRAME_OFFSET, gfn as u32);
        let flags = gt::GTF_PERMIT_ACCESS | if readonly { gt::GTF_READONLY } else { 0 };
        f.write_u16(off + gt::GRANT_ENTRY_FLAGS_OFFSET, flags);
        Ok(())
    }

    fn end_access(&mut self, r: GrantRef) -> Result<(), GrantError> {
        let (f, off) = self.entry(r)?;
        let at = off + gt::GRANT_ENTRY_FLAGS_OFFSET;
        // Clear the flags only if the peer is neither reading nor writing;
        // Xen sets those bits with atomic ops, so compare-and-swap.
        let mut flags = f.read_u16(at);
        loop {
            if flags & (gt::GTF_READING | gt::GTF_WRITING) != 0 {
                return Err(GrantError::InUse);
            }
            match f.cmpxchg_u16(at, flags, 0) {
                Ok(_) => return Ok(()),
                Err(now) => flags = now,
            }
        }
    }
}
