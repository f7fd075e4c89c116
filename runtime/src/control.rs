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
    pub fn poll<P: Platform>(
        &mut self,
        cx: &mut Cx<'_, P>,
        vif: &mut Vif<P>,
        now: u64,
    ) -> (Wake, Option<Power>) {
        if self.broken || !cx.xen.store.readable() {
            return (Wake::IDLE, None);
        }
        let polled = match cx.xen.store.poll_events(STORE_EVENTS_PER_TURN) {
            Ok(p) => p,
            Err(e) => {
                self.broken = true;
                cx.say(&format!(
                    "xenstore: error reason={}",
                    quoted(&format!("{}", e))
                ));
                return (Wake::IDLE, None);
            }
        };
        let mut wake = Wake::IDLE;
        let mut shutdown = polled.lost; // events were folded: look at everything
        if polled.lost {
            vif.look_again();
        }
        for ev in &polled.events {
            wake = wake.progressed();
            if ev.token == xenbus::SHUTDOWN_TOKEN {
                shutdown = true;
            } else {
                vif.on_event(&ev.token);
            }
        }
        if shutdown {
            match xenbus::take_request(&mut cx.xen.store) {
                Ok(Some(Request::Poweroff)) => return (wake, Some(Power::Off)),
                Ok(Some(Request::Reboot)) => return (wake, Some(Power::Reboot)),
                Ok(Some(Request::Unsupported(what))) => cx.say(&format!(
                    "control: error reason=\"unsupported request\" request={}",
                    quoted(&what)
                )),
                Ok(None) => {}
                Err(e) => cx.say(&format!(
                    "control: error reason={}",
                    quoted(&format!("{}", e))
                )),
            }
        }
        if polled.more {
            // more waiting: come back at once (after the others ran)
            wake.also_at(Some(now));
            wake = wake.progressed();
        }
        (wake, None)
    }

    /// Events a wait inside this turn read off the ring wait in the client:
    /// the turn must not end in a sleep while it holds any.
    pub fn pending<P: Platform>(&self, cx: &mut Cx<'_, P>) -> bool {
        !self.broken && cx.xen.store.readable()
    }
}
