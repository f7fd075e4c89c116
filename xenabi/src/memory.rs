//! memory.h: XENMEM_add_to_physmap.

pub const XENMEM_ADD_TO_PHYSMAP: u32 = 7;
pub const XENMAPSPACE_SHARED_INFO: u32 = 0;
pub const XENMAPSPACE_GRANT_TABLE: u32 = 1;
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
