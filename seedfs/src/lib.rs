//! seedfs: read-only FAT12/16/32 (long names, volume label) and ISO9660
//! (primary volume id, Joliet and Rock Ridge names) over any byte source,
//! for cloud-init seed disks: NoCloud `cidata` volumes as Xen Orchestra
//! (FAT) or `cloud-localds` (ISO9660, `genisoimage -J -R`) write them, and
//! OpenStack `config-2` drives.
//!
//! The image is hostile: every offset, size and chain it holds is checked,
//! and work and memory are bounded whatever it says (directory entries per
//! directory, path depth, cluster chains, Rock Ridge continuation hops,
//! volume descriptors; files no larger than the caller's `max_bytes`).
//! Nothing here panics on any input.
//!
//! ```text
//! let mut vol = seedfs::open(source)?;          // FAT or ISO9660, detected
//! if vol.label().eq_ignore_ascii_case("cidata") {
//!     let meta = vol.read_file("meta-data", 64 * 1024)?;   // Ok(None): no such file
//! }
//! ```
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

mod cache;
pub mod fat;
pub mod iso;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use cache::Cached;

/// Bytes the filesystem lives on (a block device, an image in memory).
pub trait Source {
    /// Size in bytes.
    fn len(&self) -> u64;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Fill `buf` from `offset`; the range is within `len()`.
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), SourceError>;
}

/// Why the source could not be read (its own words).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceError(pub String);

impl Source for &[u8] {
    fn len(&self) -> u64 {
        <[u8]>::len(self) as u64
    }
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), SourceError> {
        let at = usize::try_from(offset).ok();
        match at.and_then(|a| self.get(a..a.checked_add(buf.len())?)) {
            Some(src) => {
                buf.copy_from_slice(src);
                Ok(())
            }
            None => Err(SourceError(String::from("read past the end of the image"))),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FsError {
    /// The source failed.
    Source(String),
    /// Neither a FAT boot sector (bare or in the first MBR partition) nor an
    /// ISO9660 volume descriptor.
    NotAFilesystem,
    /// The structures contradict themselves or point outside the volume.
    Corrupt(&'static str),
    /// Valid, but a feature this reader does not handle.
    Unsupported(&'static str),
    /// A bound on work or memory was reached (the image says more than any
    /// seed disk needs).
    Limit(&'static str),
    /// The file is larger than the caller allowed.
    TooLarge { size: u64, max: usize },
    /// An empty, `.` or `..` component, or too long a path.
    BadPath,
    /// The path names a directory, or goes through a file.
    NotAFile,
}

impl fmt::Display for FsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FsError::Source(m) => write!(f, "disk read failed: {}", m),
            FsError::NotAFilesystem => f.write_str("no FAT or ISO9660 filesystem"),
            FsError::Corrupt(m) => write!(f, "corrupt filesystem: {}", m),
            FsError::Unsupported(m) => write!(f, "unsupported: {}", m),
            FsError::Limit(m) => write!(f, "limit reached: {}", m),
            FsError::TooLarge { size, max } => {
                write!(f, "file of {} bytes is over the limit of {}", size, max)
            }
            FsError::BadPath => f.write_str("bad path"),
            FsError::NotAFile => f.write_str("not a file"),
        }
    }
}

impl From<SourceError> for FsError {
    fn from(e: SourceError) -> Self {
        FsError::Source(e.0)
    }
}

/// Which filesystem `open` found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Fat12,
    Fat16,
    Fat32,
    Iso9660 { joliet: bool, rock_ridge: bool },
}

/// Path components a lookup walks at most.
pub const MAX_DEPTH: usize = 16;
/// Directory entries (records) read in one directory at most.
pub const MAX_DIR_ENTRIES: usize = 16384;

/// A file or directory found in a directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub is_dir: bool,
    /// First cluster (FAT) or first block (ISO9660).
    pub start: u64,
    pub size: u64,
}

enum Fs {
    Fat(fat::Fat),
    Iso(iso::Iso),
}

pub struct Volume<S: Source> {
    src: Cached<S>,
    fs: Fs,
    label: String,
}

/// Detect the filesystem on `source` (ISO9660 first: its signature is
/// the stronger one) and read its label.
pub fn open<S: Source>(source: S) -> Result<Volume<S>, FsError> {
    let mut src = Cached::new(source);
    if iso::detect(&mut src)? {
        let (fs, label) = iso::Iso::open(&mut src)?;
        return Ok(Volume {
            src,
            fs: Fs::Iso(fs),
            label,
        });
    }
    let (fs, label) = fat::Fat::open(&mut src)?;
    Ok(Volume {
        src,
        fs: Fs::Fat(fs),
        label,
    })
}

impl<S: Source> Volume<S> {
    /// The volume label, trailing blanks removed (empty if none): the FAT
    /// root directory's label entry, else the boot sector's; the ISO9660
    /// primary volume id.
    pub fn label(&self) -> &str {
        &self.label
    }

    pub fn kind(&self) -> Kind {
        match &self.fs {
            Fs::Fat(f) => f.kind(),
            Fs::Iso(i) => i.kind(),
        }
    }

    /// The whole file at `path` (`/`-separated, from the root), if it exists
    /// and holds at most `max_bytes`. Names match case-insensitively on FAT
    /// and on plain ISO9660 names, exactly on Rock Ridge and Joliet names.
    pub fn read_file(&mut self, path: &str, max_bytes: usize) -> Result<Option<Vec<u8>>, FsError> {
        let parts = components(path)?;
        let Some((last, dirs)) = parts.split_last() else {
            return Err(FsError::BadPath);
        };
        let mut dir = None; // the root
        for name in dirs {
            match self.find(dir, name)? {
                Some(e) if e.is_dir => dir = Some(e),
                Some(_) => return Err(FsError::NotAFile),
                None => return Ok(None),
            }
        }
        let file = match self.find(dir, last)? {
            Some(e) if e.is_dir => return Err(FsError::NotAFile),
            Some(e) => e,
            None => return Ok(None),
        };
        if file.size > max_bytes as u64 {
            return Err(FsError::TooLarge {
                size: file.size,
                max: max_bytes,
            });
        }
        let data = match &self.fs {
            Fs::Fat(f) => f.read(&mut self.src, &file)?,
            Fs::Iso(i) => i.read(&mut self.src, &file)?,
        };
        Ok(Some(data))
    }

    fn find(&mut self, dir: Option<Entry>, name: &str) -> Result<Option<Entry>, FsError> {
        match &self.fs {
            Fs::Fat(f) => f.find(&mut self.src, dir, name),
            Fs::Iso(i) => i.find(&mut self.src, dir, name),
        }
    }

    /// Give the source back.
    pub fn into_source(self) -> S {
        self.src.into_inner()
    }
}

fn components(path: &str) -> Result<Vec<&str>, FsError> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    if parts.len() > MAX_DEPTH
        || parts
            .iter()
            .any(|p| *p == "." || *p == ".." || p.len() > 255)
    {
        return Err(FsError::BadPath);
    }
    Ok(parts)
}

/// Case-insensitive equality (Unicode simple lowercase).
pub(crate) fn same_name_ignoring_case(a: &str, b: &str) -> bool {
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

/// Little-endian fields from a byte slice; bounds are the caller's (local
/// copies of fixed-size structures).
pub(crate) fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

pub(crate) fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// A label or identifier: bytes as Latin-1, trailing blanks and NULs dropped.
pub(crate) fn trimmed_latin1(b: &[u8]) -> String {
    let s: String = b.iter().map(|&c| c as char).collect();
    String::from(s.trim_end_matches([' ', '\0']))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(components("/a//b/").unwrap(), ["a", "b"]);
        assert_eq!(components("meta-data").unwrap(), ["meta-data"]);
        assert_eq!(components("a/../b"), Err(FsError::BadPath));
        assert_eq!(components("./b"), Err(FsError::BadPath));
        assert_eq!(components(&"a/".repeat(17)), Err(FsError::BadPath));
        assert!(components("").unwrap().is_empty());
    }

    #[test]
    fn names() {
        assert!(same_name_ignoring_case("META-DATA", "meta-data"));
        assert!(same_name_ignoring_case("Ärger", "äRGER"));
        assert!(!same_name_ignoring_case("meta-data", "meta_data"));
        assert_eq!(trimmed_latin1(b"CIDATA     "), "CIDATA");
        assert_eq!(trimmed_latin1(b"caf\xe9\0\0"), "caf\u{e9}");
    }

    #[test]
    fn slice_source_checks_bounds() {
        let img = [1u8, 2, 3, 4];
        let mut s: &[u8] = &img;
        let mut b = [0u8; 2];
        s.read_at(2, &mut b).unwrap();
        assert_eq!(b, [3, 4]);
        assert!(s.read_at(3, &mut b).is_err());
        assert!(s.read_at(u64::MAX, &mut b).is_err());
    }

    #[test]
    fn neither_fat_nor_iso() {
        let img = alloc::vec![0u8; 64 * 1024];
        assert!(matches!(open(&img[..]), Err(FsError::NotAFilesystem)));
        assert!(matches!(open(&img[..100]), Err(FsError::NotAFilesystem)));
    }
}
