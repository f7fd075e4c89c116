//! The Xen platform: detection by CPUID, the hypercall page, shared_info,
//! event channels, pvclock time and timers, blocking, and shutdown.

pub mod events;
pub mod gnttab;
pub mod hypercall;
pub mod platform;
pub mod time;

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use xenabi::{cpuid as xc, hvm};

use crate::mem::Page;
use crate::phys::PhysRegion;
use crate::{arch, console, println};

static PRESENT: AtomicBool = AtomicBool::new(false);
static SHARED_INFO_PADDR: AtomicU64 = AtomicU64::new(0);

pub fn present() -> bool {
    PRESENT.load(Ordering::Relaxed)
}

/// The shared_info page, once mapped.
pub fn shared_info() -> Option<PhysRegion> {
    let p = SHARED_INFO_PADDR.load(Ordering::Acquire);
    // SAFETY: the frame was given up to Xen for shared_info (never freed or
    // reused); we access it only through PhysRegion's copies and atomics.
    (p != 0).then(|| unsafe { PhysRegion::new(p, 4096) })
}

/// What CPUID says about the hypervisor.
#[derive(Clone, Copy)]
pub struct Cpuid {
    pub base: u32,
    pub max_leaf: u32,
}

/// Find Xen's CPUID leaves (they may be moved up by 0x100 steps when
/// another hypervisor interface sits at 0x40000000, e.g. Viridian).
pub fn detect() -> Option<Cpuid> {
    let mut base = xc::XEN_CPUID_FIRST_LEAF;
    while base < xc::XEN_CPUID_FIRST_LEAF + 0x10000 {
        let r = arch::cpuid(base, 0);
        if r.ebx == xc::XEN_CPUID_SIGNATURE_EBX
            && r.ecx == xc::XEN_CPUID_SIGNATURE_ECX
            && r.edx == xc::XEN_CPUID_SIGNATURE_EDX
            && r.eax >= base + 2
        {
            return Some(Cpuid {
                base,
                max_leaf: r.eax,
            });
        }
        base += 0x100;
    }
    None
}

pub struct XenInfo {
    pub major: u32,
    pub minor: u32,
    pub extra: [u8; 16],
    pub features: u32,
    pub cpuid_base: u32,
    pub hvm_features: u32,
}

impl XenInfo {
    pub fn extra(&self) -> &str {
        let n = self.extra.iter().position(|&b| b == 0).unwrap_or(16);
        core::str::from_utf8(&self.extra[..n]).unwrap_or("?")
    }
}

/// Bring up the platform. Errors are fatal for the caller (it crashes the
/// domain with the message).
pub fn init(c: Cpuid) -> Result<XenInfo, &'static str> {
    // Hypercall page: CPUID base+2 gives the MSR to write its address to.
    let r = arch::cpuid(c.base + xc::LEAF_HYPERCALL, 0);
    if r.eax == 0 {
        return Err("xen reports no hypercall pages");
    }
    // SAFETY: the MSR is the one Xen names for this; the page is ours, in .text,
    // reserved for Xen to fill with hypercall stubs.
    unsafe { arch::wrmsr(r.ebx, hypercall::page_paddr()) };
    PRESENT.store(true, Ordering::Relaxed);

    let v = hypercall::xen_version();
    let hvm_features = if c.max_leaf >= c.base + 4 {
        arch::cpuid(c.base + 4, 0).eax
    } else {
        0
    };
    let info = XenInfo {
        major: v >> 16,
        minor: v & 0xffff,
        extra: hypercall::xen_extraversion(),
        features: hypercall::xen_features(0),
        cpuid_base: c.base,
        hvm_features,
    };

    // shared_info: Xen replaces one of our RAM frames with it.
    let page = Page::alloc().ok_or("no memory for shared_info")?;
    let gfn = page.paddr() >> 12;
    hypercall::add_to_physmap(xenabi::memory::XENMAPSPACE_SHARED_INFO, 0, gfn)
        .map_err(|_| "XENMEM_add_to_physmap(shared_info) failed")?;
    SHARED_INFO_PADDR.store(page.leak().paddr(), Ordering::Release);

    // Event channels: everything masked until a driver unmasks its port;
    // upcalls arrive on our vector (HVM callback type "vector").
    events::mask_all();
    let via = hvm::callback_via_vector(events::UPCALL_VECTOR);
    hypercall::hvm_set_param(hvm::HVM_PARAM_CALLBACK_IRQ, via)
        .map_err(|_| "HVM_PARAM_CALLBACK_IRQ failed")?;

    // Timer: one-shot only (an idle appliance takes no periodic ticks).
    hypercall::vcpu_stop_periodic_timer(0);
    let tport = events::bind_virq(xenabi::event_channel::VIRQ_TIMER)
        .map_err(|_| "bind VIRQ_TIMER failed")?;
    time::TIMER_PORT.store(tport, Ordering::Relaxed);
    events::unmask(tport);

    attach_console();
    Ok(info)
}

/// Switch the console to the PV console ring if the toolstack gave us one.
fn attach_console() {
    let pfn = hypercall::hvm_get_param(hvm::HVM_PARAM_CONSOLE_PFN).unwrap_or(0);
    let port = hypercall::hvm_get_param(hvm::HVM_PARAM_CONSOLE_EVTCHN).unwrap_or(0) as u32;
    if pfn == 0 || port == 0 {
        println!("xen: console=none (no PV console page)");
        return;
    }
    // SAFETY: the console page is a special page the toolstack set up for this
    // domain; only the console module touches it, through PhysRegion.
    let page = unsafe { PhysRegion::new(pfn << 12, 4096) };
    console::attach_pv(console::PvConsole {
        page,
        port,
        notify: events::notify,
        yield_cpu: yield_cpu,
    });
}

pub fn yield_cpu() {
    hypercall::sched_yield();
}

/// Block until an event arrives or `deadline_ns` (Xen system time) passes.
///
/// `sti; hlt` is atomic (the STI shadow): an upcall cannot slip in between
/// the check and the halt, and Xen's HLT handling returns at once when an
/// event is pending. SCHEDOP_block is not usable this way on HVM/PVH: with
/// interrupts off Xen sleeps through a pending upcall, and with them on an
/// upcall between check and hypercall is a lost wakeup.
pub fn block_until(deadline_ns: Option<u64>) {
    sleep(deadline_ns, events::any_pending)
}

/// `block_until` for a wait inside a turn (XenStore replies, backend
/// states): events a wait already deferred do not cut this sleep short.
pub fn wait_until(deadline_ns: u64) {
    sleep(Some(deadline_ns), events::any_fired)
}

fn sleep(deadline_ns: Option<u64>, pending: fn() -> bool) {
    arch::interrupts_disable();
    // The timer is ours: one that fired for an earlier deadline is no event
    // for this wait (left pending, every later wait would return at once).
    time::timer_fired();
    if pending() {
        arch::interrupts_enable();
        return;
    }
    if let Some(d) = deadline_ns {
        if d <= time::now_ns() {
            arch::interrupts_enable();
            return; // already due: no timer round trip
        }
        time::set_timer(d);
    }
    arch::enable_interrupts_and_halt();
}

/// SCHEDOP_shutdown with `code` (`xenabi::sched::SHUTDOWN_*`).
pub fn shutdown(code: u32) -> ! {
    loop {
        hypercall::sched_shutdown(code);
        // Only reached if Xen refused; do not spin hot.
        hypercall::sched_yield();
    }
}

/// Summary for the `xen:` console line.
pub fn describe(info: &XenInfo) {
    println!(
        "xen: version={}.{} extra=\"{}\" cpuid_base={:#x} features={:#x} hvm_features={:#x} callback=vector:{:#x}",
        info.major,
        info.minor,
        info.extra(),
        info.cpuid_base,
        info.features,
        info.hvm_features,
        events::UPCALL_VECTOR
    );
}
