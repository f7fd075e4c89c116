//! The server's ed25519 host key, from a 32-byte seed the caller draws from
//! its hardware RNG at boot, with the fingerprint and public line operators
//! compare against `ssh-keyscan` (as cloud-init prints them).

use alloc::string::String;
use alloc::vec::Vec;

use cloudinit::sha256;
use cloudinit::sshkey::base64_encode;
use ed25519_dalek::{Signer, SigningKey};

use crate::wire::Writer;

pub struct HostKey {
    key: SigningKey,
    public: [u8; 32],
}

/// The SSH wire blob of an ed25519 public key: string "ssh-ed25519", string key.
pub fn ed25519_blob(public: &[u8; 32]) -> Vec<u8> {
    let mut b = Vec::with_capacity(51);
    b.put_string(b"ssh-ed25519");
    b.put_string(public);
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
        let key = SigningKey::from_bytes(seed);
        let public = key.verifying_key().to_bytes();
        HostKey { key, public }
    }

    /// K_S, the public key blob the client checks against known_hosts.
    pub fn blob(&self) -> Vec<u8> {
        ed25519_blob(&self.public)
    }

    /// The signature blob over the exchange hash: string "ssh-ed25519", string sig.
    pub fn sign(&self, data: &[u8]) -> Vec<u8> {
        let sig = self.key.sign(data).to_bytes();
        let mut b = Vec::with_capacity(83);
        b.put_string(b"ssh-ed25519");
        b.put_string(&sig);
        b
    }

    pub fn fingerprint(&self) -> String {
        fingerprint(&self.blob())
    }

    /// `ssh-ed25519 AAAA... COMMENT`, the known_hosts / authorized_keys form.
    pub fn public_line(&self, comment: &str) -> String {
        let mut s = String::from("ssh-ed25519 ");
        s.push_str(&base64_encode(&self.blob(), true));
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
    use crate::pubkey::ClientKey;

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

    #[test]
    fn signatures_verify_under_the_public_blob() {
        let hk = HostKey::from_seed(&[3u8; 32]);
        let key = ClientKey::from_blob(&hk.blob()).unwrap();
        let sig = hk.sign(b"exchange hash");
        assert!(key.verify("ssh-ed25519", b"exchange hash", &sig));
        assert!(!key.verify("ssh-ed25519", b"exchange hasH", &sig));
    }
}
