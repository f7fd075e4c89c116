//! `bench=on`: a TCP sink (port 5001: reads and drops everything, closes
//! after the peer's FIN) and source (port 5002: sends until the peer goes
//! away) for the harness bench (harness/scenarios/bench.sh). Each connection
//! ends with one console line carrying its byte count, duration and what it
//! cost: packets, hypercalls, event-channel notifications sent and upcalls
//! taken, as deltas over the connection.

extern crate alloc;

use alloc::format;
use alloc::vec;

use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp;

use crate::net::{Net, Nic};
use crate::wake::Wake;
use crate::{Cx, Platform};

pub const SINK_PORT: u16 = 5001;
pub const SOURCE_PORT: u16 = 5002;
/// The bulk direction's buffer: above 64 KiB, so smoltcp scales its window
/// (RFC 7323) and the sender is not held to one 64 KiB window per round trip.
const BULK_BUF: usize = 256 * 1024;
/// The other direction carries nothing.
const SMALL_BUF: usize = 2048;

/// What a connection is charged with.
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
    fn now<N: Nic, P: Platform>(net: &Net<N>, cx: &Cx<'_, P>) -> Self {
        let s = net.nic.counters();
        let k = cx.host.counters();
        Counters {
            rx_packets: s.rx_packets,
            tx_packets: s.tx_packets,
            hypercalls: k.hypercalls,
            notifies: k.notifies,
            upcalls: k.upcalls,
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
    /// The network our sockets belong to.
    generation: Option<u32>,
}

impl Bench {
    pub fn new<P: Platform>(cx: &mut Cx<'_, P>) -> Self {
        cx.say(&format!(
            "bench: on sink_port={} source_port={}",
            SINK_PORT, SOURCE_PORT
        ));
        Bench {
            ports: [None, None],
            generation: None,
        }
    }

    /// Serve both ports. Bytes moving is progress: the stack runs again in
    /// the same turn.
    pub fn poll<N: Nic, P: Platform>(
        &mut self,
        net: &mut Net<N>,
        cx: &mut Cx<'_, P>,
        now: u64,
    ) -> Wake {
        if self.generation != Some(net.generation) {
            self.generation = Some(net.generation);
            self.ports = [
                listen(net, cx, SINK_PORT, "sink"),
                listen(net, cx, SOURCE_PORT, "source"),
            ];
        }
        let mut moved = false;
        for p in self.ports.iter_mut().flatten() {
            moved |= serve(p, net, cx, now);
        }
        if moved {
            Wake::IDLE.progressed()
        } else {
            Wake::IDLE
        }
    }
}

fn listen<N: Nic, P: Platform>(
    net: &mut Net<N>,
    cx: &mut Cx<'_, P>,
    port: u16,
    name: &'static str,
) -> Option<Port> {
    let (rx, tx) = if port == SINK_PORT {
        (BULK_BUF, SMALL_BUF)
    } else {
        (SMALL_BUF, BULK_BUF)
    };
    let mut s = tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; rx]),
        tcp::SocketBuffer::new(vec![0; tx]),
    );
    // acknowledge at once: the delayed ACK stalls a bulk sender whose
    // window is full, one stall per window
    s.set_ack_delay(None);
    if s.listen(port).is_err() {
        cx.say(&format!(
            "bench: error reason=\"listen on {} failed\"",
            port
        ));
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
fn serve<N: Nic, P: Platform>(
    p: &mut Port,
    net: &mut Net<N>,
    cx: &mut Cx<'_, P>,
    now: u64,
) -> bool {
    let start = Counters::now(net, cx);
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
                report(p, net, cx, now, t0, c0, bytes);
            }
            let s = net.sockets.get_mut::<tcp::Socket>(p.handle);
            if s.listen(p.port).is_err() {
                cx.say(&format!(
                    "bench: error reason=\"listen on {} failed\"",
                    p.port
                ));
            }
        }
        _ => {}
    }
    moved > 0
}

fn report<N: Nic, P: Platform>(
    p: &Port,
    net: &Net<N>,
    cx: &mut Cx<'_, P>,
    now: u64,
    t0: u64,
    c0: Counters,
    bytes: u64,
) {
    let c = Counters::now(net, cx);
    let d = |a: u64, b: u64| a.saturating_sub(b);
    let packets = d(c.rx_packets, c0.rx_packets) + d(c.tx_packets, c0.tx_packets);
    let per_k = |v: u64| (v * 1000).checked_div(packets).unwrap_or(0);
    let (hc, no, up) = (
        d(c.hypercalls, c0.hypercalls),
        d(c.notifies, c0.notifies),
        d(c.upcalls, c0.upcalls),
    );
    cx.say(&format!(
        "bench: closed port={} name={} bytes={} ms={} rx_packets={} tx_packets={} hypercalls={} notifies={} upcalls={} nf_notifies={} nf_events={} hypercalls_per_1k_packets={} notifies_per_1k_packets={} upcalls_per_1k_packets={}",
        p.port,
        p.name,
        bytes,
        now.saturating_sub(t0) / 1_000_000,
        d(c.rx_packets, c0.rx_packets),
        d(c.tx_packets, c0.tx_packets),
        hc,
        no,
        up,
        d(c.nf_notifies, c0.nf_notifies),
        d(c.nf_events, c0.nf_events),
        per_k(hc),
        per_k(no),
        per_k(up)
    ));
}
