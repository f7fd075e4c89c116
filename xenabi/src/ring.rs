//! io/ring.h: the shared-ring header every PV ring page starts with, and the
//! front end of such a ring over a `SharedMem` page (netfront, blkfront): we
//! produce requests and consume responses. Slots are copied in and out whole;
//! the backend's producer index is checked before any slot is read.

use crate::hal::SharedMem;

pub type RingIdx = u32;

pub const REQ_PROD_OFFSET: usize = 0;
pub const REQ_EVENT_OFFSET: usize = 4;
pub const RSP_PROD_OFFSET: usize = 8;
pub const RSP_EVENT_OFFSET: usize = 12;
/// `pvt` union (netif: smartpoll_active), 4 bytes after the indexes.
pub const PVT_OFFSET: usize = 16;
/// Slots start after the header (indexes, pvt[4], __pad[44]).
pub const RING_OFFSET: usize = 64;

/// `__CONST_RING_SIZE`: how many slots of `slot_size` fit in `page_size`,
/// rounded down to a power of two.
pub const fn ring_size(page_size: usize, slot_size: usize) -> usize {
    let n = (page_size - RING_OFFSET) / slot_size;
    if n == 0 {
        0
    } else {
        1 << (usize::BITS - 1 - n.leading_zeros())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Corrupt {
    pub rsp_prod: u32,
    pub rsp_cons: u32,
}

pub struct FrontRing<M: SharedMem> {
    page: M,
    size: u32,
    slot: usize,
    pub req_prod_pvt: u32,
    pub rsp_cons: u32,
}

impl<M: SharedMem> FrontRing<M> {
    /// SHARED_RING_INIT + FRONT_RING_INIT on a zeroed page.
    pub fn init(page: M, slot_size: usize) -> Self {
        let size = ring_size(page.len().min(4096), slot_size) as u32;
        page.zero();
        page.write_u32(REQ_EVENT_OFFSET, 1);
        page.write_u32(RSP_EVENT_OFFSET, 1);
        FrontRing {
            page,
            size,
            slot: slot_size,
            req_prod_pvt: 0,
            rsp_cons: 0,
        }
    }

    pub fn page(&self) -> &M {
        &self.page
    }

    pub fn size(&self) -> u32 {
        self.size
    }

    fn slot_offset(&self, idx: u32) -> usize {
        RING_OFFSET + (idx & (self.size - 1)) as usize * self.slot
    }

    /// Requests we may still queue without overrunning unconsumed responses.
    pub fn free_requests(&self) -> u32 {
        self.size - self.req_prod_pvt.wrapping_sub(self.rsp_cons)
    }

    /// Write the next request slot (not yet visible to the backend).
    pub fn put_request(&mut self, bytes: &[u8]) {
        debug_assert!(bytes.len() <= self.slot && self.free_requests() > 0);
        let off = self.slot_offset(self.req_prod_pvt);
        self.page.write(off, bytes);
        self.req_prod_pvt = self.req_prod_pvt.wrapping_add(1);
    }

    /// RING_PUSH_REQUESTS_AND_CHECK_NOTIFY: publish, and say whether the
    /// backend asked to be notified for requests in the range just pushed.
    pub fn push_requests(&mut self) -> bool {
        let old = self.page.read_u32(REQ_PROD_OFFSET);
        let new = self.req_prod_pvt;
        self.page.write_u32(REQ_PROD_OFFSET, new); // release: slots before index
        self.page.full_fence(); // index visible before we read req_event
        let event = self.page.read_u32(REQ_EVENT_OFFSET);
        new.wrapping_sub(event) < new.wrapping_sub(old)
    }

    /// Responses available now; an impossible producer is an error.
    pub fn pending_responses(&self) -> Result<u32, Corrupt> {
        let rsp_prod = self.page.read_u32(RSP_PROD_OFFSET); // acquire: slots after index
        let n = rsp_prod.wrapping_sub(self.rsp_cons);
        // never more responses than requests we made
        if n > self.size || n > self.req_prod_pvt.wrapping_sub(self.rsp_cons) {
            return Err(Corrupt {
                rsp_prod,
                rsp_cons: self.rsp_cons,
            });
        }
        Ok(n)
    }

    /// Copy out the response slot at rsp_cons and advance.
    pub fn take_response(&mut self, out: &mut [u8]) {
        self.peek_response(0, out);
        self.consume(1);
    }

    /// Copy out the response slot `ahead` places past rsp_cons without
    /// consuming it (a multi-slot packet is read whole before any of it is
    /// consumed). The caller keeps `ahead` below `pending_responses()`.
    pub fn peek_response(&self, ahead: u32, out: &mut [u8]) {
        let off = self.slot_offset(self.rsp_cons.wrapping_add(ahead));
        self.page.read(off, out);
    }

    /// Consume `n` responses already read with `peek_response`.
    pub fn consume(&mut self, n: u32) {
        self.rsp_cons = self.rsp_cons.wrapping_add(n);
    }

    /// Ask for an event at the first response past `seen` (a packet whose
    /// chain is cut by the producer index waits for its rest), then look
    /// again: true if one has already arrived.
    pub fn event_after(&mut self, seen: u32) -> Result<bool, Corrupt> {
        self.page.write_u32(RSP_EVENT_OFFSET, seen.wrapping_add(1));
        self.page.full_fence();
        Ok(self.pending_responses()? > seen.wrapping_sub(self.rsp_cons))
    }

    /// RING_FINAL_CHECK_FOR_RESPONSES: ask for an event at the next response,
    /// then look again so a response that raced in is not missed.
    pub fn final_check(&mut self) -> Result<bool, Corrupt> {
        if self.pending_responses()? > 0 {
            return Ok(true);
        }
        self.page
            .write_u32(RSP_EVENT_OFFSET, self.rsp_cons.wrapping_add(1));
        self.page.full_fence();
        Ok(self.pending_responses()? > 0)
    }
}
