//! Event channels between one guest and one backend: ports the guest
//! allocates for the backend, pending flags each way, and counters so tests
//! can check notification suppression.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use xenabi::hal::{DomId, EventChannel, EvtchnError, Port};

#[derive(Default)]
struct State {
    next: Port,
    remote: HashMap<Port, DomId>,
    guest_pending: HashSet<Port>,
    backend_pending: HashSet<Port>,
    masked: HashSet<Port>,
    to_backend: u64,
    to_guest: u64,
}

/// Cloneable handle; the guest side implements `hal::EventChannel`.
#[derive(Clone, Default)]
pub struct SimEvtchn(Rc<RefCell<State>>);

impl SimEvtchn {
    pub fn new() -> Self {
        let s = SimEvtchn::default();
        s.0.borrow_mut().next = 1;
        s
    }

    /// Backend side: signal the guest on `port`. A closed port drops the
    /// event, as Xen does.
    pub fn notify_guest(&self, port: Port) {
        let mut s = self.0.borrow_mut();
        if s.remote.contains_key(&port) {
            s.to_guest += 1;
            s.guest_pending.insert(port);
        }
    }

    /// Backend side (EVTCHNOP_bind_interdomain): may `backend` bind `port`?
    /// Only if the guest allocated it for that domain.
    pub fn backend_bind(&self, port: Port, backend: DomId) -> Result<(), EvtchnError> {
        match self.0.borrow().remote.get(&port) {
            Some(&d) if d == backend => Ok(()),
            Some(_) => Err(EvtchnError::Xen(-1)), // -EPERM
            None => Err(EvtchnError::BadPort),
        }
    }

    /// Is `port` masked on the guest side?
    pub fn is_masked(&self, port: Port) -> bool {
        self.0.borrow().masked.contains(&port)
    }

    /// Backend side: did the guest signal `port`? (test and clear)
    pub fn backend_take(&self, port: Port) -> bool {
        self.0.borrow_mut().backend_pending.remove(&port)
    }

    pub fn is_bound(&self, port: Port) -> bool {
        self.0.borrow().remote.contains_key(&port)
    }

    /// Notifications the guest sent / received.
    pub fn counts(&self) -> (u64, u64) {
        let s = self.0.borrow();
        (s.to_backend, s.to_guest)
    }
}

impl EventChannel for SimEvtchn {
    fn alloc_unbound(&mut self, remote: DomId) -> Result<Port, EvtchnError> {
        let mut s = self.0.borrow_mut();
        let p = s.next;
        s.next += 1;
        s.remote.insert(p, remote);
        s.masked.insert(p);
        Ok(p)
    }
    fn close(&mut self, port: Port) {
        let mut s = self.0.borrow_mut();
        s.remote.remove(&port);
        s.guest_pending.remove(&port);
        s.backend_pending.remove(&port);
        s.masked.remove(&port);
    }
    fn notify(&mut self, port: Port) {
        let mut s = self.0.borrow_mut();
        if s.remote.contains_key(&port) {
            s.to_backend += 1;
            s.backend_pending.insert(port);
        }
    }
    fn unmask(&mut self, port: Port) {
        self.0.borrow_mut().masked.remove(&port);
    }
    fn take_pending(&mut self, port: Port) -> bool {
        let mut s = self.0.borrow_mut();
        !s.masked.contains(&port) && s.guest_pending.remove(&port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_flow_both_ways_and_are_counted() {
        let mut ev = SimEvtchn::new();
        let back = ev.clone();
        let p = ev.alloc_unbound(0).unwrap();
        assert!(back.backend_bind(p, 0).is_ok());
        assert_eq!(back.backend_bind(p, 5), Err(EvtchnError::Xen(-1)));
        assert_eq!(back.backend_bind(p + 1, 0), Err(EvtchnError::BadPort));
        ev.notify(p);
        ev.notify(p);
        assert!(back.backend_take(p));
        assert!(
            !back.backend_take(p),
            "test and clear: two sends, one pending bit"
        );
        back.notify_guest(p);
        assert_eq!(back.counts(), (2, 1));
    }

    #[test]
    fn masked_ports_keep_their_event_until_unmasked() {
        let mut ev = SimEvtchn::new();
        let p = ev.alloc_unbound(0).unwrap();
        assert!(ev.is_masked(p), "a fresh port starts masked");
        ev.notify_guest(p);
        assert!(!ev.take_pending(p));
        ev.unmask(p);
        assert!(ev.take_pending(p));
        assert!(!ev.take_pending(p));
    }

    #[test]
    fn closed_ports_drop_events() {
        let mut ev = SimEvtchn::new();
        let p = ev.alloc_unbound(0).unwrap();
        ev.unmask(p);
        ev.close(p);
        ev.notify_guest(p);
        ev.notify(p);
        assert!(!ev.take_pending(p));
        assert!(!ev.backend_take(p));
        assert_eq!(ev.counts(), (0, 0));
        assert!(!ev.is_bound(p));
        let q = ev.alloc_unbound(0).unwrap();
        assert_ne!(p, q, "ports are not reused at once");
    }
}
