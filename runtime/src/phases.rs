//! Where boot time goes, by the guest's own clock: milestones in ms since
//! the kernel's entry (the stub's first TSC reading). Said once, when the
//! last milestone the options allow is reached, as one console line and in
//! XenStore (`data/appliance/boot-phases`), for the bench and for people.

extern crate alloc;

use alloc::format;
use alloc::string::String;

/// The kernel's clock readings from before the runtime (Xen system time).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootClock {
    /// The kernel's entry: every phase and `elapsed_ms` count from it.
    pub entry_ns: u64,
    /// The Xen platform up: memory, page tables, hypercalls, shared info,
    /// event channels, the clock.
    pub xen_ns: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Xen,
    /// XenStore connected, the runtime started.
    Xenstore,
    Netfront,
    Address,
    Metadata,
    Ssh,
}

const NAMES: [&str; 6] = [
    "xen_ms",
    "xenstore_ms",
    "netfront_ms",
    "address_ms",
    "metadata_ms",
    "ssh_ms",
];

pub struct Phases {
    boot_ns: u64,
    at: [Option<u64>; 6],
    /// The phase after which the line is said.
    last: Phase,
    said: bool,
}

impl Phases {
    pub fn new(boot_ns: u64, last: Phase) -> Self {
        Phases {
            boot_ns,
            at: [None; 6],
            last,
            said: false,
        }
    }

    /// Mark `p` (the first time only). Returns the report once complete.
    pub fn mark(&mut self, p: Phase, now: u64) -> Option<String> {
        let slot = &mut self.at[p as usize];
        if slot.is_none() {
            *slot = Some(now.saturating_sub(self.boot_ns) / 1_000_000);
        }
        if self.said || self.at[self.last as usize].is_none() {
            return None;
        }
        self.said = true;
        let mut line = String::new();
        for (name, at) in NAMES.iter().zip(self.at.iter()) {
            if let Some(ms) = at {
                if !line.is_empty() {
                    line.push(' ');
                }
                line.push_str(&format!("{}={}", name, ms));
            }
        }
        Some(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn said_once_when_the_last_phase_is_reached() {
        let mut p = Phases::new(1_000_000_000, Phase::Ssh);
        assert_eq!(p.mark(Phase::Xen, 1_002_000_000), None);
        assert_eq!(p.mark(Phase::Xenstore, 1_005_000_000), None);
        assert_eq!(p.mark(Phase::Netfront, 1_050_000_000), None);
        assert_eq!(
            p.mark(Phase::Netfront, 1_900_000_000),
            None,
            "first mark counts"
        );
        assert_eq!(p.mark(Phase::Address, 1_100_000_000), None);
        assert_eq!(p.mark(Phase::Metadata, 1_200_000_000), None);
        assert_eq!(
            p.mark(Phase::Ssh, 1_210_000_000).as_deref(),
            Some("xen_ms=2 xenstore_ms=5 netfront_ms=50 address_ms=100 metadata_ms=200 ssh_ms=210")
        );
        assert_eq!(p.mark(Phase::Ssh, 1_300_000_000), None, "once");
    }
}
