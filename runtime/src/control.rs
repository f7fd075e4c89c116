//! XenStore events, first thing in every turn: `xl shutdown` / `xl reboot`
//! (control/shutdown) and hotplug. A bounded number per turn, so a flood of
//! events cannot hold the turn; what is left waits for the next one.

extern crate alloc;

use alloc::format;

use xenstore::xenbus::{self, Request};

use crate::intervals::STORE_EVENTS_PER_TURN;
use crate::platform::Power;
use crate::report::quoted;
use crate::vif::Vif;
use crate::wake::Wake;
use crate::{Cx, Platform};

pub struct Control {
    /// The connection broke (said once; nothing more is read from it).
    broken: bool,
}

impl Control {
    pub fn new() -> Self {
        Control { broken: false }
    }

    /// Handle what xenstored sent; `Some(action)` when the toolstack asked
    /// us to power off or reboot.
    pub fn poll<P: Platform>(&mut self, cx: &mut Cx<'_, P>, vif: &mut Vif<P>, now: u64) -> (Wake, Option<Power>) {
        if self.broken || !cx.xen.store.readable() {
            return (Wake::IDLE, None);
        }
        let mut wake = Wake::IDLE;
        for _ in 0..STORE_EVENTS_PER_TURN {
            let ev = match cx.xen.store.poll_event() {
                Ok(Some(ev)) => ev,
                Ok(None) => return (wake, None),
                Err(e) => {
                    self.broken = true;
                    cx.say(&format!("xenstore: error reason={}", quoted(&format!("{}", e))));
                    return (wake, None);
                }
            };
            wake = wake.progressed();
            if ev.token == xenbus::SHUTDOWN_TOKEN {
                match xenbus::take_request(&mut cx.xen.store) {
                    Ok(Some(Request::Poweroff)) => return (wake, Some(Power::Off)),
                    Ok(Some(Request::Reboot)) => return (wake, Some(Power::Reboot)),
                    Ok(Some(Request::Unsupported(what))) => cx.say(&format!(
                        "control: error reason=\"unsupported request\" request={}",
                        quoted(&what)
                    )),
                    Ok(None) => {}
                    Err(e) => cx.say(&format!("control: error reason={}", quoted(&format!("{}", e)))),
                }
            } else {
                vif.on_event(&ev.token);
            }
        }
        // more may be waiting: come back at once (after the others ran)
        (Wake::at(now).progressed(), None)
    }
}
