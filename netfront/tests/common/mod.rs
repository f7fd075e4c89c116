//! What every netfront test against the simulated netback shares: the
//! simulated Xen, a connect, one backend-then-driver cycle, the clean-close
//! check, and a peer smoltcp stack on the far side of the netback.
#![allow(dead_code)]

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use netfront::{NetError, Netfront};
use smoltcp::iface::{Config, Interface, SocketSet};
use smoltcp::phy::{Device, DeviceCapabilities, Medium};
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr};
use xenabi::hal::{Clock, EventChannel, EvtchnError, Port};
use xensim::netback::{NetMisbehave, SimNetback};
use xensim::xenstored::Xenstored;
use xensim::{SimClock, SimEvtchn, SimGrantTable, SimMemory, SimPage, SimPageAlloc};
use xenstore::xenbus;
use xenstore::{Client, Wait};

mod frames;
#[allow(unused_imports)]
pub use frames::*;

pub const DOMID: u16 = 1;

pub struct SimWait {
    pub xsd: Rc<RefCell<Xenstored>>,
    nb: Rc<RefCell<SimNetback>>,
    clock: SimClock,
}

impl Wait for SimWait {
    fn notify(&mut self) {}
    fn wait(&mut self, deadline_ns: u64) {
        self.xsd.borrow_mut().process();
        self.nb.borrow_mut().step();
        self.xsd.borrow_mut().process();
        let step = 1_000_000u64.min(deadline_ns.saturating_sub(self.clock.now_ns()).max(1));
        self.clock.advance(step);
    }
    fn now_ns(&self) -> u64 {
        self.clock.now_ns()
    }
}

pub struct Env {
    pub xs: Client<SimPage, SimWait>,
    pub gt: SimGrantTable,
    pub evt: SimEvtchn,
    pub nb: Rc<RefCell<SimNetback>>,
    pub pa: SimPageAlloc,
}

pub type Nf = Netfront<SimPage, SimEvtchn>;

pub fn env(misbehave: Option<NetMisbehave>) -> Env {
    let mem = SimMemory::new();
    let gt = SimGrantTable::new(mem.clone(), 2048);
    let evt = SimEvtchn::new();
    let xsd = Rc::new(RefCell::new(Xenstored::new()));
    let page = SimPage::new();
    xsd.borrow_mut().introduce(DOMID, page.clone());
    let mut nb = SimNetback::attach(
        xsd.clone(),
        gt.clone(),
        evt.clone(),
        DOMID,
        "00:16:3e:00:00:02",
    );
    nb.misbehave = misbehave;
    let nb = Rc::new(RefCell::new(nb));
    let mut xs = Client::new(
        page,
        SimWait {
            xsd,
            nb: nb.clone(),
            clock: SimClock::new(),
        },
    );
    xs.timeout_ns = 1_000_000_000;
    Env {
        xs,
        gt,
        evt,
        nb,
        pa: SimPageAlloc::new(mem),
    }
}

/// Connect over any event channel (the plain one, or `Instant`).
pub fn connect_with<E: EventChannel>(
    e: &mut Env,
    events: E,
) -> Result<Netfront<SimPage, E>, NetError> {
    let devs = xenbus::enumerate(&mut e.xs, "vif").unwrap();
    Netfront::connect(&mut e.xs, &mut e.gt.clone(), &mut e.pa, events, &devs[0])
}

/// `connect` with `rx_bufs` RX buffers (`Netfront::connect_with`).
pub fn connect_rx_bufs(e: &mut Env, rx_bufs: usize) -> Result<Nf, NetError> {
    let devs = xenbus::enumerate(&mut e.xs, "vif").unwrap();
    let evt = e.evt.clone();
    Netfront::connect_with(
        &mut e.xs,
        &mut e.gt.clone(),
        &mut e.pa,
        evt,
        &devs[0],
        rx_bufs,
    )
}

pub fn connect(e: &mut Env) -> Result<Nf, NetError> {
    let evt = e.evt.clone();
    connect_with(e, evt)
}

/// Let the backend run, then the driver.
pub fn cycle<E: EventChannel>(e: &mut Env, nf: &mut Netfront<SimPage, E>) -> Result<(), NetError> {
    e.nb.borrow_mut().step();
    nf.poll().map(|_| ())
}

pub fn frame(n: usize, tag: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8) ^ tag).collect()
}

/// Shut down: every grant ended, every reference returned, netback never
/// had to disable the vif.
pub fn assert_clean_close<E: EventChannel>(mut e: Env, nf: Netfront<SimPage, E>) {
    let gt = e.gt.clone();
    let quarantined = nf.shutdown(&mut e.xs, &mut gt.clone());
    assert_eq!(quarantined, 0, "every grant ended");
    assert!(
        gt.active().is_empty(),
        "no grant left active: {:?}",
        gt.active()
    );
    assert_eq!(gt.allocated_refs(), 0, "every reference returned");
    assert!(!e.nb.borrow().connected);
    assert_eq!(e.nb.borrow().fatal, None, "netback never disabled the vif");
}

/// An event channel whose notifications run the backend at once: a backend
/// that answers instantly (for the poll budget).
pub struct InstantBackend {
    pub inner: SimEvtchn,
    pub nb: Rc<RefCell<SimNetback>>,
    pub armed: Rc<Cell<bool>>,
}

impl EventChannel for InstantBackend {
    fn alloc_unbound(&mut self, remote: u16) -> Result<Port, EvtchnError> {
        self.inner.alloc_unbound(remote)
    }
    fn close(&mut self, port: Port) {
        self.inner.close(port)
    }
    fn notify(&mut self, port: Port) {
        self.inner.notify(port);
        if self.armed.get() {
            self.nb.borrow_mut().step();
        }
    }
    fn unmask(&mut self, port: Port) {
        self.inner.unmask(port)
    }
    fn take_pending(&mut self, port: Port) -> bool {
        self.inner.take_pending(port)
    }
}

/// The peer's side of the wire: frames go into the netback's queue for the
/// guest and come out of what the guest sent.
pub struct Peer {
    pub nb: Rc<RefCell<SimNetback>>,
    pub mtu: usize,
    /// Frames of `from_guest` already taken (they stay there for asserts).
    next: usize,
}
pub use xensim::peer::{PeerRx, PeerTx};
impl Device for Peer {
    type RxToken<'a> = PeerRx;
    type TxToken<'a> = PeerTx;
    fn receive(&mut self, _t: Instant) -> Option<(PeerRx, PeerTx)> {
        let f = self.nb.borrow().from_guest.get(self.next)?.clone();
        self.next += 1;
        Some((PeerRx(f), PeerTx(self.nb.clone())))
    }
    fn transmit(&mut self, _t: Instant) -> Option<PeerTx> {
        Some(PeerTx(self.nb.clone()))
    }
    fn capabilities(&self) -> DeviceCapabilities {
        let mut c = DeviceCapabilities::default();
        c.medium = Medium::Ethernet;
        c.max_transmission_unit = self.mtu;
        c
    }
}

/// Two stacks, the guest's on netfront (10.0.0.2) and the peer's beyond
/// the netback (10.0.0.1).
pub struct Stacks {
    pub guest: Interface,
    pub guest_sockets: SocketSet<'static>,
    pub peer_dev: Peer,
    pub peer: Interface,
    pub peer_sockets: SocketSet<'static>,
}

pub fn stacks<E: EventChannel>(e: &Env, nf: &mut Netfront<SimPage, E>) -> Stacks {
    let now = Instant::from_millis(0);
    let mut guest = Interface::new(
        Config::new(HardwareAddress::Ethernet(EthernetAddress(nf.mac))),
        nf,
        now,
    );
    guest.update_ip_addrs(|a| a.push(IpCidr::new(IpAddress::v4(10, 0, 0, 2), 24)).unwrap());
    let mut peer_dev = Peer {
        nb: e.nb.clone(),
        mtu: 1514,
        next: 0,
    };
    let mut peer = Interface::new(
        Config::new(HardwareAddress::Ethernet(EthernetAddress([
            2, 0, 0, 0, 0, 1,
        ]))),
        &mut peer_dev,
        now,
    );
    peer.update_ip_addrs(|a| a.push(IpCidr::new(IpAddress::v4(10, 0, 0, 1), 24)).unwrap());
    Stacks {
        guest,
        guest_sockets: SocketSet::new(vec![]),
        peer_dev,
        peer,
        peer_sockets: SocketSet::new(vec![]),
    }
}

impl Stacks {
    /// One round: the peer, the backend, the driver and the guest's stack,
    /// the backend again.
    pub fn round<E: EventChannel>(&mut self, e: &Env, nf: &mut Netfront<SimPage, E>, now: Instant) {
        self.peer
            .poll(now, &mut self.peer_dev, &mut self.peer_sockets);
        e.nb.borrow_mut().step();
        while nf.poll().expect("device up") {}
        self.guest.poll(now, nf, &mut self.guest_sockets);
        e.nb.borrow_mut().step();
    }
}
