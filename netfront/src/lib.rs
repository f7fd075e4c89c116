//! netfront: the Xen virtual NIC. Rings and packet pages are granted once
//! at connect (busdma maps made then, so the data path takes no grant
//! operations); every response is read once into a local copy and checked;
//! a backend that breaks the protocol gets the device taken down.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod device;
pub mod ring;
pub mod slots;

use alloc::collections::VecDeque;
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

/// RX buffers posted (the ring holds 256: keep it full).
pub const RX_BUFS: usize = 256;
/// TX buffers: frames in flight at once.
pub const TX_BUFS: usize = 64;
/// Received frames waiting for the stack before we start dropping.
const RX_QUEUE_MAX: usize = 128;
/// Largest frame we send or accept: 1500-byte MTU plus the Ethernet header.
pub const MAX_FRAME: usize = 1514;
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

/// Counters for the console and XenStore.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    /// RX frames dropped: stack queue full, backend error status, bad length.
    pub rx_dropped: u64,
    /// TX responses with an error status.
    pub tx_errors: u64,
    /// TX attempts refused because every buffer was in flight.
    pub tx_busy: u64,
    /// Frames the backend flagged with a blank checksum (we asked for full
    /// checksums; smoltcp verifies and drops them).
    pub rx_csum_blank: u64,
    pub notifies: u64,
    pub events: u64,
}

/// One page-sized packet buffer, granted for the device's lifetime.
struct Buffer<M: SharedMem> {
    page: M,
    map: Map,
    gref: u32,
}

pub struct Netfront<M: SharedMem, E: EventChannel> {
    /// Our half of the xenbus handshake (device and backend paths).
    fe: Frontend,
    pub backend_id: u16,
    pub mac: [u8; 6],
    pub port: u32,
    events: E,
    tx: FrontRing<M>,
    rx: FrontRing<M>,
    ring_maps: [Map; 2],
    ring_grefs: [u32; 2],
    tx_bufs: Vec<Buffer<M>>,
    tx_free: Vec<u16>,
    tx_inflight: [bool; TX_BUFS],
    rx_bufs: Vec<Buffer<M>>,
    rx_posted: [bool; RX_BUFS],
    rx_queue: VecDeque<Vec<u8>>,
    down: Option<String>,
    /// events in a row that brought no response (storm detection)
    idle_events: u32,
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
    /// Connect to the backend of `dev` (e.g. from `xenbus::enumerate`).
    pub fn connect<G: GrantTable, P: PageAlloc<Page = M>, XM: SharedMem, W: Wait>(
        xs: &mut Client<XM, W>,
        gt: &mut G,
        pa: &mut P,
        mut events: E,
        dev: &xenbus::Device,
    ) -> Result<Self, NetError> {
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
        let rx_copy = xs
            .read_string(&format!("{}/feature-rx-copy", dev.backend))
            .unwrap_or_default();
        if rx_copy.trim() != "1" {
            let e = NetError::Backend(String::from(
                "no feature-rx-copy (page flipping is not supported)",
            ));
            return Err(give_up(xs, &mut fe, e));
        }

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
        let (tx, rx) = (
            FrontRing::init(tx_buf.page, nif::TX_SLOT_SIZE),
            FrontRing::init(rx_buf.page, nif::RX_SLOT_SIZE),
        );
        let mut nf = Netfront {
            fe,
            backend_id: peer,
            mac,
            port,
            events,
            tx,
            rx,
            ring_maps: [tx_buf.map, rx_buf.map],
            ring_grefs: [tx_buf.gref, rx_buf.gref],
            tx_bufs: Vec::with_capacity(TX_BUFS),
            tx_free: Vec::with_capacity(TX_BUFS),
            tx_inflight: [false; TX_BUFS],
            rx_bufs: Vec::with_capacity(RX_BUFS),
            rx_posted: [false; RX_BUFS],
            rx_queue: VecDeque::with_capacity(RX_QUEUE_MAX),
            down: None,
            idle_events: 0,
            stats: Stats::default(),
        };
        match nf.finish_connect(xs, gt, pa, deadline) {
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
    ) -> Result<(), NetError> {
        let peer = self.backend_id;
        for i in 0..TX_BUFS {
            self.tx_bufs
                .push(buffer(gt, pa, peer, Direction::ToDevice)?);
            self.tx_free.push((TX_BUFS - 1 - i) as u16);
        }
        for id in 0..RX_BUFS {
            self.rx_bufs
                .push(buffer(gt, pa, peer, Direction::FromDevice)?);
            self.post_rx(id as u16);
        }
        self.rx.push_requests();

        let (tx_ref, rx_ref, p) = (self.ring_grefs[0], self.ring_grefs[1], self.port);
        let path = self.fe.dev.path.clone();
        xs.transaction(|xs, t| {
            let w = |xs: &mut Client<XM, W>, k: &str, v: String| {
                xs.write_tx(t, &format!("{}/{}", path, k), v.as_bytes())
            };
            w(xs, "tx-ring-ref", format!("{}", tx_ref))?;
            w(xs, "rx-ring-ref", format!("{}", rx_ref))?;
            w(xs, "event-channel", format!("{}", p))?;
            w(xs, "request-rx-copy", String::from("1"))?;
            w(xs, "feature-rx-notify", String::from("1"))?;
            w(xs, "feature-sg", String::from("0"))?;
            w(xs, "feature-gso-tcpv4", String::from("0"))?;
            // full checksums from the backend: we never see partial ones
            w(xs, "feature-no-csum-offload", String::from("1"))?;
            w(xs, "feature-ipv6-csum-offload", String::from("0"))
        })
        .map_err(store)?;
        self.fe.switch(xs, State::Connected).map_err(handshake)?;
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
        // the owner watches the backend from here on, under its own token
        let _ = self.fe.unwatch_backend(xs);
        self.events.unmask(self.port);
        self.notify();
        Ok(())
    }

    pub fn is_down(&self) -> Option<&str> {
        self.down.as_deref()
    }

    fn notify(&mut self) {
        self.stats.notifies += 1;
        self.events.notify(self.port);
    }

    fn post_rx(&mut self, id: u16) {
        let gref = self.rx_bufs[id as usize].gref;
        self.rx.put_request(&slots::rx_request(id, gref));
        self.rx_posted[id as usize] = true;
    }

    fn fail(&mut self, why: String) -> NetError {
        if self.down.is_none() {
            self.down = Some(why.clone());
        }
        NetError::Protocol(why)
    }

    /// Take what the backend produced: TX completions and received frames,
    /// refill the RX ring. An error means the device is down.
    pub fn poll(&mut self) -> Result<(), NetError> {
        if let Some(d) = &self.down {
            return Err(NetError::Protocol(d.clone()));
        }
        let evented = self.events.take_pending(self.port);
        if evented {
            self.stats.events += 1;
        }
        let before = self.tx.rsp_cons.wrapping_add(self.rx.rsp_cons);
        let r = self.poll_rings();
        // XSA-391: a backend that keeps signalling without producing anything is
        // flooding us; take the device down rather than spin on its events.
        if evented && r.is_ok() && self.tx.rsp_cons.wrapping_add(self.rx.rsp_cons) == before {
            self.idle_events += 1;
            if self.idle_events > EVENT_STORM_LIMIT {
                return Err(self.fail(format!(
                    "event storm: {} events in a row without a response",
                    self.idle_events
                )));
            }
        } else if self.tx.rsp_cons.wrapping_add(self.rx.rsp_cons) != before {
            self.idle_events = 0;
        }
        r
    }

    fn poll_rings(&mut self) -> Result<(), NetError> {
        loop {
            self.tx_completions()?;
            let refilled = self.rx_frames()?;
            if refilled && self.rx.push_requests() {
                self.notify();
            }
            let more_tx = self.tx.final_check().map_err(|c| {
                self.fail(format!(
                    "tx ring rsp_prod {} cons {}",
                    c.rsp_prod, c.rsp_cons
                ))
            })?;
            let more_rx = self.rx.final_check().map_err(|c| {
                self.fail(format!(
                    "rx ring rsp_prod {} cons {}",
                    c.rsp_prod, c.rsp_cons
                ))
            })?;
            if !more_tx && !more_rx {
                return Ok(());
            }
        }
    }

    fn tx_completions(&mut self) -> Result<(), NetError> {
        let n = self.tx.pending_responses().map_err(|c| {
            self.fail(format!(
                "tx ring rsp_prod {} cons {}",
                c.rsp_prod, c.rsp_cons
            ))
        })?;
        for _ in 0..n {
            let mut b = [0u8; nif::TX_SLOT_SIZE];
            self.tx.take_response(&mut b);
            let r = slots::tx_response(&b);
            let id = r.id as usize;
            if id >= TX_BUFS || !self.tx_inflight[id] {
                return Err(self.fail(format!("tx response for id {} not in flight", r.id)));
            }
            if r.status == nif::NETIF_RSP_NULL {
                return Err(self.fail(String::from("tx NULL response without extra slots")));
            }
            if r.status < 0 {
                self.stats.tx_errors += 1;
            }
            self.tx_inflight[id] = false;
            self.tx_free.push(r.id);
        }
        Ok(())
    }

    /// Returns whether buffers were re-posted.
    fn rx_frames(&mut self) -> Result<bool, NetError> {
        let n = self.rx.pending_responses().map_err(|c| {
            self.fail(format!(
                "rx ring rsp_prod {} cons {}",
                c.rsp_prod, c.rsp_cons
            ))
        })?;
        for _ in 0..n {
            let mut b = [0u8; nif::RX_SLOT_SIZE];
            self.rx.take_response(&mut b);
            let r = slots::rx_response(&b);
            let id = r.id as usize;
            if id >= RX_BUFS || !self.rx_posted[id] {
                return Err(self.fail(format!("rx response for id {} not posted", r.id)));
            }
            self.rx_posted[id] = false;
            if r.flags & (nif::NETRXF_MORE_DATA | nif::NETRXF_EXTRA_INFO | nif::NETRXF_GSO_PREFIX)
                != 0
            {
                return Err(self.fail(format!(
                    "rx flags {:#x} for features never negotiated",
                    r.flags
                )));
            }
            if r.status <= 0 {
                self.stats.rx_dropped += 1; // backend error or empty frame
            } else {
                let (off, len) = (r.offset as usize, r.status as usize);
                if off + len > PAGE_SIZE {
                    return Err(
                        self.fail(format!("rx offset {} + length {} past the page", off, len))
                    );
                }
                if len > MAX_FRAME || len < 14 || self.rx_queue.len() >= RX_QUEUE_MAX {
                    self.stats.rx_dropped += 1;
                } else {
                    if r.flags & nif::NETRXF_CSUM_BLANK != 0 {
                        self.stats.rx_csum_blank += 1;
                    }
                    let mut frame = alloc::vec![0u8; len];
                    self.rx_bufs[id].page.read(off, &mut frame);
                    self.stats.rx_packets += 1;
                    self.stats.rx_bytes += len as u64;
                    self.rx_queue.push_back(frame);
                }
            }
            self.post_rx(id as u16);
        }
        Ok(n > 0)
    }

    /// A received frame for the stack.
    pub fn recv(&mut self) -> Option<Vec<u8>> {
        self.rx_queue.pop_front()
    }

    pub fn can_send(&self) -> bool {
        self.down.is_none() && !self.tx_free.is_empty() && self.tx.free_requests() > 0
    }

    /// Queue one frame built by `fill` (which gets a buffer of `len` bytes).
    /// The whole frame sits in one slot, so the first slot carries the whole
    /// Ethernet header (XSA-423).
    pub fn send_with<R>(&mut self, len: usize, fill: impl FnOnce(&mut [u8]) -> R) -> Option<R> {
        if !self.can_send() || len > MAX_FRAME || len == 0 {
            self.stats.tx_busy += 1;
            return None;
        }
        let id = self.tx_free.pop()?;
        let mut frame = [0u8; MAX_FRAME];
        let r = fill(&mut frame[..len]);
        let buf = &self.tx_bufs[id as usize];
        buf.page.write(0, &frame[..len]);
        let gref = buf.gref;
        self.tx
            .put_request(&slots::tx_request(gref, 0, 0, id, len as u16));
        self.tx_inflight[id as usize] = true;
        self.stats.tx_packets += 1;
        self.stats.tx_bytes += len as u64;
        if self.tx.push_requests() {
            self.notify();
        }
        Some(r)
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
    fn release<G: GrantTable>(mut self, gt: &mut G) -> usize {
        let mut quarantined = 0;
        for b in self.tx_bufs.drain(..).chain(self.rx_bufs.drain(..)) {
            quarantined += release(gt, b.map, b.page) as usize;
        }
        let [mut tx_map, mut rx_map] = self.ring_maps;
        let tx_ok = tx_map.unload(gt).is_ok();
        let rx_ok = rx_map.unload(gt).is_ok();
        if tx_ok && rx_ok {
            let _ = tx_map.destroy(gt);
            let _ = rx_map.destroy(gt);
        } else {
            quarantined += 1;
            core::mem::forget((tx_map, rx_map, self.tx, self.rx)); // rings stay granted: keep their pages
        }
        self.events.close(self.port);
        quarantined
    }
}
