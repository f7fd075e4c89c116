//! The request ring as bookkeeping: read requests posted from fixed slots,
//! every response copied out once and checked against what is in flight.
//! No grants and no XenStore here, so it is tested and fuzzed on its own.

use core::fmt;

use xenabi::blkif as b;
use xenabi::hal::{GrantRef, SharedMem, PAGE_SIZE};
use xenabi::ring::FrontRing;

/// Requests in flight at once; each owns `SEGMENTS` granted pages.
pub const REQUESTS: usize = 4;
/// Pages per request: a direct request's maximum (no indirect segments).
pub const SEGMENTS: usize = b::BLKIF_MAX_SEGMENTS_PER_REQUEST;
/// Bytes one request reads.
pub const CHUNK: usize = SEGMENTS * PAGE_SIZE;
const SECTORS_PER_PAGE: usize = PAGE_SIZE / b::BLKIF_SECTOR_SIZE;

/// How the backend broke the ring protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Violation {
    /// More responses than requests outstanding.
    ProducerPastRequests { rsp_prod: u32, rsp_cons: u32 },
    /// A response for an id that is not in flight (unknown or already done).
    NotInFlight { id: u64 },
    /// A response whose operation is not the read we asked for.
    WrongOperation { id: u64, operation: u8 },
    /// A status io/blkif.h does not define.
    UnknownStatus { id: u64, status: i16 },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Violation::ProducerPastRequests { rsp_prod, rsp_cons } => write!(
                f,
                "ring rsp_prod {} cons {} runs past our requests",
                rsp_prod, rsp_cons
            ),
            Violation::NotInFlight { id } => write!(f, "response for id {} not in flight", id),
            Violation::WrongOperation { id, operation } => write!(
                f,
                "response for id {} has operation {} (we only read)",
                id, operation
            ),
            Violation::UnknownStatus { id, status } => {
                write!(f, "response for id {} has unknown status {}", id, status)
            }
        }
    }
}

/// A request's place on the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Extent {
    /// First byte (a multiple of 512).
    pub offset: u64,
    /// Bytes (a multiple of 512, at most `CHUNK`).
    pub len: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Free,
    InFlight(Extent),
    Done(Extent, i16),
}

/// The read request for `extent` into the pages granted as `grefs`, as the
/// bytes of one ring slot. `extent.len` must be a non-zero multiple of 512
/// within `grefs.len()` pages.
pub fn read_request(
    id: u64,
    handle: u16,
    extent: Extent,
    grefs: &[GrantRef],
) -> [u8; b::SLOT_SIZE] {
    let mut s = [0u8; b::SLOT_SIZE];
    let sectors = extent.len / b::BLKIF_SECTOR_SIZE;
    let pages = sectors
        .div_ceil(SECTORS_PER_PAGE)
        .min(grefs.len())
        .min(SEGMENTS);
    s[b::REQ_OPERATION_OFFSET] = b::BLKIF_OP_READ;
    s[b::REQ_NR_SEGMENTS_OFFSET] = pages as u8;
    s[b::REQ_HANDLE_OFFSET..b::REQ_HANDLE_OFFSET + 2].copy_from_slice(&handle.to_le_bytes());
    s[b::REQ_ID_OFFSET..b::REQ_ID_OFFSET + 8].copy_from_slice(&id.to_le_bytes());
    let sector = extent.offset / b::BLKIF_SECTOR_SIZE as u64;
    s[b::REQ_SECTOR_OFFSET..b::REQ_SECTOR_OFFSET + 8].copy_from_slice(&sector.to_le_bytes());
    for (i, gref) in grefs.iter().take(pages).enumerate() {
        let in_page = (sectors - i * SECTORS_PER_PAGE).min(SECTORS_PER_PAGE);
        let at = b::REQ_SEG_OFFSET + i * b::SEGMENT_SIZE;
        s[at..at + 4].copy_from_slice(&gref.to_le_bytes());
        s[at + 4] = 0; // first_sect: every segment starts its page
        s[at + 5] = (in_page - 1) as u8; // last_sect
    }
    s
}

/// A response slot's fields, from a local copy.
pub fn response(slot: &[u8; b::RESPONSE_SIZE]) -> b::BlkifResponse {
    let mut id = [0u8; 8];
    id.copy_from_slice(&slot[b::RSP_ID_OFFSET..b::RSP_ID_OFFSET + 8]);
    let st = b::RSP_STATUS_OFFSET;
    b::BlkifResponse {
        id: u64::from_le_bytes(id),
        operation: slot[b::RSP_OPERATION_OFFSET],
        status: i16::from_le_bytes([slot[st], slot[st + 1]]),
    }
}

pub struct Queue<M: SharedMem> {
    ring: FrontRing<M>,
    slots: [Slot; REQUESTS],
}

impl<M: SharedMem> Queue<M> {
    /// A fresh ring on `page` (zeroed here).
    pub fn new(page: M) -> Self {
        Queue {
            ring: FrontRing::init(page, b::SLOT_SIZE),
            slots: [Slot::Free; REQUESTS],
        }
    }

    pub fn ring_page(&self) -> &M {
        self.ring.page()
    }

    /// A slot with no request in flight and no completion waiting.
    pub fn free_slot(&self) -> Option<usize> {
        self.slots.iter().position(|s| *s == Slot::Free)
    }

    pub fn in_flight(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| matches!(s, Slot::InFlight(_)))
            .count()
    }

    /// Queue a read of `extent` into slot `id`'s pages (`grefs`). Not yet
    /// visible to the backend: see `push`.
    pub fn post(&mut self, id: usize, handle: u16, extent: Extent, grefs: &[GrantRef]) {
        debug_assert!(self.slots[id] == Slot::Free && extent.len > 0 && extent.len <= CHUNK);
        self.ring
            .put_request(&read_request(id as u64, handle, extent, grefs));
        self.slots[id] = Slot::InFlight(extent);
    }

    /// Publish posted requests; true if the backend asked to be notified.
    pub fn push(&mut self) -> bool {
        self.ring.push_requests()
    }

    /// Has the backend produced something (or broken the producer index)?
    pub fn has_responses(&self) -> bool {
        self.ring.pending_responses().map_or(true, |n| n > 0)
    }

    /// Take every response the backend produced (at most one per request in
    /// flight), each copied once and checked. Returns how many; then asks for
    /// an event at the next one. A violation leaves the queue unusable.
    pub fn collect(&mut self) -> Result<usize, Violation> {
        let corrupt = |c: xenabi::ring::Corrupt| Violation::ProducerPastRequests {
            rsp_prod: c.rsp_prod,
            rsp_cons: c.rsp_cons,
        };
        let mut taken = 0;
        loop {
            let n = self.ring.pending_responses().map_err(corrupt)?;
            for _ in 0..n {
                let mut slot = [0u8; b::RESPONSE_SIZE];
                self.ring.take_response(&mut slot);
                self.complete(response(&slot))?;
                taken += 1;
            }
            if !self.ring.final_check().map_err(corrupt)? {
                return Ok(taken);
            }
        }
    }

    fn complete(&mut self, r: b::BlkifResponse) -> Result<(), Violation> {
        let extent = match usize::try_from(r.id).ok().and_then(|i| self.slots.get(i)) {
            Some(Slot::InFlight(e)) => *e,
            _ => return Err(Violation::NotInFlight { id: r.id }),
        };
        if r.operation != b::BLKIF_OP_READ {
            return Err(Violation::WrongOperation {
                id: r.id,
                operation: r.operation,
            });
        }
        if !matches!(
            r.status,
            b::BLKIF_RSP_OKAY | b::BLKIF_RSP_ERROR | b::BLKIF_RSP_EOPNOTSUPP
        ) {
            return Err(Violation::UnknownStatus {
                id: r.id,
                status: r.status,
            });
        }
        self.slots[r.id as usize] = Slot::Done(extent, r.status);
        Ok(())
    }

    /// A completed request: its extent and status; the slot is free again.
    pub fn take_done(&mut self) -> Option<(usize, Extent, i16)> {
        let id = self
            .slots
            .iter()
            .position(|s| matches!(s, Slot::Done(..)))?;
        match core::mem::replace(&mut self.slots[id], Slot::Free) {
            Slot::Done(e, status) => Some((id, e, status)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_request_covers_whole_pages_then_the_tail() {
        let grefs: [GrantRef; SEGMENTS] = core::array::from_fn(|i| 100 + i as u32);
        let e = Extent {
            offset: 3 * 512,
            len: 4096 + 1024,
        };
        let s = read_request(2, 51712, e, &grefs);
        assert_eq!(&s[..4], &[b::BLKIF_OP_READ, 2, 0x00, 0xca]);
        assert_eq!(u64::from_le_bytes(s[8..16].try_into().unwrap()), 2);
        assert_eq!(u64::from_le_bytes(s[16..24].try_into().unwrap()), 3);
        assert_eq!(&s[24..30], &[100, 0, 0, 0, 0, 7]);
        assert_eq!(&s[32..38], &[101, 0, 0, 0, 0, 1]);
        assert!(s[40..].iter().all(|&x| x == 0));
        let full = read_request(
            0,
            0,
            Extent {
                offset: 0,
                len: CHUNK,
            },
            &grefs,
        );
        assert_eq!(full[1] as usize, SEGMENTS);
        assert_eq!(full[24 + 10 * 8 + 5], 7);
    }

    #[test]
    fn responses_decode_from_their_slot() {
        let mut s = [0u8; b::RESPONSE_SIZE];
        s[0] = 3;
        s[8] = 0;
        s[10..12].copy_from_slice(&(-2i16).to_le_bytes());
        assert_eq!(
            response(&s),
            b::BlkifResponse {
                id: 3,
                operation: 0,
                status: -2
            }
        );
    }
}
