//! SSH data types (RFC 4251 §5): a bounds-checked reader over a payload
//! and writers onto a `Vec`. Every read that would run past the end, every
//! negative mpint and every non-UTF-8 text field is `Malformed`.

use alloc::vec::Vec;

/// A field ran past the end of the message or did not hold a valid value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Malformed;

pub type Result<T> = core::result::Result<T, Malformed>;

pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf }
    }

    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.buf.len() {
            return Err(Malformed);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.bytes(1)?[0])
    }

    pub fn bool(&mut self) -> Result<bool> {
        Ok(self.u8()? != 0)
    }

    pub fn u32(&mut self) -> Result<u32> {
        let b = self.bytes(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// `string`: a u32 length, then that many bytes.
    pub fn string(&mut self) -> Result<&'a [u8]> {
        let n = self.u32()? as usize;
        self.bytes(n)
    }

    /// A `string` that must be UTF-8 (names, commands).
    pub fn text(&mut self) -> Result<&'a str> {
        core::str::from_utf8(self.string()?).map_err(|_| Malformed)
    }

    /// A non-negative `mpint`, as its big-endian magnitude without leading zeros.
    pub fn mpint(&mut self) -> Result<&'a [u8]> {
        let s = self.string()?;
        if s.first().is_some_and(|&b| b & 0x80 != 0) {
            return Err(Malformed);
        }
        let zeros = s.iter().take_while(|&&b| b == 0).count();
        Ok(&s[zeros..])
    }

    /// The end of the message: nothing may follow.
    pub fn end(&self) -> Result<()> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(Malformed)
        }
    }
}

/// Appending SSH data types to a message under construction.
pub trait Writer {
    fn put_u8(&mut self, v: u8);
    fn put_bool(&mut self, v: bool);
    fn put_u32(&mut self, v: u32);
    fn put_string(&mut self, v: &[u8]);
    /// An `mpint` from a big-endian magnitude (leading zeros dropped, a zero
    /// byte added when the top bit is set so it stays positive).
    fn put_mpint(&mut self, magnitude: &[u8]);
}

impl Writer for Vec<u8> {
    fn put_u8(&mut self, v: u8) {
        self.push(v);
    }

    fn put_bool(&mut self, v: bool) {
        self.push(v as u8);
    }

    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_be_bytes());
    }

    fn put_string(&mut self, v: &[u8]) {
        // Our own messages are far below 4 GiB; saturate rather than wrap.
        self.put_u32(u32::try_from(v.len()).unwrap_or(u32::MAX));
        self.extend_from_slice(v);
    }

    fn put_mpint(&mut self, magnitude: &[u8]) {
        let zeros = magnitude.iter().take_while(|&&b| b == 0).count();
        let m = &magnitude[zeros..];
        let pad = m.first().is_some_and(|&b| b & 0x80 != 0);
        self.put_u32((m.len() + pad as usize) as u32);
        if pad {
            self.push(0);
        }
        self.extend_from_slice(m);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn mpint_encoding_matches_rfc4251_examples() {
        // RFC 4251 §5: 0, 0x9a378f9b2e332a7, 0x80, -0x1234 (negative: refused)
        let cases: [(&[u8], &[u8]); 3] = [
            (&[], &[0, 0, 0, 0]),
            (
                &[0x09, 0xa3, 0x78, 0xf9, 0xb2, 0xe3, 0x32, 0xa7],
                &[0, 0, 0, 8, 0x09, 0xa3, 0x78, 0xf9, 0xb2, 0xe3, 0x32, 0xa7],
            ),
            (&[0x80], &[0, 0, 0, 2, 0, 0x80]),
        ];
        for (magnitude, wire) in cases {
            let mut v = Vec::new();
            v.put_mpint(magnitude);
            assert_eq!(v, wire);
            assert_eq!(Reader::new(wire).mpint().unwrap(), magnitude);
        }
        assert_eq!(
            Reader::new(&[0, 0, 0, 2, 0xed, 0xcc]).mpint(),
            Err(Malformed)
        );
        let mut v = Vec::new();
        v.put_mpint(&[0, 0, 0x7f]);
        assert_eq!(v, [0, 0, 0, 1, 0x7f]);
    }

    #[test]
    fn reads_past_the_end_are_malformed() {
        let mut r = Reader::new(&[0, 0, 0, 5, b'a', b'b']);
        assert_eq!(r.string(), Err(Malformed));
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff]);
        assert_eq!(r.string(), Err(Malformed));
        let mut r = Reader::new(&[0, 0, 0, 2, 0xff, 0xfe]);
        assert_eq!(r.text(), Err(Malformed));
        let mut r = Reader::new(&[1, 2]);
        assert_eq!(r.u32(), Err(Malformed));
        assert_eq!(r.u8(), Ok(1));
        assert!(r.end().is_err());
        let mut v = vec![];
        v.put_string(b"ssh");
        v.put_bool(true);
        let mut r = Reader::new(&v);
        assert_eq!(r.text(), Ok("ssh"));
        assert_eq!(r.bool(), Ok(true));
        assert!(r.end().is_ok());
    }
}
