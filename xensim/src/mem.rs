//! Simulated guest memory: pages that both "domains" of a test hold.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use xenabi::hal::{Gfn, PageAlloc, SharedMem, PAGE_SIZE};

static NEXT_GFN: AtomicU64 = AtomicU64::new(0x1000);

/// One 4 KiB page. Clones share the same memory (guest and peer views).
#[derive(Clone)]
pub struct SimPage {
    gfn: Gfn,
    bytes: Arc<Mutex<Vec<u8>>>,
}

impl SimPage {
    pub fn new() -> SimPage {
        SimPage {
            gfn: NEXT_GFN.fetch_add(1, Ordering::Relaxed),
            bytes: Arc::new(Mutex::new(vec![0; PAGE_SIZE])),
        }
    }

    /// A copy of the whole page (for assertions).
    pub fn snapshot(&self) -> Vec<u8> {
        self.bytes.lock().unwrap().clone()
    }
}

impl Default for SimPage {
    fn default() -> Self {
        SimPage::new()
    }
}

impl SharedMem for SimPage {
    fn gfn(&self) -> Gfn {
        self.gfn
    }
    fn len(&self) -> usize {
        PAGE_SIZE
    }
    fn read(&self, off: usize, buf: &mut [u8]) {
        buf.copy_from_slice(&self.bytes.lock().unwrap()[off..off + buf.len()]);
    }
    fn write(&self, off: usize, buf: &[u8]) {
        self.bytes.lock().unwrap()[off..off + buf.len()].copy_from_slice(buf);
    }
    fn read_u32(&self, off: usize) -> u32 {
        assert!(off.is_multiple_of(4));
        let b = self.bytes.lock().unwrap();
        u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
    }
    fn write_u32(&self, off: usize, val: u32) {
        assert!(off.is_multiple_of(4));
        self.bytes.lock().unwrap()[off..off + 4].copy_from_slice(&val.to_le_bytes());
    }
    fn zero(&self) {
        // one lock, not one per 64 bytes: connects grant hundreds of pages
        self.bytes.lock().unwrap().fill(0);
    }
}

/// Guest memory by frame number, so the simulated hypervisor can resolve
/// the frame in a grant entry to the page behind it.
#[derive(Clone, Default)]
pub struct SimMemory(Rc<RefCell<HashMap<Gfn, SimPage>>>);

impl SimMemory {
    pub fn new() -> Self {
        SimMemory::default()
    }
    pub fn register(&self, p: &SimPage) {
        self.0.borrow_mut().insert(p.gfn, p.clone());
    }
    pub fn page(&self, gfn: Gfn) -> Option<SimPage> {
        self.0.borrow().get(&gfn).cloned()
    }
    /// Pages somebody besides this registry still holds.
    pub fn live_pages(&self) -> usize {
        self.0
            .borrow()
            .values()
            .filter(|p| Arc::strong_count(&p.bytes) > 1)
            .count()
    }
}

/// Hands out zeroed pages registered in a `SimMemory`; `limit` simulates
/// running out of memory.
#[derive(Default)]
pub struct SimPageAlloc {
    pub memory: SimMemory,
    pub allocated: u64,
    pub limit: Option<u64>,
}

impl SimPageAlloc {
    pub fn new(memory: SimMemory) -> Self {
        SimPageAlloc {
            memory,
            allocated: 0,
            limit: None,
        }
    }
}

impl PageAlloc for SimPageAlloc {
    type Page = SimPage;
    fn alloc_page(&mut self) -> Option<SimPage> {
        if self.limit.is_some_and(|l| self.allocated >= l) {
            return None;
        }
        self.allocated += 1;
        let p = SimPage::new();
        self.memory.register(&p);
        Some(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_shared_zeroed_and_tracked() {
        let mem = SimMemory::new();
        let mut pa = SimPageAlloc::new(mem.clone());
        pa.limit = Some(2);
        let a = pa.alloc_page().unwrap();
        let b = pa.alloc_page().unwrap();
        assert!(pa.alloc_page().is_none(), "limit reached");
        assert_ne!(a.gfn(), b.gfn());
        assert!(a.snapshot().iter().all(|&x| x == 0));
        let peer = mem.page(a.gfn()).unwrap();
        peer.write_u32(8, 0xdead_beef);
        assert_eq!(a.read_u32(8), 0xdead_beef);
        assert_eq!(a.snapshot()[8..12], 0xdead_beefu32.to_le_bytes());
        assert_eq!(mem.live_pages(), 2);
        drop(peer);
        drop(b);
        assert_eq!(mem.live_pages(), 1);
        a.write(4000, &[7; 96]);
        a.zero();
        assert!(a.snapshot().iter().all(|&x| x == 0));
    }
}
