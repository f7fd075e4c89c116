//! A host on the other side of the simulated netback, with its own smoltcp
//! stack: dom0 in the real harness. It serves DHCP (a small server whose
//! answers tests can bend: odd lease times, NAKs, silence) and HTTP on port
//! 80 through a handler closure (the metadata service), at 10.0.0.1 and
//! 169.254.169.254. Tests also use its socket set for their own clients
//! (ping, TCP) and `inject` raw frames at the guest (floods, garbage).

use std::cell::RefCell;
use std::rc::Rc;

use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{Device, DeviceCapabilities, Medium, RxToken, TxToken};
use smoltcp::socket::{tcp, udp};
use smoltcp::time::Instant;
use smoltcp::wire::{
    DhcpMessageType, DhcpPacket, DhcpRepr, EthernetAddress, HardwareAddress, IpAddress, IpCidr,
    IpEndpoint, Ipv4Address,
};

use crate::netback::SimNetback;

pub const PEER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
pub const PEER_IP: [u8; 4] = [10, 0, 0, 1];
pub const IMDS_IP: [u8; 4] = [169, 254, 169, 254];

fn v4(a: [u8; 4]) -> Ipv4Address {
    Ipv4Address::new(a[0], a[1], a[2], a[3])
}

/// How the DHCP server answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DhcpMode {
    Normal,
    /// OFFERs, then NAKs every REQUEST.
    NakAll,
    /// Never answers.
    Silent,
}

#[derive(Clone, Debug)]
pub struct DhcpServer {
    pub mode: DhcpMode,
    pub offer: [u8; 4],
    pub mask: [u8; 4],
    pub router: Option<[u8; 4]>,
    pub lease_s: Option<u32>,
    pub renew_s: Option<u32>,
    pub rebind_s: Option<u32>,
    /// Packets the guest sent to port 67, by message type.
    pub discovers: u32,
    pub requests: u32,
    pub other: u32,
}

impl Default for DhcpServer {
    fn default() -> Self {
        DhcpServer {
            mode: DhcpMode::Normal,
            offer: [10, 0, 0, 50],
            mask: [255, 255, 255, 0],
            router: Some(PEER_IP),
            lease_s: Some(3600),
            renew_s: None,
            rebind_s: None,
            discovers: 0,
            requests: 0,
            other: 0,
        }
    }
}

/// An HTTP request as the handler sees it.
pub struct HttpRequest {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
}

/// (status, body) for a request.
pub type Handler = Box<dyn FnMut(&HttpRequest) -> (u16, Vec<u8>)>;

/// The peer's side of the wire: frames the guest sent come out of the
/// netback; ours go into its queue for the guest.
pub struct PeerDev {
    nb: Rc<RefCell<SimNetback>>,
}

/// One frame from the guest (tests with their own peer device use these
/// tokens too).
pub struct PeerRx(pub Vec<u8>);
/// Sends a frame to the guest.
pub struct PeerTx(pub Rc<RefCell<SimNetback>>);

impl RxToken for PeerRx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl TxToken for PeerTx {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut b = vec![0u8; len];
        let r = f(&mut b);
        self.0.borrow_mut().to_guest.push_back(b);
        r
    }
}

impl Device for PeerDev {
    type RxToken<'a> = PeerRx;
    type TxToken<'a> = PeerTx;
    fn receive(&mut self, _t: Instant) -> Option<(PeerRx, PeerTx)> {
        let mut nb = self.nb.borrow_mut();
        if nb.from_guest.is_empty() {
            return None;
        }
        let f = nb.from_guest.remove(0);
        Some((PeerRx(f), PeerTx(self.nb.clone())))
    }
    fn transmit(&mut self, _t: Instant) -> Option<PeerTx> {
        Some(PeerTx(self.nb.clone()))
    }
    fn capabilities(&self) -> DeviceCapabilities {
        let mut c = DeviceCapabilities::default();
        c.medium = Medium::Ethernet;
        c.max_transmission_unit = 1514;
        c
    }
}

struct HttpSlot {
    handle: SocketHandle,
    request: Vec<u8>,
    answered: bool,
}

pub struct Peer {
    nb: Rc<RefCell<SimNetback>>,
    dev: PeerDev,
    pub iface: Interface,
    pub sockets: SocketSet<'static>,
    dhcp_socket: SocketHandle,
    http: Vec<HttpSlot>,
    handler: Option<Handler>,
    pub dhcp: DhcpServer,
    /// HTTP requests served.
    pub http_requests: u32,
}

const HTTP_SLOTS: usize = 4;

fn instant(ns: u64) -> Instant {
    Instant::from_micros((ns / 1000) as i64)
}

impl Peer {
    pub fn new(nb: Rc<RefCell<SimNetback>>, now_ns: u64) -> Peer {
        let mut dev = PeerDev { nb: nb.clone() };
        let mut iface = Interface::new(
            Config::new(HardwareAddress::Ethernet(EthernetAddress(PEER_MAC))),
            &mut dev,
            instant(now_ns),
        );
        iface.update_ip_addrs(|a| {
            let _ = a.push(IpCidr::new(IpAddress::Ipv4(v4(PEER_IP)), 24));
            let _ = a.push(IpCidr::new(IpAddress::Ipv4(v4(IMDS_IP)), 32));
        });
        let mut sockets = SocketSet::new(Vec::new());
        let mut u = udp::Socket::new(
            udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; 16], vec![0; 16 * 1024]),
            udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; 16], vec![0; 16 * 1024]),
        );
        u.bind(67).expect("bind 67");
        let dhcp_socket = sockets.add(u);
        let mut p = Peer {
            nb,
            dev,
            iface,
            sockets,
            dhcp_socket,
            http: Vec::new(),
            handler: None,
            dhcp: DhcpServer::default(),
            http_requests: 0,
        };
        for _ in 0..HTTP_SLOTS {
            let h = p.http_listener();
            p.http.push(HttpSlot {
                handle: h,
                request: Vec::new(),
                answered: false,
            });
        }
        p
    }

    fn http_listener(&mut self) -> SocketHandle {
        let mut s = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; 8192]),
            tcp::SocketBuffer::new(vec![0; 32768]),
        );
        s.listen(80).expect("listen 80");
        self.sockets.add(s)
    }

    /// Serve HTTP on port 80 with this handler.
    pub fn serve_http(&mut self, h: Handler) {
        self.handler = Some(h);
    }

    /// A raw Ethernet frame for the guest.
    pub fn inject(&self, frame: Vec<u8>) {
        self.nb.borrow_mut().to_guest.push_back(frame);
    }

    /// Run the peer's stack and servers once.
    pub fn step(&mut self, now_ns: u64) {
        for _ in 0..4 {
            self.iface
                .poll(instant(now_ns), &mut self.dev, &mut self.sockets);
            let a = self.serve_dhcp();
            let b = self.serve_http_once();
            if !a && !b {
                break;
            }
        }
    }

    fn serve_dhcp(&mut self) -> bool {
        let mut any = false;
        loop {
            let s = self.sockets.get_mut::<udp::Socket>(self.dhcp_socket);
            let Ok((data, _meta)) = s.recv() else { break };
            any = true;
            let data = data.to_vec();
            let Ok(pkt) = DhcpPacket::new_checked(&data[..]) else {
                self.dhcp.other += 1;
                continue;
            };
            let Ok(req) = DhcpRepr::parse(&pkt) else {
                self.dhcp.other += 1;
                continue;
            };
            let reply_type = match req.message_type {
                DhcpMessageType::Discover => {
                    self.dhcp.discovers += 1;
                    DhcpMessageType::Offer
                }
                DhcpMessageType::Request => {
                    self.dhcp.requests += 1;
                    if self.dhcp.mode == DhcpMode::NakAll {
                        DhcpMessageType::Nak
                    } else {
                        DhcpMessageType::Ack
                    }
                }
                _ => {
                    self.dhcp.other += 1;
                    continue;
                }
            };
            if self.dhcp.mode == DhcpMode::Silent {
                continue;
            }
            let nak = reply_type == DhcpMessageType::Nak;
            let reply = DhcpRepr {
                message_type: reply_type,
                transaction_id: req.transaction_id,
                secs: 0,
                client_hardware_address: req.client_hardware_address,
                client_ip: Ipv4Address::UNSPECIFIED,
                your_ip: if nak {
                    Ipv4Address::UNSPECIFIED
                } else {
                    v4(self.dhcp.offer)
                },
                server_ip: v4(PEER_IP),
                router: if nak { None } else { self.dhcp.router.map(v4) },
                subnet_mask: if nak { None } else { Some(v4(self.dhcp.mask)) },
                relay_agent_ip: Ipv4Address::UNSPECIFIED,
                broadcast: false,
                requested_ip: None,
                client_identifier: None,
                server_identifier: Some(v4(PEER_IP)),
                parameter_request_list: None,
                dns_servers: None,
                max_size: None,
                lease_duration: if nak { None } else { self.dhcp.lease_s },
                renew_duration: if nak { None } else { self.dhcp.renew_s },
                rebind_duration: if nak { None } else { self.dhcp.rebind_s },
                additional_options: &[],
            };
            let mut buf = vec![0u8; reply.buffer_len()];
            let mut out = DhcpPacket::new_unchecked(&mut buf[..]);
            if reply.emit(&mut out).is_err() {
                continue;
            }
            let to = IpEndpoint::new(IpAddress::Ipv4(Ipv4Address::BROADCAST), 68);
            let s = self.sockets.get_mut::<udp::Socket>(self.dhcp_socket);
            let _ = s.send_slice(&buf, to);
        }
        any
    }

    fn serve_http_once(&mut self) -> bool {
        let mut any = false;
        for i in 0..self.http.len() {
            let h = self.http[i].handle;
            let s = self.sockets.get_mut::<tcp::Socket>(h);
            while s.can_recv() {
                let slot = &mut self.http[i];
                let _ = s.recv(|b| {
                    slot.request.extend_from_slice(b);
                    (b.len(), ())
                });
                any = true;
            }
            let slot = &mut self.http[i];
            if !slot.answered {
                if let Some(end) = find(&slot.request, b"\r\n\r\n") {
                    let req = parse_request(&slot.request[..end]);
                    slot.answered = true;
                    self.http_requests += 1;
                    let (status, body) = match self.handler.as_mut() {
                        Some(f) => f(&req),
                        None => (404, b"no handler".to_vec()),
                    };
                    let mut resp = format!(
                        "HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        status,
                        body.len()
                    )
                    .into_bytes();
                    resp.extend_from_slice(&body);
                    let _ = s.send_slice(&resp);
                    s.close();
                    any = true;
                }
            }
            if !s.is_open() || s.state() == tcp::State::TimeWait {
                s.abort();
                let _ = s.listen(80);
                let slot = &mut self.http[i];
                slot.request.clear();
                slot.answered = false;
            }
        }
        any
    }
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

fn parse_request(head: &[u8]) -> HttpRequest {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let first = lines.next().unwrap_or("");
    let mut parts = first.split(' ');
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    HttpRequest {
        method,
        path,
        headers,
    }
}
