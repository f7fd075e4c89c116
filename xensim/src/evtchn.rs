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

    /// Backend side: signal the guest on `port`.
    pub fn notify_guest(&self, port: Port) {
        let mut s = self.0.borrow_mut();
        s.to_guest += 1;
        s.guest_pending.insert(port);
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
