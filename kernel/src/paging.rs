//! The boot stub maps the first 4 GiB with 2 MiB pages. RAM above that (large
//! domains) is mapped here, 1 GiB at a time, with page-directory pages taken
//! from the frame allocator.

use crate::mem;

extern "C" {
    static mut boot_pdpt: [u64; 512];
    /// The four page directories that map the first 4 GiB (2 MiB pages).
    static mut boot_pd: [u64; 2048];
}

/// Page tables for the 2 MiB pages that get a guard page (the kernel image
/// with its stacks fits in one or two).
#[repr(C, align(4096))]
struct Tables([[u64; 512]; SPLIT_TABLES]);
const SPLIT_TABLES: usize = 2;
static mut SPLIT: Tables = Tables([[0; 512]; SPLIT_TABLES]);
static mut SPLIT_USED: usize = 0;

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

/// Unmap the 4 KiB page at `addr` (below 4 GiB), splitting its 2 MiB page
/// first: a stack's guard page. Early boot, interrupts off, single CPU.
pub fn guard(addr: u64) -> Result<(), &'static str> {
    let pde = (addr >> 21) as usize;
    if addr >= 4 * GIB {
        return Err("guard page above 4 GiB");
    }
    // SAFETY: early boot, one CPU, interrupts off: nothing else walks or
    // writes the page tables. The split table maps the 2 MiB page exactly as
    // the large entry did, so every access before and after sees the same
    // memory; CR3 is reloaded so no stale large-page translation survives.
    unsafe {
        let pd = &raw mut boot_pd;
        let entry = (*pd)[pde];
        let table: *mut [u64; 512] = if entry & LARGE != 0 {
            let used = &raw mut SPLIT_USED;
            if *used == SPLIT_TABLES {
                return Err("no page table left for a guard page");
            }
            let t = &raw mut (*(&raw mut SPLIT)).0[*used];
            *used += 1;
            let base = entry & !0x1f_ffff;
            for i in 0..512u64 {
                (*t)[i as usize] = (base + i * 4096) | PRESENT_WRITABLE;
            }
            (*pd)[pde] = (t as u64) | PRESENT_WRITABLE;
            t
        } else {
            (entry & !0xfff) as *mut [u64; 512]
        };
        (*table)[((addr >> 12) & 511) as usize] = 0;
        crate::arch::write_cr3(crate::arch::read_cr3());
    }
    Ok(())
}
