//! A minimal SSH client for tests and fuzzing, built from the same parts:
//! it runs the key exchange against a `Connection` in memory (checking the
//! host key's signature over the exchange hash), then sends any message
//! encrypted, so hostile input can reach every state past the handshake.

use alloc::vec::Vec;

use ed25519_dalek::Signer;
pub use ed25519_dalek::SigningKey;
use x25519_dalek::{x25519, X25519_BASEPOINT_BYTES};

use crate::auth::{AuthorizedKey, Limits, Policy};
use crate::cipher::Algorithm;
use crate::conn::Connection;
use crate::hostkey::{ed25519_blob, HostKey};
use crate::kex::{self, HashInput};
use crate::msg;
use crate::packet::{Receiver, Sender};
use crate::pubkey::ClientKey;
use crate::rng::Rng;
use crate::userauth::signed_data;
use crate::wire::{Reader, Writer};

pub const VERSION: &[u8] = b"SSH-2.0-testclient";

/// The policy that lets user `admin` in with `key`.
pub fn policy_for(key: &SigningKey) -> Policy {
    let blob = ed25519_blob(&key.verifying_key().to_bytes());
    let line = alloc::format!(
        "ssh-ed25519 {}",
        cloudinit::sshkey::base64_encode(&blob, true)
    );
    let parsed = cloudinit::sshkey::parse(&line).expect("our own key line");
    Policy {
        user: "admin".into(),
        keys: alloc::vec![AuthorizedKey::from_public(&parsed).expect("an ed25519 key")],
        limits: Limits::default(),
    }
}

/// How the client's KEXINIT reads.
#[derive(Clone, Copy)]
pub struct Offer {
    pub cipher: Algorithm,
    pub strict: bool,
    pub ext_info: bool,
}

impl Default for Offer {
    fn default() -> Self {
        Offer {
            cipher: Algorithm::ChaChaPoly,
            strict: true,
            ext_info: true,
        }
    }
}

#[derive(Clone)]
pub struct Client {
    rx: Receiver,
    tx: Sender,
    rng: Rng,
    pub session_id: [u8; 32],
    pub now: u64,
    /// Messages received and not yet looked at.
    pub inbox: Vec<Vec<u8>>,
    server_version: Vec<u8>,
    /// A NEWKEYS came in: nothing after it is decrypted until the keys change.
    hold: bool,
    /// Bytes from the server not yet in the (bounded) receiver.
    wire_in: Vec<u8>,
}

pub fn kexinit(offer: Offer, cookie: [u8; 16]) -> Vec<u8> {
    let mut kex_names = alloc::string::String::from("curve25519-sha256");
    if offer.ext_info {
        kex_names.push_str(",ext-info-c");
    }
    if offer.strict {
        kex_names.push_str(",kex-strict-c-v00@openssh.com");
    }
    let mut m = alloc::vec![msg::KEXINIT];
    m.extend_from_slice(&cookie);
    let c = offer.cipher.name().as_bytes();
    for s in [
        kex_names.as_bytes(),
        b"ssh-ed25519",
        c,
        c,
        b"hmac-sha2-256",
        b"hmac-sha2-256",
        b"none",
        b"none",
        b"",
        b"",
    ] {
        m.put_string(s);
    }
    m.put_bool(false);
    m.put_u32(0);
    m
}

impl Client {
    /// A client that has sent its version line only.
    pub fn start(conn: &mut Connection, seed: [u8; 32]) -> Client {
        let mut c = Client {
            rx: Receiver::default(),
            tx: Sender::default(),
            rng: Rng::new(seed),
            session_id: [0; 32],
            now: 0,
            inbox: Vec::new(),
            server_version: Vec::new(),
            hold: false,
            wire_in: Vec::new(),
        };
        let mut line = VERSION.to_vec();
        line.extend_from_slice(b"\r\n");
        c.deliver(conn, &line);
        c
    }

    /// Hand bytes to the server (as much as it takes in a bounded number of rounds).
    pub fn deliver(&mut self, conn: &mut Connection, bytes: &[u8]) {
        let mut off = 0;
        for _ in 0..64 {
            if off == bytes.len() || conn.closed().is_some() {
                break;
            }
            off += conn.input(&bytes[off..], self.now);
            self.now += 1_000;
        }
    }

    pub fn send(&mut self, conn: &mut Connection, payload: &[u8]) {
        let wire = self.seal(payload);
        self.deliver(conn, &wire);
    }

    /// One packet as it would go on the wire (for tampering with).
    pub fn seal(&mut self, payload: &[u8]) -> Vec<u8> {
        let mut wire = Vec::new();
        self.tx.seal(payload, &mut self.rng, &mut wire);
        wire
    }

    /// Let the server run and collect what it sent (decrypting what we can).
    pub fn pump(&mut self, conn: &mut Connection, policy: &Policy, hk: &HostKey) {
        conn.poll(policy, hk, self.now);
        let out = conn.output().to_vec();
        conn.consume(out.len());
        let mut data = &out[..];
        if self.server_version.is_empty() {
            if let Some(end) = data.windows(2).position(|w| w == b"\r\n") {
                self.server_version = data[..end].to_vec();
                data = &data[end + 2..];
            }
        }
        self.wire_in.extend_from_slice(data);
        self.decode();
    }

    fn decode(&mut self) {
        while !self.hold {
            let n = self.rx.push(&self.wire_in);
            self.wire_in.drain(..n);
            match self.rx.next_packet() {
                Ok(Some(p)) => {
                    self.hold = p.first() == Some(&msg::NEWKEYS);
                    self.inbox.push(p);
                }
                _ => break,
            }
        }
    }

    /// Take the first message of this number from the inbox.
    pub fn take(&mut self, n: u8) -> Option<Vec<u8>> {
        let i = self.inbox.iter().position(|m| m.first() == Some(&n))?;
        Some(self.inbox.remove(i))
    }

    /// Our KEXINIT, the ECDH exchange, NEWKEYS both ways. Panics (it is a
    /// test) if the server's answers are wrong.
    pub fn handshake(
        &mut self,
        conn: &mut Connection,
        policy: &Policy,
        hk: &HostKey,
        offer: Offer,
    ) {
        let ours = kexinit(offer, self.rng.array());
        self.send(conn, &ours);
        self.pump(conn, policy, hk);
        let theirs = self.take(msg::KEXINIT).expect("server KEXINIT");
        self.exchange(conn, policy, hk, offer, &ours, &theirs);
        if offer.ext_info {
            assert!(self.take(msg::EXT_INFO).is_some(), "EXT_INFO after NEWKEYS");
        }
    }

    /// The ECDH part of a key exchange whose KEXINITs are done.
    pub fn exchange(
        &mut self,
        conn: &mut Connection,
        policy: &Policy,
        hk: &HostKey,
        offer: Offer,
        i_c: &[u8],
        i_s: &[u8],
    ) {
        let secret: [u8; 32] = self.rng.array();
        let q_c = x25519(secret, X25519_BASEPOINT_BYTES);
        let mut init = alloc::vec![msg::KEX_ECDH_INIT];
        init.put_string(&q_c);
        self.send(conn, &init);
        self.pump(conn, policy, hk);
        let reply = self.take(msg::KEX_ECDH_REPLY).expect("KEX_ECDH_REPLY");
        let mut r = Reader::new(&reply);
        r.u8().unwrap();
        let k_s = r.string().unwrap();
        let q_s: [u8; 32] = r.string().unwrap().try_into().unwrap();
        let sig = r.string().unwrap();
        let k = x25519(secret, q_s);
        let h = kex::exchange_hash(&HashInput {
            v_c: VERSION,
            v_s: &self.server_version,
            i_c,
            i_s,
            k_s,
            q_c: &q_c,
            q_s: &q_s,
            k: &k,
        });
        let host = ClientKey::from_blob(k_s).unwrap();
        assert!(
            host.verify("ssh-ed25519", &h, sig),
            "host key signature over H"
        );
        if self.session_id == [0; 32] {
            self.session_id = h;
        }
        let sid = self.session_id;
        assert_eq!(self.inbox.first().map(|m| m[0]), Some(msg::NEWKEYS));
        self.inbox.remove(0);
        self.hold = false;
        self.rx.cipher = kex::direction_keys(offer.cipher, &k, &h, &sid, false);
        if offer.strict {
            self.rx.seq = 0;
        }
        self.send(conn, &[msg::NEWKEYS]);
        self.tx.cipher = kex::direction_keys(offer.cipher, &k, &h, &sid, true);
        if offer.strict {
            self.tx.seq = 0;
        }
        self.decode();
        self.pump(conn, policy, hk);
    }

    /// The ssh-userauth service and a signed publickey request.
    pub fn login(
        &mut self,
        conn: &mut Connection,
        policy: &Policy,
        hk: &HostKey,
        user: &[u8],
        key: &SigningKey,
    ) {
        let mut svc = alloc::vec![msg::SERVICE_REQUEST];
        svc.put_string(b"ssh-userauth");
        self.send(conn, &svc);
        let blob = ed25519_blob(&key.verifying_key().to_bytes());
        let mut sig = Vec::new();
        sig.put_string(b"ssh-ed25519");
        sig.put_string(
            &key.sign(&signed_data(&self.session_id, user, "ssh-ed25519", &blob))
                .to_bytes(),
        );
        let mut m = alloc::vec![msg::USERAUTH_REQUEST];
        m.put_string(user);
        m.put_string(b"ssh-connection");
        m.put_string(b"publickey");
        m.put_bool(true);
        m.put_string(b"ssh-ed25519");
        m.put_string(&blob);
        m.put_string(&sig);
        self.send(conn, &m);
        self.pump(conn, policy, hk);
    }

    /// CHANNEL_OPEN "session" with this window and packet size.
    pub fn open_session(
        &mut self,
        conn: &mut Connection,
        policy: &Policy,
        hk: &HostKey,
        window: u32,
        max_packet: u32,
    ) {
        let mut m = alloc::vec![msg::CHANNEL_OPEN];
        m.put_string(b"session");
        m.put_u32(5);
        m.put_u32(window);
        m.put_u32(max_packet);
        self.send(conn, &m);
        self.pump(conn, policy, hk);
    }

    /// A channel request on the server's channel 0.
    pub fn request(
        &mut self,
        conn: &mut Connection,
        policy: &Policy,
        hk: &HostKey,
        kind: &[u8],
        want_reply: bool,
        args: &[u8],
    ) {
        let mut m = alloc::vec![msg::CHANNEL_REQUEST];
        m.put_u32(0);
        m.put_string(kind);
        m.put_bool(want_reply);
        m.extend_from_slice(args);
        self.send(conn, &m);
        self.pump(conn, policy, hk);
    }
}
