//! A lease as the caller uses it, built from an OFFER or ACK with every
//! value checked: what a host cannot use is refused (the reply) or dropped
//! (the field), and lease times are made safe to schedule by.

use alloc::string::String;
use alloc::vec::Vec;
use core::net::Ipv4Addr;

use crate::counters::{Corrected, Ignore};
use crate::options::Options;
use crate::timing::{INFINITE_LEASE_S, MIN_LEASE_S, MIN_RENEW_S};

/// Smallest MTU we pass on: every IPv4 host must take 576-byte datagrams
/// (RFC 791, RFC 1122 3.3.3), and a smaller one could not carry the DHCP
/// reply that named it. RFC 2132 allows 68.
pub const MIN_MTU: u16 = 576;
/// Largest MTU we pass on: the common jumbo-frame limit of switches and
/// NICs; EC2 t2 sends 9001. A bigger value is a lie or a typo.
pub const MAX_MTU: u16 = 9216;
/// DNS servers we keep (the resolver's usual three).
pub const MAX_DNS_SERVERS: usize = 3;

/// Lease times, as the server sent them and as the client uses them (in
/// seconds from when the REQUEST was sent). `u32::MAX` is forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseTimes {
    pub sent_lease_s: Option<u32>,
    pub sent_renew_s: Option<u32>,
    pub sent_rebind_s: Option<u32>,
    pub lease_s: u32,
    /// T1: when renewing (unicast to the server) starts.
    pub renew_s: u32,
    /// T2: when rebinding (broadcast) starts.
    pub rebind_s: u32,
}

/// What the client got: the caller configures the interface from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub address: Ipv4Addr,
    /// From a contiguous mask (1..=32); the classful default without one.
    pub prefix_len: u8,
    /// The first router the server listed, if it is a unicast address
    /// inside the subnet other than ours.
    pub router: Option<Ipv4Addr>,
    /// Unicast only, at most `MAX_DNS_SERVERS`.
    pub dns_servers: Vec<Ipv4Addr>,
    /// Clamped to `MIN_MTU..=MAX_MTU`.
    pub mtu: Option<u16>,
    pub mtu_sent: Option<u16>,
    /// The server identifier (option 54).
    pub server: Ipv4Addr,
    pub times: LeaseTimes,
    /// Options 12 and 15, trailing NULs removed; peer-chosen text, to be
    /// quoted when printed.
    pub hostname: Option<String>,
    pub domain: Option<String>,
}

impl Lease {
    /// Same address and settings (the times aside): a renewal that changes
    /// nothing the caller configures raises no event.
    pub fn same_settings(&self, other: &Lease) -> bool {
        Lease {
            times: other.times,
            ..self.clone()
        } == *other
    }
}

/// An address a host can hold or talk to: not 0/8, loopback, multicast,
/// class E or broadcast.
pub(crate) fn is_host_address(a: Ipv4Addr) -> bool {
    let first = a.octets()[0];
    !(first == 0 || a.is_loopback() || a.is_multicast() || first >= 240)
}

fn mask_bits(prefix_len: u8) -> u32 {
    u32::MAX
        .checked_shl(32u32.saturating_sub(u32::from(prefix_len)))
        .unwrap_or(0)
}

/// Prefix length of a contiguous, non-zero mask.
fn prefix_of(mask: [u8; 4]) -> Option<u8> {
    let m = u32::from_be_bytes(mask);
    let ones = m.leading_ones();
    (m != 0 && ones + m.trailing_zeros() == 32).then_some(ones as u8)
}

/// RFC 1122 3.3.1.3's fallback when a server sends no mask: the class.
fn classful_prefix(a: Ipv4Addr) -> u8 {
    match a.octets()[0] {
        0..=127 => 8,
        128..=191 => 16,
        _ => 24,
    }
}

/// `a` is a host of `net`/`prefix_len`: inside it and, where the subnet has
/// them (up to /30), neither its network nor its broadcast address.
fn is_host_in(a: Ipv4Addr, net: Ipv4Addr, prefix_len: u8) -> bool {
    let mask = mask_bits(prefix_len);
    let (a, net) = (u32::from(a), u32::from(net));
    let inside = a & mask == net & mask;
    let host = a & !mask;
    inside && (prefix_len > 30 || (host != 0 && host != !mask))
}

/// Lease times made safe: a missing or short lease raised to
/// `MIN_LEASE_S`; T2 taken if below the lease, T1 if `MIN_RENEW_S <= T1 <
/// T2`, each otherwise replaced by its RFC 2131 default (0.5 and 0.875 of
/// the lease, the latter as `lease - lease / 8`), and both defaults if that
/// still leaves T1 >= T2. Returns the times and whether the lease was
/// raised and T1/T2 defaulted.
pub(crate) fn sanitise_times(o: &Options<'_>) -> (LeaseTimes, bool, bool) {
    let (lease, renew, rebind) = (o.lease_s, o.renew_s, o.rebind_s);
    let sent = |lease_s, renew_s, rebind_s| LeaseTimes {
        sent_lease_s: lease,
        sent_renew_s: renew,
        sent_rebind_s: rebind,
        lease_s,
        renew_s,
        rebind_s,
    };
    let l = match lease {
        Some(l) if l >= MIN_LEASE_S => l,
        _ => MIN_LEASE_S,
    };
    let raised = lease != Some(l);
    if l == INFINITE_LEASE_S {
        let f = INFINITE_LEASE_S;
        return (sent(f, f, f), raised, (renew, rebind) != (Some(f), Some(f)));
    }
    let (default_t1, default_t2) = (l / 2, l - l / 8);
    let t2 = rebind.filter(|&t| t < l).unwrap_or(default_t2);
    let t1 = renew
        .filter(|&t| t >= MIN_RENEW_S && t < t2)
        .unwrap_or(default_t1);
    let (t1, t2) = if t1 < t2 {
        (t1, t2)
    } else {
        (default_t1, default_t2)
    };
    let defaulted = (renew, rebind) != (Some(t1), Some(t2));
    (sent(l, t1, t2), raised, defaulted)
}

fn text(raw: Option<&[u8]>, corrected: &mut Corrected) -> Option<String> {
    let raw = raw?;
    let end = raw.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    let t = raw
        .get(..end)
        .and_then(|t| core::str::from_utf8(t).ok())
        .filter(|t| !t.is_empty());
    if t.is_none() {
        corrected.text_dropped += 1;
    }
    t.map(String::from)
}

fn addresses(raw: &[u8]) -> impl Iterator<Item = Ipv4Addr> + '_ {
    raw.chunks_exact(4)
        .filter_map(|c| <[u8; 4]>::try_from(c).ok())
        .map(Ipv4Addr::from)
}

/// Build the lease an OFFER or ACK describes, from `server`. Refuses a
/// reply whose address or mask a host cannot use; drops (and counts in the
/// returned `Corrected`) fields that are merely wrong.
pub(crate) fn from_reply(
    your_ip: Ipv4Addr,
    o: &Options<'_>,
    server: Ipv4Addr,
) -> Result<(Lease, Corrected), Ignore> {
    let mut corrected = Corrected::default();
    let prefix_len = match o.subnet_mask {
        Some(m) => prefix_of(m).ok_or(Ignore::BadMask)?,
        None => classful_prefix(your_ip),
    };
    if !is_host_address(your_ip) || !is_host_in(your_ip, your_ip, prefix_len) {
        return Err(Ignore::BadAddress);
    }
    let first_router = o.routers.and_then(|r| addresses(r).next());
    let router = first_router
        .filter(|&r| is_host_address(r) && r != your_ip && is_host_in(r, your_ip, prefix_len));
    if first_router.is_some() && router.is_none() {
        corrected.router_dropped += 1;
    }
    let mut dns_servers = Vec::new();
    for d in addresses(o.dns.unwrap_or_default()) {
        if is_host_address(d) && dns_servers.len() < MAX_DNS_SERVERS {
            dns_servers.push(d);
        } else {
            corrected.dns_dropped += 1;
        }
    }
    let mtu = o.mtu.map(|m| m.clamp(MIN_MTU, MAX_MTU));
    if mtu != o.mtu {
        corrected.mtu_clamped += 1;
    }
    let (times, raised, defaulted) = sanitise_times(o);
    corrected.lease_raised += u64::from(raised);
    corrected.times_defaulted += u64::from(defaulted);
    let hostname = text(o.hostname, &mut corrected);
    let domain = text(o.domain, &mut corrected);
    let lease = Lease {
        address: your_ip,
        prefix_len,
        router,
        dns_servers,
        mtu,
        mtu_sent: o.mtu,
        server,
        times,
        hostname,
        domain,
    };
    Ok((lease, corrected))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const ME: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 50);

    fn times(lease: Option<u32>, t1: Option<u32>, t2: Option<u32>) -> (u32, u32, u32, bool, bool) {
        let o = Options {
            lease_s: lease,
            renew_s: t1,
            rebind_s: t2,
            ..Options::default()
        };
        let (t, raised, defaulted) = sanitise_times(&o);
        (t.lease_s, t.renew_s, t.rebind_s, raised, defaulted)
    }

    #[test]
    fn sane_times_are_taken_as_sent() {
        assert_eq!(
            times(Some(3600), Some(1800), Some(3150)),
            (3600, 1800, 3150, false, false)
        );
        assert_eq!(
            times(Some(3600), Some(100), Some(200)),
            (3600, 100, 200, false, false)
        );
    }

    #[test]
    fn short_zero_or_missing_leases_are_raised_to_the_minimum() {
        for l in [None, Some(0), Some(1), Some(MIN_LEASE_S - 1)] {
            assert_eq!(times(l, None, None), (60, 30, 53, true, true), "{l:?}");
        }
    }

    #[test]
    fn contradictory_renewal_times_get_the_rfc_defaults() {
        // issue 13's ACK: lease 60, T1 3600, no T2
        assert_eq!(times(Some(60), Some(3600), None), (60, 30, 53, false, true));
        // T1 >= T2: T1 goes
        assert_eq!(
            times(Some(1000), Some(900), Some(800)),
            (1000, 500, 800, false, true)
        );
        // T1 > lease, no T2
        assert_eq!(
            times(Some(1000), Some(2000), None),
            (1000, 500, 875, false, true)
        );
        // T2 >= lease, T1 fine
        assert_eq!(
            times(Some(1000), Some(400), Some(1000)),
            (1000, 400, 875, false, true)
        );
        // T1 = 0 would renew in a loop
        assert_eq!(
            times(Some(1000), Some(0), Some(900)),
            (1000, 500, 900, false, true)
        );
        // T2 valid but so small that the default T1 passes it: both defaults
        assert_eq!(
            times(Some(1000), None, Some(100)),
            (1000, 500, 875, false, true)
        );
        // extremes do not overflow
        assert_eq!(
            times(Some(u32::MAX - 1), Some(u32::MAX), Some(u32::MAX)).1,
            (u32::MAX - 1) / 2
        );
    }

    #[test]
    fn an_infinite_lease_is_never_renewed() {
        let f = INFINITE_LEASE_S;
        assert_eq!(times(Some(f), None, None), (f, f, f, false, true));
        assert_eq!(times(Some(f), Some(f), Some(f)), (f, f, f, false, false));
    }

    fn lease(your_ip: Ipv4Addr, o: Options<'_>) -> Result<(Lease, Corrected), Ignore> {
        from_reply(your_ip, &o, SERVER)
    }

    #[test]
    fn masks_must_be_contiguous_and_not_zero() {
        for bad in [
            [0, 0, 0, 0],
            [255, 0, 255, 0],
            [255, 255, 255, 1],
            [0, 255, 255, 255],
        ] {
            let o = Options {
                subnet_mask: Some(bad),
                ..Options::default()
            };
            assert_eq!(lease(ME, o).unwrap_err(), Ignore::BadMask, "{bad:?}");
        }
        for (m, p) in [
            ([128, 0, 0, 0], 1),
            ([255, 255, 255, 0], 24),
            ([255; 4], 32),
        ] {
            let o = Options {
                subnet_mask: Some(m),
                ..Options::default()
            };
            assert_eq!(lease(ME, o).unwrap().0.prefix_len, p);
        }
        // no mask: the class of the address
        assert_eq!(lease(ME, Options::default()).unwrap().0.prefix_len, 8);
        let c = Ipv4Addr::new(192, 168, 1, 9);
        assert_eq!(lease(c, Options::default()).unwrap().0.prefix_len, 24);
    }

    #[test]
    fn unusable_addresses_are_refused() {
        let mask = Some([255, 255, 255, 0]);
        for a in [
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::BROADCAST,
            Ipv4Addr::new(127, 0, 0, 1),
            Ipv4Addr::new(224, 0, 0, 1),
            Ipv4Addr::new(240, 0, 0, 1),
            Ipv4Addr::new(10, 0, 0, 0),   // the subnet's network address
            Ipv4Addr::new(10, 0, 0, 255), // and its broadcast address
        ] {
            let o = Options {
                subnet_mask: mask,
                ..Options::default()
            };
            assert_eq!(lease(a, o).unwrap_err(), Ignore::BadAddress, "{a}");
        }
    }

    #[test]
    fn a_router_outside_the_subnet_or_not_unicast_is_dropped() {
        let mask = Some([255, 255, 255, 0]);
        let cases: [(&[u8], Option<Ipv4Addr>); 6] = [
            (&[10, 0, 0, 1], Some(SERVER)),
            (&[10, 0, 0, 1, 10, 0, 0, 2], Some(SERVER)),
            (&[10, 0, 1, 1], None),
            (&[10, 0, 0, 255], None),
            (&[10, 0, 0, 50], None), // ourselves
            (&[224, 0, 0, 1], None),
        ];
        for (r, want) in cases {
            let o = Options {
                subnet_mask: mask,
                routers: Some(r),
                ..Options::default()
            };
            let (l, c) = lease(ME, o).unwrap();
            assert_eq!(l.router, want, "{r:?}");
            assert_eq!(c.router_dropped, u64::from(want.is_none()));
        }
        let (l, c) = lease(
            ME,
            Options {
                subnet_mask: mask,
                ..Options::default()
            },
        )
        .unwrap();
        assert_eq!((l.router, c.router_dropped), (None, 0));
    }

    #[test]
    fn mtu_is_clamped_and_dns_filtered() {
        for (sent, used) in [(9001, 9001), (68, MIN_MTU), (65535, MAX_MTU), (1500, 1500)] {
            let (l, c) = lease(
                ME,
                Options {
                    mtu: Some(sent),
                    ..Options::default()
                },
            )
            .unwrap();
            assert_eq!((l.mtu, l.mtu_sent), (Some(used), Some(sent)));
            assert_eq!(c.mtu_clamped, u64::from(sent != used));
        }
        let dns = [
            8, 8, 8, 8, 0, 0, 0, 0, 1, 1, 1, 1, 255, 255, 255, 255, 9, 9, 9, 9, 4, 4, 4, 4,
        ];
        let (l, c) = lease(
            ME,
            Options {
                dns: Some(&dns),
                ..Options::default()
            },
        )
        .unwrap();
        let want: Vec<Ipv4Addr> = [[8, 8, 8, 8], [1, 1, 1, 1], [9, 9, 9, 9]]
            .into_iter()
            .map(Ipv4Addr::from)
            .collect();
        assert_eq!(l.dns_servers, want);
        assert_eq!(c.dns_dropped, 3);
    }

    #[test]
    fn text_loses_trailing_nuls_and_must_be_utf8() {
        let o = Options {
            hostname: Some(b"box\0\0"),
            domain: Some(b"\xff\xfe"),
            ..Options::default()
        };
        let (l, c) = lease(ME, o).unwrap();
        assert_eq!(l.hostname.as_deref(), Some("box"));
        assert_eq!((l.domain, c.text_dropped), (None, 1));
        let o = Options {
            hostname: Some(b"\0"),
            ..Options::default()
        };
        assert_eq!(lease(ME, o).unwrap().1.text_dropped, 1);
    }

    #[test]
    fn same_settings_ignores_only_the_times() {
        let with_lease = |l| {
            let o = Options {
                lease_s: Some(l),
                ..Options::default()
            };
            lease(ME, o).unwrap().0
        };
        assert!(with_lease(100).same_settings(&with_lease(200)));
        let (c, _) = lease(Ipv4Addr::new(10, 0, 0, 51), Options::default()).unwrap();
        assert!(!with_lease(100).same_settings(&c));
    }
}
