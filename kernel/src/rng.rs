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

/// 0 unchecked, 1 RDSEED, 2 RDRAND, 3 none.
static STATE: AtomicU8 = AtomicU8::new(0);

/// Intel's guidance: a few retries cover transient underflow; RDSEED drains
/// faster, so it gets more.
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

/// Find a healthy source (RDSEED preferred). Idempotent.
pub fn init() -> Option<Source> {
    match STATE.load(Ordering::Relaxed) {
        1 => return Some(Source::Rdseed),
        2 => return Some(Source::Rdrand),
        3 => return None,
        _ => {}
    }
    let rdrand_cpu = arch::cpuid(1, 0).ecx & (1 << 30) != 0;
    let rdseed_cpu = arch::cpuid(0, 0).eax >= 7 && arch::cpuid(7, 0).ebx & (1 << 18) != 0;
    let src = if rdseed_cpu && healthy(Source::Rdseed) {
        Some(Source::Rdseed)
    } else if rdrand_cpu && healthy(Source::Rdrand) {
        Some(Source::Rdrand)
    } else {
        None
    };
    STATE.store(
        match src {
            Some(Source::Rdseed) => 1,
            Some(Source::Rdrand) => 2,
            None => 3,
        },
        Ordering::Relaxed,
    );
    src
}

/// Fill `buf` from the checked source; false if there is none or it failed.
pub fn fill(buf: &mut [u8]) -> bool {
    let Some(src) = init() else {
        return false;
    };
    for chunk in buf.chunks_mut(8) {
        let Some(v) = draw(src) else {
            return false;
        };
        chunk.copy_from_slice(&v.to_le_bytes()[..chunk.len()]);
    }
    true
}
