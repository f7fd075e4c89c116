//! Rogue and broken servers (issue 13 and its neighbours), over simulated
//! time: packet counts, timings, events; the ceiling never has to act.

mod support;

use std::net::Ipv4Addr;

use dhcp::{Client, Event, Phase, Reason};
use support::server::{
    bootp_packet, encode_options, udp_packet, Answer, Server, ACK, BOOTREPLY, BOOTREQUEST, NAK,
    OFFER,
};
use support::{gaps_s, Sim, MAC, S};

const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const OFFERED: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 50);

fn dnsmasq() -> Server {
    Server::dnsmasq(SERVER, OFFERED)
}

fn be32(v: u32) -> Option<Vec<u8>> {
    Some(v.to_be_bytes().to_vec())
}

/// A reply from SERVER to us at OFFERED, for `xid`, with raw `options`.
fn to_us(xid: u32, options: &[u8]) -> Vec<u8> {
    bootp_packet(BOOTREPLY, SERVER, OFFERED, xid, MAC, OFFERED, options)
}

/// A dnsmasq changed by `change`, run until `end`.
fn run_with(change: impl FnOnce(&mut Server), end: u64) -> Sim {
    let mut server = dnsmasq();
    change(&mut server);
    let mut sim = Sim::new(vec![server]);
    sim.run_until(end);
    sim
}

/// Lease, T1, T2 as used in the first lease.
fn times(sim: &Sim) -> (u32, u32, u32) {
    let t = sim.configured()[0].1.times;
    (t.lease_s, t.renew_s, t.rebind_s)
}

#[test]
fn a_server_that_always_naks_for_ten_minutes_gets_backoff_not_a_loop() {
    let sim = run_with(|s| s.on_request = Answer::Nak, 600 * S);
    let d = sim.discovers();
    // rounds at 0, 1, 3, 7, 15, 31, 63, then every 64 s
    assert_eq!(
        gaps_s(&d)[..8],
        [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 64.0]
    );
    assert!(gaps_s(&d).iter().skip(6).all(|&g| g == 64.0));
    assert_eq!(d.len(), 15);
    assert_eq!(sim.requests().len(), 15);
    assert_eq!(sim.client.counters().received_nak, 15);
    assert!(sim.events.is_empty());
    assert_eq!(sim.busiest_window(), 12);
    sim.assert_within_ceiling();
}

#[test]
fn lease_time_zero_is_raised_to_a_minute_not_rediscovered_at_once() {
    let mut sim = run_with(|s| s.set_option(51, be32(0)), S);
    assert_eq!(times(&sim), (60, 30, 53));
    let lease = sim.configured()[0].1.clone();
    assert_eq!(lease.times.sent_lease_s, Some(0));
    sim.run_until(600 * S);
    // one renewal every 30 s (0, 30, ..., 600), no rediscovery, one event
    assert_eq!(sim.discovers().len(), 1);
    assert_eq!(sim.requests().len(), 21);
    assert!(gaps_s(&sim.requests()).iter().all(|&g| g == 30.0));
    assert_eq!(sim.events.len(), 1);
    let c = sim.client.counters();
    assert_eq!(
        (c.corrected.lease_raised, c.corrected.times_defaulted),
        (21, 21)
    );
    sim.assert_within_ceiling();
}

#[test]
fn issue_13s_ack_lease_60_renew_3600_no_rebind() {
    let mut sim = run_with(
        |s| {
            s.set_option(51, be32(60));
            s.set_option(58, be32(3600));
            s.set_option(59, None);
        },
        S,
    );
    assert_eq!(times(&sim), (60, 30, 53));
    sim.run_until(300 * S);
    assert_eq!(sim.requests().len(), 11);
    assert_eq!(sim.client.phase(), Phase::Bound);
    sim.assert_within_ceiling();
}

#[test]
fn contradictory_or_missing_t1_t2_get_the_rfc_defaults() {
    let cases = [
        // (lease, T1, T2) sent -> used
        ((Some(100), Some(200), Some(300)), (100, 50, 88)), // T1 > lease; 100 - 100/8
        ((Some(1000), Some(900), Some(800)), (1000, 500, 800)), // T1 >= T2
        ((Some(1000), Some(400), Some(1000)), (1000, 400, 875)), // T2 >= lease
        ((Some(1000), Some(0), Some(0)), (1000, 500, 875)), // zeros
        ((Some(1000), None, None), (1000, 500, 875)),
        ((None, Some(10), Some(20)), (60, 30, 53)), // no lease time at all
    ];
    for ((l, t1, t2), want) in cases {
        let mut sim = run_with(
            |s| {
                s.set_option(51, l.and_then(be32));
                s.set_option(58, t1.and_then(be32));
                s.set_option(59, t2.and_then(be32));
            },
            S,
        );
        assert_eq!(times(&sim), want, "sent {l:?} {t1:?} {t2:?}");
        // and the client renews at the T1 it uses
        sim.run_until(u64::from(want.1) * S);
        assert_eq!(sim.requests().last().unwrap().at, u64::from(want.1) * S);
    }
}

#[test]
fn a_lease_without_a_router_or_with_one_off_the_subnet_has_no_router() {
    let sim = run_with(|s| s.set_option(3, None), S);
    let l = sim.configured()[0].1;
    assert_eq!((l.address, l.router), (OFFERED, None));
    assert_eq!(sim.client.counters().corrected.router_dropped, 0);

    let sim = run_with(|s| s.set_option(3, Some(vec![10, 9, 9, 9, 10, 0, 0, 1])), S);
    assert_eq!(
        sim.configured()[0].1.router,
        None,
        "only the first router is taken"
    );
    assert_eq!(sim.client.counters().corrected.router_dropped, 1);
}

#[test]
fn offers_with_a_zero_or_broken_mask_are_refused() {
    for mask in [[0, 0, 0, 0], [255, 0, 255, 0], [255, 255, 254, 255]] {
        let sim = run_with(|s| s.set_option(1, Some(mask.to_vec())), 100 * S);
        // every OFFER refused: no REQUEST, discovery keeps its backoff
        assert_eq!(sim.requests().len(), 0, "{mask:?}");
        assert_eq!(sim.discovers().len(), 5);
        assert_eq!(sim.client.counters().ignored.bad_mask, 5);
        assert!(sim.events.is_empty());
    }
}

#[test]
fn an_ack_with_a_bad_mask_is_refused_and_the_round_fails_with_backoff() {
    let mut server = dnsmasq();
    let mut bad = server.options.clone();
    bad.retain(|(c, _)| *c != 1);
    bad.push((1, vec![255, 0, 255, 0]));
    server.ack_options = Some(bad);
    let mut sim = Sim::new(vec![server]);
    sim.run_until(600 * S);
    assert!(sim.configured().is_empty());
    let c = *sim.client.counters();
    assert_eq!(c.ignored.bad_mask, c.received_ack);
    // each round: 1 DISCOVER, 3 REQUESTs 4 and 8 s apart, give up after 16 more
    let d = sim.discovers();
    let r = sim.requests();
    for w in d.windows(2) {
        let round: Vec<_> = r
            .iter()
            .copied()
            .filter(|q| q.at >= w[0].at && q.at < w[1].at)
            .collect();
        assert_eq!(round.len(), 3);
        for (g, want) in gaps_s(&round).into_iter().zip([4.0, 8.0]) {
            assert!((g - want).abs() <= 1.0, "{g}");
        }
    }
    // rounds start further apart as they keep failing (28 s + 1, 2, 4 ...)
    let rounds = gaps_s(&d);
    assert!(rounds.windows(2).all(|w| w[1] >= w[0] - 6.0), "{rounds:?}");
    assert!(rounds.last().unwrap() > &(28.0 + 32.0 - 3.0), "{rounds:?}");
    sim.assert_within_ceiling();
}

#[test]
fn offers_for_other_xids_are_ignored() {
    let sim = run_with(|s| s.xid_override = Some(0xdead_beef), 100 * S);
    assert_eq!(sim.requests().len(), 0);
    assert_eq!(sim.client.counters().ignored.other_xid, 5);
    assert_eq!(sim.client.counters().received_offer, 5);
}

#[test]
fn replies_from_another_server_while_requesting_are_ignored() {
    let a = dnsmasq();
    let b = Server::dnsmasq(Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(10, 0, 0, 99));
    let mut c = Client::new(MAC, 7);
    let discover = support::server::decode(0, &c.transmit(0).unwrap());
    // the first valid OFFER wins; a later one (from b) is from the wrong server
    c.receive(0, &a.reply(OFFER, discover.xid, MAC));
    c.receive(0, &b.reply(OFFER, discover.xid, MAC));
    let request = support::server::decode(0, &c.transmit(0).unwrap());
    assert_eq!(request.server_id, Some(SERVER));
    // b NAKs and ACKs our REQUEST for a: both ignored
    c.receive(S, &b.reply(NAK, request.xid, MAC));
    c.receive(S, &b.reply(ACK, request.xid, MAC));
    assert_eq!(c.phase(), Phase::Requesting);
    assert_eq!(c.take_event(), None);
    c.receive(S, &a.reply(ACK, request.xid, MAC));
    match c.take_event() {
        Some(Event::Configured(l)) => assert_eq!((l.address, l.server), (OFFERED, SERVER)),
        e => panic!("{e:?}"),
    }
    let n = c.counters();
    assert_eq!((n.ignored.other_server, n.ignored.unexpected), (3, 0));
}

#[test]
fn bootrequests_foreign_macs_and_other_ports_are_ignored() {
    let mut sim = Sim::new(vec![]);
    sim.run_until(0);
    let xid = sim.sent[0].xid;
    let opts = encode_options(OFFER, SERVER, &support::server::dnsmasq_options(SERVER));
    // another client's DISCOVER, seen by our raw socket (68 -> 67)
    let mut other = Client::new([2, 0, 0, 0, 0, 9], 1);
    sim.inject(&other.transmit(0).unwrap());
    // a BOOTREQUEST to port 68 with our xid and MAC
    sim.inject(&bootp_packet(
        BOOTREQUEST,
        SERVER,
        OFFERED,
        xid,
        MAC,
        OFFERED,
        &opts,
    ));
    // an OFFER for another MAC with our xid
    sim.inject(&bootp_packet(
        BOOTREPLY,
        SERVER,
        OFFERED,
        xid,
        [2, 0, 0, 0, 0, 9],
        OFFERED,
        &opts,
    ));
    // DNS and a UDP packet that is not BOOTP at all
    sim.inject(&udp_packet(SERVER, OFFERED, 53, 68, b"not dhcp"));
    sim.inject(&udp_packet(SERVER, OFFERED, 67, 68, b"not dhcp"));
    let mut bad_sum = to_us(xid, &opts);
    let n = bad_sum.len();
    bad_sum[n - 3] ^= 1;
    sim.inject(&bad_sum);
    // a reply without message type, and one without server id
    sim.inject(&to_us(xid, &[255]));
    let no_id = [53, 1, OFFER, 51, 4, 0, 0, 14, 16, 255];
    sim.inject(&to_us(xid, &no_id));
    let i = sim.client.counters().ignored;
    assert_eq!(
        (
            i.wrong_ports,
            i.not_reply,
            i.other_mac,
            i.not_dhcp,
            i.bad_checksum
        ),
        (2, 1, 1, 1, 1)
    );
    assert_eq!((i.no_message_type, i.no_server_id), (1, 1));
    assert_eq!(i.total(), 8);
    assert_eq!(sim.client.phase(), Phase::Selecting);
}

#[test]
fn a_nak_while_renewing_drops_the_address_and_we_start_over() {
    let sim = run_with(|s| s.on_renew = Answer::Nak, 1900 * S);
    assert_eq!(sim.events[1], (1800 * S, Event::Deconfigured(Reason::Nak)));
    // discovery after the first restart backoff (1 s), a new Configured
    assert_eq!(sim.discovers()[1].at, 1801 * S);
    assert_eq!(sim.configured().len(), 2);
    assert_eq!(sim.configured()[1].0, 1801 * S);
    sim.assert_within_ceiling();
}

#[test]
fn a_flood_of_offers_and_acks_gets_one_request() {
    let sim = run_with(|s| s.copies = 100, 100 * S);
    assert_eq!(sim.sent.len(), 2);
    assert_eq!(sim.configured().len(), 1);
    let c = sim.client.counters();
    assert_eq!(
        (c.received_offer, c.received_ack, c.ignored.unexpected),
        (100, 100, 198)
    );
}

#[test]
fn malformed_options_are_counted_and_the_rest_is_read() {
    // a duplicate lease time (first wins), an overlong MTU, overload, and a
    // hostname that runs off the end
    let tail = vec![51, 4, 0, 0, 0, 0, 26, 3, 1, 2, 3, 52, 1, 3, 12, 200, b'x'];
    let sim = run_with(|s| s.raw_tail = Some(tail), S);
    assert_eq!(times(&sim), (3600, 1800, 3150));
    let l = sim.configured()[0].1;
    assert_eq!((l.mtu, l.hostname.clone()), (None, None));
    let o = sim.client.counters().options;
    // OFFER and ACK carry the same options
    assert_eq!(
        (o.duplicate, o.bad_length, o.overload, o.truncated),
        (2, 2, 2, 2)
    );
}

#[test]
fn mtus_outside_576_to_9216_are_clamped() {
    for (sent, used) in [(68u16, 576u16), (1500, 1500), (9001, 9001), (65535, 9216)] {
        let sim = run_with(|s| s.set_option(26, Some(sent.to_be_bytes().to_vec())), S);
        assert_eq!(sim.configured()[0].1.mtu, Some(used));
    }
}

#[test]
fn a_server_that_changes_our_address_on_renewal_raises_a_new_configured() {
    let mut sim = Sim::new(vec![dnsmasq()]);
    sim.run_until(S);
    sim.servers[0].offer = Ipv4Addr::new(10, 0, 0, 77);
    sim.run_until(1800 * S);
    let c = sim.configured();
    assert_eq!(c.len(), 2);
    assert_eq!(
        (c[1].0, c[1].1.address),
        (1800 * S, Ipv4Addr::new(10, 0, 0, 77))
    );
}

#[test]
fn a_clock_that_steps_back_sends_nothing_extra() {
    let mut c = Client::new(MAC, 3);
    assert!(c.transmit(100 * S).is_some());
    let next = c.poll_at().unwrap();
    for t in [0, 50 * S, 100 * S, next - 1] {
        assert!(c.transmit(t).is_none(), "at {t}");
    }
    assert!(c.transmit(next).is_some());
    // the end of time: one more, then the next one would be never
    assert!(c.transmit(u64::MAX).is_some());
    assert!(c.transmit(u64::MAX).is_none());
    assert_eq!(c.poll_at(), None);
    assert_eq!(c.counters().sent_discover, 3);
}

#[test]
fn an_ack_that_arrives_long_after_its_request_cannot_make_a_loop() {
    // a server answering renewals 59 s late with a one-minute lease: the
    // lease is timed from our REQUEST, so it is half over on arrival
    let mut sim = Sim::new(vec![]);
    sim.run_until(0);
    let xid = sim.sent[0].xid;
    let mut offer_opts = support::server::dnsmasq_options(SERVER);
    offer_opts.retain(|(c, _)| *c != 51);
    offer_opts.push((51, 60u32.to_be_bytes().to_vec()));
    sim.inject(&to_us(xid, &encode_options(OFFER, SERVER, &offer_opts)));
    sim.run_until(0);
    sim.now = 59 * S;
    sim.inject(&to_us(xid, &encode_options(ACK, SERVER, &offer_opts)));
    assert_eq!(sim.configured().len(), 1);
    // T1 (30 s) has passed, T2 (53 s) too: rebinding at once, expiry at 60 s
    sim.run_until(200 * S);
    assert_eq!(
        sim.events[1],
        (60 * S, Event::Deconfigured(Reason::LeaseExpired))
    );
    assert!(sim.sent.len() <= 10, "{}", sim.sent.len());
    sim.assert_within_ceiling();
}
