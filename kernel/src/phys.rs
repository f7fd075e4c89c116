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
        // SAFETY: the source is in range (checked) and identity-mapped
        // (constructor contract); the destination is our own slice.
        unsafe { copy_from_shared(self.paddr as usize + off, buf) }
    }

    fn write(&self, off: usize, buf: &[u8]) {
        self.check(off, buf.len());
        // SAFETY: as read, the other way.
        unsafe { copy_to_shared(self.paddr as usize + off, buf) }
    }

    fn zero(&self) {
        // SAFETY: the whole region: in range, identity-mapped.
        unsafe { fill_shared(self.paddr as usize, self.len) }
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

// Copies to and from shared memory: each byte of shared memory is read or
// written exactly once, by volatile accesses (the peer may change it at any
// time: what we read is a snapshot, never re-read), a word at a time where
// the shared side is 8-aligned. A byte at a time cost ~8 times the
// accesses: every packet and every zeroed page went through it.

/// Copy `buf.len()` bytes from shared memory at `src` into `buf`.
///
/// # Safety
/// `[src, src + buf.len())` is mapped memory nothing holds references into.
unsafe fn copy_from_shared(src: usize, buf: &mut [u8]) {
    let (n, dst) = (buf.len(), buf.as_mut_ptr());
    let head = src.wrapping_neg() % 8;
    let head = head.min(n);
    let mut i = 0;
    while i < head {
        // SAFETY: src + i is in the caller's range; dst + i in buf.
        unsafe { *dst.add(i) = core::ptr::read_volatile((src + i) as *const u8) };
        i += 1;
    }
    while i + 8 <= n {
        // SAFETY: src + i is 8-aligned (past the head) and its 8 bytes are
        // in range; buf has them too (it may be unaligned: write_unaligned).
        unsafe {
            let w = core::ptr::read_volatile((src + i) as *const u64);
            (dst.add(i) as *mut u64).write_unaligned(w);
        }
        i += 8;
    }
    while i < n {
        // SAFETY: as the head.
        unsafe { *dst.add(i) = core::ptr::read_volatile((src + i) as *const u8) };
        i += 1;
    }
}

/// Copy `buf` into shared memory at `dst`.
///
/// # Safety
/// As `copy_from_shared`, for `[dst, dst + buf.len())`.
unsafe fn copy_to_shared(dst: usize, buf: &[u8]) {
    let (n, src) = (buf.len(), buf.as_ptr());
    let head = (dst.wrapping_neg() % 8).min(n);
    let mut i = 0;
    while i < head {
        // SAFETY: dst + i is in the caller's range; src + i in buf.
        unsafe { core::ptr::write_volatile((dst + i) as *mut u8, *src.add(i)) };
        i += 1;
    }
    while i + 8 <= n {
        // SAFETY: dst + i is 8-aligned and its 8 bytes in range; buf's
        // bytes are read unaligned.
        unsafe {
            let w = (src.add(i) as *const u64).read_unaligned();
            core::ptr::write_volatile((dst + i) as *mut u64, w);
        }
        i += 8;
    }
    while i < n {
        // SAFETY: as the head.
        unsafe { core::ptr::write_volatile((dst + i) as *mut u8, *src.add(i)) };
        i += 1;
    }
}

/// Zero `n` bytes of shared memory at `dst`.
///
/// # Safety
/// As `copy_to_shared`.
unsafe fn fill_shared(dst: usize, n: usize) {
    let head = (dst.wrapping_neg() % 8).min(n);
    let mut i = 0;
    while i < n {
        if i >= head && i + 8 <= n {
            // SAFETY: 8-aligned, in range.
            unsafe { core::ptr::write_volatile((dst + i) as *mut u64, 0) };
            i += 8;
        } else {
            // SAFETY: in range.
            unsafe { core::ptr::write_volatile((dst + i) as *mut u8, 0) };
            i += 1;
        }
    }
}
