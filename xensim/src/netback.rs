//! A netback: the xenbus handshake, the TX and RX rings read and filled
//! through the simulated grant table (grant copy semantics, as Linux
//! netback does), and frames handed to and from a test's peer.
//!
//! It follows Linux netback's rules for scatter-gather and GSO:
//! - RX (to the guest): a packet goes out once ceil(len/4096) slots (+1 for
//!   a GSO extra) are posted; slot 0 holds the first 4096 bytes and the
//!   flags, the GSO extra comes right after it, then the other data slots,
//!   every slot's response in the ring slot of the request it used. With
//!   `offload` on it also does what a Linux dom0 does to traffic for a vif
//!   with offloads: TCP/UDP checksums left blank (`csum_blank`), and
//!   back-to-back TCP segments merged (GRO) into GSO packets up to 64 KiB
//!   when the guest asked for `feature-gso-tcpv4`.
//! - TX (from the guest): the first request holds the total size, a GSO
//!   extra may follow it, then one request per fragment; more than 18
//!   fragments drop the packet, more than 20 (or a chain cut by the
//!   producer, or a request crossing a page) disable the vif (`fatal`). A
//!   `csum_blank` packet's checksum is completed before the peer sees it.
//!
//! It can break the protocol on purpose (`NetMisbehave`).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use xenabi::hal::{Port, SharedMem, PAGE_SIZE};
use xenabi::netif as nif;
use xenabi::ring as r;

use crate::evtchn::SimEvtchn;
use crate::grant::SimGrantTable;
use crate::mem::SimPage;
use crate::xenstored::Xenstored;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetMisbehave {
    /// TX response with an id beyond the guest's buffers.
    TxBadId,
    /// The same TX response twice.
    TxDuplicate,
    /// TX response with NETIF_RSP_NULL (no extra slots were sent).
    TxNullStatus,
    /// TX response producer far past what was requested.
    TxProdJump,
    /// RX response longer than a page.
    RxOversize,
    /// RX response whose offset + length runs past the page.
    RxOffsetPastPage,
    /// RX response producer far past the ring.
    RxProdJump,
    /// RX response with an error status (legitimate: counted, not fatal).
    RxErrorStatus,
    /// RX response for a request id the guest never posted.
    RxUnknownId,
    /// Every RX data slot flagged more_data: the chain never ends.
    RxEndlessChain,
    /// A multi-slot packet whose first slot is 10 bytes long.
    RxShortFirstSlot,
    /// An extra-info slot of this type after every packet's first slot.
    RxExtraType(u8),
    /// A GSO extra of size 0 on every packet (Linux drops those).
    RxGsoZeroSize,
    /// A GSO extra of this GSO type on every packet.
    RxGsoType(u8),
    /// Two GSO extras on every packet.
    RxTwoGso,
    /// The never-negotiated gso_prefix flag.
    RxGsoPrefix,
    /// The second data slot of a multi-slot packet with an error status.
    RxErrorMidChain,
    /// The second data slot of a multi-slot packet with the wrong id.
    RxBadIdMidChain,
    /// Responses pushed up to the middle of each multi-slot packet, the
    /// rest on the next step (legitimate: the guest must wait for it).
    RxCutChain,
    /// Like RxCutChain, but the rest never comes.
    RxCutChainForever,
    /// Scribble over the shared request indexes and slots.
    ScribbleRing,
    /// Never leave InitWait.
    NeverConnect,
}

/// A packet for the guest, with the offload metadata netback sends along.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Delivery {
    pub frame: Vec<u8>,
    /// Send a GSO extra (TCPv4, segments of this size).
    pub gso_mss: Option<u16>,
    pub csum_blank: bool,
    pub data_validated: bool,
}

/// What netback made of a packet the guest sent (one per `from_guest`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sent {
    /// Data requests the packet used.
    pub slots: usize,
    pub gso_mss: Option<u16>,
    pub csum_blank: bool,
}

/// Linux netback: more fragments than this drop the packet...
const DROP_SLOTS: usize = nif::XEN_NETIF_NR_SLOTS_MIN;
/// ... and more than this disable the vif (`fatal_skb_slots`).
const FATAL_SLOTS: usize = 20;
const ETH_HLEN: usize = 14;

pub struct SimNetback {
    xsd: Rc<RefCell<Xenstored>>,
    gt: SimGrantTable,
    evt: SimEvtchn,
    front: String,
    back: String,
    front_domid: u16,
    tx: Option<(SimPage, u32)>,
    rx: Option<(SimPage, u32)>,
    port: Port,
    tx_req_cons: u32,
    rx_req_cons: u32,
    /// RX responses written but held back (RxCutChain).
    rx_deferred: Option<u32>,
    /// RX stopped mid-packet for good (RxCutChainForever).
    rx_frozen: bool,
    /// The guest asked for TCPv4 GSO (read at connect).
    guest_gso: bool,
    /// Frames the peer sends to the guest (plain, or offloaded: `offload`).
    pub to_guest: VecDeque<Vec<u8>>,
    /// Packets for the guest with explicit offload metadata (sent first).
    pub deliveries: VecDeque<Delivery>,
    /// Frames the guest sent.
    pub from_guest: Vec<Vec<u8>>,
    /// How each of them came (slots, GSO, checksum).
    pub sent: Vec<Sent>,
    /// Packets netback dropped (responded with an error).
    pub tx_dropped: u64,
    /// The vif was disabled for a malformed transmit, and why.
    pub fatal: Option<String>,
    /// Treat `to_guest` as a Linux dom0 treats traffic for an offloading vif.
    pub offload: bool,
    pub misbehave: Option<NetMisbehave>,
    pub connected: bool,
    /// Steps netback takes to notice a closing frontend (real netback runs
    /// asynchronously: the toolstack's Closing is not yet its disconnect).
    pub close_lag: u32,
}

const TX_SIZE: u32 = nif::TX_RING_SIZE as u32;
const RX_SIZE: u32 = nif::RX_RING_SIZE as u32;

fn read_u16(p: &SimPage, off: usize) -> u16 {
    let mut b = [0u8; 2];
    p.read(off, &mut b);
    u16::from_le_bytes(b)
}

fn tx_slot(idx: u32) -> usize {
    r::RING_OFFSET + (idx % TX_SIZE) as usize * nif::TX_SLOT_SIZE
}

fn rx_slot(idx: u32) -> usize {
    r::RING_OFFSET + (idx % RX_SIZE) as usize * nif::RX_SLOT_SIZE
}

/// A TX request as netback copies it out of the ring.
#[derive(Clone, Copy, Debug)]
struct TxReq {
    gref: u32,
    offset: u16,
    flags: u16,
    id: u16,
    size: u16,
}

fn tx_req(page: &SimPage, idx: u32) -> TxReq {
    let off = tx_slot(idx);
    let mut g = [0u8; 4];
    page.read(off, &mut g);
    TxReq {
        gref: u32::from_le_bytes(g),
        offset: read_u16(page, off + 4),
        flags: read_u16(page, off + 6),
        id: read_u16(page, off + 8),
        size: read_u16(page, off + 10),
    }
}

fn rx_response(id: u16, offset: u16, flags: u16, status: i16) -> [u8; nif::RX_SLOT_SIZE] {
    let mut rb = [0u8; nif::RX_SLOT_SIZE];
    rb[0..2].copy_from_slice(&id.to_le_bytes());
    rb[2..4].copy_from_slice(&offset.to_le_bytes());
    rb[4..6].copy_from_slice(&flags.to_le_bytes());
    rb[6..8].copy_from_slice(&status.to_le_bytes());
    rb
}

fn extra(kind: u8, more: bool, gso_size: u16, gso_type: u8) -> [u8; nif::RX_SLOT_SIZE] {
    let mut b = [0u8; nif::RX_SLOT_SIZE];
    b[0] = kind;
    b[1] = if more {
        nif::XEN_NETIF_EXTRA_FLAG_MORE
    } else {
        0
    };
    b[2..4].copy_from_slice(&gso_size.to_le_bytes());
    b[4] = gso_type;
    b
}

impl SimNetback {
    /// Create vif 0 for `front_domid` as the toolstack would: frontend and
    /// backend directories, backend in InitWait with feature-rx-copy,
    /// feature-sg and feature-gso-tcpv4 (what Linux netback advertises).
    pub fn attach(
        xsd: Rc<RefCell<Xenstored>>,
        gt: SimGrantTable,
        evt: SimEvtchn,
        front_domid: u16,
        mac: &str,
    ) -> Self {
        let front = format!("/local/domain/{}/device/vif/0", front_domid);
        let back = format!("/local/domain/0/backend/vif/{}/0", front_domid);
        {
            let mut x = xsd.borrow_mut();
            x.tool_write(&format!("{}/backend", front), back.as_bytes());
            x.tool_write(&format!("{}/backend-id", front), b"0");
            x.tool_write(&format!("{}/mac", front), mac.as_bytes());
            x.tool_write(&format!("{}/state", front), b"1");
            x.tool_write(&format!("{}/feature-rx-copy", back), b"1");
            x.tool_write(&format!("{}/feature-sg", back), b"1");
            x.tool_write(&format!("{}/feature-gso-tcpv4", back), b"1");
            x.tool_write(&format!("{}/frontend", back), front.as_bytes());
            x.tool_write(&format!("{}/state", back), b"2");
            x.tool_set_perms(&front, &[(front_domid, 'n'), (0, 'r')]);
            x.tool_set_perms(&back, &[(0, 'n'), (front_domid, 'r')]);
            for k in [
                "state",
                "feature-rx-copy",
                "feature-sg",
                "feature-gso-tcpv4",
            ] {
                x.tool_set_perms(&format!("{}/{}", back, k), &[(0, 'n'), (front_domid, 'r')]);
            }
        }
        SimNetback {
            xsd,
            gt,
            evt,
            front,
            back,
            front_domid,
            tx: None,
            rx: None,
            port: 0,
            tx_req_cons: 0,
            rx_req_cons: 0,
            rx_deferred: None,
            rx_frozen: false,
            guest_gso: false,
            to_guest: VecDeque::new(),
            deliveries: VecDeque::new(),
            from_guest: Vec::new(),
            sent: Vec::new(),
            tx_dropped: 0,
            fatal: None,
            offload: false,
            misbehave: None,
            connected: false,
            close_lag: 0,
        }
    }

    fn front_read(&self, key: &str) -> Option<String> {
        let v = self
            .xsd
            .borrow()
            .tool_read(&format!("{}/{}", self.front, key))?;
        String::from_utf8(v).ok()
    }

    fn set_state(&self, s: u8) {
        self.xsd
            .borrow_mut()
            .tool_write(&format!("{}/state", self.back), format!("{}", s).as_bytes());
    }

    /// The toolstack writing a backend key (e.g. removing a feature).
    pub fn set_backend_key(&self, key: &str, value: Option<&str>) {
        let path = format!("{}/{}", self.back, key);
        let mut x = self.xsd.borrow_mut();
        match value {
            Some(v) => x.tool_write(&path, v.as_bytes()),
            None => x.tool_rm(&path),
        }
    }

    /// The toolstack writing a key in the guest's device directory (`mtu`).
    pub fn set_frontend_key(&self, key: &str, value: &str) {
        self.xsd
            .borrow_mut()
            .tool_write(&format!("{}/{}", self.front, key), value.as_bytes());
    }

    /// The toolstack detaching the device: backend to Closing.
    pub fn begin_close(&mut self) {
        self.set_state(5);
    }

    /// Do whatever is due: handshake, rings, close.
    pub fn step(&mut self) {
        let fstate = self
            .front_read("state")
            .and_then(|s| s.parse::<u8>().ok())
            .unwrap_or(0);
        if !self.connected {
            if fstate == 4
                && self.misbehave != Some(NetMisbehave::NeverConnect)
                && self.tx.is_none()
            {
                self.connect();
            }
            return;
        }
        if fstate == 6 || fstate == 5 {
            if self.close_lag > 0 {
                self.close_lag -= 1;
                return;
            }
            // frontend closing: unmap the rings and report Closed
            self.disconnect();
            return;
        }
        self.evt.backend_take(self.port);
        self.do_tx();
        self.do_rx();
    }

    fn connect(&mut self) {
        let get = |k: &str| self.front_read(k).and_then(|v| v.parse::<u32>().ok());
        let (Some(txr), Some(rxr), Some(port)) =
            (get("tx-ring-ref"), get("rx-ring-ref"), get("event-channel"))
        else {
            return;
        };
        let (Ok(tx), Ok(rx)) = (self.gt.map(0, txr, false), self.gt.map(0, rxr, false)) else {
            return;
        };
        self.guest_gso = get("feature-sg") == Some(1) && get("feature-gso-tcpv4") == Some(1);
        self.tx = Some((tx, txr));
        self.rx = Some((rx, rxr));
        self.port = port;
        self.connected = true;
        self.set_state(4);
    }

    fn disconnect(&mut self) {
        if let Some((_, r)) = self.tx.take() {
            self.gt.unmap(r);
        }
        if let Some((_, r)) = self.rx.take() {
            self.gt.unmap(r);
        }
        self.connected = false;
        self.set_state(6);
    }

    fn push_responses(&mut self, page: &SimPage, new_prod: u32) {
        let old = page.read_u32(r::RSP_PROD_OFFSET);
        page.write_u32(r::RSP_PROD_OFFSET, new_prod);
        let event = page.read_u32(r::RSP_EVENT_OFFSET);
        if new_prod.wrapping_sub(event) < new_prod.wrapping_sub(old) {
            self.evt.notify_guest(self.port);
        }
    }

    fn do_tx(&mut self) {
        let Some((page, _)) = self.tx.clone() else {
            return;
        };
        if self.fatal.is_some() {
            return; // a disabled vif reads nothing more
        }
        let prod = page.read_u32(r::REQ_PROD_OFFSET);
        let mut rsp_prod = page.read_u32(r::RSP_PROD_OFFSET);
        let mut any = false;
        while self.tx_req_cons != prod && prod.wrapping_sub(self.tx_req_cons) <= TX_SIZE {
            let avail = prod.wrapping_sub(self.tx_req_cons) as usize;
            let Some((used, responses)) = self.tx_packet(&page, avail) else {
                return;
            };
            self.tx_req_cons = self.tx_req_cons.wrapping_add(used as u32);
            for (id, status) in responses {
                let (id, status) = match self.misbehave {
                    Some(NetMisbehave::TxBadId) if status != nif::NETIF_RSP_NULL => (9999, status),
                    Some(NetMisbehave::TxNullStatus) => (id, nif::NETIF_RSP_NULL),
                    _ => (id, status),
                };
                let mut rb = [0u8; nif::TX_SLOT_SIZE];
                rb[0..2].copy_from_slice(&id.to_le_bytes());
                rb[2..4].copy_from_slice(&status.to_le_bytes());
                page.write(tx_slot(rsp_prod), &rb);
                rsp_prod = rsp_prod.wrapping_add(1);
                if self.misbehave == Some(NetMisbehave::TxDuplicate) {
                    page.write(tx_slot(rsp_prod), &rb);
                    rsp_prod = rsp_prod.wrapping_add(1);
                }
            }
            any = true;
        }
        // RING_FINAL_CHECK_FOR_REQUESTS: an event for the next request
        page.write_u32(r::REQ_EVENT_OFFSET, self.tx_req_cons.wrapping_add(1));
        if any {
            if self.misbehave == Some(NetMisbehave::TxProdJump) {
                rsp_prod = rsp_prod.wrapping_add(1000);
            }
            self.push_responses(&page, rsp_prod);
        }
    }

    /// Read one packet's requests (`avail` are published); returns the
    /// slots used and the (id, status) responses to write, or None when
    /// the vif had to be disabled.
    fn tx_packet(&mut self, page: &SimPage, avail: usize) -> Option<(usize, Vec<(u16, i16)>)> {
        let cons = self.tx_req_cons;
        let first = tx_req(page, cons);
        let mut k = 1usize;
        let mut extras = 0;
        let mut gso_mss = None;
        if first.flags & nif::NETTXF_EXTRA_INFO != 0 {
            loop {
                if k >= avail {
                    return self.disable("missing extra info");
                }
                let mut b = [0u8; nif::TX_SLOT_SIZE];
                page.read(tx_slot(cons.wrapping_add(k as u32)), &mut b);
                k += 1;
                extras += 1;
                if b[0] == nif::XEN_NETIF_EXTRA_TYPE_GSO {
                    gso_mss = Some(u16::from_le_bytes([b[2], b[3]]));
                }
                if b[1] & nif::XEN_NETIF_EXTRA_FLAG_MORE == 0 {
                    break;
                }
            }
        }
        let mut frags: Vec<TxReq> = Vec::new();
        let mut remaining = first.size as i64;
        let mut drop = false;
        let mut more = first.flags & nif::NETTXF_MORE_DATA != 0;
        while more {
            if k >= avail {
                return self.disable(&format!("asked for {} slots", k + 1));
            }
            if frags.len() >= FATAL_SLOTS {
                return self.disable(&format!("malicious frontend using {} slots", frags.len()));
            }
            drop |= frags.len() >= DROP_SLOTS;
            let t = tx_req(page, cons.wrapping_add(k as u32));
            k += 1;
            drop |= t.size as i64 > remaining;
            remaining -= t.size as i64;
            if t.offset as usize + t.size as usize > PAGE_SIZE {
                return self.disable("fragment crosses a page");
            }
            more = t.flags & nif::NETTXF_MORE_DATA != 0;
            frags.push(t);
        }
        drop |= (first.size as usize) < ETH_HLEN || remaining < 0;
        let first_len = remaining.max(0) as usize;
        if first.offset as usize + first_len > PAGE_SIZE {
            return self.disable("first request crosses a page");
        }
        let mut frame = vec![0u8; first.size as usize];
        let mut ok = !drop;
        if ok {
            ok &= self
                .gt
                .copy_from(
                    0,
                    first.gref,
                    first.offset as usize,
                    &mut frame[..first_len],
                )
                .is_ok();
            let mut at = first_len;
            for t in &frags {
                let n = t.size as usize;
                ok &= self
                    .gt
                    .copy_from(0, t.gref, t.offset as usize, &mut frame[at..at + n])
                    .is_ok();
                at += n;
            }
        }
        let status = if ok {
            nif::NETIF_RSP_OKAY
        } else {
            nif::NETIF_RSP_ERROR
        };
        if ok {
            let csum_blank = first.flags & nif::NETTXF_CSUM_BLANK != 0;
            if csum_blank {
                offload::complete_checksum(&mut frame);
            }
            self.from_guest.push(frame);
            self.sent.push(Sent {
                slots: 1 + frags.len(),
                gso_mss,
                csum_blank,
            });
        } else {
            self.tx_dropped += 1;
        }
        let mut responses = vec![(first.id, status)];
        responses.extend((0..extras).map(|_| (0, nif::NETIF_RSP_NULL)));
        responses.extend(frags.iter().map(|t| (t.id, status)));
        Some((k, responses))
    }

    fn disable<T>(&mut self, why: &str) -> Option<T> {
        self.fatal = Some(why.to_string());
        None
    }

    /// Move `to_guest` into the delivery queue, offloaded if asked.
    fn collect(&mut self) {
        if !self.offload {
            let plain = self.to_guest.drain(..).map(|frame| Delivery {
                frame,
                ..Delivery::default()
            });
            self.deliveries.extend(plain);
            return;
        }
        let frames: Vec<Vec<u8>> = self.to_guest.drain(..).collect();
        let merged = offload::gro(frames, self.guest_gso);
        self.deliveries.extend(merged);
    }

    fn do_rx(&mut self) {
        let Some((page, _)) = self.rx.clone() else {
            return;
        };
        if self.rx_frozen {
            return;
        }
        if self.misbehave == Some(NetMisbehave::ScribbleRing) {
            page.write_u32(r::REQ_PROD_OFFSET, 0xdead_beef);
            page.write_u32(r::REQ_EVENT_OFFSET, 0x1234_5678);
            page.write(r::RING_OFFSET, &[0xff; 64]);
        }
        if let Some(p) = self.rx_deferred.take() {
            self.push_responses(&page, p);
        }
        self.collect();
        let prod = page.read_u32(r::REQ_PROD_OFFSET);
        let mut rsp_prod = self.rx_req_cons;
        let mut cut = None;
        while let Some(d) = self.deliveries.front() {
            let posted = prod.wrapping_sub(self.rx_req_cons);
            if posted > RX_SIZE {
                break; // a scribbled producer: nothing sane to read
            }
            let need = d.frame.len().div_ceil(PAGE_SIZE).max(1) + self.extras_for(d).len();
            if (posted as usize) < need {
                // wait for the guest to post more: ask for an event when it does
                page.write_u32(r::REQ_EVENT_OFFSET, prod.wrapping_add(1));
                break;
            }
            let Some(d) = self.deliveries.pop_front() else {
                break;
            };
            let start = self.rx_req_cons;
            let slots = self.rx_packet(&page, &d);
            rsp_prod = self.rx_req_cons;
            if slots > 1 && cut.is_none() {
                match self.misbehave {
                    Some(NetMisbehave::RxCutChain) => cut = Some((start + 1, true)),
                    Some(NetMisbehave::RxCutChainForever) => cut = Some((start + 1, false)),
                    _ => {}
                }
            }
            if cut.is_some() {
                break;
            }
        }
        let mut push = rsp_prod;
        if let Some((at, later)) = cut {
            push = at;
            if later {
                self.rx_deferred = Some(rsp_prod);
            } else {
                self.rx_frozen = true;
            }
        }
        if push != page.read_u32(r::RSP_PROD_OFFSET) {
            if self.misbehave == Some(NetMisbehave::RxProdJump) {
                push = push.wrapping_add(700);
            }
            self.push_responses(&page, push);
        }
    }

    /// The extra-info slots a delivery gets: (type, gso size, gso type).
    fn extras_for(&self, d: &Delivery) -> Vec<(u8, u16, u8)> {
        let gso = |size, kind| (nif::XEN_NETIF_EXTRA_TYPE_GSO, size, kind);
        let v4 = nif::XEN_NETIF_GSO_TYPE_TCPV4;
        match self.misbehave {
            Some(NetMisbehave::RxExtraType(t)) => vec![(t, 1448, v4)],
            Some(NetMisbehave::RxGsoZeroSize) => vec![gso(0, v4)],
            Some(NetMisbehave::RxGsoType(t)) => vec![gso(1448, t)],
            Some(NetMisbehave::RxTwoGso) => vec![gso(1448, v4), gso(1448, v4)],
            _ => d.gso_mss.map(|m| gso(m, v4)).into_iter().collect(),
        }
    }

    /// Fill slots for one packet from rx_req_cons on; returns the slots used.
    fn rx_packet(&mut self, page: &SimPage, d: &Delivery) -> usize {
        let extras = self.extras_for(d);
        let mut chunks: Vec<&[u8]> = Vec::new();
        let mut rest = &d.frame[..];
        if self.misbehave == Some(NetMisbehave::RxShortFirstSlot) && rest.len() > 10 {
            chunks.push(&rest[..10]);
            rest = &rest[10..];
        }
        chunks.extend(rest.chunks(PAGE_SIZE));
        if chunks.is_empty() {
            chunks.push(&[]);
        }
        let n = chunks.len();
        let mut slot = 0;
        let write_data = |nb: &mut SimNetback, j: usize, chunk: &[u8]| {
            let idx = nb.rx_req_cons;
            let off = rx_slot(idx);
            let id = read_u16(page, off);
            let mut g = [0u8; 4];
            page.read(off + 4, &mut g);
            let ok = nb.gt.copy_to(0, u32::from_le_bytes(g), 0, chunk).is_ok();
            let mut flags = 0u16;
            if j + 1 < n {
                flags |= nif::NETRXF_MORE_DATA;
            }
            if j == 0 {
                if d.csum_blank {
                    flags |= nif::NETRXF_CSUM_BLANK;
                }
                if d.data_validated {
                    flags |= nif::NETRXF_DATA_VALIDATED;
                }
                if !extras.is_empty() {
                    flags |= nif::NETRXF_EXTRA_INFO;
                }
            }
            let (mut rid, mut offset, mut status) = (
                id,
                0u16,
                if ok {
                    chunk.len() as i16
                } else {
                    nif::NETIF_RSP_ERROR
                },
            );
            match nb.misbehave {
                Some(NetMisbehave::RxOversize) => status = 5000,
                Some(NetMisbehave::RxOffsetPastPage) => offset = 4000,
                Some(NetMisbehave::RxErrorStatus) => status = nif::NETIF_RSP_ERROR,
                Some(NetMisbehave::RxUnknownId) => rid = id.wrapping_add(300),
                Some(NetMisbehave::RxEndlessChain) => flags |= nif::NETRXF_MORE_DATA,
                Some(NetMisbehave::RxGsoPrefix) => flags |= nif::NETRXF_GSO_PREFIX,
                Some(NetMisbehave::RxErrorMidChain) if j > 0 => status = nif::NETIF_RSP_ERROR,
                Some(NetMisbehave::RxBadIdMidChain) if j > 0 => rid = id ^ 1,
                _ => {}
            }
            page.write(off, &rx_response(rid, offset, flags, status));
            nb.rx_req_cons = nb.rx_req_cons.wrapping_add(1);
        };
        write_data(self, 0, chunks[0]);
        slot += 1;
        for (i, &(kind, size, gso_type)) in extras.iter().enumerate() {
            // an extra-info slot overlays the response of the request there
            let more = i + 1 < extras.len();
            page.write(
                rx_slot(self.rx_req_cons),
                &extra(kind, more, size, gso_type),
            );
            self.rx_req_cons = self.rx_req_cons.wrapping_add(1);
            slot += 1;
        }
        for (j, chunk) in chunks.iter().enumerate().skip(1) {
            write_data(self, j, chunk);
            slot += 1;
        }
        slot
    }

    /// Flood the guest with notifications.
    pub fn storm(&self, n: usize) {
        for _ in 0..n {
            self.evt.notify_guest(self.port);
        }
    }

    pub fn front_domid(&self) -> u16 {
        self.front_domid
    }
}

/// What a Linux dom0 does to traffic for a vif with offloads, written with
/// smoltcp's wire views: checksums left blank, TCP segments merged.
pub mod offload {
    use smoltcp::wire::{
        checksum, EthernetFrame, EthernetProtocol, IpAddress, IpProtocol, Ipv4Packet, TcpPacket,
        UdpPacket,
    };

    use super::Delivery;

    const ETH_HLEN: usize = 14;
    /// GSO packets are at most this long (IPv4 total length).
    const GSO_MAX: usize = 65535;

    /// The TCP/UDP header of an unfragmented IPv4 frame: (protocol, offset
    /// of the L4 header, source, destination, L4 length).
    fn l4(frame: &[u8]) -> Option<(IpProtocol, usize, IpAddress, IpAddress, usize)> {
        let eth = EthernetFrame::new_checked(frame).ok()?;
        if eth.ethertype() != EthernetProtocol::Ipv4 {
            return None;
        }
        let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
        if ip.more_frags() || ip.frag_offset() != 0 {
            return None;
        }
        let proto = ip.next_header();
        if proto != IpProtocol::Tcp && proto != IpProtocol::Udp {
            return None;
        }
        let at = ETH_HLEN + ip.header_len() as usize;
        Some((
            proto,
            at,
            IpAddress::Ipv4(ip.src_addr()),
            IpAddress::Ipv4(ip.dst_addr()),
            ip.payload().len(),
        ))
    }

    /// Fill in the TCP/UDP checksum of a frame sent `csum_blank`.
    pub fn complete_checksum(frame: &mut [u8]) {
        let Some((proto, at, src, dst, len)) = l4(frame) else {
            return;
        };
        let seg = &mut frame[at..at + len];
        match proto {
            IpProtocol::Tcp => {
                if let Ok(mut t) = TcpPacket::new_checked(seg) {
                    t.fill_checksum(&src, &dst);
                }
            }
            _ => {
                if let Ok(mut u) = UdpPacket::new_checked(seg) {
                    u.fill_checksum(&src, &dst);
                }
            }
        }
    }

    /// Replace a TCP/UDP checksum by the pseudo-header sum, as a sender
    /// with checksum offload leaves it; true if the frame is TCP or UDP.
    fn blank_checksum(frame: &mut [u8]) -> bool {
        let Some((proto, at, src, dst, len)) = l4(frame) else {
            return false;
        };
        let sum = checksum::pseudo_header(&src, &dst, proto, len as u32);
        let field = at + if proto == IpProtocol::Tcp { 16 } else { 6 };
        frame[field..field + 2].copy_from_slice(&sum.to_be_bytes());
        true
    }

    /// A data segment that may be merged: (flow key, header length,
    /// sequence number, payload length).
    fn segment(frame: &[u8]) -> Option<([u8; 12], usize, u32, usize)> {
        let (proto, at, _, _, len) = l4(frame)?;
        if proto != IpProtocol::Tcp {
            return None;
        }
        let t = TcpPacket::new_checked(&frame[at..at + len]).ok()?;
        if t.syn() || t.fin() || t.rst() || t.urg() || t.payload().is_empty() {
            return None;
        }
        let mut key = [0u8; 12];
        key[..8].copy_from_slice(&frame[ETH_HLEN + 12..ETH_HLEN + 20]);
        key[8..12].copy_from_slice(&frame[at..at + 4]);
        let hlen = at + t.header_len() as usize;
        Some((key, hlen, t.seq_number().0 as u32, t.payload().len()))
    }

    /// Merge back-to-back segments of a flow (when the guest takes GSO) and
    /// leave every TCP/UDP checksum blank.
    pub fn gro(frames: Vec<Vec<u8>>, gso: bool) -> Vec<Delivery> {
        let mut out: Vec<Delivery> = Vec::new();
        let mut open: Option<([u8; 12], usize, u32, usize)> = None; // key, hlen, next seq, mss
        for mut f in frames {
            let seg = if gso { segment(&f) } else { None };
            if let (Some((key, hlen, seq, plen)), Some((okey, ohlen, next, mss)), Some(last)) =
                (seg, open, out.last_mut())
            {
                if key == okey
                    && hlen == ohlen
                    && seq == next
                    && plen <= mss
                    && last.frame.len() + plen <= GSO_MAX + ETH_HLEN
                {
                    last.frame.extend_from_slice(&f[hlen..]);
                    let total = (last.frame.len() - ETH_HLEN) as u16;
                    last.frame[ETH_HLEN + 2..ETH_HLEN + 4].copy_from_slice(&total.to_be_bytes());
                    let mut ip = Ipv4Packet::new_unchecked(&mut last.frame[ETH_HLEN..]);
                    ip.fill_checksum();
                    blank_checksum(&mut last.frame);
                    last.gso_mss = Some(mss as u16);
                    // a short segment ends the train, as in Linux GRO
                    open = (plen == mss).then_some((key, hlen, seq.wrapping_add(plen as u32), mss));
                    continue;
                }
            }
            open = seg.map(|(k, h, s, p)| (k, h, s.wrapping_add(p as u32), p));
            let blank = blank_checksum(&mut f);
            out.push(Delivery {
                frame: f,
                gso_mss: None,
                csum_blank: blank,
                data_validated: blank,
            });
        }
        out
    }
}
