//! What every XenStore test shares: a client on a real ring page against
//! the simulator's xenstored, a `Wait` that runs the daemon (and a hook
//! playing the toolstack or a backend) and moves simulated time.
#![allow(dead_code)] // each test file uses its own part

use std::cell::RefCell;
use std::rc::Rc;

use xenabi::hal::Clock;
use xensim::xenstored::{Misbehave, Xenstored};
use xensim::{SimClock, SimPage};
use xenstore::xenbus;
use xenstore::{Client, Wait};

pub const DOMID: u16 = 1;

/// Run by the simulated "other side" each time the client blocks: a
/// toolstack or backend reacting to what the guest wrote, at a given time.
pub type Hook = Box<dyn FnMut(&mut Xenstored, u64)>;

pub struct SimWait {
    pub xsd: Rc<RefCell<Xenstored>>,
    pub clock: SimClock,
    pub notifies: u64,
    pub wakeups: u64,
    /// Time one wait takes at most (0: a `Wait` that returns at once).
    pub step_ns: u64,
    pub hook: Option<Hook>,
}

impl SimWait {
    pub fn new(xsd: Rc<RefCell<Xenstored>>, clock: SimClock) -> Self {
        SimWait {
            xsd,
            clock,
            notifies: 0,
            wakeups: 0,
            step_ns: 1_000_000,
            hook: None,
        }
    }
}

impl Wait for SimWait {
    fn notify(&mut self) {
        self.notifies += 1;
    }
    fn wait(&mut self, deadline_ns: u64) {
        self.wakeups += 1;
        self.xsd.borrow_mut().process();
        if let Some(h) = self.hook.as_mut() {
            h(&mut self.xsd.borrow_mut(), self.clock.now_ns());
            self.xsd.borrow_mut().process();
        }
        // time passes while we block, but never beyond the deadline
        let left = deadline_ns.saturating_sub(self.clock.now_ns());
        self.clock.advance(self.step_ns.min(left));
    }
    fn now_ns(&self) -> u64 {
        self.clock.now_ns()
    }
}

pub fn setup() -> (Client<SimPage, SimWait>, Rc<RefCell<Xenstored>>, SimClock) {
    let page = SimPage::new();
    let xsd = Rc::new(RefCell::new(Xenstored::new()));
    xsd.borrow_mut().introduce_libxl(DOMID, page.clone());
    let clock = SimClock::new();
    let c = Client::new(page, SimWait::new(xsd.clone(), clock.clone()));
    (c, xsd, clock)
}

pub fn hostile(m: Misbehave) -> (Client<SimPage, SimWait>, Rc<RefCell<Xenstored>>) {
    let (mut c, xsd, _) = setup();
    c.write("data/k", b"v").unwrap();
    c.timeout_ns = 100_000_000;
    xsd.borrow_mut().misbehave(m);
    (c, xsd)
}

// ---- the xenbus front-end state machine ----

pub fn vif(xsd: &Rc<RefCell<Xenstored>>) -> xenbus::Device {
    let mut x = xsd.borrow_mut();
    let be = "/local/domain/0/backend/vif/1/0";
    // as libxl: the front directory is the guest's, made before its entries
    x.tool_write("/local/domain/1/device/vif/0", b"");
    x.tool_set_perms("/local/domain/1/device/vif/0", &[(DOMID, 'n'), (0, 'r')]);
    x.tool_write("/local/domain/1/device/vif/0/backend", be.as_bytes());
    x.tool_write("/local/domain/1/device/vif/0/backend-id", b"0");
    x.tool_write("/local/domain/1/device/vif/0/state", b"1");
    x.tool_write(&format!("{}/state", be), b"1");
    x.tool_set_perms(be, &[(0, 'n'), (DOMID, 'r')]);
    x.tool_set_perms(&format!("{}/state", be), &[(0, 'n'), (DOMID, 'r')]);
    xenbus::Device {
        path: "device/vif/0".into(),
        backend: be.into(),
        backend_id: 0,
        mac: None,
    }
}

/// A backend that follows the front-end as Linux netback does.
pub fn backend_follows(front_state: &'static str, back: &'static [u8]) -> Hook {
    Box::new(move |x: &mut Xenstored, _now| {
        let be = "/local/domain/0/backend/vif/1/0/state";
        let front = x.tool_read("/local/domain/1/device/vif/0/state");
        if front.as_deref() == Some(front_state.as_bytes())
            && x.tool_read(be).as_deref() != Some(back)
        {
            x.tool_write(be, back);
        }
    })
}
