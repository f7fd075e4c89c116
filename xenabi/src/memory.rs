//! memory.h: physmap and reservation operations.

pub const XENMEM_INCREASE_RESERVATION: u32 = 0;
pub const XENMEM_DECREASE_RESERVATION: u32 = 1;
pub const XENMEM_MAXIMUM_RAM_PAGE: u32 = 2;
pub const XENMEM_CURRENT_RESERVATION: u32 = 3;
pub const XENMEM_MAXIMUM_RESERVATION: u32 = 4;
pub const XENMEM_POPULATE_PHYSMAP: u32 = 6;
pub const XENMEM_ADD_TO_PHYSMAP: u32 = 7;
pub const XENMEM_EXCHANGE: u32 = 11;
pub const XENMEM_MAXIMUM_GPFN: u32 = 14;
pub const XENMEM_REMOVE_FROM_PHYSMAP: u32 = 15;

pub const XENMAPSPACE_SHARED_INFO: u32 = 0;
pub const XENMAPSPACE_GRANT_TABLE: u32 = 1;
pub const XENMAPSPACE_GMFN: u32 = 2;
pub const XENMAPSPACE_GMFN_RANGE: u32 = 3;
pub const XENMAPSPACE_GMFN_FOREIGN: u32 = 4;
pub const XENMAPSPACE_DEV_MMIO: u32 = 5;
/// With XENMAPSPACE_GRANT_TABLE: map a v2 status frame instead.
pub const XENMAPIDX_GRANT_TABLE_STATUS: u64 = 0x8000_0000;

/// struct xen_add_to_physmap
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct XenAddToPhysmap {
    pub domid: u16,
    pub size: u16,
    pub space: u32,
    pub idx: u64,
    pub gpfn: u64,
}

/// struct xen_remove_from_physmap
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct XenRemoveFromPhysmap {
    pub domid: u16,
    pub gpfn: u64,
}

/// struct xen_memory_reservation (interface version >= 0x00030209: the
/// fourth field is `mem_flags`). `extent_start` is a guest handle: the
/// address of an array of frame numbers.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct XenMemoryReservation {
    pub extent_start: u64,
    pub nr_extents: u64,
    pub extent_order: u32,
    pub mem_flags: u32,
    pub domid: u16,
}
