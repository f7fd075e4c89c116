//! The connection's CSPRNG: ChaCha20 keyed with the 32-byte seed the caller
//! draws from its hardware RNG for each connection. It makes the KEXINIT
//! cookie, the ephemeral X25519 secret and the packet padding.

use chacha20::cipher::{KeyIvInit, StreamCipher};
use chacha20::ChaCha20Legacy;

pub struct Rng(ChaCha20Legacy);

impl Rng {
    pub fn new(seed: [u8; 32]) -> Rng {
        Rng(ChaCha20Legacy::new(&seed.into(), &[0u8; 8].into()))
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        buf.fill(0);
        // The 64-bit block counter cannot run out in a connection's life
        // (2^70 bytes); were it ever to, the bytes stay zero rather than panic.
        let _ = self.0.try_apply_keystream(buf);
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
    }
}
