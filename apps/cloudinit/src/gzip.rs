//! gzip (RFC 1952), one member, inflated into a bounded buffer: the framing
//! (header flags, optional fields, CRC-32 and length trailer) is read here,
//! the DEFLATE stream by `miniz_oxide`. A stream that would inflate past the
//! bound stops there with `TooLarge` (a gzip bomb costs `limit` bytes).

extern crate alloc;

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use miniz_oxide::inflate::stream::{inflate as inflate_stream, InflateState};
use miniz_oxide::{DataFormat, MZError, MZFlush, MZStatus};

const MAGIC: [u8; 2] = [0x1f, 0x8b];
const DEFLATE: u8 = 8;
const FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;
const RESERVED: u8 = 0xe0;

const CRC32: crc::Crc<u32, crc::NoTable> =
    crc::Crc::<u32, crc::NoTable>::new(&crc::CRC_32_ISO_HDLC);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GzipError {
    Header(&'static str),
    /// The DEFLATE stream is invalid.
    Corrupt,
    /// The input ends before the stream or its trailer does.
    Truncated,
    /// It inflates past this many bytes.
    TooLarge(usize),
    Checksum,
    Length,
    /// Bytes after the member (a second member, or junk).
    Trailing,
}

impl fmt::Display for GzipError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GzipError::Header(what) => write!(f, "gzip header: {}", what),
            GzipError::Corrupt => f.write_str("gzip data is corrupt"),
            GzipError::Truncated => f.write_str("gzip data is truncated"),
            GzipError::TooLarge(n) => write!(f, "gzip data inflates past {} bytes", n),
            GzipError::Checksum => f.write_str("gzip CRC-32 does not match"),
            GzipError::Length => f.write_str("gzip length does not match"),
            GzipError::Trailing => f.write_str("data after the gzip member"),
        }
    }
}

/// Does this look like gzip (its magic bytes)?
pub fn is_gzip(data: &[u8]) -> bool {
    data.starts_with(&MAGIC)
}

/// Inflate one gzip member of at most `limit` bytes.
pub fn inflate(data: &[u8], limit: usize) -> Result<Vec<u8>, GzipError> {
    let body = data.get(header_len(data)?..).ok_or(GzipError::Truncated)?;
    // one byte of room past the limit tells "exactly full" from "more"
    let mut out = vec![0u8; limit.saturating_add(1)];
    let mut state: Box<InflateState> = InflateState::new_boxed(DataFormat::Raw);
    let r = inflate_stream(&mut state, body, &mut out, MZFlush::Finish);
    if r.bytes_written > limit {
        return Err(GzipError::TooLarge(limit));
    }
    match r.status {
        Ok(MZStatus::StreamEnd) => {}
        Err(MZError::Data) => return Err(GzipError::Corrupt),
        _ => return Err(GzipError::Truncated),
    }
    out.truncate(r.bytes_written);
    let trailer = body.get(r.bytes_consumed..).unwrap_or(&[]);
    if trailer.len() < 8 {
        return Err(GzipError::Truncated);
    }
    if trailer.len() > 8 {
        return Err(GzipError::Trailing);
    }
    let crc = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
    let size = u32::from_le_bytes([trailer[4], trailer[5], trailer[6], trailer[7]]);
    if CRC32.checksum(&out) != crc {
        return Err(GzipError::Checksum);
    }
    if out.len() as u32 != size {
        return Err(GzipError::Length);
    }
    Ok(out)
}

/// Length of the header with its optional fields (checked).
fn header_len(d: &[u8]) -> Result<usize, GzipError> {
    if d.len() < 10 {
        return Err(GzipError::Truncated);
    }
    if d[..2] != MAGIC {
        return Err(GzipError::Header("not gzip"));
    }
    if d[2] != DEFLATE {
        return Err(GzipError::Header("compression method is not deflate"));
    }
    let flags = d[3];
    if flags & RESERVED != 0 {
        return Err(GzipError::Header("reserved flags set"));
    }
    let mut at = 10usize;
    if flags & FEXTRA != 0 {
        let len = d.get(at..at + 2).ok_or(GzipError::Truncated)?;
        at += 2 + u16::from_le_bytes([len[0], len[1]]) as usize;
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            let rest = d.get(at..).ok_or(GzipError::Truncated)?;
            let nul = rest
                .iter()
                .position(|&b| b == 0)
                .ok_or(GzipError::Truncated)?;
            at += nul + 1;
        }
    }
    if flags & FHCRC != 0 {
        let head = d.get(..at).ok_or(GzipError::Truncated)?;
        let crc = d.get(at..at + 2).ok_or(GzipError::Truncated)?;
        if CRC32.checksum(head) as u16 != u16::from_le_bytes([crc[0], crc[1]]) {
            return Err(GzipError::Header("header CRC does not match"));
        }
        at += 2;
    }
    if at > d.len() {
        return Err(GzipError::Truncated);
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use miniz_oxide::deflate::compress_to_vec;

    /// A gzip member around `data`, with the given flags' fields.
    pub fn gzip(data: &[u8], flags: u8) -> Vec<u8> {
        let mut g = vec![0x1f, 0x8b, 8, flags, 0, 0, 0, 0, 0, 3];
        if flags & FEXTRA != 0 {
            g.extend_from_slice(&[3, 0, b'a', b'b', b'c']);
        }
        if flags & FNAME != 0 {
            g.extend_from_slice(b"user-data.txt\0");
        }
        if flags & FCOMMENT != 0 {
            g.extend_from_slice(b"a comment\0");
        }
        if flags & FHCRC != 0 {
            let c = CRC32.checksum(&g) as u16;
            g.extend_from_slice(&c.to_le_bytes());
        }
        g.extend(compress_to_vec(data, 6));
        g.extend_from_slice(&CRC32.checksum(data).to_le_bytes());
        g.extend_from_slice(&(data.len() as u32).to_le_bytes());
        g
    }

    #[test]
    fn round_trips_with_every_header_field() {
        let text = b"#cloud-config\nhostname: gz\n".repeat(20);
        for flags in [
            0,
            FEXTRA,
            FNAME,
            FCOMMENT,
            FHCRC,
            FEXTRA | FNAME | FCOMMENT | FHCRC,
        ] {
            let g = gzip(&text, flags);
            assert!(is_gzip(&g));
            assert_eq!(inflate(&g, 4096), Ok(text.clone()), "flags {:#x}", flags);
        }
        // exactly at the limit is fine
        assert_eq!(inflate(&gzip(b"abcd", 0), 4), Ok(b"abcd".to_vec()));
    }

    #[test]
    fn bombs_stop_at_the_bound() {
        // 64 MiB of zeros in ~64 KiB: inflating stops after the limit
        let zeros = vec![0u8; 64 << 20];
        let g = gzip(&zeros, 0);
        assert!(g.len() < 128 << 10, "{}", g.len());
        assert_eq!(inflate(&g, 65536), Err(GzipError::TooLarge(65536)));
        assert_eq!(inflate(&gzip(b"abcde", 0), 4), Err(GzipError::TooLarge(4)));
    }

    #[test]
    fn damage_is_refused() {
        let g = gzip(b"hello world hello world", FNAME | FHCRC);
        let mut bad_crc = g.clone();
        let n = bad_crc.len();
        bad_crc[n - 8] ^= 1;
        assert_eq!(inflate(&bad_crc, 100), Err(GzipError::Checksum));
        let mut bad_len = g.clone();
        bad_len[n - 1] ^= 1;
        assert_eq!(inflate(&bad_len, 100), Err(GzipError::Length));
        assert_eq!(inflate(&g[..n - 3], 100), Err(GzipError::Truncated));
        assert_eq!(inflate(&g[..n / 2], 100), Err(GzipError::Truncated));
        assert_eq!(
            inflate(&[g.clone(), g.clone()].concat(), 100),
            Err(GzipError::Trailing)
        );
        let mut reserved = g.clone();
        reserved[3] |= 0x80;
        assert_eq!(
            inflate(&reserved, 100),
            Err(GzipError::Header("reserved flags set"))
        );
        let mut hcrc = g.clone();
        hcrc[12] ^= 1; // inside the file name
        assert_eq!(
            inflate(&hcrc, 100),
            Err(GzipError::Header("header CRC does not match"))
        );
        let mut method = g.clone();
        method[2] = 7;
        assert!(matches!(inflate(&method, 100), Err(GzipError::Header(_))));
        // a corrupt deflate block type (0b11 is reserved)
        let mut corrupt = gzip(b"", 0);
        corrupt[10] = 0x07;
        assert_eq!(inflate(&corrupt, 100), Err(GzipError::Corrupt));
        assert_eq!(inflate(&[0x1f, 0x8b], 100), Err(GzipError::Truncated));
    }
}
