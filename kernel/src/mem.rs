//! Physical memory: the RAM map, the page-frame allocator and the heap.
//! Shared memory is touched only through `phys::PhysRegion`.
//!
//! All RAM is identity-mapped (boot stub: first 4 GiB; `paging` maps the rest),
//! so a physical address is also a valid pointer.

extern crate alloc;

use alloc::vec::Vec;
use core::sync::atomic::Ordering;
use linked_list_allocator::LockedHeap;
use xenabi::hal::{Gfn, PageAlloc, SharedMem, PAGE_SIZE};

use crate::bootinfo::{BootInfo, MemRange};
use crate::phys::PhysRegion;
use crate::sync::IrqLock;

#[global_allocator]
static HEAP: LockedHeap = LockedHeap::empty();

const PAGE: u64 = PAGE_SIZE as u64;

extern "C" {
    static __kernel_start: u8;
    static __kernel_end: u8;
}

pub fn kernel_image() -> MemRange {
    // SAFETY: only the addresses of the linker symbols are taken.
    unsafe {
        MemRange {
            start: &__kernel_start as *const u8 as u64,
            end: &__kernel_end as *const u8 as u64,
        }
    }
}

/// Free physical frames: whole ranges handed out from the front, freed
/// frames kept on a stack for reuse.
struct FrameAllocator {
    ranges: Vec<MemRange>,
    freed: Vec<u64>,
    total_frames: u64,
    free_frames: u64,
}

static FRAMES: IrqLock<Option<FrameAllocator>> = IrqLock::new(None);
static TOTAL_RAM: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);
static HEAP_SIZE: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// Set up the heap and the frame allocator from the boot memory map.
/// Returns an error string if there is not enough RAM to run.
pub fn init(info: &BootInfo) -> Result<(), &'static str> {
    let mut reserved: [MemRange; 8] = [MemRange { start: 0, end: 0 }; 8];
    // Page 0 is never a frame (0 reads as "none"). The rest of low RAM is
    // ours where the map says so: Xen's PVH map is exact (no BIOS), and
    // `bootinfo` drops RAM below 1 MiB from a multiboot2 map (BIOS data,
    // the loader's leftovers). At memory = 4 that 1 MiB is a quarter of RAM.
    reserved[0] = MemRange {
        start: 0,
        end: PAGE,
    };
    reserved[1] = kernel_image();
    let mut n = 2;
    for r in info.reserved_ranges() {
        if n < reserved.len() {
            reserved[n] = r;
            n += 1;
        }
    }
    let reserved = &reserved[..n];

    let total: u64 = info.ram().map(|r| r.end - r.start).sum();
    TOTAL_RAM.store(total, Ordering::Relaxed);

    // Heap: a quarter of RAM, between 768 KiB and 32 MiB, from the first RAM
    // range (after reservations) large enough to hold it. The rest is pages
    // (netfront's buffers are pages). A session with SSH uses ~260 KiB of
    // heap (measured: `status` at 32 MiB), so at memory = 4 a quarter
    // leaves room and the pages netfront needs still fit.
    let heap_size = (total / 4).clamp(768 << 10, 32 << 20) & !(PAGE - 1);
    let mut heap_at = None;
    for_each_free_range(info, reserved, |r| {
        if heap_at.is_none() && r.end - r.start >= heap_size {
            heap_at = Some(r.start);
        }
    });
    let heap_start = heap_at.ok_or("no RAM range large enough for the heap")?;
    // SAFETY: [heap_start, heap_start + heap_size) is RAM from the memory map,
    // outside the kernel image and every boot structure, and identity-mapped;
    // it is handed to the allocator once and never used otherwise.
    unsafe { HEAP.lock().init(heap_start as *mut u8, heap_size as usize) };
    HEAP_SIZE.store(heap_size, Ordering::Relaxed);

    let heap = MemRange {
        start: heap_start,
        end: heap_start + heap_size,
    };
    let mut ranges = Vec::new();
    for_each_free_range(info, reserved, |r| {
        // carve the heap out of the range that holds it
        for part in r.minus(&heap).into_iter().flatten() {
            let start = (part.start + PAGE - 1) & !(PAGE - 1);
            let end = part.end & !(PAGE - 1);
            if end > start {
                ranges.push(MemRange { start, end });
            }
        }
    });
    let frames: u64 = ranges.iter().map(|r| (r.end - r.start) / PAGE).sum();
    *FRAMES.lock() = Some(FrameAllocator {
        ranges,
        freed: Vec::new(),
        total_frames: frames,
        free_frames: frames,
    });
    Ok(())
}

/// Call `f` for each part of RAM not covered by a reservation. Runs before
/// the heap exists, so it works in fixed-size arrays.
fn for_each_free_range(info: &BootInfo, reserved: &[MemRange], mut f: impl FnMut(MemRange)) {
    const MAX_PARTS: usize = 32;
    for ram in info.ram() {
        let mut parts = [MemRange { start: 0, end: 0 }; MAX_PARTS];
        parts[0] = ram;
        let mut n = 1;
        for res in reserved {
            let mut next = [MemRange { start: 0, end: 0 }; MAX_PARTS];
            let mut m = 0;
            for p in &parts[..n] {
                for q in p.minus(res).into_iter().flatten() {
                    if m < MAX_PARTS {
                        next[m] = q;
                        m += 1;
                    }
                }
            }
            parts = next;
            n = m;
        }
        for p in &parts[..n] {
            f(*p);
        }
    }
}

pub fn alloc_frame() -> Option<u64> {
    let mut g = FRAMES.lock();
    let fa = g.as_mut()?;
    let paddr = if let Some(p) = fa.freed.pop() {
        p
    } else {
        let r = fa.ranges.iter_mut().find(|r| r.end > r.start)?;
        let p = r.start;
        r.start += PAGE;
        p
    };
    fa.free_frames -= 1;
    Some(paddr)
}

pub fn free_frame(paddr: u64) {
    let mut g = FRAMES.lock();
    if let Some(fa) = g.as_mut() {
        fa.freed.push(paddr);
        fa.free_frames += 1;
    }
}

pub struct MemStats {
    pub total_kib: u64,
    pub free_kib: u64,
    pub heap_kib: u64,
    pub heap_free_kib: u64,
}

pub fn stats() -> MemStats {
    let (frames_free, _) = FRAMES
        .lock()
        .as_ref()
        .map(|f| (f.free_frames, f.total_frames))
        .unwrap_or((0, 0));
    let heap_free = HEAP.lock().free() as u64;
    MemStats {
        total_kib: TOTAL_RAM.load(Ordering::Relaxed) / 1024,
        free_kib: (frames_free * PAGE + heap_free) / 1024,
        heap_kib: HEAP_SIZE.load(Ordering::Relaxed) / 1024,
        heap_free_kib: heap_free / 1024,
    }
}

/// An owned, zeroed page of RAM, returned to the frame allocator on drop.
pub struct Page {
    region: PhysRegion,
}

impl Page {
    pub fn alloc() -> Option<Page> {
        let paddr = alloc_frame()?;
        // SAFETY: the frame was just taken from the allocator: RAM, mapped, ours alone.
        let region = unsafe { PhysRegion::new(paddr, PAGE_SIZE) };
        region.zero();
        Some(Page { region })
    }

    pub fn paddr(&self) -> u64 {
        self.region.paddr
    }

    /// Give the frame up for good (e.g. Xen replaced it with shared_info).
    pub fn leak(self) -> PhysRegion {
        let r = PhysRegion {
            paddr: self.region.paddr,
            len: self.region.len,
        };
        core::mem::forget(self);
        r
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        free_frame(self.region.paddr);
    }
}

impl SharedMem for Page {
    fn gfn(&self) -> Gfn {
        self.region.gfn()
    }
    fn len(&self) -> usize {
        PAGE_SIZE
    }
    fn read(&self, off: usize, buf: &mut [u8]) {
        self.region.read(off, buf)
    }
    fn write(&self, off: usize, buf: &[u8]) {
        self.region.write(off, buf)
    }
    fn zero(&self) {
        self.region.zero()
    }
    fn read_u32(&self, off: usize) -> u32 {
        self.region.read_u32(off)
    }
    fn write_u32(&self, off: usize, val: u32) {
        self.region.write_u32(off, val)
    }
}

/// The kernel's `PageAlloc` for drivers.
pub struct KernelPages;

impl PageAlloc for KernelPages {
    type Page = Page;
    fn alloc_page(&mut self) -> Option<Page> {
        Page::alloc()
    }
}
