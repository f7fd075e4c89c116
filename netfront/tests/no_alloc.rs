//! The data path allocates nothing: receiving (multi-slot packets, checksum
//! verification included) and transmitting through the smoltcp `Device`
//! interface, and `poll()`, with a counting global allocator watching only
//! the driver's calls (the simulated backend allocates as it likes).

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use common::*;
use smoltcp::phy::{Device, RxToken, TxToken};
use smoltcp::time::Instant;

struct Counting;
static ALLOCS: AtomicU64 = AtomicU64::new(0);

thread_local! {
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

fn counted<R>(f: impl FnOnce() -> R) -> R {
    COUNTING.with(|c| c.set(true));
    let r = f();
    COUNTING.with(|c| c.set(false));
    r
}

#[test]
fn receive_and_transmit_allocate_nothing() {
    let mut e = env(None);
    let mut nf = connect(&mut e).unwrap();
    nf.set_mtu(9000);
    let now = Instant::from_millis(0);
    let sizes = [60usize, 1514, 4096, 5000, 9014];
    let tcp = tcp_frame(&[9u8; 8000]); // verified on the way in
    let mut rx_bytes = 0usize;
    let mut run = |e: &mut Env, nf: &mut Nf, round: usize| {
        {
            let mut nb = e.nb.borrow_mut();
            for &n in &sizes {
                nb.to_guest.push_back(frame(n, round as u8));
            }
            nb.to_guest.push_back(tcp.clone());
            nb.step();
        }
        counted(|| {
            nf.poll().unwrap();
            while let Some((rx, _tx)) = nf.receive(now) {
                rx_bytes += rx.consume(|b| b.len());
            }
            for &n in &sizes {
                let tx = nf.transmit(now).expect("room to send");
                tx.consume(n, |b| b.fill(round as u8));
            }
        });
        e.nb.borrow_mut().step();
    };
    // warm up: the simulator's tables grow on first use
    for round in 0..5 {
        run(&mut e, &mut nf, round);
    }
    let before = ALLOCS.load(Ordering::Relaxed);
    for round in 5..500 {
        run(&mut e, &mut nf, round);
    }
    assert_eq!(
        ALLOCS.load(Ordering::Relaxed) - before,
        0,
        "allocations on the data path"
    );
    assert_eq!(rx_bytes, 500 * (sizes.iter().sum::<usize>() + tcp.len()));
    assert_eq!(
        nf.stats.rx_dropped + nf.stats.tx_busy + nf.stats.tx_dropped,
        0
    );
    assert_eq!(e.nb.borrow().from_guest.len(), 500 * sizes.len());
    // the counter itself works: an allocation on this thread is seen
    let v = counted(|| std::hint::black_box(vec![1u8; 64]));
    drop(v);
    assert_eq!(ALLOCS.load(Ordering::Relaxed) - before, 1);
    assert_clean_close(e, nf);
}
