//! User authentication (RFC 4252), `publickey` only: a query without a
//! signature gets PK_OK only for an authorized key; a signature is checked
//! over the session identifier and the request (§7).

use alloc::string::String;
use alloc::vec::Vec;

use crate::auth::{offered_fingerprint, Policy};
use crate::msg;
use crate::wire::{Reader, Result, Writer};

/// Longest user name kept for the log (the full name is what is compared).
const MAX_USER_SHOWN: usize = 64;

#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// "none": the method list, not a refusal.
    Methods,
    /// Refused, with the reason and the offered key's fingerprint.
    Refused(&'static str, Option<String>),
    /// A query for an authorized key: PK_OK (this payload).
    PkOk(Vec<u8>),
    /// Logged in with the key of this fingerprint.
    Success(String),
}

/// One USERAUTH_REQUEST: the user name (cut for the log) and what to answer.
pub fn request(payload: &[u8], session_id: &[u8], policy: &Policy) -> Result<(String, Outcome)> {
    let mut r = Reader::new(payload);
    r.u8()?;
    let user = r.string()?;
    let service = r.string()?;
    let method = r.string()?;
    let shown: String = String::from_utf8_lossy(user)
        .chars()
        .take(MAX_USER_SHOWN)
        .collect();
    let outcome = match method {
        b"none" => Outcome::Methods,
        _ if service != b"ssh-connection" => Outcome::Refused("unknown service", None),
        b"publickey" => publickey(&mut r, user, session_id, policy)?,
        b"password" => Outcome::Refused("password authentication is disabled", None),
        _ => Outcome::Refused("method not accepted", None),
    };
    Ok((shown, outcome))
}

fn publickey(r: &mut Reader, user: &[u8], session_id: &[u8], policy: &Policy) -> Result<Outcome> {
    let signed = r.bool()?;
    let alg = r.text()?;
    let blob = r.string()?;
    let fp = Some(offered_fingerprint(blob));
    if alg == "ssh-rsa" {
        return Ok(Outcome::Refused(
            "ssh-rsa (SHA-1) signatures are not accepted",
            fp,
        ));
    }
    let Some(key) = policy.allows(user, blob) else {
        let why = if user != policy.user.as_bytes() {
            "unknown user"
        } else {
            "key not authorized"
        };
        return Ok(Outcome::Refused(why, fp));
    };
    if !key.key.accepts(alg) {
        return Ok(Outcome::Refused(
            "signature algorithm does not match the key",
            fp,
        ));
    }
    if !signed {
        let mut ok = alloc::vec![msg::USERAUTH_PK_OK];
        ok.put_string(alg.as_bytes());
        ok.put_string(blob);
        return Ok(Outcome::PkOk(ok));
    }
    let sig = r.string()?;
    r.end()?;
    if key
        .key
        .verify(alg, &signed_data(session_id, user, alg, blob), sig)
    {
        Ok(Outcome::Success(key.fingerprint.clone()))
    } else {
        Ok(Outcome::Refused("bad signature", fp))
    }
}

/// What the client signs (RFC 4252 §7).
pub fn signed_data(session_id: &[u8], user: &[u8], alg: &str, blob: &[u8]) -> Vec<u8> {
    let mut d = Vec::with_capacity(128 + blob.len());
    d.put_string(session_id);
    d.put_u8(msg::USERAUTH_REQUEST);
    d.put_string(user);
    d.put_string(b"ssh-connection");
    d.put_string(b"publickey");
    d.put_bool(true);
    d.put_string(alg.as_bytes());
    d.put_string(blob);
    d
}

/// USERAUTH_FAILURE: publickey is the only method that can continue.
pub fn failure() -> Vec<u8> {
    let mut m = alloc::vec![msg::USERAUTH_FAILURE];
    m.put_string(b"publickey");
    m.put_bool(false);
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{AuthorizedKey, Limits};
    use ed25519_dalek::{Signer, SigningKey};

    fn setup() -> (SigningKey, Vec<u8>, Policy) {
        let sk = SigningKey::from_bytes(&[11; 32]);
        let blob = crate::hostkey::ed25519_blob(&sk.verifying_key().to_bytes());
        let line = alloc::format!(
            "ssh-ed25519 {}",
            cloudinit::sshkey::base64_encode(&blob, true)
        );
        let k = AuthorizedKey::from_public(&cloudinit::sshkey::parse(&line).unwrap()).unwrap();
        let policy = Policy {
            user: "admin".into(),
            keys: alloc::vec![k],
            limits: Limits::default(),
        };
        (sk, blob, policy)
    }

    fn req(user: &[u8], method: &[u8], alg: &str, blob: &[u8], sig: Option<&[u8]>) -> Vec<u8> {
        let mut m = alloc::vec![msg::USERAUTH_REQUEST];
        m.put_string(user);
        m.put_string(b"ssh-connection");
        m.put_string(method);
        if method == b"publickey" {
            m.put_bool(sig.is_some());
            m.put_string(alg.as_bytes());
            m.put_string(blob);
            if let Some(s) = sig {
                m.put_string(s);
            }
        }
        m
    }

    fn sig_blob(sk: &SigningKey, data: &[u8]) -> Vec<u8> {
        let mut s = Vec::new();
        s.put_string(b"ssh-ed25519");
        s.put_string(&sk.sign(data).to_bytes());
        s
    }

    #[test]
    fn query_then_signature_logs_in() {
        let (sk, blob, p) = setup();
        let sid = [5u8; 32];
        let (_, o) = request(
            &req(b"admin", b"publickey", "ssh-ed25519", &blob, None),
            &sid,
            &p,
        )
        .unwrap();
        assert!(matches!(o, Outcome::PkOk(_)));
        let sig = sig_blob(&sk, &signed_data(&sid, b"admin", "ssh-ed25519", &blob));
        let (user, o) = request(
            &req(b"admin", b"publickey", "ssh-ed25519", &blob, Some(&sig)),
            &sid,
            &p,
        )
        .unwrap();
        assert_eq!(user, "admin");
        assert_eq!(o, Outcome::Success(p.keys[0].fingerprint.clone()));
        // the same signature under another session id is not a login
        let (_, o) = request(
            &req(b"admin", b"publickey", "ssh-ed25519", &blob, Some(&sig)),
            &[6; 32],
            &p,
        )
        .unwrap();
        assert!(matches!(o, Outcome::Refused("bad signature", Some(_))));
    }

    #[test]
    fn everything_else_is_refused() {
        let (sk, blob, p) = setup();
        let sid = [5u8; 32];
        let sig = sig_blob(&sk, &signed_data(&sid, b"root", "ssh-ed25519", &blob));
        let cases: [(Vec<u8>, &str); 5] = [
            (
                req(b"root", b"publickey", "ssh-ed25519", &blob, Some(&sig)),
                "unknown user",
            ),
            (
                req(b"admin", b"password", "", &[], None),
                "password authentication is disabled",
            ),
            (
                req(b"admin", b"keyboard-interactive", "", &[], None),
                "method not accepted",
            ),
            (
                req(b"admin", b"publickey", "ssh-rsa", &blob, None),
                "ssh-rsa (SHA-1) signatures are not accepted",
            ),
            (
                req(b"admin", b"publickey", "rsa-sha2-256", &blob, None),
                "signature algorithm does not match the key",
            ),
        ];
        for (m, want) in cases {
            match request(&m, &sid, &p).unwrap().1 {
                Outcome::Refused(why, _) => assert_eq!(why, want),
                other => panic!("{:?}", other),
            }
        }
        let mut other = blob.clone();
        other[40] ^= 1;
        assert!(matches!(
            request(
                &req(b"admin", b"publickey", "ssh-ed25519", &other, None),
                &sid,
                &p
            )
            .unwrap()
            .1,
            Outcome::Refused("key not authorized", Some(_))
        ));
        assert_eq!(
            request(&req(b"admin", b"none", "", &[], None), &sid, &p)
                .unwrap()
                .1,
            Outcome::Methods
        );
        // truncated requests are malformed, not a panic
        let full = req(b"admin", b"publickey", "ssh-ed25519", &blob, Some(&sig));
        for n in 0..full.len() {
            let _ = request(&full[..n], &sid, &p);
        }
    }
}
