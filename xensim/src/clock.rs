//! A clock that tests move by hand.

use std::cell::Cell;
use std::rc::Rc;

use xenabi::hal::Clock;

#[derive(Clone, Default)]
pub struct SimClock(Rc<Cell<u64>>);

impl SimClock {
    pub fn new() -> Self {
        SimClock::default()
    }
    pub fn advance(&self, ns: u64) {
        self.0.set(self.0.get() + ns);
    }
    pub fn set(&self, ns: u64) {
        self.0.set(ns);
    }
}

impl Clock for SimClock {
    fn now_ns(&self) -> u64 {
        self.0.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_time() {
        let c = SimClock::new();
        let seen_by_driver = c.clone();
        c.advance(1_500);
        assert_eq!(seen_by_driver.now_ns(), 1_500);
        c.set(10);
        assert_eq!(seen_by_driver.now_ns(), 10);
    }
}
