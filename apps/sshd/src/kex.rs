//! Key exchange (RFC 4253 §7-8, RFC 8731): our KEXINIT, the negotiation
//! against the client's, the exchange hash and the key derivation.

use alloc::vec::Vec;

use sha2::{Digest, Sha256};

use crate::cipher::{self, Algorithm};
use crate::msg;
use crate::wire::{Malformed, Reader, Writer};

pub const CURVE25519: &str = "curve25519-sha256";
pub const CURVE25519_LIBSSH: &str = "curve25519-sha256@libssh.org";
/// Strict key exchange (OpenSSH's PROTOCOL, the Terrapin fix).
pub const STRICT_S: &str = "kex-strict-s-v00@openssh.com";
pub const STRICT_C: &str = "kex-strict-c-v00@openssh.com";
/// RFC 8308: the client takes an EXT_INFO.
pub const EXT_INFO_C: &str = "ext-info-c";
pub const EXT_INFO_S: &str = "ext-info-s";
pub const HOST_KEY: &str = "ssh-ed25519";
/// Never used (our ciphers are AEAD and carry their own tag), but offered so
/// that clients which insist on a common MAC name negotiate.
const MAC_FOR_COMPATIBILITY: &str = "hmac-sha2-256";

fn join(names: &[&str]) -> Vec<u8> {
    names.join(",").into_bytes()
}

/// Our KEXINIT payload with this cookie.
pub fn server_kexinit(cookie: [u8; 16]) -> Vec<u8> {
    let ciphers: Vec<&str> = cipher::OFFERED.iter().map(|a| a.name()).collect();
    let mut m = Vec::with_capacity(320);
    m.put_u8(msg::KEXINIT);
    m.extend_from_slice(&cookie);
    m.put_string(&join(&[
        CURVE25519,
        CURVE25519_LIBSSH,
        EXT_INFO_S,
        STRICT_S,
    ]));
    m.put_string(HOST_KEY.as_bytes());
    m.put_string(&join(&ciphers));
    m.put_string(&join(&ciphers));
    m.put_string(MAC_FOR_COMPATIBILITY.as_bytes());
    m.put_string(MAC_FOR_COMPATIBILITY.as_bytes());
    m.put_string(b"none");
    m.put_string(b"none");
    m.put_string(b"");
    m.put_string(b"");
    m.put_bool(false);
    m.put_u32(0);
    m
}

/// What the two KEXINITs agreed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Negotiated {
    pub c2s: Algorithm,
    pub s2c: Algorithm,
    /// The client offers strict key exchange.
    pub strict: bool,
    /// The client takes an EXT_INFO after the first NEWKEYS.
    pub ext_info: bool,
    /// The client sent a guessed first kex packet for other algorithms:
    /// it must be ignored (RFC 4253 §7).
    pub skip_guess: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KexError {
    Malformed,
    NoCommon(&'static str),
}

impl From<Malformed> for KexError {
    fn from(_: Malformed) -> Self {
        KexError::Malformed
    }
}

impl KexError {
    pub fn reason(self) -> &'static str {
        match self {
            KexError::Malformed => "malformed KEXINIT",
            KexError::NoCommon(what) => what,
        }
    }
}

fn names(list: &[u8]) -> impl Iterator<Item = &[u8]> {
    list.split(|&b| b == b',')
}

/// The client's first choice we also support (RFC 4253 §7.1).
fn choose<T>(client: &[u8], ours: impl Fn(&[u8]) -> Option<T>) -> Option<T> {
    names(client).find_map(ours)
}

/// Negotiate from the client's KEXINIT payload.
pub fn negotiate(client: &[u8]) -> Result<Negotiated, KexError> {
    let mut r = Reader::new(client);
    if r.u8()? != msg::KEXINIT {
        return Err(KexError::Malformed);
    }
    r.bytes(16)?;
    let kex = r.string()?;
    let host = r.string()?;
    let (c2s, s2c) = (r.string()?, r.string()?);
    let _macs = (r.string()?, r.string()?);
    let (comp_c2s, comp_s2c) = (r.string()?, r.string()?);
    let _languages = (r.string()?, r.string()?);
    let guess_follows = r.bool()?;
    r.u32()?;
    r.end()?;

    let is = |want: &'static str| move |n: &[u8]| (n == want.as_bytes()).then_some(want);
    let kex_name = choose(kex, |n| {
        is(CURVE25519)(n).or_else(|| is(CURVE25519_LIBSSH)(n))
    })
    .ok_or(KexError::NoCommon("no common key exchange method"))?;
    choose(host, is(HOST_KEY)).ok_or(KexError::NoCommon("no common host key type"))?;
    let cipher_of = |n: &[u8]| core::str::from_utf8(n).ok().and_then(Algorithm::from_name);
    let c2s = choose(c2s, cipher_of).ok_or(KexError::NoCommon("no common cipher"))?;
    let s2c = choose(s2c, cipher_of).ok_or(KexError::NoCommon("no common cipher"))?;
    for comp in [comp_c2s, comp_s2c] {
        choose(comp, is("none")).ok_or(KexError::NoCommon("no common compression"))?;
    }
    let has = |want: &str| names(kex).any(|n| n == want.as_bytes());
    let first = |list: &[u8]| names(list).next().map(<[u8]>::to_vec);
    let guessed_right = first(kex).as_deref() == Some(kex_name.as_bytes())
        && first(host).as_deref() == Some(HOST_KEY.as_bytes());
    Ok(Negotiated {
        c2s,
        s2c,
        strict: has(STRICT_C),
        ext_info: has(EXT_INFO_C),
        skip_guess: guess_follows && !guessed_right,
    })
}

/// The inputs of the exchange hash H (RFC 8731 §3.1, RFC 5656 §4).
pub struct HashInput<'a> {
    pub v_c: &'a [u8],
    pub v_s: &'a [u8],
    pub i_c: &'a [u8],
    pub i_s: &'a [u8],
    pub k_s: &'a [u8],
    pub q_c: &'a [u8],
    pub q_s: &'a [u8],
    /// The X25519 shared secret, read as a big-endian integer.
    pub k: &'a [u8; 32],
}

pub fn exchange_hash(h: &HashInput) -> [u8; 32] {
    let mut m = Vec::with_capacity(1024);
    for s in [h.v_c, h.v_s, h.i_c, h.i_s, h.k_s, h.q_c, h.q_s] {
        m.put_string(s);
    }
    m.put_mpint(h.k);
    Sha256::digest(&m).into()
}

/// RFC 4253 §7.2: HASH(K || H || letter || session_id), extended with
/// HASH(K || H || K1 || ...) to `len` bytes.
pub fn derive(k: &[u8; 32], h: &[u8; 32], letter: u8, session_id: &[u8], len: usize) -> Vec<u8> {
    let mut k_mpint = Vec::with_capacity(37);
    k_mpint.put_mpint(k);
    let mut out: Vec<u8> = Sha256::new()
        .chain_update(&k_mpint)
        .chain_update(h)
        .chain_update([letter])
        .chain_update(session_id)
        .finalize()
        .to_vec();
    while out.len() < len {
        let more = Sha256::new()
            .chain_update(&k_mpint)
            .chain_update(h)
            .chain_update(&out)
            .finalize();
        out.extend_from_slice(&more);
    }
    out.truncate(len);
    out
}

/// Keys for one direction: letters A/C (client to server) or B/D.
pub fn direction_keys(
    alg: Algorithm,
    k: &[u8; 32],
    h: &[u8; 32],
    session_id: &[u8],
    c2s: bool,
) -> cipher::Cipher {
    let (iv_letter, key_letter) = if c2s { (b'A', b'C') } else { (b'B', b'D') };
    let iv = derive(k, h, iv_letter, session_id, alg.iv_len());
    let key = derive(k, h, key_letter, session_id, alg.key_len());
    cipher::Cipher::new(alg, &key, &iv)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client_kexinit(kex: &str, host: &str, ciphers: &str, comp: &str, guess: bool) -> Vec<u8> {
        let mut m = alloc::vec![msg::KEXINIT];
        m.extend_from_slice(&[0; 16]);
        for s in [
            kex,
            host,
            ciphers,
            ciphers,
            "hmac-sha2-256",
            "umac-64@openssh.com",
            comp,
            comp,
            "",
            "",
        ] {
            m.put_string(s.as_bytes());
        }
        m.put_bool(guess);
        m.put_u32(0);
        m
    }

    /// OpenSSH 9.x's client KEXINIT lists (kex, host keys, ciphers).
    const OPENSSH_KEX: &str = "sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,diffie-hellman-group14-sha256,ext-info-c,kex-strict-c-v00@openssh.com";
    const OPENSSH_HOST: &str =
        "ssh-ed25519-cert-v01@openssh.com,ecdsa-sha2-nistp256,ssh-ed25519,rsa-sha2-512";
    const OPENSSH_CIPHERS: &str = "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com";

    #[test]
    fn negotiates_with_openssh_defaults() {
        let n = negotiate(&client_kexinit(
            OPENSSH_KEX,
            OPENSSH_HOST,
            OPENSSH_CIPHERS,
            "none,zlib@openssh.com",
            false,
        ))
        .unwrap();
        assert_eq!(n.c2s, Algorithm::ChaChaPoly);
        assert_eq!(n.s2c, Algorithm::ChaChaPoly);
        assert!(n.strict && n.ext_info && !n.skip_guess);
        // an older client: no strict kex, no ext-info, only one of our ciphers
        #[cfg(feature = "aes-gcm")]
        {
            let n = negotiate(&client_kexinit(
                "curve25519-sha256@libssh.org",
                "ssh-ed25519",
                "aes128-ctr,aes256-gcm@openssh.com",
                "none",
                false,
            ))
            .unwrap();
            assert_eq!(n.c2s, Algorithm::AesGcm);
            assert!(!n.strict && !n.ext_info);
        }
    }

    #[test]
    fn refuses_what_we_do_not_share() {
        let cases = [
            (
                client_kexinit(
                    "diffie-hellman-group14-sha1,kex-strict-c-v00@openssh.com",
                    "ssh-ed25519",
                    OPENSSH_CIPHERS,
                    "none",
                    false,
                ),
                "no common key exchange method",
            ),
            (
                client_kexinit(
                    OPENSSH_KEX,
                    "ssh-rsa,rsa-sha2-256",
                    OPENSSH_CIPHERS,
                    "none",
                    false,
                ),
                "no common host key type",
            ),
            (
                client_kexinit(
                    OPENSSH_KEX,
                    OPENSSH_HOST,
                    "aes128-ctr,3des-cbc",
                    "none",
                    false,
                ),
                "no common cipher",
            ),
            (
                client_kexinit(OPENSSH_KEX, OPENSSH_HOST, OPENSSH_CIPHERS, "zlib", false),
                "no common compression",
            ),
            // the pseudo-algorithms are never a key exchange method
            (
                client_kexinit(
                    "ext-info-c,kex-strict-s-v00@openssh.com,ext-info-s",
                    OPENSSH_HOST,
                    OPENSSH_CIPHERS,
                    "none",
                    false,
                ),
                "no common key exchange method",
            ),
        ];
        for (m, reason) in cases {
            assert_eq!(negotiate(&m), Err(KexError::NoCommon(reason)));
        }
        let mut m = client_kexinit(OPENSSH_KEX, OPENSSH_HOST, OPENSSH_CIPHERS, "none", false);
        m.push(0);
        assert_eq!(negotiate(&m), Err(KexError::Malformed));
        m.truncate(40);
        assert_eq!(negotiate(&m), Err(KexError::Malformed));
    }

    #[test]
    fn a_wrong_guess_is_skipped_a_right_one_is_not() {
        let wrong = client_kexinit(OPENSSH_KEX, OPENSSH_HOST, OPENSSH_CIPHERS, "none", true);
        assert!(negotiate(&wrong).unwrap().skip_guess);
        let right = client_kexinit(
            "curve25519-sha256",
            "ssh-ed25519",
            OPENSSH_CIPHERS,
            "none",
            true,
        );
        assert!(!negotiate(&right).unwrap().skip_guess);
    }

    #[test]
    fn our_kexinit_offers_strict_kex_and_parses_back() {
        let ours = server_kexinit([9; 16]);
        let mut r = Reader::new(&ours);
        assert_eq!(r.u8(), Ok(msg::KEXINIT));
        assert_eq!(r.bytes(16), Ok(&[9u8; 16][..]));
        let kex = r.text().unwrap();
        assert!(kex.split(',').any(|n| n == STRICT_S), "{}", kex);
        assert!(kex.split(',').any(|n| n == EXT_INFO_S), "{}", kex);
        assert_eq!(r.text(), Ok("ssh-ed25519"));
    }

    /// Known answers computed independently (Python's hashlib over the
    /// RFC 4251 encodings, `tests/kex_vectors.py`) from RFC 7748 §6.1's
    /// X25519 keys: Alice's public key as Q_C, Bob's as Q_S, their shared
    /// secret as K (its top bit is clear, so the mpint has no zero byte).
    #[test]
    fn exchange_hash_and_derivation_known_answers() {
        let hex = |s: &str| -> Vec<u8> {
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
                .collect()
        };
        let q_c = hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
        let q_s = hex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
        let k: [u8; 32] = hex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")
            .try_into()
            .unwrap();
        // the same secret with the top bit set exercises the mpint's leading zero
        let mut k_high = k;
        k_high[0] = 0xca;
        let hash = |k: &[u8; 32]| {
            exchange_hash(&HashInput {
                v_c: b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u6",
                v_s: b"SSH-2.0-appliance",
                i_c: b"\x14client-kexinit",
                i_s: b"\x14server-kexinit",
                k_s: b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                q_c: &q_c,
                q_s: &q_s,
                k,
            })
        };
        let h = hash(&k);
        assert_eq!(h.to_vec(), hex(KAT_H));
        let h_high = hash(&k_high);
        assert_eq!(h_high.to_vec(), hex(KAT_H_HIGH));
        // 64 bytes: two hash blocks, the second from K || H || K1
        assert_eq!(derive(&k, &h, b'C', &h, 64), hex(KAT_KEY_C));
        assert_eq!(derive(&k, &h, b'A', &h, 12), hex(KAT_IV_A));
    }

    const KAT_H: &str = "f2d0c6447ee855e0be34ea0840e6a7abe4bc64af15e916f7ddd0f15ce7e5294a";
    const KAT_H_HIGH: &str = "b4190cdf2646507af925a52b03b706441d7c26cae502ab70dd005f41de429f53";
    const KAT_KEY_C: &str = "d6574d2de63f0962b80268a785dc542b561d5df417210e72f1ece28ec40a136d7a5329cb46ce102d3e28fce0802bfe3406c86e3845c424a7e20bd6c5df9077df";
    const KAT_IV_A: &str = "2b8d8738a03d1b3b7da8a8c2";
}
