//! The appliance as a program: boot options, network bring-up, the services
//! (cloud-init, SSH, bench) and the one scheduler that polls them. Hosted and
//! safe: the kernel supplies the platform (`Platform`, `Xen`), the tests
//! supply xensim.
//!
//! Where things are:
//! - the wakeup policy: `Appliance::poll` below (one turn), `wake.rs` (how
//!   answers combine), `intervals.rs` (every interval, with why);
//! - the boot options: `options.rs`;
//! - XenStore events (`xl shutdown`, hotplug): `control.rs`;
//! - the vif's life (connect, detach, reconnect with backoff): `vif.rs`;
//! - the stack and the address (static or DHCP): `net.rs`, `addressing.rs`;
//! - HTTP over one TCP connection: `http.rs`;
//! - the services: `services/` (cloud-init, SSH and its commands, bench).
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod addressing;
pub mod control;
pub mod http;
pub mod intervals;
pub mod net;
pub mod options;
pub mod phases;
pub mod platform;
pub mod report;
pub mod seed;
pub mod services;
pub mod vif;
pub mod wake;

use alloc::format;

use xenstore::xenbus;

pub use platform::{KernelCounters, MemStats, Platform, Power, Xen};
pub use wake::Wake;

use control::Control;
use intervals::{MAX_ROUNDS, STALL_SLEEP_NS};
use options::Options;
pub use phases::BootClock;
use phases::{Phase, Phases};
use services::bench::Bench;
use services::cloudinit::CloudInit;
use services::ssh::{Facts, Ssh};
use vif::Vif;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What a service gets besides the network: the platform and XenStore.
pub struct Cx<'a, P: Platform> {
    pub host: &'a mut P,
    pub xen: &'a mut Xen<P>,
    stopped: &'a mut bool,
}

impl<P: Platform> Cx<'_, P> {
    pub fn say(&mut self, line: &str) {
        self.host.console(line);
    }

    /// Write one of our own XenStore keys (`data/...`, `attr/...`); a
    /// failure only costs that report.
    pub fn report(&mut self, key: &str, value: &str) {
        let _ = xenbus::report(&mut self.xen.store, key, value);
    }

    /// `report` for many keys, in one XenStore round trip.
    pub fn report_all<V: AsRef<str>>(&mut self, keys: &[(&str, V)]) {
        let _ = xenbus::report_all(&mut self.xen.store, keys);
    }

    pub fn random(&mut self, buf: &mut [u8]) -> Option<&'static str> {
        self.host.random(buf)
    }

    /// Power off or reboot; the runtime stops polling.
    pub fn power(&mut self, action: Power, why: &str) {
        *self.stopped = true;
        self.host.power(action, why);
    }
}

enum SshState {
    /// Waiting for cloud-init's key.
    Waiting,
    Running(Ssh),
    /// Off, or could not start (said why).
    Off,
}

pub struct Appliance<P: Platform> {
    host: P,
    xen: Xen<P>,
    opts: Options,
    boot_ns: u64,
    control: Control,
    vif: Vif<P>,
    cloudinit: Option<CloudInit>,
    ssh: SshState,
    bench: Option<Bench>,
    phases: Phases,
    stopped: bool,
}

impl<P: Platform> Appliance<P> {
    /// Everything is started by the first `poll`. XenStore must be
    /// connected and `control/` set up (the kernel does that before any
    /// selftest).
    pub fn new(
        mut host: P,
        mut xen: Xen<P>,
        mut opts: Options,
        boot: BootClock,
        found: Found,
    ) -> Self {
        let boot_ns = boot.entry_ns;
        let mut stopped = false;
        let mut cx = Cx {
            host: &mut host,
            xen: &mut xen,
            stopped: &mut stopped,
        };
        let Found { vifs, vbds } = found;
        let mut seed = [0u8; 4];
        cx.random(&mut seed);
        let cloudinit = opts
            .cloudinit
            .then(|| datasource(&mut cx, &mut opts, boot_ns, u32::from_le_bytes(seed), vbds));
        let bench = opts.bench.then(|| Bench::new(&mut cx));
        let ssh = if opts.ssh && opts.cloudinit {
            SshState::Waiting
        } else {
            SshState::Off
        };
        let last = match (opts.cloudinit, matches!(ssh, SshState::Waiting)) {
            (true, true) => Phase::Ssh,
            (true, false) => Phase::Metadata,
            _ => Phase::Address,
        };
        let mut phases = Phases::new(boot_ns, last);
        let _ = phases.mark(Phase::Xen, boot.xen_ns);
        let _ = phases.mark(Phase::Xenstore, cx.host.now_ns());
        Appliance {
            host,
            xen,
            opts,
            boot_ns,
            control: Control::new(),
            vif: Vif::new(vifs.into_iter().next()),
            cloudinit,
            ssh,
            bench,
            phases,
            stopped,
        }
    }

    /// The platform (the tests inspect their simulation through it).
    pub fn host(&self) -> &P {
        &self.host
    }

    pub fn xen(&mut self) -> &mut Xen<P> {
        &mut self.xen
    }

    /// Powered off or rebooting: nothing more will run.
    pub fn stopped(&self) -> bool {
        self.stopped
    }

    /// One turn: XenStore events first (always), the vif's life, then up to
    /// MAX_ROUNDS of stack-then-services while they make progress. Returns
    /// when the next turn is due (None: only an event can bring work).
    pub fn poll(&mut self) -> Option<u64> {
        if self.stopped {
            return None;
        }
        let now = self.host.now_ns();
        let Appliance {
            host,
            xen,
            opts,
            boot_ns,
            control,
            vif,
            cloudinit,
            ssh,
            bench,
            phases,
            stopped,
        } = self;
        let mut cx = Cx { host, xen, stopped };
        let (mut wake, power) = control.poll(&mut cx, vif, now);
        if let Some(action) = power {
            let why = match action {
                Power::Off => "xl shutdown (control/shutdown=poweroff)",
                Power::Reboot => "xl reboot (control/shutdown=reboot)",
            };
            cx.power(action, why);
            return None;
        }
        wake.merge(vif.poll(&mut cx, opts, now));
        if let Some(net) = vif.net.as_mut() {
            for round in 0..MAX_ROUNDS {
                let mut w = net.poll(&mut cx, now);
                if let Some(ci) = cloudinit.as_mut() {
                    w.merge(ci.poll(net, &mut cx, now));
                    if let (SshState::Waiting, Some(md)) = (&*ssh, ci.metadata.as_ref()) {
                        *ssh = match Ssh::start(&mut cx, md, opts.ssh_port, &opts.ssh_user) {
                            Some(s) => SshState::Running(s),
                            None => SshState::Off,
                        };
                    }
                    if let (SshState::Running(s), Some(md)) = (&mut *ssh, ci.metadata.as_ref()) {
                        let facts = Facts {
                            boot_ns: *boot_ns,
                            metadata: md,
                            cloudinit: ci,
                        };
                        w.merge(s.poll(net, &mut cx, &facts, now));
                    }
                }
                if let Some(b) = bench.as_mut() {
                    w.merge(b.poll(net, &mut cx, now));
                }
                if *cx.stopped {
                    return None;
                }
                // what the services queued: the stack sends it this turn
                let due = net.poll_at(now);
                w.also_at(due);
                wake.merge(w);
                let again = due.is_some_and(|t| t <= now) && w.progressed;
                if !again || round + 1 == MAX_ROUNDS {
                    break;
                }
            }
        }
        // stamped when the turn that reached them ends: netfront's
        // handshake (and any XenStore wait) runs inside the turn
        let reached = cx.host.now_ns();
        if let Some(mut line) = mark_phases(phases, vif, cloudinit, ssh, reached) {
            // what XenStore cost the boot: every request waits a round trip
            let xs = cx.xen.store.stats;
            line.push_str(&format!(
                " xenstore_requests={} xenstore_request_ms={}",
                xs.requests,
                xs.request_ns / 1_000_000
            ));
            cx.say(&format!("boot: phases {}", line));
            cx.report("data/appliance/boot-phases", &line);
        }
        if control.pending(&mut cx) {
            // a XenStore wait in this turn read events off the ring: they
            // are ours to handle next turn, not after the next wakeup
            wake.also_at(Some(now));
            wake = wake.progressed();
        }
        let mut next = wake.at;
        if !wake.progressed && wake.due(now) {
            // asked for "now" but nothing moved: whatever it waits for
            // brings an event; never spin on it
            next = Some(now.saturating_add(STALL_SLEEP_NS));
        }
        next
    }
}

/// Where the instance's configuration comes from: a network source the
/// command line names wins; else a seed disk (whose `network-config` may
/// give the address, unless `ip=` did); else cloud-init's own selection
/// over the network.
fn datasource<P: Platform>(
    cx: &mut Cx<'_, P>,
    opts: &mut Options,
    boot_ns: u64,
    seed: u32,
    vbds: alloc::vec::Vec<xenbus::Device>,
) -> CloudInit {
    use cloudinit::select::Ds;
    let target = opts.imds.clone().unwrap_or_default();
    let disk_overrides = match &opts.ds {
        Some(ds) if ds.is_network() => {
            return CloudInit::network(cx, opts.ds.clone(), target, boot_ns, seed)
        }
        Some(Ds::NoCloud { overrides, .. }) => Some(overrides.clone()),
        _ => None,
    };
    let wants_disk = disk_overrides.is_some();
    match seed::find(cx, &disk_overrides.unwrap_or_default(), vbds) {
        Some(s) => {
            if let (
                Some(cloudinit::netconfig::NetConfig::Static {
                    addr,
                    prefix_len,
                    gateway,
                }),
                None,
            ) = (s.network, opts.ip)
            {
                opts.ip = Some(options::Ipv4Cidr { addr, prefix_len });
                opts.gw = gateway;
                cx.say("net: address from the seed's network-config");
            }
            CloudInit::from_seed(cx, s.metadata, boot_ns, cx.host.now_ns())
        }
        None if wants_disk => {
            // ds=nocloud without s=: the seed had to be a disk
            CloudInit::network(cx, opts.ds.clone(), target, boot_ns, seed)
        }
        None => CloudInit::network(cx, None, target, boot_ns, seed),
    }
}

/// The milestones reached so far; the report once the last one is.
fn mark_phases<P: Platform>(
    phases: &mut Phases,
    vif: &Vif<P>,
    cloudinit: &Option<CloudInit>,
    ssh: &SshState,
    now: u64,
) -> Option<alloc::string::String> {
    let mut line = None;
    let mut mark = |p| {
        if let Some(l) = phases.mark(p, now) {
            line = Some(l);
        }
    };
    if let Some(net) = vif.net.as_ref() {
        mark(Phase::Netfront);
        if net.configured() {
            mark(Phase::Address);
        }
    }
    if cloudinit.as_ref().is_some_and(|c| c.metadata.is_some()) {
        mark(Phase::Metadata);
    }
    if matches!(ssh, SshState::Running(_)) {
        mark(Phase::Ssh);
    }
    line
}

/// Say what we support, list our devices, and publish what we are: the
/// kernel calls this once XenStore is connected, before any selftest.
pub fn announce<P: Platform>(host: &mut P, xen: &mut Xen<P>) -> Result<Found, xenstore::Error> {
    use xenstore::Op;
    // everything independent in one round trip (each costs ~8 ms of a boot
    // under the harness), the devices' nodes in a second
    let mut ops = alloc::vec::Vec::from(xenbus::control_ops());
    ops.extend([
        Op::Watch("device/vif", vif::DEVICES_TOKEN),
        Op::Write("data/appliance/version", VERSION.as_bytes()),
        Op::Write("data/appliance/status", b"running"),
        Op::Read("domid"),
        Op::Directory("device/vif"),
        Op::Directory("device/vbd"),
    ]);
    let mut got = xen.store.batch(&ops)?.into_iter();
    let mut next = || got.next().unwrap_or(Err(xenstore::Error::Timeout));
    for _ in 0..ops.len() - 3 {
        next()?; // control, the device watch and our reports must be in place
    }
    let home: Result<alloc::string::String, _> = next().map(|v| {
        alloc::string::String::from_utf8_lossy(&v)
            .trim_end_matches('\0')
            .into()
    });
    host.console(&format!(
        "xenstore: connected domid={} control=poweroff,reboot",
        report::quoted(home.as_deref().unwrap_or(""))
    ));
    // a device directory that cannot be read is said and left to the
    // vif's own look (its watch is set) and to no seed: never the boot's end
    let (vif_dir, vbd_dir) = (next(), next());
    let listed = xenbus::device_ids("vif", vif_dir)
        .and_then(|mut ids| {
            ids.extend(xenbus::device_ids("vbd", vbd_dir)?);
            Ok(ids)
        })
        .and_then(|ids| xenbus::read_devices(&mut xen.store, &ids));
    let (vifs, vbds) = match listed {
        Ok(devs) => devs
            .into_iter()
            .partition::<alloc::vec::Vec<_>, _>(|d| d.path.starts_with("device/vif/")),
        Err(e) => {
            host.console(&format!(
                "xenstore: error reason={}",
                report::quoted(&format!("devices: {}", e))
            ));
            Default::default()
        }
    };
    for d in &vifs {
        host.console(&format!(
            "xenstore: device {} backend={} backend-id={} mac={}",
            report::quoted(d.path.trim_start_matches("device/")),
            report::quoted(&d.backend),
            d.backend_id,
            report::quoted(d.mac.as_deref().unwrap_or("-"))
        ));
    }
    Ok(Found { vifs, vbds })
}

/// The devices `announce` found: the first connect and the seed disks
/// start from them instead of asking again.
#[derive(Clone, Debug, Default)]
pub struct Found {
    pub vifs: alloc::vec::Vec<xenbus::Device>,
    pub vbds: alloc::vec::Vec<xenbus::Device>,
}
