//! A hostile network against the whole appliance on the host (issue 13):
//! floods of every kind, half-open and silent SSH connections. After each,
//! it must answer ping, let SSH in, go back to sleeping, and its memory must
//! stay bounded.

mod world;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use smoltcp::iface::SocketHandle;
use smoltcp::socket::{icmp, tcp};
use smoltcp::wire::{Icmpv4Packet, Icmpv4Repr, IpAddress, Ipv4Address, TcpControl};
use world::frames;
use world::{World, MS, S};

/// Bytes in use on the heap of this test process (the appliance, the
/// simulator and the peer together).
struct Counting;
static IN_USE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        IN_USE.fetch_add(l.size(), Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        IN_USE.fetch_sub(l.size(), Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static A: Counting = Counting;

const GUEST: [u8; 4] = [10, 0, 0, 50];
const ATTACKER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x66];

fn connect(w: &mut World, port: u16, local: u16) -> SocketHandle {
    let mut s = tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; 8192]),
        tcp::SocketBuffer::new(vec![0; 8192]),
    );
    s.connect(
        w.peer.iface.context(),
        (IpAddress::v4(10, 0, 0, 50), port),
        local,
    )
    .unwrap();
    w.peer.sockets.add(s)
}

/// A legitimate client gets the SSH banner within `limit`.
fn ssh_banner(w: &mut World, local: u16, limit: u64) -> bool {
    world::ssh_banner_at(w, GUEST, local, limit)
}

/// The peer pings the guest; true if a reply comes within `limit`.
fn ping(w: &mut World, seq: u16, limit: u64) -> bool {
    let mut s = icmp::Socket::new(
        icmp::PacketBuffer::new(vec![icmp::PacketMetadata::EMPTY; 4], vec![0; 1024]),
        icmp::PacketBuffer::new(vec![icmp::PacketMetadata::EMPTY; 4], vec![0; 1024]),
    );
    s.bind(icmp::Endpoint::Ident(0x77)).unwrap();
    let h = w.peer.sockets.add(s);
    let req = Icmpv4Repr::EchoRequest {
        ident: 0x77,
        seq_no: seq,
        data: b"are you there",
    };
    let mut buf = vec![0u8; req.buffer_len()];
    req.emit(
        &mut Icmpv4Packet::new_unchecked(&mut buf),
        &Default::default(),
    );
    w.peer
        .sockets
        .get_mut::<icmp::Socket>(h)
        .send_slice(&buf, Ipv4Address::from(GUEST).into())
        .unwrap();
    let ok = w.run_until(limit, |w| {
        let s = w.peer.sockets.get_mut::<icmp::Socket>(h);
        while let Ok((data, _)) = s.recv() {
            let p = Icmpv4Packet::new_checked(data).unwrap();
            if let Ok(Icmpv4Repr::EchoReply { seq_no, .. }) =
                Icmpv4Repr::parse(&p, &Default::default())
            {
                if seq_no == seq {
                    return true;
                }
            }
        }
        false
    });
    w.peer.sockets.remove(h);
    ok
}

/// Turns the appliance takes over `span` of quiet time when it may sleep
/// as long as it likes: an idle appliance takes a handful, a spinning one
/// thousands.
fn turns_while_quiet(w: &mut World, span: u64) -> usize {
    let end = w.now() + span;
    let mut n = 0;
    while w.now() < end {
        w.turn_with(S);
        n += 1;
    }
    n
}

/// Deliver `make(i)` frames for `span` of simulated time, `per_ms` per ms,
/// never more than the backend's queue can hold.
fn flood(w: &mut World, span: u64, per_ms: usize, mut make: impl FnMut(u32) -> Vec<u8>) {
    let end = w.now() + span;
    let mut i = 0u32;
    while w.now() < end {
        if w.nb.borrow().to_guest.len() < 1024 {
            for _ in 0..per_ms {
                w.peer.inject(make(i));
                i = i.wrapping_add(1);
            }
        }
        w.turn();
    }
}

fn after_flood(w: &mut World, what: &str, heap_before: usize, local: u16) {
    // the flood's frames drain, retransmissions to spoofed hosts give up
    w.run_until(3 * S, |_| false);
    assert!(
        ping(w, local, S),
        "[{}] no ping reply within 1 s:\n{}",
        what,
        w.dump()
    );
    assert!(
        ssh_banner(w, local, 5 * S),
        "[{}] ssh not answering:\n{}",
        what,
        w.dump()
    );
    w.run_until(40 * S, |_| false); // let half-open slots and retransmissions time out
    forget_sim_log(w);
    let turns = turns_while_quiet(w, 20 * S);
    assert!(
        turns < 200,
        "[{}] {} turns in 20 s of quiet: not idle",
        what,
        turns
    );
    let grown = IN_USE.load(Ordering::Relaxed).saturating_sub(heap_before);
    assert!(grown < 1 << 20, "[{}] heap grew by {} bytes", what, grown);
    assert!(w.rec.borrow().power.is_none(), "[{}] powered off", what);
    assert!(
        !w.has_line("netfront: error"),
        "[{}] driver error:\n{}",
        what,
        w.dump()
    );
}

/// The simulated netback keeps a record of every frame the guest sent (for
/// its own tests): drop it, so the heap measured is the appliance's.
fn forget_sim_log(w: &mut World) {
    let mut nb = w.nb.borrow_mut();
    nb.sent.clear();
    nb.sent.shrink_to_fit();
}

#[test]
fn floods_leave_it_reachable_and_idle() {
    let mut w = World::new("");
    w.boot_to_ssh();
    forget_sim_log(&mut w);
    let heap = IN_USE.load(Ordering::Relaxed);
    type Make = Box<dyn FnMut(u32) -> Vec<u8>>;
    let kinds: Vec<(&str, Make)> = vec![
        (
            "SYN flood to ssh from one host",
            Box::new(|i| {
                frames::tcp(
                    world::peer_mac(),
                    [10, 0, 0, 1],
                    1024 + (i % 60000) as u16,
                    GUEST,
                    22,
                    TcpControl::Syn,
                    i.wrapping_mul(7919),
                    None,
                )
            }),
        ),
        (
            "SYN flood to ssh from spoofed hosts",
            Box::new(|i| {
                frames::tcp(
                    ATTACKER_MAC,
                    [10, 0, 0, 100 + (i % 100) as u8],
                    1024 + (i % 60000) as u16,
                    GUEST,
                    22,
                    TcpControl::Syn,
                    i,
                    None,
                )
            }),
        ),
        (
            "SYN flood to a closed port",
            Box::new(|i| {
                frames::tcp(
                    ATTACKER_MAC,
                    [10, 0, 0, 1],
                    2000 + (i % 1000) as u16,
                    GUEST,
                    23,
                    TcpControl::Syn,
                    i,
                    None,
                )
            }),
        ),
        (
            "RST/ACK/FIN garbage to ssh",
            Box::new(|i| {
                let c = [TcpControl::Rst, TcpControl::None, TcpControl::Fin][(i % 3) as usize];
                frames::tcp(
                    ATTACKER_MAC,
                    [10, 0, 0, 1],
                    3000 + (i % 100) as u16,
                    GUEST,
                    22,
                    c,
                    i,
                    Some(i ^ 0x5555),
                )
            }),
        ),
        (
            "UDP to closed ports",
            Box::new(|i| {
                frames::udp(
                    ATTACKER_MAC,
                    [10, 0, 0, 1],
                    4000,
                    GUEST,
                    (i % 65000) as u16 + 1,
                    b"junk",
                )
            }),
        ),
        (
            "ICMP echo flood",
            Box::new(|i| frames::icmp_echo(world::peer_mac(), [10, 0, 0, 1], GUEST, i as u16)),
        ),
        (
            "bad checksums",
            Box::new(|i| {
                frames::corrupt(frames::tcp(
                    ATTACKER_MAC,
                    [10, 0, 0, 1],
                    5000,
                    GUEST,
                    22,
                    TcpControl::Syn,
                    i,
                    None,
                ))
            }),
        ),
        (
            "ARP storm",
            Box::new(|i| {
                frames::arp_request(ATTACKER_MAC, [10, 0, 0, 100 + (i % 150) as u8], GUEST)
            }),
        ),
        (
            "IP fragments",
            Box::new(|i| frames::ip_fragment(ATTACKER_MAC, [10, 0, 0, 1], GUEST, i as u16)),
        ),
    ];
    for (n, (what, make)) in kinds.into_iter().enumerate() {
        flood(&mut w, 2 * S, 40, make);
        after_flood(&mut w, what, heap, 41000 + n as u16);
    }
}

#[test]
fn half_open_and_fin_at_once_connections_do_not_lock_ssh_out() {
    let mut w = World::new("");
    w.boot_to_ssh();
    // four SYNs from hosts that never answer: every slot half-open
    for i in 0..4u8 {
        w.peer.inject(frames::tcp(
            ATTACKER_MAC,
            [10, 0, 0, 200 + i],
            6000,
            GUEST,
            22,
            TcpControl::Syn,
            1,
            None,
        ));
    }
    w.run_until(100 * MS, |_| false);
    // all slots busy: a new client is refused at once, not left hanging
    let h = connect(&mut w, 22, 42000);
    let refused = w.run_until(2 * S, |w| {
        w.peer.sockets.get_mut::<tcp::Socket>(h).state() == tcp::State::Closed
    });
    assert!(
        refused,
        "with every slot half-open a new connection is refused at once"
    );
    // once the handshake timeout passed, the slots listen again
    w.run_until(4 * S, |_| false);
    assert!(
        ssh_banner(&mut w, 42001, 5 * S),
        "half-open slots never came back:\n{}",
        w.dump()
    );

    // four clients that connect and send FIN at once
    let hs: Vec<_> = (0..4).map(|i| connect(&mut w, 22, 42100 + i)).collect();
    w.run_until(200 * MS, |w| {
        hs.iter()
            .all(|h| w.peer.sockets.get_mut::<tcp::Socket>(*h).may_send())
    });
    for h in &hs {
        w.peer.sockets.get_mut::<tcp::Socket>(*h).close();
    }
    w.run_until(12 * S, |_| false);
    assert!(
        ssh_banner(&mut w, 42002, 5 * S),
        "FIN-at-once connections kept the slots:\n{}",
        w.dump()
    );
}

#[test]
fn silent_connections_cannot_hold_ssh_past_the_login_grace() {
    let mut w = World::new("");
    w.boot_to_ssh();
    let hs: Vec<_> = (0..4).map(|i| connect(&mut w, 22, 43000 + i)).collect();
    w.run_until(S, |_| false);
    // the grace (30 s) passes; the silent four are closed by the server
    w.run_until(35 * S, |_| false);
    assert!(
        ssh_banner(&mut w, 43010, 5 * S),
        "silent connections kept SSH:\n{}",
        w.dump()
    );
    // each one's closing line says how long it held its slot: the grace
    let closed = w
        .line("ssh: closed from=10.0.0.1:43000 ")
        .expect("the server said it closed the first silent connection");
    let ms: u64 = closed
        .rsplit_once(" ms=")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or_else(|| panic!("no ms= in {:?}", closed));
    assert!((30_000..=32_000).contains(&ms), "{}", closed);
    drop(hs);
}

// ---- a rogue or broken DHCP server ----

use xensim::peer::DhcpMode;

fn dhcp_sent(w: &World) -> u32 {
    w.peer.dhcp.discovers + w.peer.dhcp.requests
}

#[test]
fn zero_lease_and_renewal_after_the_lease_do_not_make_it_chatty() {
    for (lease, renew) in [(Some(0), None), (Some(60), Some(3600)), (None, None)] {
        let mut w = World::new("");
        w.peer.dhcp.lease_s = lease;
        w.peer.dhcp.renew_s = renew;
        w.boot_to_ssh();
        let sent0 = dhcp_sent(&w);
        w.run_until(300 * S, |_| false);
        let sent = dhcp_sent(&w) - sent0;
        // a lease raised to the 60 s minimum is renewed every 30 s: ~10 in 5 min
        assert!(
            sent <= 12,
            "lease {:?} renew {:?}: {} DHCP packets in 5 min",
            lease,
            renew,
            sent
        );
        assert_eq!(
            w.count_lines("dhcp: lease ip="),
            1,
            "one lease, renewed quietly:\n{}",
            w.dump()
        );
        assert!(ping(&mut w, 7, S), "lease {:?}: unreachable", lease);
    }
}

#[test]
fn a_server_that_always_naks_gets_backoff_and_a_good_one_is_taken_after() {
    let mut w = World::new("");
    w.peer.dhcp.mode = DhcpMode::NakAll;
    w.run_until(600 * S, |_| false);
    let sent = dhcp_sent(&w);
    assert!(
        sent <= 40,
        "{} DHCP packets in 10 min against a NAKing server",
        sent
    );
    assert!(!w.has_line("dhcp: lease ip="));
    w.peer.dhcp.mode = DhcpMode::Normal;
    let ok = w.run_until(90 * S, |w| w.has_line("ssh: listening "));
    assert!(
        ok,
        "no lease and key within 90 s once the server behaves:\n{}",
        w.dump()
    );
}

#[test]
fn no_router_still_reaches_the_metadata_service_through_the_dhcp_server() {
    let mut w = World::new("");
    w.peer.dhcp.router = None;
    w.boot_to_ssh();
    let lease = w.line("dhcp: lease ").unwrap();
    assert!(
        lease.contains(" router=- ") && lease.ends_with(" link_local_via=10.0.0.1"),
        "{}",
        lease
    );
    assert!(w.has_line("cloudinit: done "));
}

#[test]
fn a_vanished_server_lets_the_lease_expire_and_a_new_address_brings_ssh_back() {
    let mut w = World::new("");
    w.peer.dhcp.lease_s = Some(120);
    w.boot_to_ssh();
    w.peer.dhcp.mode = DhcpMode::Silent;
    let ok = w.run_until(130 * S, |w| w.has_line("dhcp: lease lost "));
    assert!(ok, "the lease did not expire:\n{}", w.dump());
    assert_eq!(
        w.line("dhcp: lease lost ").unwrap(),
        "dhcp: lease lost reason=expired; asking again"
    );
    assert!(
        !ping(&mut w, 9, S),
        "still answering at the expired address"
    );
    // discovery resumes with backoff while the server is gone
    let sent0 = dhcp_sent(&w);
    w.run_until(120 * S, |_| false);
    let sent = dhcp_sent(&w) - sent0;
    assert!(
        (2..=8).contains(&sent),
        "{} DISCOVERs in 2 min without a server",
        sent
    );
    w.peer.dhcp.mode = DhcpMode::Normal;
    w.peer.dhcp.offer = [10, 0, 0, 60];
    let ok = w.run_until(90 * S, |w| w.count_lines("dhcp: lease ip=") == 2);
    assert!(ok, "no new lease:\n{}", w.dump());
    assert!(w.has_line("dhcp: lease ip=10.0.0.60/24 "), "{}", w.dump());
    assert!(
        world::ssh_banner_at(&mut w, [10, 0, 0, 60], 44000, 5 * S),
        "SSH not back on the new address:\n{}",
        w.dump()
    );
}

#[test]
fn device_directories_the_toolstack_garbled_cost_the_boot_nothing() {
    // a vbd entry that is no device id: announce says so and goes on; the
    // vif is then found by its own look
    let mut w = World::with_store("", None, |x| {
        x.tool_write("/local/domain/1/device/vbd/..", b"");
    });
    w.boot_to_ssh();
    assert!(
        w.has_line("xenstore: error reason=\"devices: "),
        "{}",
        w.dump()
    );
    assert!(w.has_line("netfront: connected "), "{}", w.dump());
    assert!(w.has_line("ssh-key: "), "{}", w.dump());
    assert!(!w.has_line("cloudinit: datasource=nocloud-disk"));
}
