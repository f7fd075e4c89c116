//! Whatever a backend writes into the response half of the ring, and
//! whatever it says about the disk: the queue must take it or refuse it
//! with a violation, never panic, never complete a request it did not
//! post, never count more completions than requests.
#![no_main]

use blkfront::{DiskInfo, Extent, Offered, Queue, CHUNK, REQUESTS, SEGMENTS};
use libfuzzer_sys::fuzz_target;
use xenabi::blkif as b;
use xenabi::hal::SharedMem;
use xenabi::ring as r;
use xensim::SimPage;

fn disk_nodes(data: &[u8]) {
    let s = String::from_utf8_lossy(data);
    let mut parts = s.split('|');
    let (a, b2, c) = (parts.next(), parts.next(), parts.next());
    if let Ok(d) = DiskInfo::parse(a, b2, c) {
        assert!(d.size_bytes % d.sector_size as u64 == 0);
        assert!(d.sector_size.is_power_of_two() && (512..=4096).contains(&d.sector_size));
    }
    let _ = Offered::parse(a, b2, c);
}

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, rest)) = data.split_first() else {
        return;
    };
    if ctl & 0x80 != 0 {
        disk_nodes(rest);
        return;
    }
    let page = SimPage::new();
    let backend = page.clone();
    let mut q = Queue::new(page);
    let grefs = [8u32; SEGMENTS];
    let mut posted = 0u64;
    let mut done = 0u64;
    let post = |q: &mut Queue<SimPage>, n: usize, posted: &mut u64| {
        for _ in 0..n {
            let Some(id) = q.free_slot() else { break };
            let len = 512 * (1 + (*posted as usize * 7) % (CHUNK / 512));
            q.post(id, 0, Extent { offset: *posted * 512, len }, &grefs);
            *posted += 1;
        }
        q.push();
    };
    post(&mut q, 1 + (ctl as usize % REQUESTS), &mut posted);
    let mut prod = 0u32;
    // each step: a response slot (16 bytes), then how the producer moves
    for step in rest.chunks_exact(b::RESPONSE_SIZE + 1) {
        let (slot, how) = step.split_at(b::RESPONSE_SIZE);
        backend.write(r::RING_OFFSET + (prod % b::RING_SIZE as u32) as usize * b::SLOT_SIZE, slot);
        prod = match how[0] % 8 {
            0 => prod,
            7 => prod.wrapping_add(u32::from(how[0]) << 8),
            n => prod.wrapping_add(u32::from(n) % 3),
        };
        backend.write_u32(r::RSP_PROD_OFFSET, prod);
        if how[0] & 0x40 != 0 {
            backend.write_u32(r::REQ_PROD_OFFSET, u32::from(how[0]) * 977); // scribble
        }
        match q.collect() {
            Ok(_) => {}
            Err(_) => return, // the device would go down here
        }
        while let Some((id, e, status)) = q.take_done() {
            assert!(id < REQUESTS && e.len > 0 && e.len <= CHUNK);
            assert!(matches!(status, 0 | -1 | -2));
            done += 1;
        }
        assert!(done <= posted);
        assert!(q.in_flight() as u64 <= posted - done);
        if how[0] & 0x20 != 0 {
            post(&mut q, 2, &mut posted);
        }
    }
});
