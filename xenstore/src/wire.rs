//! XenStore messages: a 16-byte `xsd_sockmsg` header and a payload of at
//! most 4096 bytes. `Header::parse` is strict: everything a daemon sends is
//! checked before use.

extern crate alloc;

use alloc::vec::Vec;
use core::fmt;

use xenabi::xs_wire as xs;

pub const HEADER_LEN: usize = xs::XSD_SOCKMSG_SIZE;
pub const PAYLOAD_MAX: usize = xs::XENSTORE_PAYLOAD_MAX;

/// The XenStore errors, by the names the daemon sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Errno {
    EINVAL,
    EACCES,
    EEXIST,
    EISDIR,
    ENOENT,
    ENOMEM,
    ENOSPC,
    EIO,
    ENOTEMPTY,
    ENOSYS,
    EROFS,
    EBUSY,
    EAGAIN,
    EISCONN,
    E2BIG,
    EPERM,
}

const ERRNOS: [Errno; 16] = [
    Errno::EINVAL,
    Errno::EACCES,
    Errno::EEXIST,
    Errno::EISDIR,
    Errno::ENOENT,
    Errno::ENOMEM,
    Errno::ENOSPC,
    Errno::EIO,
    Errno::ENOTEMPTY,
    Errno::ENOSYS,
    Errno::EROFS,
    Errno::EBUSY,
    Errno::EAGAIN,
    Errno::EISCONN,
    Errno::E2BIG,
    Errno::EPERM,
];

impl Errno {
    /// The error named by an XS_ERROR payload ("ENOENT\0").
    pub fn from_payload(p: &[u8]) -> Option<Errno> {
        let name = p.strip_suffix(b"\0").unwrap_or(p);
        xs::XSD_ERRORS
            .iter()
            .position(|n| n.as_bytes() == name)
            .map(|i| ERRNOS[i])
    }

    pub fn name(self) -> &'static str {
        xs::XSD_ERRORS[ERRNOS.iter().position(|e| *e == self).unwrap_or(0)]
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Message types the client sends or accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Directory,
    Read,
    GetPerms,
    Watch,
    Unwatch,
    TransactionStart,
    TransactionEnd,
    GetDomainPath,
    Write,
    Mkdir,
    Rm,
    SetPerms,
    WatchEvent,
    Error,
    ResetWatches,
}

impl Kind {
    pub fn code(self) -> u32 {
        match self {
            Kind::Directory => xs::XS_DIRECTORY,
            Kind::Read => xs::XS_READ,
            Kind::GetPerms => xs::XS_GET_PERMS,
            Kind::Watch => xs::XS_WATCH,
            Kind::Unwatch => xs::XS_UNWATCH,
            Kind::TransactionStart => xs::XS_TRANSACTION_START,
            Kind::TransactionEnd => xs::XS_TRANSACTION_END,
            Kind::GetDomainPath => xs::XS_GET_DOMAIN_PATH,
            Kind::Write => xs::XS_WRITE,
            Kind::Mkdir => xs::XS_MKDIR,
            Kind::Rm => xs::XS_RM,
            Kind::SetPerms => xs::XS_SET_PERMS,
            Kind::WatchEvent => xs::XS_WATCH_EVENT,
            Kind::Error => xs::XS_ERROR,
            Kind::ResetWatches => xs::XS_RESET_WATCHES,
        }
    }

    pub fn from_code(c: u32) -> Option<Kind> {
        [
            Kind::Directory,
            Kind::Read,
            Kind::GetPerms,
            Kind::Watch,
            Kind::Unwatch,
            Kind::TransactionStart,
            Kind::TransactionEnd,
            Kind::GetDomainPath,
            Kind::Write,
            Kind::Mkdir,
            Kind::Rm,
            Kind::SetPerms,
            Kind::WatchEvent,
            Kind::Error,
            Kind::ResetWatches,
        ]
        .into_iter()
        .find(|k| k.code() == c)
    }
}

/// Why a message from the daemon was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireError {
    /// Unknown message type.
    BadKind(u32),
    /// Payload longer than XENSTORE_PAYLOAD_MAX.
    TooLong(u32),
    /// Fewer bytes than a header.
    Short,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::BadKind(k) => write!(f, "unknown message type {}", k),
            WireError::TooLong(n) => write!(f, "payload length {} over {}", n, PAYLOAD_MAX),
            WireError::Short => f.write_str("short header"),
        }
    }
}

/// A parsed `xsd_sockmsg`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub kind: Kind,
    pub req_id: u32,
    pub tx_id: u32,
    pub len: u32,
}

impl Header {
    pub fn parse(b: &[u8]) -> Result<Header, WireError> {
        if b.len() < HEADER_LEN {
            return Err(WireError::Short);
        }
        let word = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let code = word(0);
        let kind = Kind::from_code(code).ok_or(WireError::BadKind(code))?;
        let len = word(12);
        if len as usize > PAYLOAD_MAX {
            return Err(WireError::TooLong(len));
        }
        Ok(Header {
            kind,
            req_id: word(4),
            tx_id: word(8),
            len,
        })
    }

    pub fn emit(&self, out: &mut [u8; HEADER_LEN]) {
        out[0..4].copy_from_slice(&self.kind.code().to_le_bytes());
        out[4..8].copy_from_slice(&self.req_id.to_le_bytes());
        out[8..12].copy_from_slice(&self.tx_id.to_le_bytes());
        out[12..16].copy_from_slice(&self.len.to_le_bytes());
    }
}

/// A whole message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub header: Header,
    pub payload: Vec<u8>,
}

impl Message {
    /// Header and payload as one buffer, ready for the ring.
    pub fn encode(
        kind: Kind,
        req_id: u32,
        tx_id: u32,
        payload: &[u8],
    ) -> Result<Vec<u8>, WireError> {
        if payload.len() > PAYLOAD_MAX {
            return Err(WireError::TooLong(payload.len() as u32));
        }
        let h = Header {
            kind,
            req_id,
            tx_id,
            len: payload.len() as u32,
        };
        let mut hb = [0u8; HEADER_LEN];
        h.emit(&mut hb);
        let mut v = Vec::with_capacity(HEADER_LEN + payload.len());
        v.extend_from_slice(&hb);
        v.extend_from_slice(payload);
        Ok(v)
    }
}

/// Reassembles messages from a byte stream (the response ring delivers
/// them in pieces). Any framing error is final for the connection.
#[derive(Default)]
pub struct Reader {
    buf: Vec<u8>,
}

impl Reader {
    pub fn new() -> Self {
        Reader { buf: Vec::new() }
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// How many bytes the next read should bring at most (to never buffer
    /// more than one message plus a header).
    pub fn wanted(&self) -> usize {
        if self.buf.len() < HEADER_LEN {
            return HEADER_LEN - self.buf.len();
        }
        match Header::parse(&self.buf) {
            Ok(h) => (HEADER_LEN + h.len as usize)
                .saturating_sub(self.buf.len())
                .max(1),
            Err(_) => 0,
        }
    }

    /// The next complete message, if one has arrived.
    pub fn next(&mut self) -> Result<Option<Message>, WireError> {
        if self.buf.len() < HEADER_LEN {
            return Ok(None);
        }
        let header = Header::parse(&self.buf)?;
        let total = HEADER_LEN + header.len as usize;
        if self.buf.len() < total {
            return Ok(None);
        }
        let payload = self.buf[HEADER_LEN..total].to_vec();
        self.buf.drain(..total);
        Ok(Some(Message { header, payload }))
    }
}

/// Access a permission entry grants (`n`, `r`, `w`, `b` on the wire).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    None,
    Read,
    Write,
    Both,
}

/// One permission entry, e.g. `r1`: domain 1 may read. In a node's list the
/// first entry names the owner and the access of every domain not listed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Perm {
    pub domid: u16,
    pub access: Access,
}

impl Perm {
    pub fn parse(b: &[u8]) -> Option<Perm> {
        let (&mode, id) = b.split_first()?;
        let access = match mode {
            b'n' => Access::None,
            b'r' => Access::Read,
            b'w' => Access::Write,
            b'b' => Access::Both,
            _ => return None,
        };
        // digits only: u16::from_str would also take a leading '+'
        if id.is_empty() || id.len() > 5 || !id.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let domid = core::str::from_utf8(id).ok()?.parse().ok()?;
        Some(Perm { domid, access })
    }

    /// Append `<mode><domid>\0`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.push(match self.access {
            Access::None => b'n',
            Access::Read => b'r',
            Access::Write => b'w',
            Access::Both => b'b',
        });
        let mut digits = [0u8; 5];
        let mut n = self.domid;
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        out.extend_from_slice(&digits[i..]);
        out.push(0);
    }
}

/// Split a NUL-separated payload (XS_DIRECTORY, XS_WATCH_EVENT) into strings.
pub fn split_strings(p: &[u8]) -> Vec<&[u8]> {
    let p = p.strip_suffix(b"\0").unwrap_or(p);
    if p.is_empty() {
        return Vec::new();
    }
    p.split(|&b| b == 0).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_roundtrip() {
        let v = Message::encode(Kind::Read, 7, 3, b"device\0").unwrap();
        let h = Header::parse(&v).unwrap();
        assert_eq!(
            h,
            Header {
                kind: Kind::Read,
                req_id: 7,
                tx_id: 3,
                len: 7
            }
        );
        assert_eq!(&v[..4], &2u32.to_le_bytes());
    }

    #[test]
    fn rejects_bad_headers() {
        let mut v = Message::encode(Kind::Read, 1, 0, b"").unwrap();
        v[0] = 99;
        assert_eq!(Header::parse(&v), Err(WireError::BadKind(99)));
        let mut v = Message::encode(Kind::Read, 1, 0, b"").unwrap();
        v[12..16].copy_from_slice(&4097u32.to_le_bytes());
        assert_eq!(Header::parse(&v), Err(WireError::TooLong(4097)));
        assert_eq!(Header::parse(&v[..15]), Err(WireError::Short));
        assert!(Message::encode(Kind::Write, 1, 0, &[0u8; 4097]).is_err());
    }

    #[test]
    fn reader_reassembles_pieces() {
        let mut all = Message::encode(Kind::Read, 1, 0, b"hello").unwrap();
        all.extend(Message::encode(Kind::WatchEvent, 0, 0, b"a\0tok\0").unwrap());
        let mut r = Reader::new();
        let mut got = Vec::new();
        for b in all.chunks(3) {
            r.push(b);
            while let Some(m) = r.next().unwrap() {
                got.push(m);
            }
        }
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].payload, b"hello");
        assert_eq!(split_strings(&got[1].payload), vec![&b"a"[..], &b"tok"[..]]);
    }

    #[test]
    fn perms_parse_and_emit() {
        let mut out = Vec::new();
        for p in [
            Perm {
                domid: 0,
                access: Access::None,
            },
            Perm {
                domid: 7,
                access: Access::Read,
            },
            Perm {
                domid: 65535,
                access: Access::Both,
            },
            Perm {
                domid: 12,
                access: Access::Write,
            },
        ] {
            out.clear();
            p.emit(&mut out);
            assert_eq!(out.last(), Some(&0));
            assert_eq!(Perm::parse(&out[..out.len() - 1]), Some(p));
        }
        assert_eq!(&out[..], b"w12\0");
        for bad in [
            &b""[..],
            b"r",
            b"x1",
            b"r+1",
            b"r65536",
            b"r1a",
            b"r\xc3\xa9",
        ] {
            assert_eq!(Perm::parse(bad), None, "{:?}", bad);
        }
    }

    #[test]
    fn errno_names() {
        assert_eq!(Errno::from_payload(b"ENOENT\0"), Some(Errno::ENOENT));
        assert_eq!(Errno::from_payload(b"EAGAIN"), Some(Errno::EAGAIN));
        assert_eq!(Errno::from_payload(b"EWHAT\0"), None);
        assert_eq!(Errno::EACCES.name(), "EACCES");
    }
}
