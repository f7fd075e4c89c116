//! Hostile clients past the key exchange: the test client does a real
//! handshake (and, by the first byte, logs in and opens a session), then
//! sends the rest of the input as messages encrypted under the session's
//! keys (each a u16 length and a payload), so the fuzzer reaches user auth,
//! the channel, the shell, re-keys. The server may only close, never panic.
#![no_main]
use std::cell::RefCell;
use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use sshd::cipher::OFFERED;
use sshd::testclient::{policy_for, Client, Offer, SigningKey};
use sshd::{Connection, HostKey, Policy};

/// The handshake is the same for every input of a mode: done once per mode
/// and cloned (X25519 and Ed25519 under the sanitizer would cost 7 ms a run).
fn start(mode: u8, policy: &Policy, hk: &HostKey, key: &SigningKey) -> (Connection, Client) {
    let mut conn = Connection::new(0, [1; 32]);
    let mut cl = Client::start(&mut conn, [2; 32]);
    let offer = Offer {
        cipher: OFFERED[mode as usize % OFFERED.len()],
        strict: mode & 2 != 0,
        ext_info: true,
    };
    cl.handshake(&mut conn, policy, hk, offer);
    if mode & 4 != 0 {
        cl.login(&mut conn, policy, hk, b"admin", key);
        if mode & 8 != 0 {
            cl.open_session(&mut conn, policy, hk, 1 << 16, 1 << 15);
            let kind: &[u8] = if mode & 16 != 0 { b"shell" } else { b"pty-req" };
            cl.request(&mut conn, policy, hk, kind, true, &[]);
        }
    }
    cl.inbox.clear();
    (conn, cl)
}

struct Fixed {
    policy: Policy,
    hk: HostKey,
    key: SigningKey,
    /// Per mode: the connection and client right after the handshake.
    starts: RefCell<HashMap<u8, (Connection, Client)>>,
}

thread_local! {
    static FIXED: Fixed = {
        let key = SigningKey::from_bytes(&[21; 32]);
        Fixed {
            policy: policy_for(&key),
            hk: HostKey::from_seed(&[3; 32]),
            key,
            starts: RefCell::new(HashMap::new()),
        }
    };
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    FIXED.with(|f| run(f, mode, rest));
});

fn run(f: &Fixed, mode: u8, mut rest: &[u8]) {
    let (policy, hk) = (&f.policy, &f.hk);
    let (mut conn, mut cl) = f
        .starts
        .borrow_mut()
        .entry(mode & 0x1f)
        .or_insert_with(|| start(mode, policy, hk, &f.key))
        .clone();
    while rest.len() >= 2 && conn.closed().is_none() {
        let n = (u16::from_be_bytes([rest[0], rest[1]]) as usize).min(rest.len() - 2);
        let (m, tail) = rest[2..].split_at(n);
        rest = tail;
        cl.send(&mut conn, m);
        cl.pump(&mut conn, policy, hk);
        if conn.take_request().is_some() {
            conn.answer("ok", u32::from(mode >> 7));
        }
        let _ = conn.notes();
        let _ = conn.next_deadline(policy);
        cl.inbox.clear();
        cl.now += 400_000_000;
    }
}
