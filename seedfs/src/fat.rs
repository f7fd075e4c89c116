//! FAT12/16/32, read-only: the BPB checked against itself and the disk,
//! the type from the cluster count (as Microsoft's specification says),
//! long file names (with their checksum) and the volume label. On a disk
//! with an MBR, the first FAT partition.

use alloc::collections::BTreeSet;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use crate::cache::Cached;
use crate::MAX_DIR_ENTRIES;
use crate::{le16, le32, same_name_ignoring_case, trimmed_latin1, Entry, FsError, Kind, Source};

const DIR_ENTRY: usize = 32;
const ATTR_VOLUME: u8 = 0x08;
const ATTR_DIR: u8 = 0x10;
const ATTR_LFN: u8 = 0x0f;
/// A long name is at most 20 entries of 13 UTF-16 units (255 characters).
const LFN_MAX_PARTS: usize = 20;
/// MBR partition types that hold FAT.
const FAT_PARTITION_TYPES: [u8; 6] = [0x01, 0x04, 0x06, 0x0b, 0x0c, 0x0e];

pub struct Fat {
    kind: Kind,
    fat_start: u64,
    /// FAT12/16: the fixed root directory.
    root_start: u64,
    root_entries: u64,
    /// FAT32: the root directory's first cluster.
    root_cluster: u32,
    data_start: u64,
    clusters: u32,
    cluster_bytes: u64,
}

/// What the FAT says follows a cluster.
enum Next {
    Cluster(u32),
    End,
}

/// The fields of a boot sector that `open` accepts, or None.
fn bpb(bs: &[u8; 512], disk_len: u64, base: u64) -> Result<Option<(Fat, String)>, FsError> {
    if bs[510..512] != [0x55, 0xaa] {
        return Ok(None);
    }
    let bps = le16(bs, 11) as u64;
    let spc = bs[13] as u64;
    let (rsvd, nfats, root_ent) = (le16(bs, 14) as u64, bs[16] as u64, le16(bs, 17) as u64);
    let total = match le16(bs, 19) {
        0 => le32(bs, 32) as u64,
        n => n as u64,
    };
    let fat_sectors = match le16(bs, 22) {
        0 => le32(bs, 36) as u64,
        n => n as u64,
    };
    let plausible = bps.is_power_of_two()
        && (512..=4096).contains(&bps)
        && spc.is_power_of_two()
        && rsvd >= 1
        && nfats >= 1
        && total > 0
        && fat_sectors > 0;
    if !plausible {
        return Ok(None);
    }
    let root_sectors = (root_ent * DIR_ENTRY as u64).div_ceil(bps);
    let meta = rsvd + nfats * fat_sectors + root_sectors;
    let data_sectors = total
        .checked_sub(meta)
        .ok_or(FsError::Corrupt("FAT metadata larger than the volume"))?;
    if base
        .checked_add(total * bps)
        .is_none_or(|end| end > disk_len)
    {
        return Err(FsError::Corrupt("FAT volume larger than the disk"));
    }
    let clusters = data_sectors / spc;
    let (kind, entry_bits) = match clusters {
        0..4085 => (Kind::Fat12, 12),
        4085..65525 => (Kind::Fat16, 16),
        _ => (Kind::Fat32, 32),
    };
    // cluster numbers 2..clusters+2 must all have a FAT entry
    if (clusters + 2) * entry_bits > fat_sectors * bps * 8 || clusters > 0x0fff_fff5 {
        return Err(FsError::Corrupt("FAT too small for the cluster count"));
    }
    let root_cluster = le32(bs, 44);
    let label_at = match kind {
        Kind::Fat32 if root_ent != 0 => {
            return Err(FsError::Corrupt("FAT32 with a fixed root directory"))
        }
        Kind::Fat32 if root_cluster < 2 || root_cluster as u64 >= clusters + 2 => {
            return Err(FsError::Corrupt("FAT32 root cluster out of range"))
        }
        _ if kind != Kind::Fat32 && root_ent == 0 => {
            return Err(FsError::Corrupt("FAT12/16 without a root directory"))
        }
        Kind::Fat32 => (66, 71),
        _ => (38, 43),
    };
    // the boot sector's label exists only with the extended boot signature
    let label = if bs[label_at.0] == 0x29 {
        trimmed_latin1(&bs[label_at.1..label_at.1 + 11])
    } else {
        String::new()
    };
    let fat_start = base + rsvd * bps;
    let root_start = fat_start + nfats * fat_sectors * bps;
    let fat = Fat {
        kind,
        fat_start,
        root_start,
        root_entries: root_ent,
        root_cluster,
        data_start: root_start + root_sectors * bps,
        clusters: clusters as u32,
        cluster_bytes: spc * bps,
    };
    Ok(Some((fat, label)))
}

/// One directory entry in a local copy.
struct Raw<'a>(&'a [u8; DIR_ENTRY]);

impl Raw<'_> {
    fn attr(&self) -> u8 {
        self.0[11]
    }
    fn short_name(&self) -> String {
        let mut base = self.0[..8].to_vec();
        if base[0] == 0x05 {
            base[0] = 0xe5; // a name really starting with 0xE5
        }
        let (base, ext) = (trimmed_latin1(&base), trimmed_latin1(&self.0[8..11]));
        if ext.is_empty() {
            base
        } else {
            alloc::format!("{}.{}", base, ext)
        }
    }
    /// The checksum every long-name entry of this short name carries.
    fn checksum(&self) -> u8 {
        self.0[..11]
            .iter()
            .fold(0u8, |s, &c| s.rotate_right(1).wrapping_add(c))
    }
    fn lfn_units(&self) -> impl Iterator<Item = u16> + '_ {
        [1usize, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30]
            .into_iter()
            .map(|at| le16(self.0, at))
    }
}

/// Long-name entries seen so far, waiting for their short entry.
struct LongName {
    parts: Vec<u16>,
    /// the part number expected next (they come last part first); 0: complete
    expect: usize,
    checksum: u8,
    valid: bool,
}

impl LongName {
    fn new() -> Self {
        LongName {
            parts: Vec::new(),
            expect: 0,
            checksum: 0,
            valid: false,
        }
    }

    fn add(&mut self, e: &Raw) {
        let ord = e.0[0];
        let n = (ord & 0x1f) as usize;
        if ord & 0x40 != 0 {
            // the last part comes first and says how many there are
            self.valid = (1..=LFN_MAX_PARTS).contains(&n);
            self.parts = vec![0xffff; n.min(LFN_MAX_PARTS) * 13];
            self.expect = n;
            self.checksum = e.0[13];
        } else if !self.valid || n != self.expect || e.0[13] != self.checksum {
            self.valid = false;
            return;
        }
        if !self.valid || n == 0 {
            self.valid = false;
            return;
        }
        for (i, u) in e.lfn_units().enumerate() {
            self.parts[(n - 1) * 13 + i] = u;
        }
        self.expect = n - 1;
    }

    /// The long name for short entry `e`, if the parts are complete and
    /// belong to it; resets for the next entry either way.
    fn take(&mut self, e: &Raw) -> Option<String> {
        let ok = self.valid && self.expect == 0 && self.checksum == e.checksum();
        self.valid = false;
        if !ok {
            return None;
        }
        let units = self
            .parts
            .iter()
            .copied()
            .take_while(|&u| u != 0 && u != 0xffff);
        Some(
            char::decode_utf16(units)
                .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect(),
        )
    }
}

impl Fat {
    /// The volume on a bare FAT disk or in the first FAT partition of an
    /// MBR; its label from the root directory, else the boot sector.
    pub(crate) fn open<S: Source>(src: &mut Cached<S>) -> Result<(Fat, String), FsError> {
        if src.len() < 512 {
            return Err(FsError::NotAFilesystem);
        }
        let mut bs = [0u8; 512];
        src.read(0, &mut bs)?;
        let found = match bpb(&bs, src.len(), 0)? {
            Some(f) => Some(f),
            None => Self::in_partition(src, &bs)?,
        };
        let (fat, boot_label) = found.ok_or(FsError::NotAFilesystem)?;
        let label = fat.root_label(src)?.unwrap_or(boot_label);
        let label = if label == "NO NAME" {
            String::new()
        } else {
            label
        };
        Ok((fat, label))
    }

    fn in_partition<S: Source>(
        src: &mut Cached<S>,
        mbr: &[u8; 512],
    ) -> Result<Option<(Fat, String)>, FsError> {
        if mbr[510..512] != [0x55, 0xaa] {
            return Ok(None);
        }
        let Some(start) = (0..4)
            .map(|i| &mbr[446 + 16 * i..462 + 16 * i])
            .find(|p| FAT_PARTITION_TYPES.contains(&p[4]) && le32(p, 8) != 0)
            .map(|p| le32(p, 8) as u64 * 512)
        else {
            return Ok(None);
        };
        if start.checked_add(512).is_none_or(|e| e > src.len()) {
            return Err(FsError::Corrupt(
                "partition starts past the end of the disk",
            ));
        }
        let mut bs = [0u8; 512];
        src.read(start, &mut bs)?;
        bpb(&bs, src.len(), start)
    }

    pub(crate) fn kind(&self) -> Kind {
        self.kind
    }

    fn cluster_offset(&self, c: u32) -> u64 {
        self.data_start + (c as u64 - 2) * self.cluster_bytes
    }

    fn next<S: Source>(&self, src: &mut Cached<S>, c: u32) -> Result<Next, FsError> {
        let c64 = c as u64;
        let (value, end_min, bad) = match self.kind {
            Kind::Fat12 => {
                let mut b = [0u8; 2];
                src.read(self.fat_start + c64 + c64 / 2, &mut b)?;
                let v = u16::from_le_bytes(b);
                let v = if c & 1 == 1 { v >> 4 } else { v & 0x0fff };
                (v as u32, 0x0ff8, 0x0ff7)
            }
            Kind::Fat16 => {
                let mut b = [0u8; 2];
                src.read(self.fat_start + c64 * 2, &mut b)?;
                (u16::from_le_bytes(b) as u32, 0xfff8, 0xfff7)
            }
            _ => {
                let mut b = [0u8; 4];
                src.read(self.fat_start + c64 * 4, &mut b)?;
                (
                    u32::from_le_bytes(b) & 0x0fff_ffff,
                    0x0fff_fff8,
                    0x0fff_fff7,
                )
            }
        };
        match value {
            v if v >= end_min => Ok(Next::End),
            v if v == bad => Err(FsError::Corrupt("bad cluster in a chain")),
            v if v >= 2 && v < self.clusters + 2 => Ok(Next::Cluster(v)),
            _ => Err(FsError::Corrupt("cluster chain leaves the volume")),
        }
    }

    fn check_cluster(&self, c: u64) -> Result<u32, FsError> {
        if c >= 2 && c < self.clusters as u64 + 2 {
            Ok(c as u32)
        } else {
            Err(FsError::Corrupt("first cluster out of range"))
        }
    }

    /// The first `count` clusters of the chain from `first`, as runs of
    /// consecutive clusters (start, length), and whether the chain had that
    /// many. Never more than `count` steps; a cluster seen twice is a loop.
    fn runs<S: Source>(
        &self,
        src: &mut Cached<S>,
        first: u32,
        count: u64,
    ) -> Result<(Vec<(u32, u64)>, bool), FsError> {
        let mut runs: Vec<(u32, u64)> = Vec::new();
        let mut seen = BTreeSet::new();
        let mut c = first;
        for i in 0..count {
            if !seen.insert(c) {
                return Err(FsError::Corrupt("cluster chain loops"));
            }
            match runs.last_mut() {
                Some((s, n)) if *s as u64 + *n == c as u64 => *n += 1,
                _ => runs.push((c, 1)),
            }
            if i + 1 == count {
                break;
            }
            match self.next(src, c)? {
                Next::Cluster(n) => c = n,
                Next::End => return Ok((runs, false)),
            }
        }
        Ok((runs, true))
    }

    /// Scan directory `dir` (None: the root) for `name`.
    pub(crate) fn find<S: Source>(
        &self,
        src: &mut Cached<S>,
        dir: Option<Entry>,
        name: &str,
    ) -> Result<Option<Entry>, FsError> {
        let mut found = None;
        self.scan(src, dir, |raw, long| {
            if raw.attr() & ATTR_VOLUME != 0 {
                return false;
            }
            let hit = long
                .as_deref()
                .is_some_and(|l| same_name_ignoring_case(l, name))
                || same_name_ignoring_case(&raw.short_name(), name);
            if hit {
                found = Some(*raw.0);
            }
            hit
        })?;
        let Some(raw) = found else {
            return Ok(None);
        };
        let hi = if self.kind == Kind::Fat32 {
            le16(&raw, 20) as u64
        } else {
            0
        };
        let start = hi << 16 | le16(&raw, 26) as u64;
        let is_dir = raw[11] & ATTR_DIR != 0;
        let size = le32(&raw, 28) as u64;
        if is_dir || size > 0 {
            self.check_cluster(start)?;
        }
        Ok(Some(Entry {
            is_dir,
            start,
            size,
        }))
    }

    /// The root directory's volume-label entry, if there is one.
    fn root_label<S: Source>(&self, src: &mut Cached<S>) -> Result<Option<String>, FsError> {
        let mut label = None;
        self.scan(src, None, |raw, _| {
            let is_label = raw.attr() & (ATTR_VOLUME | ATTR_DIR) == ATTR_VOLUME;
            if is_label {
                let mut b = raw.0[..11].to_vec();
                if b[0] == 0x05 {
                    b[0] = 0xe5;
                }
                label = Some(trimmed_latin1(&b));
            }
            is_label
        })?;
        Ok(label)
    }

    /// Call `visit` with each live short entry (and its long name) until it
    /// returns true; at most `MAX_DIR_ENTRIES` entries.
    fn scan<S: Source>(
        &self,
        src: &mut Cached<S>,
        dir: Option<Entry>,
        mut visit: impl FnMut(&Raw, Option<String>) -> bool,
    ) -> Result<(), FsError> {
        let per_cluster = self.cluster_bytes / DIR_ENTRY as u64;
        let max = MAX_DIR_ENTRIES as u64;
        // where the directory's entries lie: one fixed region or clusters
        let regions: Vec<(u64, u64)> = match (dir, self.kind) {
            (None, Kind::Fat12 | Kind::Fat16) => {
                vec![(self.root_start, self.root_entries.min(max))]
            }
            _ => {
                let first = match dir {
                    Some(d) => self.check_cluster(d.start)?,
                    None => self.root_cluster,
                };
                let (runs, _) = self.runs(src, first, max.div_ceil(per_cluster))?;
                runs.iter()
                    .map(|&(c, n)| (self.cluster_offset(c), n * per_cluster))
                    .collect()
            }
        };
        let mut long = LongName::new();
        for (start, entries) in regions {
            for i in 0..entries {
                let mut e = [0u8; DIR_ENTRY];
                src.read(start + i * DIR_ENTRY as u64, &mut e)?;
                let raw = Raw(&e);
                match e[0] {
                    0x00 => return Ok(()), // no entries after this one
                    0xe5 => long.valid = false,
                    _ if raw.attr() & 0x3f == ATTR_LFN => long.add(&raw),
                    _ => {
                        let name = long.take(&raw);
                        if visit(&raw, name) {
                            return Ok(());
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// A file's bytes (its size already checked against the caller's limit).
    pub(crate) fn read<S: Source>(
        &self,
        src: &mut Cached<S>,
        f: &Entry,
    ) -> Result<Vec<u8>, FsError> {
        if f.size == 0 {
            return Ok(Vec::new());
        }
        let first = self.check_cluster(f.start)?;
        let (runs, whole) = self.runs(src, first, f.size.div_ceil(self.cluster_bytes))?;
        if !whole {
            return Err(FsError::Corrupt("cluster chain shorter than the file"));
        }
        // allocated only once the chain proves the size
        let mut out = vec![0u8; f.size as usize];
        let mut at = 0usize;
        for (c, n) in runs {
            let len = ((n * self.cluster_bytes) as usize).min(out.len() - at);
            src.read_direct(self.cluster_offset(c), &mut out[at..at + len])?;
            at += len;
        }
        Ok(out)
    }
}
