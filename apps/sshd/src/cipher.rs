//! Packet protection: the AEAD ciphers we offer, and the plain framing of
//! the first key exchange. AEAD only, so there is no separate MAC.
//!
//! - `chacha20-poly1305@openssh.com` (OpenSSH's PROTOCOL.chacha20poly1305):
//!   a 64-byte key, the second half encrypts the 4-byte length, the first
//!   half the rest from block 1 on; block 0 keys Poly1305 over the encrypted
//!   length and body. The nonce is the packet's sequence number.
//! - `aes256-gcm@openssh.com` (RFC 5647 as OpenSSH does it): the length is
//!   clear and authenticated; the nonce is a 4-byte fixed field and a
//!   64-bit counter from the derived IV, counted up per packet.

#[cfg(feature = "aes-gcm")]
use alloc::boxed::Box;
use chacha20::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
use chacha20::ChaCha20Legacy;
use poly1305::universal_hash::KeyInit;
use poly1305::Poly1305;
use subtle::ConstantTimeEq;

pub const TAG_LEN: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    ChaChaPoly,
    #[cfg(feature = "aes-gcm")]
    AesGcm,
}

/// Our preference order (both directions).
pub const OFFERED: &[Algorithm] = &[
    Algorithm::ChaChaPoly,
    #[cfg(feature = "aes-gcm")]
    Algorithm::AesGcm,
];

impl Algorithm {
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::ChaChaPoly => "chacha20-poly1305@openssh.com",
            #[cfg(feature = "aes-gcm")]
            Algorithm::AesGcm => "aes256-gcm@openssh.com",
        }
    }

    pub fn from_name(name: &str) -> Option<Algorithm> {
        OFFERED.iter().copied().find(|a| a.name() == name)
    }

    pub fn key_len(self) -> usize {
        match self {
            Algorithm::ChaChaPoly => 64,
            #[cfg(feature = "aes-gcm")]
            Algorithm::AesGcm => 32,
        }
    }

    pub fn iv_len(self) -> usize {
        match self {
            Algorithm::ChaChaPoly => 0,
            #[cfg(feature = "aes-gcm")]
            Algorithm::AesGcm => 12,
        }
    }
}

/// The tag did not verify: the packet is not the peer's, or was changed.
#[derive(Debug, PartialEq, Eq)]
pub struct BadTag;

#[cfg_attr(any(test, feature = "test-client"), derive(Clone))]
pub enum Cipher {
    /// Before the first NEWKEYS.
    Plain,
    ChaChaPoly {
        main: [u8; 32],
        header: [u8; 32],
    },
    #[cfg(feature = "aes-gcm")]
    AesGcm {
        aead: Box<aes_gcm::Aes256Gcm>,
        nonce: [u8; 12],
    },
}

fn chacha(key: &[u8; 32], seq: u32) -> ChaCha20Legacy {
    ChaCha20Legacy::new(key.into(), &u64::from(seq).to_be_bytes().into())
}

impl Cipher {
    /// From keys derived for this direction (`key_len()` and `iv_len()` bytes).
    pub fn new(alg: Algorithm, key: &[u8], iv: &[u8]) -> Cipher {
        #[cfg(not(feature = "aes-gcm"))]
        let _ = iv; // only GCM has an IV
        let mut k = [0u8; 32];
        k.copy_from_slice(&key[..32]);
        match alg {
            Algorithm::ChaChaPoly => {
                let mut header = [0u8; 32];
                header.copy_from_slice(&key[32..64]);
                Cipher::ChaChaPoly { main: k, header }
            }
            #[cfg(feature = "aes-gcm")]
            Algorithm::AesGcm => {
                let mut nonce = [0u8; 12];
                nonce.copy_from_slice(&iv[..12]);
                Cipher::AesGcm {
                    aead: Box::new(<aes_gcm::Aes256Gcm as aes_gcm::KeyInit>::new(&k.into())),
                    nonce,
                }
            }
        }
    }

    /// Packet lengths must be a multiple of this (RFC 4253 §6).
    pub fn block_size(&self) -> usize {
        match self {
            #[cfg(feature = "aes-gcm")]
            Cipher::AesGcm { .. } => 16,
            _ => 8,
        }
    }

    pub fn tag_len(&self) -> usize {
        match self {
            Cipher::Plain => 0,
            _ => TAG_LEN,
        }
    }

    /// Whether the 4-byte length field counts towards the block alignment
    /// (only without an AEAD, where everything is aligned).
    pub fn aligns_length_field(&self) -> bool {
        matches!(self, Cipher::Plain)
    }

    /// The `packet_length` of the packet that starts with `head`.
    pub fn packet_length(&self, seq: u32, head: [u8; 4]) -> u32 {
        let mut h = head;
        if let Cipher::ChaChaPoly { header, .. } = self {
            chacha(header, seq).apply_keystream(&mut h);
        }
        u32::from_be_bytes(h)
    }

    /// Check `tag` over `packet` (length field and body, as received), then
    /// decrypt the body (`packet[4..]`) in place. Nothing is decrypted when
    /// the tag is wrong.
    pub fn open(&mut self, seq: u32, packet: &mut [u8], tag: &[u8]) -> Result<(), BadTag> {
        if packet.len() < 4 || tag.len() != self.tag_len() {
            return Err(BadTag);
        }
        match self {
            Cipher::Plain => Ok(()),
            Cipher::ChaChaPoly { main, .. } => {
                let mut c = chacha(main, seq);
                let expect = poly1305(poly_key(&mut c), packet);
                if !bool::from(expect.ct_eq(tag)) {
                    return Err(BadTag);
                }
                c.apply_keystream(&mut packet[4..]);
                Ok(())
            }
            #[cfg(feature = "aes-gcm")]
            Cipher::AesGcm { aead, nonce } => {
                use aes_gcm::aead::AeadInOut;
                let (len, body) = packet.split_at_mut(4);
                let tag = aes_gcm::Tag::try_from(tag).map_err(|_| BadTag)?;
                let r = aead.decrypt_inout_detached(&(*nonce).into(), len, body.into(), &tag);
                next_nonce(nonce);
                r.map_err(|_| BadTag)
            }
        }
    }

    /// Encrypt `packet` (length field and body) in place; the tag to append.
    pub fn seal(&mut self, seq: u32, packet: &mut [u8]) -> Option<[u8; TAG_LEN]> {
        match self {
            Cipher::Plain => None,
            Cipher::ChaChaPoly { main, header } => {
                let (len, body) = packet.split_at_mut(4);
                chacha(header, seq).apply_keystream(len);
                let mut c = chacha(main, seq);
                let key = poly_key(&mut c);
                c.apply_keystream(body);
                Some(poly1305(key, packet))
            }
            #[cfg(feature = "aes-gcm")]
            Cipher::AesGcm { aead, nonce } => {
                use aes_gcm::aead::AeadInOut;
                let (len, body) = packet.split_at_mut(4);
                let tag = aead
                    .encrypt_inout_detached(&(*nonce).into(), len, body.into())
                    .ok()?;
                next_nonce(nonce);
                Some(tag.into())
            }
        }
    }
}

/// The Poly1305 key is block 0 of the main stream; the body starts at block 1.
fn poly_key(c: &mut ChaCha20Legacy) -> [u8; 32] {
    let mut key = [0u8; 32];
    c.apply_keystream(&mut key);
    c.seek(64u32);
    key
}

fn poly1305(key: [u8; 32], data: &[u8]) -> [u8; TAG_LEN] {
    Poly1305::new(&key.into()).compute_unpadded(data).into()
}

/// RFC 5647 §7.1: the invocation counter (the last 8 bytes) counts packets.
#[cfg(feature = "aes-gcm")]
fn next_nonce(nonce: &mut [u8; 12]) {
    let mut ctr = [0u8; 8];
    ctr.copy_from_slice(&nonce[4..]);
    let next = u64::from_be_bytes(ctr).wrapping_add(1);
    nonce[4..].copy_from_slice(&next.to_be_bytes());
}
