//! xen.h's shared_info, vcpu_info and vcpu_time_info (x86-64). The kernel
//! reads these with volatile/atomic accesses, so the offsets are what it uses;
//! the structs document the layout and are checked against them.

/// struct vcpu_time_info
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct VcpuTimeInfo {
    pub version: u32,
    pub pad0: u32,
    pub tsc_timestamp: u64,
    pub system_time: u64,
    pub tsc_to_system_mul: u32,
    pub tsc_shift: i8,
    pub flags: u8,
    pub pad1: [u8; 2],
}

/// struct arch_vcpu_info (x86)
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ArchVcpuInfo {
    pub cr2: u64,
    pub pad: u64,
}

/// struct vcpu_info
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct VcpuInfo {
    pub evtchn_upcall_pending: u8,
    pub evtchn_upcall_mask: u8,
    pub evtchn_pending_sel: u64,
    pub arch: ArchVcpuInfo,
    pub time: VcpuTimeInfo,
}

/// The head of struct shared_info (the arch part that follows is not used).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SharedInfoHead {
    pub vcpu_info: [VcpuInfo; LEGACY_MAX_VCPUS],
    pub evtchn_pending: [u64; 64],
    pub evtchn_mask: [u64; 64],
    pub wc_version: u32,
    pub wc_sec: u32,
    pub wc_nsec: u32,
    pub wc_sec_hi: u32,
}

pub const LEGACY_MAX_VCPUS: usize = 32;

pub const VCPU_INFO_OFFSET: usize = 0;
pub const VCPU_INFO_SIZE: usize = 64;
pub const VCPU_UPCALL_PENDING_OFFSET: usize = 0;
pub const VCPU_UPCALL_MASK_OFFSET: usize = 1;
pub const VCPU_PENDING_SEL_OFFSET: usize = 8;
pub const VCPU_TIME_OFFSET: usize = 32;

pub const TIME_VERSION_OFFSET: usize = 0;
pub const TIME_TSC_TIMESTAMP_OFFSET: usize = 8;
pub const TIME_SYSTEM_TIME_OFFSET: usize = 16;
pub const TIME_TSC_TO_SYSTEM_MUL_OFFSET: usize = 24;
pub const TIME_TSC_SHIFT_OFFSET: usize = 28;

pub const EVTCHN_PENDING_OFFSET: usize = 2048;
pub const EVTCHN_MASK_OFFSET: usize = 2560;
pub const WC_VERSION_OFFSET: usize = 3072;
