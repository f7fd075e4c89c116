//! The scheduling contract: every service's poll answers when it next needs
//! to run and whether it did anything. `Wake::merge` is the only place two
//! answers combine; `Appliance::poll` (lib.rs) is the only place the turn's
//! answer is made.

/// When to run next (None: only an event can give us work) and whether
/// this poll moved anything (bytes, packets, state).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Wake {
    pub at: Option<u64>,
    pub progressed: bool,
}

impl Wake {
    /// Nothing to do until an event.
    pub const IDLE: Wake = Wake {
        at: None,
        progressed: false,
    };

    pub fn at(t: u64) -> Wake {
        Wake {
            at: Some(t),
            progressed: false,
        }
    }

    pub fn maybe(t: Option<u64>) -> Wake {
        Wake {
            at: t,
            progressed: false,
        }
    }

    /// Mark that work was done.
    pub fn progressed(mut self) -> Wake {
        self.progressed = true;
        self
    }

    /// Run again at `t` too (the earlier of the two).
    pub fn also_at(&mut self, t: Option<u64>) {
        self.at = match (self.at, t) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }

    pub fn merge(&mut self, other: Wake) {
        self.also_at(other.at);
        self.progressed |= other.progressed;
    }

    /// Due at or before `now`.
    pub fn due(&self, now: u64) -> bool {
        self.at.is_some_and(|t| t <= now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_takes_the_earliest_and_any_progress() {
        let mut w = Wake::IDLE;
        w.merge(Wake::at(50));
        w.merge(Wake::at(20));
        w.merge(Wake::IDLE);
        assert_eq!(w, Wake::at(20));
        w.merge(Wake::maybe(None).progressed());
        assert_eq!(w.at, Some(20));
        assert!(w.progressed);
        assert!(w.due(20) && !w.due(19));
        assert!(!Wake::IDLE.due(u64::MAX));
    }
}
