//! The options field of a server's reply (RFC 2132), walked with bounds
//! checks. smoltcp's `DhcpRepr::parse` is not used for replies: it lets a
//! later duplicate win, reads only a single router, drops a whole packet
//! for an unusual client id, and says nothing about what it skipped. Here
//! the first instance of an option counts, and every fault is counted.
//!
//! Option overload (52, options carried in `sname`/`file`) is not followed:
//! the servers we meet (dnsmasq, ISC, EC2) fit their replies in the options
//! field, and following it would double the places a peer can hide bytes.
//! A reply whose message type sits only in `sname`/`file` is therefore
//! ignored for want of a message type.

/// Option codes we read (RFC 2132).
mod code {
    pub const PAD: u8 = 0;
    pub const SUBNET_MASK: u8 = 1;
    pub const ROUTER: u8 = 3;
    pub const DNS: u8 = 6;
    pub const HOSTNAME: u8 = 12;
    pub const DOMAIN: u8 = 15;
    pub const MTU: u8 = 26;
    pub const LEASE_TIME: u8 = 51;
    pub const OVERLOAD: u8 = 52;
    pub const MESSAGE_TYPE: u8 = 53;
    pub const SERVER_ID: u8 = 54;
    pub const RENEWAL_TIME: u8 = 58;
    pub const REBINDING_TIME: u8 = 59;
    pub const END: u8 = 255;
}

/// What we ask servers for (option 55): mask, router, DNS, hostname,
/// domain, MTU. Lease times come unasked.
pub(crate) const PARAMETER_REQUEST_LIST: [u8; 6] = [
    code::SUBNET_MASK,
    code::ROUTER,
    code::DNS,
    code::HOSTNAME,
    code::DOMAIN,
    code::MTU,
];

/// Faults found in one reply's options (each option is skipped, the reply
/// is still read).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct OptionFaults {
    /// An option whose length byte or data runs past the end of the packet:
    /// the walk stops there.
    pub truncated: u64,
    /// An option we read with a length its definition does not allow.
    pub bad_length: u64,
    /// A second instance of an option we read (the first one counts).
    pub duplicate: u64,
    /// Option overload (52) present: not followed.
    pub overload: u64,
}

impl OptionFaults {
    pub(crate) fn add(&mut self, o: &OptionFaults) {
        self.truncated = self.truncated.saturating_add(o.truncated);
        self.bad_length = self.bad_length.saturating_add(o.bad_length);
        self.duplicate = self.duplicate.saturating_add(o.duplicate);
        self.overload = self.overload.saturating_add(o.overload);
    }
}

/// The options of one reply, raw (validation is `lease.rs`'s job).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Options<'a> {
    pub message_type: Option<u8>,
    pub server_id: Option<[u8; 4]>,
    pub subnet_mask: Option<[u8; 4]>,
    /// Whole option 3: one or more addresses, a multiple of 4 bytes.
    pub routers: Option<&'a [u8]>,
    /// Whole option 6: one or more addresses, a multiple of 4 bytes.
    pub dns: Option<&'a [u8]>,
    pub mtu: Option<u16>,
    pub lease_s: Option<u32>,
    pub renew_s: Option<u32>,
    pub rebind_s: Option<u32>,
    pub hostname: Option<&'a [u8]>,
    pub domain: Option<&'a [u8]>,
    pub faults: OptionFaults,
}

/// Lengths an option we read may have.
enum Shape {
    Exactly(usize),
    /// One or more 4-byte addresses.
    Addresses,
    /// At least one byte.
    Text,
}

fn shape(kind: u8) -> Option<Shape> {
    Some(match kind {
        code::MESSAGE_TYPE => Shape::Exactly(1),
        code::MTU => Shape::Exactly(2),
        code::SERVER_ID
        | code::SUBNET_MASK
        | code::LEASE_TIME
        | code::RENEWAL_TIME
        | code::REBINDING_TIME => Shape::Exactly(4),
        code::ROUTER | code::DNS => Shape::Addresses,
        code::HOSTNAME | code::DOMAIN => Shape::Text,
        _ => return None,
    })
}

fn fits(shape: &Shape, len: usize) -> bool {
    match *shape {
        Shape::Exactly(n) => len == n,
        Shape::Addresses => len >= 4 && len.is_multiple_of(4),
        Shape::Text => len >= 1,
    }
}

fn be4(d: &[u8]) -> Option<[u8; 4]> {
    d.try_into().ok()
}

fn be_u32(d: &[u8]) -> Option<u32> {
    be4(d).map(u32::from_be_bytes)
}

impl<'a> Options<'a> {
    /// Walk `field` (the bytes after the magic cookie). Stops at END, at the
    /// end of the buffer, or at a truncated option; O(len), no allocation.
    pub(crate) fn parse(field: &'a [u8]) -> Options<'a> {
        let mut o = Options::default();
        let mut seen = [false; 256];
        let mut rest = field;
        while let Some((&kind, tail)) = rest.split_first() {
            match kind {
                code::PAD => {
                    rest = tail;
                    continue;
                }
                code::END => break,
                _ => {}
            }
            let Some((&len, tail)) = tail.split_first() else {
                o.faults.truncated += 1;
                break;
            };
            let len = usize::from(len);
            let (Some(data), Some(after)) = (tail.get(..len), tail.get(len..)) else {
                o.faults.truncated += 1;
                break;
            };
            rest = after;
            if kind == code::OVERLOAD {
                o.faults.overload += 1;
                continue;
            }
            let Some(shape) = shape(kind) else { continue };
            let first = !core::mem::replace(&mut seen[usize::from(kind)], true);
            if !first {
                o.faults.duplicate += 1;
            } else if !fits(&shape, len) {
                o.faults.bad_length += 1;
            } else {
                o.take(kind, data);
            }
        }
        o
    }

    /// Store one option whose length `fits` its shape.
    fn take(&mut self, kind: u8, data: &'a [u8]) {
        match kind {
            code::MESSAGE_TYPE => self.message_type = data.first().copied(),
            code::SERVER_ID => self.server_id = be4(data),
            code::SUBNET_MASK => self.subnet_mask = be4(data),
            code::ROUTER => self.routers = Some(data),
            code::DNS => self.dns = Some(data),
            code::MTU => self.mtu = data.try_into().ok().map(u16::from_be_bytes),
            code::LEASE_TIME => self.lease_s = be_u32(data),
            code::RENEWAL_TIME => self.renew_s = be_u32(data),
            code::REBINDING_TIME => self.rebind_s = be_u32(data),
            code::HOSTNAME => self.hostname = Some(data),
            code::DOMAIN => self.domain = Some(data),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_options_we_use() {
        let field = [
            53, 1, 5, // ACK
            54, 4, 10, 0, 0, 1, // server id
            1, 4, 255, 255, 255, 0, // mask
            3, 8, 10, 0, 0, 1, 10, 0, 0, 2, // two routers
            6, 4, 8, 8, 8, 8, // dns
            26, 2, 0x23, 0x29, // mtu 9001
            51, 4, 0, 0, 0x0e, 0x10, // 3600
            58, 4, 0, 0, 0x07, 0x08, // 1800
            59, 4, 0, 0, 0x0c, 0x4e, // 3150
            12, 3, b'a', b'p', b'p', // hostname
            15, 2, b'e', b'x', // domain
            0, 0, // pads
            255, 99, 99, // END, then junk
        ];
        let o = Options::parse(&field);
        assert_eq!(o.message_type, Some(5));
        assert_eq!(o.server_id, Some([10, 0, 0, 1]));
        assert_eq!(o.subnet_mask, Some([255, 255, 255, 0]));
        assert_eq!(o.routers, Some(&[10, 0, 0, 1, 10, 0, 0, 2][..]));
        assert_eq!(o.dns, Some(&[8, 8, 8, 8][..]));
        assert_eq!(o.mtu, Some(9001));
        assert_eq!(
            (o.lease_s, o.renew_s, o.rebind_s),
            (Some(3600), Some(1800), Some(3150))
        );
        assert_eq!(o.hostname, Some(&b"app"[..]));
        assert_eq!(o.domain, Some(&b"ex"[..]));
        assert_eq!(o.faults, OptionFaults::default());
    }

    #[test]
    fn first_instance_wins_and_duplicates_are_counted() {
        let o = Options::parse(&[51, 4, 0, 0, 0, 60, 51, 4, 0, 0, 0, 0, 53, 1, 2, 53, 1, 6]);
        assert_eq!(o.lease_s, Some(60));
        assert_eq!(o.message_type, Some(2));
        assert_eq!(o.faults.duplicate, 2);
    }

    #[test]
    fn bad_lengths_are_skipped_and_counted() {
        // lease time of 3 bytes, mask of 5, router of 6, empty hostname, 1-byte MTU
        let o = Options::parse(&[
            51, 3, 0, 0, 1, 1, 5, 255, 255, 255, 0, 0, 3, 6, 1, 2, 3, 4, 5, 6, 12, 0, 26, 1, 9, 53,
            1, 5,
        ]);
        assert_eq!(o.faults.bad_length, 5);
        assert!(o.lease_s.is_none() && o.subnet_mask.is_none() && o.routers.is_none());
        assert!(o.hostname.is_none() && o.mtu.is_none());
        // the walk goes on after them
        assert_eq!(o.message_type, Some(5));
        // a bad first instance still blocks a later one: no second chances
        let o = Options::parse(&[51, 2, 0, 0, 51, 4, 0, 0, 0, 9]);
        assert_eq!(
            (o.lease_s, o.faults.bad_length, o.faults.duplicate),
            (None, 1, 1)
        );
    }

    #[test]
    fn truncated_options_stop_the_walk() {
        let o = Options::parse(&[53, 1, 2, 54, 4, 10, 0]);
        assert_eq!(o.message_type, Some(2));
        assert_eq!(o.server_id, None);
        assert_eq!(o.faults.truncated, 1);
        let o = Options::parse(&[53, 1, 2, 54]);
        assert_eq!(o.faults.truncated, 1);
        let o = Options::parse(&[53, 1, 2]);
        assert_eq!(o.faults, OptionFaults::default());
    }

    #[test]
    fn overload_is_counted_not_followed() {
        let o = Options::parse(&[52, 1, 3, 53, 1, 2]);
        assert_eq!(o.faults.overload, 1);
        assert_eq!(o.message_type, Some(2));
    }

    #[test]
    fn every_prefix_of_every_byte_string_parses() {
        // a cheap exhaustive check next to the fuzz target: all 2- and 3-byte
        // inputs and prefixes of a long one
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                // [kind, len>0] lacks its data; [PAD, kind] lacks a length
                let want = u64::from(match a {
                    code::END => false,
                    code::PAD => b != code::PAD && b != code::END,
                    _ => b > 0,
                });
                assert_eq!(Options::parse(&[a, b]).faults.truncated, want, "{a} {b}");
                let _ = Options::parse(&[a, b, 4]);
            }
        }
        let long: [u8; 300] = core::array::from_fn(|i| (i * 7) as u8);
        for n in 0..long.len() {
            let f = Options::parse(&long[..n]).faults;
            // each fault consumes at least one byte
            assert!(f.truncated + f.bad_length + f.duplicate + f.overload <= n as u64);
        }
    }
}
