//! The runtime's `Platform` on real Xen: the console, pvclock, shutdown,
//! the memory map, RDSEED/RDRAND and the kernel's counters, and the Xen
//! resources (grant table, pages, event channels, XenStore) the drivers use.

extern crate alloc;

use alloc::vec::Vec;
use core::sync::atomic::Ordering;

use runtime::{KernelCounters, MemStats, Platform, Power};

use crate::mem::{KernelPages, Page};
use crate::phys::PhysRegion;
use crate::power::Reason;
use crate::store::KernelWait;
use crate::xen::events::{self, XenEvents};
use crate::xen::gnttab::XenGrantTable;
use crate::xen::{hypercall, time};
use crate::{console, mem, power, println, rng};

pub struct Kernel;

impl Platform for Kernel {
    type Page = Page;
    type Pages = KernelPages;
    type Grants = XenGrantTable;
    type Events = XenEvents;
    type StoreMem = PhysRegion;
    type StoreWait = KernelWait;

    fn console(&mut self, line: &str) {
        println!("{}", line);
    }

    fn now_ns(&self) -> u64 {
        time::now_ns()
    }

    fn power(&mut self, action: Power, why: &str) {
        let reason = match action {
            Power::Off => Reason::Poweroff,
            Power::Reboot => Reason::Reboot,
        };
        power::shutdown(reason, why)
    }

    fn memory(&self) -> MemStats {
        let m = mem::stats();
        MemStats {
            total_kib: m.total_kib,
            free_kib: m.free_kib,
            heap_kib: m.heap_kib,
            heap_free_kib: m.heap_free_kib,
        }
    }

    fn random(&mut self, buf: &mut [u8]) -> Option<&'static str> {
        let src = rng::init()?;
        rng::fill(buf).then(|| src.name())
    }

    fn recent_console(&self, max: usize) -> Vec<u8> {
        console::recent(max)
    }

    fn counters(&self) -> KernelCounters {
        KernelCounters {
            hypercalls: hypercall::COUNT.load(Ordering::Relaxed),
            notifies: events::NOTIFIES.load(Ordering::Relaxed),
            upcalls: events::UPCALLS.load(Ordering::Relaxed),
        }
    }

    fn free_grant_refs(grants: &XenGrantTable) -> Option<usize> {
        Some(grants.free_count())
    }
}
