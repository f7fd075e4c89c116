//! The connection's CSPRNG: ChaCha20 keyed with the 32-byte seed the caller
//! draws from its hardware RNG for each connection. It makes the KEXINIT
//! cookie, the ephemeral X25519 secret and the packet padding.

use chacha20::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
use chacha20::ChaCha20Legacy;

#[cfg_attr(any(test, feature = "test-client"), derive(Clone))]
pub struct Rng {
    key: [u8; 32],
    /// Bytes of the keystream used so far.
    pos: u64,
}

impl Rng {
    pub fn new(seed: [u8; 32]) -> Rng {
        Rng { key: seed, pos: 0 }
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        buf.fill(0);
        let mut c = ChaCha20Legacy::new(&self.key.into(), &[0u8; 8].into());
        // The 64-bit block counter cannot run out in a connection's life
        // (2^70 bytes); were it ever to, the bytes stay zero rather than panic.
        if c.try_seek(self.pos).is_ok() {
            let _ = c.try_apply_keystream(buf);
        }
        self.pos = self.pos.saturating_add(buf.len() as u64);
    }

    pub fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut b = [0u8; N];
        self.fill(&mut b);
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_other_seed_other_stream() {
        let (mut a, mut b, mut c) = (Rng::new([1; 32]), Rng::new([1; 32]), Rng::new([2; 32]));
        let x: [u8; 32] = a.array();
        assert_eq!(x, b.array::<32>());
        assert_ne!(x, c.array::<32>());
        assert_ne!(x, a.array::<32>(), "the stream moves on");
        assert_ne!(x, [0; 32]);
        // one stream, however it is cut
        let (mut d, mut e) = (Rng::new([3; 32]), Rng::new([3; 32]));
        let whole: [u8; 100] = d.array();
        let mut parts = [0u8; 100];
        for chunk in parts.chunks_mut(7) {
            e.fill(chunk);
        }
        assert_eq!(whole, parts);
    }
}
