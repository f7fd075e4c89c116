//! Hostile SSH clients before any keys: whatever bytes arrive, in whatever
//! chunks and at whatever times, the server must not panic; it may only
//! close. The input starts with a valid banner half the time so the fuzzer
//! reaches the binary packet layer and the key exchange. The connection's
//! seed is fixed, so every crash reproduces.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sshd::testclient::{policy_for, SigningKey};
use sshd::{Connection, HostKey, Policy};

thread_local! {
    static FIXED: (Policy, HostKey) =
        (policy_for(&SigningKey::from_bytes(&[21; 32])), HostKey::from_seed(&[9u8; 32]));
}

fuzz_target!(|data: &[u8]| FIXED.with(|(policy, hk)| run(policy, hk, data)));

fn run(policy: &Policy, hk: &HostKey, data: &[u8]) {
    let (mode, data) = match data.split_first() {
        Some((m, rest)) => (*m, rest),
        None => return,
    };
    let mut input = Vec::new();
    if mode & 1 == 0 {
        input.extend_from_slice(b"SSH-2.0-fuzz\r\n");
    }
    input.extend_from_slice(data);
    let chunk = 1 + (mode as usize >> 1) % 64;
    let mut c = Connection::new(0, [7u8; 32]);
    let mut now = 0u64;
    let mut off = 0;
    for _ in 0..4096 {
        c.poll(policy, hk, now);
        let end = (off + chunk).min(input.len());
        off += c.input(&input[off..end], now);
        let n = c.output().len();
        c.consume(n);
        if let Some(_r) = c.take_request() {
            c.answer("ok", 0);
        }
        let _ = c.notes();
        let _ = c.next_deadline(policy);
        if c.closed().is_some() {
            break;
        }
        if off == input.len() {
            c.peer_closed();
        }
        now += 7_000_000;
    }
}
