//! The multiboot2 boot information a bootloader hands the HVM entry, as
//! any bytes: `parse` answers with a value, never a panic, and what it
//! borrows lies inside the table it was given.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xenabi::multiboot2;

fuzz_target!(|data: &[u8]| {
    let Ok(info) = multiboot2::parse(data) else {
        return;
    };
    let total = u32::from_le_bytes([data[0], data[1], data[2], data[3]]) as usize;
    assert!(total <= data.len());
    assert!(info.cmdline.len() <= total && info.loader.len() <= total);
    assert!(!info.cmdline.contains(&0) && !info.loader.contains(&0));
    let entries = info.memory_map().count();
    assert!(entries <= total / 24, "more entries than fit");
    for e in info.memory_map() {
        let _ = e.base.checked_add(e.length);
    }
});
