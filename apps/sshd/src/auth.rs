//! Who may log in: one user name and the keys the metadata service gave.
//! ssh-ed25519, RSA (2048..=8192 bits, rsa-sha2-256/512) and, with the
//! `ecdsa` feature, ecdsa-sha2-nistp256 keys can log in; any other key is
//! reported by its type so the operator knows why it cannot.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use cloudinit::sshkey::PublicKey;

use crate::hostkey::fingerprint;
use crate::pubkey::{ClientKey, KeyError, RSA_BITS};

#[derive(Clone, Debug)]
pub struct AuthorizedKey {
    /// The key type name (`ssh-ed25519`, `ssh-rsa`, `ecdsa-sha2-nistp256`).
    pub kind: String,
    /// The public key blob, compared byte for byte with the offered one.
    pub blob: Vec<u8>,
    pub fingerprint: String,
    pub(crate) key: ClientKey,
}

impl PartialEq for AuthorizedKey {
    fn eq(&self, other: &Self) -> bool {
        self.blob == other.blob
    }
}

impl Eq for AuthorizedKey {}

impl AuthorizedKey {
    /// The key if it can log in here, else why not: its type name, with
    /// the size for an RSA key outside 2048..=8192 bits.
    pub fn from_public(k: &PublicKey) -> Result<AuthorizedKey, String> {
        match ClientKey::from_blob(&k.blob) {
            Ok(key) if crate::pubkey::blob_type(&k.blob) == Some(k.kind.as_str()) => {
                Ok(AuthorizedKey {
                    kind: k.kind.clone(),
                    blob: k.blob.clone(),
                    fingerprint: k.fingerprint(),
                    key,
                })
            }
            Err(KeyError::RsaSize) => Err(format!(
                "{} (modulus outside {}..={} bits)",
                k.kind,
                RSA_BITS.start(),
                RSA_BITS.end()
            )),
            _ => Err(k.kind.clone()),
        }
    }
}

/// Limits, in nanoseconds of the caller's clock.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// No bytes either way for this long: the connection is closed.
    pub idle_timeout_ns: u64,
    /// Not authenticated this long after connecting: closed (a slot is precious).
    pub login_grace_ns: u64,
    /// After each refused key or method, input is not read for this long.
    pub fail_delay_ns: u64,
    /// Refusals before the connection is closed.
    pub max_failures: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            idle_timeout_ns: 600_000_000_000,
            login_grace_ns: 30_000_000_000,
            fail_delay_ns: 1_000_000_000,
            max_failures: 6,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Policy {
    pub user: String,
    pub keys: Vec<AuthorizedKey>,
    pub limits: Limits,
}

impl Policy {
    /// The key, if `user` may log in with this public key blob.
    pub fn allows(&self, user: &[u8], blob: &[u8]) -> Option<&AuthorizedKey> {
        if user != self.user.as_bytes() {
            return None;
        }
        self.keys.iter().find(|k| k.blob == blob)
    }
}

/// Fingerprint of an offered key blob (for the log).
pub fn offered_fingerprint(blob: &[u8]) -> String {
    fingerprint(blob)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cloudinit::sshkey::parse;

    const ED: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIuTkfykaGa4H5ynwI4vUgvhlIAO//FjjkVKNpv5QlEo me@host";

    #[test]
    fn ed25519_keys_are_usable_and_match_exactly() {
        let k = AuthorizedKey::from_public(&parse(ED).unwrap()).unwrap();
        assert_eq!(k.fingerprint, parse(ED).unwrap().fingerprint());
        assert_eq!(offered_fingerprint(&k.blob), k.fingerprint);
        let p = Policy {
            user: "admin".into(),
            keys: alloc::vec![k.clone()],
            limits: Limits::default(),
        };
        assert!(p.allows(b"admin", &k.blob).is_some());
        assert!(p.allows(b"root", &k.blob).is_none());
        let mut other = k.blob.clone();
        other[50] ^= 1;
        assert!(p.allows(b"admin", &other).is_none());
    }

    #[test]
    fn other_types_are_reported_not_usable() {
        let dss = PublicKey {
            kind: "ssh-dss".into(),
            blob: alloc::vec![0, 0, 0, 7, b's', b's', b'h', b'-', b'd', b's', b's'],
            comment: String::new(),
            line: String::new(),
        };
        assert_eq!(AuthorizedKey::from_public(&dss).unwrap_err(), "ssh-dss");
        // a type name that does not match the blob's
        let mut ed = parse(ED).unwrap();
        ed.kind = "ecdsa-sha2-nistp256".into();
        assert_eq!(
            AuthorizedKey::from_public(&ed).unwrap_err(),
            "ecdsa-sha2-nistp256"
        );
    }
}
