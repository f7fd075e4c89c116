//! Every interval the client uses, in one place. Times are nanoseconds on
//! the caller's monotonic clock; lease times are the server's seconds.

pub(crate) const NS_PER_S: u64 = 1_000_000_000;

/// First DISCOVER/REQUEST retransmission timeout (RFC 2131 4.1: "4 seconds
/// on a 10Mb/sec Ethernet"); dnsmasq takes 3 s (ARP checks) before its
/// first OFFER, so anything shorter throws OFFERs away.
pub const RETRANSMIT_FIRST_NS: u64 = 4 * NS_PER_S;
/// The timeout doubles up to this (RFC 2131 4.1: "maximum of 64 seconds").
pub const RETRANSMIT_MAX_NS: u64 = 64 * NS_PER_S;
/// Each timeout is moved by a uniform random amount in +-this (RFC 2131
/// 4.1), so a rack of guests booted together does not ask in lockstep.
pub const RETRANSMIT_JITTER_NS: u64 = NS_PER_S;

/// REQUESTs sent for one OFFER before we go back to discovery (4 + 8 + 16
/// = 28 s of waiting): a server that offers and then goes quiet must not
/// hold us.
pub const REQUEST_MAX_SENDS: u32 = 3;

/// Wait before discovery restarts after a failed round (a NAK, or REQUESTs
/// that went unanswered); it doubles per failed round up to the maximum and
/// is reset by an ACK. dhcpcd does the same (1 s to 60 s): a server that
/// always NAKs gets two packets a minute from us, not a tight loop.
pub const RESTART_BACKOFF_FIRST_NS: u64 = NS_PER_S;
/// See [`RESTART_BACKOFF_FIRST_NS`].
pub const RESTART_BACKOFF_MAX_NS: u64 = 64 * NS_PER_S;

/// While renewing or rebinding, retransmit after half the time left to
/// T2 (or to expiry), but never sooner than this (RFC 2131 4.4.5).
pub const RENEW_RETRANSMIT_MIN_NS: u64 = 60 * NS_PER_S;

/// Shortest lease we accept: a missing, zero or shorter lease time becomes
/// this. RFC 2131 sets no floor; option 51 = 0 made smoltcp's socket
/// rediscover at once, ~650 packets a second. At 60 s a renewal (at T1 =
/// 30 s) costs two packets a minute; dhcpcd floors at 20 s.
pub const MIN_LEASE_S: u32 = 60;
/// Shortest T1 we accept from a server (a T1 of 0 would renew in a tight
/// loop): half the shortest lease, the RFC default T1 for it.
pub const MIN_RENEW_S: u32 = MIN_LEASE_S / 2;
/// RFC 2131 3.3: a lease time of 0xffffffff means the lease never ends.
pub const INFINITE_LEASE_S: u32 = u32::MAX;

/// The hard ceiling on what we send, whatever the peers do: at most
/// `SEND_CEILING` packets in any `SEND_WINDOW_NS`. The schedule above sends
/// at most 12 in a minute (a server that NAKs every REQUEST at once:
/// rounds at 0, 1, 3, 7, 15 and 31 s); this is a backstop for our own bugs.
pub const SEND_CEILING: usize = 16;
/// See [`SEND_CEILING`].
pub const SEND_WINDOW_NS: u64 = 60 * NS_PER_S;

/// `n`-th (1-based) retransmission timeout before jitter: 4, 8, 16, 32,
/// 64, 64, ... s.
pub(crate) fn retransmit_base_ns(n: u32) -> u64 {
    let doublings = n.saturating_sub(1).min(4);
    (RETRANSMIT_FIRST_NS << doublings).min(RETRANSMIT_MAX_NS)
}

/// `base` moved by `r` (a random u64) into `base - jitter ..= base + jitter`.
pub(crate) fn jittered(base_ns: u64, r: u64) -> u64 {
    let span = RETRANSMIT_JITTER_NS.saturating_mul(2).saturating_add(1);
    base_ns
        .saturating_sub(RETRANSMIT_JITTER_NS)
        .saturating_add(r % span)
}

/// A server's seconds as nanoseconds after `from`, `u64::MAX` (never) for
/// an infinite lease.
pub(crate) fn after_s(from_ns: u64, s: u32) -> u64 {
    if s == INFINITE_LEASE_S {
        return u64::MAX;
    }
    from_ns.saturating_add(u64::from(s).saturating_mul(NS_PER_S))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_the_cap() {
        let s: [u64; 7] = core::array::from_fn(|i| retransmit_base_ns(i as u32 + 1) / NS_PER_S);
        assert_eq!(s, [4, 8, 16, 32, 64, 64, 64]);
        assert_eq!(retransmit_base_ns(u32::MAX), RETRANSMIT_MAX_NS);
    }

    #[test]
    fn jitter_stays_within_one_second() {
        for r in [0, 1, 999_999_999, 1_000_000_000, 2_000_000_000, u64::MAX] {
            let t = jittered(4 * NS_PER_S, r);
            assert!((3 * NS_PER_S..=5 * NS_PER_S).contains(&t), "{t}");
        }
        assert_eq!(jittered(4 * NS_PER_S, 0), 3 * NS_PER_S);
        assert_eq!(jittered(4 * NS_PER_S, 2_000_000_000), 5 * NS_PER_S);
    }

    #[test]
    fn lease_arithmetic_saturates() {
        assert_eq!(after_s(u64::MAX - 1, 10), u64::MAX);
        assert_eq!(after_s(5, INFINITE_LEASE_S), u64::MAX);
        assert_eq!(after_s(5, 2), 5 + 2 * NS_PER_S);
    }
}
