//! The network: netfront on the first vif, smoltcp on top, a static address
//! from the command line (`ip=10.0.0.2/24 gw=10.0.0.1`).

extern crate alloc;

use alloc::format;
use alloc::vec::Vec;

use cloudinit::options;
use netfront::Netfront;
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::socket::dhcpv4;
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpCidr, Ipv4Address, Ipv4Cidr};
use xenstore::xenbus;

use crate::mem::{KernelPages, Page};
use crate::store::Store;
use crate::xen::events::XenEvents;
use crate::xen::gnttab::XenGrantTable;
use crate::{arch, println};

pub struct Net {
    pub nf: Netfront<Page, XenEvents>,
    pub iface: Interface,
    pub sockets: SocketSet<'static>,
    last_stats: netfront::Stats,
    stats_due_ns: u64,
    /// DHCP client, when no static address was given.
    dhcp: Option<SocketHandle>,
    /// An IPv4 address and route are configured.
    pub configured: bool,
    pub lease: Option<alloc::string::String>,
    /// The default route, static or from the lease.
    pub gateway: Option<Ipv4Address>,
    /// A new lease to write to attr/vif/0/ipv4/0.
    publish_address: bool,
    /// When to next say we are still waiting for DHCP, and the step (doubling).
    dhcp_wait: (u64, u64),
    started_ns: u64,
}

fn instant(ns: u64) -> Instant {
    Instant::from_micros((ns / 1000) as i64)
}

pub const BACKEND_TOKEN: &str = "netfront-backend";
pub const DEVICES_TOKEN: &str = "netfront-devices";

/// Connect the first vif and bring the stack up on it. `reconnects` counts
/// earlier connections (hotplug), for the console.
pub fn up(
    xs: &mut Store,
    gt: &mut XenGrantTable,
    ip: Option<options::Ipv4Cidr>,
    gw: Option<[u8; 4]>,
    reconnects: u32,
) -> Option<Net> {
    let devs = match xenbus::enumerate(xs, "vif") {
        Ok(d) => d,
        Err(e) => {
            println!("netfront: error reason=\"enumerate: {}\"", e);
            return None;
        }
    };
    let Some(dev) = devs.first() else {
        println!("netfront: error reason=\"no vif device\"");
        return None;
    };
    let nf = match Netfront::connect(xs, gt, &mut KernelPages, XenEvents, dev) {
        Ok(nf) => nf,
        Err(e) => {
            println!("netfront: error device={} reason=\"{}\"", dev.path, e);
            return None;
        }
    };
    let m = nf.mac;
    println!(
        "netfront: connected device={} mac={:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x} backend={} evtchn={} rx_bufs={} tx_bufs={} free_refs={} reconnects={}",
        nf.path(), m[0], m[1], m[2], m[3], m[4], m[5], nf.backend(), nf.port, netfront::RX_BUFS, netfront::TX_BUFS, gt.free_count(), reconnects
    );
    // hotplug: the backend going away (xl network-detach) ends this device
    let _ = xs.watch(&format!("{}/state", nf.backend()), BACKEND_TOKEN);
    let mut nf = nf;
    let mut config = Config::new(HardwareAddress::Ethernet(EthernetAddress(m)));
    config.random_seed = arch::rdtsc();
    let now = crate::xen::time::now_ns();
    let mut iface = Interface::new(config, &mut nf, instant(now));
    let mut sockets = SocketSet::new(Vec::new());
    let mut dhcp = None;
    let mut configured = false;
    let mut gw_static = None;
    if let Some(c) = ip {
        let a = c.addr;
        let cidr = Ipv4Cidr::new(Ipv4Address::new(a[0], a[1], a[2], a[3]), c.prefix_len);
        configured = true;
        iface.update_ip_addrs(|a| {
            let _ = a.push(IpCidr::Ipv4(cidr));
        });
        let gw4 = gw.map(|g| Ipv4Address::new(g[0], g[1], g[2], g[3]));
        if let Some(g) = gw4 {
            let _ = iface.routes_mut().add_default_ipv4_route(g);
        }
        gw_static = gw4;
        println!(
            "net: static ip={} gw={}",
            cidr,
            gw4.map(|g| format!("{}", g)).unwrap_or_else(|| "-".into())
        );
        let _ = xenbus::report(xs, "attr/vif/0/ipv4/0", &format!("{}", cidr.address()));
    } else {
        let mut d = dhcpv4::Socket::new();
        // DISCOVER every 4 s (RFC 2131 4.1), not faster: smoltcp takes a new
        // xid for each DISCOVER and drops OFFERs for older ones, and servers
        // check that a new address is free before offering it (dnsmasq: 3 ARP
        // requests 1 s apart, so its OFFER comes 3 s after the DISCOVER). At
        // 2 s every first OFFER was thrown away; a server that took longer
        // than the retry for each DISCOVER would never be heard at all.
        let mut retry = dhcpv4::RetryConfig::default();
        retry.discover_timeout = smoltcp::time::Duration::from_secs(4);
        retry.initial_request_timeout = smoltcp::time::Duration::from_secs(2);
        d.set_retry_config(retry);
        dhcp = Some(sockets.add(d));
        println!("dhcp: start device={}", nf.path());
    }
    Some(Net {
        nf,
        iface,
        sockets,
        last_stats: Default::default(),
        stats_due_ns: 0,
        dhcp,
        configured,
        lease: None,
        gateway: gw_static,
        publish_address: false,
        dhcp_wait: (now + 2_000_000_000, 2_000_000_000),
        started_ns: now,
    })
}

/// Watch our device directory so a new vif (xl network-attach) is noticed.
pub fn watch_devices(xs: &mut Store) {
    let _ = xs.watch("device/vif", DEVICES_TOKEN);
}

impl Net {
    /// Should this device be taken down? (backend closing or gone, or the
    /// driver found the backend misbehaving)
    pub fn should_close(&self, xs: &mut Store) -> Option<alloc::string::String> {
        if let Some(why) = self.nf.is_down() {
            return Some(why.into());
        }
        match xenbus::read_state(xs, self.nf.backend()) {
            Ok(s) if s as u8 >= xenbus::State::Closing as u8 => {
                Some(format!("backend state {:?}", s))
            }
            _ => None,
        }
    }

    /// Closing -> end or quarantine every grant -> Closed.
    pub fn close(self, xs: &mut Store, gt: &mut XenGrantTable, why: &str) {
        let path = alloc::string::String::from(self.nf.path());
        let _ = xs.unwatch(&format!("{}/state", self.nf.backend()), BACKEND_TOKEN);
        let s = self.nf.stats;
        let quarantined = self.nf.shutdown(xs, gt);
        println!(
            "netfront: closed device={} reason=\"{}\" quarantined={} free_refs={} rx_packets={} tx_packets={}",
            path, why, quarantined, gt.free_count(), s.rx_packets, s.tx_packets
        );
    }

    /// Run the driver and the stack; returns when the stack next needs us.
    pub fn poll(&mut self, now_ns: u64) -> Option<u64> {
        // Ok(true): the backend produced more than one poll takes (a ring's
        // worth): come back at once instead of waiting for an event
        let mut more = false;
        if self.nf.is_down().is_none() {
            match self.nf.poll() {
                Ok(m) => more = m,
                Err(e) => println!("netfront: error device={} reason=\"{}\"", self.nf.path(), e),
            }
        }
        if self.nf.is_down().is_some() {
            return None;
        }
        self.iface
            .poll(instant(now_ns), &mut self.nf, &mut self.sockets);
        self.dhcp_events();
        let mut wake = None;
        if self.dhcp.is_some() && !self.configured {
            // no DHCP server yet: smoltcp keeps asking; say so, less and less often
            if now_ns >= self.dhcp_wait.0 {
                println!(
                    "dhcp: waiting for a server elapsed_s={} rx_packets={} tx_packets={}",
                    (now_ns - self.started_ns) / 1_000_000_000,
                    self.nf.stats.rx_packets,
                    self.nf.stats.tx_packets
                );
                let step = (self.dhcp_wait.1 * 2).min(60_000_000_000);
                self.dhcp_wait = (now_ns + step, step);
            }
            wake = Some(self.dhcp_wait.0);
        }
        // the stack may have queued frames or left received ones: poll the ring again soon
        more |= self.nf.poll().unwrap_or(false);
        let next = self
            .iface
            .poll_delay(instant(now_ns), &self.sockets)
            .map(|d| now_ns + d.total_micros() * 1000);
        let next = if more { Some(now_ns) } else { next };
        match (next, wake) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// When the stack next needs to run, as things stand now: the app may
    /// have opened a socket or queued data since `poll` (then it is now).
    pub fn poll_at(&mut self, now_ns: u64) -> Option<u64> {
        self.iface
            .poll_delay(instant(now_ns), &self.sockets)
            .map(|d| now_ns + d.total_micros() * 1000)
    }

    fn dhcp_events(&mut self) {
        let Some(h) = self.dhcp else { return };
        let event = self.sockets.get_mut::<dhcpv4::Socket>(h).poll();
        match event {
            None => {}
            Some(dhcpv4::Event::Configured(c)) => {
                self.iface.update_ip_addrs(|a| {
                    a.clear();
                    let _ = a.push(IpCidr::Ipv4(c.address));
                });
                self.iface.routes_mut().remove_default_ipv4_route();
                if let Some(r) = c.router {
                    let _ = self.iface.routes_mut().add_default_ipv4_route(r);
                }
                self.gateway = c.router;
                let router = c
                    .router
                    .map(|r| format!("{}", r))
                    .unwrap_or_else(|| "-".into());
                let dns: Vec<_> = c.dns_servers.iter().map(|d| format!("{}", d)).collect();
                println!(
                    "dhcp: lease ip={} router={} server={} dns={}",
                    c.address,
                    router,
                    c.server.address,
                    if dns.is_empty() {
                        "-".into()
                    } else {
                        dns.join(",")
                    }
                );
                self.lease = Some(format!("{}", c.address.address()));
                self.configured = true;
                self.publish_address = true;
            }
            Some(dhcpv4::Event::Deconfigured) if !self.configured => {} // the socket's initial state
            Some(dhcpv4::Event::Deconfigured) => {
                println!("dhcp: lease lost; asking again");
                self.iface.update_ip_addrs(|a| a.clear());
                self.iface.routes_mut().remove_default_ipv4_route();
                self.configured = false;
                self.lease = None;
                self.gateway = None;
            }
        }
    }

    /// Publish counters when they changed, at most every 5 s. Returns when
    /// to call again (None: nothing pending).
    pub fn report(&mut self, xs: &mut Store, now_ns: u64) -> Option<u64> {
        if self.publish_address {
            self.publish_address = false;
            if let Some(ip) = &self.lease {
                let _ = xenbus::report(xs, "attr/vif/0/ipv4/0", ip);
            }
        }
        let s = self.nf.stats;
        if s == self.last_stats {
            return None;
        }
        if now_ns < self.stats_due_ns {
            return Some(self.stats_due_ns);
        }
        let line = format!(
            "rx_packets={} rx_bytes={} tx_packets={} tx_bytes={} rx_dropped={} tx_errors={} tx_busy={} rx_csum_blank={} notifies={} events={}",
            s.rx_packets, s.rx_bytes, s.tx_packets, s.tx_bytes, s.rx_dropped, s.tx_errors, s.tx_busy, s.rx_csum_blank, s.notifies, s.events
        );
        let _ = xenbus::report(xs, "data/netfront/stats", &line);
        self.last_stats = s;
        self.stats_due_ns = now_ns + 5_000_000_000;
        None
    }
}
