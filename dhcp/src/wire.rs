//! IPv4/UDP/BOOTP framing through `smoltcp::wire`: which received packets
//! are replies for us, and the whole IPv4 packets we send.

use alloc::vec;
use alloc::vec::Vec;
use core::net::Ipv4Addr;

use smoltcp::phy::{Checksum, ChecksumCapabilities};
use smoltcp::wire::{
    DhcpMessageType, DhcpOpCode, DhcpPacket, DhcpRepr, EthernetAddress, IpAddress, IpProtocol,
    Ipv4Packet, Ipv4Repr, UdpPacket, UdpRepr, DHCP_CLIENT_PORT, DHCP_SERVER_PORT,
};

use crate::counters::Ignore;
use crate::options::{Options, PARAMETER_REQUEST_LIST};

/// BOOTP magic cookie (RFC 2131 3).
const MAGIC_COOKIE: u32 = 0x6382_5363;
/// Where the options start in a BOOTP message (after the magic cookie).
const OPTIONS_START: usize = 240;
/// Ethernet's hardware type (ARP/BOOTP htype 1) and address length.
const HTYPE_ETHERNET: u16 = 1;
const HLEN_ETHERNET: u8 = 6;
/// Largest DHCP message we take (option 57): a whole 1500-byte IPv4
/// packet, netfront's MTU and what dnsmasq reads the option as.
const MAX_MESSAGE_SIZE: u16 = 1500;
/// TTL of what we send: the common default (RFC 1700); DHCP never leaves
/// the link unless a relay forwards it, and relays build their own packet.
const HOP_LIMIT: u8 = 64;

/// A BOOTREPLY for our MAC; the client checks xid, type and server.
#[derive(Debug)]
pub(crate) struct Reply<'a> {
    pub xid: u32,
    pub your_ip: Ipv4Addr,
    pub options: Options<'a>,
}

/// The IPv4 header was checked by the interface before the raw socket
/// copied it (and re-emitted it); the UDP checksum was not, so we do.
fn receive_checksums() -> ChecksumCapabilities {
    let mut caps = ChecksumCapabilities::default();
    caps.ipv4 = Checksum::None;
    caps.udp = Checksum::Both;
    caps
}

/// Read a whole IPv4 packet as a smoltcp raw socket delivers it.
pub(crate) fn parse_reply(ip: &[u8], mac: [u8; 6]) -> Result<Reply<'_>, Ignore> {
    let caps = receive_checksums();
    let ip = Ipv4Packet::new_checked(ip).map_err(|_| Ignore::Malformed)?;
    let ip_repr = Ipv4Repr::parse(&ip, &caps).map_err(|_| Ignore::Malformed)?;
    if ip_repr.next_header != IpProtocol::Udp {
        return Err(Ignore::WrongPorts);
    }
    let udp = UdpPacket::new_checked(ip.payload()).map_err(|_| Ignore::Malformed)?;
    if udp.src_port() != DHCP_SERVER_PORT || udp.dst_port() != DHCP_CLIENT_PORT {
        return Err(Ignore::WrongPorts);
    }
    let (src, dst) = (
        IpAddress::Ipv4(ip_repr.src_addr),
        IpAddress::Ipv4(ip_repr.dst_addr),
    );
    UdpRepr::parse(&udp, &src, &dst, &caps).map_err(|_| Ignore::BadChecksum)?;
    let bootp = udp.payload();
    let dhcp = DhcpPacket::new_checked(bootp).map_err(|_| Ignore::NotDhcp)?;
    if dhcp.magic_number() != MAGIC_COOKIE
        || u16::from(dhcp.hardware_type()) != HTYPE_ETHERNET
        || dhcp.hardware_len() != HLEN_ETHERNET
    {
        return Err(Ignore::NotDhcp);
    }
    if dhcp.opcode() != DhcpOpCode::Reply {
        return Err(Ignore::NotReply);
    }
    if dhcp.client_hardware_address() != EthernetAddress(mac) {
        return Err(Ignore::OtherMac);
    }
    Ok(Reply {
        xid: dhcp.transaction_id(),
        your_ip: dhcp.your_ip(),
        options: Options::parse(bootp.get(OPTIONS_START..).unwrap_or_default()),
    })
}

/// A DISCOVER or REQUEST to send.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Outgoing {
    pub kind: DhcpMessageType,
    pub xid: u32,
    pub secs: u16,
    pub mac: [u8; 6],
    /// ciaddr: our address while renewing/rebinding, else 0.0.0.0.
    pub client_ip: Ipv4Addr,
    /// Option 50 (REQUEST while selecting).
    pub requested_ip: Option<Ipv4Addr>,
    /// Option 54 (REQUEST while selecting).
    pub server_id: Option<Ipv4Addr>,
    /// IPv4 destination (the source is `client_ip`).
    pub dst: Ipv4Addr,
}

/// Build `o` as a whole IPv4 packet with both checksums filled.
pub(crate) fn build(o: &Outgoing) -> Option<Vec<u8>> {
    let mac = EthernetAddress(o.mac);
    let dhcp = DhcpRepr {
        message_type: o.kind,
        transaction_id: o.xid,
        secs: o.secs,
        client_hardware_address: mac,
        client_ip: o.client_ip,
        your_ip: Ipv4Addr::UNSPECIFIED,
        server_ip: Ipv4Addr::UNSPECIFIED,
        relay_agent_ip: Ipv4Addr::UNSPECIFIED,
        // the raw socket receives unicast before we have an address (the
        // integration test proves it), so no need to make servers broadcast
        broadcast: false,
        requested_ip: o.requested_ip,
        client_identifier: Some(mac),
        server_identifier: o.server_id,
        router: None,
        subnet_mask: None,
        parameter_request_list: Some(&PARAMETER_REQUEST_LIST),
        dns_servers: None,
        max_size: Some(MAX_MESSAGE_SIZE),
        lease_duration: None,
        renew_duration: None,
        rebind_duration: None,
        additional_options: &[],
    };
    let udp = UdpRepr {
        src_port: DHCP_CLIENT_PORT,
        dst_port: DHCP_SERVER_PORT,
    };
    let udp_len = udp.header_len().checked_add(dhcp.buffer_len())?;
    let ip = Ipv4Repr {
        src_addr: o.client_ip,
        dst_addr: o.dst,
        next_header: IpProtocol::Udp,
        payload_len: udp_len,
        hop_limit: HOP_LIMIT,
    };
    let mut buf = vec![0u8; ip.buffer_len().checked_add(udp_len)?];
    let caps = ChecksumCapabilities::default();
    let mut ip_packet = Ipv4Packet::new_unchecked(&mut buf[..]);
    ip.emit(&mut ip_packet, &caps);
    let mut udp_packet = UdpPacket::new_unchecked(ip_packet.payload_mut());
    let mut emitted = Err(smoltcp::wire::Error);
    udp.emit(
        &mut udp_packet,
        &IpAddress::Ipv4(o.client_ip),
        &IpAddress::Ipv4(o.dst),
        dhcp.buffer_len(),
        |payload| emitted = dhcp.emit(&mut DhcpPacket::new_unchecked(payload)),
        &caps,
    );
    emitted.ok()?;
    Some(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 1];

    fn discover() -> Vec<u8> {
        build(&Outgoing {
            kind: DhcpMessageType::Discover,
            xid: 0x1234_5678,
            secs: 3,
            mac: MAC,
            client_ip: Ipv4Addr::UNSPECIFIED,
            requested_ip: None,
            server_id: None,
            dst: Ipv4Addr::BROADCAST,
        })
        .unwrap()
    }

    #[test]
    fn discover_is_a_broadcast_from_nowhere_that_smoltcp_reads_back() {
        let buf = discover();
        let ip = Ipv4Packet::new_checked(&buf[..]).unwrap();
        assert!(ip.verify_checksum());
        assert_eq!(ip.src_addr(), Ipv4Addr::UNSPECIFIED);
        assert_eq!(ip.dst_addr(), Ipv4Addr::BROADCAST);
        let udp = UdpPacket::new_checked(ip.payload()).unwrap();
        let (s, d) = (
            IpAddress::Ipv4(ip.src_addr()),
            IpAddress::Ipv4(ip.dst_addr()),
        );
        assert!(udp.verify_checksum(&s, &d));
        assert_eq!((udp.src_port(), udp.dst_port()), (68, 67));
        let dhcp = DhcpPacket::new_checked(udp.payload()).unwrap();
        let r = DhcpRepr::parse(&dhcp).unwrap();
        assert_eq!(r.message_type, DhcpMessageType::Discover);
        assert_eq!(r.transaction_id, 0x1234_5678);
        assert_eq!(r.secs, 3);
        assert_eq!(r.client_identifier, Some(EthernetAddress(MAC)));
        assert_eq!(r.max_size, Some(MAX_MESSAGE_SIZE));
        assert_eq!(r.parameter_request_list, Some(&PARAMETER_REQUEST_LIST[..]));
        assert!(r.requested_ip.is_none() && r.server_identifier.is_none());
    }

    #[test]
    fn our_own_request_echoed_back_is_not_a_reply() {
        // swap the ports so it passes the port filter: the opcode still says request
        let mut buf = discover();
        let ip = Ipv4Packet::new_checked(&mut buf[..]).unwrap();
        let mut ip = ip;
        let mut udp = UdpPacket::new_unchecked(ip.payload_mut());
        udp.set_src_port(67);
        udp.set_dst_port(68);
        udp.set_checksum(0);
        assert_eq!(parse_reply(&buf, MAC).unwrap_err(), Ignore::NotReply);
    }

    #[test]
    fn garbage_and_short_packets_are_malformed() {
        assert_eq!(parse_reply(&[], MAC).unwrap_err(), Ignore::Malformed);
        assert_eq!(
            parse_reply(&[0x45; 19], MAC).unwrap_err(),
            Ignore::Malformed
        );
        let buf = discover();
        for n in 0..buf.len() {
            assert!(parse_reply(&buf[..n], MAC).is_err());
        }
    }

    #[test]
    fn a_corrupted_udp_checksum_is_caught() {
        let mut buf = discover();
        let mut ip = Ipv4Packet::new_unchecked(&mut buf[..]);
        let mut udp = UdpPacket::new_unchecked(ip.payload_mut());
        udp.set_src_port(67);
        udp.set_dst_port(68);
        // swapping the ports keeps the sum: change the xid too
        udp.payload_mut()[4] ^= 0x40;
        assert_eq!(parse_reply(&buf, MAC).unwrap_err(), Ignore::BadChecksum);
    }
}
