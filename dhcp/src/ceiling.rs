//! The hard ceiling on what the client sends: at most `SEND_CEILING`
//! packets in any `SEND_WINDOW_NS`, whatever state the client is in. It
//! remembers the last `SEND_CEILING` send times in a ring.

use crate::timing::{SEND_CEILING, SEND_WINDOW_NS};

#[derive(Debug, Clone)]
pub(crate) struct Ceiling {
    /// Send times, oldest at `next`; `None` until that many sends.
    sent: [Option<u64>; SEND_CEILING],
    next: usize,
}

impl Ceiling {
    pub(crate) fn new() -> Self {
        Ceiling {
            sent: [None; SEND_CEILING],
            next: 0,
        }
    }

    /// Earliest time a send is allowed: the oldest of the last
    /// `SEND_CEILING` sends plus the window (0 while there were fewer).
    pub(crate) fn free_at(&self) -> u64 {
        match self.sent.get(self.next).copied().flatten() {
            Some(oldest) => oldest.saturating_add(SEND_WINDOW_NS),
            None => 0,
        }
    }

    /// Record a send at `now` if the ceiling allows it. A clock that steps
    /// back does not open it early.
    pub(crate) fn try_send(&mut self, now_ns: u64) -> bool {
        if let Some(oldest) = self.sent.get(self.next).copied().flatten() {
            if now_ns.saturating_sub(oldest) < SEND_WINDOW_NS {
                return false;
            }
        }
        if let Some(slot) = self.sent.get_mut(self.next) {
            *slot = Some(now_ns);
        }
        self.next = (self.next + 1) % SEND_CEILING;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timing::NS_PER_S;
    use alloc::vec::Vec;

    #[test]
    fn holds_back_the_send_over_the_ceiling_until_the_window_moves() {
        let mut c = Ceiling::new();
        let allowed = (0..100).filter(|_| c.try_send(7)).count();
        assert_eq!(allowed, SEND_CEILING);
        assert_eq!(c.free_at(), 7 + SEND_WINDOW_NS);
        assert!(!c.try_send(6 + SEND_WINDOW_NS));
        assert!(c.try_send(7 + SEND_WINDOW_NS));
    }

    #[test]
    fn no_window_ever_holds_more_than_the_ceiling() {
        // hammer it every 100 ms for 10 minutes
        let mut c = Ceiling::new();
        let sent: Vec<u64> = (0..6000u64)
            .map(|i| i * NS_PER_S / 10)
            .filter(|&t| c.try_send(t))
            .collect();
        for (i, &t) in sent.iter().enumerate() {
            let in_window = sent[i..]
                .iter()
                .take_while(|&&u| u < t + SEND_WINDOW_NS)
                .count();
            assert!(in_window <= SEND_CEILING, "{in_window} sends from {t}");
        }
        // and it does let the ceiling's worth through each window
        assert_eq!(sent.len(), SEND_CEILING * 10);
    }

    #[test]
    fn a_clock_at_the_end_of_time_does_not_overflow() {
        let mut c = Ceiling::new();
        for _ in 0..SEND_CEILING {
            assert!(c.try_send(u64::MAX));
        }
        assert!(!c.try_send(u64::MAX));
        assert_eq!(c.free_at(), u64::MAX);
    }
}
