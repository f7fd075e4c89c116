//! The whole appliance on the host, end to end: boot of the runtime with
//! netfront and the XenStore client, DHCP from the peer, the IMDS flow, the
//! key on the console and in XenStore, SSH answering, `xl shutdown` in the
//! middle of a bulk transfer, and vif detach and re-attach.

mod world;

use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp;
use smoltcp::wire::IpAddress;
use world::{World, KEY, MS, S};

/// A TCP client on the peer.
fn connect(w: &mut World, port: u16, local: u16) -> SocketHandle {
    let mut s = tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; 65536]),
        tcp::SocketBuffer::new(vec![0; 65536]),
    );
    s.connect(
        w.peer.iface.context(),
        (IpAddress::v4(10, 0, 0, 50), port),
        local,
    )
    .unwrap();
    w.peer.sockets.add(s)
}

fn recv_all(w: &mut World, h: SocketHandle) -> Vec<u8> {
    let mut out = Vec::new();
    let s = w.peer.sockets.get_mut::<tcp::Socket>(h);
    while s.can_recv() {
        let _ = s.recv(|b| {
            out.extend_from_slice(b);
            (b.len(), ())
        });
    }
    out
}

#[test]
fn boots_fetches_the_key_and_answers_ssh() {
    let mut w = World::new("");
    w.boot_to_ssh();
    let lease = w.line("dhcp: lease ").unwrap();
    assert!(
        lease.starts_with("dhcp: lease ip=10.0.0.50/24 router=10.0.0.1 "),
        "{}",
        lease
    );
    assert!(
        w.has_line("imds: mode=v2 requests=6 retries=0 "),
        "{}",
        w.dump()
    );
    assert_eq!(w.line("ssh-key: ").unwrap(), format!("ssh-key: {}", KEY));
    assert!(w.has_line("cloudinit: done elapsed_ms="));
    assert!(w.has_line("ssh: listening port=22 user=admin keys=1 sessions=4 rng=sim "));
    assert_eq!(w.xs_read("attr/vif/0/ipv4/0").as_deref(), Some("10.0.0.50"));
    assert_eq!(w.xs_read("data/cloudinit/status").as_deref(), Some("done"));
    assert!(w
        .xs_read("data/ssh/host-key-fingerprint")
        .unwrap()
        .starts_with("SHA256:"));
    let phases = w.line("boot: phases ").expect("boot phases said");
    let want = [
        "xen_ms=",
        "xenstore_ms=",
        "netfront_ms=",
        "address_ms=",
        "metadata_ms=",
        "ssh_ms=",
    ];
    let got: Vec<&str> = phases["boot: phases ".len()..].split(' ').collect();
    assert_eq!(got.len(), want.len() + 2, "{}", phases);
    // and what XenStore cost: requests sent since boot, their round trips
    let requests: u64 = got[6]
        .strip_prefix("xenstore_requests=")
        .expect(got[6])
        .parse()
        .unwrap();
    assert!((20..200).contains(&requests), "{}", phases);
    assert!(got[7].starts_with("xenstore_request_ms="), "{}", phases);
    let mut last = 0u64;
    let mut at = Vec::new();
    for (g, w_) in got.iter().zip(want) {
        let ms: u64 = g.strip_prefix(w_).expect(g).parse().unwrap();
        assert!(ms >= last, "phases in order: {}", phases);
        last = ms;
        at.push(ms);
    }
    // a milestone counts from when it was reached, not from the start of
    // the turn that reached it (netfront's handshake waits within a turn)
    let said_ms = |prefix: &str| (w.line_at(prefix).unwrap() - w.boot_ns) / MS;
    assert_eq!(
        at[0], 1,
        "the kernel's Xen platform, from its entry: {}",
        phases
    );
    assert!(at[1] >= 2, "XenStore after the platform: {}", phases);
    assert!(at[2] >= said_ms("netfront: connected "), "{}", phases);
    assert!(at[3] >= said_ms("dhcp: lease "), "{}", phases);
    assert!(at[4] >= said_ms("cloudinit: done "), "{}", phases);
    assert_eq!(
        w.xs_read("data/appliance/boot-phases").as_deref(),
        Some(&phases["boot: phases ".len()..])
    );

    // the SSH service answers with its banner
    let h = connect(&mut w, 22, 40000);
    let mut got = Vec::new();
    w.run_until(5 * S, |w| {
        got.extend(recv_all(w, h));
        got.starts_with(b"SSH-2.0-")
    });
    assert!(
        got.starts_with(b"SSH-2.0-"),
        "banner: {:?}",
        String::from_utf8_lossy(&got)
    );
    assert!(
        w.has_line("ssh: connect from=10.0.0.1:40000 slot="),
        "{}",
        w.dump()
    );
}

#[test]
fn idle_after_boot_asks_for_no_early_wakeup() {
    let mut w = World::new("");
    w.boot_to_ssh();
    // let everything settle (ARP, the last FINs)
    w.run_until(30 * S, |_| false);
    let now = w.now();
    w.turn();
    let next = w.next.expect("DHCP renewal is the one timer left");
    assert!(
        next >= now + 60 * S,
        "an idle appliance sleeps until its lease needs renewing, not {} ms",
        (next - now) / MS
    );
}

#[test]
fn static_address_without_services_sleeps_for_good() {
    let mut w = World::new("ip=10.0.0.50/24 gw=10.0.0.1 cloudinit=off");
    w.run_until(10 * S, |w| {
        w.has_line("net: static ip=10.0.0.50/24 gw=10.0.0.1")
    });
    w.run_until(70 * S, |_| false);
    w.turn();
    assert_eq!(w.next, None, "nothing to wait for but events");
}

#[test]
fn xl_shutdown_is_heard_during_a_bulk_transfer() {
    let mut w = World::new("bench=on");
    w.boot_to_ssh();
    let h = connect(&mut w, 5001, 40001);
    let chunk = vec![0x5au8; 32768];
    let mut sent = 0usize;
    let mut shutdown_at = None;
    let ok = w.run_until(60 * S, |w| {
        let s = w.peer.sockets.get_mut::<tcp::Socket>(h);
        if s.can_send() {
            sent += s.send_slice(&chunk).unwrap_or(0);
        }
        if sent > 2_000_000 && shutdown_at.is_none() {
            w.xsd.borrow_mut().tool_write(
                &format!("/local/domain/{}/control/shutdown", world::DOMID),
                b"poweroff",
            );
            shutdown_at = Some(w.now());
        }
        w.rec.borrow().power.is_some()
    });
    assert!(ok, "sent {} bytes; no poweroff:\n{}", sent, w.dump());
    let (action, why) = w.rec.borrow().power.clone().unwrap();
    assert_eq!(action, runtime::Power::Off);
    assert_eq!(why, "xl shutdown (control/shutdown=poweroff)");
    let waited = w.now() - shutdown_at.unwrap();
    assert!(
        waited < 100 * MS,
        "heard after {} ms of a bulk transfer",
        waited / MS
    );
    assert!(w.app.stopped());
}

#[test]
fn vif_detach_and_reattach() {
    let mut w = World::new("");
    w.boot_to_ssh();
    // an SSH client connected across the detach
    let started = w.now();
    let held = connect(&mut w, 22, 40001);
    assert!(world::await_banner(&mut w, held, 5 * S), "{}", w.dump());
    w.run_until(S, |_| false);
    w.nb.borrow_mut().begin_close();
    let ok = w.run_until(30 * S, |w| w.has_line("netfront: closed "));
    assert!(ok, "{}", w.dump());
    let closed = w.line("netfront: closed ").unwrap();
    assert!(
        closed.starts_with(
            "netfront: closed device=device/vif/0 reason=\"backend state Closing\" quarantined=0 "
        ),
        "{}",
        closed
    );
    assert!(w.gt.active().is_empty(), "every grant ended");
    w.attach_vif();
    let ok = w.run_until(60 * S, |w| w.count_lines("dhcp: lease ") == 2);
    assert!(ok, "{}", w.dump());
    assert!(w.has_line("netfront: connected device=device/vif/0 "));
    let reconnect = w
        .rec
        .borrow()
        .lines
        .iter()
        .filter(|l| l.starts_with("netfront: connected"))
        .last()
        .cloned()
        .unwrap();
    assert!(reconnect.ends_with(" reconnects=1"), "{}", reconnect);
    // its session went with the old network, and its closing line says how
    // long it was open: at least the second before the detach, at most
    // everything since its connect
    let closed = w
        .line("ssh: closed from=10.0.0.1:40001 reason=\"network went down\" ms=")
        .unwrap_or_else(|| panic!("no closing line for the held session:\n{}", w.dump()));
    let ms: u64 = closed.rsplit_once(" ms=").unwrap().1.parse().unwrap();
    assert!(
        (1000..=(w.now() - started) / MS).contains(&ms),
        "{}",
        closed
    );
    // SSH listens on the new network
    let h = connect(&mut w, 22, 40002);
    assert!(world::await_banner(&mut w, h, 5 * S), "{}", w.dump());
}

/// The stack asks for "now" forever (data to send, the TX ring full, the
/// backend gone quiet): the loop must not spin, and XenStore must still be
/// heard at once.
#[test]
fn a_stack_stuck_on_now_neither_spins_nor_starves_xenstore() {
    let mut w = World::new("bench=on");
    w.boot_to_ssh();
    // the bench source sends until we go; a window far larger than the TX
    // ring, so the stack always has a segment it may send
    let mut sock = tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; 256 * 1024]),
        tcp::SocketBuffer::new(vec![0; 1024]),
    );
    sock.connect(
        w.peer.iface.context(),
        (IpAddress::v4(10, 0, 0, 50), 5002),
        40003,
    )
    .unwrap();
    let h = w.peer.sockets.add(sock);
    w.run_until(100 * MS, |w| {
        recv_all(w, h);
        false
    });
    w.backend_frozen = true;
    w.run_until(S, |_| false);
    let end = w.now() + 5 * S;
    let mut turns = 0;
    let mut asked_now = 0;
    while w.now() < end {
        let before = w.now();
        w.turn_with(S);
        turns += 1;
        if w.next.is_some_and(|t| t <= before) {
            asked_now += 1;
        }
    }
    // the turn that found the ring full may still have moved something;
    // after that, every turn sleeps
    assert!(
        asked_now <= 3,
        "{} turns asked to run again at once while nothing could move",
        asked_now
    );
    assert!(
        turns <= 5 * 1000 / 10 + 10,
        "{} turns in 5 s: the stall sleep did not hold",
        turns
    );
    w.xsd.borrow_mut().tool_write(
        &format!("/local/domain/{}/control/shutdown", world::DOMID),
        b"poweroff",
    );
    let t0 = w.now();
    let ok = w.run_until(S, |w| w.rec.borrow().power.is_some());
    assert!(
        ok,
        "xl shutdown not heard while the stack was stuck:\n{}",
        w.dump()
    );
    assert!(
        w.now() - t0 <= 20 * MS,
        "heard after {} ms",
        (w.now() - t0) / MS
    );
}
