//! A netback: the xenbus handshake, the TX and RX rings read and filled
//! through the simulated grant table (grant copy semantics, as Linux
//! netback does), and frames handed to and from a test's peer. It can break
//! the protocol on purpose (`NetMisbehave`).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use xenabi::hal::{Port, SharedMem};
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
    /// RX response flagged more_data (scatter-gather never negotiated).
    RxMoreData,
    /// Scribble over the shared request indexes and slots.
    ScribbleRing,
    /// Never leave InitWait.
    NeverConnect,
}

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
    /// Frames the peer sends to the guest.
    pub to_guest: VecDeque<Vec<u8>>,
    /// Frames the guest sent.
    pub from_guest: Vec<Vec<u8>>,
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

impl SimNetback {
    /// Create vif 0 for `front_domid` as the toolstack would: frontend and
    /// backend directories, backend in InitWait with feature-rx-copy.
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
            x.tool_write(&format!("{}/frontend", back), front.as_bytes());
            x.tool_write(&format!("{}/state", back), b"2");
            x.tool_set_perms(&front, &[(front_domid, 'n'), (0, 'r')]);
            x.tool_set_perms(&back, &[(0, 'n'), (front_domid, 'r')]);
            x.tool_set_perms(&format!("{}/state", back), &[(0, 'n'), (front_domid, 'r')]);
            x.tool_set_perms(
                &format!("{}/feature-rx-copy", back),
                &[(0, 'n'), (front_domid, 'r')],
            );
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
            to_guest: VecDeque::new(),
            from_guest: Vec::new(),
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
        let prod = page.read_u32(r::REQ_PROD_OFFSET);
        let mut rsp_prod = page.read_u32(r::RSP_PROD_OFFSET);
        let mut any = false;
        while self.tx_req_cons != prod && prod.wrapping_sub(self.tx_req_cons) <= TX_SIZE {
            let off = r::RING_OFFSET + (self.tx_req_cons % TX_SIZE) as usize * nif::TX_SLOT_SIZE;
            let mut b = [0u8; nif::TX_SLOT_SIZE];
            page.read(off, &mut b);
            self.tx_req_cons = self.tx_req_cons.wrapping_add(1);
            let gref = u32::from_le_bytes(b[0..4].try_into().unwrap());
            let (offset, id, size) = (
                read_u16(&page, off + 4),
                read_u16(&page, off + 8),
                read_u16(&page, off + 10),
            );
            let mut frame = vec![0u8; size as usize];
            let status = match self.gt.copy_from(0, gref, offset as usize, &mut frame) {
                Ok(()) => {
                    self.from_guest.push(frame);
                    nif::NETIF_RSP_OKAY
                }
                Err(_) => nif::NETIF_RSP_ERROR,
            };
            let (id, status) = match self.misbehave {
                Some(NetMisbehave::TxBadId) => (9999, status),
                Some(NetMisbehave::TxNullStatus) => (id, nif::NETIF_RSP_NULL),
                _ => (id, status),
            };
            let roff = r::RING_OFFSET + (rsp_prod % TX_SIZE) as usize * nif::TX_SLOT_SIZE;
            let mut rb = [0u8; nif::TX_SLOT_SIZE];
            rb[0..2].copy_from_slice(&id.to_le_bytes());
            rb[2..4].copy_from_slice(&status.to_le_bytes());
            page.write(roff, &rb);
            rsp_prod = rsp_prod.wrapping_add(1);
            if self.misbehave == Some(NetMisbehave::TxDuplicate) {
                let roff = r::RING_OFFSET + (rsp_prod % TX_SIZE) as usize * nif::TX_SLOT_SIZE;
                page.write(roff, &rb);
                rsp_prod = rsp_prod.wrapping_add(1);
            }
            any = true;
        }
        if any {
            if self.misbehave == Some(NetMisbehave::TxProdJump) {
                rsp_prod = rsp_prod.wrapping_add(1000);
            }
            self.push_responses(&page, rsp_prod);
        }
    }

    fn do_rx(&mut self) {
        let Some((page, _)) = self.rx.clone() else {
            return;
        };
        if self.misbehave == Some(NetMisbehave::ScribbleRing) {
            page.write_u32(r::REQ_PROD_OFFSET, 0xdead_beef);
            page.write_u32(r::REQ_EVENT_OFFSET, 0x1234_5678);
            page.write(r::RING_OFFSET, &[0xff; 64]);
        }
        let prod = page.read_u32(r::REQ_PROD_OFFSET);
        let mut rsp_prod = page.read_u32(r::RSP_PROD_OFFSET);
        let mut any = false;
        while !self.to_guest.is_empty()
            && self.rx_req_cons != prod
            && prod.wrapping_sub(self.rx_req_cons) <= RX_SIZE
        {
            let off = r::RING_OFFSET + (self.rx_req_cons % RX_SIZE) as usize * nif::RX_SLOT_SIZE;
            let id = read_u16(&page, off);
            let mut g = [0u8; 4];
            page.read(off + 4, &mut g);
            let gref = u32::from_le_bytes(g);
            self.rx_req_cons = self.rx_req_cons.wrapping_add(1);
            let frame = self.to_guest.pop_front().unwrap();
            let ok = self.gt.copy_to(0, gref, 0, &frame).is_ok();
            let (mut rid, mut offset, mut flags, mut status) = (
                id,
                0u16,
                0u16,
                if ok {
                    frame.len() as i16
                } else {
                    nif::NETIF_RSP_ERROR
                },
            );
            match self.misbehave {
                Some(NetMisbehave::RxOversize) => status = 5000,
                Some(NetMisbehave::RxOffsetPastPage) => offset = 4000,
                Some(NetMisbehave::RxErrorStatus) => status = nif::NETIF_RSP_ERROR,
                Some(NetMisbehave::RxUnknownId) => rid = id.wrapping_add(300),
                Some(NetMisbehave::RxMoreData) => flags = nif::NETRXF_MORE_DATA,
                _ => {}
            }
            let roff = r::RING_OFFSET + (rsp_prod % RX_SIZE) as usize * nif::RX_SLOT_SIZE;
            let mut rb = [0u8; nif::RX_SLOT_SIZE];
            rb[0..2].copy_from_slice(&rid.to_le_bytes());
            rb[2..4].copy_from_slice(&offset.to_le_bytes());
            rb[4..6].copy_from_slice(&flags.to_le_bytes());
            rb[6..8].copy_from_slice(&status.to_le_bytes());
            page.write(roff, &rb);
            rsp_prod = rsp_prod.wrapping_add(1);
            any = true;
        }
        if any {
            if self.misbehave == Some(NetMisbehave::RxProdJump) {
                rsp_prod = rsp_prod.wrapping_add(700);
            }
            self.push_responses(&page, rsp_prod);
        }
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
