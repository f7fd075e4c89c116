//! The client through a real smoltcp 0.14 `Interface` and a raw socket for
//! (IPv4, UDP), over a pair of in-memory Ethernet ports with a fake server
//! on the far end that sees only frames. This is the runtime's driver loop.
//!
//! Found: the raw socket gets every IPv4/UDP packet the interface accepts
//! at the Ethernet layer, before the interface checks the destination
//! address, so an OFFER unicast to the offered address arrives while the
//! interface has no address (no broadcast flag needed), and is then
//! dropped by the interface without an ICMP error. A packet queued on the
//! raw socket leaves as it is: from 0.0.0.0 to 255.255.255.255 with the
//! broadcast MAC, and, once configured, unicast to the server after ARP.

mod support;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::rc::Rc;

use dhcp::{Client, Event};
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{Device, DeviceCapabilities, Medium, RxToken, TxToken};
use smoltcp::socket::raw;
use smoltcp::time::Instant;
use smoltcp::wire::DhcpMessageType::{Discover, Request};
use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol,
    HardwareAddress, IpCidr, IpProtocol, IpVersion, Ipv4Cidr, Ipv4Packet, UdpPacket,
};
use support::server::{decode, Sent, Server};
use support::{MAC, S};

const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const OFFERED: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 50);
const SERVER_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x01]);

type Queue = Rc<RefCell<VecDeque<Vec<u8>>>>;

/// One end of the cable.
struct Port {
    rx: Queue,
    tx: Queue,
}

struct Rx(Vec<u8>);
struct Tx(Queue);

impl RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl TxToken for Tx {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut frame = vec![0; len];
        let r = f(&mut frame);
        self.0.borrow_mut().push_back(frame);
        r
    }
}

impl Device for Port {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx;

    fn receive(&mut self, _: Instant) -> Option<(Rx, Tx)> {
        let frame = self.rx.borrow_mut().pop_front()?;
        Some((Rx(frame), Tx(self.tx.clone())))
    }

    fn transmit(&mut self, _: Instant) -> Option<Tx> {
        Some(Tx(self.tx.clone()))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = 1514;
        caps
    }
}

/// A frame the fake server saw.
#[derive(Debug)]
#[allow(dead_code)] // Other's fields are read through Debug, in failure messages
enum Seen {
    Dhcp {
        dst_mac: EthernetAddress,
        sent: Sent,
    },
    ArpRequest,
    Other(EthernetProtocol, Option<IpProtocol>),
}

fn frame(dst: EthernetAddress, proto: EthernetProtocol, payload: &[u8]) -> Vec<u8> {
    let mut buf = vec![0; 14 + payload.len()];
    let mut f = EthernetFrame::new_unchecked(&mut buf[..]);
    f.set_dst_addr(dst);
    f.set_src_addr(SERVER_MAC);
    f.set_ethertype(proto);
    f.payload_mut().copy_from_slice(payload);
    buf
}

/// The far end: a dnsmasq-shaped server that also answers ARP for itself.
struct FarEnd {
    server: Server,
    seen: Vec<Seen>,
}

impl FarEnd {
    /// The DHCP frames seen from `t` on, with their destination MAC.
    fn dhcp_since(&self, t: u64) -> Vec<(EthernetAddress, Sent)> {
        let dhcp = self.seen.iter().filter_map(|s| match s {
            Seen::Dhcp { dst_mac, sent } => Some((*dst_mac, sent.clone())),
            _ => None,
        });
        dhcp.filter(|(_, s)| s.at >= t).collect()
    }

    fn take(&mut self, now: u64, bytes: &[u8]) -> Vec<Vec<u8>> {
        let f = EthernetFrame::new_checked(bytes).expect("ethernet");
        match f.ethertype() {
            EthernetProtocol::Arp => {
                let arp = ArpRepr::parse(&ArpPacket::new_checked(f.payload()).unwrap()).unwrap();
                let ArpRepr::EthernetIpv4 {
                    operation,
                    source_hardware_addr,
                    source_protocol_addr,
                    target_protocol_addr,
                    ..
                } = arp
                else {
                    panic!("{arp:?}")
                };
                self.seen.push(Seen::ArpRequest);
                if operation != ArpOperation::Request || target_protocol_addr != SERVER {
                    return vec![];
                }
                let reply = ArpRepr::EthernetIpv4 {
                    operation: ArpOperation::Reply,
                    source_hardware_addr: SERVER_MAC,
                    source_protocol_addr: SERVER,
                    target_hardware_addr: source_hardware_addr,
                    target_protocol_addr: source_protocol_addr,
                };
                let mut buf = vec![0; reply.buffer_len()];
                reply.emit(&mut ArpPacket::new_unchecked(&mut buf[..]));
                vec![frame(source_hardware_addr, EthernetProtocol::Arp, &buf)]
            }
            EthernetProtocol::Ipv4 => {
                let ip = Ipv4Packet::new_checked(f.payload()).unwrap();
                let udp = (ip.next_header() == IpProtocol::Udp)
                    .then(|| UdpPacket::new_checked(ip.payload()).unwrap());
                if udp.is_none_or(|u| u.dst_port() != 67) {
                    self.seen
                        .push(Seen::Other(f.ethertype(), Some(ip.next_header())));
                    return vec![];
                }
                self.seen.push(Seen::Dhcp {
                    dst_mac: f.dst_addr(),
                    sent: decode(now, f.payload()),
                });
                let client = EthernetAddress(MAC);
                self.server
                    .answer(f.payload())
                    .into_iter()
                    .map(|(_, ip)| {
                        // NAKs go to everyone, the rest to the client's MAC
                        let to_all = Ipv4Packet::new_checked(&ip[..]).unwrap().dst_addr()
                            == Ipv4Addr::BROADCAST;
                        let dst = if to_all {
                            EthernetAddress::BROADCAST
                        } else {
                            client
                        };
                        frame(dst, EthernetProtocol::Ipv4, &ip)
                    })
                    .collect()
            }
            other => {
                self.seen.push(Seen::Other(other, None));
                vec![]
            }
        }
    }
}

/// The appliance side: interface, raw socket, client.
struct Guest {
    port: Port,
    iface: Interface,
    sockets: SocketSet<'static>,
    raw: SocketHandle,
    client: Client,
    events: Vec<(u64, Event)>,
    /// (OFFERs, ACKs) the client had taken while the interface had no address.
    replies_while_unaddressed: (u64, u64),
}

fn instant(ns: u64) -> Instant {
    Instant::from_micros((ns / 1000) as i64)
}

impl Guest {
    fn new(port: Port) -> Guest {
        let mut port = port;
        let config = Config::new(HardwareAddress::Ethernet(EthernetAddress(MAC)));
        let iface = Interface::new(config, &mut port, instant(0));
        let buffer =
            || raw::PacketBuffer::new(vec![raw::PacketMetadata::EMPTY; 8], vec![0; 8 * 1500]);
        let socket = raw::Socket::new(
            Some(IpVersion::Ipv4),
            Some(IpProtocol::Udp),
            buffer(),
            buffer(),
        );
        let mut sockets = SocketSet::new(vec![]);
        let raw = sockets.add(socket);
        let client = Client::new(MAC, 42);
        Guest {
            port,
            iface,
            sockets,
            raw,
            client,
            events: vec![],
            replies_while_unaddressed: (0, 0),
        }
    }

    /// One turn of the driver loop at `now`.
    fn poll(&mut self, now: u64) {
        self.iface
            .poll(instant(now), &mut self.port, &mut self.sockets);
        let raw = self.sockets.get_mut::<raw::Socket>(self.raw);
        while let Ok(packet) = raw.recv() {
            self.client.receive(now, packet);
        }
        if self.iface.ip_addrs().is_empty() {
            let c = self.client.counters();
            self.replies_while_unaddressed = (c.received_offer, c.received_ack);
        }
        while let Some(packet) = self.client.transmit(now) {
            raw.send_slice(&packet).expect("raw socket queue");
        }
        while let Some(e) = self.client.take_event() {
            match &e {
                Event::Configured(l) => {
                    let cidr = Ipv4Cidr::new(l.address, l.prefix_len);
                    self.iface.update_ip_addrs(|a| {
                        a.clear();
                        a.push(IpCidr::Ipv4(cidr)).unwrap();
                    });
                    self.iface.routes_mut().remove_default_ipv4_route();
                    if let Some(r) = l.router {
                        self.iface.routes_mut().add_default_ipv4_route(r).unwrap();
                    }
                }
                Event::Deconfigured(_) => {
                    self.iface.update_ip_addrs(|a| a.clear());
                    self.iface.routes_mut().remove_default_ipv4_route();
                }
            }
            self.events.push((now, e));
        }
        self.iface
            .poll(instant(now), &mut self.port, &mut self.sockets);
    }
}

#[test]
fn the_raw_socket_carries_discovery_and_renewal_through_a_real_interface() {
    let (to_guest, to_server): (Queue, Queue) = Default::default();
    let mut guest = Guest::new(Port {
        rx: to_guest.clone(),
        tx: to_server.clone(),
    });
    let mut far = FarEnd {
        server: Server::dnsmasq(SERVER, OFFERED),
        seen: vec![],
    };

    // run both ends in 10 ms steps through the first second, then jump to T1
    let run = |guest: &mut Guest, far: &mut FarEnd, from: u64, to: u64| {
        let mut now = from;
        while now <= to {
            guest.poll(now);
            let frames: Vec<_> = to_server.borrow_mut().drain(..).collect();
            for f in frames {
                to_guest.borrow_mut().extend(far.take(now, &f));
            }
            now += S / 100;
        }
    };
    run(&mut guest, &mut far, 0, S);

    let dhcp = far.dhcp_since(0);
    // the DISCOVER left the interface from 0.0.0.0 to the broadcast address
    let (mac, d) = &dhcp[0];
    assert_eq!(
        (d.kind, d.src, d.dst, *mac),
        (
            Discover,
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::BROADCAST,
            EthernetAddress::BROADCAST
        )
    );
    // the OFFER, unicast to 10.0.0.50 at our MAC, reached the client while
    // the interface had no address: it answered with a REQUEST
    let (mac, r) = &dhcp[1];
    assert_eq!(
        (r.kind, r.src, r.dst, *mac),
        (
            Request,
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::BROADCAST,
            EthernetAddress::BROADCAST
        )
    );
    assert_eq!(r.requested, Some(OFFERED));
    // both unicast replies came in before the interface had an address
    assert_eq!(guest.replies_while_unaddressed, (1, 1));
    assert_eq!(dhcp.len(), 2);
    // the ACK (unicast too) configured the interface
    assert!(matches!(&guest.events[..], [(_, Event::Configured(l))] if l.address == OFFERED));
    assert_eq!(guest.iface.ipv4_addr(), Some(OFFERED));
    let c = *guest.client.counters();
    assert_eq!(
        (c.received_offer, c.received_ack, c.ignored.total()),
        (1, 1, 0)
    );

    // T1: the renewal goes unicast to the server, after the interface ARPs for it
    let t1 = guest.client.poll_at().unwrap();
    assert_eq!(t1, r.at + 1800 * S, "T1 counts from the REQUEST");
    run(&mut guest, &mut far, t1, t1 + S);
    assert!(far.seen.iter().any(|s| matches!(s, Seen::ArpRequest)));
    let renew = far.dhcp_since(t1);
    assert_eq!(renew.len(), 1, "{renew:?}");
    let (mac, r) = &renew[0];
    assert_eq!(
        (r.kind, r.src, r.dst, r.ciaddr, *mac),
        (Request, OFFERED, SERVER, OFFERED, SERVER_MAC)
    );
    // the ACK renewed the lease: next renewal half an hour after the client
    // queued its REQUEST (the frame left a step later, after ARP), no event
    assert!(r.at > t1);
    assert_eq!(guest.client.counters().received_ack, 2);
    assert_eq!(guest.client.poll_at(), Some(t1 + 1800 * S));
    assert_eq!(guest.events.len(), 1);
    // and the interface sent nothing else: no ICMP errors for the replies
    assert!(
        !far.seen.iter().any(|s| matches!(s, Seen::Other(..))),
        "{:?}",
        far.seen
    );
}
