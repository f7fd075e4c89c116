//! OpenSSH public-key lines: `type base64-blob [comment]`, validated down to
//! the fields of the blob, and the SHA256 fingerprint as `ssh-keygen -l`
//! prints it.

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use base64ct::{Base64, Base64Unpadded, Encoding};

use crate::{ecpoint, sha256};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyError {
    Empty,
    UnknownType(String),
    BadBase64,
    /// The blob's own type string differs from the line's.
    TypeMismatch,
    /// A field is missing, has the wrong length, or bytes are left over.
    BadBlob(&'static str),
    NotText,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Empty => f.write_str("empty key"),
            KeyError::UnknownType(t) => write!(f, "unsupported key type {:?}", t),
            KeyError::BadBase64 => f.write_str("key blob is not base64"),
            KeyError::TypeMismatch => f.write_str("key type does not match the blob"),
            KeyError::BadBlob(m) => write!(f, "bad key blob: {}", m),
            KeyError::NotText => f.write_str("key line is not printable text"),
        }
    }
}

const TYPES: [&str; 7] = [
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "ssh-rsa",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    pub kind: String,
    pub blob: Vec<u8>,
    pub comment: String,
    /// The line as validated (whitespace-normalised, no trailing newline).
    pub line: String,
}

impl PublicKey {
    /// `SHA256:<unpadded base64 of sha256(blob)>`
    pub fn fingerprint(&self) -> String {
        let digest = sha256::digest(&self.blob);
        let mut s = String::from("SHA256:");
        s.push_str(&base64_encode(&digest, false));
        s
    }

    /// Key size in bits, as ssh-keygen -l reports it.
    pub fn bits(&self) -> u32 {
        match self.kind.as_str() {
            "ecdsa-sha2-nistp256" | "sk-ecdsa-sha2-nistp256@openssh.com" => 256,
            "ecdsa-sha2-nistp384" => 384,
            "ecdsa-sha2-nistp521" => 521,
            "ssh-rsa" => rsa_bits(&self.blob).unwrap_or(0),
            _ => 256,
        }
    }
}

pub fn parse(line: &str) -> Result<PublicKey, KeyError> {
    let line = line.trim();
    if line.is_empty() {
        return Err(KeyError::Empty);
    }
    if line.bytes().any(|b| b < 0x20 && b != b'\t' || b == 0x7f) {
        return Err(KeyError::NotText);
    }
    let mut parts = line.split_ascii_whitespace();
    let kind = parts.next().ok_or(KeyError::Empty)?;
    if !TYPES.contains(&kind) {
        return Err(KeyError::UnknownType(kind.into()));
    }
    let b64 = parts.next().ok_or(KeyError::BadBase64)?;
    let blob = base64_decode(b64).ok_or(KeyError::BadBase64)?;
    let comment: Vec<&str> = parts.collect();
    let comment = comment.join(" ");
    check_blob(kind, &blob)?;
    let mut normal = String::from(kind);
    normal.push(' ');
    normal.push_str(b64);
    if !comment.is_empty() {
        normal.push(' ');
        normal.push_str(&comment);
    }
    Ok(PublicKey {
        kind: kind.into(),
        blob,
        comment,
        line: normal,
    })
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn string(&mut self) -> Result<&'a [u8], KeyError> {
        if self.0.len() < 4 {
            return Err(KeyError::BadBlob("truncated length"));
        }
        let n = u32::from_be_bytes([self.0[0], self.0[1], self.0[2], self.0[3]]) as usize;
        if self.0.len() - 4 < n {
            return Err(KeyError::BadBlob("truncated field"));
        }
        let (s, rest) = self.0[4..].split_at(n);
        self.0 = rest;
        Ok(s)
    }
    fn mpint(&mut self) -> Result<&'a [u8], KeyError> {
        let m = self.string()?;
        if m.is_empty() || m[0] & 0x80 != 0 {
            return Err(KeyError::BadBlob("mpint not positive"));
        }
        Ok(m)
    }
    fn end(&self) -> Result<(), KeyError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(KeyError::BadBlob("trailing bytes"))
        }
    }
}

fn check_blob(kind: &str, blob: &[u8]) -> Result<(), KeyError> {
    let mut r = Reader(blob);
    if r.string()? != kind.as_bytes() {
        return Err(KeyError::TypeMismatch);
    }
    let ecdsa = |r: &mut Reader, curve: &str, point: usize| -> Result<(), KeyError> {
        if r.string()? != curve.as_bytes() {
            return Err(KeyError::BadBlob("curve name"));
        }
        let q = r.string()?;
        if q.len() != point || q[0] != 4 {
            return Err(KeyError::BadBlob("curve point"));
        }
        if !ecpoint::on_curve(curve, q) {
            return Err(KeyError::BadBlob("point not on the curve"));
        }
        Ok(())
    };
    match kind {
        "ssh-ed25519" | "sk-ssh-ed25519@openssh.com" => {
            if r.string()?.len() != 32 {
                return Err(KeyError::BadBlob("ed25519 key length"));
            }
        }
        "ecdsa-sha2-nistp256" | "sk-ecdsa-sha2-nistp256@openssh.com" => {
            ecdsa(&mut r, "nistp256", 65)?
        }
        "ecdsa-sha2-nistp384" => ecdsa(&mut r, "nistp384", 97)?,
        "ecdsa-sha2-nistp521" => ecdsa(&mut r, "nistp521", 133)?,
        "ssh-rsa" => {
            r.mpint()?; // e
            let bits = mpint_bits(r.mpint()?);
            // OpenSSH's limits (SSH_RSA_MINIMUM_MODULUS_SIZE, SSHBUF_MAX_BIGNUM)
            if bits < 1024 {
                return Err(KeyError::BadBlob("rsa modulus under 1024 bits"));
            }
            if bits > 16384 {
                return Err(KeyError::BadBlob("rsa modulus over 16384 bits"));
            }
        }
        _ => return Err(KeyError::UnknownType(kind.into())),
    }
    if kind.starts_with("sk-") {
        // the FIDO application, e.g. "ssh:"; OpenSSH reads it as a C string
        if r.string()?.contains(&0) {
            return Err(KeyError::BadBlob("sk application"));
        }
    }
    r.end()
}

fn rsa_bits(blob: &[u8]) -> Option<u32> {
    let mut r = Reader(blob);
    r.string().ok()?;
    r.mpint().ok()?;
    Some(mpint_bits(r.mpint().ok()?))
}

/// Significant bits of a non-negative mpint (leading zero bytes allowed).
fn mpint_bits(m: &[u8]) -> u32 {
    match m.iter().position(|&b| b != 0) {
        Some(i) => (m.len() - i) as u32 * 8 - m[i].leading_zeros(),
        None => 0,
    }
}

/// Strict standard base64 (`base64ct`): padding required to a multiple of
/// 4, no junk, unused bits zero; empty is refused.
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    if s.is_empty() {
        return None;
    }
    Base64::decode_vec(s).ok()
}

pub fn base64_encode(data: &[u8], pad: bool) -> String {
    if pad {
        Base64::encode_string(data)
    } else {
        Base64Unpadded::encode_string(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_roundtrip_and_strictness() {
        for n in 0..40 {
            let d: Vec<u8> = (0..n).map(|i| (i * 37) as u8).collect();
            let e = base64_encode(&d, true);
            if n > 0 {
                assert_eq!(base64_decode(&e).unwrap(), d);
            }
        }
        assert_eq!(base64_decode("QQ=="), Some(b"A".to_vec()));
        assert_eq!(base64_decode("QR=="), None, "non-zero unused bits");
        assert_eq!(base64_decode("QQ="), None);
        assert_eq!(base64_decode("Q!=="), None);
        assert_eq!(base64_decode("===="), None);
        assert_eq!(base64_encode(b"A", false), "QQ");
        assert_eq!(base64_decode("QQ"), None, "padding is required");
        assert_eq!(base64_decode("QQ==QQ=="), None, "padding only at the end");
        assert_eq!(base64_decode("QQ==\n"), None);
        assert_eq!(base64_decode("QUJD"), Some(b"ABC".to_vec()));
    }

    fn line(kind: &str, fields: &[&[u8]]) -> String {
        let mut blob = Vec::new();
        for f in [kind.as_bytes()].iter().chain(fields.iter()) {
            blob.extend_from_slice(&(f.len() as u32).to_be_bytes());
            blob.extend_from_slice(f);
        }
        alloc::format!("{} {} me@host", kind, base64_encode(&blob, true))
    }

    #[test]
    fn validates_each_type() {
        // P-256's base point: a real point on the curve
        let g = "046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c2964fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5";
        let point256: Vec<u8> = (0..g.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&g[i..i + 2], 16).unwrap())
            .collect();
        let off_curve = [&[4u8][..], &[1; 64][..]].concat();
        let ok = [
            line("ssh-ed25519", &[&[7; 32]]),
            line("ecdsa-sha2-nistp256", &[b"nistp256", &point256]),
            line("sk-ssh-ed25519@openssh.com", &[&[7; 32], b"ssh:"]),
            line(
                "sk-ecdsa-sha2-nistp256@openssh.com",
                &[b"nistp256", &point256, b"ssh:"],
            ),
            line(
                "ssh-rsa",
                &[&[1, 0, 1], &[[0x7f].as_slice(), &[0xff; 255]].concat()],
            ),
        ];
        for l in &ok {
            let k = parse(l).unwrap_or_else(|e| panic!("{}: {}", l, e));
            assert_eq!(k.comment, "me@host");
            assert!(k.fingerprint().starts_with("SHA256:"));
            assert_eq!(k.fingerprint().len(), 7 + 43);
        }
        assert_eq!(parse(&ok[4]).unwrap().bits(), 2047);
        // the limit is on bits, not bytes: a leading zero byte does not count
        let n1024 = [&[0u8, 0x80][..], &[0; 127][..]].concat();
        let n1023 = [&[0u8, 0x40][..], &[0; 127][..]].concat();
        let rsa = |n: &[u8]| line("ssh-rsa", &[&[1, 0, 1], n]);
        assert_eq!(parse(&rsa(&n1024)).unwrap().bits(), 1024);
        assert_eq!(
            parse(&rsa(&n1023)),
            Err(KeyError::BadBlob("rsa modulus under 1024 bits"))
        );
        let huge = [&[0x40u8][..], &[0; 2048][..]].concat();
        assert_eq!(
            parse(&rsa(&huge)),
            Err(KeyError::BadBlob("rsa modulus over 16384 bits"))
        );
        assert_eq!(
            parse(&line("sk-ssh-ed25519@openssh.com", &[&[7; 32], b"ss\0h:"])),
            Err(KeyError::BadBlob("sk application"))
        );
        assert_eq!(
            parse(&line("sk-ssh-ed25519@openssh.com", &[&[7; 32]])),
            Err(KeyError::BadBlob("truncated length"))
        );
        let bad = [
            (
                line("ssh-ed25519", &[&[7; 31]]),
                KeyError::BadBlob("ed25519 key length"),
            ),
            (
                line("ssh-ed25519", &[&[7; 32], b"extra"]),
                KeyError::BadBlob("trailing bytes"),
            ),
            (
                line("ecdsa-sha2-nistp256", &[b"nistp384", &point256]),
                KeyError::BadBlob("curve name"),
            ),
            (
                line("ecdsa-sha2-nistp256", &[b"nistp256", &off_curve]),
                KeyError::BadBlob("point not on the curve"),
            ),
            (
                line(
                    "sk-ecdsa-sha2-nistp256@openssh.com",
                    &[b"nistp256", &off_curve, b"ssh:"],
                ),
                KeyError::BadBlob("point not on the curve"),
            ),
            (
                line("ssh-rsa", &[&[1, 0, 1], &[0x7f; 64]]),
                KeyError::BadBlob("rsa modulus under 1024 bits"),
            ),
            (
                line("ssh-rsa", &[&[0x81], &[0x7f; 200]]),
                KeyError::BadBlob("mpint not positive"),
            ),
        ];
        for (l, e) in bad {
            assert_eq!(parse(&l), Err(e), "{}", l);
        }
        let ed = line("ssh-ed25519", &[&[7; 32]]);
        let swapped = ed.replacen("ssh-ed25519", "ssh-rsa", 1);
        assert_eq!(parse(&swapped), Err(KeyError::TypeMismatch));
        assert_eq!(
            parse("ssh-dss AAAA"),
            Err(KeyError::UnknownType("ssh-dss".into()))
        );
        assert_eq!(parse("ssh-ed25519 !!!!"), Err(KeyError::BadBase64));
        assert_eq!(parse(""), Err(KeyError::Empty));
        assert_eq!(
            parse("<html>404</html>"),
            Err(KeyError::UnknownType("<html>404</html>".into()))
        );
    }
}
