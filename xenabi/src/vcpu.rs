//! vcpu.h.

pub const VCPUOP_STOP_PERIODIC_TIMER: u32 = 7;
pub const VCPUOP_SET_SINGLESHOT_TIMER: u32 = 8;
pub const VCPUOP_STOP_SINGLESHOT_TIMER: u32 = 9;

/// Fail with -ETIME if the timeout is already in the past.
pub const VCPU_SSHOTTMR_FUTURE: u32 = 1;

/// struct vcpu_set_singleshot_timer
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct VcpuSetSingleshotTimer {
    pub timeout_abs_ns: u64,
    pub flags: u32,
}
