//! `PhysRegion`: the one place where memory shared with Xen or a peer
//! domain is touched (volatile copies and atomic indexes, never references
//! into it). All RAM is identity-mapped, so a physical address is a pointer.

use core::sync::atomic::{AtomicU32, Ordering};

use xenabi::hal::{Gfn, SharedMem};

/// A run of physical memory accessed by copy. Shared pages (rings, packet
/// buffers, the console and xenstore pages) are `PhysRegion`s.
pub struct PhysRegion {
    pub(crate) paddr: u64,
    pub(crate) len: usize,
}

impl PhysRegion {
    /// # Safety
    /// `[paddr, paddr + len)` must be identity-mapped memory that nothing else
    /// in this kernel holds Rust references into for the region's lifetime.
    pub const unsafe fn new(paddr: u64, len: usize) -> Self {
        PhysRegion { paddr, len }
    }

    pub fn paddr(&self) -> u64 {
        self.paddr
    }

    fn check(&self, off: usize, n: usize) {
        assert!(
            off <= self.len && n <= self.len - off,
            "PhysRegion access out of range"
        );
    }

    pub fn read_u8(&self, off: usize) -> u8 {
        self.check(off, 1);
        // SAFETY: in range (checked) and identity-mapped (constructor contract).
        unsafe { core::ptr::read_volatile((self.paddr as usize + off) as *const u8) }
    }

    pub fn write_u8(&self, off: usize, v: u8) {
        self.check(off, 1);
        // SAFETY: in range (checked) and identity-mapped (constructor contract).
        unsafe { core::ptr::write_volatile((self.paddr as usize + off) as *mut u8, v) }
    }

    /// Atomic exchange of a u64 (e.g. evtchn_pending_sel).
    pub fn swap_u64(&self, off: usize, v: u64) -> u64 {
        self.check(off, 8);
        assert!(off % 8 == 0);
        // SAFETY: aligned, in range, identity-mapped; atomics are the right tool
        // for words the hypervisor updates concurrently.
        let a = unsafe { &*((self.paddr as usize + off) as *const core::sync::atomic::AtomicU64) };
        a.swap(v, Ordering::AcqRel)
    }

    /// Atomic AND of a u64, returning the old value.
    pub fn fetch_and_u64(&self, off: usize, v: u64) -> u64 {
        self.check(off, 8);
        assert!(off % 8 == 0);
        // SAFETY: as swap_u64.
        let a = unsafe { &*((self.paddr as usize + off) as *const core::sync::atomic::AtomicU64) };
        a.fetch_and(v, Ordering::AcqRel)
    }

    pub fn read_u64(&self, off: usize) -> u64 {
        self.check(off, 8);
        assert!(off % 8 == 0);
        // SAFETY: as swap_u64.
        let a = unsafe { &*((self.paddr as usize + off) as *const core::sync::atomic::AtomicU64) };
        a.load(Ordering::Acquire)
    }

    pub fn write_u64(&self, off: usize, v: u64) {
        self.check(off, 8);
        assert!(off % 8 == 0);
        // SAFETY: as swap_u64.
        let a = unsafe { &*((self.paddr as usize + off) as *const core::sync::atomic::AtomicU64) };
        a.store(v, Ordering::Release)
    }

    /// Atomic compare-exchange of a u16 (grant entry flags).
    pub fn cmpxchg_u16(&self, off: usize, old: u16, new: u16) -> Result<u16, u16> {
        self.check(off, 2);
        assert!(off % 2 == 0);
        // SAFETY: as swap_u64, for a 2-aligned u16.
        let a = unsafe { &*((self.paddr as usize + off) as *const core::sync::atomic::AtomicU16) };
        a.compare_exchange(old, new, Ordering::AcqRel, Ordering::Acquire)
    }

    pub fn read_u16(&self, off: usize) -> u16 {
        self.check(off, 2);
        assert!(off % 2 == 0);
        // SAFETY: as cmpxchg_u16.
        let a = unsafe { &*((self.paddr as usize + off) as *const core::sync::atomic::AtomicU16) };
        a.load(Ordering::Acquire)
    }

    pub fn write_u16(&self, off: usize, v: u16) {
        self.check(off, 2);
        assert!(off % 2 == 0);
        // SAFETY: as cmpxchg_u16.
        let a = unsafe { &*((self.paddr as usize + off) as *const core::sync::atomic::AtomicU16) };
        a.store(v, Ordering::Release)
    }
}

impl SharedMem for PhysRegion {
    fn gfn(&self) -> Gfn {
        self.paddr / 4096
    }

    fn len(&self) -> usize {
        self.len
    }

    fn read(&self, off: usize, buf: &mut [u8]) {
        self.check(off, buf.len());
        for (i, b) in buf.iter_mut().enumerate() {
            // SAFETY: in range (checked) and identity-mapped (constructor contract).
            *b = unsafe { core::ptr::read_volatile((self.paddr as usize + off + i) as *const u8) };
        }
    }

    fn write(&self, off: usize, buf: &[u8]) {
        self.check(off, buf.len());
        for (i, b) in buf.iter().enumerate() {
            // SAFETY: in range (checked) and identity-mapped (constructor contract).
            unsafe { core::ptr::write_volatile((self.paddr as usize + off + i) as *mut u8, *b) };
        }
    }

    fn read_u32(&self, off: usize) -> u32 {
        self.check(off, 4);
        assert!(off % 4 == 0);
        // SAFETY: aligned, in range, identity-mapped.
        let a = unsafe { &*((self.paddr as usize + off) as *const AtomicU32) };
        a.load(Ordering::Acquire)
    }

    fn write_u32(&self, off: usize, val: u32) {
        self.check(off, 4);
        assert!(off % 4 == 0);
        // SAFETY: aligned, in range, identity-mapped.
        let a = unsafe { &*((self.paddr as usize + off) as *const AtomicU32) };
        a.store(val, Ordering::Release)
    }
}
