//! How the interface gets its address: fixed from the command line, or a
//! DHCP lease. One place says what the address is and tells `Net` when it
//! changes.

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use smoltcp::iface::{SocketHandle, SocketSet};
use smoltcp::socket::dhcpv4;
use smoltcp::wire::{Ipv4Address, Ipv4Cidr};

use crate::intervals::{
    DHCP_DISCOVER_NS, DHCP_REQUEST_NS, DHCP_WAIT_REPORT_CAP_NS, DHCP_WAIT_REPORT_FIRST_NS,
};
use crate::net::Counters;
use crate::options::Ipv4Cidr as OptCidr;
use crate::{Cx, Platform};

pub enum Event {
    Configured {
        cidr: Ipv4Cidr,
        router: Option<Ipv4Address>,
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
    Dhcp(SocketHandle),
}

fn v4(a: [u8; 4]) -> Ipv4Address {
    Ipv4Address::new(a[0], a[1], a[2], a[3])
}

impl Addressing {
    pub fn new(fixed: Option<(OptCidr, Option<[u8; 4]>)>, sockets: &mut SocketSet<'static>) -> Self {
        match fixed {
            Some((c, gw)) => Addressing {
                kind: Kind::Fixed,
                address: None,
                gateway: gw.map(v4),
                announce: true,
                wait_report: None,
                started: None,
                // the address itself is applied through the first poll, so
                // Net has one path for "the address changed"
            }
            .with_address(Ipv4Cidr::new(v4(c.addr), c.prefix_len)),
            None => {
                let mut d = dhcpv4::Socket::new();
                let mut retry = dhcpv4::RetryConfig::default();
                retry.discover_timeout = smoltcp::time::Duration::from_micros(DHCP_DISCOVER_NS / 1000);
                retry.initial_request_timeout =
                    smoltcp::time::Duration::from_micros(DHCP_REQUEST_NS / 1000);
                d.set_retry_config(retry);
                Addressing {
                    kind: Kind::Dhcp(sockets.add(d)),
                    address: None,
                    gateway: None,
                    announce: false,
                    wait_report: None,
                    started: None,
                }
            }
        }
    }

    fn with_address(mut self, c: Ipv4Cidr) -> Self {
        self.address = Some(c);
        self
    }

    pub fn kind(&self) -> &'static str {
        match self.kind {
            Kind::Fixed => "static",
            Kind::Dhcp(_) => "dhcp",
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

    /// What changed since the last call.
    pub fn poll(&mut self, sockets: &mut SocketSet<'static>, _now: u64) -> Option<Event> {
        match self.kind {
            Kind::Fixed => {
                if !core::mem::take(&mut self.announce) {
                    return None;
                }
                let cidr = self.address?;
                let gw = self
                    .gateway
                    .map(|g| format!("{}", g))
                    .unwrap_or_else(|| "-".into());
                Some(Event::Configured {
                    cidr,
                    router: self.gateway,
                    line: format!("net: static ip={} gw={}", cidr, gw),
                })
            }
            Kind::Dhcp(h) => match sockets.get_mut::<dhcpv4::Socket>(h).poll()? {
                dhcpv4::Event::Configured(c) => {
                    let router = c.router.map(|r| format!("{}", r)).unwrap_or_else(|| "-".into());
                    let dns: Vec<String> = c.dns_servers.iter().map(|d| format!("{}", d)).collect();
                    let line = format!(
                        "dhcp: lease ip={} router={} server={} dns={}",
                        c.address,
                        router,
                        c.server.address,
                        if dns.is_empty() { "-".into() } else { dns.join(",") }
                    );
                    self.address = Some(c.address);
                    self.gateway = c.router;
                    self.wait_report = None;
                    Some(Event::Configured {
                        cidr: c.address,
                        router: c.router,
                        line,
                    })
                }
                dhcpv4::Event::Deconfigured => {
                    // the socket's initial state is no news
                    self.address.take()?;
                    self.gateway = None;
                    Some(Event::Lost {
                        line: String::from("dhcp: lease lost; asking again"),
                    })
                }
            },
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
        if !matches!(self.kind, Kind::Dhcp(_)) || self.address.is_some() {
            return None;
        }
        let started = *self.started.get_or_insert(now);
        let (due, step) = *self
            .wait_report
            .get_or_insert((now.saturating_add(DHCP_WAIT_REPORT_FIRST_NS), DHCP_WAIT_REPORT_FIRST_NS));
        if now >= due {
            cx.say(&format!(
                "dhcp: waiting for a server elapsed_s={} rx_packets={} tx_packets={}",
                (now - started) / 1_000_000_000,
                c.rx_packets,
                c.tx_packets
            ));
            let step = step.saturating_mul(2).min(DHCP_WAIT_REPORT_CAP_NS);
            self.wait_report = Some((now.saturating_add(step), step));
        }
        self.wait_report.map(|(t, _)| t)
    }
}
