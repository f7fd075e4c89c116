//! Hostile SSH clients: whatever bytes arrive, in whatever chunks and at
//! whatever times, the server must not panic; it may only close. The input
//! starts with a valid banner half the time so the fuzzer reaches the
//! binary packet layer.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sshd::auth::Limits;
use sshd::{AuthorizedKey, Connection, HostKey, Policy};

fuzz_target!(|data: &[u8]| {
    let key = cloudinit::sshkey::parse(
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIuTkfykaGa4H5ynwI4vUgvhlIAO//FjjkVKNpv5QlEo k",
    )
    .unwrap();
    let policy = Policy {
        user: "admin".into(),
        keys: vec![AuthorizedKey::from_public(&key).unwrap()],
        limits: Limits::default(),
    };
    let hk = HostKey::from_seed(&[9u8; 32]);
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
    let mut c = Connection::new(0);
    let mut now = 0u64;
    let mut off = 0;
    for _ in 0..4096 {
        c.poll(&policy, &hk, now);
        let end = (off + chunk).min(input.len());
        off += c.input(&input[off..end], now);
        let n = c.output().len();
        c.consume(n);
        if let Some(_r) = c.take_request() {
            c.answer("ok");
        }
        let _ = c.notes();
        if c.closed().is_some() || (off == input.len() && !c.output().is_empty()) {
            break;
        }
        if off == input.len() {
            c.peer_closed();
        }
        now += 7_000_000;
    }
});
