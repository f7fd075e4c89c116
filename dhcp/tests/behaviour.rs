//! The client against a well-behaved (dnsmasq-shaped) server, and against
//! silence: timings, packets and events.

mod support;

use std::net::Ipv4Addr;

use dhcp::{Event, Phase, Reason};
use smoltcp::wire::DhcpMessageType::{Discover, Request};
use support::server::Server;
use support::{gaps_s, Sim, S};

const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const OFFERED: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 50);

fn dnsmasq() -> Server {
    Server::dnsmasq(SERVER, OFFERED)
}

#[test]
fn binds_at_once_then_renews_at_t1_by_unicast() {
    let mut sim = Sim::new(vec![dnsmasq()]);
    sim.run_until(10 * S);
    let s = sim.sent.clone();
    assert_eq!(s.len(), 2, "{s:?}");
    assert_eq!(
        (s[0].kind, s[0].src, s[0].dst),
        (Discover, Ipv4Addr::UNSPECIFIED, Ipv4Addr::BROADCAST)
    );
    assert_eq!(
        (s[1].kind, s[1].src, s[1].dst),
        (Request, Ipv4Addr::UNSPECIFIED, Ipv4Addr::BROADCAST)
    );
    assert_eq!(s[1].xid, s[0].xid, "the REQUEST answers the OFFER's xid");
    assert_eq!(
        (s[1].requested, s[1].server_id),
        (Some(OFFERED), Some(SERVER))
    );
    assert_eq!(s[1].ciaddr, Ipv4Addr::UNSPECIFIED);

    let configured = sim.configured();
    assert_eq!(configured.len(), 1);
    let (at, lease) = (configured[0].0, configured[0].1.clone());
    assert_eq!(at, 0);
    assert_eq!((lease.address, lease.prefix_len), (OFFERED, 24));
    assert_eq!((lease.router, lease.server), (Some(SERVER), SERVER));
    assert_eq!(lease.dns_servers, vec![SERVER]);
    assert_eq!(
        (
            lease.times.lease_s,
            lease.times.renew_s,
            lease.times.rebind_s
        ),
        (3600, 1800, 3150)
    );
    assert_eq!(sim.client.phase(), Phase::Bound);
    assert_eq!(sim.client.poll_at(), Some(1800 * S));

    // nothing until T1, then one unicast REQUEST from our address, no 50/54
    sim.run_until(1799 * S);
    assert_eq!(sim.sent.len(), 2);
    sim.run_until(1800 * S);
    let r = sim.sent.last().unwrap();
    assert_eq!(
        (r.kind, r.at, r.src, r.dst, r.ciaddr),
        (Request, 1800 * S, OFFERED, SERVER, OFFERED)
    );
    assert_eq!((r.requested, r.server_id), (None, None));
    assert_ne!(r.xid, s[0].xid, "a renewal is a new exchange");
    // the ACK renews without a new event (nothing the caller sets changed)
    assert_eq!(sim.events.len(), 1);
    assert_eq!(sim.client.poll_at(), Some(3600 * S));
    // an hour of renewals: one REQUEST each half hour
    sim.run_until(3 * 3600 * S);
    assert_eq!(sim.requests().len(), 1 + 6);
    assert_eq!(sim.events.len(), 1);
    let c = sim.client.counters();
    assert_eq!(
        (
            c.sent_discover,
            c.sent_request,
            c.received_offer,
            c.received_ack
        ),
        (1, 7, 1, 7)
    );
    assert_eq!(c.ignored.total(), 0);
    sim.assert_within_ceiling();
}

#[test]
fn an_offer_three_seconds_late_is_still_taken() {
    // dnsmasq pings the address for 3 s before it offers it; a client that
    // changes xid on each DISCOVER (smoltcp's) throws such OFFERs away
    let mut server = dnsmasq();
    server.offer_delay_ns = 3 * S;
    let mut sim = Sim::new(vec![server]);
    sim.run_until(60 * S);
    let d = sim.discovers();
    let r = sim.requests();
    assert_eq!(sim.configured().len(), 1);
    assert!(
        r[0].at >= 3 * S && r[0].at < 6 * S,
        "REQUEST at {}",
        r[0].at
    );
    // a retransmitted DISCOVER keeps the xid, so either OFFER is good
    assert!(d.iter().all(|x| x.xid == d[0].xid));
    assert_eq!(r[0].xid, d[0].xid);
    assert_eq!(sim.client.counters().ignored.other_xid, 0);
}

#[test]
fn discover_backs_off_4_8_16_32_64_and_stays_at_64() {
    let mut server = dnsmasq();
    server.on_discover = support::server::Answer::Silent;
    let mut sim = Sim::new(vec![server]);
    sim.run_until(600 * S);
    let d = sim.discovers();
    let gaps = gaps_s(&d);
    let want = [4.0, 8.0, 16.0, 32.0, 64.0, 64.0, 64.0, 64.0, 64.0, 64.0];
    assert!(gaps.len() >= 9, "{gaps:?}");
    for (g, w) in gaps.iter().zip(want) {
        assert!((g - w).abs() <= 1.0, "gap {g} s, want {w} +- 1 s: {gaps:?}");
    }
    // the jitter is real: not every gap is the exact base
    assert!(
        gaps.iter().zip(want).any(|(g, w)| (g - w).abs() > 0.01),
        "{gaps:?}"
    );
    // secs counts from the first DISCOVER
    assert_eq!(d[0].secs, 0);
    assert_eq!(u64::from(d[3].secs), (d[3].at - d[0].at) / S);
    // 10 minutes of silence: 0, 4, 12, 28, 60, then every 64 s
    assert!((13..=14).contains(&d.len()), "{}", d.len());
    assert!(sim.events.is_empty());
    sim.assert_within_ceiling();
}

#[test]
fn jitter_and_xids_follow_the_seed() {
    let run = |seed| {
        let mut server = dnsmasq();
        server.on_discover = support::server::Answer::Silent;
        let mut sim = Sim::with_seed(vec![server], seed);
        sim.run_until(100 * S);
        sim.sent.iter().map(|s| (s.at, s.xid)).collect::<Vec<_>>()
    };
    assert_eq!(run(1), run(1));
    assert_ne!(run(1), run(2));
}

#[test]
fn mtu_hostname_and_domain_reach_the_lease() {
    let mut server = dnsmasq();
    server.set_option(26, Some(9001u16.to_be_bytes().to_vec()));
    server.set_option(12, Some(b"ip-10-0-0-50".to_vec()));
    server.set_option(15, Some(b"ec2.internal".to_vec()));
    let mut sim = Sim::new(vec![server]);
    sim.run_until(S);
    let (_, l) = sim.configured()[0];
    assert_eq!((l.mtu, l.mtu_sent), (Some(9001), Some(9001)));
    assert_eq!(l.hostname.as_deref(), Some("ip-10-0-0-50"));
    assert_eq!(l.domain.as_deref(), Some("ec2.internal"));
}

#[test]
fn an_infinite_lease_is_never_renewed() {
    let mut server = dnsmasq();
    server.set_option(51, Some(u32::MAX.to_be_bytes().to_vec()));
    server.set_option(58, None);
    server.set_option(59, None);
    let mut sim = Sim::new(vec![server]);
    sim.run_until(S);
    assert_eq!(sim.client.phase(), Phase::Bound);
    assert_eq!(sim.client.poll_at(), None);
    sim.run_until(1_000_000 * S);
    assert_eq!(sim.sent.len(), 2);
}

#[test]
fn a_vanished_server_loses_us_the_lease_on_time_and_a_new_one_gives_a_new_address() {
    let mut sim = Sim::new(vec![dnsmasq()]);
    sim.run_until(10 * S);
    assert_eq!(sim.configured().len(), 1);
    sim.servers.clear();
    sim.run_until(3700 * S);

    // renewing: unicast from T1, each retransmission after half the time to
    // T2, at least 60 s (RFC 2131 4.4.5)
    let at_ms = |lo: u64, hi: u64| -> Vec<u64> {
        sim.requests()
            .iter()
            .filter(|r| r.at >= lo * S && r.at < hi * S)
            .map(|r| r.at / 1_000_000)
            .collect()
    };
    assert_eq!(
        at_ms(1800, 3150),
        [1_800_000, 2_475_000, 2_812_500, 2_981_250, 3_065_625, 3_125_625]
    );
    assert!(sim
        .requests()
        .iter()
        .filter(|r| r.at < 3150 * S && r.at > 0)
        .all(|r| r.dst == SERVER));
    // rebinding: broadcast from T2, half the time to expiry, at least 60 s
    assert_eq!(
        at_ms(3150, 3600),
        [3_150_000, 3_375_000, 3_487_500, 3_547_500]
    );
    assert!(sim
        .requests()
        .iter()
        .filter(|r| r.at >= 3150 * S)
        .all(|r| r.dst == Ipv4Addr::BROADCAST));
    assert!(sim
        .requests()
        .iter()
        .filter(|r| r.at > 0)
        .all(|r| r.ciaddr == OFFERED));

    // expiry: the address goes at exactly 3600 s and discovery starts again
    assert_eq!(
        sim.events.last(),
        Some(&(3600 * S, Event::Deconfigured(Reason::LeaseExpired)))
    );
    assert_eq!(sim.client.lease(), None);
    let d: Vec<_> = sim
        .discovers()
        .into_iter()
        .filter(|d| d.at >= 3600 * S)
        .collect();
    assert_eq!(d[0].at, 3600 * S);
    let gaps = gaps_s(&d);
    for (g, w) in gaps.iter().zip([4.0, 8.0, 16.0, 32.0]) {
        assert!((g - w).abs() <= 1.0, "{gaps:?}");
    }
    assert!(d
        .iter()
        .all(|x| x.src == Ipv4Addr::UNSPECIFIED && x.ciaddr == Ipv4Addr::UNSPECIFIED));

    // a new server on the link: a new address, a new Configured
    let other = Ipv4Addr::new(192, 168, 7, 1);
    sim.servers
        .push(Server::dnsmasq(other, Ipv4Addr::new(192, 168, 7, 20)));
    sim.run_for(70 * S);
    let c = sim.configured();
    assert_eq!(c.len(), 2);
    assert_eq!(
        (c[1].1.address, c[1].1.server),
        (Ipv4Addr::new(192, 168, 7, 20), other)
    );
    assert!(c[1].0 > 3700 * S && c[1].0 <= 3770 * S);
    sim.assert_within_ceiling();
}
