//! io/ring.h: the shared-ring header every PV ring page starts with.

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
