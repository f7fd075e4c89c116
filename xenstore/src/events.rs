//! Watch events waiting for their owners, and the policy that bounds them.
//!
//! A watch event is an edge that says "look at this node"; what the node
//! holds is read afresh by whoever takes the event. So:
//!
//! - Only tokens of watches this client registered are accepted; anything
//!   else (a late event after `unwatch`, or one the daemon made up) is stray.
//! - A second pending event for the same (token, path) adds nothing and is
//!   coalesced into the first.
//! - Each watch keeps at most `MAX_PENDING_PER_WATCH` distinct paths. One
//!   more, and its pending events are folded into a single event for the
//!   watched path itself, which stands for "re-read all of it" and absorbs
//!   every later event of that watch until it is taken. The owner is also
//!   told that events were lost.
//!
//! The queue therefore never holds more than
//! `MAX_WATCHES * MAX_PENDING_PER_WATCH` events whatever the daemon sends,
//! and a flood on one watch never pushes out another's (`control/shutdown`).

extern crate alloc;

use alloc::collections::VecDeque;
use alloc::string::String;

/// Watches one client may hold at a time.
pub const MAX_WATCHES: usize = 16;
/// Distinct paths pending per watch before they fold into one.
pub const MAX_PENDING_PER_WATCH: usize = 4;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchEvent {
    pub path: String,
    pub token: String,
}

/// What became of one incoming event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pushed {
    Queued,
    /// Already pending, or covered by a pending whole-watch event.
    Coalesced,
    /// This many events lost their path in a fold (the new one included).
    Folded(usize),
    /// Not a token we watch.
    Stray,
}

/// What registering a watch locally found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Registered {
    New,
    /// The same (path, token) is registered already.
    Again,
    /// The token is registered for another path.
    TokenInUse,
    Full,
}

struct Watch {
    path: String,
    token: String,
}

struct Pending {
    event: WatchEvent,
    /// A fold: stands for every event of its watch.
    whole: bool,
}

#[derive(Default)]
pub(crate) struct EventQueue {
    watches: alloc::vec::Vec<Watch>,
    pending: VecDeque<Pending>,
}

impl EventQueue {
    pub(crate) fn register(&mut self, path: &str, token: &str) -> Registered {
        match self.watches.iter().find(|w| w.token == token) {
            Some(w) if w.path == path => Registered::Again,
            Some(_) => Registered::TokenInUse,
            None if self.watches.len() >= MAX_WATCHES => Registered::Full,
            None => {
                self.watches.push(Watch {
                    path: String::from(path),
                    token: String::from(token),
                });
                Registered::New
            }
        }
    }

    /// Forget a watch and whatever it has pending.
    pub(crate) fn unregister(&mut self, token: &str) {
        self.watches.retain(|w| w.token != token);
        self.discard(token);
    }

    /// Forget every watch and event (after XS_RESET_WATCHES).
    pub(crate) fn clear(&mut self) {
        self.watches.clear();
        self.pending.clear();
    }

    pub(crate) fn push(&mut self, path: &str, token: &str) -> Pushed {
        let Some(watch) = self.watches.iter().find(|w| w.token == token) else {
            return Pushed::Stray;
        };
        let mut mine = 0;
        for p in self.pending.iter().filter(|p| p.event.token == token) {
            if p.whole || p.event.path == path {
                return Pushed::Coalesced;
            }
            mine += 1;
        }
        if mine < MAX_PENDING_PER_WATCH {
            self.pending.push_back(Pending {
                event: WatchEvent {
                    path: String::from(path),
                    token: String::from(token),
                },
                whole: false,
            });
            return Pushed::Queued;
        }
        // fold in place of this watch's oldest event, keeping the order
        // among watches
        let whole = WatchEvent {
            path: watch.path.clone(),
            token: watch.token.clone(),
        };
        let first = self.pending.iter().position(|p| p.event.token == token);
        self.pending.retain(|p| p.event.token != token);
        let at = first.unwrap_or(self.pending.len()).min(self.pending.len());
        self.pending.insert(
            at,
            Pending {
                event: whole,
                whole: true,
            },
        );
        Pushed::Folded(mine + 1)
    }

    pub(crate) fn pop(&mut self) -> Option<WatchEvent> {
        self.pending.pop_front().map(|p| p.event)
    }

    /// The oldest pending event for `token`.
    pub(crate) fn take(&mut self, token: &str) -> Option<WatchEvent> {
        let i = self.pending.iter().position(|p| p.event.token == token)?;
        self.pending.remove(i).map(|p| p.event)
    }

    /// Drop the pending events of `token`; returns how many.
    pub(crate) fn discard(&mut self, token: &str) -> usize {
        let before = self.pending.len();
        self.pending.retain(|p| p.event.token != token);
        before - self.pending.len()
    }

    pub(crate) fn len(&self) -> usize {
        self.pending.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(watches: &[(&str, &str)]) -> EventQueue {
        let mut q = EventQueue::default();
        for (p, t) in watches {
            assert_eq!(q.register(p, t), Registered::New);
        }
        q
    }

    #[test]
    fn identical_events_coalesce() {
        let mut q = queue(&[("data/a", "a")]);
        assert_eq!(q.push("data/a", "a"), Pushed::Queued);
        assert_eq!(q.push("data/a", "a"), Pushed::Coalesced);
        assert_eq!(q.push("data/a/x", "a"), Pushed::Queued);
        assert_eq!(q.len(), 2);
        assert_eq!(q.pop().unwrap().path, "data/a");
        // taken: the next identical event is news again
        assert_eq!(q.push("data/a", "a"), Pushed::Queued);
    }

    #[test]
    fn unknown_tokens_are_stray() {
        let mut q = queue(&[("data/a", "a")]);
        assert_eq!(q.push("data/a", "b"), Pushed::Stray);
        q.unregister("a");
        assert_eq!(q.push("data/a", "a"), Pushed::Stray);
        assert!(q.is_empty());
    }

    #[test]
    fn distinct_paths_fold_into_the_watched_path() {
        let mut q = queue(&[("control/shutdown", "s"), ("device/vif", "d")]);
        assert_eq!(q.push("control/shutdown", "s"), Pushed::Queued);
        for i in 0..MAX_PENDING_PER_WATCH {
            let p = alloc::format!("device/vif/{}", i);
            assert_eq!(q.push(&p, "d"), Pushed::Queued);
        }
        assert_eq!(
            q.push("device/vif/99", "d"),
            Pushed::Folded(MAX_PENDING_PER_WATCH + 1)
        );
        // the fold absorbs everything of its watch, any path
        for i in 100..1000 {
            let p = alloc::format!("device/vif/{}", i);
            assert_eq!(q.push(&p, "d"), Pushed::Coalesced);
        }
        assert_eq!(q.len(), 2);
        assert_eq!(q.pop().unwrap().token, "s", "shutdown kept, and first");
        assert_eq!(
            q.pop().unwrap(),
            WatchEvent {
                path: "device/vif".into(),
                token: "d".into()
            }
        );
    }

    #[test]
    fn registry_is_bounded_and_tokens_unique() {
        let mut q = EventQueue::default();
        for i in 0..MAX_WATCHES {
            let t = alloc::format!("t{}", i);
            assert_eq!(q.register("data/x", &t), Registered::New);
        }
        assert_eq!(q.register("data/x", "t0"), Registered::Again);
        assert_eq!(q.register("data/y", "t0"), Registered::TokenInUse);
        assert_eq!(q.register("data/x", "new"), Registered::Full);
        q.unregister("t3");
        assert_eq!(q.register("data/x", "new"), Registered::New);
    }

    #[test]
    fn take_and_discard_leave_other_tokens() {
        let mut q = queue(&[("a", "a"), ("b", "b")]);
        q.push("a", "a");
        q.push("b", "b");
        q.push("a/1", "a");
        assert_eq!(q.take("b").unwrap().path, "b");
        assert_eq!(q.take("b"), None);
        assert_eq!(q.discard("a"), 2);
        assert!(q.is_empty());
    }
}
