//! Ending the domain: SCHEDOP_shutdown on Xen; ACPI / debug-exit ports on
//! plain QEMU, where nothing else can stop us.

use crate::{arch, xen};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    Poweroff,
    Reboot,
    Crash,
}

impl Reason {
    fn name(self) -> &'static str {
        match self {
            Reason::Poweroff => "poweroff",
            Reason::Reboot => "reboot",
            Reason::Crash => "crash",
        }
    }
}

pub fn shutdown(reason: Reason, why: &str) -> ! {
    // print_emergency: we may be here from a trap taken while the console was held.
    crate::console::print_emergency(format_args!(
        "appliance: shutdown reason={} why=\"{}\"\n",
        reason.name(),
        why
    ));
    if xen::present() {
        xen::shutdown(match reason {
            Reason::Poweroff => xenabi::sched::SHUTDOWN_POWEROFF,
            Reason::Reboot => xenabi::sched::SHUTDOWN_REBOOT,
            Reason::Crash => xenabi::sched::SHUTDOWN_CRASH,
        });
    }
    // No Xen: QEMU's ACPI PM1a_CNT (SLP_EN | S5) on q35, then the
    // isa-debug-exit device the tests add (QEMU exits with status 1).
    arch::outw(0x604, 0x2000);
    arch::outb(0xf4, 0);
    arch::halt_forever()
}

pub fn crash(why: &str) -> ! {
    shutdown(Reason::Crash, why)
}
