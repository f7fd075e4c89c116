//! io/blkif.h: the block front-end/back-end ring (x86-64 layouts).
//!
//! Sector quantities on the ring (`sector_number`, `first_sect`, `last_sect`)
//! are in 512-byte units unless the frontend writes
//! `feature-large-sector-size` (we never do); Linux blkback and QEMU's
//! xen-block also give `sectors` in 512-byte units.

use crate::grant_table::GrantRef;

pub type BlkifVdev = u16;
pub type BlkifSector = u64;

/// The unit of every sector number on the ring.
pub const BLKIF_SECTOR_SIZE: usize = 512;

pub const BLKIF_OP_READ: u8 = 0;
pub const BLKIF_OP_WRITE: u8 = 1;
pub const BLKIF_OP_WRITE_BARRIER: u8 = 2;
pub const BLKIF_OP_FLUSH_DISKCACHE: u8 = 3;
pub const BLKIF_OP_RESERVED_1: u8 = 4;
pub const BLKIF_OP_DISCARD: u8 = 5;
pub const BLKIF_OP_INDIRECT: u8 = 6;

/// Segments a direct request carries.
pub const BLKIF_MAX_SEGMENTS_PER_REQUEST: usize = 11;
/// Indirect pages (of segment descriptors) one indirect request may name.
pub const BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST: usize = 8;

pub const BLKIF_RSP_EOPNOTSUPP: i16 = -2;
pub const BLKIF_RSP_ERROR: i16 = -1;
pub const BLKIF_RSP_OKAY: i16 = 0;

/// `info` bits the backend publishes.
pub const VDISK_CDROM: u32 = 0x1;
pub const VDISK_REMOVABLE: u32 = 0x2;
pub const VDISK_READONLY: u32 = 0x4;

pub const BLKIF_DISCARD_SECURE: u8 = 1 << 0;

/// XEN_IO_PROTO_ABI_NATIVE on x86-64, for the frontend's `protocol` node.
pub const XEN_IO_PROTO_ABI_X86_64: &str = "x86_64-abi";

/// struct blkif_request_segment: 512-byte sectors `first_sect..=last_sect`
/// of the granted page.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlkifRequestSegment {
    pub gref: GrantRef,
    pub first_sect: u8,
    pub last_sect: u8,
}

/// struct blkif_request
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlkifRequest {
    pub operation: u8,
    pub nr_segments: u8,
    pub handle: BlkifVdev,
    pub id: u64,
    pub sector_number: BlkifSector,
    pub seg: [BlkifRequestSegment; BLKIF_MAX_SEGMENTS_PER_REQUEST],
}

/// struct blkif_request_discard
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlkifRequestDiscard {
    pub operation: u8,
    pub flag: u8,
    pub handle: BlkifVdev,
    pub id: u64,
    pub sector_number: BlkifSector,
    pub nr_sectors: u64,
}

/// struct blkif_request_indirect (x86-64: no trailing pad field)
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlkifRequestIndirect {
    pub operation: u8,
    pub indirect_op: u8,
    pub nr_segments: u16,
    pub id: u64,
    pub sector_number: BlkifSector,
    pub handle: BlkifVdev,
    pub indirect_grefs: [GrantRef; BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST],
}

/// struct blkif_response
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlkifResponse {
    pub id: u64,
    pub operation: u8,
    pub status: i16,
}

/// Byte offsets in a request slot, as `BlkifRequest` lays them out.
pub const REQ_OPERATION_OFFSET: usize = 0;
pub const REQ_NR_SEGMENTS_OFFSET: usize = 1;
pub const REQ_HANDLE_OFFSET: usize = 2;
pub const REQ_ID_OFFSET: usize = 8;
pub const REQ_SECTOR_OFFSET: usize = 16;
pub const REQ_SEG_OFFSET: usize = 24;
pub const SEGMENT_SIZE: usize = 8;
/// Byte offsets in a response slot.
pub const RSP_ID_OFFSET: usize = 0;
pub const RSP_OPERATION_OFFSET: usize = 8;
pub const RSP_STATUS_OFFSET: usize = 10;
pub const RESPONSE_SIZE: usize = 16;

/// A ring slot is the union of request and response: the request is larger.
pub const SLOT_SIZE: usize = 112;
/// Requests in a one-page ring.
pub const RING_SIZE: usize = crate::ring::ring_size(4096, SLOT_SIZE);
