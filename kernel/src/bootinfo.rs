//! What the loader tells us: command line, memory map, reserved ranges.
//! Read once from `hvm_start_info` (PVH) or the multiboot2 information (HVM
//! boot through GRUB) into plain values, with every length bounded, before
//! anything else may reuse the memory it lives in.

use xenabi::hal::SharedMem;
use xenabi::multiboot2 as mb2;
use xenabi::start_info as si;

use crate::phys::PhysRegion;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemRange {
    pub start: u64,
    pub end: u64,
}

impl MemRange {
    /// The parts of `self` outside `other` (none, one or two).
    pub fn minus(&self, other: &MemRange) -> [Option<MemRange>; 2] {
        if other.end <= self.start || other.start >= self.end {
            return [Some(*self), None];
        }
        let left = (other.start > self.start).then(|| MemRange {
            start: self.start,
            end: other.start,
        });
        let right = (other.end < self.end).then(|| MemRange {
            start: other.end,
            end: self.end,
        });
        [left, right]
    }
}

const MAX_CMDLINE: usize = 2048;
const MAX_MAP: usize = 64;
const MAX_RESERVED: usize = 6;

#[derive(Clone, Copy)]
struct MapEntry {
    range: MemRange,
    kind: u32,
}

pub struct BootInfo {
    cmdline: [u8; MAX_CMDLINE],
    cmdline_len: usize,
    map: [MapEntry; MAX_MAP],
    map_len: usize,
    /// Boot structures to keep out of the allocators until copied (start_info,
    /// modules); the copies above are taken before the allocators run anyway.
    reserved: [MemRange; MAX_RESERVED],
    reserved_len: usize,
}

impl BootInfo {
    const fn empty() -> Self {
        BootInfo {
            cmdline: [0; MAX_CMDLINE],
            cmdline_len: 0,
            map: [MapEntry {
                range: MemRange { start: 0, end: 0 },
                kind: 0,
            }; MAX_MAP],
            map_len: 0,
            reserved: [MemRange { start: 0, end: 0 }; MAX_RESERVED],
            reserved_len: 0,
        }
    }

    pub fn cmdline(&self) -> &str {
        core::str::from_utf8(&self.cmdline[..self.cmdline_len]).unwrap_or("")
    }

    /// RAM ranges (memory-map type 1), page-granular.
    pub fn ram(&self) -> impl Iterator<Item = MemRange> + '_ {
        self.map[..self.map_len]
            .iter()
            .filter(|e| e.kind == si::HVM_MEMMAP_TYPE_RAM)
            .map(|e| e.range)
    }

    pub fn reserved_ranges(&self) -> impl Iterator<Item = MemRange> + '_ {
        self.reserved[..self.reserved_len].iter().copied()
    }

    fn reserve(&mut self, start: u64, len: u64) {
        if self.reserved_len < MAX_RESERVED && len > 0 {
            let page = 4096;
            let r = MemRange {
                start: start & !(page - 1),
                end: (start + len + page - 1) & !(page - 1),
            };
            self.reserved[self.reserved_len] = r;
            self.reserved_len += 1;
        }
    }

    fn push_map(&mut self, start: u64, len: u64, kind: u32) {
        if self.map_len < MAX_MAP && len > 0 {
            // RAM is used page-granular: round inwards.
            let s = (start + 4095) & !4095;
            let e = (start.saturating_add(len)) & !4095;
            if e > s {
                self.map[self.map_len] = MapEntry {
                    range: MemRange { start: s, end: e },
                    kind,
                };
                self.map_len += 1;
            }
        }
    }

    fn set_cmdline(&mut self, bytes: &[u8]) {
        let n = bytes.len().min(MAX_CMDLINE - 1);
        for (d, &b) in self.cmdline.iter_mut().zip(&bytes[..n]) {
            // keep printable ASCII only: it is printed and parsed
            *d = if (0x20..0x7f).contains(&b) { b } else { b' ' };
        }
        self.cmdline_len = n;
    }

    fn set_cmdline_from(&mut self, paddr: u64) {
        if paddr == 0 {
            return;
        }
        // SAFETY: the loader put a NUL-terminated string there; we read at most
        // MAX_CMDLINE bytes, all within low, identity-mapped memory.
        let region = unsafe { PhysRegion::new(paddr, MAX_CMDLINE) };
        let mut n = 0;
        while n < MAX_CMDLINE - 1 {
            let b = region.read_u8(n);
            if b == 0 {
                break;
            }
            // keep printable ASCII only: it is printed and parsed
            self.cmdline[n] = if (0x20..0x7f).contains(&b) { b } else { b' ' };
            n += 1;
        }
        self.cmdline_len = n;
        self.reserve(paddr, n as u64 + 1);
    }

    /// Parse the multiboot2 information at `paddr` (%ebx at the multiboot2
    /// entry). RAM below 1 MiB (BIOS data, the loader's leftovers) is not used.
    pub fn from_multiboot2(paddr: u64) -> Result<BootInfo, &'static str> {
        const MAX_MBI: usize = 16 * 1024;
        let mut info = BootInfo::empty();
        if paddr == 0 {
            return Err("no multiboot2 information");
        }
        // SAFETY: the loader passes the address of its information table in
        // identity-mapped low memory; we read its size, then copy it out.
        let head = unsafe { PhysRegion::new(paddr, 8) };
        let total = head.read_u32(0) as usize;
        if !(16..=MAX_MBI).contains(&total) {
            return Err("multiboot2 information has a bad size");
        }
        let mut copy = [0u8; MAX_MBI];
        // SAFETY: as above; `total` was bounded just now.
        let mbi = unsafe { PhysRegion::new(paddr, total) };
        mbi.read(0, &mut copy[..total]);
        info.reserve(paddr, total as u64);
        let parsed = mb2::parse(&copy[..total]).map_err(|e| match e {
            mb2::Error::NoMemoryMap => "multiboot2 information has no memory map",
            _ => "malformed multiboot2 information",
        })?;
        // Some loaders put the kernel's path first (GRUB's multiboot2 does
        // not): a first word that looks like a path is not an option.
        let line = parsed.cmdline;
        let args = if line.starts_with(b"/") || line.starts_with(b"(") {
            match line.iter().position(|&b| b == b' ') {
                Some(i) => &line[i + 1..],
                None => &[][..],
            }
        } else {
            line
        };
        info.set_cmdline(args);
        const LOW: u64 = 0x10_0000;
        for e in parsed.memory_map() {
            let end = e.base.saturating_add(e.length);
            if e.kind == mb2::MEMORY_AVAILABLE && end > LOW {
                let start = e.base.max(LOW);
                info.push_map(start, end - start, si::HVM_MEMMAP_TYPE_RAM);
            }
        }
        if info.map_len == 0 {
            return Err("multiboot2 memory map has no RAM above 1 MiB");
        }
        Ok(info)
    }

    /// Parse `hvm_start_info` at `paddr` (PVH entry, %ebx).
    pub fn from_pvh(paddr: u64) -> Result<BootInfo, &'static str> {
        let mut info = BootInfo::empty();
        if paddr == 0 {
            return Err("no hvm_start_info");
        }
        // SAFETY: the PVH loader passes the address of a hvm_start_info in
        // identity-mapped low memory; we only copy out of it.
        let st = unsafe { PhysRegion::new(paddr, core::mem::size_of::<si::HvmStartInfo>()) };
        let u32_at = |off: usize| {
            let mut b = [0u8; 4];
            st.read(off, &mut b);
            u32::from_le_bytes(b)
        };
        let u64_at = |off: usize| {
            let mut b = [0u8; 8];
            st.read(off, &mut b);
            u64::from_le_bytes(b)
        };
        use core::mem::offset_of;
        if u32_at(offset_of!(si::HvmStartInfo, magic)) != si::HVM_START_MAGIC_VALUE {
            return Err("bad hvm_start_info magic");
        }
        info.reserve(paddr, core::mem::size_of::<si::HvmStartInfo>() as u64);
        let version = u32_at(offset_of!(si::HvmStartInfo, version));
        info.set_cmdline_from(u64_at(offset_of!(si::HvmStartInfo, cmdline_paddr)));

        let nr_modules = u32_at(offset_of!(si::HvmStartInfo, nr_modules)) as usize;
        let modlist = u64_at(offset_of!(si::HvmStartInfo, modlist_paddr));
        if modlist != 0 && nr_modules > 0 {
            let esz = core::mem::size_of::<si::HvmModlistEntry>();
            let n = nr_modules.min(4);
            info.reserve(modlist, (n * esz) as u64);
            // SAFETY: as above, a loader-provided table of `nr_modules` entries.
            let ml = unsafe { PhysRegion::new(modlist, n * esz) };
            for i in 0..n {
                let mut b = [0u8; 8];
                ml.read(i * esz + offset_of!(si::HvmModlistEntry, paddr), &mut b);
                let p = u64::from_le_bytes(b);
                ml.read(i * esz + offset_of!(si::HvmModlistEntry, size), &mut b);
                info.reserve(p, u64::from_le_bytes(b));
            }
        }

        let memmap = u64_at(offset_of!(si::HvmStartInfo, memmap_paddr));
        let entries = u32_at(offset_of!(si::HvmStartInfo, memmap_entries)) as usize;
        if version >= 1 && memmap != 0 && entries > 0 {
            let esz = core::mem::size_of::<si::HvmMemmapTableEntry>();
            let n = entries.min(MAX_MAP);
            // SAFETY: as above, a loader-provided table of `entries` entries.
            let mm = unsafe { PhysRegion::new(memmap, n * esz) };
            for i in 0..n {
                let mut e = [0u8; 24];
                mm.read(i * esz, &mut e[..esz.min(24)]);
                let addr = u64::from_le_bytes(e[0..8].try_into().unwrap());
                let size = u64::from_le_bytes(e[8..16].try_into().unwrap());
                let kind = u32::from_le_bytes(e[16..20].try_into().unwrap());
                info.push_map(addr, size, kind);
            }
        } else {
            return Err("hvm_start_info has no memory map (version 0)");
        }
        Ok(info)
    }
}

#[cfg(test)]
mod tests {}
