//! A dnsmasq-shaped DHCP server for the tests (and the fuzz seeds): it
//! answers DISCOVER with an OFFER and REQUEST with an ACK, unicast to the
//! offered address like dnsmasq for a client without the broadcast flag,
//! and can be told to misbehave.
#![allow(dead_code)]

use std::net::Ipv4Addr;

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    DhcpMessageType, DhcpPacket, DhcpRepr, IpAddress, IpProtocol, Ipv4Packet, Ipv4Repr, UdpPacket,
    UdpRepr,
};

pub const OFFER: u8 = 2;
pub const ACK: u8 = 5;
pub const NAK: u8 = 6;

/// The options dnsmasq puts in an OFFER/ACK by default, in its order:
/// lease 1 h, T1 30 min, T2 52.5 min, a /24 with its broadcast address,
/// router and DNS.
pub fn dnsmasq_options(server: Ipv4Addr) -> Vec<(u8, Vec<u8>)> {
    let s = server.octets();
    vec![
        (51, 3600u32.to_be_bytes().to_vec()),
        (58, 1800u32.to_be_bytes().to_vec()),
        (59, 3150u32.to_be_bytes().to_vec()),
        (1, vec![255, 255, 255, 0]),
        (28, vec![s[0], s[1], s[2], 255]),
        (3, s.to_vec()),
        (6, s.to_vec()),
    ]
}

/// Encode an option list (53 and 54 first, as dnsmasq does) and END.
pub fn encode_options(kind: u8, server: Ipv4Addr, extra: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut o = vec![53, 1, kind, 54, 4];
    o.extend_from_slice(&server.octets());
    for (code, data) in extra {
        o.push(*code);
        o.push(data.len() as u8);
        o.extend_from_slice(data);
    }
    o.push(255);
    o
}

pub const BOOTREQUEST: u8 = 1;
pub const BOOTREPLY: u8 = 2;

/// A whole IPv4/UDP BOOTP message (`op`: BOOTREQUEST or BOOTREPLY) from port
/// 67 to 68 with both checksums right. `options` is the raw options field,
/// so a test can put anything there.
pub fn bootp_packet(
    op: u8,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    xid: u32,
    chaddr: [u8; 6],
    yiaddr: Ipv4Addr,
    options: &[u8],
) -> Vec<u8> {
    let mut bootp = vec![0u8; 240];
    bootp[0] = op;
    bootp[1] = 1; // Ethernet
    bootp[2] = 6;
    bootp[4..8].copy_from_slice(&xid.to_be_bytes());
    bootp[16..20].copy_from_slice(&yiaddr.octets());
    bootp[20..24].copy_from_slice(&src.octets()); // siaddr, as dnsmasq sets it
    bootp[28..34].copy_from_slice(&chaddr);
    bootp[236..240].copy_from_slice(&[0x63, 0x82, 0x53, 0x63]);
    bootp.extend_from_slice(options);
    udp_packet(src, dst, 67, 68, &bootp)
}

/// A whole IPv4/UDP packet with both checksums right.
pub fn udp_packet(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let udp = UdpRepr {
        src_port: sport,
        dst_port: dport,
    };
    let ip = Ipv4Repr {
        src_addr: src,
        dst_addr: dst,
        next_header: IpProtocol::Udp,
        payload_len: 8 + payload.len(),
        hop_limit: 64,
    };
    let mut buf = vec![0u8; ip.buffer_len() + 8 + payload.len()];
    let caps = ChecksumCapabilities::default();
    let mut p = Ipv4Packet::new_unchecked(&mut buf[..]);
    ip.emit(&mut p, &caps);
    let mut u = UdpPacket::new_unchecked(p.payload_mut());
    udp.emit(
        &mut u,
        &IpAddress::Ipv4(src),
        &IpAddress::Ipv4(dst),
        payload.len(),
        |b| b.copy_from_slice(payload),
        &caps,
    );
    buf
}

/// What the client sent, decoded with smoltcp.
#[derive(Debug, Clone)]
pub struct Sent {
    pub at: u64,
    pub kind: DhcpMessageType,
    pub xid: u32,
    pub secs: u16,
    pub mac: [u8; 6],
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub ciaddr: Ipv4Addr,
    pub requested: Option<Ipv4Addr>,
    pub server_id: Option<Ipv4Addr>,
}

/// Decode a packet from the client; panics on anything malformed (the
/// client must never send that).
pub fn decode(at: u64, packet: &[u8]) -> Sent {
    let ip = Ipv4Packet::new_checked(packet).expect("ipv4");
    assert!(ip.verify_checksum(), "ip checksum");
    let (src, dst) = (ip.src_addr(), ip.dst_addr());
    let udp = UdpPacket::new_checked(ip.payload()).expect("udp");
    assert!(
        udp.verify_checksum(&IpAddress::Ipv4(src), &IpAddress::Ipv4(dst)),
        "udp checksum"
    );
    assert_eq!((udp.src_port(), udp.dst_port()), (68, 67));
    let dhcp = DhcpPacket::new_checked(udp.payload()).expect("bootp");
    let r = DhcpRepr::parse(&dhcp).expect("dhcp");
    Sent {
        at,
        kind: r.message_type,
        xid: r.transaction_id,
        secs: r.secs,
        mac: r.client_hardware_address.0,
        src,
        dst,
        ciaddr: r.client_ip,
        requested: r.requested_ip,
        server_id: r.server_identifier,
    }
}

/// How the server answers one kind of message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Normal,
    Nak,
    Silent,
}

#[derive(Debug, Clone)]
pub struct Server {
    pub id: Ipv4Addr,
    /// The address it offers.
    pub offer: Ipv4Addr,
    /// Options after 53 and 54 in OFFERs and ACKs.
    pub options: Vec<(u8, Vec<u8>)>,
    /// Options for ACKs only, if they differ from the OFFER's.
    pub ack_options: Option<Vec<(u8, Vec<u8>)>>,
    /// Raw bytes in place of the END option, if set (after the encoded
    /// options of every OFFER and ACK).
    pub raw_tail: Option<Vec<u8>>,
    pub on_discover: Answer,
    pub on_request: Answer,
    /// Renewals/rebinds (REQUEST with ciaddr set).
    pub on_renew: Answer,
    /// How long after the client's packet the answer arrives (dnsmasq
    /// probes a new address for 3 s before offering it).
    pub offer_delay_ns: u64,
    /// Answer with this xid instead of the client's.
    pub xid_override: Option<u32>,
    /// Copies of each answer to send (a flooding server).
    pub copies: usize,
    pub answered: usize,
}

impl Server {
    pub fn dnsmasq(id: Ipv4Addr, offer: Ipv4Addr) -> Server {
        Server {
            id,
            offer,
            options: dnsmasq_options(id),
            ack_options: None,
            raw_tail: None,
            on_discover: Answer::Normal,
            on_request: Answer::Normal,
            on_renew: Answer::Normal,
            offer_delay_ns: 0,
            xid_override: None,
            copies: 1,
            answered: 0,
        }
    }

    /// Replace (or add) option `code` in OFFERs and ACKs; `None` removes it.
    pub fn set_option(&mut self, code: u8, data: Option<Vec<u8>>) {
        self.options.retain(|(c, _)| *c != code);
        if let Some(d) = data {
            self.options.push((code, d));
        }
    }

    /// The answers to one client packet, with the delay before each.
    pub fn answer(&mut self, packet: &[u8]) -> Vec<(u64, Vec<u8>)> {
        let s = decode(0, packet);
        let (answer, kind, delay) = match s.kind {
            DhcpMessageType::Discover => (self.on_discover, OFFER, self.offer_delay_ns),
            DhcpMessageType::Request if s.ciaddr != Ipv4Addr::UNSPECIFIED => {
                (self.on_renew, ACK, 0)
            }
            DhcpMessageType::Request => {
                // a REQUEST naming another server declines our offer
                if s.server_id.is_some_and(|id| id != self.id) {
                    return vec![];
                }
                let kind = if s.requested == Some(self.offer) {
                    ACK
                } else {
                    NAK
                };
                (self.on_request, kind, 0)
            }
            _ => return vec![],
        };
        let kind = match answer {
            Answer::Silent => return vec![],
            Answer::Nak => NAK,
            Answer::Normal => kind,
        };
        self.answered += 1;
        let packet = self.reply(kind, s.xid, s.mac);
        vec![(delay, packet); self.copies]
    }

    /// One reply of `kind` for `xid`, as the server would send it.
    pub fn reply(&self, kind: u8, xid: u32, mac: [u8; 6]) -> Vec<u8> {
        let xid = self.xid_override.unwrap_or(xid);
        if kind == NAK {
            // NAKs carry no address and go to the broadcast address
            let opts = encode_options(NAK, self.id, &[]);
            return bootp_packet(
                BOOTREPLY,
                self.id,
                Ipv4Addr::BROADCAST,
                xid,
                mac,
                Ipv4Addr::UNSPECIFIED,
                &opts,
            );
        }
        let list = match (&self.ack_options, kind) {
            (Some(a), ACK) => a,
            _ => &self.options,
        };
        let mut opts = encode_options(kind, self.id, list);
        if let Some(tail) = &self.raw_tail {
            opts.pop();
            opts.extend_from_slice(tail);
        }
        bootp_packet(BOOTREPLY, self.id, self.offer, xid, mac, self.offer, &opts)
    }
}
