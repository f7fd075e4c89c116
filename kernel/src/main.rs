//! The appliance kernel: a Xen PVH guest (or HVM from a disk image) that
//! brings up the platform, then hands the appliance (the `runtime` crate)
//! its resources and runs it from one loop that blocks when idle.
#![no_std]
#![no_main]

extern crate alloc;

mod arch;
mod boot;
mod bootinfo;
mod console;
mod mem;
mod paging;
mod phys;
mod platform;
mod power;
mod rng;
mod selftest_copy;
mod selftest_gnttab;
mod store;
mod sync;
mod trap;
mod xen;

use bootinfo::BootInfo;
use power::Reason;
use runtime::options::{self, Options};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// How we were entered (boot.rs passes the kind).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// Xen's (or QEMU's) PVH loader: hvm_start_info.
    Pvh,
    /// A multiboot2 loader (GRUB from the disk image): an HVM domain with
    /// firmware, emulated devices and a serial port, or bare metal.
    Multiboot2,
}

impl Entry {
    fn name(self) -> &'static str {
        match self {
            Entry::Pvh => "pvh",
            Entry::Multiboot2 => "multiboot2",
        }
    }
}

/// Entered from the 32-bit stubs in long mode, on the boot stack.
#[no_mangle]
extern "C" fn kmain_entry(boot_info: u64, kind: u64) -> ! {
    trap::init();
    guard_stacks();
    let entry = if kind == 1 {
        Entry::Multiboot2
    } else {
        Entry::Pvh
    };
    if entry == Entry::Multiboot2 {
        // The firmware may have left the PIT ticking into the 8259s, whose
        // vectors (0x08..) are our exception gates: mask them all.
        arch::mask_legacy_pic();
    }
    let hv = xen::detect();
    if hv.is_some() {
        console::enable_e9();
    }
    if hv.is_none() || entry == Entry::Multiboot2 {
        // A firmware-booted domain has a UART: EC2's console output is COM1.
        console::enable_com1();
    }
    let parsed = match entry {
        Entry::Pvh => BootInfo::from_pvh(boot_info),
        Entry::Multiboot2 => BootInfo::from_multiboot2(boot_info),
    };
    let info = match parsed {
        Ok(i) => i,
        Err(e) => {
            println!("appliance: error reason=\"{}\"", e);
            power::crash(e)
        }
    };
    kmain(info, hv, entry)
}

/// Unmap the page under each stack: an overflow faults, with a report.
fn guard_stacks() {
    extern "C" {
        static boot_stack_guard: u8;
    }
    let boot = (&raw const boot_stack_guard) as u64;
    for g in core::iter::once(boot).chain(trap::guard_pages()) {
        if let Err(e) = paging::guard(g) {
            println!("appliance: error reason=\"{}\"", e);
        }
    }
}

fn kmain(info: BootInfo, hv: Option<xen::Cpuid>, entry: Entry) -> ! {
    println!(
        "appliance: boot version={} entry={} cmdline=\"{}\"",
        VERSION,
        entry.name(),
        info.cmdline()
    );
    if let Err(e) = mem::init(&info) {
        println!("appliance: error reason=\"{}\"", e);
        power::crash(e);
    }
    let top = info.ram().map(|r| r.end).max().unwrap_or(0);
    if let Err(e) = paging::map_ram(top) {
        println!("appliance: error reason=\"{}\"", e);
        power::crash(e);
    }
    // A bad option is named and the whole line ignored (defaults: DHCP,
    // the metadata service at 169.254.169.254, SSH on 22 for admin).
    let opts = match options::parse(info.cmdline()) {
        Ok(o) => o,
        Err(e) => {
            println!("{} (using the defaults)", options::options_error(&e));
            Options::default()
        }
    };
    if let Some(line) = options::unknown_options(&opts) {
        println!("{}", line);
    }

    let Some(hv) = hv else {
        let m = mem::stats();
        println!("mem: total_kib={} free_kib={}", m.total_kib, m.free_kib);
        println!("xen: not-found (no Xen CPUID signature: plain QEMU or bare metal); powering off");
        if let Some(
            t @ (options::Selftest::Fault | options::Selftest::Stack | options::Selftest::Copy),
        ) = opts.selftest
        {
            selftest(t.name()); // the trap paths and memory copies need no Xen
        }
        power::shutdown(Reason::Poweroff, "no xen");
    };

    let xinfo = match xen::init(hv) {
        Ok(x) => x,
        Err(e) => {
            println!("xen: error reason=\"{}\"", e);
            power::crash(e);
        }
    };
    arch::interrupts_enable();
    let xen_ns = xen::time::now_ns();
    // the entry stub's TSC as system time: the boot phases count from there
    let entry_ns = match boot::entry_tsc() {
        0 => xen_ns,
        tsc => xen::time::ns_at_tsc(tsc).min(xen_ns),
    };
    xen::describe(&xinfo);
    if entry == Entry::Multiboot2 {
        // HVM: the device model's emulated NICs step aside for netfront.
        xen::platform::unplug_emulated_nics();
    }
    let m = mem::stats();
    println!(
        "mem: total_kib={} free_kib={} heap_kib={} heap_free_kib={}",
        m.total_kib, m.free_kib, m.heap_kib, m.heap_free_kib
    );
    println!("time: pvclock ns={}", xen::time::now_ns());
    let (gnttab, gi) = match xen::gnttab::XenGrantTable::new() {
        Ok(g) => g,
        Err(e) => {
            println!("gnttab: error reason=\"{}\"", e);
            power::crash(e);
        }
    };
    println!(
        "gnttab: version=1 frames={} max_frames={} free_refs={}",
        gnttab.frames(),
        gi.max_frames,
        gnttab.free_count()
    );

    let (store, _xs_port) = match store::connect() {
        Ok(x) => x,
        Err(e) => {
            println!("xenstore: error reason=\"{}\"", e);
            power::crash(e);
        }
    };
    let mut host = platform::Kernel;
    let mut xen = runtime::Xen::<platform::Kernel> {
        store,
        grants: gnttab,
        pages: mem::KernelPages,
        events: xen::events::XenEvents,
    };
    let found = match runtime::announce(&mut host, &mut xen) {
        Ok(f) => f,
        Err(e) => {
            println!("xenstore: error reason=\"{}\"", e);
            power::crash("xenstore setup failed");
        }
    };

    match opts.selftest {
        Some(options::Selftest::Gnttab) => selftest_gnttab::run(&mut xen.store, &mut xen.grants),
        Some(t) => selftest(t.name()),
        None => {}
    }

    let boot = runtime::BootClock { entry_ns, xen_ns };
    let mut app = runtime::Appliance::new(host, xen, opts, boot, found);
    println!("appliance: idle");
    loop {
        xen::events::begin_turn();
        let next = app.poll();
        xen::block_until(next);
    }
}

/// Command-line self tests, used by the harness to prove the platform paths.
fn selftest(what: &str) {
    println!("selftest: start name={}", what);
    match what {
        "poweroff" | "shutdown" => power::shutdown(Reason::Poweroff, "selftest"),
        "reboot" => power::shutdown(Reason::Reboot, "selftest"),
        "crash" => power::crash("selftest"),
        "fault" => {
            // A page fault on an unmapped address must print the trap report
            // and crash the domain, never triple-fault.
            let p = 0x7f00_0000_0000u64 as *const u64;
            // SAFETY: deliberately faulting read for the test; never returns.
            let v = unsafe { core::ptr::read_volatile(p) };
            println!(
                "selftest: error reason=\"read of unmapped memory returned {}\"",
                v
            );
        }
        "stack" => {
            // Recurse until the guard page under the boot stack stops us:
            // a page-fault report, never a silent write below the stack.
            #[allow(unconditional_recursion)]
            fn deeper(n: u64) -> u64 {
                let pad = core::hint::black_box([n; 64]);
                core::hint::black_box(deeper(n + 1)) + pad[0]
            }
            println!(
                "selftest: error reason=\"recursion returned {}\"",
                deeper(0)
            );
        }
        "copy" => selftest_copy::run(),
        "timer" => {
            // Block on the one-shot timer 50 ms ahead and check that we woke
            // no earlier than asked and not hugely later.
            let start = xen::time::now_ns();
            let deadline = start + 50_000_000;
            let mut wakes = 0;
            while xen::time::now_ns() < deadline && wakes < 1000 {
                xen::wait_until(deadline);
                wakes += 1;
            }
            let late_us = (xen::time::now_ns() - deadline) / 1000;
            println!("selftest: timer wakes={} late_us={}", wakes, late_us);
        }
        other => println!("selftest: error reason=\"unknown selftest {}\"", other),
    }
    println!("selftest: done name={}", what);
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    console::print_emergency(format_args!("panic: {}\n", info));
    power::crash("panic")
}
