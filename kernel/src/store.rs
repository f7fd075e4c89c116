//! XenStore on real Xen: the ring page and event channel from the HVM params,
//! and a `Wait` that blocks on events with a timer deadline. What the
//! events mean (shutdown, hotplug) is the runtime's (`runtime::control`).

extern crate alloc;

use xenabi::hvm;
use xenstore::{Client, Wait};

use crate::phys::PhysRegion;
use crate::xen::{events, hypercall, time};

pub struct KernelWait {
    port: u32,
}

impl Wait for KernelWait {
    fn notify(&mut self) {
        events::notify(self.port);
    }
    fn wait(&mut self, deadline_ns: u64) {
        crate::xen::wait_until(deadline_ns);
        // whatever woke us stays for its owner's next look; the next wait
        // sleeps (the client reads the ring itself)
        events::take_pending(self.port);
        events::defer_fired();
    }
    fn now_ns(&self) -> u64 {
        time::now_ns()
    }
}

pub type Store = Client<PhysRegion, KernelWait>;

/// Connect to xenstored through the page the toolstack set up for us.
pub fn connect() -> Result<(Store, u32), &'static str> {
    let pfn =
        hypercall::hvm_get_param(hvm::HVM_PARAM_STORE_PFN).map_err(|_| "no HVM_PARAM_STORE_PFN")?;
    let port = hypercall::hvm_get_param(hvm::HVM_PARAM_STORE_EVTCHN)
        .map_err(|_| "no HVM_PARAM_STORE_EVTCHN")? as u32;
    if pfn == 0 || port == 0 {
        return Err("toolstack gave no xenstore ring");
    }
    // SAFETY: the xenstore page is the toolstack's special page for this
    // domain; only the xenstore client touches it, through PhysRegion.
    let page = unsafe { PhysRegion::new(pfn << 12, 4096) };
    events::unmask(port);
    Ok((Client::new(page, KernelWait { port }), port))
}
