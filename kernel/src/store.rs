//! XenStore on real Xen: the ring page and event channel from the HVM params,
//! and a `Wait` that blocks on events with a timer deadline.

extern crate alloc;

use xenabi::hvm;
use xenstore::xenbus::{self, Request};
use xenstore::{Client, Wait};

use crate::mem::PhysRegion;
use crate::power::{self, Reason};
use crate::println;
use crate::xen::{events, hypercall, time};

pub struct KernelWait {
    port: u32,
}

impl Wait for KernelWait {
    fn notify(&mut self) {
        events::notify(self.port);
    }
    fn wait(&mut self, deadline_ns: u64) {
        crate::xen::block_until(Some(deadline_ns));
        events::take_pending(self.port);
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

/// Act on the watch events that arrived: `xl shutdown` / `xl reboot` via
/// control/shutdown; other events go to `others` for their owners. One
/// budgeted batch per call, so an event flood cannot keep the main loop
/// here. Returns false when the connection is unusable.
pub fn poll(xs: &mut Store, others: &mut alloc::vec::Vec<xenstore::WatchEvent>) -> bool {
    let polled = match xs.poll_events(xenstore::MAX_WATCHES * xenstore::MAX_PENDING_PER_WATCH) {
        Ok(p) => p,
        Err(e) => {
            println!("xenstore: error reason=\"{}\"", e);
            return false;
        }
    };
    // events were folded: a shutdown request may be among them
    let mut shutdown = polled.lost;
    for ev in polled.events {
        if ev.token == xenbus::SHUTDOWN_TOKEN {
            shutdown = true;
        } else {
            others.push(ev);
        }
    }
    if !shutdown {
        return true;
    }
    match xenbus::take_request(xs) {
        Ok(Some(Request::Poweroff)) => {
            power::shutdown(Reason::Poweroff, "xl shutdown (control/shutdown=poweroff)")
        }
        Ok(Some(Request::Reboot)) => {
            power::shutdown(Reason::Reboot, "xl reboot (control/shutdown=reboot)")
        }
        Ok(Some(Request::Unsupported(what))) => println!(
            "control: error reason=\"unsupported request\" request={}",
            cloudinit::report::value(&what)
        ),
        Ok(None) => {}
        Err(e) => println!("control: error reason=\"{}\"", e),
    }
    true
}
