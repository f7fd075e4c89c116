//! The appliance on the host: the runtime over xensim (xenstored, the grant
//! table, event channels, netback) with a peer host (`xensim::peer`) serving
//! DHCP and an EC2-style metadata service. `World::turn` is one iteration
//! of the kernel's main loop plus one step of everything simulated.
#![allow(dead_code)]

pub mod frames;

use std::cell::RefCell;
use std::rc::Rc;

use runtime::options::{self, Options};
use runtime::{Appliance, BootClock, KernelCounters, MemStats, Platform, Power, Xen};
use xenabi::hal::Clock;
use xensim::blkback::SimBlkback;
use xensim::netback::SimNetback;
use xensim::peer::{HttpRequest, Peer};
use xensim::xenstored::Xenstored;
use xensim::{SimClock, SimEvtchn, SimGrantTable, SimMemory, SimPage, SimPageAlloc};
use xenstore::{Client, Wait};

pub const DOMID: u16 = 1;

/// The peer's (dom0's) MAC, for frames that claim to come from it.
pub fn peer_mac() -> [u8; 6] {
    xensim::peer::PEER_MAC
}
pub const MAC: &str = "00:16:3e:00:00:02";
pub const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEnvP/nGCmK5aDXSbxz5xWwD5g6Q+t+cg0jftODORkTI e2e@host";
pub const TOKEN: &str = "AQAEAtokenfortheharness==";
pub const MS: u64 = 1_000_000;
/// Simulated time one busy turn takes (a turn under TCG takes tens of µs).
pub const TURN_COST_NS: u64 = 50_000;
pub const S: u64 = 1_000 * MS;

/// What the platform did, for the test to look at.
#[derive(Default)]
pub struct Record {
    pub lines: Vec<String>,
    /// When each of `lines` was said (simulated ns).
    pub said_at: Vec<u64>,
    pub power: Option<(Power, String)>,
}

pub struct SimWait {
    xsd: Rc<RefCell<Xenstored>>,
    nb: Rc<RefCell<SimNetback>>,
    bb: Rc<RefCell<Option<SimBlkback>>>,
    clock: SimClock,
}

impl Wait for SimWait {
    fn notify(&mut self) {}
    fn wait(&mut self, deadline_ns: u64) {
        self.xsd.borrow_mut().process();
        self.nb.borrow_mut().step();
        if let Some(bb) = self.bb.borrow_mut().as_mut() {
            bb.step();
        }
        self.xsd.borrow_mut().process();
        let step = MS.min(deadline_ns.saturating_sub(self.clock.now_ns()).max(1));
        self.clock.advance(step);
    }
    fn now_ns(&self) -> u64 {
        self.clock.now_ns()
    }
}

pub struct Sim {
    clock: SimClock,
    pub rec: Rc<RefCell<Record>>,
    rng: u64,
}

impl Platform for Sim {
    type Page = SimPage;
    type Pages = SimPageAlloc;
    type Grants = SimGrantTable;
    type Events = SimEvtchn;
    type StoreMem = SimPage;
    type StoreWait = SimWait;

    fn console(&mut self, line: &str) {
        assert!(
            !line.contains(['\n', '\r']),
            "one line per report: {:?}",
            line
        );
        let mut rec = self.rec.borrow_mut();
        rec.lines.push(line.to_string());
        rec.said_at.push(self.clock.now_ns());
    }
    fn now_ns(&self) -> u64 {
        self.clock.now_ns()
    }
    fn power(&mut self, action: Power, why: &str) {
        self.rec.borrow_mut().power = Some((action, why.to_string()));
    }
    fn memory(&self) -> MemStats {
        MemStats {
            total_kib: 32768,
            free_kib: 16384,
            heap_kib: 8192,
            heap_free_kib: 8000,
        }
    }
    fn random(&mut self, buf: &mut [u8]) -> Option<&'static str> {
        for b in buf.iter_mut() {
            self.rng ^= self.rng << 13;
            self.rng ^= self.rng >> 7;
            self.rng ^= self.rng << 17;
            *b = self.rng as u8;
        }
        Some("sim")
    }
    fn recent_console(&self, max: usize) -> Vec<u8> {
        let all = self.rec.borrow().lines.join("\n").into_bytes();
        all[all.len().saturating_sub(max)..].to_vec()
    }
    fn counters(&self) -> KernelCounters {
        KernelCounters::default()
    }
    fn free_grant_refs(_g: &SimGrantTable) -> Option<usize> {
        None
    }
}

pub struct World {
    pub app: Appliance<Sim>,
    /// The appliance's boot time (its phases count from here).
    pub boot_ns: u64,
    pub clock: SimClock,
    pub xsd: Rc<RefCell<Xenstored>>,
    /// The vif's backend, shared by the peer, the waits and the test.
    pub nb: Rc<RefCell<SimNetback>>,
    pub peer: Peer,
    pub rec: Rc<RefCell<Record>>,
    pub gt: SimGrantTable,
    pub evt: SimEvtchn,
    /// The time the appliance asked to be woken at, last turn.
    pub next: Option<u64>,
    /// The backend stops serving the rings (a wedged or busy dom0).
    pub backend_frozen: bool,
}

/// An IMDSv2 service serving `KEY`.
pub fn imds_v2(req: &HttpRequest) -> (u16, Vec<u8>) {
    if req.method == "PUT" && req.path == "/latest/api/token" {
        return (200, TOKEN.as_bytes().to_vec());
    }
    let token_ok = req
        .headers
        .iter()
        .any(|(k, v)| k == "x-aws-ec2-metadata-token" && v == TOKEN);
    if !token_ok {
        return (401, Vec::new());
    }
    match req.path.as_str() {
        "/latest/meta-data/public-keys/" => (200, b"0=e2e-key".to_vec()),
        "/latest/meta-data/public-keys/0/openssh-key" => (200, format!("{}\n", KEY).into_bytes()),
        "/latest/meta-data/instance-id" => (200, b"i-0e2e".to_vec()),
        "/latest/meta-data/local-hostname" => (200, b"e2e.internal".to_vec()),
        _ => (404, Vec::new()),
    }
}

/// vif 0 as libxl makes it: the frontend's nodes are the guest's own.
fn new_vif(xsd: &Rc<RefCell<Xenstored>>, gt: &SimGrantTable, evt: &SimEvtchn) -> SimNetback {
    let mut nb = SimNetback::attach(xsd.clone(), gt.clone(), evt.clone(), DOMID, MAC);
    // as a Linux dom0 hands traffic to an offloading vif: TCP and UDP
    // checksums blank (the DHCP client reads UDP raw and checks its sum),
    // TCP segments merged into GSO packets
    nb.offload = true;
    let front = format!("/local/domain/{}/device/vif/0", DOMID);
    for k in ["backend", "backend-id", "mac", "state"] {
        xsd.borrow_mut()
            .tool_set_perms(&format!("{}/{}", front, k), &[(DOMID, 'n'), (0, 'r')]);
    }
    nb
}

impl World {
    pub fn new(cmdline: &str) -> World {
        World::with_disk(cmdline, None)
    }

    /// With a block device (xvdb) holding `image`, as `disk = [...]` gives.
    pub fn with_disk(cmdline: &str, image: Option<Vec<u8>>) -> World {
        World::with_store(cmdline, image, |_| {})
    }

    /// `with_disk`, with `prep` run on xenstored as the toolstack has made
    /// it, before the appliance starts.
    pub fn with_store(
        cmdline: &str,
        image: Option<Vec<u8>>,
        prep: impl FnOnce(&mut Xenstored),
    ) -> World {
        let opts: Options = options::parse(cmdline).expect("options");
        let clock = SimClock::new();
        clock.set(1_000 * S); // Xen system time is not 0 at boot
        let mem = SimMemory::new();
        let gt = SimGrantTable::new(mem.clone(), 2048);
        let evt = SimEvtchn::new();
        let xsd = Rc::new(RefCell::new(Xenstored::new()));
        let page = SimPage::new();
        xsd.borrow_mut().introduce_libxl(DOMID, page.clone());
        xsd.borrow_mut().tool_write(
            &format!("/local/domain/{}/domid", DOMID),
            format!("{}", DOMID).as_bytes(),
        );
        let nb = new_vif(&xsd, &gt, &evt);
        let nb = Rc::new(RefCell::new(nb));
        let bb = Rc::new(RefCell::new(image.map(|img| {
            let b = SimBlkback::attach(xsd.clone(), gt.clone(), evt.clone(), DOMID, 51728, img);
            let front = format!("/local/domain/{}/device/vbd/51728", DOMID);
            for k in [
                "backend",
                "backend-id",
                "virtual-device",
                "device-type",
                "state",
            ] {
                xsd.borrow_mut()
                    .tool_set_perms(&format!("{}/{}", front, k), &[(DOMID, 'n'), (0, 'r')]);
            }
            xsd.borrow_mut().tool_write(
                &format!("/local/domain/0/backend/vbd/{}/51728/dev", DOMID),
                b"xvdb",
            );
            b
        })));
        prep(&mut xsd.borrow_mut());
        let wait = SimWait {
            xsd: xsd.clone(),
            nb: nb.clone(),
            bb: bb.clone(),
            clock: clock.clone(),
        };
        let mut store = Client::new(page, wait);
        store.timeout_ns = S;
        let rec = Rc::new(RefCell::new(Record::default()));
        let mut host = Sim {
            clock: clock.clone(),
            rec: rec.clone(),
            rng: 0x9e37_79b9_7f4a_7c15,
        };
        let mut xen = Xen::<Sim> {
            store,
            grants: gt.clone(),
            pages: SimPageAlloc::new(mem),
            events: evt.clone(),
        };
        // the kernel's entry and its Xen platform, a little before the runtime
        let boot = clock.now_ns();
        clock.advance(MS);
        let xen_ns = clock.now_ns();
        clock.advance(MS);
        let found = runtime::announce(&mut host, &mut xen).expect("announce");
        let app = Appliance::new(
            host,
            xen,
            opts,
            BootClock {
                entry_ns: boot,
                xen_ns,
            },
            found,
        );
        let mut peer = Peer::new(nb.clone(), clock.now_ns());
        peer.serve_http(Box::new(imds_v2));
        World {
            app,
            boot_ns: boot,
            clock,
            xsd,
            nb,
            peer,
            rec,
            gt,
            evt,
            next: None,
            backend_frozen: false,
        }
    }

    /// The toolstack re-creating the vif (xl network-attach).
    pub fn attach_vif(&mut self) {
        let nb = new_vif(&self.xsd, &self.gt, &self.evt);
        *self.nb.borrow_mut() = nb;
    }

    pub fn now(&self) -> u64 {
        self.clock.now_ns()
    }

    fn step_sim(&mut self) {
        self.xsd.borrow_mut().process();
        if !self.backend_frozen {
            self.nb.borrow_mut().step();
        }
        self.peer.step(self.clock.now_ns());
        if !self.backend_frozen {
            self.nb.borrow_mut().step();
        }
        self.xsd.borrow_mut().process();
    }

    /// One turn of the main loop, then the simulated world, then time moves
    /// on to the appliance's deadline (at most `max_step`).
    pub fn turn_with(&mut self, max_step: u64) {
        self.next = self.app.poll();
        self.step_sim();
        let now = self.now();
        let step = match self.next {
            Some(t) if t > now => (t - now).min(max_step),
            Some(_) => 0,
            None => max_step,
        };
        // a turn costs time on a real CPU too: one that asks for "now"
        // again still moves the clock, as a busy appliance's turns would
        self.clock.advance(step.max(TURN_COST_NS));
    }

    pub fn turn(&mut self) {
        self.turn_with(MS);
    }

    /// Turn until `done` holds or `limit_ns` of simulated time pass.
    pub fn run_until(&mut self, limit_ns: u64, mut done: impl FnMut(&mut World) -> bool) -> bool {
        let end = self.now() + limit_ns;
        while self.now() < end {
            if done(self) {
                return true;
            }
            self.turn();
        }
        done(self)
    }

    pub fn has_line(&self, prefix: &str) -> bool {
        self.rec
            .borrow()
            .lines
            .iter()
            .any(|l| l.starts_with(prefix))
    }

    pub fn line(&self, prefix: &str) -> Option<String> {
        self.rec
            .borrow()
            .lines
            .iter()
            .find(|l| l.starts_with(prefix))
            .cloned()
    }

    /// When the first line starting with `prefix` was said (simulated ns).
    pub fn line_at(&self, prefix: &str) -> Option<u64> {
        let rec = self.rec.borrow();
        let i = rec.lines.iter().position(|l| l.starts_with(prefix))?;
        Some(rec.said_at[i])
    }

    pub fn count_lines(&self, prefix: &str) -> usize {
        self.rec
            .borrow()
            .lines
            .iter()
            .filter(|l| l.starts_with(prefix))
            .count()
    }

    pub fn dump(&self) -> String {
        self.rec.borrow().lines.join("\n")
    }

    pub fn xs_read(&self, key: &str) -> Option<String> {
        self.xsd
            .borrow()
            .tool_read(&format!("/local/domain/{}/{}", DOMID, key))
            .map(|v| String::from_utf8_lossy(&v).into_owned())
    }

    /// Boot until the key is fetched and SSH listens.
    pub fn boot_to_ssh(&mut self) {
        let ok = self.run_until(60 * S, |w| w.has_line("ssh: listening "));
        assert!(ok, "no ssh after 60 s:\n{}", self.dump());
    }
}

/// A client on the peer connects to `ip:22`; true if the SSH banner comes
/// within `limit`.
pub fn ssh_banner_at(w: &mut World, ip: [u8; 4], local: u16, limit: u64) -> bool {
    use smoltcp::socket::tcp;
    let mut s = tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; 8192]),
        tcp::SocketBuffer::new(vec![0; 8192]),
    );
    let remote = (smoltcp::wire::IpAddress::v4(ip[0], ip[1], ip[2], ip[3]), 22);
    s.connect(w.peer.iface.context(), remote, local).unwrap();
    let h = w.peer.sockets.add(s);
    let ok = await_banner(w, h, limit);
    w.peer.sockets.get_mut::<tcp::Socket>(h).abort();
    ok
}

/// Reads the peer's connection `h` until the SSH banner has come (true) or
/// `limit` has passed; the connection stays open.
pub fn await_banner(w: &mut World, h: smoltcp::iface::SocketHandle, limit: u64) -> bool {
    use smoltcp::socket::tcp;
    let mut got = Vec::new();
    w.run_until(limit, |w| {
        let s = w.peer.sockets.get_mut::<tcp::Socket>(h);
        while s.can_recv() {
            let _ = s.recv(|b| {
                got.extend_from_slice(b);
                (b.len(), ())
            });
        }
        got.starts_with(b"SSH-2.0-")
    })
}
