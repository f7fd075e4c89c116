//! The server's ed25519 host key, from a 32-byte seed the caller draws from
//! its hardware RNG at boot, with the fingerprint and public line operators
//! compare against `ssh-keyscan` (as cloud-init prints them).

use alloc::string::String;
use alloc::vec::Vec;

use cloudinit::sha256;
use cloudinit::sshkey::base64_encode;
use sunset::ed25519_dalek::SigningKey;
use sunset::SignKey;

pub struct HostKey {
    pub(crate) key: SignKey,
    public: [u8; 32],
}

/// The SSH wire blob of an ed25519 public key: string "ssh-ed25519", string key.
pub fn ed25519_blob(public: &[u8; 32]) -> Vec<u8> {
    let mut b = Vec::with_capacity(51);
    b.extend_from_slice(&11u32.to_be_bytes());
    b.extend_from_slice(b"ssh-ed25519");
    b.extend_from_slice(&32u32.to_be_bytes());
    b.extend_from_slice(public);
    b
}

/// `SHA256:<unpadded base64>`, as `ssh-keygen -l` prints it.
pub fn fingerprint(blob: &[u8]) -> String {
    let mut s = String::from("SHA256:");
    s.push_str(&base64_encode(&sha256::digest(blob), false));
    s
}

impl HostKey {
    pub fn from_seed(seed: &[u8; 32]) -> HostKey {
        let sk = SigningKey::from_bytes(seed);
        let public = sk.verifying_key().to_bytes();
        HostKey {
            key: SignKey::Ed25519(sk),
            public,
        }
    }

    pub fn fingerprint(&self) -> String {
        fingerprint(&ed25519_blob(&self.public))
    }

    /// `ssh-ed25519 AAAA... COMMENT`, the known_hosts / authorized_keys form.
    pub fn public_line(&self, comment: &str) -> String {
        let mut s = String::from("ssh-ed25519 ");
        s.push_str(&base64_encode(&ed25519_blob(&self.public), true));
        if !comment.is_empty() {
            s.push(' ');
            s.push_str(comment);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_line_parses_back_with_the_same_fingerprint() {
        let hk = HostKey::from_seed(&[7u8; 32]);
        let line = hk.public_line("appliance");
        let parsed = cloudinit::sshkey::parse(&line).unwrap();
        assert_eq!(parsed.kind, "ssh-ed25519");
        assert_eq!(parsed.fingerprint(), hk.fingerprint());
        assert_eq!(parsed.comment, "appliance");
    }

    #[test]
    fn different_seeds_different_keys() {
        let a = HostKey::from_seed(&[1u8; 32]);
        let b = HostKey::from_seed(&[2u8; 32]);
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_eq!(
            a.fingerprint(),
            HostKey::from_seed(&[1u8; 32]).fingerprint()
        );
    }
}
