//! A hostile FAT disk: patched FAT12/FAT16 seed images, or raw bytes.
#![no_main]

#[path = "../../tests/images/mod.rs"]
mod images;
#[path = "../common.rs"]
mod common;

use std::sync::{Mutex, OnceLock};

use images::{seed_tree, FatImage, FatKind};
use libfuzzer_sys::fuzz_target;

static FAT12: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();
static FAT16: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let pick = data.first().copied().unwrap_or(0);
    if pick & 2 == 0 {
        let base = FAT12.get_or_init(|| Mutex::new(FatImage::build(FatKind::Fat12, "CIDATA", &seed_tree()).img));
        common::run(base, 64 * 1024, data);
    } else {
        let base = FAT16.get_or_init(|| Mutex::new(FatImage::build(FatKind::Fat16, "CIDATA", &seed_tree()).img));
        // boot sector, both FATs, the root and the first data clusters
        common::run(base, 256 * 1024, data);
    }
});
