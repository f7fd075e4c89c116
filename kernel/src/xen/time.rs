//! Monotonic time from pvclock (vcpu_time_info in shared_info) and the
//! one-shot timer (VCPUOP_set_singleshot_timer, delivered as VIRQ_TIMER).

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use xenabi::hal::SharedMem;
use xenabi::shared_info as si;

use super::hypercall;
use crate::arch;

/// Port VIRQ_TIMER is bound to (0 = not bound).
pub static TIMER_PORT: AtomicU32 = AtomicU32::new(0);

/// One consistent reading of this vCPU's pvclock record, with the TSC read
/// inside it: (tsc, tsc_stamp, system_time, mul, shift).
fn reading() -> Option<(u64, u64, u64, u32, i8)> {
    let s = super::shared_info()?;
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
        if s.read_u32(t + si::TIME_VERSION_OFFSET) == version {
            return Some((tsc, tsc_stamp, system_time, mul, shift));
        }
    }
}

/// TSC ticks `from`..`to` in ns by the record's scale. A TSC behind `from`
/// (TSCs not in step across the pCPUs the vCPU ran on: seen under nested
/// emulation) would wrap to a huge delta and throw the clock centuries
/// ahead: every deadline after that is never reached and the domain sleeps
/// for good. It counts as no time passed.
fn ticks_ns(from: u64, to: u64, mul: u32, shift: i8) -> u64 {
    let raw = to.wrapping_sub(from);
    let mut delta = if (raw as i64) < 0 { 0 } else { raw };
    if shift >= 0 {
        delta = delta.checked_shl(shift as u32).unwrap_or(u64::MAX);
    } else {
        delta >>= -shift;
    }
    ((delta as u128 * mul as u128) >> 32) as u64
}

/// Nanoseconds of Xen system time (monotonic since the host booted; the
/// domain's start is recorded by the caller when it wants elapsed times).
pub fn now_ns() -> u64 {
    let Some((tsc, stamp, system_time, mul, shift)) = reading() else {
        return 0;
    };
    let t = system_time.wrapping_add(ticks_ns(stamp, tsc, mul, shift));
    LAST_NS.fetch_max(t, Ordering::Relaxed).max(t)
}

/// Xen system time at TSC value `tsc` (earlier than now): now less the
/// ticks since. Used for the entry stub's reading, taken before there was a
/// clock.
pub fn ns_at_tsc(tsc: u64) -> u64 {
    let Some((now_tsc, _, _, mul, shift)) = reading() else {
        return 0;
    };
    now_ns().saturating_sub(ticks_ns(tsc, now_tsc, mul, shift))
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
