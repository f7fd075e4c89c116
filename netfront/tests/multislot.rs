//! Scatter-gather and GSO against the simulated netback: packets of every
//! size across page boundaries both ways, a GSO TCP stream into a smoltcp
//! socket, the checksum cases, the MTU, and every hostile multi-slot case.

mod common;

use common::*;
use netfront::{NetError, MAX_PACKET, MTU_MAX_SG};
use smoltcp::phy::Device;
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::IpAddress;
use xenabi::hal::EventChannel;
use xensim::netback::{Delivery, NetMisbehave};

/// Sizes that matter: every one up to three pages, then both sides of every
/// page boundary up to the largest packet.
fn sizes(max: usize) -> Vec<usize> {
    let mut v: Vec<usize> = (60..=3 * 4096 + 20).collect();
    for k in 4..=16 {
        v.extend((k * 4096 - 2)..=(k * 4096 + 2));
    }
    v.extend([60_000, 65_535, max - 1, max]);
    v.retain(|&n| n <= max);
    v.dedup();
    v
}

#[test]
fn received_packets_of_every_size_arrive_whole() {
    let mut e = env(None);
    let mut nf = connect(&mut e).unwrap();
    for (i, n) in sizes(MAX_PACKET).into_iter().enumerate() {
        let f = frame(n, i as u8);
        e.nb.borrow_mut().to_guest.push_back(f.clone());
        cycle(&mut e, &mut nf).unwrap();
        assert_eq!(nf.recv().as_deref(), Some(&f[..]), "{} bytes", n);
    }
    assert_eq!(nf.stats.rx_dropped, 0);
    assert_clean_close(e, nf);
}

#[test]
fn sent_frames_of_every_size_leave_whole_in_page_sized_slots() {
    let mut e = env(None);
    let mut nf = connect(&mut e).unwrap();
    assert_eq!(nf.set_mtu(u16::MAX), MTU_MAX_SG);
    let max = MTU_MAX_SG as usize + 14;
    for (i, n) in sizes(max).into_iter().enumerate() {
        let f = frame(n, !(i as u8));
        nf.send_with(n, |b| b.copy_from_slice(&f)).expect("room");
        cycle(&mut e, &mut nf).unwrap();
        let nb = e.nb.borrow();
        assert_eq!(nb.from_guest.last(), Some(&f), "{} bytes", n);
        assert_eq!(
            nb.sent.last().unwrap().slots,
            n.div_ceil(4096),
            "{} bytes",
            n
        );
    }
    assert_eq!(
        nf.stats.tx_dropped + nf.stats.tx_busy + nf.stats.tx_errors,
        0
    );
    // beyond the MTU nothing is sent
    assert!(nf.send_with(max + 1, |_| ()).is_none());
    assert_clean_close(e, nf);
}

#[test]
fn a_jumbo_frame_spans_three_pages() {
    let mut e = env(None);
    let mut nf = connect(&mut e).unwrap();
    assert_eq!(nf.set_mtu(9001), 9001);
    assert_eq!(nf.capabilities().max_transmission_unit, 9015);
    let f = frame(9015, 3);
    nf.send_with(9015, |b| b.copy_from_slice(&f)).unwrap();
    cycle(&mut e, &mut nf).unwrap();
    assert_eq!(e.nb.borrow().sent[0].slots, 3);
    assert_eq!(e.nb.borrow().from_guest[0], f);
    assert_clean_close(e, nf);
}

#[test]
fn the_mtu_comes_from_the_device_directory_capped_by_the_backend() {
    let mut e = env(None);
    e.nb.borrow().set_frontend_key("mtu", "9000");
    let mut nf = connect(&mut e).unwrap();
    assert_eq!(nf.mtu(), 9000);
    assert_eq!(nf.capabilities().max_transmission_unit, 9014);
    assert_eq!(nf.set_mtu(1500), 1500);
    assert_eq!(nf.capabilities().max_transmission_unit, 1514);
    assert_eq!(nf.set_mtu(10), 68, "not below IPv4's minimum");
    assert_clean_close(e, nf);

    // a backend without scatter-gather takes nothing above 1500
    let mut e = env(None);
    e.nb.borrow().set_frontend_key("mtu", "9001");
    e.nb.borrow().set_backend_key("feature-sg", None);
    let mut nf = connect(&mut e).unwrap();
    assert_eq!((nf.mtu(), nf.mtu_cap()), (1500, 1500));
    assert_eq!(nf.set_mtu(9001), 1500);
    assert!(!nf.tso());
    assert_clean_close(e, nf);

    // garbage in the node: the default
    let mut e = env(None);
    e.nb.borrow().set_frontend_key("mtu", "lots");
    let nf = connect(&mut e).unwrap();
    assert_eq!(nf.mtu(), 1500);
    assert_clean_close(e, nf);
}

/// A bulk TCP transfer between the two stacks; returns what arrived.
fn bulk(e: &Env, nf: &mut Nf, st: &mut Stacks, to_guest: bool, len: usize) -> Vec<u8> {
    let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
    let sock = || {
        tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; 256 * 1024]),
            tcp::SocketBuffer::new(vec![0; 256 * 1024]),
        )
    };
    let (mut server, mut client) = (sock(), sock());
    server.listen(5001).unwrap();
    let (srv_set, cli_set, dst) = if to_guest {
        (
            &mut st.guest_sockets,
            &mut st.peer_sockets,
            IpAddress::v4(10, 0, 0, 2),
        )
    } else {
        (
            &mut st.peer_sockets,
            &mut st.guest_sockets,
            IpAddress::v4(10, 0, 0, 1),
        )
    };
    let hs = srv_set.add(server);
    let ctx = if to_guest {
        st.peer.context()
    } else {
        st.guest.context()
    };
    client.connect(ctx, (dst, 5001), 40000).unwrap();
    let hc = cli_set.add(client);
    let (mut sent, mut got) = (0usize, Vec::new());
    for ms in 0..20_000i64 {
        let now = Instant::from_millis(ms);
        {
            let cli_set = if to_guest {
                &mut st.peer_sockets
            } else {
                &mut st.guest_sockets
            };
            let c = cli_set.get_mut::<tcp::Socket>(hc);
            if c.can_send() && sent < len {
                sent += c.send_slice(&data[sent..]).unwrap();
            }
        }
        st.round(e, nf, now);
        let srv_set = if to_guest {
            &mut st.guest_sockets
        } else {
            &mut st.peer_sockets
        };
        let s = srv_set.get_mut::<tcp::Socket>(hs);
        while s.can_recv() {
            s.recv(|b| {
                got.extend_from_slice(b);
                (b.len(), ())
            })
            .unwrap();
        }
        if got.len() == len {
            break;
        }
    }
    assert_eq!(got.len(), len, "the whole stream arrived");
    assert!(got == data, "and intact");
    got
}

#[test]
fn a_gso_stream_from_the_peer_is_received_whole_by_a_smoltcp_socket() {
    let mut e = env(None);
    e.nb.borrow_mut().offload = true; // GRO into GSO packets, checksums blank
    let mut nf = connect(&mut e).unwrap();
    let mut st = stacks(&e, &mut nf);
    bulk(&e, &mut nf, &mut st, true, 2 << 20);
    let s = nf.stats;
    eprintln!("{:?}", s);
    assert!(s.rx_gso_packets > 10, "{:?}", s);
    assert!(s.rx_bytes > 2 << 20);
    assert!(s.rx_csum_blank > 10, "packets came csum_blank: {:?}", s);
    assert_eq!(s.rx_csum_bad + s.rx_bad_gso + s.rx_dropped, 0, "{:?}", s);
    assert_clean_close(e, nf);
}

#[test]
fn a_small_guest_s_ring_of_min_rx_bufs_still_takes_64k_gso_packets() {
    let mut e = env(None);
    e.nb.borrow_mut().offload = true;
    // asked for fewer than the minimum: clamped up to it
    let mut nf = connect_rx_bufs(&mut e, 8).unwrap();
    assert_eq!(nf.rx_bufs(), netfront::MIN_RX_BUFS);
    let mut st = stacks(&e, &mut nf);
    bulk(&e, &mut nf, &mut st, true, 2 << 20);
    let s = nf.stats;
    assert!(s.rx_gso_packets > 10, "{:?}", s);
    assert_eq!(s.rx_csum_bad + s.rx_bad_gso, 0, "{:?}", s);
    assert_clean_close(e, nf);
}

#[test]
fn a_stream_to_the_peer_leaves_with_checksums_for_the_backend_to_fill() {
    let mut e = env(None);
    let mut nf = connect(&mut e).unwrap();
    let mut st = stacks(&e, &mut nf);
    bulk(&e, &mut nf, &mut st, false, 1 << 20);
    // every TCP frame went csum_blank (the peer verified the sums netback filled)
    let nb = e.nb.borrow();
    let tcp = |f: &Vec<u8>| f.len() >= 54 && f[12..14] == [8, 0] && f[23] == 6;
    let (n, blank) = nb
        .sent
        .iter()
        .zip(&nb.from_guest)
        .filter(|(_, f)| tcp(f))
        .fold((0, 0), |(n, b), (s, _)| (n + 1, b + s.csum_blank as usize));
    assert!(n > 10 && blank == n, "{} TCP frames, {} blank", n, blank);
    drop(nb);
    assert_clean_close(e, nf);
}

#[test]
fn checksums_are_verified_or_trusted_as_flagged() {
    let mut e = env(None);
    let mut nf = connect(&mut e).unwrap();
    let good = tcp_frame(&[7u8; 5000]); // two slots
    let mut bad = good.clone();
    bad[54 + 100] ^= 1;
    let mut blank = good.clone();
    blank[50] = 0x12;
    blank[51] = 0x34; // whatever a csum_blank sender leaves there
    let d = |frame: &Vec<u8>, csum_blank, data_validated| Delivery {
        frame: frame.clone(),
        gso_mss: None,
        csum_blank,
        data_validated,
    };
    e.nb.borrow_mut().deliveries.extend([
        d(&good, false, false), // verified
        d(&bad, false, false),  // dropped
        d(&bad, false, true),   // the backend vouched: passed on
        d(&blank, true, true),  // validated by its sender, left blank
    ]);
    cycle(&mut e, &mut nf).unwrap();
    assert_eq!(nf.recv(), Some(good.clone()));
    assert_eq!(nf.recv(), Some(bad.clone()), "data_validated is trusted");
    assert_eq!(
        nf.recv(),
        Some(blank.clone()),
        "csum_blank passed on as it came"
    );
    assert_eq!(nf.recv(), None);
    assert_eq!((nf.stats.rx_csum_bad, nf.stats.rx_csum_blank), (1, 1));
    assert_eq!(nf.stats.rx_dropped, 1);
    assert_clean_close(e, nf);
}

// ---- hostile multi-slot receive ----

/// Deliver 2-page packets (20 of them) from a misbehaving backend: the
/// device must go down with `needle` in its reason (or stay up when None),
/// never panic, and close with nothing left granted. Returns the counters.
fn hostile_rx(m: NetMisbehave, expect_down: Option<&str>) -> netfront::Stats {
    hostile_rx_ring(m, expect_down, netfront::RX_BUFS)
}

/// `hostile_rx` with a ring of `rx_bufs` RX buffers.
fn hostile_rx_ring(m: NetMisbehave, expect_down: Option<&str>, rx_bufs: usize) -> netfront::Stats {
    let mut e = env(Some(m));
    let mut nf = connect_rx_bufs(&mut e, rx_bufs).unwrap();
    let mut result = Ok(());
    for i in 0..20u8 {
        e.nb.borrow_mut().to_guest.push_back(frame(5000, i));
        result = cycle(&mut e, &mut nf);
        while nf.recv().is_some() {}
        if result.is_err() {
            break;
        }
    }
    if result.is_ok() {
        result = cycle(&mut e, &mut nf); // whatever the backend held back
        while nf.recv().is_some() {}
    }
    match expect_down {
        Some(needle) => {
            let down = nf.is_down().unwrap_or_else(|| panic!("{:?}: still up", m));
            assert!(
                down.contains(needle),
                "{:?}: {:?} lacks {:?}",
                m,
                down,
                needle
            );
            assert!(matches!(result, Err(NetError::Protocol(_))));
            // down, the event is still consumed: an idle loop can halt
            e.nb.borrow().storm(1);
            assert!(nf.poll().is_err());
            assert!(!e.evt.clone().take_pending(nf.port), "event left pending");
            assert!(nf.recv().is_none() && !nf.can_send());
        }
        None => assert!(nf.is_down().is_none(), "{:?}: {:?}", m, nf.is_down()),
    }
    let stats = nf.stats;
    assert_clean_close(e, nf);
    stats
}

#[test]
fn hostile_cases_on_a_small_guest_s_ring() {
    // the fewest RX buffers the runtime gives (a 3 MiB guest): the same
    // protocol errors take the device down as cleanly
    let min = netfront::MIN_RX_BUFS;
    hostile_rx_ring(
        NetMisbehave::RxEndlessChain,
        Some("longer than 18 slots"),
        min,
    );
    hostile_rx_ring(NetMisbehave::RxShortFirstSlot, Some("Ethernet header"), min);
    hostile_rx_ring(NetMisbehave::RxBadIdMidChain, Some("rx response id"), min);
    hostile_rx_ring(NetMisbehave::RxOffsetPastPage, Some("past the page"), min);
}

#[test]
fn hostile_chain_that_never_ends() {
    hostile_rx(NetMisbehave::RxEndlessChain, Some("longer than 18 slots"));
}

#[test]
fn hostile_first_slot_without_the_ethernet_header() {
    hostile_rx(NetMisbehave::RxShortFirstSlot, Some("Ethernet header"));
}

#[test]
fn hostile_extra_info_of_invalid_types() {
    for t in [0u8, 6, 200] {
        hostile_rx(NetMisbehave::RxExtraType(t), Some("invalid type"));
    }
}

#[test]
fn hostile_extra_info_never_negotiated() {
    // multicast (TX-only), hash and XDP headroom were never asked for
    for t in [2u8, 3, 4, 5] {
        hostile_rx(NetMisbehave::RxExtraType(t), Some("never negotiated"));
    }
}

#[test]
fn hostile_two_gso_extras() {
    hostile_rx(NetMisbehave::RxTwoGso, Some("two GSO"));
}

#[test]
fn hostile_wrong_id_in_the_middle_of_a_chain() {
    hostile_rx(NetMisbehave::RxBadIdMidChain, Some("rx response id"));
}

#[test]
fn hostile_offset_past_the_page_in_a_chain() {
    hostile_rx(NetMisbehave::RxOffsetPastPage, Some("past the page"));
}

#[test]
fn zero_gso_size_or_unknown_gso_type_drops_the_packet_as_linux_does() {
    let s = hostile_rx(NetMisbehave::RxGsoZeroSize, None);
    assert_eq!((s.rx_bad_gso, s.rx_packets), (20, 0));
    for t in [0u8, 2, 3, 77] {
        let s = hostile_rx(NetMisbehave::RxGsoType(t), None);
        assert_eq!(
            (s.rx_bad_gso, s.rx_dropped, s.rx_packets),
            (20, 20, 0),
            "type {}",
            t
        );
    }
}

#[test]
fn an_error_status_in_a_chain_drops_the_packet_as_linux_does() {
    let s = hostile_rx(NetMisbehave::RxErrorMidChain, None);
    assert_eq!((s.rx_error_status, s.rx_packets), (20, 0));
}

#[test]
fn a_chain_cut_by_the_producer_index_is_waited_for() {
    let s = hostile_rx(NetMisbehave::RxCutChain, None);
    assert_eq!((s.rx_packets, s.rx_dropped), (20, 0));
    assert!(s.rx_partial_waits >= 1);
}

#[test]
fn a_chain_that_is_never_finished_holds_nothing_after_close() {
    let s = hostile_rx(NetMisbehave::RxCutChainForever, None);
    assert_eq!(s.rx_packets, 0);
    assert!(s.rx_partial_waits >= 1);
}

#[test]
fn packets_too_short_or_too_long_are_dropped_and_counted() {
    let mut e = env(None);
    let mut nf = connect(&mut e).unwrap();
    for n in [0usize, 1, 13, MAX_PACKET + 1, 18 * 4096] {
        e.nb.borrow_mut().to_guest.push_back(frame(n, 1));
    }
    e.nb.borrow_mut().to_guest.push_back(frame(14, 2));
    cycle(&mut e, &mut nf).unwrap();
    assert_eq!(nf.recv(), Some(frame(14, 2)));
    assert_eq!((nf.stats.rx_bad_length, nf.stats.rx_dropped), (5, 5));
    assert_clean_close(e, nf);
}

#[test]
fn the_stack_not_taking_packets_never_starves_the_backend_of_slots() {
    let mut e = env(None);
    let mut nf = connect(&mut e).unwrap();
    for i in 0..600u32 {
        e.nb.borrow_mut()
            .to_guest
            .push_back(frame(100 + i as usize, i as u8));
    }
    for _ in 0..10 {
        cycle(&mut e, &mut nf).unwrap();
    }
    // held up to the queue's bound, the rest dropped and counted, never stuck
    assert_eq!(nf.rx_queued(), netfront::RX_QUEUE_MAX);
    assert_eq!(nf.stats.rx_queue_full, 600 - netfront::RX_QUEUE_MAX as u64);
    assert!(e.nb.borrow().to_guest.is_empty() && e.nb.borrow().deliveries.is_empty());
    assert_eq!(nf.recv(), Some(frame(100, 0)), "oldest first");
    assert_clean_close(e, nf);
}

#[cfg(feature = "tso")]
#[test]
fn with_tso_the_guest_sends_segments_larger_than_the_mtu_for_the_backend_to_cut() {
    let mut e = env(None);
    let mut nf = connect(&mut e).unwrap();
    assert!(nf.tso(), "the simulated backend offers feature-gso-tcpv4");
    let mut st = stacks(&e, &mut nf);
    bulk(&e, &mut nf, &mut st, false, 1 << 20);
    let nb = e.nb.borrow();
    let big: Vec<_> = nb.sent.iter().filter(|s| s.gso_mss.is_some()).collect();
    assert!(!big.is_empty() && nf.stats.tx_gso_packets == big.len() as u64);
    assert!(big.iter().all(|s| s.gso_mss == Some(1460) && s.csum_blank));
    assert!(big.iter().any(|s| s.slots > 1));
    drop(nb);
    assert_clean_close(e, nf);
}

#[cfg(not(feature = "tso"))]
#[test]
fn without_the_tso_feature_nothing_larger_than_the_mtu_is_sent() {
    let mut e = env(None);
    let mut nf = connect(&mut e).unwrap();
    assert!(!nf.set_tso(true));
    let mut st = stacks(&e, &mut nf);
    bulk(&e, &mut nf, &mut st, false, 256 << 10);
    assert!(e
        .nb
        .borrow()
        .sent
        .iter()
        .all(|s| s.gso_mss.is_none() && s.slots == 1));
    assert_eq!(nf.stats.tx_gso_packets, 0);
    assert_clean_close(e, nf);
}
