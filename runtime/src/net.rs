//! The network on one NIC: the smoltcp interface and socket set, the
//! address (static from the command line, or DHCP), the counters published
//! for dom0, and ephemeral ports. A `Net` lives as long as its NIC: when the
//! vif is replaced (hotplug) a new `Net` with a new `generation` is made, and
//! every service that holds sockets notices the generation change.

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use smoltcp::iface::{Config, Interface, PollResult, SocketHandle, SocketSet};
use smoltcp::phy::Device;
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpCidr, Ipv4Address, Ipv4Cidr};

use crate::addressing::{Addressing, Event as AddrEvent};
use crate::intervals::{OVERLOAD_REPORT_NS, STATS_PUBLISH_NS};
use crate::options::Ipv4Cidr as OptCidr;
use crate::wake::Wake;
use crate::Cx;
use crate::Platform;

/// A NIC the runtime can drive: a smoltcp device plus what the console,
/// XenStore and `status` say about it.
pub trait Nic: Device {
    /// Take what the backend produced (completions, received frames), a
    /// bounded amount; Ok(true): more is waiting (poll again before
    /// sleeping). Err: the device is down, with why.
    fn service(&mut self) -> Result<bool, String>;
    fn counters(&self) -> Counters;
    fn mac(&self) -> [u8; 6];
    /// `device/vif/0`.
    fn name(&self) -> &str;
    /// The IP MTU in force.
    fn mtu(&self) -> u16;
    /// The most the NIC can take (the backend's limits).
    fn mtu_cap(&self) -> u16;
    /// Ask for an MTU; returns the one in force.
    fn set_mtu(&mut self, mtu: u16) -> u16;
}

/// The driver's counters (netfront's `Stats` is the one set).
pub use netfront::Stats as Counters;

/// The one rendering of the counters (`data/netfront/stats`, `status`,
/// `ifconfig`).
pub fn counters_line(c: &Counters) -> String {
    format!(
        "rx_packets={} rx_bytes={} tx_packets={} tx_bytes={} rx_dropped={} rx_queue_full={} rx_error_status={} rx_bad_length={} rx_bad_gso={} rx_csum_bad={} rx_csum_blank={} rx_gso_packets={} tx_errors={} tx_busy={} tx_dropped={} tx_gso_packets={} notifies={} events={} events_idle={} budget_hits={}",
        c.rx_packets,
        c.rx_bytes,
        c.tx_packets,
        c.tx_bytes,
        c.rx_dropped,
        c.rx_queue_full,
        c.rx_error_status,
        c.rx_bad_length,
        c.rx_bad_gso,
        c.rx_csum_bad,
        c.rx_csum_blank,
        c.rx_gso_packets,
        c.tx_errors,
        c.tx_busy,
        c.tx_dropped,
        c.tx_gso_packets,
        c.notifies,
        c.events,
        c.events_idle,
        c.budget_hits
    )
}

/// `00:16:3e:..` as Xen and Linux write it.
pub fn mac_string(m: [u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

fn new_iface<N: Nic>(nic: &mut N, seed: u64, now: u64) -> Interface {
    let mut config = Config::new(HardwareAddress::Ethernet(EthernetAddress(nic.mac())));
    config.random_seed = seed;
    Interface::new(config, nic, instant(now))
}

pub fn instant(ns: u64) -> Instant {
    Instant::from_micros((ns / 1000) as i64)
}

/// Ports for our outgoing connections: a random start in the dynamic range
/// (RFC 6335), then in turn.
struct Ports {
    next: u16,
}

const DYNAMIC_FIRST: u16 = 49152;
const DYNAMIC_COUNT: u16 = 16384;

impl Ports {
    fn new(seed: u64) -> Ports {
        Ports {
            next: DYNAMIC_FIRST + (seed % DYNAMIC_COUNT as u64) as u16,
        }
    }

    fn take(&mut self) -> u16 {
        let p = self.next;
        self.next = if p == u16::MAX { DYNAMIC_FIRST } else { p + 1 };
        p
    }
}

pub struct Net<N: Nic> {
    pub nic: N,
    pub iface: Interface,
    pub sockets: SocketSet<'static>,
    /// Which network this is (0 at boot, +1 per reconnect): sockets of an
    /// older generation are gone.
    pub generation: u32,
    addressing: Addressing,
    ports: Ports,
    /// smoltcp's seed, for an interface rebuilt after an MTU change.
    seed: u64,
    published: Counters,
    publish_due: u64,
    /// Drops already said on the console, and when the next line may come.
    overload_said: (u64, u64),
    overload_due: u64,
    /// Sockets we closed, kept until their FIN or RST is out (then removed).
    retired: Vec<(SocketHandle, u64)>,
    down: Option<String>,
}

/// A retired socket is dropped after this even if its close never completes.
const RETIRE_TIMEOUT_NS: u64 = 5_000_000_000;

impl<N: Nic> Net<N> {
    /// Bring the stack up on `nic`: a static address if given, else DHCP.
    /// `seed` comes from the hardware RNG (TCP sequence numbers, DHCP
    /// transaction ids, ephemeral ports).
    pub fn new(
        mut nic: N,
        fixed: Option<(OptCidr, Option<[u8; 4]>)>,
        seed: [u64; 2],
        generation: u32,
        now: u64,
    ) -> Net<N> {
        let iface = new_iface(&mut nic, seed[0], now);
        let mut sockets = SocketSet::new(Vec::new());
        let addressing = Addressing::new(fixed, nic.mac(), seed[1].rotate_left(17), &mut sockets);
        Net {
            nic,
            iface,
            sockets,
            generation,
            addressing,
            ports: Ports::new(seed[1]),
            seed: seed[0],
            published: Counters::default(),
            publish_due: 0,
            overload_said: (0, 0),
            overload_due: 0,
            retired: Vec::new(),
            down: None,
        }
    }

    /// Hand a closed (or aborted) TCP socket back: it is removed once its
    /// FIN or RST has gone out, or after RETIRE_TIMEOUT_NS.
    pub fn retire(&mut self, h: SocketHandle, now: u64) {
        self.retired
            .push((h, now.saturating_add(RETIRE_TIMEOUT_NS)));
    }

    fn reap(&mut self, now: u64) -> Option<u64> {
        let sockets = &mut self.sockets;
        self.retired.retain(|&(h, until)| {
            let s = sockets.get_mut::<tcp::Socket>(h);
            let done = matches!(s.state(), tcp::State::Closed | tcp::State::TimeWait);
            if done || now >= until {
                s.abort();
                sockets.remove(h);
                false
            } else {
                true
            }
        });
        self.retired.iter().map(|&(_, t)| t).min()
    }

    pub fn ephemeral_port(&mut self) -> u16 {
        self.ports.take()
    }

    /// Why the NIC went down, once it has.
    pub fn down(&self) -> Option<&str> {
        self.down.as_deref()
    }

    /// An address is configured (static, or a lease).
    pub fn configured(&self) -> bool {
        self.addressing.address().is_some()
    }

    pub fn address(&self) -> Option<Ipv4Cidr> {
        self.addressing.address()
    }

    pub fn gateway(&self) -> Option<Ipv4Address> {
        self.addressing.gateway()
    }

    /// "dhcp" or "static".
    pub fn config_kind(&self) -> &'static str {
        self.addressing.kind()
    }

    /// Run the driver and the stack once.
    pub fn poll<P: Platform>(&mut self, cx: &mut Cx<'_, P>, now: u64) -> Wake {
        if self.down.is_some() {
            return Wake::IDLE;
        }
        let before = self.nic.counters();
        let mut more = match self.nic.service() {
            Ok(more) => more,
            Err(e) => {
                cx.say(&format!(
                    "netfront: error device={} reason={}",
                    self.nic.name(),
                    cloudinit::report::value(&e)
                ));
                self.down = Some(e);
                return Wake::IDLE.progressed();
            }
        };
        let changed = self
            .iface
            .poll(instant(now), &mut self.nic, &mut self.sockets)
            == PollResult::SocketStateChanged;
        let mut wake = Wake::IDLE;
        let (ev, dhcp_at) = self.addressing.poll(&mut self.sockets, now);
        if let Some(ev) = ev {
            self.apply(cx, ev, now);
            wake = wake.progressed();
        }
        wake.also_at(dhcp_at);
        // frames the stack queued or left: push them to the backend now
        match self.nic.service() {
            Ok(m) => more |= m,
            Err(e) => self.down = Some(e),
        }
        if more {
            // the backend produced more than one poll takes: next round
            wake.also_at(Some(now));
            wake = wake.progressed();
        }
        let after = self.nic.counters();
        if changed || after.rx_packets != before.rx_packets || after.tx_packets != before.tx_packets
        {
            wake = wake.progressed();
        }
        wake.also_at(self.addressing.report_waiting(cx, now, &after));
        wake.also_at(self.poll_at(now));
        wake.also_at(self.publish(cx, now));
        wake.also_at(self.report_overload(cx, now, &after));
        wake.also_at(self.reap(now));
        wake
    }

    /// Overload is said, not silent: when frames were dropped or refused
    /// since the last line, one line at most every OVERLOAD_REPORT_NS.
    fn report_overload<P: Platform>(
        &mut self,
        cx: &mut Cx<'_, P>,
        now: u64,
        c: &Counters,
    ) -> Option<u64> {
        let seen = (c.rx_dropped + c.tx_dropped, c.tx_busy);
        if seen == self.overload_said {
            return None;
        }
        if now < self.overload_due {
            return Some(self.overload_due);
        }
        cx.say(&format!(
            "netfront: overload device={} rx_dropped={} rx_queue_full={} rx_error_status={} rx_bad_length={} rx_csum_bad={} tx_busy={} tx_dropped={} new_drops={} new_busy={}",
            self.nic.name(),
            c.rx_dropped,
            c.rx_queue_full,
            c.rx_error_status,
            c.rx_bad_length,
            c.rx_csum_bad,
            c.tx_busy,
            c.tx_dropped,
            seen.0.saturating_sub(self.overload_said.0),
            seen.1.saturating_sub(self.overload_said.1)
        ));
        self.overload_said = seen;
        self.overload_due = now.saturating_add(OVERLOAD_REPORT_NS);
        None
    }

    /// When the stack next needs to run, as things stand now (a service
    /// may have queued data since `poll`: then it is now).
    pub fn poll_at(&mut self, now: u64) -> Option<u64> {
        self.iface
            .poll_delay(instant(now), &self.sockets)
            .map(|d| now.saturating_add(d.total_micros().saturating_mul(1000)))
    }

    fn apply<P: Platform>(&mut self, cx: &mut Cx<'_, P>, ev: AddrEvent, now: u64) {
        match ev {
            AddrEvent::Configured {
                cidr,
                router,
                link_local_via,
                mtu,
                line,
            } => {
                cx.say(&line);
                if let Some(m) = mtu {
                    self.set_mtu(cx, m, now);
                }
                self.configure(cidr, router, link_local_via);
                cx.report("attr/vif/0/ipv4/0", &format!("{}", cidr.address()));
            }
            AddrEvent::Lost { line } => {
                self.iface.update_ip_addrs(|a| a.clear());
                self.iface.routes_mut().update(|r| r.clear());
                cx.say(&line);
            }
        }
    }

    fn configure(
        &mut self,
        cidr: Ipv4Cidr,
        router: Option<Ipv4Address>,
        link_local_via: Option<Ipv4Address>,
    ) {
        self.iface.update_ip_addrs(|a| {
            a.clear();
            let _ = a.push(IpCidr::Ipv4(cidr));
        });
        self.iface.routes_mut().update(|r| r.clear());
        if let Some(r) = router {
            let _ = self.iface.routes_mut().add_default_ipv4_route(r);
        }
        if let Some(via) = link_local_via {
            self.iface.routes_mut().update(|r| {
                let _ = r.push(smoltcp::iface::Route {
                    cidr: IpCidr::Ipv4(crate::addressing::LINK_LOCAL),
                    via_router: via.into(),
                    preferred_until: None,
                    expires_at: None,
                });
            });
        }
    }

    /// DHCP option 26: the NIC takes what it can; smoltcp reads the MTU
    /// only when an interface is made, so a new one is made (the sockets
    /// live in the socket set and stay; the address is applied after).
    fn set_mtu<P: Platform>(&mut self, cx: &mut Cx<'_, P>, want: u16, now: u64) {
        let before = self.nic.mtu();
        let got = self.nic.set_mtu(want);
        if got != before {
            self.iface = new_iface(&mut self.nic, self.seed, now);
        }
        cx.say(&format!(
            "net: mtu={} asked={} cap={} reason=\"dhcp option 26\"",
            got,
            want,
            self.nic.mtu_cap()
        ));
    }

    /// The MTU in force.
    pub fn mtu(&self) -> u16 {
        self.nic.mtu()
    }

    /// `data/netfront/stats` when the counters changed, at most every
    /// STATS_PUBLISH_NS.
    fn publish<P: Platform>(&mut self, cx: &mut Cx<'_, P>, now: u64) -> Option<u64> {
        let c = self.nic.counters();
        if c == self.published {
            return None;
        }
        if now < self.publish_due {
            return Some(self.publish_due);
        }
        cx.report("data/netfront/stats", &counters_line(&c));
        self.published = c;
        self.publish_due = now.saturating_add(STATS_PUBLISH_NS);
        None
    }
}
