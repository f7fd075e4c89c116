//! ISO9660, read-only: the primary volume descriptor (volume id, root),
//! Rock Ridge names (SUSP `SP`, `NM`, `CE`) on the primary tree, and the
//! Joliet tree (UCS-2 names) from its supplementary descriptor. With both,
//! as `genisoimage -J -R` writes, Rock Ridge wins (as on Linux).

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use crate::cache::Cached;
use crate::MAX_DIR_ENTRIES;
use crate::{le16, le32, same_name_ignoring_case, trimmed_latin1, Entry, FsError, Kind, Source};

/// Volume descriptors and directory records live in 2048-byte sectors.
const SECTOR: u64 = 2048;
const DESCRIPTORS_AT: u64 = 16 * SECTOR;
const MAX_DESCRIPTORS: u64 = 32;
const MAX_DIR_BYTES: u64 = 1 << 20;
/// Rock Ridge continuation areas followed per record.
const MAX_CE_HOPS: usize = 8;
const MAX_NAME: usize = 1024;
const FLAG_DIR: u8 = 0x02;
const FLAG_MULTI_EXTENT: u8 = 0x80;
const RECORD_MIN: usize = 34;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Names {
    Plain,
    /// SUSP entries start this many bytes into each system use area.
    RockRidge {
        skip: usize,
    },
    Joliet,
}

pub struct Iso {
    block: u64,
    root: Entry,
    names: Names,
    joliet: bool,
}

/// Is there a volume descriptor where ISO9660 puts the first one?
pub(crate) fn detect<S: Source>(src: &mut Cached<S>) -> Result<bool, FsError> {
    if src.len() < DESCRIPTORS_AT + SECTOR {
        return Ok(false);
    }
    let mut id = [0u8; 6];
    src.read(DESCRIPTORS_AT, &mut id)?;
    Ok(&id[1..] == b"CD001")
}

/// A directory record, from a local copy of its sector.
struct Record<'a> {
    extent: u64,
    size: u64,
    flags: u8,
    interleaved: bool,
    name: &'a [u8],
    system_use: &'a [u8],
}

fn record(r: &[u8]) -> Option<Record<'_>> {
    let len = *r.first()? as usize;
    if len < RECORD_MIN || len > r.len() {
        return None;
    }
    let name_len = r[32] as usize;
    let name_end = 33 + name_len;
    if name_end > len {
        return None;
    }
    // a pad byte keeps the system use area at an even offset
    let su_start = (name_end + (name_len + 1) % 2).min(len);
    Some(Record {
        extent: le32(r, 2) as u64 + r[1] as u64, // after any extended attributes
        size: le32(r, 10) as u64,
        flags: r[25],
        interleaved: r[26] != 0 || r[27] != 0,
        name: &r[33..name_end],
        system_use: &r[su_start..len],
    })
}

/// A plain ISO9660 identifier without its `;1` version and trailing dot.
fn plain_name(b: &[u8]) -> String {
    let s = trimmed_latin1(b);
    strip_version(&s).trim_end_matches('.').into()
}

fn strip_version(s: &str) -> &str {
    match s.rfind(';') {
        Some(i) if s[i + 1..].bytes().all(|c| c.is_ascii_digit()) => &s[..i],
        _ => s,
    }
}

fn joliet_name(b: &[u8]) -> String {
    let units = b.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]]));
    let s: String = char::decode_utf16(units)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect();
    strip_version(&s).into()
}

impl Iso {
    pub(crate) fn open<S: Source>(src: &mut Cached<S>) -> Result<(Iso, String), FsError> {
        let mut primary = None;
        let mut joliet = None;
        for i in 0..MAX_DESCRIPTORS {
            let mut d = vec![0u8; SECTOR as usize];
            src.read(DESCRIPTORS_AT + i * SECTOR, &mut d)?;
            if &d[1..6] != b"CD001" {
                return Err(FsError::Corrupt("volume descriptor without CD001"));
            }
            match d[0] {
                255 => break,
                1 if primary.is_none() => primary = Some(d),
                // Joliet: escape sequences %/@, %/C or %/E (UCS-2 levels 1-3)
                2 if d[88..91] == *b"%/@" || d[88..91] == *b"%/C" || d[88..91] == *b"%/E" => {
                    joliet.get_or_insert(d);
                }
                _ => {}
            }
        }
        let pvd = primary.ok_or(FsError::Corrupt("no primary volume descriptor"))?;
        let block = le16(&pvd, 128) as u64;
        if !block.is_power_of_two() || !(512..=2048).contains(&block) {
            return Err(FsError::Corrupt("logical block size"));
        }
        let label = trimmed_latin1(&pvd[40..72]);
        let root_of = |d: &[u8]| {
            let r = record(&d[156..190]).ok_or(FsError::Corrupt("root directory record"))?;
            Ok::<_, FsError>(Entry {
                is_dir: true,
                start: r.extent,
                size: r.size,
            })
        };
        let mut iso = Iso {
            block,
            root: root_of(&pvd)?,
            names: Names::Plain,
            joliet: joliet.is_some(),
        };
        if let Some(skip) = iso.rock_ridge(src)? {
            iso.names = Names::RockRidge { skip };
        } else if let Some(svd) = &joliet {
            iso.root = root_of(svd)?;
            iso.names = Names::Joliet;
        }
        Ok((iso, label))
    }

    /// Rock Ridge is announced by a SUSP `SP` entry in the root's `.` record.
    fn rock_ridge<S: Source>(&self, src: &mut Cached<S>) -> Result<Option<usize>, FsError> {
        let mut first = [0u8; 255];
        let at = self.root.start.checked_mul(self.block);
        let at = at.ok_or(FsError::Corrupt("root directory out of range"))?;
        let n = (src.len().saturating_sub(at)).min(first.len() as u64) as usize;
        src.read(at, &mut first[..n])?;
        let Some(r) = record(&first[..n]) else {
            return Ok(None);
        };
        let su = r.system_use;
        let sp = su.len() >= 7 && su[..2] == *b"SP" && su[2] == 7 && su[4..6] == [0xbe, 0xef];
        Ok(sp.then(|| su[6] as usize))
    }

    pub(crate) fn kind(&self) -> Kind {
        Kind::Iso9660 {
            joliet: self.joliet,
            rock_ridge: matches!(self.names, Names::RockRidge { .. }),
        }
    }

    /// The Rock Ridge name in a system use area, following `CE`
    /// continuations (bounded hops and sizes).
    fn rr_name<S: Source>(
        &self,
        src: &mut Cached<S>,
        su: &[u8],
        skip: usize,
    ) -> Result<Option<String>, FsError> {
        let mut area = su.get(skip..).unwrap_or(&[]).to_vec();
        let (mut name, mut named) = (Vec::new(), false);
        for _ in 0..=MAX_CE_HOPS {
            let mut pos = 0;
            let mut next = None;
            while pos + 4 <= area.len() {
                let len = area[pos + 2] as usize;
                if len < 4 || pos + len > area.len() {
                    break;
                }
                let data = &area[pos + 4..pos + len];
                match &area[pos..pos + 2] {
                    // flags 0x02/0x04: "." and ".." (never a real name)
                    b"NM" if !data.is_empty() && data[0] & 0x06 == 0 => {
                        name.extend_from_slice(&data[1..]);
                        named = true;
                    }
                    b"CE" if len >= 28 => {
                        next = Some((
                            le32(&area, pos + 4),
                            le32(&area, pos + 12),
                            le32(&area, pos + 20),
                        ))
                    }
                    b"ST" => break,
                    _ => {}
                }
                pos += len;
            }
            if name.len() > MAX_NAME {
                return Err(FsError::Corrupt("Rock Ridge name too long"));
            }
            let Some((blk, off, len)) = next else {
                break;
            };
            if len as u64 > SECTOR {
                return Err(FsError::Corrupt("Rock Ridge continuation too large"));
            }
            let at = (blk as u64) * self.block + off as u64;
            area = vec![0u8; len as usize];
            src.read(at, &mut area)?;
        }
        Ok(named.then(|| String::from_utf8_lossy(&name).into_owned()))
    }

    pub(crate) fn find<S: Source>(
        &self,
        src: &mut Cached<S>,
        dir: Option<Entry>,
        want: &str,
    ) -> Result<Option<Entry>, FsError> {
        let dir = dir.unwrap_or(self.root);
        if dir.size > MAX_DIR_BYTES {
            return Err(FsError::Limit("directory over 1 MiB"));
        }
        let start = dir
            .start
            .checked_mul(self.block)
            .ok_or(FsError::Corrupt("directory out of range"))?;
        let mut seen = 0;
        for s in 0..dir.size.div_ceil(SECTOR) {
            let n = (dir.size - s * SECTOR).min(SECTOR) as usize;
            let mut sector = vec![0u8; n];
            src.read(start + s * SECTOR, &mut sector)?;
            let mut pos = 0;
            // a zero length byte pads the rest of the sector
            while pos < n && sector[pos] != 0 {
                let r = record(&sector[pos..])
                    .ok_or(FsError::Corrupt("directory record crosses its sector"))?;
                pos += sector[pos] as usize;
                seen += 1;
                if seen > MAX_DIR_ENTRIES {
                    return Err(FsError::Limit("too many directory records"));
                }
                if r.name == [0] || r.name == [1] {
                    continue; // "." and ".."
                }
                if self.matches(src, &r, want)? {
                    return self.entry(&r).map(Some);
                }
            }
        }
        Ok(None)
    }

    fn matches<S: Source>(
        &self,
        src: &mut Cached<S>,
        r: &Record,
        want: &str,
    ) -> Result<bool, FsError> {
        Ok(match self.names {
            Names::Joliet => joliet_name(r.name) == want,
            Names::RockRidge { skip } => match self.rr_name(src, r.system_use, skip)? {
                Some(n) => n == want,
                None => same_name_ignoring_case(&plain_name(r.name), want),
            },
            Names::Plain => same_name_ignoring_case(&plain_name(r.name), want),
        })
    }

    fn entry(&self, r: &Record) -> Result<Entry, FsError> {
        if r.flags & FLAG_MULTI_EXTENT != 0 {
            return Err(FsError::Unsupported("multi-extent file"));
        }
        if r.interleaved {
            return Err(FsError::Unsupported("interleaved file"));
        }
        Ok(Entry {
            is_dir: r.flags & FLAG_DIR != 0,
            start: r.extent,
            size: r.size,
        })
    }

    pub(crate) fn read<S: Source>(
        &self,
        src: &mut Cached<S>,
        f: &Entry,
    ) -> Result<Vec<u8>, FsError> {
        let at = f.start.checked_mul(self.block);
        // allocated only once the extent proves to lie on the disk
        match at.and_then(|a| a.checked_add(f.size)) {
            Some(end) if end <= src.len() => {}
            _ => return Err(FsError::Corrupt("points past the end of the disk")),
        }
        let mut out = vec![0u8; f.size as usize];
        if f.size > 0 {
            src.read_direct(at.unwrap_or(0), &mut out)?;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_their_version() {
        assert_eq!(plain_name(b"META_DAT.;1"), "META_DAT");
        assert_eq!(plain_name(b"USER.TXT;1"), "USER.TXT");
        assert_eq!(plain_name(b"A;B"), "A;B");
        let j: Vec<u8> = "meta-data;1"
            .encode_utf16()
            .flat_map(|u| u.to_be_bytes())
            .collect();
        assert_eq!(joliet_name(&j), "meta-data");
        assert_eq!(joliet_name(&[0xd8, 0x00, 0, 0x41]), "\u{fffd}A");
    }

    #[test]
    fn records_with_bad_lengths_are_refused() {
        let mut r = [0u8; 40];
        r[0] = 40;
        r[32] = 3;
        assert_eq!(record(&r).unwrap().name.len(), 3);
        assert_eq!(record(&r).unwrap().system_use.len(), 40 - 36);
        r[32] = 10; // name runs past the record
        assert!(record(&r).is_none());
        r[0] = 20;
        assert!(record(&r).is_none());
        r[0] = 41;
        assert!(record(&r).is_none());
    }
}
