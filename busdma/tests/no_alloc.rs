//! Loading and unloading a packet buffer allocates nothing: the references
//! and segment storage were taken when the map was created.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use busdma::{Direction, Map, Tag};
use xensim::ArrayGrantTable;

struct Counting;
static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static A: Counting = Counting;

#[test]
fn load_unload_allocates_nothing() {
    let mut g = ArrayGrantTable::new(64);
    let frames = [0x2000u64, 0x2001];
    let mut map = Map::create(Tag::pages(0, Direction::ToDevice, 2), &mut g).unwrap();
    let before = ALLOCS.load(Ordering::Relaxed);
    for i in 0..10_000usize {
        map.load(&mut g, &frames, (i * 13) % 4096, 1514).unwrap();
        map.unload(&mut g).unwrap();
    }
    assert_eq!(ALLOCS.load(Ordering::Relaxed) - before, 0);
}
