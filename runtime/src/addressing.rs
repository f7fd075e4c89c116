//! How the interface gets its address: fixed from the command line, or a
//! DHCP lease from our own client (`dhcp/`, over a smoltcp raw socket). One
//! place says what the address is and tells `Net` when it changes.

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use smoltcp::iface::{SocketHandle, SocketSet};
use smoltcp::socket::raw;
use smoltcp::wire::{IpProtocol, IpVersion, Ipv4Address, Ipv4Cidr};

use crate::intervals::{DHCP_WAIT_REPORT_CAP_NS, DHCP_WAIT_REPORT_FIRST_NS};
use crate::net::Counters;
use crate::options::Ipv4Cidr as OptCidr;
use crate::report::quoted;
use crate::{Cx, Platform};

/// The raw socket sees every UDP packet (the client drops what is not a
/// reply for it): a small ring, a flood only costs drops.
const RAW_PACKETS: usize = 8;
const RAW_BYTES: usize = 8 * 1536;

/// When a lease names no router, the metadata service's link-local network
/// (169.254.0.0/16) is reached through the DHCP server, which is on our
/// subnet: on EC2 and in dom0 it is the host that answers 169.254.169.254.
pub const LINK_LOCAL: Ipv4Cidr = Ipv4Cidr::new(Ipv4Address::new(169, 254, 0, 0), 16);

pub enum Event {
    Configured {
        cidr: Ipv4Cidr,
        router: Option<Ipv4Address>,
        /// A route for 169.254.0.0/16 through this host (no router given).
        link_local_via: Option<Ipv4Address>,
        /// The MTU the lease asks for (DHCP option 26), clamped.
        mtu: Option<u16>,
        /// The console line that says so.
        line: String,
    },
    Lost {
        line: String,
    },
}

pub struct Addressing {
    kind: Kind,
    address: Option<Ipv4Cidr>,
    gateway: Option<Ipv4Address>,
    /// A fixed address still to be announced.
    announce: bool,
    /// Next "still waiting for DHCP" line, and the step (doubling).
    wait_report: Option<(u64, u64)>,
    started: Option<u64>,
}

enum Kind {
    Fixed,
    Dhcp {
        client: dhcp::Client,
        raw: SocketHandle,
    },
}

fn v4(a: [u8; 4]) -> Ipv4Address {
    Ipv4Address::new(a[0], a[1], a[2], a[3])
}

impl Addressing {
    pub fn new(
        fixed: Option<(OptCidr, Option<[u8; 4]>)>,
        mac: [u8; 6],
        seed: u64,
        sockets: &mut SocketSet<'static>,
    ) -> Self {
        let (kind, address, gateway, announce) = match fixed {
            Some((c, gw)) => (
                Kind::Fixed,
                Some(Ipv4Cidr::new(v4(c.addr), c.prefix_len)),
                gw.map(v4),
                true,
            ),
            None => {
                let sock = raw::Socket::new(
                    Some(IpVersion::Ipv4),
                    Some(IpProtocol::Udp),
                    raw::PacketBuffer::new(
                        vec![raw::PacketMetadata::EMPTY; RAW_PACKETS],
                        vec![0; RAW_BYTES],
                    ),
                    raw::PacketBuffer::new(
                        vec![raw::PacketMetadata::EMPTY; RAW_PACKETS],
                        vec![0; RAW_BYTES],
                    ),
                );
                let raw = sockets.add(sock);
                (
                    Kind::Dhcp {
                        client: dhcp::Client::new(mac, seed),
                        raw,
                    },
                    None,
                    None,
                    false,
                )
            }
        };
        Addressing {
            kind,
            address,
            gateway,
            announce,
            wait_report: None,
            started: None,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self.kind {
            Kind::Fixed => "static",
            Kind::Dhcp { .. } => "dhcp",
        }
    }

    pub fn address(&self) -> Option<Ipv4Cidr> {
        if self.announce {
            None // not applied to the interface yet
        } else {
            self.address
        }
    }

    pub fn gateway(&self) -> Option<Ipv4Address> {
        self.gateway
    }

    /// The lease in force (DHCP only), for `status`.
    pub fn lease(&self) -> Option<&dhcp::Lease> {
        match &self.kind {
            Kind::Dhcp { client, .. } => client.lease(),
            Kind::Fixed => None,
        }
    }

    /// Move the DHCP client along (packets in and out, its timers); what
    /// changed, and when it next needs to run.
    pub fn poll(
        &mut self,
        sockets: &mut SocketSet<'static>,
        now: u64,
    ) -> (Option<Event>, Option<u64>) {
        match &mut self.kind {
            Kind::Fixed => {
                if !core::mem::take(&mut self.announce) {
                    return (None, None);
                }
                let Some(cidr) = self.address else {
                    return (None, None);
                };
                let gw = self
                    .gateway
                    .map(|g| format!("{}", g))
                    .unwrap_or_else(|| "-".into());
                let ev = Event::Configured {
                    cidr,
                    router: self.gateway,
                    link_local_via: None,
                    mtu: None,
                    line: format!("net: static ip={} gw={}", cidr, gw),
                };
                (Some(ev), None)
            }
            Kind::Dhcp { client, raw } => {
                let s = sockets.get_mut::<raw::Socket>(*raw);
                // bounded: the ring holds RAW_PACKETS
                while let Ok(p) = s.recv() {
                    client.receive(now, p);
                }
                while let Some(p) = client.transmit(now) {
                    let _ = s.send_slice(&p); // full: the retransmission covers it
                }
                let mut out = None;
                while let Some(ev) = client.take_event() {
                    out = Some(match ev {
                        dhcp::Event::Configured(l) => {
                            let ev = configured(&l);
                            self.address = Some(Ipv4Cidr::new(l.address, l.prefix_len));
                            self.gateway = l.router;
                            self.wait_report = None;
                            ev
                        }
                        dhcp::Event::Deconfigured(why) => {
                            self.address = None;
                            self.gateway = None;
                            let why = match why {
                                dhcp::Reason::LeaseExpired => "expired",
                                dhcp::Reason::Nak => "refused by the server",
                            };
                            Event::Lost {
                                line: format!(
                                    "dhcp: lease lost reason={}; asking again",
                                    quoted(why)
                                ),
                            }
                        }
                    });
                }
                (out, client.poll_at())
            }
        }
    }

    /// While DHCP has no lease: say so, less and less often. Returns when
    /// the next such line is due.
    pub fn report_waiting<P: Platform>(
        &mut self,
        cx: &mut Cx<'_, P>,
        now: u64,
        c: &Counters,
    ) -> Option<u64> {
        let Kind::Dhcp { client, .. } = &self.kind else {
            return None;
        };
        if self.address.is_some() {
            return None;
        }
        let started = *self.started.get_or_insert(now);
        let (due, step) = *self.wait_report.get_or_insert((
            now.saturating_add(DHCP_WAIT_REPORT_FIRST_NS),
            DHCP_WAIT_REPORT_FIRST_NS,
        ));
        if now >= due {
            let d = client.counters();
            cx.say(&format!(
                "dhcp: waiting for a server elapsed_s={} rx_packets={} tx_packets={} offers={} naks={} ignored={}",
                (now - started) / 1_000_000_000,
                c.rx_packets,
                c.tx_packets,
                d.received_offer,
                d.received_nak,
                d.ignored.total()
            ));
            let step = step.saturating_mul(2).min(DHCP_WAIT_REPORT_CAP_NS);
            self.wait_report = Some((now.saturating_add(step), step));
        }
        self.wait_report.map(|(t, _)| t)
    }
}

/// The event and its console line for a new lease.
fn configured(l: &dhcp::Lease) -> Event {
    let cidr = Ipv4Cidr::new(l.address, l.prefix_len);
    let router = l
        .router
        .map(|r| format!("{}", r))
        .unwrap_or_else(|| "-".into());
    let dns: Vec<String> = l.dns_servers.iter().map(|d| format!("{}", d)).collect();
    let link_local_via = (l.router.is_none() && cidr.contains_addr(&l.server)).then_some(l.server);
    let mut line = format!(
        "dhcp: lease ip={} router={} server={} dns={} lease_s={} renew_s={} mtu={}",
        cidr,
        router,
        l.server,
        if dns.is_empty() {
            "-".into()
        } else {
            dns.join(",")
        },
        l.times.lease_s,
        l.times.renew_s,
        l.mtu
            .map(|m| format!("{}", m))
            .unwrap_or_else(|| "-".into()),
    );
    if let Some(via) = link_local_via {
        line.push_str(&format!(" link_local_via={}", via));
    }
    Event::Configured {
        cidr,
        router: l.router,
        link_local_via,
        mtu: l.mtu,
        line,
    }
}
