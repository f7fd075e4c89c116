//! blkfront: the Xen block front end, read-only, for seed disks (a NoCloud
//! `cidata` volume, a config drive). Written like netfront: the ring and
//! every data page are granted once, at connect, through busdma maps (no
//! grant operations per read); every response is copied out of the ring once
//! and checked; a backend that breaks the protocol takes the device down with
//! a clear reason; closing ends every grant (quarantining, and counting, one
//! the backend still holds).
//!
//! A boot-time caller drives it synchronously:
//!
//! ```text
//! let dev = &xenbus::enumerate(xs, "vbd")?[0];
//! let mut disk = Blkfront::connect(xs, gt, pa, events, dev)?;   // bounded by CONNECT_TIMEOUT_NS
//! disk.read(xs, offset, &mut buf, deadline_ns)?;                // any offset and length
//! let quarantined = disk.shutdown(xs, gt);
//! ```
//!
//! `read` sleeps in `xs.waiter().wait` (which on Xen blocks until an event
//! or the deadline), watches the backend's state meanwhile, and keeps up to
//! `REQUESTS` requests of `CHUNK` bytes in flight.
//!
//! Backend features, offered and not used (`offered()` records them):
//! - `feature-persistent`: our pages are granted for the device's lifetime
//!   anyway; persistent grants would only spare the backend a map per segment,
//!   microseconds over the few dozen requests a seed disk takes.
//! - `max-ring-page-order`: one ring page holds 32 requests; we keep 4 in flight.
//! - `feature-max-indirect-segments`: a direct request reads 44 KiB, more than
//!   a seed file; indirect pages pay for megabyte transfers only.
//!
//! Reads only: no write request is ever built. Ring sector numbers are in
//! 512-byte units (we do not write `feature-large-sector-size`), and every
//! request is aligned to the backend's `sector-size`.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod info;
pub mod queue;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use busdma::{Direction, DmaMem, Map, Tag};
use xenabi::blkif as b;
use xenabi::hal::{EventChannel, GrantRef, GrantTable, PageAlloc, SharedMem, PAGE_SIZE};
use xenstore::xenbus::{self, Frontend, FrontendError, State};
use xenstore::{Client, Wait};

pub use info::{DiskInfo, InfoError, Offered};
pub use queue::{Extent, Queue, Violation, CHUNK, REQUESTS, SEGMENTS};

pub const CONNECT_TIMEOUT_NS: u64 = 20_000_000_000;
const CLOSE_TIMEOUT_NS: u64 = 5_000_000_000;
/// Consecutive events that brought no response before we call it a storm
/// (XSA-391); we ask for one event per response, so a few are already odd.
pub const EVENT_STORM_LIMIT: u32 = 1000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlkError {
    /// XenStore failed while connecting.
    Store(String),
    /// The backend lacks something we need, describes the disk badly, or
    /// never connected.
    Backend(String),
    /// Out of pages or grant references.
    Resources(&'static str),
    /// The device is down: the backend broke the ring protocol, closed,
    /// flooded us with events, or a read missed its deadline.
    Down(String),
    /// The read asked for bytes past the end of the disk (the device stays up).
    OutOfRange { offset: u64, len: u64, size: u64 },
    /// The backend answered a read with an error status (the device stays up).
    Io { offset: u64, status: i16 },
}

impl fmt::Display for BlkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlkError::Store(m) => write!(f, "xenstore: {}", m),
            BlkError::Backend(m) => write!(f, "backend: {}", m),
            BlkError::Resources(m) => write!(f, "resources: {}", m),
            BlkError::Down(m) => write!(f, "down: {}", m),
            BlkError::OutOfRange { offset, len, size } => write!(
                f,
                "read of {} bytes at {} past the end of the disk ({} bytes)",
                len, offset, size
            ),
            BlkError::Io { offset, status } => {
                write!(f, "backend error status {} reading at {}", status, offset)
            }
        }
    }
}

fn store<E: fmt::Display>(e: E) -> BlkError {
    BlkError::Store(format!("{}", e))
}

fn handshake(e: FrontendError) -> BlkError {
    match e {
        FrontendError::Store(e) => store(e),
        other => BlkError::Backend(format!("{}", other)),
    }
}

/// Counters for the console and XenStore.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub reads: u64,
    pub requests: u64,
    pub bytes: u64,
    /// Responses with an error status.
    pub io_errors: u64,
    pub notifies: u64,
    pub events: u64,
}

/// One request's pages, granted writable to the backend for the device's
/// lifetime.
struct Slot<M: SharedMem> {
    mem: DmaMem<M>,
    map: Map,
    grefs: [GrantRef; SEGMENTS],
}

pub struct Blkfront<M: SharedMem, E: EventChannel> {
    /// Our half of the xenbus handshake; it watches the backend's state
    /// while we are connected, so a backend that closes mid-read is heard.
    fe: Frontend,
    pub backend_id: u16,
    pub port: u32,
    handle: u16,
    info: DiskInfo,
    offered: Offered,
    events: E,
    queue: Queue<M>,
    ring_map: Map,
    slots: Vec<Slot<M>>,
    down: Option<String>,
    /// events in a row that brought no response (storm detection)
    idle_events: u32,
    pub stats: Stats,
}

/// `n` zeroed pages (XSA-403: nothing stale is ever granted), loaded into a
/// map granted writable to `peer`.
fn granted<M: SharedMem, G: GrantTable>(
    gt: &mut G,
    pa: &mut impl PageAlloc<Page = M>,
    peer: u16,
    n: usize,
) -> Result<(DmaMem<M>, Map), BlkError> {
    let mem = DmaMem::alloc(pa, n).ok_or(BlkError::Resources("out of pages"))?;
    let mut map = Map::create(Tag::pages(peer, Direction::FromDevice, n), gt)
        .map_err(|_| BlkError::Resources("out of grant references"))?;
    if map.load(gt, mem.frames(), 0, n * PAGE_SIZE).is_err() {
        map.retire(gt, mem);
        return Err(BlkError::Resources("grant failed"));
    }
    Ok((mem, map))
}

fn read_node<XM: SharedMem, W: Wait>(
    xs: &mut Client<XM, W>,
    dir: &str,
    key: &str,
) -> Result<Option<String>, BlkError> {
    match xs.read_string(&format!("{}/{}", dir, key)) {
        Ok(v) => Ok(Some(v)),
        Err(xenstore::Error::Xs(xenstore::Errno::ENOENT)) => Ok(None),
        Err(e) => Err(store(e)),
    }
}

impl<M: SharedMem, E: EventChannel> Blkfront<M, E> {
    /// Connect to the backend of `dev` (from `xenbus::enumerate(xs, "vbd")`):
    /// Initialising, wait for InitWait, ring and event channel published in
    /// a transaction, Initialised, wait for Connected, read and check the
    /// disk's description, Connected. Any failure says Closed and leaves
    /// nothing granted.
    pub fn connect<G: GrantTable, P: PageAlloc<Page = M>, XM: SharedMem, W: Wait>(
        xs: &mut Client<XM, W>,
        gt: &mut G,
        pa: &mut P,
        mut events: E,
        dev: &xenbus::Device,
    ) -> Result<Self, BlkError> {
        let peer = dev.backend_id;
        // the request's handle is the virtual device number (device/vbd/<vdev>)
        let handle = dev
            .path
            .rsplit('/')
            .next()
            .and_then(|id| id.parse::<u16>().ok())
            .unwrap_or(0);
        let deadline = xs.waiter().now_ns().saturating_add(CONNECT_TIMEOUT_NS);
        let mut fe = Frontend::new(dev.clone());
        // Nothing granted yet: a failure up to the ring only has to say Closed.
        let give_up = |xs: &mut Client<XM, W>, fe: &mut Frontend, e: BlkError| {
            let _ = fe.switch(xs, State::Closed);
            let _ = fe.unwatch_backend(xs);
            e
        };
        fe.switch(xs, State::Initialising).map_err(handshake)?;
        if let Err(e) = fe.wait_backend(xs, deadline, |s| s == State::InitWait) {
            return Err(give_up(xs, &mut fe, handshake(e)));
        }
        let ring_page = match pa.alloc_page() {
            Some(p) => p,
            None => return Err(give_up(xs, &mut fe, BlkError::Resources("out of pages"))),
        };
        ring_page.zero();
        let mut ring_map = match Map::create(Tag::pages(peer, Direction::FromDevice, 1), gt) {
            Ok(m) => m,
            Err(_) => {
                let e = BlkError::Resources("out of grant references");
                return Err(give_up(xs, &mut fe, e));
            }
        };
        let ring_ref = match ring_map.load(gt, &[ring_page.gfn()], 0, PAGE_SIZE) {
            Ok(segs) => segs[0].gref,
            Err(_) => {
                ring_map.retire(gt, ring_page);
                return Err(give_up(xs, &mut fe, BlkError::Resources("grant failed")));
            }
        };
        let port = match events.alloc_unbound(peer) {
            Ok(p) => p,
            Err(e) => {
                ring_map.retire(gt, ring_page);
                let e = BlkError::Backend(format!("evtchn: {}", e));
                return Err(give_up(xs, &mut fe, e));
            }
        };
        let mut bf = Blkfront {
            fe,
            backend_id: peer,
            port,
            handle,
            info: DiskInfo {
                sectors: 0,
                sector_size: b::BLKIF_SECTOR_SIZE as u32,
                info: 0,
                size_bytes: 0,
            },
            offered: Offered::default(),
            events,
            queue: Queue::new(ring_page),
            ring_map,
            slots: Vec::with_capacity(REQUESTS),
            down: None,
            idle_events: 0,
            stats: Stats::default(),
        };
        match bf.finish_connect(xs, gt, pa, ring_ref, deadline) {
            Ok(()) => Ok(bf),
            Err(e) => {
                // nothing may stay granted to a backend we gave up on:
                // close the handshake first so that it lets go of the ring
                bf.close_handshake(xs);
                bf.release(gt);
                Err(e)
            }
        }
    }

    fn finish_connect<G: GrantTable, P: PageAlloc<Page = M>, XM: SharedMem, W: Wait>(
        &mut self,
        xs: &mut Client<XM, W>,
        gt: &mut G,
        pa: &mut P,
        ring_ref: GrantRef,
        deadline: u64,
    ) -> Result<(), BlkError> {
        for _ in 0..REQUESTS {
            let (mem, map) = granted(gt, pa, self.backend_id, SEGMENTS)?;
            let mut grefs = [0; SEGMENTS];
            for (g, s) in grefs.iter_mut().zip(map.segments()) {
                *g = s.gref;
            }
            self.slots.push(Slot { mem, map, grefs });
        }
        let back = self.fe.dev.backend.clone();
        self.offered = Offered::parse(
            read_node(xs, &back, "feature-persistent")?.as_deref(),
            read_node(xs, &back, "max-ring-page-order")?.as_deref(),
            read_node(xs, &back, "feature-max-indirect-segments")?.as_deref(),
        );
        let (path, port) = (self.fe.dev.path.clone(), self.port);
        xs.transaction(|xs, t| {
            let w = |xs: &mut Client<XM, W>, k: &str, v: &str| {
                xs.write_tx(t, &format!("{}/{}", path, k), v.as_bytes())
            };
            w(xs, "ring-ref", &format!("{}", ring_ref))?;
            w(xs, "event-channel", &format!("{}", port))?;
            w(xs, "protocol", b::XEN_IO_PROTO_ABI_X86_64)
        })
        .map_err(store)?;
        self.fe.switch(xs, State::Initialised).map_err(handshake)?;
        let s = match self.fe.wait_backend(xs, deadline, |s| {
            s == State::Connected || s as u8 >= State::Closing as u8
        }) {
            Ok(s) | Err(FrontendError::Timeout(s)) => s,
            Err(e) => return Err(handshake(e)),
        };
        if s != State::Connected {
            return Err(BlkError::Backend(format!(
                "backend did not connect (state {:?})",
                s
            )));
        }
        self.info = DiskInfo::parse(
            read_node(xs, &back, "sectors")?.as_deref(),
            read_node(xs, &back, "info")?.as_deref(),
            read_node(xs, &back, "sector-size")?.as_deref(),
        )
        .map_err(|e| BlkError::Backend(format!("{}", e)))?;
        self.fe.switch(xs, State::Connected).map_err(handshake)?;
        self.events.unmask(self.port);
        Ok(())
    }

    /// The disk as the backend described it.
    pub fn info(&self) -> &DiskInfo {
        &self.info
    }

    /// What the backend offered (none of it is used).
    pub fn offered(&self) -> &Offered {
        &self.offered
    }

    /// Why the device is down, if it is.
    pub fn is_down(&self) -> Option<&str> {
        self.down.as_deref()
    }

    /// Our device's XenStore directory (`device/vbd/N`).
    pub fn path(&self) -> &str {
        &self.fe.dev.path
    }

    /// The backend's XenStore directory.
    pub fn backend(&self) -> &str {
        &self.fe.dev.backend
    }

    fn fail(&mut self, why: String) -> BlkError {
        if self.down.is_none() {
            self.down = Some(why.clone());
        }
        BlkError::Down(why)
    }

    /// Read `buf.len()` bytes at byte `offset` of the disk (any alignment:
    /// requests are widened to whole logical blocks and copied out of our
    /// pages). Returns by `deadline_ns`; a read that misses it takes the
    /// device down, since its requests stay with the backend.
    pub fn read<XM: SharedMem, W: Wait>(
        &mut self,
        xs: &mut Client<XM, W>,
        offset: u64,
        buf: &mut [u8],
        deadline_ns: u64,
    ) -> Result<(), BlkError> {
        if let Some(d) = &self.down {
            return Err(BlkError::Down(d.clone()));
        }
        let size = self.info.size_bytes;
        let len = buf.len() as u64;
        let end = match offset.checked_add(len) {
            Some(end) if end <= size => end,
            _ => return Err(BlkError::OutOfRange { offset, len, size }),
        };
        if len == 0 {
            return Ok(());
        }
        self.stats.reads += 1;
        let block = self.info.sector_size as u64;
        // whole blocks: `end` rounds up within the disk, which is whole blocks
        let (mut next, stop) = (offset - offset % block, end.div_ceil(block) * block);
        let mut error = None;
        loop {
            while error.is_none() && next < stop {
                let Some(id) = self.queue.free_slot() else {
                    break;
                };
                let n = (stop - next).min(CHUNK as u64) as usize;
                let extent = Extent {
                    offset: next,
                    len: n,
                };
                self.queue
                    .post(id, self.handle, extent, &self.slots[id].grefs);
                self.stats.requests += 1;
                next += n as u64;
            }
            if self.queue.push() {
                self.stats.notifies += 1;
                self.events.notify(self.port);
            }
            let taken = self.collect(offset, buf, &mut error)?;
            if self.queue.in_flight() == 0 && (error.is_some() || next >= stop) {
                return match error {
                    Some(e) => Err(e),
                    None => Ok(()),
                };
            }
            if taken == 0 {
                self.sleep(xs, deadline_ns)?;
            }
        }
    }

    /// Take what completed and copy each read's part of `buf` out of its
    /// pages; the first error status is kept in `error`. Returns how many
    /// responses came in.
    fn collect(
        &mut self,
        offset: u64,
        buf: &mut [u8],
        error: &mut Option<BlkError>,
    ) -> Result<usize, BlkError> {
        let taken = match self.queue.collect() {
            Ok(n) => n,
            Err(v) => return Err(self.fail(format!("{}", v))),
        };
        while let Some((id, extent, status)) = self.queue.take_done() {
            if status != b::BLKIF_RSP_OKAY {
                self.stats.io_errors += 1;
                error.get_or_insert(BlkError::Io {
                    offset: extent.offset,
                    status,
                });
                continue;
            }
            // the overlap of this extent with [offset, offset + buf.len())
            let from = extent.offset.max(offset);
            let to = (extent.offset + extent.len as u64).min(offset + buf.len() as u64);
            if from < to {
                let at = (from - offset) as usize;
                let n = (to - from) as usize;
                self.slots[id]
                    .mem
                    .read((from - extent.offset) as usize, &mut buf[at..at + n]);
                self.stats.bytes += n as u64;
            }
        }
        Ok(taken)
    }

    /// Nothing completed: make sure the backend is still there, then sleep
    /// until an event or the deadline, and count events that bring nothing.
    fn sleep<XM: SharedMem, W: Wait>(
        &mut self,
        xs: &mut Client<XM, W>,
        deadline_ns: u64,
    ) -> Result<(), BlkError> {
        match self.fe.poll_backend(xs) {
            Ok(None) | Ok(Some(Some(State::Connected))) => {}
            Ok(Some(s)) => {
                let s = s.map_or(String::from("gone"), |s| format!("{:?}", s));
                return Err(self.fail(format!("backend left Connected mid-read (state {})", s)));
            }
            Err(e) => return Err(self.fail(format!("xenstore: {}", e))),
        }
        if xs.waiter().now_ns() >= deadline_ns {
            let n = self.queue.in_flight();
            return Err(self.fail(format!("read timed out with {} requests in flight", n)));
        }
        xs.waiter().wait(deadline_ns);
        if self.events.take_pending(self.port) {
            self.stats.events += 1;
            if self.queue.has_responses() {
                self.idle_events = 0;
            } else {
                self.idle_events += 1;
                if self.idle_events > EVENT_STORM_LIMIT {
                    return Err(self.fail(format!(
                        "event storm: {} events in a row without a response",
                        self.idle_events
                    )));
                }
            }
        }
        Ok(())
    }

    /// Take the device down: Closing, Closed, wait for the backend to let go,
    /// then end every grant. Returns how many maps had to be quarantined
    /// (a grant the backend still uses: its pages are never reused).
    pub fn shutdown<G: GrantTable, XM: SharedMem, W: Wait>(
        mut self,
        xs: &mut Client<XM, W>,
        gt: &mut G,
    ) -> usize {
        self.close_handshake(xs);
        self.release(gt)
    }

    fn close_handshake<XM: SharedMem, W: Wait>(&mut self, xs: &mut Client<XM, W>) {
        let deadline = xs.waiter().now_ns().saturating_add(CLOSE_TIMEOUT_NS);
        let _ = self.fe.close(xs, deadline);
    }

    fn release<G: GrantTable>(mut self, gt: &mut G) -> usize {
        let mut quarantined = 0;
        for s in self.slots.drain(..) {
            quarantined += s.map.retire(gt, s.mem) as usize;
        }
        quarantined += self.ring_map.retire(gt, self.queue) as usize;
        self.events.close(self.port);
        quarantined
    }
}
