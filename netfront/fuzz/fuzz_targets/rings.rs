//! A hostile backend writing whatever it likes into a connected driver's
//! rings: RX responses (multi-slot chains and extra-info slots included)
//! and TX responses, producer indexes, events and packet bytes, interleaved
//! with the driver's poll and the stack taking and sending packets. The
//! driver must never panic, and after shutdown no grant may stay active.
#![no_main]

use std::cell::RefCell;
use std::rc::Rc;

use libfuzzer_sys::fuzz_target;
use netfront::Netfront;
use smoltcp::phy::{Device, RxToken, TxToken};
use smoltcp::time::Instant;
use xenabi::hal::{Clock, SharedMem};
use xenabi::netif as nif;
use xenabi::ring as r;
use xensim::netback::SimNetback;
use xensim::xenstored::Xenstored;
use xensim::{SimClock, SimEvtchn, SimGrantTable, SimMemory, SimPage, SimPageAlloc};
use xenstore::{xenbus, Client, Wait};

struct Step {
    xsd: Rc<RefCell<Xenstored>>,
    nb: Rc<RefCell<SimNetback>>,
    clock: SimClock,
}

impl Wait for Step {
    fn notify(&mut self) {}
    fn wait(&mut self, _deadline: u64) {
        self.xsd.borrow_mut().process();
        self.nb.borrow_mut().step();
        self.xsd.borrow_mut().process();
        self.clock.advance(1_000_000);
    }
    fn now_ns(&self) -> u64 {
        self.clock.now_ns()
    }
}

/// The fuzzer's side of one ring: the page and a private producer.
struct Ring {
    page: SimPage,
    gref: u32,
    prod: u32,
    size: u32,
    slot: usize,
}

impl Ring {
    fn off(&self, idx: u32) -> usize {
        r::RING_OFFSET + (idx % self.size) as usize * self.slot
    }
    /// The request the guest put at `idx`.
    fn request(&self, idx: u32) -> [u8; 12] {
        let mut b = [0u8; 12];
        self.page.read(self.off(idx), &mut b[..self.slot]);
        b
    }
    fn put(&mut self, bytes: &[u8]) {
        let n = bytes.len().min(self.slot);
        self.page.write(self.off(self.prod), &bytes[..n]);
        self.prod = self.prod.wrapping_add(1);
    }
    fn publish(&self, jump: u32) {
        self.page
            .write_u32(r::RSP_PROD_OFFSET, self.prod.wrapping_add(jump));
    }
}

/// A connected driver with the fuzzer as its backend. Connecting costs
/// milliseconds, so one connection serves inputs until the device goes down
/// (or REUSE inputs have used it); then it is shut down and checked.
struct Harness {
    xs: Client<SimPage, Step>,
    gt: SimGrantTable,
    evt: SimEvtchn,
    nf: Netfront<SimPage, SimEvtchn>,
    rx: Ring,
    tx: Ring,
    used: u32,
}

const REUSE: u32 = 256;

fn connect() -> Harness {
    let mem = SimMemory::new();
    let mut gt = SimGrantTable::new(mem.clone(), 2048);
    let evt = SimEvtchn::new();
    let xsd = Rc::new(RefCell::new(Xenstored::new()));
    let page = SimPage::new();
    xsd.borrow_mut().introduce(1, page.clone());
    let nb = SimNetback::attach(xsd.clone(), gt.clone(), evt.clone(), 1, "00:16:3e:00:00:02");
    let nb = Rc::new(RefCell::new(nb));
    let mut xs = Client::new(
        page,
        Step {
            xsd,
            nb: nb.clone(),
            clock: SimClock::new(),
        },
    );
    let devs = xenbus::enumerate(&mut xs, "vif").unwrap();
    let mut pa = SimPageAlloc::new(mem);
    let mut nf: Netfront<SimPage, SimEvtchn> =
        Netfront::connect(&mut xs, &mut gt, &mut pa, evt.clone(), &devs[0]).unwrap();
    nf.set_mtu(9000);
    // from here the fuzzer is the backend
    let map = |xs: &mut Client<SimPage, Step>, key: &str, slot: usize, size: usize| {
        let gref: u32 = xs
            .read_string(&format!("device/vif/0/{}", key))
            .unwrap()
            .parse()
            .unwrap();
        let page = gt.map(0, gref, false).unwrap();
        let prod = page.read_u32(r::RSP_PROD_OFFSET);
        Ring {
            page,
            gref,
            prod,
            size: size as u32,
            slot,
        }
    };
    let rx = map(&mut xs, "rx-ring-ref", nif::RX_SLOT_SIZE, nif::RX_RING_SIZE);
    let tx = map(&mut xs, "tx-ring-ref", nif::TX_SLOT_SIZE, nif::TX_RING_SIZE);
    Harness {
        xs,
        gt,
        evt,
        nf,
        rx,
        tx,
        used: 0,
    }
}

/// The backend lets go of the rings; shutdown must end every grant.
fn close(h: Harness) {
    let Harness {
        mut xs,
        mut gt,
        nf,
        rx,
        tx,
        ..
    } = h;
    gt.unmap(rx.gref);
    gt.unmap(tx.gref);
    let quarantined = nf.shutdown(&mut xs, &mut gt);
    assert_eq!(quarantined, 0);
    assert!(gt.active().is_empty(), "{:?}", gt.active());
}

thread_local! {
    static HARNESS: RefCell<Option<Harness>> = const { RefCell::new(None) };
}

fuzz_target!(|data: &[u8]| {
    let mut h = HARNESS.with(|c| c.borrow_mut().take()).unwrap_or_else(connect);
    run(&mut h, data);
    h.used += 1;
    if h.nf.is_down().is_some() || h.used >= REUSE {
        close(h);
    } else {
        HARNESS.with(|c| *c.borrow_mut() = Some(h));
    }
});

fn run(h: &mut Harness, data: &[u8]) {
    let Harness {
        gt, evt, nf, rx, tx, ..
    } = h;
    let port = nf.port;
    let now = Instant::from_millis(0);

    let mut ops = data.iter().copied();
    let arg = |ops: &mut std::iter::Copied<std::slice::Iter<u8>>| ops.next().unwrap_or(0);
    while let Some(op) = ops.next() {
        match op % 12 {
            // a raw RX slot: a response or an extra-info slot, any bytes
            // (nearly always fatal: behind a second byte, so that most
            // inputs reach the states past it)
            0 if arg(&mut ops) == 0xa5 => {
                let b: Vec<u8> = (0..8).map(|_| arg(&mut ops)).collect();
                rx.put(&b);
            }
            // an RX data response for the buffer posted there (reaches
            // deeper than random ids): offset, flags, status from the input
            1 => {
                let req = rx.request(rx.prod);
                let (f, s) = (arg(&mut ops), arg(&mut ops));
                let status: i16 = match s % 4 {
                    0 => 4096,
                    1 => (s as i16) * 16,
                    2 => -((s % 3) as i16),
                    _ => (s as i16) << 5,
                };
                let offset: u16 = if f & 0x80 != 0 { arg(&mut ops) as u16 * 8 } else { 0 };
                let mut b = [0u8; 8];
                b[0..2].copy_from_slice(&req[0..2]);
                b[2..4].copy_from_slice(&offset.to_le_bytes());
                // gso_prefix (0x10) is fatal: only when asked for by name
                let flags = if f == 0x7f { 0x1f } else { f & 0x0f } as u16;
                b[4..6].copy_from_slice(&flags.to_le_bytes());
                b[6..8].copy_from_slice(&status.to_le_bytes());
                rx.put(&b);
            }
            // an extra-info slot: GSO (of any GSO type and size), or any type
            2 => {
                let (flags, size, gso_type) = (arg(&mut ops), arg(&mut ops), arg(&mut ops));
                let kind = if flags == 0xa5 { arg(&mut ops) } else { 1 };
                rx.put(&[kind, flags & 1, size, size >> 3, gso_type % 4, 0, 0, 0]);
            }
            // packet bytes into the page posted at the next RX slot
            3 => {
                let req = rx.request(rx.prod);
                let gref = u32::from_le_bytes([req[4], req[5], req[6], req[7]]);
                let n = arg(&mut ops) as usize;
                let bytes: Vec<u8> = (0..n).map(|_| arg(&mut ops)).collect();
                let _ = gt.copy_to(0, gref, 0, &bytes);
            }
            4 => rx.publish(if arg(&mut ops) > 250 { arg(&mut ops) as u32 * 7 } else { 0 }),
            // a TX response: the id of a request the guest made, or any
            5 => {
                let (k, s) = (arg(&mut ops), arg(&mut ops));
                let req = tx.request(tx.prod);
                let id = if k != 0xa5 {
                    [req[8], req[9]]
                } else {
                    [arg(&mut ops), arg(&mut ops)] // any id: fatal unless in flight
                };
                let status = [0i16, -1, -2, 1][s as usize % 4];
                let mut b = [0u8; 12];
                b[0..2].copy_from_slice(&id);
                b[2..4].copy_from_slice(&status.to_le_bytes());
                tx.put(&b);
            }
            6 => tx.publish(if arg(&mut ops) > 250 { arg(&mut ops) as u32 * 7 } else { 0 }),
            7 => evt.notify_guest(port),
            8 => {
                let _ = nf.poll();
            }
            // the stack takes what was received (its TX token sends a reply)
            9 => {
                let reply = arg(&mut ops);
                if let Some((rxt, txt)) = nf.receive(now) {
                    let n = rxt.consume(|b| b.len());
                    if reply & 1 == 1 {
                        txt.consume(n.min(1514), |b| b.fill(reply));
                    }
                }
            }
            // the stack sends a frame
            10 => {
                let len = u16::from_le_bytes([arg(&mut ops), arg(&mut ops)]) as usize;
                let max = nf.capabilities().max_transmission_unit;
                if let Some(t) = nf.transmit(now) {
                    t.consume(len % (max + 1), |b| b.fill(0x45));
                }
            }
            0 => {}
            _ => {
                let _ = nf.set_mtu(u16::from_le_bytes([arg(&mut ops), arg(&mut ops)]));
            }
        }
    }
}
