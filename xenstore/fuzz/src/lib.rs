//! What the xenstore fuzz targets share: the fuzzer's bytes as a script,
//! and the checks that must hold after every client call.

use xenabi::hal::SharedMem;
use xenstore::{Client, Wait, MAX_PENDING_PER_WATCH, MAX_WATCHES};

/// The fuzzer's bytes, read front to back; zeros once they run out.
pub struct Script<'a>(pub &'a [u8]);

impl Script<'_> {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn byte(&mut self) -> u8 {
        let (b, rest) = self.0.split_first().map_or((0, &[][..]), |(b, r)| (*b, r));
        self.0 = rest;
        b
    }
    pub fn take(&mut self, n: usize) -> &[u8] {
        let (a, b) = self.0.split_at(n.min(self.0.len()));
        self.0 = b;
        a
    }
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }
}

/// Run one call; whatever the daemon did, it ends within `max_ns` of
/// simulated time, the event queue stays within its bound, and a broken
/// connection never reads as readable.
pub fn bounded<M: SharedMem, W: Wait, T>(
    c: &mut Client<M, W>,
    max_ns: u64,
    f: impl FnOnce(&mut Client<M, W>) -> T,
) {
    let t = c.waiter().now_ns();
    let _ = f(c);
    let took = c.waiter().now_ns() - t;
    assert!(took <= max_ns, "took {} ns, bound {}", took, max_ns);
    assert!(c.queued_events() <= MAX_WATCHES * MAX_PENDING_PER_WATCH);
    if c.broken().is_some() {
        assert!(!c.readable(), "a broken connection reads as readable");
    }
}
