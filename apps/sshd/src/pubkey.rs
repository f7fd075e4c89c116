//! Client public keys and their signatures (RFC 4253 §6.6, RFC 8332,
//! RFC 5656 §3.1, RFC 8709): ssh-ed25519, RSA with rsa-sha2-256/512 and
//! (with the `ecdsa` feature) ecdsa-sha2-nistp256. `ssh-rsa` signatures
//! (SHA-1) are refused.
//!
//! RSA here is only ever the public-key operation (verifying the client's
//! signature over public data), so the Marvin timing attack on RSA
//! decryption (RUSTSEC-2023-0071, private-key operations) does not apply.

use alloc::boxed::Box;
use alloc::vec::Vec;

use sha2::{Sha256, Sha512};

use crate::wire::{Malformed, Reader};

/// RSA moduli accepted, in bits (OpenSSH's minimum; rsa's default maximum).
pub const RSA_BITS: core::ops::RangeInclusive<usize> = 2048..=8192;

#[derive(Clone, Debug)]
pub enum ClientKey {
    Ed25519(ed25519_dalek::VerifyingKey),
    Rsa(Box<rsa::PublicKey>),
    #[cfg(feature = "ecdsa")]
    EcdsaP256(p256::ecdsa::VerifyingKey),
}

/// Why a public key blob cannot log in here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyError {
    /// Not a type we verify (the blob's type name says which).
    Unsupported,
    /// RSA modulus outside `RSA_BITS`, or a bad exponent.
    RsaSize,
    /// The blob does not hold a valid key of its type.
    Invalid,
}

impl From<Malformed> for KeyError {
    fn from(_: Malformed) -> Self {
        KeyError::Invalid
    }
}

/// The type name a key or signature blob starts with.
pub fn blob_type(blob: &[u8]) -> Option<&str> {
    Reader::new(blob).text().ok()
}

impl ClientKey {
    pub fn from_blob(blob: &[u8]) -> Result<ClientKey, KeyError> {
        let mut r = Reader::new(blob);
        let key = match r.text()? {
            "ssh-ed25519" => {
                let pk: [u8; 32] = r.string()?.try_into().map_err(|_| KeyError::Invalid)?;
                let vk =
                    ed25519_dalek::VerifyingKey::from_bytes(&pk).map_err(|_| KeyError::Invalid)?;
                ClientKey::Ed25519(vk)
            }
            "ssh-rsa" => {
                let e = r.mpint()?;
                let n = r.mpint()?;
                if n.len() > RSA_BITS.end() / 8 || e.len() > 8 {
                    return Err(KeyError::RsaSize);
                }
                let pk = rsa::PublicKey::new_with_size_limits(
                    rsa::BoxedUint::from_be_slice_vartime(n),
                    rsa::BoxedUint::from_be_slice_vartime(e),
                    RSA_BITS,
                )
                .map_err(|_| KeyError::RsaSize)?;
                ClientKey::Rsa(Box::new(pk))
            }
            #[cfg(feature = "ecdsa")]
            "ecdsa-sha2-nistp256" => {
                if r.string()? != b"nistp256" {
                    return Err(KeyError::Invalid);
                }
                let q = r.string()?;
                let vk =
                    p256::ecdsa::VerifyingKey::from_sec1_bytes(q).map_err(|_| KeyError::Invalid)?;
                ClientKey::EcdsaP256(vk)
            }
            _ => return Err(KeyError::Unsupported),
        };
        r.end()?;
        Ok(key)
    }

    /// Whether this key may sign with algorithm `alg` (the name in the
    /// userauth request and in the signature blob).
    pub fn accepts(&self, alg: &str) -> bool {
        match self {
            ClientKey::Ed25519(_) => alg == "ssh-ed25519",
            ClientKey::Rsa(_) => alg == "rsa-sha2-256" || alg == "rsa-sha2-512",
            #[cfg(feature = "ecdsa")]
            ClientKey::EcdsaP256(_) => alg == "ecdsa-sha2-nistp256",
        }
    }

    /// Check a signature blob (string alg, string signature) over `data`.
    pub fn verify(&self, alg: &str, data: &[u8], sig_blob: &[u8]) -> bool {
        self.try_verify(alg, data, sig_blob).unwrap_or(false)
    }

    fn try_verify(&self, alg: &str, data: &[u8], sig_blob: &[u8]) -> Result<bool, Malformed> {
        let mut r = Reader::new(sig_blob);
        if r.text()? != alg || !self.accepts(alg) {
            return Ok(false);
        }
        let sig = r.string()?;
        r.end()?;
        Ok(match self {
            ClientKey::Ed25519(vk) => {
                let Ok(sig) = ed25519_dalek::Signature::from_slice(sig) else {
                    return Ok(false);
                };
                vk.verify_strict(data, &sig).is_ok()
            }
            ClientKey::Rsa(pk) => verify_rsa(pk, alg, data, sig),
            #[cfg(feature = "ecdsa")]
            ClientKey::EcdsaP256(vk) => verify_ecdsa(vk, data, sig)?,
        })
    }
}

fn verify_rsa(pk: &rsa::PublicKey, alg: &str, data: &[u8], sig: &[u8]) -> bool {
    use rsa::traits::PublicKeyParts;
    use sha2::Digest;
    // Some signers drop leading zero bytes (OpenSSH pads them back too).
    let size = pk.size();
    if sig.len() > size {
        return false;
    }
    let mut padded = alloc::vec![0u8; size - sig.len()];
    padded.extend_from_slice(sig);
    let (scheme, hashed): (rsa::Pkcs1v15Sign, Vec<u8>) = if alg == "rsa-sha2-512" {
        (
            rsa::Pkcs1v15Sign::new::<Sha512>(),
            Sha512::digest(data).to_vec(),
        )
    } else {
        (
            rsa::Pkcs1v15Sign::new::<Sha256>(),
            Sha256::digest(data).to_vec(),
        )
    };
    pk.verify(scheme, &hashed, &padded).is_ok()
}

/// The signature is string(mpint r, mpint s); the message is hashed with SHA-256.
#[cfg(feature = "ecdsa")]
fn verify_ecdsa(
    vk: &p256::ecdsa::VerifyingKey,
    data: &[u8],
    sig: &[u8],
) -> Result<bool, Malformed> {
    use p256::ecdsa::signature::Verifier;
    let mut r = Reader::new(sig);
    let (rr, ss) = (r.mpint()?, r.mpint()?);
    r.end()?;
    let field = |v: &[u8]| -> Option<[u8; 32]> {
        let mut b = [0u8; 32];
        b.get_mut(32usize.checked_sub(v.len())?..)?
            .copy_from_slice(v);
        Some(b)
    };
    let (Some(rb), Some(sb)) = (field(rr), field(ss)) else {
        return Ok(false);
    };
    let Ok(sig) = p256::ecdsa::Signature::from_scalars(rb, sb) else {
        return Ok(false);
    };
    Ok(vk.verify(data, &sig).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Writer;

    #[test]
    fn refuses_other_types_and_bad_blobs() {
        let mut dsa = Vec::new();
        dsa.put_string(b"ssh-dss");
        assert_eq!(
            ClientKey::from_blob(&dsa).unwrap_err(),
            KeyError::Unsupported
        );
        let mut short = Vec::new();
        short.put_string(b"ssh-ed25519");
        short.put_string(&[1; 31]);
        assert_eq!(ClientKey::from_blob(&short).unwrap_err(), KeyError::Invalid);
        let mut trailing = crate::hostkey::ed25519_blob(&[9; 32]);
        trailing.push(0);
        assert!(ClientKey::from_blob(&trailing).is_err());
        // a 1024-bit RSA modulus, and an 8200-bit one
        for bits in [1024usize, 8200] {
            let mut rsa = Vec::new();
            rsa.put_string(b"ssh-rsa");
            rsa.put_mpint(&[1, 0, 1]);
            let mut n = alloc::vec![0xffu8; bits / 8];
            n[bits / 8 - 1] = 0xfb;
            rsa.put_mpint(&n);
            assert_eq!(
                ClientKey::from_blob(&rsa).unwrap_err(),
                KeyError::RsaSize,
                "{bits}"
            );
        }
        assert_eq!(
            ClientKey::from_blob(&[0, 0, 0]).unwrap_err(),
            KeyError::Invalid
        );
        assert_eq!(blob_type(&dsa), Some("ssh-dss"));
    }

    #[test]
    fn ed25519_signature_must_match_alg_and_data() {
        use ed25519_dalek::{Signer, SigningKey};
        let sk = SigningKey::from_bytes(&[4; 32]);
        let blob = crate::hostkey::ed25519_blob(&sk.verifying_key().to_bytes());
        let key = ClientKey::from_blob(&blob).unwrap();
        let mut sig = Vec::new();
        sig.put_string(b"ssh-ed25519");
        sig.put_string(&sk.sign(b"data").to_bytes());
        assert!(key.verify("ssh-ed25519", b"data", &sig));
        assert!(!key.verify("ssh-ed25519", b"Data", &sig));
        assert!(!key.verify("rsa-sha2-256", b"data", &sig));
        let mut cut = sig.clone();
        cut.truncate(sig.len() - 1);
        assert!(!key.verify("ssh-ed25519", b"data", &cut));
        assert!(!key.accepts("ssh-rsa"));
    }
}
