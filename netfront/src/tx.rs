//! The transmit half: frames built in one staging buffer, copied into
//! granted pages one page per request. A frame larger than a page goes as a
//! chain (io/netif.h): the first request carries the total size and
//! `more_data`, a GSO extra (TSO) follows it, then one request per further
//! page, none crossing a page. The first slot holds the first 4096 bytes,
//! so the whole Ethernet, IP and TCP header (XSA-423).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use xenabi::hal::{EventChannel, Port, SharedMem, PAGE_SIZE};
use xenabi::netif as nif;

use crate::ring::FrontRing;
use crate::{csum, slots, Buffer, Stats};

/// TX buffers (pages): requests in flight at once.
pub const TX_BUFS: usize = 64;
/// Largest frame a request chain can describe.
pub const MAX_TX_FRAME: usize = nif::XEN_NETIF_MAX_TX_SIZE;
const ETH_HLEN: usize = 14;

/// The event channel to the backend, and the one place that notifies it.
pub struct Doorbell<E: EventChannel> {
    pub events: E,
    pub port: Port,
}

impl<E: EventChannel> Doorbell<E> {
    pub fn ring(&mut self, stats: &mut Stats) {
        stats.notifies += 1;
        self.events.notify(self.port);
    }
}

pub struct TxPath<M: SharedMem, E: EventChannel> {
    pub bell: Doorbell<E>,
    pub ring: FrontRing<M>,
    pub(crate) bufs: Vec<Buffer<M>>,
    free: Vec<u16>,
    inflight: [bool; TX_BUFS],
    /// GSO extra slots sent whose NULL response is still due.
    extras_due: u32,
    /// Where the stack builds each frame (one copy into the pages after).
    staging: Vec<u8>,
    /// Largest plain frame: the MTU plus the Ethernet header.
    pub max_frame: usize,
    /// Send TCP segments larger than the MTU for the backend to cut (TSO).
    pub tso: bool,
    /// Cleared when the device goes down: nothing more is sent.
    pub up: bool,
}

impl<M: SharedMem, E: EventChannel> TxPath<M, E> {
    pub fn new(ring: FrontRing<M>, bell: Doorbell<E>) -> Self {
        TxPath {
            bell,
            ring,
            bufs: Vec::with_capacity(TX_BUFS),
            free: Vec::with_capacity(TX_BUFS),
            inflight: [false; TX_BUFS],
            extras_due: 0,
            staging: alloc::vec![0u8; MAX_TX_FRAME],
            max_frame: 1500 + ETH_HLEN,
            tso: false,
            up: true,
        }
    }

    /// Add a buffer (at connect).
    pub fn add(&mut self, b: Buffer<M>) {
        self.free.push(self.bufs.len() as u16);
        self.bufs.push(b);
    }

    /// The largest frame the stack may hand us now.
    pub fn max_len(&self) -> usize {
        if self.tso {
            MAX_TX_FRAME
        } else {
            self.max_frame
        }
    }

    /// Is there room for a frame of `len` bytes (a GSO extra included)?
    pub fn room(&self, len: usize) -> bool {
        let pages = len.div_ceil(PAGE_SIZE).max(1);
        self.up && self.free.len() >= pages && self.ring.free_requests() as usize > pages
    }

    /// Build a frame with `fill` and send it; without room it is built and
    /// dropped (the stack hands frames over and cannot take them back).
    pub fn send<R>(
        &mut self,
        stats: &mut Stats,
        len: usize,
        gso_mss: Option<u16>,
        fill: impl FnOnce(&mut [u8]) -> R,
    ) -> R {
        let Some(frame) = self.staging.get_mut(..len) else {
            // the stack never asks for more than max_len(): not reachable
            // from outside, so a scratch allocation is acceptable here
            stats.tx_dropped += 1;
            return fill(&mut alloc::vec![0u8; len]);
        };
        let r = fill(frame);
        let room = self.room(len);
        if !room {
            stats.tx_busy += 1;
        } else if self.queue(len, gso_mss).is_err() {
            stats.tx_dropped += 1;
        } else {
            stats.tx_packets += 1;
            stats.tx_bytes += len as u64;
            if gso_mss.is_some() {
                stats.tx_gso_packets += 1;
            }
            if self.ring.push_requests() {
                self.bell.ring(stats);
            }
        }
        r
    }

    /// Put the staged frame on the ring (room already checked).
    fn queue(&mut self, len: usize, gso_mss: Option<u16>) -> Result<(), &'static str> {
        let frame = self.staging.get_mut(..len).ok_or("frame too long")?;
        let gso = gso_mss.filter(|_| self.tso);
        let limit = if gso.is_some() {
            MAX_TX_FRAME
        } else {
            self.max_frame
        };
        if len < ETH_HLEN || len > limit {
            return Err("frame length");
        }
        let mut flags = 0;
        if csum::tx(frame) {
            flags |= nif::NETTXF_CSUM_BLANK | nif::NETTXF_DATA_VALIDATED;
        } else if gso.is_some() {
            return Err("GSO for a frame that is not TCP/IPv4");
        }
        if let Some(mss) = gso {
            if mss == 0 {
                return Err("GSO size 0");
            }
            flags |= nif::NETTXF_EXTRA_INFO;
        }
        let pages = len.div_ceil(PAGE_SIZE);
        for (i, chunk) in self.staging[..len].chunks(PAGE_SIZE).enumerate() {
            let id = self.free.pop().ok_or("no free buffer")?;
            let b = &self.bufs[id as usize];
            b.page.write(0, chunk);
            let more = if i + 1 < pages {
                nif::NETTXF_MORE_DATA
            } else {
                0
            };
            // the first request carries the whole frame's size
            let (f, size) = if i == 0 {
                (flags | more, len as u16)
            } else {
                (more, chunk.len() as u16)
            };
            self.ring
                .put_request(&slots::tx_request(b.gref, 0, f, id, size));
            self.inflight[id as usize] = true;
            if i == 0 {
                if let Some(mss) = gso {
                    self.ring.put_request(&slots::tx_gso_extra(mss));
                    self.extras_due += 1;
                }
            }
        }
        Ok(())
    }

    /// Take completions, at most one ring's worth. Returns whether more are
    /// already waiting.
    pub fn poll(&mut self, stats: &mut Stats) -> Result<bool, String> {
        let n = self
            .ring
            .pending_responses()
            .map_err(|c| format!("tx ring rsp_prod {} cons {}", c.rsp_prod, c.rsp_cons))?;
        for _ in 0..n {
            let mut b = [0u8; nif::TX_SLOT_SIZE];
            self.ring.take_response(&mut b);
            let r = slots::tx_response(&b);
            if r.status == nif::NETIF_RSP_NULL {
                // the answer to a GSO extra slot: it carries no id
                if self.extras_due == 0 {
                    return Err(String::from("tx NULL response without extra slots"));
                }
                self.extras_due -= 1;
                continue;
            }
            let id = r.id as usize;
            if id >= TX_BUFS || !self.inflight[id] {
                return Err(format!("tx response for id {} not in flight", r.id));
            }
            if r.status < 0 {
                stats.tx_errors += 1;
            }
            self.inflight[id] = false;
            self.free.push(r.id);
        }
        self.ring
            .final_check()
            .map_err(|c| format!("tx ring rsp_prod {} cons {}", c.rsp_prod, c.rsp_cons))
    }
}
