//! The appliance kernel: a Xen PVH guest that brings up the platform and the
//! drivers, then runs the app from one main loop that blocks when idle.
#![no_std]
#![no_main]

extern crate alloc;

mod app;
mod arch;
mod bench;
mod boot;
mod bootinfo;
mod console;
mod mem;
mod net;
mod paging;
mod power;
mod rng;
mod selftest_gnttab;
mod ssh;
mod store;
mod sync;
mod trap;
mod xen;

use bootinfo::BootInfo;
use runtime::options::{self, Options};
use power::Reason;

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
        if opts.selftest == Some(options::Selftest::Fault) {
            selftest("fault"); // the trap path needs no Xen
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
    let boot_ns = xen::time::now_ns();
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
    let (mut gnttab, gi) = match xen::gnttab::XenGrantTable::new() {
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

    let (mut xs, xs_port) = match store::connect() {
        Ok(x) => x,
        Err(e) => {
            println!("xenstore: error reason=\"{}\"", e);
            power::crash(e);
        }
    };
    if let Err(e) = xenstore_setup(&mut xs) {
        println!("xenstore: error reason=\"{}\"", e);
        power::crash("xenstore setup failed");
    }

    match opts.selftest {
        Some(options::Selftest::Gnttab) => selftest_gnttab::run(&mut xs, &mut gnttab),
        Some(t) => selftest(t.name()),
        None => {}
    }

    let mut net = net::up(&mut xs, &mut gnttab, opts.ip, opts.gw, 0);
    let mut connects: u32 = net.is_some() as u32;
    net::watch_devices(&mut xs);
    let mut app = opts
        .cloudinit
        .then(|| app::CloudInit::new(opts.imds.clone().unwrap_or_default(), boot_ns));
    let mut bench = opts.bench.then(bench::Bench::new);

    let mut sshd: Option<ssh::Ssh> = None;
    let mut ssh_tried = !opts.ssh;

    println!("appliance: idle");
    let mut xs_ok = true;
    let mut events = alloc::vec::Vec::new();
    let mut repolled = false;
    loop {
        let now = xen::time::now_ns();
        let mut deadline = None;
        if let Some(n) = net.as_mut() {
            deadline = n.poll(now);
            if let Some(r) = n.report(&mut xs, now) {
                deadline = Some(deadline.map_or(r, |d: u64| d.min(r)));
            }
            if let Some(r) = app.as_mut().and_then(|a| a.poll(n, &mut xs, now)) {
                deadline = Some(deadline.map_or(r, |d: u64| d.min(r)));
                if r <= now {
                    continue; // the app queued packets: let the stack send them now
                }
            }
            // SSH, once cloud-init has the key
            if let Some(a) = app.as_ref() {
                if let Some(summary) = a.summary.as_ref() {
                    if !ssh_tried {
                        ssh_tried = true;
                        sshd = ssh::Ssh::start(n, &mut xs, summary, opts.ssh_port, &opts.ssh_user);
                    }
                    if let Some(s) = sshd.as_mut() {
                        let facts = ssh::Facts {
                            boot_ns,
                            summary,
                            target: a.target(),
                        };
                        // what the sessions queued goes out through the
                        // repoll below
                        if let Some(r) = s.poll(n, &facts, now) {
                            deadline = Some(deadline.map_or(r, |d: u64| d.min(r)));
                        }
                    }
                }
            }
            if bench
                .as_mut()
                .and_then(|b| b.poll(n, connects, now))
                .is_some()
            {
                continue; // bench data moved: let the stack send it now
            }
            // The app ran after the stack: a socket it just opened (its SYN)
            // would otherwise wait for an unrelated wakeup (bench: 1-1.8 s
            // between the DHCP lease and the first IMDS SYN). Once in a row:
            // a stack that stays due (TX ring full) waits for events.
            if let Some(t) = n.poll_at(now) {
                if t <= now && !repolled {
                    repolled = true;
                    continue;
                }
                deadline = Some(deadline.map_or(t, |d: u64| d.min(t)));
            }
            repolled = false;
        }
        xen::block_until(deadline);
        if xs_ok && (xen::events::take_pending(xs_port) || xs.readable()) {
            xs_ok = store::poll(&mut xs, &mut events);
        }
        let driver_down = net.as_ref().is_some_and(|n| n.nf.is_down().is_some());
        if events.is_empty() && !driver_down {
            continue;
        }
        let hotplug = events
            .iter()
            .any(|e| e.token == net::BACKEND_TOKEN || e.token == net::DEVICES_TOKEN);
        events.clear();
        if hotplug || driver_down {
            if let Some(why) = net.as_ref().and_then(|n| n.should_close(&mut xs)) {
                if let Some(n) = net.take() {
                    n.close(&mut xs, &mut gnttab, &why);
                    if let Some(a) = app.as_mut() {
                        a.net_lost(xen::time::now_ns());
                    }
                }
            }
            if net.is_none() && xenbus_has_vif(&mut xs) {
                net = net::up(&mut xs, &mut gnttab, opts.ip, opts.gw, connects);
                connects += net.is_some() as u32;
                if let (Some(s), Some(n)) = (sshd.as_mut(), net.as_mut()) {
                    s.net_changed(n);
                }
            }
        }
    }
}

/// Is there a vif whose backend is ready for a (re)connect?
fn xenbus_has_vif(xs: &mut store::Store) -> bool {
    use xenstore::xenbus;
    match xenbus::enumerate(xs, "vif") {
        Ok(d) => d.first().is_some_and(|d| {
            matches!(
                xenbus::read_state(xs, &d.backend),
                Ok(xenbus::State::InitWait) | Ok(xenbus::State::Connected)
            )
        }),
        Err(_) => false,
    }
}

/// Say what we support, list our devices, and publish what we are.
fn xenstore_setup(xs: &mut store::Store) -> Result<(), xenstore::Error> {
    use xenstore::xenbus;
    xenbus::control_init(xs)?;
    let home = xs.read_string("domid").unwrap_or_default();
    println!("xenstore: connected domid={} control=poweroff,reboot", home);
    for d in xenbus::enumerate(xs, "vif")? {
        println!(
            "xenstore: device {} backend={} backend-id={} mac={}",
            d.path.trim_start_matches("device/"),
            d.backend,
            d.backend_id,
            d.mac.as_deref().unwrap_or("-")
        );
    }
    xenbus::report(xs, "data/appliance/version", VERSION)?;
    xenbus::report(xs, "data/appliance/status", "running")?;
    Ok(())
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
        "timer" => {
            // Block on the one-shot timer 50 ms ahead and check that we woke
            // no earlier than asked and not hugely later.
            let start = xen::time::now_ns();
            let deadline = start + 50_000_000;
            let mut wakes = 0;
            while xen::time::now_ns() < deadline && wakes < 1000 {
                xen::block_until(Some(deadline));
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
