//! Multiboot2: the boot protocol of the HVM entry (a bootloader such as
//! GRUB loads the kernel from a disk image, as on EC2's HVM instances). Not
//! Xen's ABI, but the same job as `start_info` for the PVH entry: where the
//! command line and the memory map are. The kernel copies the boot
//! information out of memory and this module reads the copy, bounds-checked:
//! a malformed table is an error, never a panic.

/// In the kernel image's multiboot2 header (boot.rs).
pub const HEADER_MAGIC: u32 = 0xe852_50d6;
pub const HEADER_ARCH_I386: u32 = 0;
pub const HEADER_TAG_END: u16 = 0;
pub const HEADER_TAG_ENTRY_ADDRESS: u16 = 3;

/// %eax at the multiboot2 entry.
pub const BOOTLOADER_MAGIC: u32 = 0x36d7_6289;

pub const TAG_END: u32 = 0;
pub const TAG_CMDLINE: u32 = 1;
pub const TAG_BOOTLOADER_NAME: u32 = 2;
pub const TAG_MMAP: u32 = 6;

/// Memory-map entry types (the BIOS E820 ones).
pub const MEMORY_AVAILABLE: u32 = 1;

const MMAP_ENTRY_MIN: usize = 24;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// Shorter than the fixed header or than the size it claims.
    Truncated,
    /// A tag whose size is below its header or runs past the end.
    BadTag { offset: usize },
    /// No memory-map tag (we do not guess RAM).
    NoMemoryMap,
    /// A memory map whose entry size is too small.
    BadMemoryMap,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MmapEntry {
    pub base: u64,
    pub length: u64,
    pub kind: u32,
}

/// The parts of the boot information we use, borrowed from the copy.
#[derive(Debug)]
pub struct Info<'a> {
    pub cmdline: &'a [u8],
    pub loader: &'a [u8],
    mmap: &'a [u8],
    mmap_entry_size: usize,
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(off..off + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(off..off + 8)?.try_into().ok()?))
}

/// The bytes of a tag's string up to its NUL (or the tag's end).
fn c_string(b: &[u8]) -> &[u8] {
    let n = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    &b[..n]
}

/// Parse the boot information: `buf` starts at its `total_size` field.
/// `buf` may be longer than the table (a fixed-size copy); tags past
/// `total_size` are not read.
pub fn parse(buf: &[u8]) -> Result<Info<'_>, Error> {
    let total = u32_at(buf, 0).ok_or(Error::Truncated)? as usize;
    if total < 16 || total > buf.len() {
        return Err(Error::Truncated);
    }
    let buf = &buf[..total];
    let mut info = Info {
        cmdline: &[],
        loader: &[],
        mmap: &[],
        mmap_entry_size: 0,
    };
    let mut found_mmap = false;
    let mut off = 8;
    loop {
        let (kind, size) = match (u32_at(buf, off), u32_at(buf, off + 4)) {
            (Some(k), Some(s)) => (k, s as usize),
            _ => return Err(Error::BadTag { offset: off }),
        };
        let end = off.checked_add(size).ok_or(Error::BadTag { offset: off })?;
        if size < 8 || end > buf.len() {
            return Err(Error::BadTag { offset: off });
        }
        let body = &buf[off + 8..end];
        match kind {
            TAG_END => break,
            TAG_CMDLINE => info.cmdline = c_string(body),
            TAG_BOOTLOADER_NAME => info.loader = c_string(body),
            TAG_MMAP => {
                let esz = u32_at(body, 0).ok_or(Error::BadMemoryMap)? as usize;
                if esz < MMAP_ENTRY_MIN {
                    return Err(Error::BadMemoryMap);
                }
                info.mmap = &body[8.min(body.len())..];
                info.mmap_entry_size = esz;
                found_mmap = true;
            }
            _ => {}
        }
        // tags start 8-aligned
        off = (end + 7) & !7;
    }
    if !found_mmap {
        return Err(Error::NoMemoryMap);
    }
    Ok(info)
}

impl Info<'_> {
    /// The memory map's entries (a partial last entry is dropped).
    pub fn memory_map(&self) -> impl Iterator<Item = MmapEntry> + '_ {
        let esz = self.mmap_entry_size.max(MMAP_ENTRY_MIN);
        self.mmap.chunks_exact(esz).map(|e| MmapEntry {
            base: u64_at(e, 0).unwrap_or(0),
            length: u64_at(e, 8).unwrap_or(0),
            kind: u32_at(e, 16).unwrap_or(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    fn tag(out: &mut Vec<u8>, kind: u32, body: &[u8]) {
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&((8 + body.len()) as u32).to_le_bytes());
        out.extend_from_slice(body);
        while out.len() % 8 != 0 {
            out.push(0);
        }
    }

    fn mmap_body(entries: &[(u64, u64, u32)], esz: u32) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&esz.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        for &(base, len, kind) in entries {
            let start = b.len();
            b.extend_from_slice(&base.to_le_bytes());
            b.extend_from_slice(&len.to_le_bytes());
            b.extend_from_slice(&kind.to_le_bytes());
            b.resize(start + esz as usize, 0);
        }
        b
    }

    /// What GRUB hands over: cmdline, loader name, an ELF-sections tag we
    /// skip, the memory map, the end tag.
    fn grub_like(esz: u32) -> Vec<u8> {
        let mut v = vec![0u8; 8];
        tag(&mut v, TAG_CMDLINE, b"/appliance.elf ip=dhcp\0");
        tag(&mut v, TAG_BOOTLOADER_NAME, b"GRUB 2.06\0");
        tag(&mut v, 9, &[0xaa; 100]);
        let map = [
            (0, 0x9fc00, 1),
            (0xf0000, 0x10000, 2),
            (0x100000, 0x3f00000, 1),
        ];
        tag(&mut v, TAG_MMAP, &mmap_body(&map, esz));
        tag(&mut v, TAG_END, &[]);
        let n = v.len() as u32;
        v[0..4].copy_from_slice(&n.to_le_bytes());
        v
    }

    #[test]
    fn reads_what_grub_gives() {
        let v = grub_like(24);
        let info = parse(&v).unwrap();
        assert_eq!(info.cmdline, b"/appliance.elf ip=dhcp");
        assert_eq!(info.loader, b"GRUB 2.06");
        let map: Vec<_> = info.memory_map().collect();
        assert_eq!(map.len(), 3);
        assert_eq!(
            map[2],
            MmapEntry {
                base: 0x100000,
                length: 0x3f00000,
                kind: MEMORY_AVAILABLE
            }
        );
    }

    #[test]
    fn larger_entries_are_stepped_over() {
        let v = grub_like(32);
        let info = parse(&v).unwrap();
        let map: Vec<_> = info.memory_map().collect();
        assert_eq!(map.len(), 3);
        assert_eq!(map[1].base, 0xf0000);
        assert_eq!(map[1].kind, 2);
    }

    #[test]
    fn a_copy_longer_than_the_table_is_fine() {
        let mut v = grub_like(24);
        v.extend_from_slice(&[0xff; 64]);
        assert!(parse(&v).is_ok());
    }

    #[test]
    fn malformed_tables_are_errors() {
        let v = grub_like(24);
        // claims more than we have
        assert_eq!(parse(&v[..v.len() - 8]).unwrap_err(), Error::Truncated);
        assert_eq!(parse(&[1, 0]).unwrap_err(), Error::Truncated);
        // a tag size below its header
        let mut w = v.clone();
        w[12..16].copy_from_slice(&4u32.to_le_bytes());
        assert_eq!(parse(&w).unwrap_err(), Error::BadTag { offset: 8 });
        // a tag running past the end
        let mut w = v.clone();
        w[12..16].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
        assert_eq!(parse(&w).unwrap_err(), Error::BadTag { offset: 8 });
        // entry size too small for an entry
        assert_eq!(parse(&grub_like(8)).unwrap_err(), Error::BadMemoryMap);
        // no end tag: the walk runs out of table
        let mut w = v.clone();
        let n = w.len();
        w[n - 8..n - 4].copy_from_slice(&77u32.to_le_bytes());
        assert!(matches!(parse(&w).unwrap_err(), Error::BadTag { .. }));
    }

    #[test]
    fn no_memory_map_is_an_error() {
        let mut v = vec![0u8; 8];
        tag(&mut v, TAG_CMDLINE, b"x\0");
        tag(&mut v, TAG_END, &[]);
        let n = v.len() as u32;
        v[0..4].copy_from_slice(&n.to_le_bytes());
        assert_eq!(parse(&v).unwrap_err(), Error::NoMemoryMap);
    }

    #[test]
    fn every_truncation_and_byte_flip_is_handled() {
        let v = grub_like(24);
        for n in 0..v.len() {
            let _ = parse(&v[..n]);
        }
        for i in 0..v.len() {
            for bit in 0..8 {
                let mut w = v.clone();
                w[i] ^= 1 << bit;
                if let Ok(info) = parse(&w) {
                    let _ = info.memory_map().count();
                }
            }
        }
    }
}
