//! Ethernet + IPv4 frames from 10.0.0.1 to 10.0.0.2 with correct checksums
//! (shared by the integration tests and `csum`'s unit tests).

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    EthernetFrame, EthernetProtocol, IpAddress, IpProtocol, Ipv4Address, Ipv4Packet, Ipv4Repr,
    TcpControl, TcpPacket, TcpRepr, TcpSeqNumber, UdpPacket, UdpRepr,
};

pub const SRC: Ipv4Address = Ipv4Address::new(10, 0, 0, 1);
pub const DST: Ipv4Address = Ipv4Address::new(10, 0, 0, 2);
/// Where the checksum sits in `tcp_frame`'s and `udp_frame`'s frames.
pub const TCP_CSUM: usize = 14 + 20 + 16;
pub const UDP_CSUM: usize = 14 + 20 + 6;

/// An IPv4 frame around `l4_len` bytes that `emit` fills.
fn ipv4_frame(proto: IpProtocol, l4_len: usize, emit: impl FnOnce(&mut [u8])) -> Vec<u8> {
    let ip = Ipv4Repr {
        src_addr: SRC,
        dst_addr: DST,
        next_header: proto,
        payload_len: l4_len,
        hop_limit: 64,
    };
    let mut b = vec![0u8; 14 + 20 + l4_len];
    let mut f = EthernetFrame::new_unchecked(&mut b[..]);
    f.set_ethertype(EthernetProtocol::Ipv4);
    let mut p = Ipv4Packet::new_unchecked(f.payload_mut());
    ip.emit(&mut p, &ChecksumCapabilities::default());
    emit(p.payload_mut());
    b
}

pub fn tcp_frame(payload: &[u8]) -> Vec<u8> {
    let tcp = TcpRepr {
        src_port: 80,
        dst_port: 40000,
        control: TcpControl::None,
        seq_number: TcpSeqNumber(1),
        ack_number: Some(TcpSeqNumber(1)),
        window_len: 100,
        window_scale: None,
        max_seg_size: None,
        sack_permitted: false,
        sack_ranges: [None; 3],
        timestamp: None,
        payload,
    };
    ipv4_frame(IpProtocol::Tcp, tcp.header_len() + payload.len(), |b| {
        tcp.emit(
            &mut TcpPacket::new_unchecked(b),
            &IpAddress::Ipv4(SRC),
            &IpAddress::Ipv4(DST),
            &ChecksumCapabilities::default(),
        )
    })
}

pub fn udp_frame(payload: &[u8]) -> Vec<u8> {
    let udp = UdpRepr {
        src_port: 67,
        dst_port: 68,
    };
    ipv4_frame(IpProtocol::Udp, 8 + payload.len(), |b| {
        udp.emit(
            &mut UdpPacket::new_unchecked(b),
            &IpAddress::Ipv4(SRC),
            &IpAddress::Ipv4(DST),
            payload.len(),
            |b| b.copy_from_slice(payload),
            &ChecksumCapabilities::default(),
        )
    })
}
