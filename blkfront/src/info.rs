//! What the backend says about the disk (`sectors`, `info`, `sector-size`),
//! parsed and checked before anything is sized from it.

use core::fmt;

use xenabi::blkif::{BLKIF_SECTOR_SIZE, VDISK_CDROM, VDISK_READONLY, VDISK_REMOVABLE};

/// The disk as the backend describes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskInfo {
    /// Size in 512-byte units (Linux blkback and QEMU write it so).
    pub sectors: u64,
    /// Logical block size: every read is aligned to it on the ring.
    pub sector_size: u32,
    /// `VDISK_*` bits.
    pub info: u32,
    /// Readable bytes: `sectors * 512`, rounded down to whole logical blocks.
    pub size_bytes: u64,
}

/// Why the backend's description was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InfoError {
    Missing(&'static str),
    NotANumber(&'static str),
    /// Not a power of two in 512..=4096.
    BadSectorSize(u64),
    /// `sectors * 512` does not fit in 64 bits.
    SizeOverflow(u64),
}

impl fmt::Display for InfoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InfoError::Missing(k) => write!(f, "backend has no {}", k),
            InfoError::NotANumber(k) => write!(f, "backend {} is not a number", k),
            InfoError::BadSectorSize(n) => {
                write!(f, "sector-size {} is not a power of two in 512..=4096", n)
            }
            InfoError::SizeOverflow(n) => write!(f, "sectors {} overflows a byte size", n),
        }
    }
}

fn number(key: &'static str, v: &str) -> Result<u64, InfoError> {
    // XenStore values may carry a trailing NUL; anything else is refused
    let v = v.trim_end_matches('\0').trim();
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(InfoError::NotANumber(key));
    }
    v.parse().map_err(|_| InfoError::NotANumber(key))
}

impl DiskInfo {
    /// From the backend's nodes (`None`: node absent). `sectors` and `info`
    /// are required, as Linux blkfront requires them; `sector-size`
    /// defaults to 512 as io/blkif.h says.
    pub fn parse(
        sectors: Option<&str>,
        info: Option<&str>,
        sector_size: Option<&str>,
    ) -> Result<DiskInfo, InfoError> {
        let sectors = number("sectors", sectors.ok_or(InfoError::Missing("sectors"))?)?;
        let info = number("info", info.ok_or(InfoError::Missing("info"))?)?;
        let info = u32::try_from(info).map_err(|_| InfoError::NotANumber("info"))?;
        let ss = match sector_size {
            Some(s) => number("sector-size", s)?,
            None => BLKIF_SECTOR_SIZE as u64,
        };
        if !ss.is_power_of_two() || !(512..=4096).contains(&ss) {
            return Err(InfoError::BadSectorSize(ss));
        }
        let bytes = sectors
            .checked_mul(BLKIF_SECTOR_SIZE as u64)
            .ok_or(InfoError::SizeOverflow(sectors))?;
        Ok(DiskInfo {
            sectors,
            sector_size: ss as u32,
            info,
            // a partial logical block at the end cannot be addressed
            size_bytes: bytes - bytes % ss,
        })
    }

    pub fn is_cdrom(&self) -> bool {
        self.info & VDISK_CDROM != 0
    }

    pub fn is_removable(&self) -> bool {
        self.info & VDISK_REMOVABLE != 0
    }

    pub fn is_readonly(&self) -> bool {
        self.info & VDISK_READONLY != 0
    }
}

/// Optional features the backend offers, read for the record: none of them
/// pays for a seed disk (see the crate documentation), so none is used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Offered {
    pub persistent: bool,
    pub max_ring_page_order: u32,
    pub max_indirect_segments: u32,
}

impl Offered {
    /// Absent or unparsable nodes read as "not offered".
    pub fn parse(
        persistent: Option<&str>,
        max_ring_page_order: Option<&str>,
        max_indirect_segments: Option<&str>,
    ) -> Offered {
        let n = |v: Option<&str>| {
            v.and_then(|v| number("", v).ok())
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(0)
        };
        Offered {
            persistent: n(persistent) == 1,
            max_ring_page_order: n(max_ring_page_order),
            max_indirect_segments: n(max_indirect_segments),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_disk() {
        let d = DiskInfo::parse(Some("2048"), Some("4"), Some("512")).unwrap();
        assert_eq!(d.size_bytes, 1 << 20);
        assert!(d.is_readonly() && !d.is_cdrom() && !d.is_removable());
        let d = DiskInfo::parse(Some("2048\0"), Some("0"), None).unwrap();
        assert_eq!((d.sector_size, d.info), (512, 0));
    }

    #[test]
    fn a_cdrom_with_2k_sectors_drops_a_partial_block() {
        let d = DiskInfo::parse(Some("1001"), Some("3"), Some("2048")).unwrap();
        assert!(d.is_cdrom() && d.is_removable());
        assert_eq!(d.size_bytes, 1000 * 512);
    }

    #[test]
    fn bad_sector_sizes_are_refused() {
        for ss in ["0", "256", "1000", "8192", "513", "-512", "0x200", ""] {
            assert!(
                DiskInfo::parse(Some("8"), Some("0"), Some(ss)).is_err(),
                "{:?}",
                ss
            );
        }
        assert_eq!(
            DiskInfo::parse(Some("8"), Some("0"), Some("1024")).map(|d| d.sector_size),
            Ok(1024)
        );
    }

    #[test]
    fn sizes_that_overflow_or_do_not_parse_are_refused() {
        let max = format!("{}", u64::MAX / 256);
        assert_eq!(
            DiskInfo::parse(Some(&max), Some("0"), None),
            Err(InfoError::SizeOverflow(u64::MAX / 256))
        );
        assert!(matches!(
            DiskInfo::parse(Some("99999999999999999999999"), Some("0"), None),
            Err(InfoError::NotANumber("sectors"))
        ));
        assert_eq!(
            DiskInfo::parse(None, Some("0"), None),
            Err(InfoError::Missing("sectors"))
        );
        assert_eq!(
            DiskInfo::parse(Some("8"), None, None),
            Err(InfoError::Missing("info"))
        );
        assert!(DiskInfo::parse(Some(" 8 x"), Some("0"), None).is_err());
        assert!(DiskInfo::parse(Some("8"), Some("4294967296"), None).is_err());
    }

    #[test]
    fn offered_features() {
        let o = Offered::parse(Some("1"), Some("4"), Some("256"));
        assert_eq!(
            o,
            Offered {
                persistent: true,
                max_ring_page_order: 4,
                max_indirect_segments: 256
            }
        );
        assert_eq!(
            Offered::parse(None, Some("x"), Some("-1")),
            Offered::default()
        );
    }
}
