//! Loading and unloading a packet buffer allocates nothing: the references
//! and segment storage were taken when the map was created.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use busdma::{Direction, Map, Tag};
use xensim::ArrayGrantTable;

struct Counting;
static ALLOCS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    // Only the test's own thread is counted: the test harness's threads
    // allocate whenever they like (output, timing), which is not busdma's doing.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if COUNTING.with(|c| c.get()) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
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
    COUNTING.with(|c| c.set(true));
    for i in 0..10_000usize {
        map.load(&mut g, &frames, (i * 13) % 4096, 1514).unwrap();
        map.unload(&mut g).unwrap();
    }
    COUNTING.with(|c| c.set(false));
    assert_eq!(ALLOCS.load(Ordering::Relaxed) - before, 0);
    // the counter itself works: an allocation on this thread is seen
    COUNTING.with(|c| c.set(true));
    let v = std::hint::black_box(vec![1u8; 64]);
    COUNTING.with(|c| c.set(false));
    drop(v);
    assert_eq!(ALLOCS.load(Ordering::Relaxed) - before, 1);
}
