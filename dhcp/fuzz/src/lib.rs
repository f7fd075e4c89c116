//! The fuzz input format, shared by the target and the seed writer: a
//! script of steps for one client.
//!
//! - `0 flags lo hi`: move the clock by `u16` units (10 ms, or 1 s with
//!   flag 0x40), backwards with flag 0x80.
//! - `1`: call `transmit` until it returns nothing.
//! - `2 flags lo hi bytes...`: hand the client a packet of `u16` bytes (cut
//!   to what is left); flag 0x80 writes the client's MAC and last xid into
//!   its BOOTP header first, as a server answering it would.
//! - `3 kind server yiaddr n options...`: a well-formed reply for the
//!   client's last xid from 10.0.0.`server` offering 10.0.0.`yiaddr`, with
//!   message type `kind` and then `n` raw option bytes.
//!
//! Anything else ends the script. [`run`] plays a script and checks the
//! client's promises after every step.

use std::collections::VecDeque;

use dhcp::{Client, Event, Lease, Phase, MAX_DNS_SERVERS, MAX_MTU, MIN_LEASE_S, MIN_MTU};
use dhcp::{SEND_CEILING, SEND_WINDOW_NS};

pub const MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0x10, 0x20, 0x30];
/// Where the BOOTP message starts in the packets we build (20-byte IPv4
/// header, 8-byte UDP header).
pub const BOOTP_AT: usize = 28;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step<'a> {
    Clock { back: bool, ns: u64 },
    Transmit,
    Packet { patch: bool, bytes: &'a [u8] },
    Reply { kind: u8, server: u8, yiaddr: u8, options: &'a [u8] },
}

const TEN_MS: u64 = 10_000_000;
const SECOND: u64 = 1_000_000_000;

fn take<'a>(data: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    let (head, rest) = (data.get(..n)?, data.get(n..)?);
    *data = rest;
    Some(head)
}

fn take_u16(data: &mut &[u8]) -> Option<u16> {
    take(data, 2).map(|b| u16::from_le_bytes([b[0], b[1]]))
}

/// Parse one step off the front of `data`.
pub fn next_step<'a>(data: &mut &'a [u8]) -> Option<Step<'a>> {
    let op = *take(data, 1)?.first()?;
    Some(match op {
        0 => {
            let flags = *take(data, 1)?.first()?;
            let units = u64::from(take_u16(data)?);
            let unit = if flags & 0x40 != 0 { SECOND } else { TEN_MS };
            Step::Clock { back: flags & 0x80 != 0, ns: units * unit }
        }
        1 => Step::Transmit,
        2 => {
            let flags = *take(data, 1)?.first()?;
            let len = usize::from(take_u16(data)?).min(data.len());
            Step::Packet { patch: flags & 0x80 != 0, bytes: take(data, len)? }
        }
        3 => {
            let h = take(data, 4)?;
            let n = usize::from(h[3]).min(data.len());
            Step::Reply { kind: h[0], server: h[1], yiaddr: h[2], options: take(data, n)? }
        }
        _ => return None,
    })
}

/// Encode steps (the seed writer's side); clock steps in whole seconds or
/// 10 ms units as they fit.
pub fn encode(steps: &[Step<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for s in steps {
        match s {
            Step::Clock { back, ns } => {
                let (flag, units) = if ns % SECOND == 0 { (0x40, ns / SECOND) } else { (0, ns / TEN_MS) };
                out.push(0);
                out.push(flag | if *back { 0x80 } else { 0 });
                out.extend_from_slice(&(units.min(u64::from(u16::MAX)) as u16).to_le_bytes());
            }
            Step::Transmit => out.push(1),
            Step::Packet { patch, bytes } => {
                out.push(2);
                out.push(if *patch { 0x80 } else { 0 });
                out.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
                out.extend_from_slice(bytes);
            }
            Step::Reply { kind, server, yiaddr, options } => {
                out.extend_from_slice(&[3, *kind, *server, *yiaddr, options.len() as u8]);
                out.extend_from_slice(options);
            }
        }
    }
    out
}

/// Write our MAC and `xid` into a packet's BOOTP header, if it has one,
/// and clear the UDP checksum (0: none) that the change broke.
pub fn patch(packet: &mut [u8], xid: u32) {
    if let Some(sum) = packet.get_mut(BOOTP_AT - 2..BOOTP_AT) {
        sum.fill(0);
    }
    if let Some(x) = packet.get_mut(BOOTP_AT + 4..BOOTP_AT + 8) {
        x.copy_from_slice(&xid.to_be_bytes());
    }
    if let Some(m) = packet.get_mut(BOOTP_AT + 28..BOOTP_AT + 34) {
        m.copy_from_slice(&MAC);
    }
}

/// A well-formed reply (checksums left zero: UDP says "none", and the
/// client does not check the IPv4 header, which the interface did).
pub fn reply(kind: u8, xid: u32, server: u8, yiaddr: u8, options: &[u8]) -> Vec<u8> {
    let mut bootp = vec![0u8; 240];
    bootp[0] = 2;
    bootp[1] = 1;
    bootp[2] = 6;
    bootp[4..8].copy_from_slice(&xid.to_be_bytes());
    bootp[16..20].copy_from_slice(&[10, 0, 0, yiaddr]);
    bootp[28..34].copy_from_slice(&MAC);
    bootp[236..240].copy_from_slice(&[0x63, 0x82, 0x53, 0x63]);
    bootp.extend_from_slice(&[53, 1, kind, 54, 4, 10, 0, 0, server]);
    bootp.extend_from_slice(options);
    let udp_len = 8 + bootp.len();
    let total = 20 + udp_len;
    let mut p = vec![0x45, 0, (total >> 8) as u8, total as u8, 0, 0, 0x40, 0, 64, 17, 0, 0];
    p.extend_from_slice(&[10, 0, 0, server, 255, 255, 255, 255]);
    p.extend_from_slice(&[0, 67, 0, 68, (udp_len >> 8) as u8, udp_len as u8, 0, 0]);
    p.extend_from_slice(&bootp);
    p
}

/// The xid of a packet the client sent.
pub fn xid_of(packet: &[u8]) -> Option<u32> {
    let b = packet.get(BOOTP_AT + 4..BOOTP_AT + 8)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn check_lease(l: &Lease) {
    assert!((1..=32).contains(&l.prefix_len));
    assert!(l.mtu.is_none_or(|m| (MIN_MTU..=MAX_MTU).contains(&m)));
    assert!(l.dns_servers.len() <= MAX_DNS_SERVERS);
    assert!(l.router != Some(l.address));
    let t = l.times;
    assert!(t.lease_s >= MIN_LEASE_S);
    if t.lease_s == u32::MAX {
        assert_eq!((t.renew_s, t.rebind_s), (u32::MAX, u32::MAX));
    } else {
        assert!(t.renew_s < t.rebind_s && t.rebind_s < t.lease_s, "{t:?}");
    }
}

/// Play `script` against a fresh client and return it with the number of
/// `Configured` events. Panics if the client breaks a promise: a second
/// packet at one instant, a `poll_at` in the past after it had nothing to
/// send, more than `SEND_CEILING` sends in a window, a lease outside its
/// documented bounds, a lease without a bound phase.
pub fn run(script: &[u8]) -> (Client, usize) {
    let mut c = Client::new(MAC, 1);
    let mut now: u64 = 0;
    let mut last_xid = 0u32;
    let mut configured = 0;
    let mut sends: VecDeque<u64> = VecDeque::new();
    let mut rest = script;
    while let Some(step) = next_step(&mut rest) {
        match step {
            Step::Clock { back: false, ns } => now = now.saturating_add(ns),
            Step::Clock { back: true, ns } => now = now.saturating_sub(ns),
            Step::Transmit => {
                let mut n = 0;
                while let Some(p) = c.transmit(now) {
                    n += 1;
                    // each send schedules the next one later: one per instant
                    assert!(n <= 1, "two packets at {now}");
                    last_xid = xid_of(&p).expect("a whole packet");
                    // the 16th send before this one is at least a window older
                    if sends.len() == SEND_CEILING {
                        let oldest = sends.pop_front().unwrap_or_default();
                        assert!(now.saturating_sub(oldest) >= SEND_WINDOW_NS, "ceiling broken");
                    }
                    sends.push_back(now);
                }
                assert!(c.poll_at().is_none_or(|t| t > now), "busy loop at {now}");
            }
            Step::Packet { patch: p, bytes } => {
                let mut b = bytes.to_vec();
                if p {
                    patch(&mut b, last_xid);
                }
                c.receive(now, &b);
            }
            Step::Reply { kind, server, yiaddr, options } => {
                c.receive(now, &reply(kind, last_xid, server, yiaddr, options));
            }
        }
        while let Some(e) = c.take_event() {
            if let Event::Configured(l) = &e {
                check_lease(l);
                configured += 1;
            }
        }
        let holds = matches!(c.phase(), Phase::Bound | Phase::Renewing | Phase::Rebinding);
        assert_eq!(c.lease().is_some(), holds);
    }
    (c, configured)
}
