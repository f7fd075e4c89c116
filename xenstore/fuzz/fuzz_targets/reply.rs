//! Whatever a daemon writes into the response ring, cut into whatever
//! pieces and sent at whatever times: the reassembler, the header parser and
//! the client answer with values, never panic, hang or read outside the
//! ring, and stay bounded (every call ends by its deadline, the event queue
//! by its bound, a broken connection is never readable).
#![no_main]

use std::collections::VecDeque;

use libfuzzer_sys::fuzz_target;
use xenabi::hal::{Clock, SharedMem};
use xenabi::xs_wire as xs;
use xensim::{SimClock, SimPage};
use xenstore::wire::{split_strings, Errno, Header, Perm, Reader};
use xenstore::{Client, Wait};
use xenstore_fuzz::{bounded, Script};

const MS: u64 = 1_000_000;
const TIMEOUT_NS: u64 = 5 * MS;
const RING: u32 = xs::XENSTORE_RING_SIZE as u32;

fn frame(kind: u32, req_id: u32, payload: &[u8]) -> Vec<u8> {
    let mut m = Vec::new();
    for w in [kind, req_id, 0, payload.len() as u32] {
        m.extend_from_slice(&w.to_le_bytes());
    }
    m.extend_from_slice(payload);
    m
}

/// A daemon played by the fuzzer. Each wakeup it reads what the client
/// sent (to learn the id and type of the request it may answer), runs one
/// scripted step and hands a scripted number of bytes to the ring.
struct FuzzDaemon<'a> {
    page: SimPage,
    clock: SimClock,
    script: Script<'a>,
    outq: VecDeque<u8>,
    inbuf: Vec<u8>,
    last: (u32, u32), // (type, id) of the newest request
}

impl FuzzDaemon<'_> {
    fn learn_requests(&mut self) {
        let cons = self.page.read_u32(xs::XS_REQ_CONS_OFFSET);
        let prod = self.page.read_u32(xs::XS_REQ_PROD_OFFSET);
        let n = prod.wrapping_sub(cons).min(RING);
        for k in 0..n {
            let mut b = [0u8];
            let at = xs::XS_REQ_OFFSET + (cons.wrapping_add(k) % RING) as usize;
            self.page.read(at, &mut b);
            self.inbuf.push(b[0]);
        }
        self.page
            .write_u32(xs::XS_REQ_CONS_OFFSET, cons.wrapping_add(n));
        while let Ok(h) = Header::parse(&self.inbuf) {
            let total = 16 + h.len as usize;
            if self.inbuf.len() < total {
                break;
            }
            self.last = (h.kind.code(), h.req_id);
            self.inbuf.drain(..total);
        }
        self.inbuf.truncate(8192);
    }

    fn step(&mut self) {
        let (kind, id) = self.last;
        let msg = match self.script.byte() % 8 {
            0 => {
                let n = self.script.byte() as usize;
                self.script.take(n).to_vec()
            }
            1 => {
                let k = match self.script.byte() % 3 {
                    0 => kind,
                    1 => xs::XS_ERROR,
                    _ => self.script.u32(),
                };
                let n = self.script.byte() as usize;
                frame(k, id, self.script.take(n))
            }
            2 => {
                let n = self.script.byte() as usize % 64;
                let mut p = self.script.take(n).to_vec();
                p.push(0);
                let token: &[u8] = match self.script.byte() % 3 {
                    0 => b"tok",
                    1 => b"shutdown",
                    _ => b"forged",
                };
                p.extend_from_slice(token);
                p.push(0);
                frame(xs::XS_WATCH_EVENT, 0, &p)
            }
            3 => frame(kind, id ^ (1 + self.script.byte() as u32), b"OK\0"),
            4 => {
                let v = self.script.u32();
                self.page.write_u32(xs::XS_RSP_PROD_OFFSET, v);
                return;
            }
            5 => {
                let v = self.script.u32();
                self.page.write_u32(xs::XS_REQ_CONS_OFFSET, v);
                return;
            }
            _ => return, // silence
        };
        self.outq.extend(msg);
        self.outq.truncate(1 << 16);
    }

    /// Hand up to `chunk` bytes to the response ring, as space allows.
    fn flush(&mut self, chunk: usize) {
        let cons = self.page.read_u32(xs::XS_RSP_CONS_OFFSET);
        let prod = self.page.read_u32(xs::XS_RSP_PROD_OFFSET);
        let space = RING.saturating_sub(prod.wrapping_sub(cons)) as usize;
        let n = chunk.min(space).min(self.outq.len());
        for k in 0..n {
            let b = self.outq.pop_front().unwrap_or(0);
            let at = xs::XS_RSP_OFFSET + (prod.wrapping_add(k as u32) % RING) as usize;
            self.page.write(at, &[b]);
        }
        self.page
            .write_u32(xs::XS_RSP_PROD_OFFSET, prod.wrapping_add(n as u32));
    }
}

impl Wait for FuzzDaemon<'_> {
    fn notify(&mut self) {}
    fn wait(&mut self, deadline_ns: u64) {
        self.learn_requests();
        self.step();
        let chunk = 1 + self.script.byte() as usize;
        self.flush(chunk);
        let left = deadline_ns.saturating_sub(self.clock.now_ns());
        self.clock.advance(MS.min(left));
    }
    fn now_ns(&self) -> u64 {
        self.clock.now_ns()
    }
}

fuzz_target!(|data: &[u8]| {
    // 1. stream reassembly with data-chosen chunking
    let (ctl, body) = data.split_at(data.len().min(1));
    let step = 1 + ctl.first().copied().unwrap_or(0) as usize % 37;
    let mut r = Reader::new();
    for chunk in body.chunks(step) {
        r.push(chunk);
        while let Ok(Some(m)) = r.next() {
            for part in split_strings(&m.payload) {
                let _ = Perm::parse(part); // XS_GET_PERMS replies
            }
            let _ = Errno::from_payload(&m.payload);
        }
    }
    let _ = Header::parse(body);

    // 2. the client against a daemon the same bytes script
    let page = SimPage::new();
    let clock = SimClock::new();
    let daemon = FuzzDaemon {
        page: page.clone(),
        clock,
        script: Script(body),
        outq: VecDeque::new(),
        inbuf: Vec::new(),
        last: (0, 0),
    };
    let mut c = Client::new(page, daemon);
    c.timeout_ns = TIMEOUT_NS;
    let t = TIMEOUT_NS;
    bounded(&mut c, t, |c| c.watch("control/shutdown", "shutdown"));
    bounded(&mut c, t, |c| c.watch("device/vif", "tok"));
    bounded(&mut c, t, |c| c.read("data/x"));
    bounded(&mut c, 0, |c| {
        let p = c.poll_events(8);
        assert!(p.map_or(true, |p| p.events.len() <= 8));
    });
    bounded(&mut c, t, |c| c.get_perms("data/x"));
    bounded(&mut c, t, |c| c.directory("device/vif"));
    let deadline = c.waiter().now_ns() + 3 * MS;
    bounded(&mut c, 3 * MS, |c| c.wait_event_for("tok", deadline));
    // a transaction: up to 8 tries of start, read, end, and an abort
    bounded(&mut c, 8 * 4 * t, |c| {
        c.transaction(|c, tx| c.read_tx(tx, "data/x"))
    });
    let deadline = c.waiter().now_ns() + 2 * MS;
    bounded(&mut c, 2 * MS, |c| c.within(deadline, |c| c.read("data/y")));
    bounded(&mut c, t, |c| c.unwatch("device/vif", "tok"));
    bounded(&mut c, 0, |c| c.poll_events(usize::MAX));
});
