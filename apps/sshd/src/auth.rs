//! Who may log in: one user name and the keys the metadata service gave.
//! Only key types the server can verify are usable (ed25519 here: sunset
//! verifies RSA only with std, and ECDSA is not built in); the others are
//! reported so the operator knows why a key cannot log in.

use alloc::string::String;
use alloc::vec::Vec;

use cloudinit::sshkey::PublicKey;

use crate::hostkey::{ed25519_blob, fingerprint};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizedKey {
    pub ed25519: [u8; 32],
    pub fingerprint: String,
}

impl AuthorizedKey {
    /// The key if its type can log in here, else its type name.
    pub fn from_public(k: &PublicKey) -> Result<AuthorizedKey, String> {
        if k.kind != "ssh-ed25519" {
            return Err(k.kind.clone());
        }
        // blob: string "ssh-ed25519" (4 + 11) then string key (4 + 32)
        let key: [u8; 32] = k
            .blob
            .get(19..51)
            .filter(|_| k.blob.len() == 51 && k.blob[15..19] == 32u32.to_be_bytes())
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| k.kind.clone())?;
        Ok(AuthorizedKey {
            ed25519: key,
            fingerprint: k.fingerprint(),
        })
    }
}

/// Limits, in nanoseconds of the caller's clock.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// No bytes either way for this long: the connection is closed.
    pub idle_timeout_ns: u64,
    /// Not authenticated this long after connecting: closed (a slot is precious).
    pub login_grace_ns: u64,
    /// After each refused key or password, input is not read for this long.
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
    /// The key, if `user` may log in with this ed25519 public key.
    pub fn allows(&self, user: &str, ed25519: &[u8; 32]) -> Option<&AuthorizedKey> {
        if user != self.user {
            return None;
        }
        self.keys.iter().find(|k| &k.ed25519 == ed25519)
    }
}

/// Fingerprint of an offered ed25519 key (for the log).
pub fn offered_fingerprint(ed25519: &[u8; 32]) -> String {
    fingerprint(&ed25519_blob(ed25519))
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
        assert_eq!(offered_fingerprint(&k.ed25519), k.fingerprint);
        let p = Policy {
            user: "admin".into(),
            keys: alloc::vec![k.clone()],
            limits: Limits::default(),
        };
        assert!(p.allows("admin", &k.ed25519).is_some());
        assert!(p.allows("root", &k.ed25519).is_none());
        let mut other = k.ed25519;
        other[31] ^= 1;
        assert!(p.allows("admin", &other).is_none());
    }

    #[test]
    fn other_types_are_reported_not_usable() {
        let rsa = PublicKey {
            kind: "ssh-rsa".into(),
            blob: alloc::vec![0; 20],
            comment: String::new(),
            line: String::new(),
        };
        assert_eq!(AuthorizedKey::from_public(&rsa).unwrap_err(), "ssh-rsa");
        let mut ed = parse(ED).unwrap();
        ed.kind = "ecdsa-sha2-nistp256".into();
        assert_eq!(
            AuthorizedKey::from_public(&ed).unwrap_err(),
            "ecdsa-sha2-nistp256"
        );
    }
}
