//! The binary packet protocol (RFC 4253 §6): framing, padding, sequence
//! numbers, and the cipher of each direction.
//!
//! Incoming bytes wait in one bounded buffer; `Receiver::next_packet` takes one
//! whole packet off its front at a time, so the caller can change keys
//! between two packets (NEWKEYS) before the next one is decrypted.

use alloc::vec::Vec;

use crate::cipher::{Cipher, TAG_LEN};
use crate::rng::Rng;

/// Largest `packet_length` accepted (RFC 4253 §6.1: at least 35000).
pub const MAX_PACKET: usize = 35000;
/// Bytes of input held at most: one largest packet and its tag, with room
/// for the start of the next.
pub const RECV_BUFFER: usize = 64 * 1024;
const MIN_PADDING: usize = 4;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// `packet_length` over the limit, too small, or not block-aligned.
    BadLength,
    /// Padding shorter than 4 bytes or longer than the packet.
    BadPadding,
    /// The AEAD tag did not verify.
    BadTag,
}

impl FrameError {
    pub fn reason(self) -> &'static str {
        match self {
            FrameError::BadLength => "bad packet length",
            FrameError::BadPadding => "bad packet padding",
            FrameError::BadTag => "bad message authentication tag",
        }
    }
}

#[cfg_attr(any(test, feature = "test-client"), derive(Clone))]
pub struct Receiver {
    pub cipher: Cipher,
    /// Sequence number of the next packet.
    pub seq: u32,
    buf: Vec<u8>,
    /// `packet_length` of the packet at the front, once its first 4 bytes are in.
    length: Option<usize>,
}

impl Default for Receiver {
    fn default() -> Self {
        Receiver {
            cipher: Cipher::Plain,
            seq: 0,
            buf: Vec::new(),
            length: None,
        }
    }
}

impl Receiver {
    /// Take what fits of `data`; returns how many bytes were taken.
    pub fn push(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(RECV_BUFFER.saturating_sub(self.buf.len()));
        self.buf.extend_from_slice(&data[..n]);
        n
    }

    /// The bytes not yet framed (the version exchange reads its lines here).
    pub fn buffered(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// The payload of the next whole packet, if it is all here; an error
    /// is fatal to the connection.
    pub fn next_packet(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        let len = match self.length {
            Some(l) => l,
            None => {
                let Some(head) = self.buf.get(..4) else {
                    return Ok(None);
                };
                let head = [head[0], head[1], head[2], head[3]];
                let l = self.cipher.packet_length(self.seq, head) as usize;
                let aligned = if self.cipher.aligns_length_field() {
                    l + 4
                } else {
                    l
                };
                if !(MIN_PADDING + 1..=MAX_PACKET).contains(&l)
                    || aligned % self.cipher.block_size() != 0
                {
                    return Err(FrameError::BadLength);
                }
                self.length = Some(l);
                l
            }
        };
        let total = 4 + len + self.cipher.tag_len();
        if self.buf.len() < total {
            return Ok(None);
        }
        let (packet, rest) = self.buf[..total].split_at_mut(4 + len);
        self.cipher
            .open(self.seq, packet, rest)
            .map_err(|_| FrameError::BadTag)?;
        let padding = packet[4] as usize;
        // At least the message number must remain.
        if padding < MIN_PADDING || padding + 2 > len {
            return Err(FrameError::BadPadding);
        }
        let payload = packet[5..4 + len - padding].to_vec();
        self.buf.drain(..total);
        self.length = None;
        self.seq = self.seq.wrapping_add(1);
        Ok(Some(payload))
    }
}

#[cfg_attr(any(test, feature = "test-client"), derive(Clone))]
pub struct Sender {
    pub cipher: Cipher,
    /// Sequence number of the next packet.
    pub seq: u32,
}

impl Default for Sender {
    fn default() -> Self {
        Sender {
            cipher: Cipher::Plain,
            seq: 0,
        }
    }
}

impl Sender {
    /// Frame, pad (random bytes), encrypt and append one packet to `out`.
    /// Our payloads are well under `MAX_PACKET`.
    pub fn seal(&mut self, payload: &[u8], rng: &mut Rng, out: &mut Vec<u8>) {
        let bs = self.cipher.block_size();
        let unpadded = 1
            + payload.len()
            + if self.cipher.aligns_length_field() {
                4
            } else {
                0
            };
        let mut padding = bs - unpadded % bs;
        if padding < MIN_PADDING {
            padding += bs;
        }
        let len = 1 + payload.len() + padding;
        let start = out.len();
        out.extend_from_slice(&(len as u32).to_be_bytes());
        out.push(padding as u8);
        out.extend_from_slice(payload);
        let pad_at = out.len();
        out.resize(pad_at + padding, 0);
        rng.fill(&mut out[pad_at..]);
        if let Some(tag) = self.cipher.seal(self.seq, &mut out[start..]) {
            out.extend_from_slice(&tag);
        }
        self.seq = self.seq.wrapping_add(1);
    }
}

/// Room a sealed packet takes beyond its payload, at most.
pub const OVERHEAD: usize = 4 + 1 + 16 + MIN_PADDING + TAG_LEN;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cipher::{Algorithm, OFFERED};

    fn pair(alg: Option<Algorithm>) -> (Sender, Receiver) {
        let key: Vec<u8> = (0..64).collect();
        let iv: Vec<u8> = (100..112).collect();
        let make = || alg.map_or(Cipher::Plain, |a| Cipher::new(a, &key, &iv));
        (
            Sender {
                cipher: make(),
                seq: 7,
            },
            Receiver {
                cipher: make(),
                seq: 7,
                ..Receiver::default()
            },
        )
    }

    fn all() -> Vec<Option<Algorithm>> {
        let mut v = alloc::vec![None];
        v.extend(OFFERED.iter().map(|&a| Some(a)));
        v
    }

    #[test]
    fn packets_round_trip_in_any_chunking() {
        for alg in all() {
            let (mut tx, mut rx) = pair(alg);
            let mut rng = Rng::new([5; 32]);
            let mut wire = Vec::new();
            let payloads: Vec<Vec<u8>> =
                (0..40).map(|n| alloc::vec![n as u8; n * 37 + 1]).collect();
            for p in &payloads {
                tx.seal(p, &mut rng, &mut wire);
            }
            let mut got = Vec::new();
            for chunk in wire.chunks(13) {
                assert_eq!(rx.push(chunk), chunk.len());
                while let Some(p) = rx.next_packet().unwrap() {
                    got.push(p);
                }
            }
            assert_eq!(got, payloads, "{:?}", alg);
            assert_eq!(rx.seq, 47);
        }
    }

    #[test]
    fn any_flipped_bit_fails_the_tag() {
        for alg in all().into_iter().flatten() {
            let (mut tx, _) = pair(Some(alg));
            let mut wire = Vec::new();
            tx.seal(b"\x05hello", &mut Rng::new([1; 32]), &mut wire);
            for i in 4..wire.len() {
                let mut bad = wire.clone();
                bad[i] ^= 0x01;
                let (_, mut rx) = pair(Some(alg));
                rx.push(&bad);
                assert_eq!(
                    rx.next_packet(),
                    Err(FrameError::BadTag),
                    "{:?} byte {}",
                    alg,
                    i
                );
            }
            // a replayed packet fails: the nonce (sequence number, or GCM's
            // invocation counter) has moved on
            let (_, mut rx) = pair(Some(alg));
            rx.push(&wire);
            rx.push(&wire);
            assert!(rx.next_packet().unwrap().is_some());
            assert!(rx.next_packet().is_err(), "{:?}", alg);
        }
    }

    fn plain(len: u32, padding: u8, body: usize) -> Vec<u8> {
        let mut v = len.to_be_bytes().to_vec();
        v.push(padding);
        v.resize(4 + body, 0);
        v
    }

    #[test]
    fn hostile_lengths_and_padding_are_refused() {
        let cases: [(Vec<u8>, FrameError); 6] = [
            (plain(0xffff_fff0, 4, 4), FrameError::BadLength),
            (plain(35004, 4, 4), FrameError::BadLength),
            (plain(0, 0, 0), FrameError::BadLength),
            (plain(13, 4, 13), FrameError::BadLength), // 4 + 13 is not a multiple of 8
            (plain(12, 3, 12), FrameError::BadPadding),
            (plain(12, 11, 12), FrameError::BadPadding), // no room for a message number
        ];
        for (bytes, want) in cases {
            let mut rx = Receiver::default();
            rx.push(&bytes);
            assert_eq!(rx.next_packet(), Err(want), "{:02x?}", &bytes[..5]);
        }
        // a good plain packet, and the buffer bound
        let mut rx = Receiver::default();
        rx.push(&plain(12, 10, 12));
        assert_eq!(rx.next_packet(), Ok(Some(alloc::vec![0])));
        assert_eq!(rx.push(&alloc::vec![0; RECV_BUFFER + 10]), RECV_BUFFER);
    }

    #[test]
    fn padding_keeps_blocks_aligned() {
        for alg in all() {
            let (mut tx, _) = pair(alg);
            let bs = tx.cipher.block_size();
            let aligned = tx.cipher.aligns_length_field();
            for n in 0..64 {
                let mut wire = Vec::new();
                tx.seal(&alloc::vec![1; n], &mut Rng::new([0; 32]), &mut wire);
                let body = wire.len() - tx.cipher.tag_len() - if aligned { 0 } else { 4 };
                assert_eq!(body % bs, 0);
            }
        }
    }
}
