//! The CPU's hardware random number generator (RDSEED, RDRAND): the only
//! entropy an appliance without disks or devices has at boot. Checked at
//! start (CPUID bits, then a health check of the first outputs); no healthy
//! RNG means no SSH host key and no SSH, said clearly. Each SSH connection
//! gets a fresh 32-byte seed from here for its own CSPRNG.

use core::arch::asm;
use core::sync::atomic::{AtomicU8, Ordering};

use crate::arch;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Source {
    Rdseed,
    Rdrand,
}

impl Source {
    pub fn name(self) -> &'static str {
        match self {
            Source::Rdseed => "rdseed",
            Source::Rdrand => "rdrand",
        }
    }
}

/// Bit 0: checked; bit 1: RDSEED healthy; bit 2: RDRAND healthy.
static STATE: AtomicU8 = AtomicU8::new(0);
const CHECKED: u8 = 1;
const SEED_OK: u8 = 2;
const RAND_OK: u8 = 4;

const RDRAND_RETRIES: u32 = 10;
const RDSEED_RETRIES: u32 = 100;

/// One RDSEED or RDRAND; None when the CPU had no value ready (CF=0).
fn once(src: Source) -> Option<u64> {
    let v: u64;
    let ok: u8;
    match src {
        // SAFETY: RDSEED/RDRAND only write the register and CF; `init`
        // checked the CPUID bit of the source before it was chosen.
        Source::Rdseed => unsafe {
            asm!("rdseed {v}", "setc {ok}", v = out(reg) v, ok = out(reg_byte) ok, options(nomem, nostack))
        },
        // SAFETY: as above.
        Source::Rdrand => unsafe {
            asm!("rdrand {v}", "setc {ok}", v = out(reg) v, ok = out(reg_byte) ok, options(nomem, nostack))
        },
    }
    (ok == 1).then_some(v)
}

fn draw(src: Source) -> Option<u64> {
    let retries = match src {
        Source::Rdseed => RDSEED_RETRIES,
        Source::Rdrand => RDRAND_RETRIES,
    };
    for _ in 0..retries {
        if let Some(v) = once(src) {
            return Some(v);
        }
        core::hint::spin_loop();
    }
    None
}

/// Sixteen outputs: none stuck at all-zeros or all-ones (the failure of
/// some AMD parts), no two equal.
fn healthy(src: Source) -> bool {
    let mut seen = [0u64; 16];
    for i in 0..seen.len() {
        match draw(src) {
            Some(v) if v != 0 && v != u64::MAX && !seen[..i].contains(&v) => seen[i] = v,
            _ => return false,
        }
    }
    true
}

fn checked() -> u8 {
    let st = STATE.load(Ordering::Relaxed);
    if st & CHECKED != 0 {
        return st;
    }
    let rdrand_cpu = arch::cpuid(1, 0).ecx & (1 << 30) != 0;
    let rdseed_cpu = arch::cpuid(0, 0).eax >= 7 && arch::cpuid(7, 0).ebx & (1 << 18) != 0;
    let mut st = CHECKED;
    if rdseed_cpu && healthy(Source::Rdseed) {
        st |= SEED_OK;
    }
    if rdrand_cpu && healthy(Source::Rdrand) {
        st |= RAND_OK;
    }
    STATE.store(st, Ordering::Relaxed);
    st
}

/// The preferred healthy source (RDSEED), if any. Idempotent.
pub fn init() -> Option<Source> {
    let st = checked();
    if st & SEED_OK != 0 {
        Some(Source::Rdseed)
    } else if st & RAND_OK != 0 {
        Some(Source::Rdrand)
    } else {
        None
    }
}

/// One value: RDSEED, and RDRAND when RDSEED has run dry (it drains under
/// load; RDRAND is a DRBG reseeded from the same source).
fn draw_any() -> Option<u64> {
    let st = checked();
    if st & SEED_OK != 0 {
        if let Some(v) = draw(Source::Rdseed) {
            return Some(v);
        }
    }
    if st & RAND_OK != 0 {
        return draw(Source::Rdrand);
    }
    None
}

/// Fill `buf` from the checked sources; false if there is none or both failed.
pub fn fill(buf: &mut [u8]) -> bool {
    for chunk in buf.chunks_mut(8) {
        let Some(v) = draw_any() else {
            return false;
        };
        chunk.copy_from_slice(&v.to_le_bytes()[..chunk.len()]);
    }
    true
}
