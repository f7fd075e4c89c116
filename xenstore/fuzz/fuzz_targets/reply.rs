//! Whatever a daemon writes into the response ring: the reassembler, the
//! header parser and the client must answer with values, never panic, hang
//! or read outside the ring.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xenabi::hal::SharedMem;
use xenabi::xs_wire as xs;
use xensim::{SimClock, SimPage};
use xenstore::wire::{split_strings, Errno, Header, Perm, Reader};
use xenstore::{Client, Wait};

struct NoDaemon(SimClock);

impl Wait for NoDaemon {
    fn notify(&mut self) {}
    fn wait(&mut self, _deadline: u64) {
        self.0.advance(1_000_000);
    }
    fn now_ns(&self) -> u64 {
        xenabi::hal::Clock::now_ns(&self.0)
    }
}

fuzz_target!(|data: &[u8]| {
    // 1. stream reassembly with data-chosen chunking
    let (ctl, body) = data.split_at(data.len().min(4));
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

    // 2. the client reading it off a ring page with data-chosen indexes
    let page = SimPage::new();
    let n = body.len().min(1024);
    page.write(xs::XS_RSP_OFFSET, &body[..n]);
    let prod = match ctl.get(1) {
        Some(b) if b % 8 == 0 => u32::from_le_bytes([ctl[1], *ctl.get(2).unwrap_or(&0), *ctl.get(3).unwrap_or(&0), 0]),
        _ => n as u32,
    };
    page.write_u32(xs::XS_RSP_PROD_OFFSET, prod);
    let mut c = Client::new(page, NoDaemon(SimClock::new()));
    c.timeout_ns = 2_000_000;
    let _ = c.read("data/x");
    let _ = c.get_perms("data/x");
    let _ = c.poll_event();
});
