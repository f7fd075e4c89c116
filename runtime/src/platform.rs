//! What the runtime needs from the machine under it: the kernel implements
//! this on real Xen, the tests on xensim. Two halves: the host services
//! (console, clock, power, memory, randomness, counters) and the Xen
//! resources the drivers are written against (`xenabi::hal`, the XenStore
//! client), named by associated types so the same code runs on both.

extern crate alloc;

use alloc::vec::Vec;

use xenabi::hal::{EventChannel, GrantTable, PageAlloc, SharedMem};
use xenstore::{Client, Wait};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Power {
    Off,
    Reboot,
}

impl Power {
    pub fn name(self) -> &'static str {
        match self {
            Power::Off => "poweroff",
            Power::Reboot => "reboot",
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemStats {
    pub total_kib: u64,
    pub free_kib: u64,
    pub heap_kib: u64,
    pub heap_free_kib: u64,
}

/// The kernel's own costs, for the bench's per-packet figures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelCounters {
    pub hypercalls: u64,
    /// Event-channel notifications we sent.
    pub notifies: u64,
    pub upcalls: u64,
}

pub trait Platform {
    type Page: SharedMem;
    type Pages: PageAlloc<Page = Self::Page>;
    type Grants: GrantTable;
    type Events: EventChannel + Clone;
    type StoreMem: SharedMem;
    type StoreWait: Wait;

    /// One console line, without its newline.
    fn console(&mut self, line: &str);
    /// Monotonic nanoseconds (Xen system time on the kernel).
    fn now_ns(&self) -> u64;
    /// Power off or reboot the domain. The kernel does not return; a
    /// simulation records it and the runtime stops.
    fn power(&mut self, action: Power, why: &str);
    fn memory(&self) -> MemStats;
    /// Fill `buf` from the hardware RNG; the source's name, or None when
    /// no healthy generator exists.
    fn random(&mut self, buf: &mut [u8]) -> Option<&'static str>;
    /// The last `max` bytes of console output (the SSH `log` command).
    fn recent_console(&self, max: usize) -> Vec<u8>;
    fn counters(&self) -> KernelCounters;
    /// Grant references still free (for the console's netfront lines).
    fn free_grant_refs(grants: &Self::Grants) -> Option<usize>;
}

/// The Xen resources, owned by the runtime once the kernel has set them up.
pub struct Xen<P: Platform> {
    pub store: Client<P::StoreMem, P::StoreWait>,
    pub grants: P::Grants,
    pub pages: P::Pages,
    pub events: P::Events,
}
