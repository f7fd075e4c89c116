//! The xenbus front-end handshake (connect, watch, close) and the control
//! request against the simulated xenstored, while the fuzzer plays the
//! backend and the toolstack: it rewrites the backend's state with any
//! bytes, removes the backend or the device, floods, makes the daemon
//! misbehave or hang. Every wait must end by its deadline, the event queue
//! stay bounded, and nothing panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xenabi::hal::Clock;
use xensim::xenstored::{Flood, Misbehave, Xenstored};
use xensim::{SimClock, SimPage};
use xenstore::xenbus::{self, Device, Frontend, State};
use xenstore::{Client, Wait};
use xenstore_fuzz::{bounded, Script};

const MS: u64 = 1_000_000;
const TIMEOUT_NS: u64 = 3 * MS;
/// A transaction at worst: 8 tries of start, read, write, end, and an abort.
const TRANSACTION_NS: u64 = 8 * 5 * TIMEOUT_NS;
const DOMID: u16 = 1;
const DEV: &str = "/local/domain/1/device/vif/0";
const BE: &str = "/local/domain/0/backend/vif/1/0";
const BE_STATE: &str = "/local/domain/0/backend/vif/1/0/state";

/// A value for a node: a state, mostly (that is where the protocol's
/// edges are), else up to 15 bytes of anything.
fn value(s: &mut Script) -> Vec<u8> {
    match s.byte() % 4 {
        0..=2 => vec![b'0' + s.byte() % 10],
        _ => {
            let n = s.byte() as usize % 16;
            s.take(n).to_vec()
        }
    }
}

/// The other side: runs the daemon each wakeup, after one scripted move by
/// the backend or the toolstack.
struct Peer<'a> {
    xsd: Xenstored,
    clock: SimClock,
    script: Script<'a>,
    hung: bool,
}

impl Peer<'_> {
    fn step(&mut self) {
        if self.script.is_empty() {
            return; // the script is over: what it started goes on
        }
        let x = &mut self.xsd;
        match self.script.byte() % 12 {
            0..=2 => {
                let v = value(&mut self.script);
                x.tool_write(BE_STATE, &v);
            }
            3 => x.tool_rm(BE),
            4 => x.tool_rm(DEV),
            5 => {
                let m = match self.script.byte() % 12 {
                    0 => Misbehave::GarbageKind,
                    1 => Misbehave::WrongReqId,
                    2 => Misbehave::OversizeLen,
                    3 => Misbehave::ProdJump,
                    4 => Misbehave::Silent,
                    5 => Misbehave::UnknownError,
                    6 => Misbehave::BadWatchEvent,
                    7 => Misbehave::StrayReplies(self.script.byte() as u32),
                    8 => Misbehave::DuplicateReply,
                    9 => Misbehave::Late,
                    10 => Misbehave::ProdBackwards,
                    _ => Misbehave::ConsPast,
                };
                x.misbehave(m);
            }
            6 => {
                let values = [value(&mut self.script), value(&mut self.script)];
                x.flood(Flood::Rewrite {
                    path: BE_STATE.into(),
                    values,
                });
            }
            7 => {
                let token = match self.script.byte() % 3 {
                    0 => String::from("be-state:device/vif/0"),
                    1 => String::from(xenbus::SHUTDOWN_TOKEN),
                    _ => String::from("forged"),
                };
                let distinct = self.script.byte() % 2 == 0;
                x.flood(Flood::Events {
                    domid: DOMID,
                    path: BE_STATE.into(),
                    token,
                    distinct,
                });
            }
            8 => x.stop_floods(),
            9 => {
                self.hung = !self.hung;
                x.hang(self.hung);
            }
            10 => {
                let v = value(&mut self.script);
                x.tool_write("/local/domain/1/control/shutdown", &v);
            }
            _ => {} // the backend does nothing this time
        }
    }
}

impl Wait for Peer<'_> {
    fn notify(&mut self) {}
    fn wait(&mut self, deadline_ns: u64) {
        self.step();
        self.xsd.process();
        let left = deadline_ns.saturating_sub(self.clock.now_ns());
        self.clock.advance(MS.min(left));
    }
    fn now_ns(&self) -> u64 {
        self.clock.now_ns()
    }
}

/// libxl's layout for one vif, and a backend that starts Initialising.
fn toolstack(x: &mut Xenstored, page: SimPage) {
    x.introduce_libxl(DOMID, page);
    x.tool_write(DEV, b"");
    x.tool_set_perms(DEV, &[(DOMID, 'n'), (0, 'r')]);
    x.tool_write(&format!("{}/backend", DEV), BE.as_bytes());
    x.tool_write(&format!("{}/backend-id", DEV), b"0");
    x.tool_write(&format!("{}/mac", DEV), b"00:16:3e:00:00:02");
    x.tool_write(&format!("{}/state", DEV), b"1");
    x.tool_write(BE_STATE, b"1");
    x.tool_set_perms(BE, &[(0, 'n'), (DOMID, 'r')]);
    x.tool_set_perms(BE_STATE, &[(0, 'n'), (DOMID, 'r')]);
}

fuzz_target!(|data: &[u8]| {
    let page = SimPage::new();
    let mut xsd = Xenstored::new();
    toolstack(&mut xsd, page.clone());
    let peer = Peer {
        xsd,
        clock: SimClock::new(),
        script: Script(data),
        hung: false,
    };
    let mut c = Client::new(page, peer);
    c.timeout_ns = TIMEOUT_NS;

    bounded(&mut c, TIMEOUT_NS * 4, xenbus::control_init);
    bounded(&mut c, TIMEOUT_NS * 5, |c| xenbus::enumerate(c, "vif"));
    let mut f = Frontend::new(Device {
        path: "device/vif/0".into(),
        backend: BE.into(),
        backend_id: 0,
        mac: None,
    });
    bounded(&mut c, TRANSACTION_NS, |c| f.switch(c, State::Initialising));
    let wait = 20 * MS;
    let deadline = c.waiter().now_ns() + wait;
    bounded(&mut c, wait, |c| {
        f.wait_backend(c, deadline, |s| {
            matches!(s, State::InitWait | State::Connected)
        })
    });
    bounded(&mut c, TRANSACTION_NS, |c| f.switch(c, State::Connected));
    let deadline = c.waiter().now_ns() + wait;
    bounded(&mut c, wait, |c| {
        f.wait_backend(c, deadline, |s| s == State::Connected)
    });
    bounded(&mut c, TIMEOUT_NS, |c| f.poll_backend(c));
    bounded(&mut c, 0, |c| c.poll_events(usize::MAX));
    bounded(&mut c, TRANSACTION_NS, xenbus::take_request);
    // close: its waits end by the deadline; Closed is published after it
    // (a transaction), then the watch goes (a request)
    let deadline = c.waiter().now_ns() + wait;
    bounded(&mut c, wait + TRANSACTION_NS + TIMEOUT_NS, |c| {
        f.close(c, deadline)
    });
});
