//! The small interface the drivers see instead of hypercalls (DESIGN.md, "The
//! boundaries that make it testable"). The kernel implements it on real Xen; the
//! hosted simulator (`xensim`) implements it in tests. Driver code is written
//! once against these traits.

use alloc::vec::Vec;
use core::fmt;

/// A Xen domain id.
pub type DomId = u16;
/// A grant reference: an index into our grant table.
pub type GrantRef = u32;
/// An event-channel port.
pub type Port = u32;
/// A guest frame number (page address >> 12).
pub type Gfn = u64;

pub const PAGE_SIZE: usize = 4096;

/// Memory that may be shared with another domain (a ring page, a packet page).
///
/// The peer can write it at any time, so nothing hands out a reference into it:
/// data is copied in and out, and indexes are read and written as whole `u32`s
/// with acquire/release ordering. Offsets past `len()` are a caller bug and
/// implementations panic on them; bounds that come from a peer must be checked
/// before they reach here.
pub trait SharedMem {
    /// Frame number of the first page, as put in grants and XenStore.
    fn gfn(&self) -> Gfn;
    /// Size in bytes (a whole number of pages).
    fn len(&self) -> usize;
    /// Copy `buf.len()` bytes out, starting at `off`.
    fn read(&self, off: usize, buf: &mut [u8]);
    /// Copy `buf` in, starting at `off`.
    fn write(&self, off: usize, buf: &[u8]);
    /// Load a little-endian u32 at a 4-aligned `off` with acquire ordering.
    fn read_u32(&self, off: usize) -> u32;
    /// Store a little-endian u32 at a 4-aligned `off` with release ordering.
    fn write_u32(&self, off: usize, val: u32);
    /// Fill the whole region with zeroes.
    fn zero(&self) {
        let zeros = [0u8; 64];
        let mut off = 0;
        while off < self.len() {
            let n = core::cmp::min(zeros.len(), self.len() - off);
            self.write(off, &zeros[..n]);
            off += n;
        }
    }
    /// A full memory barrier (store-load): used between publishing a producer
    /// index and reading the peer's event threshold.
    fn full_fence(&self) {
        core::sync::atomic::fence(core::sync::atomic::Ordering::SeqCst);
    }
}

/// Hands out page-aligned, zeroed pages that may be shared (granted) to a
/// peer. A page is returned to the allocator when dropped.
pub trait PageAlloc {
    type Page: SharedMem;
    /// One zeroed page, or `None` when memory is exhausted.
    fn alloc_page(&mut self) -> Option<Self::Page>;
}

/// Errors from the grant table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantError {
    /// No free grant references (and the table cannot grow further).
    Exhausted,
    /// The peer still has the grant mapped or is copying through it.
    InUse,
    /// The reference is not one we handed out, or is reserved.
    BadRef,
}

impl fmt::Display for GrantError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GrantError::Exhausted => "grant references exhausted",
            GrantError::InUse => "grant still in use by peer",
            GrantError::BadRef => "bad grant reference",
        })
    }
}

/// Our grant table (v1 entries).
pub trait GrantTable {
    /// Take `n` free references, all or none. Appends them to `out`.
    fn alloc_refs(&mut self, n: usize, out: &mut Vec<GrantRef>) -> Result<(), GrantError>;
    /// Return a reference to the free pool. It must not be granted.
    fn free_ref(&mut self, r: GrantRef);
    /// Grant `domid` access to frame `gfn` through `r` (read-only or writable).
    /// Frame and domid are written before the flags, after a write barrier.
    fn grant(
        &mut self,
        r: GrantRef,
        domid: DomId,
        gfn: Gfn,
        readonly: bool,
    ) -> Result<(), GrantError>;
    /// End access through `r`. Fails with `InUse` while the peer has it mapped
    /// or in use; the entry then stays granted and the caller must retry later
    /// (or quarantine the page), never reuse it.
    fn end_access(&mut self, r: GrantRef) -> Result<(), GrantError>;
}

/// Errors from event-channel operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvtchnError {
    /// The hypervisor refused the operation (negative Xen errno).
    Xen(i32),
    /// No such port is bound.
    BadPort,
}

impl fmt::Display for EvtchnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvtchnError::Xen(e) => write!(f, "xen error {}", e),
            EvtchnError::BadPort => f.write_str("bad event-channel port"),
        }
    }
}

/// Event channels.
pub trait EventChannel {
    /// Allocate an unbound port that `remote` may bind to (EVTCHNOP_alloc_unbound).
    fn alloc_unbound(&mut self, remote: DomId) -> Result<Port, EvtchnError>;
    /// Close a port we allocated.
    fn close(&mut self, port: Port);
    /// Signal the peer (EVTCHNOP_send).
    fn notify(&mut self, port: Port);
    /// Unmask the port so that further events are delivered.
    fn unmask(&mut self, port: Port);
    /// Test and clear: has `port` fired since the last call?
    fn take_pending(&mut self, port: Port) -> bool;
}

/// Monotonic time, in nanoseconds since boot.
pub trait Clock {
    fn now_ns(&self) -> u64;
}
