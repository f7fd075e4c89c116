//! Monotonic time from pvclock (vcpu_time_info in shared_info) and the
//! one-shot timer (VCPUOP_set_singleshot_timer, delivered as VIRQ_TIMER).

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use xenabi::hal::SharedMem;
use xenabi::shared_info as si;

use super::hypercall;
use crate::arch;

/// Port VIRQ_TIMER is bound to (0 = not bound).
pub static TIMER_PORT: AtomicU32 = AtomicU32::new(0);

/// Nanoseconds of Xen system time (monotonic since the host booted; the
/// domain's start is recorded by the caller when it wants elapsed times).
pub fn now_ns() -> u64 {
    let Some(s) = super::shared_info() else {
        return 0;
    };
    let t = si::VCPU_INFO_OFFSET + si::VCPU_TIME_OFFSET;
    loop {
        let version = s.read_u32(t + si::TIME_VERSION_OFFSET);
        if version & 1 != 0 {
            core::hint::spin_loop();
            continue; // Xen is updating the record
        }
        let tsc_stamp = s.read_u64(t + si::TIME_TSC_TIMESTAMP_OFFSET);
        let system_time = s.read_u64(t + si::TIME_SYSTEM_TIME_OFFSET);
        let mul = s.read_u32(t + si::TIME_TSC_TO_SYSTEM_MUL_OFFSET);
        let shift = s.read_u8(t + si::TIME_TSC_SHIFT_OFFSET) as i8;
        let tsc = arch::rdtsc();
        if s.read_u32(t + si::TIME_VERSION_OFFSET) != version {
            continue;
        }
        // A TSC behind the record's stamp (TSCs not in step across the
        // pCPUs the vCPU ran on: seen under nested emulation) would wrap to
        // a huge delta and throw the clock centuries ahead: every deadline
        // after that is never reached and the domain sleeps for good. Count
        // it as no time passed; the clock never goes backwards either.
        let raw = tsc.wrapping_sub(tsc_stamp);
        let mut delta = if (raw as i64) < 0 { 0 } else { raw };
        if shift >= 0 {
            delta = delta.checked_shl(shift as u32).unwrap_or(u64::MAX);
        } else {
            delta >>= -shift;
        }
        let t = system_time.wrapping_add(((delta as u128 * mul as u128) >> 32) as u64);
        return LAST_NS.fetch_max(t, Ordering::Relaxed).max(t);
    }
}

/// The latest time handed out: `now_ns` is monotonic.
static LAST_NS: AtomicU64 = AtomicU64::new(0);

/// Arm the one-shot timer for absolute system time `deadline_ns`.
pub fn set_timer(deadline_ns: u64) {
    hypercall::vcpu_set_singleshot_timer(0, deadline_ns);
}

/// Is the timer port's event pending? (consumes it)
pub fn timer_fired() -> bool {
    let p = TIMER_PORT.load(Ordering::Relaxed);
    p != 0 && super::events::take_pending(p)
}
