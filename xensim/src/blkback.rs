//! A blkback: the xenbus handshake (InitWait, the frontend's Initialised,
//! the disk described, Connected), the ring mapped through the simulated
//! grant table and reads served from a byte image by grant copies (as QEMU's
//! xen-block does). It checks requests the way Linux blkback does and can
//! break the protocol on purpose (`BlkMisbehave`).

use std::cell::RefCell;
use std::rc::Rc;

use xenabi::blkif as b;
use xenabi::hal::{Port, SharedMem};
use xenabi::ring as r;

use crate::evtchn::SimEvtchn;
use crate::grant::SimGrantTable;
use crate::mem::SimPage;
use crate::xenstored::Xenstored;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlkMisbehave {
    /// Responses carry an id we never used.
    WrongId,
    /// Responses say they were writes.
    WrongOperation,
    /// Reads fail with BLKIF_RSP_ERROR (legitimate: a bad sector).
    ErrorStatus,
    /// A status io/blkif.h does not define.
    UnknownStatus,
    /// Every response twice: the second answers a request no longer in flight.
    Duplicate,
    /// The last answer of a batch carries the first's id (an answer to a
    /// request already done, in place of one still in flight).
    Unsolicited,
    /// The response producer jumps far past the requests.
    ProdJump,
    /// No answers, only an event at every step.
    Storm,
    /// The backend goes to Closing instead of answering the first read.
    CloseMidRead,
    /// Never answers (the frontend's deadline must end the read).
    Silent,
    /// Answers each batch in reverse order (legitimate).
    Reorder,
    /// Never leaves InitWait.
    NeverConnect,
    /// Keeps the ring mapped after closing (the frontend must quarantine it).
    KeepRingMapped,
}

/// One request as the backend saw it, for assertions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeenRequest {
    pub operation: u8,
    pub sector: u64,
    pub segments: u8,
    pub bytes: usize,
}

pub struct SimBlkback {
    xsd: Rc<RefCell<Xenstored>>,
    gt: SimGrantTable,
    evt: SimEvtchn,
    front: String,
    back: String,
    ring: Option<(SimPage, u32)>,
    port: Port,
    req_cons: u32,
    /// What the disk holds.
    pub image: Vec<u8>,
    /// The nodes written at connect (`sectors`, `info`, `sector-size`):
    /// tests change or drop them to describe a hostile disk.
    pub disk_nodes: Vec<(&'static str, String)>,
    pub misbehave: Option<BlkMisbehave>,
    pub connected: bool,
    pub requests: Vec<SeenRequest>,
    /// Steps the backend takes to notice a closing frontend.
    pub close_lag: u32,
}

const RING: u32 = b::RING_SIZE as u32;

fn slot_offset(idx: u32) -> usize {
    r::RING_OFFSET + (idx % RING) as usize * b::SLOT_SIZE
}

impl SimBlkback {
    /// Create vbd `vdev` for `front_domid` as the toolstack would; the
    /// backend waits in InitWait offering persistent grants, a multi-page
    /// ring and indirect segments (a frontend may ignore all three).
    pub fn attach(
        xsd: Rc<RefCell<Xenstored>>,
        gt: SimGrantTable,
        evt: SimEvtchn,
        front_domid: u16,
        vdev: u32,
        image: Vec<u8>,
    ) -> Self {
        let front = format!("/local/domain/{}/device/vbd/{}", front_domid, vdev);
        let back = format!("/local/domain/0/backend/vbd/{}/{}", front_domid, vdev);
        {
            let mut x = xsd.borrow_mut();
            let rd = [(0, 'n'), (front_domid, 'r')];
            x.tool_write(&format!("{}/backend", front), back.as_bytes());
            x.tool_write(&format!("{}/backend-id", front), b"0");
            x.tool_write(
                &format!("{}/virtual-device", front),
                format!("{}", vdev).as_bytes(),
            );
            x.tool_write(&format!("{}/device-type", front), b"disk");
            x.tool_write(&format!("{}/state", front), b"1");
            x.tool_write(&format!("{}/frontend", back), front.as_bytes());
            x.tool_write(&format!("{}/mode", back), b"r");
            x.tool_write(&format!("{}/feature-persistent", back), b"1");
            x.tool_write(&format!("{}/max-ring-page-order", back), b"4");
            x.tool_write(&format!("{}/feature-max-indirect-segments", back), b"256");
            x.tool_write(&format!("{}/state", back), b"2");
            x.tool_set_perms(&front, &[(front_domid, 'n'), (0, 'r')]);
            x.tool_set_perms(&back, &rd);
            for k in [
                "state",
                "mode",
                "feature-persistent",
                "max-ring-page-order",
                "feature-max-indirect-segments",
            ] {
                x.tool_set_perms(&format!("{}/{}", back, k), &rd);
            }
        }
        let disk_nodes = vec![
            ("sectors", format!("{}", image.len() / b::BLKIF_SECTOR_SIZE)),
            ("info", format!("{}", b::VDISK_READONLY)),
            ("sector-size", String::from("512")),
        ];
        SimBlkback {
            xsd,
            gt,
            evt,
            front,
            back,
            ring: None,
            port: 0,
            req_cons: 0,
            image,
            disk_nodes,
            misbehave: None,
            connected: false,
            requests: Vec::new(),
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

    /// Do whatever is due: handshake, requests, close.
    pub fn step(&mut self) {
        let fstate = self
            .front_read("state")
            .and_then(|s| s.parse::<u8>().ok())
            .unwrap_or(0);
        if !self.connected {
            if fstate == 3
                && self.misbehave != Some(BlkMisbehave::NeverConnect)
                && self.ring.is_none()
            {
                self.connect();
            }
            return;
        }
        if fstate == 5 || fstate == 6 {
            if self.close_lag > 0 {
                self.close_lag -= 1;
                return;
            }
            self.disconnect();
            return;
        }
        self.evt.backend_take(self.port);
        self.serve();
    }

    fn connect(&mut self) {
        let get = |k: &str| self.front_read(k).and_then(|v| v.parse::<u32>().ok());
        let (Some(ring_ref), Some(port)) = (get("ring-ref"), get("event-channel")) else {
            return;
        };
        if self.evt.backend_bind(port, 0).is_err() {
            return;
        }
        let Ok(page) = self.gt.map(0, ring_ref, false) else {
            return;
        };
        self.ring = Some((page, ring_ref));
        self.port = port;
        self.connected = true;
        {
            let mut x = self.xsd.borrow_mut();
            for (k, v) in &self.disk_nodes {
                x.tool_write(&format!("{}/{}", self.back, k), v.as_bytes());
            }
        }
        self.set_state(4);
    }

    fn disconnect(&mut self) {
        if let Some((_, r)) = self.ring.take() {
            if self.misbehave != Some(BlkMisbehave::KeepRingMapped) {
                self.gt.unmap(r);
            }
        }
        self.connected = false;
        self.set_state(6);
    }

    /// Serve every request the frontend published (at most a ring's worth).
    fn serve(&mut self) {
        let Some((page, _)) = self.ring.clone() else {
            return;
        };
        if self.misbehave == Some(BlkMisbehave::Storm) {
            self.evt.notify_guest(self.port); // every step, answering nothing
        }
        let prod = page.read_u32(r::REQ_PROD_OFFSET);
        let mut answers = Vec::new();
        while self.req_cons != prod && prod.wrapping_sub(self.req_cons) <= RING {
            let mut s = [0u8; b::SLOT_SIZE];
            page.read(slot_offset(self.req_cons), &mut s);
            self.req_cons = self.req_cons.wrapping_add(1);
            match self.misbehave {
                Some(BlkMisbehave::Silent) => continue,
                Some(BlkMisbehave::Storm) => continue,
                Some(BlkMisbehave::CloseMidRead) => {
                    self.begin_close();
                    return;
                }
                _ => {}
            }
            answers.push(self.request(&s));
        }
        if answers.is_empty() {
            return;
        }
        if self.misbehave == Some(BlkMisbehave::Reorder) {
            answers.reverse();
        }
        if self.misbehave == Some(BlkMisbehave::Unsolicited) && answers.len() > 1 {
            let n = answers.len();
            answers[n - 1] = answers[0];
        }
        let mut rsp_prod = page.read_u32(r::RSP_PROD_OFFSET);
        for (id, op, status) in answers {
            let (id, op, status) = match self.misbehave {
                Some(BlkMisbehave::WrongId) => (id.wrapping_add(1000), op, status),
                Some(BlkMisbehave::WrongOperation) => (id, b::BLKIF_OP_WRITE, status),
                Some(BlkMisbehave::ErrorStatus) => (id, op, b::BLKIF_RSP_ERROR),
                Some(BlkMisbehave::UnknownStatus) => (id, op, 7),
                _ => (id, op, status),
            };
            let copies = if self.misbehave == Some(BlkMisbehave::Duplicate) {
                2
            } else {
                1
            };
            for _ in 0..copies {
                let mut rb = [0u8; b::RESPONSE_SIZE];
                rb[b::RSP_ID_OFFSET..b::RSP_ID_OFFSET + 8].copy_from_slice(&id.to_le_bytes());
                rb[b::RSP_OPERATION_OFFSET] = op;
                rb[b::RSP_STATUS_OFFSET..b::RSP_STATUS_OFFSET + 2]
                    .copy_from_slice(&status.to_le_bytes());
                page.write(slot_offset(rsp_prod), &rb);
                rsp_prod = rsp_prod.wrapping_add(1);
            }
        }
        if self.misbehave == Some(BlkMisbehave::ProdJump) {
            rsp_prod = rsp_prod.wrapping_add(1000);
        }
        let old = page.read_u32(r::RSP_PROD_OFFSET);
        page.write_u32(r::RSP_PROD_OFFSET, rsp_prod);
        let event = page.read_u32(r::RSP_EVENT_OFFSET);
        if rsp_prod.wrapping_sub(event) < rsp_prod.wrapping_sub(old) {
            self.evt.notify_guest(self.port);
        }
    }

    /// Check and serve one request slot: (id, operation, status).
    fn request(&mut self, s: &[u8; b::SLOT_SIZE]) -> (u64, u8, i16) {
        let u64_at = |at: usize| u64::from_le_bytes(s[at..at + 8].try_into().unwrap());
        let (op, nseg) = (s[b::REQ_OPERATION_OFFSET], s[b::REQ_NR_SEGMENTS_OFFSET]);
        let (id, sector) = (u64_at(b::REQ_ID_OFFSET), u64_at(b::REQ_SECTOR_OFFSET));
        let segs: Vec<(u32, u8, u8)> = (0..(nseg as usize).min(b::BLKIF_MAX_SEGMENTS_PER_REQUEST))
            .map(|i| {
                let at = b::REQ_SEG_OFFSET + i * b::SEGMENT_SIZE;
                let gref = u32::from_le_bytes(s[at..at + 4].try_into().unwrap());
                (gref, s[at + 4], s[at + 5])
            })
            .collect();
        let bytes: usize = segs
            .iter()
            .map(|&(_, f, l)| (l as usize + 1).saturating_sub(f as usize) * b::BLKIF_SECTOR_SIZE)
            .sum();
        self.requests.push(SeenRequest {
            operation: op,
            sector,
            segments: nseg,
            bytes,
        });
        if op != b::BLKIF_OP_READ {
            return (id, op, b::BLKIF_RSP_EOPNOTSUPP);
        }
        // Linux blkback's checks: segment count, sectors within the page,
        // alignment to the logical block, the range within the disk
        let per_block = self.sector_size() / b::BLKIF_SECTOR_SIZE as u64;
        let start = sector.checked_mul(b::BLKIF_SECTOR_SIZE as u64);
        let ok = nseg >= 1
            && nseg as usize <= b::BLKIF_MAX_SEGMENTS_PER_REQUEST
            && segs.iter().all(|&(_, f, l)| f <= l && l < 8)
            && (sector | (bytes as u64 / b::BLKIF_SECTOR_SIZE as u64)).is_multiple_of(per_block)
            && start.is_some_and(|st| st + bytes as u64 <= self.image.len() as u64);
        if !ok {
            return (id, op, b::BLKIF_RSP_ERROR);
        }
        let mut at = start.unwrap() as usize;
        for (gref, first, last) in segs {
            let n = (last - first + 1) as usize * b::BLKIF_SECTOR_SIZE;
            let data = &self.image[at..at + n];
            if self
                .gt
                .copy_to(0, gref, first as usize * b::BLKIF_SECTOR_SIZE, data)
                .is_err()
            {
                return (id, op, b::BLKIF_RSP_ERROR);
            }
            at += n;
        }
        (id, op, b::BLKIF_RSP_OKAY)
    }

    fn sector_size(&self) -> u64 {
        self.disk_nodes
            .iter()
            .find(|(k, _)| *k == "sector-size")
            .and_then(|(_, v)| v.parse::<u64>().ok())
            .filter(|n| n.is_power_of_two() && *n >= 512)
            .unwrap_or(512)
    }

    /// The ring's grant reference once connected.
    pub fn ring_ref(&self) -> Option<u32> {
        self.ring.as_ref().map(|(_, r)| *r)
    }

    /// Flood the guest with notifications.
    pub fn storm(&self, n: usize) {
        for _ in 0..n {
            self.evt.notify_guest(self.port);
        }
    }
}
