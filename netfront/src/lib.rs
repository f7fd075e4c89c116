//! netfront: the Xen virtual NIC. Rings and packet pages are granted once
//! at connect (busdma maps made then, so the data path takes no grant
//! operations); every response is read once into a local copy and checked;
//! a backend that breaks the protocol gets the device taken down.
//!
//! How a caller drives it:
//! - `Netfront::connect(xs, gt, pa, events, dev)` negotiates scatter-gather
//!   (`feature-sg`), TCPv4 GSO (`feature-gso-tcpv4`), checksum offload and
//!   rx-notify, grants everything and waits for the backend to connect.
//! - `poll()` consumes the event-channel event (always, also when the device
//!   is down), takes TX completions and received packets (at most one ring's
//!   worth of responses each way) and re-posts pages. `Ok(true)` means the
//!   backend had already produced more than that budget: poll again before
//!   blocking. An error means the device is down (`is_down()` says why).
//! - The `smoltcp::phy::Device` impl hands each received packet to the stack
//!   as a slice of one per-device buffer (one copy out of the pages, no
//!   allocation per packet) and builds each frame in one staging buffer.
//!   TCP/UDP checksums are the driver's (see `csum`): smoltcp is told not to
//!   verify them on receive, nor to compute TCP's on transmit.
//! - `mtu()` is the MTU in force: the `mtu` node libxl writes into our device
//!   directory (absent: 1500), capped by what the backend can take (1500
//!   without its `feature-sg`, else 65517). `set_mtu()` changes it (DHCP
//!   option 26) and returns what is in force; `capabilities()` follows it,
//!   but smoltcp reads capabilities only in `Interface::new`.
//! - `tso()` / `set_tso()`: TCP segmentation offload, on when the backend
//!   offers `feature-gso-tcpv4` (and SG) and the crate is built with feature
//!   `tso`: smoltcp then hands over TCP segments up to 64 KiB with a GSO
//!   extra and the backend cuts them. Off by default: smoltcp 0.14's
//!   `segmentation-offload` does not build without `proto-ipv6` (+41 KB of
//!   kernel for a stack that is IPv4-only), and it is not yet measured.
//! - Protocol errors take the device down with a reason (`is_down()`): ids,
//!   offsets and lengths past the page, producer indexes, a chain longer than
//!   18 slots, a first slot shorter than an Ethernet header, extra-info types
//!   never negotiated, two GSO extras, gso_prefix, TX NULL responses without
//!   an extra slot. As Linux does, a packet with an error status in any slot,
//!   a GSO extra of size 0 or of a type other than TCPv4, or a length outside
//!   14..=MAX_PACKET is dropped and counted instead; a chain cut by the
//!   producer index is waited for (an event storm bounds the wait).
//! - `stats` holds every counter, overload by reason included;
//!   `shutdown(xs, gt)` closes the handshake and ends every grant.
//!
//! Added to the API: `poll() -> Result<bool, _>` (was `Result<(), _>`),
//! `mtu()`, `set_mtu()`, `mtu_cap()`, `tso()`, `set_tso()`, `rx_queued()`,
//! the new `Stats` fields, the `csum` module.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod csum;
pub mod device;
pub mod ring;
mod rx;
pub mod slots;
mod tx;

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use busdma::{Direction, Map, Tag};
use xenabi::hal::{EventChannel, GrantTable, PageAlloc, SharedMem, PAGE_SIZE};
use xenabi::netif as nif;
use xenstore::xenbus::{self, Frontend, FrontendError, State};
use xenstore::{Client, Wait};

use ring::FrontRing;
use rx::RxPath;
use tx::{Doorbell, TxPath};

pub use rx::{MAX_PACKET, MIN_RX_BUFS, RX_BUFS, RX_QUEUE_MAX};
pub use tx::{MAX_TX_FRAME, TX_BUFS};

/// The MTU when libxl wrote none.
pub const MTU_DEFAULT: u16 = 1500;
/// The largest MTU with scatter-gather: netback's own limit
/// (ETH_MAX_MTU 65535 less a VLAN Ethernet header, 18).
pub const MTU_MAX_SG: u16 = 65517;
/// The smallest MTU IPv4 allows (RFC 791).
pub const MTU_MIN: u16 = 68;
const ETH_HLEN: usize = 14;
const CONNECT_TIMEOUT_NS: u64 = 20_000_000_000;
const CLOSE_TIMEOUT_NS: u64 = 5_000_000_000;
/// Consecutive events that brought no response before we call it a storm. A
/// well-behaved backend notifies only when it produced something (our
/// rsp_event asks for exactly that), so even a handful of idle events is odd.
const EVENT_STORM_LIMIT: u32 = 1000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetError {
    /// XenStore failed while connecting.
    Store(String),
    /// The backend lacks something we require, or never connected.
    Backend(String),
    /// Out of pages or grant references.
    Resources(&'static str),
    /// The backend broke the ring protocol; the device is down.
    Protocol(String),
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetError::Store(m) => write!(f, "xenstore: {}", m),
            NetError::Backend(m) => write!(f, "backend: {}", m),
            NetError::Resources(m) => write!(f, "resources: {}", m),
            NetError::Protocol(m) => write!(f, "protocol: {}", m),
        }
    }
}

fn store<E: fmt::Display>(e: E) -> NetError {
    NetError::Store(format!("{}", e))
}

fn handshake(e: FrontendError) -> NetError {
    match e {
        FrontendError::Store(e) => store(e),
        other => NetError::Backend(format!("{}", other)),
    }
}

/// Counters for the console and XenStore: the one place overload is counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Packets handed to the stack, and their bytes.
    pub rx_packets: u64,
    pub rx_bytes: u64,
    /// Frames queued to the backend, and their bytes.
    pub tx_packets: u64,
    pub tx_bytes: u64,
    /// RX packets dropped, for any of the reasons below.
    pub rx_dropped: u64,
    /// ... because RX_QUEUE_MAX packets (or all pages but the 19 netback
    /// needs to start a packet) already wait for the stack.
    pub rx_queue_full: u64,
    /// ... because a slot had an error status.
    pub rx_error_status: u64,
    /// ... because shorter than an Ethernet header or longer than MAX_PACKET.
    pub rx_bad_length: u64,
    /// ... because of a GSO extra with size 0 or a type other than TCPv4.
    pub rx_bad_gso: u64,
    /// ... because the TCP/UDP checksum was wrong (or its header broken).
    pub rx_csum_bad: u64,
    /// Packets flagged `csum_blank` (validated by their sender, the sum left blank).
    pub rx_csum_blank: u64,
    /// Packets that came with a GSO extra (larger than the MTU).
    pub rx_gso_packets: u64,
    /// Polls that found a packet's slot chain cut by the producer index.
    pub rx_partial_waits: u64,
    /// TX responses with an error status.
    pub tx_errors: u64,
    /// TX frames refused or dropped because every buffer or ring slot they
    /// needed was in flight.
    pub tx_busy: u64,
    /// TX frames dropped as unsendable (length, or GSO for a non-TCP frame).
    pub tx_dropped: u64,
    /// TX frames sent with a GSO extra (TSO).
    pub tx_gso_packets: u64,
    pub notifies: u64,
    pub events: u64,
    /// Events that brought no response (counted towards the storm limit).
    pub events_idle: u64,
    /// Polls that stopped at the one-ring budget with more waiting.
    pub budget_hits: u64,
}

/// One page-sized packet buffer, granted for the device's lifetime.
pub(crate) struct Buffer<M: SharedMem> {
    pub(crate) page: M,
    map: Map,
    pub(crate) gref: u32,
}

pub struct Netfront<M: SharedMem, E: EventChannel> {
    /// Our half of the xenbus handshake (device and backend paths).
    fe: Frontend,
    pub backend_id: u16,
    pub mac: [u8; 6],
    pub port: u32,
    // boxed: the driver moves by value through connect into the caller's
    // state, and the kernel's boot stack is small
    tx: Box<TxPath<M, E>>,
    rx: Box<RxPath<M>>,
    ring_maps: [Map; 2],
    ring_grefs: [u32; 2],
    /// Where each received packet is copied for the stack (MAX_PACKET).
    rx_buf: Vec<u8>,
    down: Option<String>,
    /// events in a row that brought no response (storm detection)
    idle_events: u32,
    mtu: u16,
    /// What the backend can take: MTU_MAX_SG with its feature-sg, else 1500.
    mtu_cap: u16,
    /// The backend offers TCPv4 GSO on our transmit side.
    backend_tso: bool,
    pub stats: Stats,
}

/// End a buffer's grant and free it; returns true if it had to be
/// quarantined (the peer still uses it: keep the reference and the page).
fn release<M: SharedMem, G: GrantTable>(gt: &mut G, mut map: Map, page: M) -> bool {
    if map.unload(gt).is_ok() {
        let _ = map.destroy(gt);
        false
    } else {
        core::mem::forget(map);
        core::mem::forget(page);
        true
    }
}

fn buffer<M: SharedMem, G: GrantTable>(
    gt: &mut G,
    pa: &mut impl PageAlloc<Page = M>,
    peer: u16,
    dir: Direction,
) -> Result<Buffer<M>, NetError> {
    let page = pa.alloc_page().ok_or(NetError::Resources("out of pages"))?;
    page.zero(); // nothing but packet data may ever be granted (XSA-403)
    let mut map = Map::create(Tag::pages(peer, dir, 1), gt)
        .map_err(|_| NetError::Resources("out of grant references"))?;
    let frames = [page.gfn()];
    let gref = map
        .load(gt, &frames, 0, PAGE_SIZE)
        .map_err(|_| NetError::Resources("grant failed"))?[0]
        .gref;
    Ok(Buffer { page, map, gref })
}

impl<M: SharedMem, E: EventChannel> Netfront<M, E> {
    /// Connect to the backend of `dev` (e.g. from `xenbus::enumerate`), with
    /// a full ring of RX buffers.
    pub fn connect<G: GrantTable, P: PageAlloc<Page = M>, XM: SharedMem, W: Wait>(
        xs: &mut Client<XM, W>,
        gt: &mut G,
        pa: &mut P,
        events: E,
        dev: &xenbus::Device,
    ) -> Result<Self, NetError> {
        Self::connect_with(xs, gt, pa, events, dev, RX_BUFS)
    }

    /// `connect` with `rx_bufs` RX buffers (pages), kept within
    /// `MIN_RX_BUFS..=RX_BUFS`: a small guest gives fewer pages to the ring.
    pub fn connect_with<G: GrantTable, P: PageAlloc<Page = M>, XM: SharedMem, W: Wait>(
        xs: &mut Client<XM, W>,
        gt: &mut G,
        pa: &mut P,
        mut events: E,
        dev: &xenbus::Device,
        rx_bufs: usize,
    ) -> Result<Self, NetError> {
        let rx_bufs = rx_bufs.clamp(MIN_RX_BUFS, RX_BUFS);
        let mac = dev
            .mac
            .as_deref()
            .and_then(slots::parse_mac)
            .ok_or_else(|| NetError::Backend(format!("{}: missing or bad mac", dev.path)))?;
        let peer = dev.backend_id;
        let deadline = xs.waiter().now_ns() + CONNECT_TIMEOUT_NS;
        let mut fe = Frontend::new(dev.clone());
        // Nothing granted yet: a failure up to the rings only has to say Closed.
        let give_up = |xs: &mut Client<XM, W>, fe: &mut Frontend, e: NetError| {
            let _ = fe.switch(xs, State::Closed);
            let _ = fe.unwatch_backend(xs);
            e
        };
        fe.switch(xs, State::Initialising).map_err(handshake)?;
        if let Err(e) = fe.wait_backend(xs, deadline, |s| {
            s == State::InitWait || s == State::Connected
        }) {
            return Err(give_up(xs, &mut fe, handshake(e)));
        }
        // the backend's features and our MTU, in one round trip
        let be = |key: &str| format!("{}/{}", dev.backend, key);
        let nodes = [
            be("feature-rx-copy"),
            be("feature-sg"),
            be("feature-gso-tcpv4"),
            format!("{}/mtu", dev.path),
        ];
        let got = match xs.read_strings(&[&nodes[0], &nodes[1], &nodes[2], &nodes[3]]) {
            Ok(g) => g,
            Err(e) => return Err(give_up(xs, &mut fe, store(e))),
        };
        let value = |i: usize| got.get(i).and_then(|r| r.as_ref().ok()).map(|v| v.trim());
        let has = |i: usize| value(i) == Some("1");
        if !has(0) {
            let e = NetError::Backend(String::from(
                "no feature-rx-copy (page flipping is not supported)",
            ));
            return Err(give_up(xs, &mut fe, e));
        }
        // Transmit chains need the backend's scatter-gather, TSO its GSO too.
        let sg = has(1);
        let backend_tso = sg && has(2);
        let mtu_cap = if sg { MTU_MAX_SG } else { MTU_DEFAULT };
        let mtu = value(3)
            .and_then(|v| v.parse::<u16>().ok())
            .unwrap_or(MTU_DEFAULT);

        // Rings: one page each, granted writable to the backend.
        let tx_buf = match buffer(gt, pa, peer, Direction::FromDevice) {
            Ok(b) => b,
            Err(e) => return Err(give_up(xs, &mut fe, e)),
        };
        let rx_buf = match buffer(gt, pa, peer, Direction::FromDevice) {
            Ok(b) => b,
            Err(e) => {
                release(gt, tx_buf.map, tx_buf.page);
                return Err(give_up(xs, &mut fe, e));
            }
        };
        let port = match events.alloc_unbound(peer) {
            Ok(p) => p,
            Err(e) => {
                release(gt, tx_buf.map, tx_buf.page);
                release(gt, rx_buf.map, rx_buf.page);
                let e = NetError::Backend(format!("evtchn: {}", e));
                return Err(give_up(xs, &mut fe, e));
            }
        };
        let bell = Doorbell { events, port };
        let mut nf = Netfront {
            fe,
            backend_id: peer,
            mac,
            port,
            tx: Box::new(TxPath::new(
                FrontRing::init(tx_buf.page, nif::TX_SLOT_SIZE),
                bell,
            )),
            rx: Box::new(RxPath::new(FrontRing::init(rx_buf.page, nif::RX_SLOT_SIZE))),
            ring_maps: [tx_buf.map, rx_buf.map],
            ring_grefs: [tx_buf.gref, rx_buf.gref],
            rx_buf: alloc::vec![0u8; MAX_PACKET],
            down: None,
            idle_events: 0,
            mtu: MTU_DEFAULT,
            mtu_cap,
            backend_tso,
            stats: Stats::default(),
        };
        nf.set_mtu(mtu);
        nf.set_tso(true);
        match nf.finish_connect(xs, gt, pa, deadline, rx_bufs) {
            Ok(()) => Ok(nf),
            Err(e) => {
                // nothing may stay granted to a backend we gave up on:
                // close the handshake first so that it lets go of the rings
                nf.close_handshake(xs);
                nf.release(gt);
                Err(e)
            }
        }
    }

    fn finish_connect<G: GrantTable, P: PageAlloc<Page = M>, XM: SharedMem, W: Wait>(
        &mut self,
        xs: &mut Client<XM, W>,
        gt: &mut G,
        pa: &mut P,
        deadline: u64,
        rx_bufs: usize,
    ) -> Result<(), NetError> {
        let peer = self.backend_id;
        for _ in 0..TX_BUFS {
            self.tx.add(buffer(gt, pa, peer, Direction::ToDevice)?);
        }
        for _ in 0..rx_bufs {
            self.rx.add(buffer(gt, pa, peer, Direction::FromDevice)?);
        }
        self.rx.refill();

        let (tx_ref, rx_ref, p) = (self.ring_grefs[0], self.ring_grefs[1], self.port);
        let path = self.fe.dev.path.clone();
        let (tx_ref, rx_ref, port) = (
            format!("{}", tx_ref),
            format!("{}", rx_ref),
            format!("{}", p),
        );
        let keys = [
            ("tx-ring-ref", tx_ref.as_str()),
            ("rx-ring-ref", rx_ref.as_str()),
            ("event-channel", port.as_str()),
            ("request-rx-copy", "1"),
            ("feature-rx-notify", "1"),
            // we take multi-slot packets and TCPv4 GSO (IPv4 only: no v6)
            ("feature-sg", "1"),
            ("feature-gso-tcpv4", "1"),
            // checksum offload on (GSO needs it): the driver verifies
            // TCP/UDP checksums itself unless flagged (see `csum`)
            ("feature-no-csum-offload", "0"),
            ("feature-ipv6-csum-offload", "0"),
        ];
        let paths: Vec<String> = keys
            .iter()
            .map(|(k, _)| format!("{}/{}", path, k))
            .collect();
        let nodes: Vec<(&str, &[u8])> = paths
            .iter()
            .zip(keys.iter())
            .map(|(p, (_, v))| (p.as_str(), v.as_bytes()))
            .collect();
        // the nine keys and Connected in one transaction: one batch
        self.fe
            .switch_with(xs, State::Connected, &nodes)
            .map_err(handshake)?;
        let s = match self.fe.wait_backend(xs, deadline, |s| {
            s == State::Connected || s as u8 >= State::Closing as u8
        }) {
            Ok(s) | Err(FrontendError::Timeout(s)) => s,
            Err(e) => return Err(handshake(e)),
        };
        if s != State::Connected {
            return Err(NetError::Backend(format!(
                "backend did not connect (state {:?})",
                s
            )));
        }
        // the backend's state stays watched (`backend_token`): its owner
        // hears of a detach from it; `close` ends the watch
        self.tx.bell.events.unmask(self.port);
        self.tx.bell.ring(&mut self.stats);
        Ok(())
    }

    pub fn is_down(&self) -> Option<&str> {
        self.down.as_deref()
    }

    fn fail(&mut self, why: String) -> NetError {
        if self.down.is_none() {
            self.down = Some(why.clone());
        }
        self.tx.up = false;
        NetError::Protocol(why)
    }

    /// Responses consumed so far on both rings (storm detection).
    fn consumed(&self) -> u32 {
        self.tx.ring.rsp_cons.wrapping_add(self.rx.ring.rsp_cons)
    }

    /// Consume the event, take TX completions and received packets (at most
    /// one ring's worth each way), re-post pages. `Ok(true)`: the backend had
    /// produced more than that budget, poll again before blocking. An error
    /// means the device is down.
    pub fn poll(&mut self) -> Result<bool, NetError> {
        // the event is always consumed, down or not: a pending one left
        // behind would keep the caller's idle loop from ever halting
        let evented = self.tx.bell.events.take_pending(self.port);
        if evented {
            self.stats.events += 1;
        }
        if let Some(d) = &self.down {
            return Err(NetError::Protocol(d.clone()));
        }
        let before = self.consumed();
        let tx_more = match self.tx.poll(&mut self.stats) {
            Ok(m) => m,
            Err(e) => return Err(self.fail(e)),
        };
        if let Err(e) = self.rx.poll(&mut self.stats) {
            return Err(self.fail(e));
        }
        if self.rx.refill() {
            self.tx.bell.ring(&mut self.stats);
        }
        let rx_more = match self.rx.more() {
            Ok(m) => m,
            Err(e) => return Err(self.fail(e)),
        };
        // XSA-391: a backend that keeps signalling without producing anything
        // is flooding us; take the device down rather than spin on its events.
        if self.consumed() != before {
            self.idle_events = 0;
        } else if evented {
            self.stats.events_idle += 1;
            self.idle_events += 1;
            if self.idle_events > EVENT_STORM_LIMIT {
                return Err(self.fail(format!(
                    "event storm: {} events in a row without a response",
                    self.idle_events
                )));
            }
        }
        let more = tx_more || rx_more;
        if more {
            self.stats.budget_hits += 1;
        }
        Ok(more)
    }

    /// The next received packet, copied into the per-device buffer with its
    /// checksum completed or verified; returns its length. Packets with a
    /// bad checksum are dropped here (counted).
    fn next_packet(&mut self) -> Option<usize> {
        if self.down.is_some() {
            return None;
        }
        loop {
            let t = self.rx.take(&mut self.rx_buf)?;
            if self.rx.refill() {
                self.tx.bell.ring(&mut self.stats);
            }
            let frame = self.rx_buf.get_mut(..t.len)?;
            match csum::rx(frame, t.csum_blank, t.data_validated) {
                csum::Rx::Bad => {
                    self.stats.rx_csum_bad += 1;
                    self.stats.rx_dropped += 1;
                    continue;
                }
                csum::Rx::Blank | csum::Rx::Completed => self.stats.rx_csum_blank += 1,
                _ => {}
            }
            self.stats.rx_packets += 1;
            self.stats.rx_bytes += t.len as u64;
            return Some(t.len);
        }
    }

    /// A received frame, as an owned copy (for tests and tools: the
    /// `Device` path hands smoltcp a slice and allocates nothing).
    pub fn recv(&mut self) -> Option<Vec<u8>> {
        let n = self.next_packet()?;
        Some(self.rx_buf[..n].to_vec())
    }

    /// Packets received and waiting for the stack.
    pub fn rx_queued(&self) -> usize {
        self.rx.queued()
    }

    /// Is there room to send a frame of the largest size the stack may build?
    pub fn can_send(&self) -> bool {
        self.tx.room(self.tx.max_len())
    }

    /// Queue one frame of `len` bytes built by `fill`; `None` (and `fill`
    /// not called) when there is no room or `len` is out of range.
    pub fn send_with<R>(&mut self, len: usize, fill: impl FnOnce(&mut [u8]) -> R) -> Option<R> {
        if len == 0 || len > self.tx.max_frame || !self.tx.room(len) {
            self.stats.tx_busy += 1;
            return None;
        }
        Some(self.tx.send(&mut self.stats, len, None, fill))
    }

    /// The MTU in force (IP bytes per frame, without the Ethernet header).
    /// RX buffers given to the ring at connect.
    pub fn rx_bufs(&self) -> usize {
        self.rx.bufs.len()
    }

    pub fn mtu(&self) -> u16 {
        self.mtu
    }

    /// The largest MTU this backend allows.
    pub fn mtu_cap(&self) -> u16 {
        self.mtu_cap
    }

    /// Ask for `mtu` (e.g. from DHCP option 26); returns the MTU in force,
    /// clamped to MTU_MIN..=mtu_cap().
    pub fn set_mtu(&mut self, mtu: u16) -> u16 {
        self.mtu = mtu.clamp(MTU_MIN, self.mtu_cap);
        self.tx.max_frame = self.mtu as usize + ETH_HLEN;
        self.mtu
    }

    /// TCP segmentation offload in force.
    pub fn tso(&self) -> bool {
        self.tx.tso
    }

    /// Turn TSO on or off (on only if the backend offers it and the crate
    /// is built with feature `tso`); returns what is in force. Like the MTU,
    /// smoltcp reads it in `Interface::new`.
    pub fn set_tso(&mut self, on: bool) -> bool {
        self.tx.tso = on && self.backend_tso && cfg!(feature = "tso");
        self.tx.tso
    }

    /// Take the device down: Closing, Closed, wait for the backend to let go,
    /// then end every grant (one still in use stays quarantined, counted).
    pub fn shutdown<G: GrantTable, XM: SharedMem, W: Wait>(
        mut self,
        xs: &mut Client<XM, W>,
        gt: &mut G,
    ) -> usize {
        self.close_handshake(xs);
        self.release(gt)
    }

    /// Closing, then Closed, each answered (bounded) by the backend: netback
    /// unmaps our rings on the way, so the grants end free rather than
    /// quarantined. A backend that vanished ends the wait at once.
    fn close_handshake<XM: SharedMem, W: Wait>(&mut self, xs: &mut Client<XM, W>) {
        let deadline = xs.waiter().now_ns() + CLOSE_TIMEOUT_NS;
        let _ = self.fe.close(xs, deadline);
    }

    /// The token the backend's state is watched under while connected:
    /// an event with it means "look at the backend".
    pub fn backend_token(&self) -> &str {
        self.fe.token()
    }

    /// Our device's XenStore directory (`device/vif/N`).
    pub fn path(&self) -> &str {
        &self.fe.dev.path
    }

    /// The backend's XenStore directory.
    pub fn backend(&self) -> &str {
        &self.fe.dev.backend
    }

    /// End every grant and free the pages; a grant the backend still uses is
    /// quarantined: its reference and page are never reused. Returns how many.
    fn release<G: GrantTable>(self, gt: &mut G) -> usize {
        let Netfront {
            tx,
            rx,
            ring_maps,
            port,
            ..
        } = self;
        let TxPath {
            mut bell,
            ring: tx_ring,
            bufs: tx_bufs,
            ..
        } = *tx;
        let RxPath {
            ring: rx_ring,
            bufs: rx_bufs,
            ..
        } = *rx;
        let mut quarantined = 0;
        for b in tx_bufs.into_iter().chain(rx_bufs) {
            quarantined += release(gt, b.map, b.page) as usize;
        }
        let [mut tx_map, mut rx_map] = ring_maps;
        let tx_ok = tx_map.unload(gt).is_ok();
        let rx_ok = rx_map.unload(gt).is_ok();
        if tx_ok && rx_ok {
            let _ = tx_map.destroy(gt);
            let _ = rx_map.destroy(gt);
        } else {
            quarantined += 1;
            core::mem::forget((tx_map, rx_map, tx_ring, rx_ring)); // rings stay granted: keep their pages
        }
        bell.events.close(port);
        quarantined
    }
}
