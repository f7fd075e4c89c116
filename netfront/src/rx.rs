//! The receive half: whole pages posted to the backend, each packet read
//! from the ring in full (data slots chained by `more_data`, extra-info slots
//! after the first) and checked before any of it is consumed, then held,
//! pages and all, until the stack takes it: one copy, into the caller's
//! buffer, and the pages go back to the backend.
//!
//! Ring slot i always answers the request posted at slot i (io/netif.h: the
//! backend must keep it so, since extra-info slots carry no id), so we
//! remember which buffer each slot was given.

use alloc::collections::VecDeque;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use xenabi::hal::{SharedMem, PAGE_SIZE};
use xenabi::netif as nif;

use crate::ring::FrontRing;
use crate::{slots, Buffer, Stats};

/// RX buffers at most: one page per ring slot, so the ring is always full.
pub const RX_BUFS: usize = nif::RX_RING_SIZE;
/// RX buffers at least (`Netfront::connect_with`): room to hold the largest
/// packet for the stack (18 pages) while netback still finds two of them
/// posted (`KEEP_POSTED` each way).
pub const MIN_RX_BUFS: usize = 64;
/// Data slots one packet may use: the least io/netif.h makes a frontend accept.
pub const MAX_DATA_SLOTS: usize = nif::XEN_NETIF_NR_SLOTS_MIN;
/// Largest packet we take: a whole IPv4 datagram and its Ethernet header.
pub const MAX_PACKET: usize = 65535 + ETH_HLEN;
/// Packets held for the stack at most; more are dropped and counted.
pub const RX_QUEUE_MAX: usize = 128;
const ETH_HLEN: usize = 14;
/// Netback starts a packet only when it has a slot per page of it plus one
/// for the GSO extra: holding pages for the stack never leaves it fewer.
const KEEP_POSTED: usize = MAX_DATA_SLOTS + 1;

fn corrupt(c: crate::ring::Corrupt) -> String {
    format!("rx ring rsp_prod {} cons {}", c.rsp_prod, c.rsp_cons)
}

/// One data slot of a held packet.
#[derive(Clone, Copy, Debug, Default)]
struct Frag {
    buf: u16,
    off: u16,
    len: u16,
}

/// A received packet, checked and waiting for the stack.
#[derive(Clone, Copy, Debug)]
struct Held {
    frags: usize,
    len: usize,
    flags: u16,
}

/// What the stack is told about a packet it takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Taken {
    pub len: usize,
    /// Only the pseudo-header sum is in the L4 checksum field.
    pub csum_blank: bool,
    /// The backend checked the data.
    pub data_validated: bool,
}

/// Why a well-formed packet was dropped instead of held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Drop {
    /// A slot with an error status (netback: a failed grant copy).
    ErrorStatus,
    /// Shorter than an Ethernet header, or longer than MAX_PACKET.
    BadLength,
    /// A GSO extra with size 0 or a type other than TCPv4 (Linux drops these too).
    BadGso,
}

/// One packet read off the ring, not yet consumed.
struct Scanned {
    /// Ring slots it spans, data and extra.
    slots: u32,
    /// Extra-info slots, right after the first data slot.
    extras: u32,
    frags: [Frag; MAX_DATA_SLOTS],
    nfrags: usize,
    len: usize,
    flags: u16,
    gso: bool,
    drop: Option<Drop>,
}

enum Scan {
    /// The chain runs past the producer index: wait for the rest.
    Partial,
    Packet(Scanned),
}

pub struct RxPath<M: SharedMem> {
    pub ring: FrontRing<M>,
    pub(crate) bufs: Vec<Buffer<M>>,
    /// The buffer posted at each ring slot.
    at_slot: [u16; RX_BUFS],
    posted: [bool; RX_BUFS],
    /// Buffers ready to post.
    free: Vec<u16>,
    frags: VecDeque<Frag>,
    held: VecDeque<Held>,
    /// A packet's chain was cut by the producer index: what we had seen.
    waiting: Option<u32>,
}

impl<M: SharedMem> RxPath<M> {
    pub fn new(ring: FrontRing<M>) -> Self {
        RxPath {
            ring,
            bufs: Vec::with_capacity(RX_BUFS),
            at_slot: [0; RX_BUFS],
            posted: [false; RX_BUFS],
            free: Vec::with_capacity(RX_BUFS),
            frags: VecDeque::with_capacity(RX_BUFS),
            held: VecDeque::with_capacity(RX_QUEUE_MAX),
            waiting: None,
        }
    }

    /// Add a buffer (at connect); it is posted by the next `refill`.
    pub fn add(&mut self, b: Buffer<M>) {
        self.free.push(self.bufs.len() as u16);
        self.bufs.push(b);
    }

    fn slot(&self, ahead: u32) -> usize {
        (self.ring.rsp_cons.wrapping_add(ahead) as usize) % RX_BUFS
    }

    /// Post every free buffer; true if the backend must be notified.
    pub fn refill(&mut self) -> bool {
        let mut any = false;
        while self.ring.free_requests() > 0 {
            let Some(b) = self.free.pop() else { break };
            let s = (self.ring.req_prod_pvt as usize) % RX_BUFS;
            self.at_slot[s] = b;
            self.posted[b as usize] = true;
            let gref = self.bufs[b as usize].gref;
            self.ring.put_request(&slots::rx_request(b, gref));
            any = true;
        }
        any && self.ring.push_requests()
    }

    /// Read, check and hold (or drop) what the backend produced, at most one
    /// ring's worth (what was there when we looked).
    pub fn poll(&mut self, stats: &mut Stats) -> Result<(), String> {
        let avail = self.ring.pending_responses().map_err(corrupt)?;
        let mut left = avail;
        self.waiting = None;
        while left > 0 {
            match self.scan(left)? {
                Scan::Partial => {
                    stats.rx_partial_waits += 1;
                    self.waiting = Some(self.ring.rsp_cons.wrapping_add(left));
                    break;
                }
                Scan::Packet(p) => {
                    left -= p.slots;
                    self.commit(&p, stats);
                }
            }
        }
        Ok(())
    }

    /// Ask for an event at the next response we need, and say whether it is
    /// already there (call after `poll` and `refill`).
    pub fn more(&mut self) -> Result<bool, String> {
        match self.waiting {
            // the rest of a cut chain: an event when it comes
            Some(seen) => self.ring.event_after(seen),
            None => self.ring.final_check(),
        }
        .map_err(corrupt)
    }

    /// A data slot `ahead` places on: its response, checked against the
    /// buffer posted there.
    fn data_slot(&self, ahead: u32) -> Result<(nif::NetifRxResponse, u16), String> {
        let mut b = [0u8; nif::RX_SLOT_SIZE];
        self.ring.peek_response(ahead, &mut b);
        let r = slots::rx_response(&b);
        let buf = self.at_slot[self.slot(ahead)];
        if r.id != buf || !self.posted[buf as usize] {
            return Err(format!(
                "rx response id {} in the slot of buffer {}",
                r.id, buf
            ));
        }
        if r.flags & nif::NETRXF_GSO_PREFIX != 0 {
            return Err(format!(
                "rx flags {:#x} for features never negotiated",
                r.flags
            ));
        }
        if r.status >= 0 && r.offset as usize + r.status as usize > PAGE_SIZE {
            return Err(format!(
                "rx offset {} + length {} past the page",
                r.offset, r.status
            ));
        }
        Ok((r, buf))
    }

    /// Read one packet from rsp_cons on, consuming nothing. A protocol
    /// violation is an error (the device goes down); a packet Linux would
    /// drop is returned marked for dropping.
    fn scan(&self, avail: u32) -> Result<Scan, String> {
        let mut p = Scanned {
            slots: 0,
            extras: 0,
            frags: [Frag::default(); MAX_DATA_SLOTS],
            nfrags: 0,
            len: 0,
            flags: 0,
            gso: false,
            drop: None,
        };
        let (first, buf) = self.data_slot(0)?;
        p.flags = first.flags;
        p.slots = 1;
        if first.flags & nif::NETRXF_EXTRA_INFO != 0 {
            loop {
                if p.slots >= avail {
                    return Ok(Scan::Partial);
                }
                let mut b = [0u8; nif::RX_SLOT_SIZE];
                self.ring.peek_response(p.slots, &mut b);
                p.slots += 1;
                p.extras += 1;
                let e = slots::extra_info(&b);
                match e.kind {
                    nif::XEN_NETIF_EXTRA_TYPE_GSO if !p.gso => {
                        p.gso = true;
                        let g = slots::gso(&e);
                        if g.size == 0 || g.kind != nif::XEN_NETIF_GSO_TYPE_TCPV4 {
                            p.drop = Some(Drop::BadGso);
                        }
                    }
                    nif::XEN_NETIF_EXTRA_TYPE_GSO => {
                        return Err(String::from("rx packet with two GSO extra-info slots"))
                    }
                    k @ (nif::XEN_NETIF_EXTRA_TYPE_NONE | nif::XEN_NETIF_EXTRA_TYPE_MAX..) => {
                        return Err(format!("rx extra-info slot of invalid type {}", k))
                    }
                    k => return Err(format!("rx extra-info slot of type {} never negotiated", k)),
                }
                if e.flags & nif::XEN_NETIF_EXTRA_FLAG_MORE == 0 {
                    break;
                }
            }
        }
        let mut r = first;
        let mut buf = buf;
        loop {
            if r.status < 0 {
                p.drop = p.drop.or(Some(Drop::ErrorStatus));
            }
            let len = r.status.max(0) as u16;
            p.frags[p.nfrags] = Frag {
                buf,
                off: r.offset,
                len,
            };
            p.nfrags += 1;
            p.len += len as usize;
            if r.flags & nif::NETRXF_MORE_DATA == 0 {
                break;
            }
            if p.nfrags == 1 && r.status >= 0 && (len as usize) < ETH_HLEN {
                return Err(format!(
                    "rx first slot of {} bytes cannot hold the Ethernet header",
                    len
                ));
            }
            if p.nfrags >= MAX_DATA_SLOTS {
                return Err(format!("rx packet longer than {} slots", MAX_DATA_SLOTS));
            }
            if p.slots >= avail {
                return Ok(Scan::Partial);
            }
            (r, buf) = self.data_slot(p.slots)?;
            p.slots += 1;
            if r.flags & nif::NETRXF_EXTRA_INFO != 0 {
                return Err(String::from("rx extra_info flag past the first slot"));
            }
        }
        if p.drop.is_none() && (p.len < ETH_HLEN || p.len > MAX_PACKET) {
            p.drop = Some(Drop::BadLength);
        }
        Ok(Scan::Packet(p))
    }

    /// Consume a scanned packet: hold its pages for the stack, or give them
    /// straight back when it is dropped.
    fn commit(&mut self, p: &Scanned, stats: &mut Stats) {
        for k in 0..p.slots {
            let b = self.at_slot[self.slot(k)];
            self.posted[b as usize] = false;
        }
        // extra-info slots hold no data: their buffers go straight back
        for k in 1..=p.extras {
            self.free.push(self.at_slot[self.slot(k)]);
        }
        let full = self.held.len() >= RX_QUEUE_MAX
            || self.frags.len() + p.nfrags > self.bufs.len().saturating_sub(KEEP_POSTED);
        match p.drop {
            None if !full => {
                for f in &p.frags[..p.nfrags] {
                    self.frags.push_back(*f);
                }
                self.held.push_back(Held {
                    frags: p.nfrags,
                    len: p.len,
                    flags: p.flags,
                });
                if p.gso {
                    stats.rx_gso_packets += 1;
                }
            }
            why => {
                for f in &p.frags[..p.nfrags] {
                    self.free.push(f.buf);
                }
                stats.rx_dropped += 1;
                match why {
                    Some(Drop::ErrorStatus) => stats.rx_error_status += 1,
                    Some(Drop::BadLength) => stats.rx_bad_length += 1,
                    Some(Drop::BadGso) => stats.rx_bad_gso += 1,
                    None => stats.rx_queue_full += 1,
                }
            }
        }
        self.ring.consume(p.slots);
    }

    /// Packets held for the stack.
    pub fn queued(&self) -> usize {
        self.held.len()
    }

    /// Copy the oldest held packet into `out` (at least MAX_PACKET long) and
    /// free its pages for re-posting.
    pub fn take(&mut self, out: &mut [u8]) -> Option<Taken> {
        let h = self.held.pop_front()?;
        let mut at = 0;
        for _ in 0..h.frags {
            let f = self.frags.pop_front()?;
            let n = f.len as usize;
            if let (Some(dst), Some(b)) = (out.get_mut(at..at + n), self.bufs.get(f.buf as usize)) {
                b.page.read(f.off as usize, dst);
            }
            at += n;
            self.free.push(f.buf);
        }
        Some(Taken {
            len: h.len.min(out.len()),
            csum_blank: h.flags & nif::NETRXF_CSUM_BLANK != 0,
            data_validated: h.flags & nif::NETRXF_DATA_VALIDATED != 0,
        })
    }
}
