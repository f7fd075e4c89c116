//! TCP/UDP checksums, done by the driver rather than by smoltcp.
//!
//! GSO needs checksum offload (Linux drops TSO from a device without it), so
//! we let the backend skip checksums both ways. smoltcp's checksum settings
//! are per device, not per packet, so the driver owns them for TCP and UDP
//! over IPv4:
//! - RX: a packet flagged `csum_blank` carries only the pseudo-header sum
//!   and, as netif.h says, was validated by whoever sent it (dom0's own
//!   stack, another guest); one flagged `data_validated` was checked by the
//!   backend (which could forge any packet anyway). A blank TCP sum is left
//!   as it is (smoltcp does not read it, and completing a 64 KiB GSO
//!   packet's sum was a second pass over its data; Linux's netfront does
//!   not compute it either); a blank UDP sum is completed (a small packet,
//!   and the DHCP client reads UDP from a raw socket and checks its sum).
//!   Any other is verified here and dropped if wrong. smoltcp verifies
//!   neither.
//! - TX: smoltcp leaves TCP checksums zero; we put the pseudo-header sum in
//!   and flag the request `csum_blank | data_validated`, as Linux does for
//!   CHECKSUM_PARTIAL: whoever delivers the packet outside completes it. UDP
//!   and ICMP stay with smoltcp (small, rare packets).
//!
//! Everything is parsed with smoltcp's checked wire views over our own copy
//! of the packet: never over a page the backend can still write.

use smoltcp::wire::{
    checksum, EthernetFrame, EthernetProtocol, IpAddress, IpProtocol, Ipv4Packet, TcpPacket,
    UdpPacket,
};

/// What the receive side did with a packet's checksum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rx {
    /// Not TCP or UDP over unfragmented IPv4: left to smoltcp.
    Other,
    /// The backend said it checked the data.
    Trusted,
    /// Blank on arrival (`csum_blank`), TCP: validated by the sender, left as is.
    Blank,
    /// Blank on arrival (`csum_blank`), UDP: we computed it.
    Completed,
    /// We verified it.
    Verified,
    /// Wrong checksum, or a TCP/UDP header that does not parse: drop.
    Bad,
}

/// Check the TCP/UDP checksum of a received Ethernet frame, or take the
/// backend's word for it.
pub fn rx(frame: &mut [u8], csum_blank: bool, validated: bool) -> Rx {
    let Ok(mut eth) = EthernetFrame::new_checked(frame) else {
        return Rx::Other;
    };
    if eth.ethertype() != EthernetProtocol::Ipv4 {
        return Rx::Other;
    }
    let Ok(mut ip) = Ipv4Packet::new_checked(eth.payload_mut()) else {
        return Rx::Bad; // smoltcp would drop it too; never let it past unverified
    };
    if ip.more_frags() || ip.frag_offset() != 0 {
        return Rx::Other; // no L4 header to speak of; smoltcp drops fragments
    }
    let (src, dst) = (
        IpAddress::Ipv4(ip.src_addr()),
        IpAddress::Ipv4(ip.dst_addr()),
    );
    let proto = ip.next_header();
    let l4 = ip.payload_mut();
    let how = (csum_blank, validated, &src, &dst);
    match proto {
        IpProtocol::Tcp => decide(TcpPacket::new_checked(l4), how),
        IpProtocol::Udp => decide(UdpPacket::new_checked(l4), how),
        _ => Rx::Other,
    }
}

/// The checksum of a TCP or UDP header view.
trait L4 {
    /// Complete a blank sum (UDP), or leave it (TCP: false).
    fn complete_blank(&mut self, src: &IpAddress, dst: &IpAddress) -> bool;
    fn verify(&self, src: &IpAddress, dst: &IpAddress) -> bool;
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> L4 for TcpPacket<T> {
    fn complete_blank(&mut self, _: &IpAddress, _: &IpAddress) -> bool {
        false
    }
    fn verify(&self, src: &IpAddress, dst: &IpAddress) -> bool {
        self.verify_checksum(src, dst)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> L4 for UdpPacket<T> {
    fn complete_blank(&mut self, src: &IpAddress, dst: &IpAddress) -> bool {
        self.fill_checksum(src, dst);
        true
    }
    fn verify(&self, src: &IpAddress, dst: &IpAddress) -> bool {
        self.verify_checksum(src, dst)
    }
}

/// Take a blank or validated checksum as flagged (completing a blank UDP
/// one), verify the rest; a header that does not parse is bad.
fn decide<P: L4>(
    parsed: smoltcp::wire::Result<P>,
    (csum_blank, validated, src, dst): (bool, bool, &IpAddress, &IpAddress),
) -> Rx {
    let Ok(mut p) = parsed else {
        return Rx::Bad;
    };
    if csum_blank {
        if p.complete_blank(src, dst) {
            Rx::Completed
        } else {
            Rx::Blank
        }
    } else if validated {
        Rx::Trusted
    } else if p.verify(src, dst) {
        Rx::Verified
    } else {
        Rx::Bad
    }
}

/// For TCP over IPv4, put the pseudo-header sum into the checksum field
/// smoltcp left zero and return true: the request goes out `csum_blank`.
pub fn tx(frame: &mut [u8]) -> bool {
    let Ok(mut eth) = EthernetFrame::new_checked(frame) else {
        return false;
    };
    if eth.ethertype() != EthernetProtocol::Ipv4 {
        return false;
    }
    let Ok(mut ip) = Ipv4Packet::new_checked(eth.payload_mut()) else {
        return false;
    };
    if ip.next_header() != IpProtocol::Tcp || ip.more_frags() || ip.frag_offset() != 0 {
        return false;
    }
    let (src, dst) = (ip.src_addr(), ip.dst_addr());
    let l4 = ip.payload_mut();
    let len = l4.len() as u32;
    let Ok(mut tcp) = TcpPacket::new_checked(l4) else {
        return false;
    };
    tcp.set_checksum(checksum::pseudo_header_v4(&src, &dst, IpProtocol::Tcp, len));
    true
}

#[cfg(test)]
#[path = "../tests/common/frames.rs"]
mod frames;

#[cfg(test)]
mod tests {
    use super::frames::*;
    use super::*;

    #[test]
    fn a_good_checksum_is_verified_and_a_bad_one_refused() {
        let mut f = tcp_frame(b"hello over tcp");
        assert_eq!(rx(&mut f, false, false), Rx::Verified);
        f[TCP_CSUM] ^= 0x40;
        assert_eq!(rx(&mut f, false, false), Rx::Bad);
        // the backend vouched for it: not our business
        assert_eq!(rx(&mut f, false, true), Rx::Trusted);
        let mut u = udp_frame(b"dhcp-ish");
        assert_eq!(rx(&mut u, false, false), Rx::Verified);
        u[UDP_CSUM + 1] ^= 1;
        assert_eq!(rx(&mut u, false, false), Rx::Bad);
    }

    #[test]
    fn a_blank_checksum_is_left_for_tcp_and_completed_for_udp() {
        let good = tcp_frame(&[0x5a; 3000]);
        // what a Linux peer hands over for CHECKSUM_PARTIAL: the pseudo-header sum
        let mut blank = good.clone();
        assert!(tx(&mut blank));
        assert_ne!(blank, good);
        assert_eq!(rx(&mut blank, true, true), Rx::Blank);
        // blank means the sender validated it: no pass over the data, even
        // for a field that holds anything
        let mut junk = good.clone();
        junk[TCP_CSUM] = 0xde;
        junk[TCP_CSUM + 1] = 0xad;
        assert_eq!(rx(&mut junk, false, false), Rx::Bad);
        assert_eq!(rx(&mut junk, true, false), Rx::Blank);
        // UDP's is completed to the one right sum (the DHCP client checks it)
        let goodu = udp_frame(b"udp payload");
        let mut u = goodu.clone();
        u[UDP_CSUM] = 0;
        u[UDP_CSUM + 1] = 0x77;
        assert_eq!(rx(&mut u, true, true), Rx::Completed);
        assert_eq!(u, goodu);
        // a blank flag does not make a broken header pass
        assert_eq!(rx(&mut junk[..40], true, true), Rx::Bad);
    }

    #[test]
    fn tx_writes_the_pseudo_header_sum_only_for_tcp() {
        let mut f = tcp_frame(b"x");
        f[TCP_CSUM] = 0;
        f[TCP_CSUM + 1] = 0;
        assert!(tx(&mut f));
        let sum = u16::from_be_bytes([f[TCP_CSUM], f[TCP_CSUM + 1]]);
        let len = (f.len() - 34) as u32;
        assert_eq!(
            sum,
            checksum::pseudo_header_v4(&SRC, &DST, IpProtocol::Tcp, len)
        );
        let mut u = udp_frame(b"x");
        let before = u.clone();
        assert!(!tx(&mut u));
        assert_eq!(u, before);
        assert!(!tx(&mut [0u8; 10]));
    }

    #[test]
    fn non_ip_and_broken_headers() {
        let mut arp = tcp_frame(b"");
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert_eq!(rx(&mut arp, false, false), Rx::Other);
        let mut short = tcp_frame(b"");
        short.truncate(14 + 20 + 10); // TCP header cut
        short[16..18].copy_from_slice(&30u16.to_be_bytes()); // IP total length to match
        assert_eq!(rx(&mut short, true, false), Rx::Bad);
        let mut frag = tcp_frame(b"abc");
        frag[14 + 6] |= 0x20; // more fragments
        assert_eq!(rx(&mut frag, false, false), Rx::Other);
        assert_eq!(rx(&mut [0u8; 3], false, false), Rx::Other);
    }
}
