//! Hand-made frames for hostile tests: what hping3, a broken stack or an
//! attacker on the LAN puts on the wire, built with smoltcp's wire types.
#![allow(dead_code)]

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol,
    EthernetRepr, Icmpv4Packet, Icmpv4Repr, IpAddress, IpProtocol, Ipv4Address, Ipv4Packet,
    Ipv4Repr, TcpControl, TcpPacket, TcpRepr, TcpSeqNumber, UdpPacket, UdpRepr,
};

pub const GUEST_MAC: [u8; 6] = [0x00, 0x16, 0x3e, 0x00, 0x00, 0x02];

fn eth(
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
    proto: EthernetProtocol,
    payload_len: usize,
) -> (Vec<u8>, EthernetRepr) {
    let repr = EthernetRepr {
        src_addr: EthernetAddress(src_mac),
        dst_addr: EthernetAddress(dst_mac),
        ethertype: proto,
    };
    (vec![0u8; repr.buffer_len() + payload_len], repr)
}

/// An IPv4 packet carrying `l4` (already emitted, checksummed) in a frame.
fn ipv4_frame(
    src_mac: [u8; 6],
    src: [u8; 4],
    dst: [u8; 4],
    proto: IpProtocol,
    l4: &[u8],
) -> Vec<u8> {
    let ip = Ipv4Repr {
        src_addr: Ipv4Address::from(src),
        dst_addr: Ipv4Address::from(dst),
        next_header: proto,
        payload_len: l4.len(),
        hop_limit: 64,
    };
    let (mut buf, e) = eth(
        src_mac,
        GUEST_MAC,
        EthernetProtocol::Ipv4,
        ip.buffer_len() + l4.len(),
    );
    let mut f = EthernetFrame::new_unchecked(&mut buf[..]);
    e.emit(&mut f);
    let mut p = Ipv4Packet::new_unchecked(f.payload_mut());
    ip.emit(&mut p, &ChecksumCapabilities::default());
    p.payload_mut().copy_from_slice(l4);
    buf
}

pub fn tcp(
    src_mac: [u8; 6],
    src: [u8; 4],
    sport: u16,
    dst: [u8; 4],
    dport: u16,
    control: TcpControl,
    seq: u32,
    ack: Option<u32>,
) -> Vec<u8> {
    let repr = TcpRepr {
        src_port: sport,
        dst_port: dport,
        control,
        seq_number: TcpSeqNumber(seq as i32),
        ack_number: ack.map(|a| TcpSeqNumber(a as i32)),
        window_len: 64240,
        window_scale: None,
        max_seg_size: Some(1460),
        sack_permitted: false,
        sack_ranges: [None, None, None],
        timestamp: None,
        payload: &[],
    };
    let mut l4 = vec![0u8; repr.buffer_len()];
    repr.emit(
        &mut TcpPacket::new_unchecked(&mut l4[..]),
        &IpAddress::Ipv4(Ipv4Address::from(src)),
        &IpAddress::Ipv4(Ipv4Address::from(dst)),
        &ChecksumCapabilities::default(),
    );
    ipv4_frame(src_mac, src, dst, IpProtocol::Tcp, &l4)
}

pub fn udp(
    src_mac: [u8; 6],
    src: [u8; 4],
    sport: u16,
    dst: [u8; 4],
    dport: u16,
    payload: &[u8],
) -> Vec<u8> {
    let repr = UdpRepr {
        src_port: sport,
        dst_port: dport,
    };
    let mut l4 = vec![0u8; repr.header_len() + payload.len()];
    repr.emit(
        &mut UdpPacket::new_unchecked(&mut l4[..]),
        &IpAddress::Ipv4(Ipv4Address::from(src)),
        &IpAddress::Ipv4(Ipv4Address::from(dst)),
        payload.len(),
        |b| b.copy_from_slice(payload),
        &ChecksumCapabilities::default(),
    );
    ipv4_frame(src_mac, src, dst, IpProtocol::Udp, &l4)
}

pub fn icmp_echo(src_mac: [u8; 6], src: [u8; 4], dst: [u8; 4], seq: u16) -> Vec<u8> {
    let repr = Icmpv4Repr::EchoRequest {
        ident: 0x4242,
        seq_no: seq,
        data: b"flood",
    };
    let mut l4 = vec![0u8; repr.buffer_len()];
    repr.emit(
        &mut Icmpv4Packet::new_unchecked(&mut l4[..]),
        &ChecksumCapabilities::default(),
    );
    ipv4_frame(src_mac, src, dst, IpProtocol::Icmp, &l4)
}

pub fn arp_request(src_mac: [u8; 6], src: [u8; 4], target: [u8; 4]) -> Vec<u8> {
    let repr = ArpRepr::EthernetIpv4 {
        operation: ArpOperation::Request,
        source_hardware_addr: EthernetAddress(src_mac),
        source_protocol_addr: Ipv4Address::from(src),
        target_hardware_addr: EthernetAddress([0; 6]),
        target_protocol_addr: Ipv4Address::from(target),
    };
    let (mut buf, e) = eth(src_mac, [0xff; 6], EthernetProtocol::Arp, repr.buffer_len());
    let mut f = EthernetFrame::new_unchecked(&mut buf[..]);
    e.emit(&mut f);
    repr.emit(&mut ArpPacket::new_unchecked(f.payload_mut()));
    buf
}

/// The same frame with its last byte changed: a bad L4 checksum.
pub fn corrupt(mut f: Vec<u8>) -> Vec<u8> {
    if let Some(b) = f.last_mut() {
        *b ^= 0xff;
    }
    f
}

/// A fragment (more-fragments set) of a UDP packet: smoltcp here has no
/// reassembly, so it must be dropped at no cost.
pub fn ip_fragment(src_mac: [u8; 6], src: [u8; 4], dst: [u8; 4], id: u16) -> Vec<u8> {
    let mut f = udp(src_mac, src, 9, dst, 9, &[0u8; 64]);
    let mut p = Ipv4Packet::new_unchecked(&mut f[14..]);
    p.set_ident(id);
    p.set_more_frags(true);
    p.fill_checksum();
    f
}
