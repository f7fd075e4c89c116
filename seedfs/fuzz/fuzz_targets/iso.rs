//! A hostile ISO9660 disk: patched images with Joliet and Rock Ridge (names
//! inline or in continuation areas), or raw bytes after a valid header.
#![no_main]

#[path = "../../tests/images/mod.rs"]
mod images;
#[path = "../common.rs"]
mod common;

use std::sync::{Mutex, OnceLock};

use images::{seed_tree, IsoImage, IsoOptions};
use libfuzzer_sys::fuzz_target;

static INLINE: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();
static CONTINUED: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();

fn build(rr_in_continuation: bool) -> Mutex<Vec<u8>> {
    let opts = IsoOptions { joliet: true, rock_ridge: true, rr_in_continuation };
    Mutex::new(IsoImage::build("cidata", &seed_tree(), opts).img)
}

fuzz_target!(|data: &[u8]| {
    let pick = data.first().copied().unwrap_or(0);
    if pick & 1 == 1 {
        // raw: the input as the descriptors and everything after them
        let mut img = vec![0u8; 16 * 2048];
        img.extend_from_slice(&data[1..]);
        if img.len() >= 16 * 2048 + 6 {
            img[16 * 2048 + 1..16 * 2048 + 6].copy_from_slice(b"CD001");
        }
        common::run(&Mutex::new(Vec::new()), 0, &[&[1u8][..], &img[..]].concat());
        return;
    }
    let base = if pick & 2 == 0 { INLINE.get_or_init(|| build(false)) } else { CONTINUED.get_or_init(|| build(true)) };
    common::run(base, 64 * 1024, data);
});
