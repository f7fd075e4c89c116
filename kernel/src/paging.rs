//! The boot stub maps the first 4 GiB with 2 MiB pages. RAM above that (large
//! domains) is mapped here, 1 GiB at a time, with page-directory pages taken
//! from the frame allocator.

use crate::mem;

extern "C" {
    static mut boot_pdpt: [u64; 512];
}

const GIB: u64 = 1 << 30;
const PRESENT_WRITABLE: u64 = 0x3;
const LARGE: u64 = 0x80;

/// Identity-map [4 GiB, top). Returns the number of GiB added.
pub fn map_ram(top: u64) -> Result<u64, &'static str> {
    let first = 4;
    let last = top.div_ceil(GIB).min(512);
    let mut added = 0;
    for gib in first..last {
        let pd = mem::alloc_frame().ok_or("no memory for page tables")?;
        for i in 0..512u64 {
            let entry = (gib * GIB + i * (2 << 20)) | PRESENT_WRITABLE | LARGE;
            // SAFETY: `pd` is a fresh frame from the allocator, identity-mapped
            // below 4 GiB or in an already-mapped GiB; we fill all 512 entries.
            unsafe { core::ptr::write_volatile((pd as *mut u64).add(i as usize), entry) };
        }
        // SAFETY: boot_pdpt is the live PDPT; entries >= 4 are unused until now.
        unsafe { (*(&raw mut boot_pdpt))[gib as usize] = pd | PRESENT_WRITABLE };
        added += 1;
    }
    Ok(added)
}
