//! netfront against the simulated netback: connect, frames both ways, a
//! ping from a peer smoltcp stack, notification suppression, close, and a
//! hostile backend that must never panic us, make us touch memory we did
//! not grant, or leave a grant active.

mod common;

use common::*;
use netfront::NetError;
use smoltcp::socket::icmp;
use smoltcp::time::Instant;
use smoltcp::wire::{Icmpv4Packet, Icmpv4Repr, Ipv4Address};
use std::cell::Cell;
use std::rc::Rc;
use xensim::netback::NetMisbehave;

#[test]
fn connects_and_publishes_the_handshake() {
    let mut e = env(None);
    let nf = connect(&mut e).unwrap();
    assert_eq!(nf.mac, [0, 0x16, 0x3e, 0, 0, 2]);
    assert!(e.nb.borrow().connected);
    assert_eq!(e.xs.read_string("device/vif/0/state").unwrap(), "4");
    assert_eq!(
        e.xs.read_string("device/vif/0/request-rx-copy").unwrap(),
        "1"
    );
    // scatter-gather, TCPv4 GSO and checksum offload in, IPv6 offloads out
    for (k, v) in [
        ("feature-sg", "1"),
        ("feature-gso-tcpv4", "1"),
        ("feature-rx-notify", "1"),
        ("feature-no-csum-offload", "0"),
        ("feature-ipv6-csum-offload", "0"),
    ] {
        assert_eq!(
            e.xs.read_string(&format!("device/vif/0/{}", k)).unwrap(),
            v,
            "{}",
            k
        );
    }
    assert_eq!(nf.mtu(), 1500, "no mtu node: 1500");
    // two rings + every buffer granted once, at connect
    assert_eq!(
        e.gt.active().len(),
        2 + netfront::RX_BUFS + netfront::TX_BUFS
    );
    assert_clean_close(e, nf);
}

#[test]
fn frames_flow_both_ways() {
    let mut e = env(None);
    let mut nf = connect(&mut e).unwrap();
    for i in 0..600u32 {
        e.nb.borrow_mut()
            .to_guest
            .push_back(frame(60 + (i as usize * 7) % 1450, i as u8));
        let len = 60 + (i as usize * 13) % 1450;
        nf.send_with(len, |b| b.copy_from_slice(&frame(len, !(i as u8))))
            .expect("tx buffer free");
        cycle(&mut e, &mut nf).unwrap();
        let got = nf.recv().expect("frame delivered");
        assert_eq!(got, frame(60 + (i as usize * 7) % 1450, i as u8));
    }
    assert_eq!(e.nb.borrow().from_guest.len(), 600);
    assert_eq!(
        e.nb.borrow().from_guest[599],
        frame(60 + (599 * 13) % 1450, !(599u32 as u8))
    );
    assert_eq!(nf.stats.rx_packets, 600);
    assert_eq!(nf.stats.tx_packets, 600);
    assert_clean_close(e, nf);
}

#[test]
fn notifications_are_suppressed_under_batching() {
    let mut e = env(None);
    let mut nf = connect(&mut e).unwrap();
    let (sent0, _) = e.evt.counts();
    // 50 frames queued before the backend runs: one notification, not 50
    for i in 0..50u8 {
        nf.send_with(100, |b| b.fill(i)).unwrap();
    }
    let (sent1, _) = e.evt.counts();
    assert_eq!(sent1 - sent0, 1, "only the first push crosses req_event");
    cycle(&mut e, &mut nf).unwrap();
    assert_eq!(e.nb.borrow().from_guest.len(), 50);
    // back-pressure: all TX buffers in flight, the next send is refused
    for _ in 0..netfront::TX_BUFS {
        nf.send_with(60, |_| ()).unwrap();
    }
    assert!(nf.send_with(60, |_| ()).is_none());
    assert_eq!(nf.stats.tx_busy, 1);
    cycle(&mut e, &mut nf).unwrap();
    assert!(
        nf.send_with(60, |_| ()).is_some(),
        "completions free buffers"
    );
    assert_clean_close(e, nf);
}

/// A peer smoltcp stack pings the appliance's stack through the netback.
#[test]
fn peer_stack_pings_the_guest() {
    let mut e = env(None);
    let mut nf = connect(&mut e).unwrap();
    let mut st = stacks(&e, &mut nf);
    let icmp = icmp::Socket::new(
        icmp::PacketBuffer::new(vec![icmp::PacketMetadata::EMPTY; 4], vec![0; 1024]),
        icmp::PacketBuffer::new(vec![icmp::PacketMetadata::EMPTY; 4], vec![0; 1024]),
    );
    let h = st.peer_sockets.add(icmp);
    st.peer_sockets
        .get_mut::<icmp::Socket>(h)
        .bind(icmp::Endpoint::Ident(0x22))
        .unwrap();

    let mut replies = 0;
    for seq in 0..20u16 {
        let req = Icmpv4Repr::EchoRequest {
            ident: 0x22,
            seq_no: seq,
            data: b"ping from the peer",
        };
        let mut buf = vec![0u8; req.buffer_len()];
        req.emit(
            &mut Icmpv4Packet::new_unchecked(&mut buf),
            &smoltcp::phy::ChecksumCapabilities::default(),
        );
        st.peer_sockets
            .get_mut::<icmp::Socket>(h)
            .send_slice(&buf, Ipv4Address::new(10, 0, 0, 2).into())
            .unwrap();
        for t in 0..20 {
            st.round(&e, &mut nf, Instant::from_millis((seq as i64) * 100 + t));
            let s = st.peer_sockets.get_mut::<icmp::Socket>(h);
            while let Ok((data, _)) = s.recv() {
                let p = Icmpv4Packet::new_checked(data).unwrap();
                if let Ok(Icmpv4Repr::EchoReply { seq_no, .. }) =
                    Icmpv4Repr::parse(&p, &Default::default())
                {
                    assert_eq!(seq_no, seq);
                    replies += 1;
                }
            }
        }
    }
    assert_eq!(replies, 20, "every echo answered");
    assert_clean_close(e, nf);
}

// ---- the hostile backend ----

/// Run traffic against a misbehaving backend: the driver must end up down
/// with a clear error (or, for legitimate error statuses, count and go on),
/// never panic, and close with no grant left active.
fn hostile(m: NetMisbehave, expect_down: Option<&str>) {
    let mut e = env(Some(m));
    let mut nf = connect(&mut e).unwrap();
    let mut result = Ok(());
    for i in 0..8u8 {
        e.nb.borrow_mut().to_guest.push_back(frame(100, i));
        let _ = nf.send_with(100, |b| b.fill(i));
        result = cycle(&mut e, &mut nf);
        if result.is_err() {
            break;
        }
    }
    match expect_down {
        Some(needle) => {
            let down = nf
                .is_down()
                .unwrap_or_else(|| panic!("{:?}: device still up", m))
                .to_string();
            assert!(
                down.contains(needle),
                "{:?}: error {:?} lacks {:?}",
                m,
                down,
                needle
            );
            assert!(matches!(result, Err(NetError::Protocol(_))));
            assert!(nf.send_with(60, |_| ()).is_none(), "no transmit once down");
        }
        None => assert!(nf.is_down().is_none(), "{:?}: {:?}", m, nf.is_down()),
    }
    assert_clean_close(e, nf);
}

#[test]
fn hostile_tx_bad_id() {
    hostile(NetMisbehave::TxBadId, Some("tx response for id 9999"));
}

#[test]
fn hostile_tx_duplicate_id() {
    // the second copy is one response more than we made requests
    hostile(NetMisbehave::TxDuplicate, Some("tx ring rsp_prod 2 cons 0"));
}

#[test]
fn hostile_tx_null_status() {
    hostile(NetMisbehave::TxNullStatus, Some("NULL"));
}

#[test]
fn hostile_tx_producer_jump() {
    hostile(NetMisbehave::TxProdJump, Some("tx ring rsp_prod"));
}

#[test]
fn hostile_rx_oversize_length() {
    hostile(NetMisbehave::RxOversize, Some("past the page"));
}

#[test]
fn hostile_rx_offset_past_page() {
    hostile(NetMisbehave::RxOffsetPastPage, Some("past the page"));
}

#[test]
fn hostile_rx_producer_jump() {
    hostile(NetMisbehave::RxProdJump, Some("rx ring rsp_prod"));
}

#[test]
fn hostile_rx_response_never_requested() {
    hostile(NetMisbehave::RxUnknownId, Some("rx response id"));
}

#[test]
fn hostile_rx_flags_never_negotiated() {
    hostile(NetMisbehave::RxGsoPrefix, Some("never negotiated"));
}

#[test]
fn backend_error_status_is_counted_not_fatal() {
    let mut e = env(Some(NetMisbehave::RxErrorStatus));
    let mut nf = connect(&mut e).unwrap();
    for i in 0..5u8 {
        e.nb.borrow_mut().to_guest.push_back(frame(100, i));
        cycle(&mut e, &mut nf).unwrap();
    }
    assert_eq!(nf.stats.rx_dropped, 5);
    assert_eq!(nf.recv(), None);
    assert!(nf.is_down().is_none());
    assert_clean_close(e, nf);
}

#[test]
fn hostile_backend_scribbles_over_our_ring() {
    // Our own indexes are private copies: rewriting the shared ones can only
    // cost a notification, never memory safety or a wrong frame.
    let mut e = env(Some(NetMisbehave::ScribbleRing));
    let mut nf = connect(&mut e).unwrap();
    for i in 0..8u8 {
        let _ = nf.send_with(100, |b| b.fill(i));
        let _ = cycle(&mut e, &mut nf);
    }
    assert_clean_close(e, nf);
}

#[test]
fn hostile_backend_never_connects() {
    let mut e = env(Some(NetMisbehave::NeverConnect));
    assert_connect_refused(&mut e, "did not connect");
}

/// Connect must fail with a backend error naming `why`, end and give back
/// everything it granted, and leave the frontend saying Closed (never
/// stuck in Initialising or Connected).
fn assert_connect_refused(e: &mut Env, why: &str) {
    let gt = e.gt.clone();
    let err = connect(e).err().expect("connect must fail");
    assert!(
        matches!(err, NetError::Backend(ref m) if m.contains(why)),
        "{:?}",
        err
    );
    assert!(gt.active().is_empty(), "{:?}", gt.active());
    assert_eq!(gt.allocated_refs(), 0);
    assert_eq!(
        e.xs.read_string("device/vif/0/state").unwrap(),
        "6",
        "frontend says Closed"
    );
}

#[test]
fn a_backend_without_rx_copy_is_refused_and_told_closed() {
    let mut e = env(None);
    e.xs.waiter()
        .xsd
        .borrow_mut()
        .tool_rm("/local/domain/0/backend/vif/1/0/feature-rx-copy");
    assert_connect_refused(&mut e, "feature-rx-copy");
}

#[test]
fn a_few_spurious_events_are_tolerated() {
    let mut e = env(None);
    let mut nf = connect(&mut e).unwrap();
    for _ in 0..100 {
        e.nb.borrow().storm(1);
        nf.poll().unwrap();
    }
    e.nb.borrow_mut().to_guest.push_back(frame(64, 1));
    cycle(&mut e, &mut nf).unwrap();
    assert_eq!(nf.recv(), Some(frame(64, 1)), "still working");
    assert_clean_close(e, nf);
}

#[test]
fn hostile_event_storm_takes_the_device_down() {
    let mut e = env(None);
    let mut nf = connect(&mut e).unwrap();
    let mut result = Ok(());
    for _ in 0..5000 {
        e.nb.borrow().storm(1);
        result = nf.poll().map(|_| ());
        if result.is_err() {
            break;
        }
    }
    assert!(
        matches!(result, Err(NetError::Protocol(ref m)) if m.starts_with("event storm")),
        "{:?}",
        result
    );
    assert!(nf.is_down().is_some());
    assert_clean_close(e, nf);
}

#[test]
fn backend_closing_mid_transfer() {
    let mut e = env(None);
    let mut nf = connect(&mut e).unwrap();
    for i in 0..30u8 {
        nf.send_with(200, |b| b.fill(i)).unwrap(); // in flight, not completed
    }
    e.nb.borrow_mut().begin_close();
    assert_clean_close(e, nf);
}

#[test]
fn a_detach_waits_for_a_slow_backend_to_let_go() {
    // `xl network-detach`: the toolstack writes the backend's Closing before
    // netback has unmapped anything; netback does so some time after our
    // own Closing. Ending the grants before it says Closed would quarantine
    // the rings (seen on real Xen).
    let mut e = env(None);
    let mut nf = connect(&mut e).unwrap();
    nf.send_with(200, |b| b.fill(7)).unwrap();
    e.nb.borrow_mut().begin_close();
    e.nb.borrow_mut().close_lag = 20;
    assert_clean_close(e, nf);
}

#[test]
fn a_backend_that_answers_instantly_cannot_keep_poll_busy_past_one_ring() {
    let mut e = env(None);
    let armed = Rc::new(Cell::new(false));
    let ev = InstantBackend {
        inner: e.evt.clone(),
        nb: e.nb.clone(),
        armed: armed.clone(),
    };
    let mut nf = connect_with(&mut e, ev).unwrap();
    armed.set(true); // from here every notification runs the backend at once
    const N: u64 = 5000;
    for i in 0..N {
        e.nb.borrow_mut().to_guest.push_back(frame(60, i as u8));
    }
    e.nb.borrow_mut().step();
    assert!(nf.poll().unwrap(), "more was waiting after the budget");
    let s = nf.stats;
    let consumed = s.rx_dropped + nf.rx_queued() as u64;
    assert!(
        consumed > 0 && consumed <= 256,
        "one ring at most: {}",
        consumed
    );
    assert_eq!(s.budget_hits, 1);
    // the caller polls again, and it all arrives (or is counted) in bounded steps
    let mut polls = 1;
    loop {
        while nf.recv().is_some() {}
        let more = nf.poll().unwrap();
        polls += 1;
        if !more && nf.rx_queued() == 0 && e.nb.borrow().deliveries.is_empty() {
            break;
        }
        assert!(polls < 200, "{:?}", nf.stats);
    }
    while nf.recv().is_some() {}
    assert_eq!(nf.stats.rx_packets + nf.stats.rx_dropped, N);
    assert!(
        polls >= (N / 256) as usize,
        "each poll took at most a ring: {}",
        polls
    );
    armed.set(false);
    assert_clean_close(e, nf);
}
