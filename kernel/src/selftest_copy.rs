//! `selftest=copy`: the shared-memory copies (`phys.rs`: a word at a time
//! where the shared side is aligned, bytes at the edges) against a byte at a
//! time, for every alignment and length up to a few words, a whole page,
//! and zeroing; bytes around each copy must stay as they were. Needs no Xen
//! (plain QEMU runs it: tests/qemu-boot.sh).

use xenabi::hal::SharedMem;

use crate::mem::Page;
use crate::println;

const GUARD: u8 = 0xa5;

fn pattern(i: usize) -> u8 {
    (i.wrapping_mul(151) ^ (i >> 3)) as u8
}

fn read_byte(p: &Page, off: usize) -> u8 {
    let mut b = [0u8; 1];
    p.read(off, &mut b);
    b[0]
}

pub fn run() {
    let Some(page) = Page::alloc() else {
        println!("selftest: error reason=\"no page\"");
        return;
    };
    let (mut checks, mut failures) = (0u32, 0u32);
    let mut check = |ok: bool, what: &str, off: usize, len: usize| {
        checks += 1;
        if !ok {
            failures += 1;
            if failures <= 5 {
                println!(
                    "selftest: copy failed what={} off={} len={}",
                    what, off, len
                );
            }
        }
    };
    let mut buf = [0u8; 64 + 8];
    for off in 0..16 {
        for len in 0..=40 {
            // write: the bytes in [off, off + len) change, the rest do not
            for i in 0..64 {
                page.write(i, &[GUARD]);
            }
            let src: [u8; 40] = core::array::from_fn(|i| pattern(i + off + len));
            page.write(off, &src[..len]);
            let ok = (0..64).all(|i| {
                let want = if i >= off && i < off + len {
                    src[i - off]
                } else {
                    GUARD
                };
                read_byte(&page, i) == want
            });
            check(ok, "write", off, len);
            // read, into a buffer at every offset too
            let at = (off + len) % 8;
            buf.fill(0);
            page.read(off, &mut buf[at..at + len]);
            let ok = (0..len).all(|i| buf[at + i] == read_byte(&page, off + i));
            check(ok, "read", off, len);
        }
    }
    // a whole page each way, and zeroing
    let mut big = [0u8; 4096];
    for (i, b) in big.iter_mut().enumerate() {
        *b = pattern(i);
    }
    page.write(0, &big);
    let ok = (0..4096).all(|i| read_byte(&page, i) == pattern(i));
    check(ok, "write-page", 0, 4096);
    let mut back = [0u8; 4096];
    page.read(0, &mut back);
    check(back == big, "read-page", 0, 4096);
    page.zero();
    let ok = (0..4096).all(|i| read_byte(&page, i) == 0);
    check(ok, "zero", 0, 4096);
    println!("selftest: copy checks={} failures={}", checks, failures);
}
