//! netif ring slots as bytes: requests we emit, responses we parse (each
//! read once, from a local copy). Layouts from `xenabi::netif`.

use xenabi::netif::{
    NetifExtraGso, NetifExtraInfo, NetifRxResponse, NetifTxResponse, RX_SLOT_SIZE, TX_SLOT_SIZE,
    XEN_NETIF_EXTRA_TYPE_GSO, XEN_NETIF_GSO_TYPE_TCPV4,
};

pub fn tx_request(gref: u32, offset: u16, flags: u16, id: u16, size: u16) -> [u8; TX_SLOT_SIZE] {
    let mut b = [0u8; TX_SLOT_SIZE];
    b[0..4].copy_from_slice(&gref.to_le_bytes());
    b[4..6].copy_from_slice(&offset.to_le_bytes());
    b[6..8].copy_from_slice(&flags.to_le_bytes());
    b[8..10].copy_from_slice(&id.to_le_bytes());
    b[10..12].copy_from_slice(&size.to_le_bytes());
    b
}

pub fn rx_request(id: u16, gref: u32) -> [u8; RX_SLOT_SIZE] {
    let mut b = [0u8; RX_SLOT_SIZE];
    b[0..2].copy_from_slice(&id.to_le_bytes());
    b[4..8].copy_from_slice(&gref.to_le_bytes());
    b
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}

pub fn tx_response(b: &[u8; TX_SLOT_SIZE]) -> NetifTxResponse {
    NetifTxResponse {
        id: u16_at(b, 0),
        status: u16_at(b, 2) as i16,
    }
}

pub fn rx_response(b: &[u8; RX_SLOT_SIZE]) -> NetifRxResponse {
    NetifRxResponse {
        id: u16_at(b, 0),
        offset: u16_at(b, 2),
        flags: u16_at(b, 4),
        status: u16_at(b, 6) as i16,
    }
}

/// An extra-info slot that overlays a response (RX) or follows a request (TX).
pub fn extra_info(b: &[u8]) -> NetifExtraInfo {
    let mut u = [0u8; 6];
    u.copy_from_slice(&b[2..8]);
    NetifExtraInfo {
        kind: b[0],
        flags: b[1],
        u,
    }
}

/// The `u.gso` view of an extra-info slot.
pub fn gso(e: &NetifExtraInfo) -> NetifExtraGso {
    NetifExtraGso {
        size: u16::from_le_bytes([e.u[0], e.u[1]]),
        kind: e.u[2],
        pad: e.u[3],
        features: u16::from_le_bytes([e.u[4], e.u[5]]),
    }
}

/// A TX GSO extra slot for a TCPv4 packet cut into `mss`-byte segments.
pub fn tx_gso_extra(mss: u16) -> [u8; TX_SLOT_SIZE] {
    let mut b = [0u8; TX_SLOT_SIZE];
    b[0] = XEN_NETIF_EXTRA_TYPE_GSO;
    b[2..4].copy_from_slice(&mss.to_le_bytes());
    b[4] = XEN_NETIF_GSO_TYPE_TCPV4;
    b
}

/// Parse a MAC address "00:16:3e:aa:bb:cc".
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = s.trim().split(':');
    for m in mac.iter_mut() {
        let p = parts.next()?;
        if p.len() != 2 {
            return None;
        }
        *m = u8::from_str_radix(p, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_layouts() {
        let t = tx_request(0x11223344, 5, 6, 7, 1514);
        assert_eq!(t, [0x44, 0x33, 0x22, 0x11, 5, 0, 6, 0, 7, 0, 0xea, 0x05]);
        assert_eq!(rx_request(9, 0x55), [9, 0, 0, 0, 0x55, 0, 0, 0]);
    }

    #[test]
    fn response_layouts() {
        let r = rx_response(&[3, 0, 10, 0, 1, 0, 0xff, 0xff]);
        assert_eq!((r.id, r.offset, r.flags, r.status), (3, 10, 1, -1));
        let t = tx_response(&[4, 0, 0xfe, 0xff, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!((t.id, t.status), (4, -2));
    }

    #[test]
    fn extra_info_layouts() {
        // type GSO, flags MORE, size 1448, gso type TCPv4, pad, features 0
        let e = extra_info(&[1, 1, 0xa8, 0x05, 1, 0, 0, 0]);
        assert_eq!((e.kind, e.flags), (1, 1));
        let g = gso(&e);
        assert_eq!((g.size, g.kind, g.features), (1448, 1, 0));
        let t = tx_gso_extra(1448);
        assert_eq!(t, [1, 0, 0xa8, 0x05, 1, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(gso(&extra_info(&t)).size, 1448);
    }

    #[test]
    fn macs() {
        assert_eq!(
            parse_mac("00:16:3e:00:00:02"),
            Some([0, 0x16, 0x3e, 0, 0, 2])
        );
        assert_eq!(parse_mac("00:16:3e:00:00"), None);
        assert_eq!(parse_mac("00:16:3e:00:00:02:03"), None);
        assert_eq!(parse_mac("0:16:3e:00:00:02"), None);
        assert_eq!(parse_mac("zz:16:3e:00:00:02"), None);
    }
}
