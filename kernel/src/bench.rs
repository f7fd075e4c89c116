//! `bench=on`: a TCP sink (port 5001: reads and drops everything, closes
//! after the peer's FIN) and source (port 5002: sends until the peer goes
//! away) for the harness bench (harness/scenarios/bench.sh). Each connection
//! ends with one console line carrying its byte count, duration and what it
//! cost the kernel: packets, hypercalls, event-channel notifications sent and
//! upcalls taken, as deltas over the connection.

extern crate alloc;

use alloc::vec;
use core::sync::atomic::Ordering;

use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp;

use crate::net::Net;
use crate::println;
use crate::xen::{events, hypercall};

pub const SINK_PORT: u16 = 5001;
pub const SOURCE_PORT: u16 = 5002;
/// The bulk direction's buffer: above 64 KiB, so smoltcp scales its window
/// (RFC 7323) and the sender is not held to one 64 KiB window per round trip.
const BULK_BUF: usize = 256 * 1024;
/// The other direction carries nothing.
const SMALL_BUF: usize = 2048;

/// The kernel counters a connection is charged with.
#[derive(Clone, Copy, Default)]
struct Counters {
    rx_packets: u64,
    tx_packets: u64,
    hypercalls: u64,
    notifies: u64,
    upcalls: u64,
    nf_notifies: u64,
    nf_events: u64,
}

impl Counters {
    fn now(net: &Net) -> Self {
        let s = net.nf.stats;
        Counters {
            rx_packets: s.rx_packets,
            tx_packets: s.tx_packets,
            hypercalls: hypercall::COUNT.load(Ordering::Relaxed),
            notifies: events::NOTIFIES.load(Ordering::Relaxed),
            upcalls: events::UPCALLS.load(Ordering::Relaxed),
            nf_notifies: s.notifies,
            nf_events: s.events,
        }
    }
}

struct Port {
    port: u16,
    name: &'static str,
    handle: SocketHandle,
    /// (start ns, counters at start, bytes) of the connection in progress
    conn: Option<(u64, Counters, u64)>,
}

pub struct Bench {
    ports: [Option<Port>; 2],
    /// The network generation our sockets belong to (a reconnect makes a new
    /// socket set: the old handles are meaningless there).
    generation: u32,
}

impl Bench {
    pub fn new() -> Self {
        println!(
            "bench: on sink_port={} source_port={}",
            SINK_PORT, SOURCE_PORT
        );
        Bench {
            ports: [None, None],
            generation: u32::MAX,
        }
    }

    /// Serve both ports; returns Some(now) when data moved (the stack should
    /// run again at once), else None (packets or the peer wake us).
    pub fn poll(&mut self, net: &mut Net, generation: u32, now: u64) -> Option<u64> {
        if generation != self.generation {
            self.generation = generation;
            self.ports = [
                listen(net, SINK_PORT, "sink"),
                listen(net, SOURCE_PORT, "source"),
            ];
        }
        let mut moved = false;
        for p in self.ports.iter_mut().flatten() {
            moved |= serve(p, net, now);
        }
        moved.then_some(now)
    }
}

fn listen(net: &mut Net, port: u16, name: &'static str) -> Option<Port> {
    let (rx, tx) = if port == SINK_PORT {
        (BULK_BUF, SMALL_BUF)
    } else {
        (SMALL_BUF, BULK_BUF)
    };
    let mut s = tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; rx]),
        tcp::SocketBuffer::new(vec![0; tx]),
    );
    // acknowledge at once: the delayed ACK (10 ms) stalls a bulk sender
    // whose window is full, one stall per window
    s.set_ack_delay(None);
    if s.listen(port).is_err() {
        println!("bench: error reason=\"listen on {} failed\"", port);
        return None;
    }
    Some(Port {
        port,
        name,
        handle: net.sockets.add(s),
        conn: None,
    })
}

/// One step of one port; true if bytes moved.
fn serve(p: &mut Port, net: &mut Net, now: u64) -> bool {
    let start = Counters::now(net);
    let s = net.sockets.get_mut::<tcp::Socket>(p.handle);
    let mut moved = 0u64;
    if s.is_active() && p.conn.is_none() {
        p.conn = Some((now, start, 0));
    }
    if p.port == SINK_PORT {
        while s.can_recv() {
            match s.recv(|b| (b.len(), b.len())) {
                Ok(0) | Err(_) => break,
                Ok(n) => moved += n as u64,
            }
        }
    } else if s.may_send() {
        // the buffer's old contents are as good as any: no per-byte work
        while let Ok(n) = s.send(|b| (b.len(), b.len())) {
            if n == 0 {
                break;
            }
            moved += n as u64;
        }
    }
    if let Some(c) = p.conn.as_mut() {
        c.2 += moved;
    }
    match s.state() {
        tcp::State::CloseWait => s.close(), // the peer is done: so are we
        tcp::State::TimeWait => s.abort(),
        tcp::State::Closed => {
            if let Some((t0, c0, bytes)) = p.conn.take() {
                report(p, net, now, t0, c0, bytes);
            }
            let s = net.sockets.get_mut::<tcp::Socket>(p.handle);
            if s.listen(p.port).is_err() {
                println!("bench: error reason=\"listen on {} failed\"", p.port);
            }
        }
        _ => {}
    }
    moved > 0
}

fn report(p: &Port, net: &Net, now: u64, t0: u64, c0: Counters, bytes: u64) {
    let c = Counters::now(net);
    let packets = (c.rx_packets - c0.rx_packets) + (c.tx_packets - c0.tx_packets);
    let per_k = |v: u64| (v * 1000).checked_div(packets).unwrap_or(0);
    let (hc, no, up) = (
        c.hypercalls - c0.hypercalls,
        c.notifies - c0.notifies,
        c.upcalls - c0.upcalls,
    );
    println!(
        "bench: closed port={} name={} bytes={} ms={} rx_packets={} tx_packets={} hypercalls={} notifies={} upcalls={} nf_notifies={} nf_events={} hypercalls_per_1k_packets={} notifies_per_1k_packets={} upcalls_per_1k_packets={}",
        p.port,
        p.name,
        bytes,
        (now - t0) / 1_000_000,
        c.rx_packets - c0.rx_packets,
        c.tx_packets - c0.tx_packets,
        hc,
        no,
        up,
        c.nf_notifies - c0.nf_notifies,
        c.nf_events - c0.nf_events,
        per_k(hc),
        per_k(no),
        per_k(up)
    );
}
