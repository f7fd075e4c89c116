//! The transport layer (RFC 4253): version exchange, binary packets, key
//! exchange and re-exchange with strict kex, EXT_INFO, the ssh-userauth
//! service, and the generic messages. Messages of the layers above
//! (numbers 50 and up) are handed to the caller once the service is on.
//!
//! A client-initiated key re-exchange after the first one is handled (the
//! same code): while it runs, the layers above may not send
//! (`can_send_app`), and a client message other than the exchange's is fatal.

use alloc::vec::Vec;

use subtle::ConstantTimeEq;
use x25519_dalek::{x25519, X25519_BASEPOINT_BYTES};

use crate::cipher::Cipher;
use crate::hostkey::HostKey;
use crate::kex::{self, HashInput, Negotiated};
use crate::msg::{self, reason};
use crate::packet::{FrameError, Receiver, Sender};
use crate::rng::Rng;
use crate::wire::{Malformed, Reader, Writer};

pub const VERSION: &str = concat!("SSH-2.0-appliance_", env!("CARGO_PKG_VERSION"));
/// RFC 4253 §4.2: at most 255 bytes with the CR LF.
const MAX_LINE: usize = 255;
/// Lines a client may send before its version line (RFC 4253 §4.2 allows
/// them from servers only; we tolerate a few).
const MAX_PRE_BANNER_LINES: usize = 16;
/// IGNORE/DEBUG packets a non-strict client may send during the first exchange.
const MAX_KEX_NOISE: u32 = 32;
/// Packets either way under one set of keys (RFC 4344 §3.1: re-key after
/// 2^31); a client that never re-keys is dropped before a sequence number,
/// and so a ChaCha20 nonce, could repeat.
pub const MAX_PACKETS_PER_KEY: u64 = 1 << 31;

#[cfg(feature = "ecdsa")]
const SERVER_SIG_ALGS: &[u8] = b"ssh-ed25519,ecdsa-sha2-nistp256,rsa-sha2-512,rsa-sha2-256";
#[cfg(not(feature = "ecdsa"))]
const SERVER_SIG_ALGS: &[u8] = b"ssh-ed25519,rsa-sha2-512,rsa-sha2-256";

/// The connection cannot go on. `code` is the DISCONNECT reason to send,
/// None when the client disconnected itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fatal {
    pub code: Option<u32>,
    pub reason: &'static str,
}

impl Fatal {
    pub fn new(code: u32, reason: &'static str) -> Fatal {
        Fatal {
            code: Some(code),
            reason,
        }
    }

    pub fn protocol(reason: &'static str) -> Fatal {
        Fatal::new(reason::PROTOCOL_ERROR, reason)
    }
}

impl From<Malformed> for Fatal {
    fn from(_: Malformed) -> Self {
        Fatal::protocol("malformed message")
    }
}

/// What one `step` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// No whole packet (or line) is buffered.
    Wait,
    /// A transport message was handled.
    Handled,
    /// A message for the layers above, with its sequence number (for UNIMPLEMENTED).
    Message(Vec<u8>, u32),
}

#[cfg_attr(any(test, feature = "test-client"), derive(Clone))]
enum Kex {
    /// Our KEXINIT is out; the client's is awaited.
    AwaitKexinit,
    AwaitEcdh {
        neg: Negotiated,
        client_kexinit: Vec<u8>,
    },
    /// Our NEWKEYS is out; the client's switches its direction to `recv`.
    AwaitNewkeys {
        recv: Cipher,
    },
    Done,
}

#[cfg_attr(any(test, feature = "test-client"), derive(Clone))]
pub struct Transport {
    rx: Receiver,
    tx: Sender,
    rng: Rng,
    out: Vec<u8>,
    client_version: Option<Vec<u8>>,
    pre_banner_lines: usize,
    kex: Kex,
    our_kexinit: Vec<u8>,
    session_id: Option<[u8; 32]>,
    first_kex_done: bool,
    strict: bool,
    ext_info: bool,
    skip_guess: bool,
    kex_noise: u32,
    service: bool,
    /// Packets sent and received since the keys last changed.
    packets_under_key: u64,
}

impl Transport {
    /// Our version line and KEXINIT are queued at once.
    pub fn new(seed: [u8; 32]) -> Transport {
        let mut rng = Rng::new(seed);
        let our_kexinit = kex::server_kexinit(rng.array());
        let mut t = Transport {
            rx: Receiver::default(),
            tx: Sender::default(),
            rng,
            out: Vec::new(),
            client_version: None,
            pre_banner_lines: 0,
            kex: Kex::AwaitKexinit,
            our_kexinit: Vec::new(),
            session_id: None,
            first_kex_done: false,
            strict: false,
            ext_info: false,
            skip_guess: false,
            kex_noise: 0,
            service: false,
            packets_under_key: 0,
        };
        t.out.extend_from_slice(VERSION.as_bytes());
        t.out.extend_from_slice(b"\r\n");
        t.send(&our_kexinit);
        t.our_kexinit = our_kexinit;
        t
    }

    pub fn push(&mut self, data: &[u8]) -> usize {
        self.rx.push(data)
    }

    pub fn output(&self) -> &[u8] {
        &self.out
    }

    pub fn consume(&mut self, n: usize) {
        self.out.drain(..n.min(self.out.len()));
    }

    pub fn session_id(&self) -> Option<&[u8; 32]> {
        self.session_id.as_ref()
    }

    /// Strict key exchange was negotiated.
    pub fn strict(&self) -> bool {
        self.strict
    }

    /// Whether the layers above may send now (no key exchange of ours is
    /// between its KEXINIT and its NEWKEYS).
    pub fn can_send_app(&self) -> bool {
        self.first_kex_done && matches!(self.kex, Kex::Done | Kex::AwaitNewkeys { .. })
    }

    pub fn send(&mut self, payload: &[u8]) {
        self.packets_under_key += 1;
        self.tx.seal(payload, &mut self.rng, &mut self.out);
    }

    /// Queue a DISCONNECT with this reason (the caller then closes).
    pub fn disconnect(&mut self, code: u32, description: &str) {
        let mut m = alloc::vec![msg::DISCONNECT];
        m.put_u32(code);
        m.put_string(description.as_bytes());
        m.put_string(b"");
        self.send(&m);
    }

    /// For tests: as if this many packets had passed under the current keys.
    #[cfg(any(test, feature = "test-client"))]
    pub fn set_packets_under_key(&mut self, n: u64) {
        self.packets_under_key = n;
    }

    pub fn unimplemented(&mut self, seq: u32) {
        let mut m = alloc::vec![msg::UNIMPLEMENTED];
        m.put_u32(seq);
        self.send(&m);
    }

    /// Handle at most one line or packet of the input.
    pub fn step(&mut self, hostkey: &HostKey) -> Result<Step, Fatal> {
        if self.client_version.is_none() {
            return self.version_line();
        }
        if self.packets_under_key >= MAX_PACKETS_PER_KEY {
            return Err(Fatal::protocol("too many packets without a re-key"));
        }
        let seq = self.rx.seq;
        let payload = match self.rx.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => return Ok(Step::Wait),
            Err(e @ FrameError::BadTag) => return Err(Fatal::new(reason::MAC_ERROR, e.reason())),
            Err(e) => return Err(Fatal::protocol(e.reason())),
        };
        self.packets_under_key += 1;
        let n = payload.first().copied().unwrap_or(0);
        if n == msg::DISCONNECT {
            return Err(Fatal {
                code: None,
                reason: "client disconnected",
            });
        }
        if !self.first_kex_done {
            return self.initial_kex(n, seq, &payload, hostkey);
        }
        match n {
            msg::IGNORE | msg::DEBUG | msg::UNIMPLEMENTED | msg::EXT_INFO => Ok(Step::Handled),
            msg::KEXINIT | msg::KEX_ECDH_INIT | msg::NEWKEYS => {
                self.kex_message(n, seq, &payload, hostkey)?;
                Ok(Step::Handled)
            }
            _ if !matches!(self.kex, Kex::Done) => {
                Err(Fatal::protocol("unexpected message during key re-exchange"))
            }
            msg::SERVICE_REQUEST => self.service_request(&payload),
            n if n >= msg::USERAUTH_REQUEST => {
                if self.service {
                    Ok(Step::Message(payload, seq))
                } else {
                    Err(Fatal::protocol("message before the ssh-userauth service"))
                }
            }
            _ => {
                self.unimplemented(seq);
                Ok(Step::Handled)
            }
        }
    }

    fn version_line(&mut self) -> Result<Step, Fatal> {
        let buf = self.rx.buffered();
        let Some(end) = buf.iter().position(|&b| b == b'\n') else {
            if buf.len() >= MAX_LINE {
                return Err(Fatal::protocol("version line too long"));
            }
            return Ok(Step::Wait);
        };
        if end >= MAX_LINE {
            return Err(Fatal::protocol("version line too long"));
        }
        let mut line: Vec<u8> = buf.drain(..=end).collect();
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if !line.starts_with(b"SSH-") {
            self.pre_banner_lines += 1;
            if self.pre_banner_lines > MAX_PRE_BANNER_LINES {
                return Err(Fatal::protocol("no version line"));
            }
            return Ok(Step::Handled);
        }
        if !(line.starts_with(b"SSH-2.0-") || line.starts_with(b"SSH-1.99-")) {
            return Err(Fatal::new(
                reason::PROTOCOL_VERSION_NOT_SUPPORTED,
                "protocol version not supported",
            ));
        }
        if line.iter().any(|&b| !(0x20..0x7f).contains(&b)) {
            return Err(Fatal::protocol("bad version line"));
        }
        self.client_version = Some(line);
        Ok(Step::Handled)
    }

    /// Until the client's first NEWKEYS only the exchange's messages are
    /// taken; in strict mode nothing else at all (the Terrapin fix), and the
    /// client's KEXINIT must have been its first packet.
    fn initial_kex(
        &mut self,
        n: u8,
        seq: u32,
        payload: &[u8],
        hk: &HostKey,
    ) -> Result<Step, Fatal> {
        match n {
            msg::KEXINIT | msg::KEX_ECDH_INIT | msg::NEWKEYS => {
                self.kex_message(n, seq, payload, hk)?;
                Ok(Step::Handled)
            }
            msg::IGNORE | msg::DEBUG | msg::UNIMPLEMENTED
                if !self.strict && self.kex_noise < MAX_KEX_NOISE =>
            {
                self.kex_noise += 1;
                Ok(Step::Handled)
            }
            _ if self.strict => Err(Fatal::protocol(
                "unexpected message during strict key exchange",
            )),
            _ => Err(Fatal::protocol("unexpected message during key exchange")),
        }
    }

    fn kex_message(&mut self, n: u8, seq: u32, payload: &[u8], hk: &HostKey) -> Result<(), Fatal> {
        match (n, core::mem::replace(&mut self.kex, Kex::Done)) {
            (msg::KEXINIT, Kex::Done) => {
                // The client re-keys: our KEXINIT answers it.
                let ours = kex::server_kexinit(self.rng.array());
                self.send(&ours);
                self.our_kexinit = ours;
                self.client_kexinit(seq, payload)
            }
            (msg::KEXINIT, Kex::AwaitKexinit) => self.client_kexinit(seq, payload),
            (
                msg::KEX_ECDH_INIT,
                Kex::AwaitEcdh {
                    neg,
                    client_kexinit,
                },
            ) => {
                if core::mem::take(&mut self.skip_guess) {
                    self.kex = Kex::AwaitEcdh {
                        neg,
                        client_kexinit,
                    };
                    return Ok(());
                }
                self.ecdh(payload, &neg, &client_kexinit, hk)
            }
            (msg::NEWKEYS, Kex::AwaitNewkeys { recv }) => {
                self.rx.cipher = recv;
                self.packets_under_key = 0;
                if self.strict {
                    self.rx.seq = 0;
                }
                self.first_kex_done = true;
                Ok(())
            }
            _ => Err(Fatal::protocol("unexpected key exchange message")),
        }
    }

    fn client_kexinit(&mut self, seq: u32, payload: &[u8]) -> Result<(), Fatal> {
        let neg = kex::negotiate(payload)
            .map_err(|e| Fatal::new(reason::KEY_EXCHANGE_FAILED, e.reason()))?;
        if !self.first_kex_done {
            self.strict = neg.strict;
            self.ext_info = neg.ext_info;
            if self.strict && seq != 0 {
                return Err(Fatal::protocol(
                    "strict key exchange: KEXINIT was not the first packet",
                ));
            }
        }
        self.skip_guess = neg.skip_guess;
        self.kex = Kex::AwaitEcdh {
            neg,
            client_kexinit: payload.to_vec(),
        };
        Ok(())
    }

    /// KEX_ECDH_INIT: our ephemeral key, the exchange hash signed by the
    /// host key, NEWKEYS, and the new keys for our direction.
    fn ecdh(
        &mut self,
        payload: &[u8],
        neg: &Negotiated,
        i_c: &[u8],
        hk: &HostKey,
    ) -> Result<(), Fatal> {
        let failed = |why| Fatal::new(reason::KEY_EXCHANGE_FAILED, why);
        let mut r = Reader::new(payload);
        r.u8()?;
        let q_c: [u8; 32] = r
            .string()?
            .try_into()
            .map_err(|_| failed("bad client ephemeral key"))?;
        r.end()?;
        let secret: [u8; 32] = self.rng.array();
        let q_s = x25519(secret, X25519_BASEPOINT_BYTES);
        let k = x25519(secret, q_c);
        // RFC 7748 §6.1: a low-order client point gives all zeros.
        if bool::from(k.ct_eq(&[0u8; 32])) {
            return Err(failed("client ephemeral key of low order"));
        }
        let k_s = hk.blob();
        let v_c = self.client_version.as_deref().unwrap_or_default();
        let h = kex::exchange_hash(&HashInput {
            v_c,
            v_s: VERSION.as_bytes(),
            i_c,
            i_s: &self.our_kexinit,
            k_s: &k_s,
            q_c: &q_c,
            q_s: &q_s,
            k: &k,
        });
        let sid = *self.session_id.get_or_insert(h);
        let mut reply = alloc::vec![msg::KEX_ECDH_REPLY];
        reply.put_string(&k_s);
        reply.put_string(&q_s);
        reply.put_string(&hk.sign(&h));
        self.send(&reply);
        self.send(&[msg::NEWKEYS]);
        self.tx.cipher = kex::direction_keys(neg.s2c, &k, &h, &sid, false);
        if self.strict {
            self.tx.seq = 0;
        }
        if !self.first_kex_done && self.ext_info {
            let mut m = alloc::vec![msg::EXT_INFO];
            m.put_u32(1);
            m.put_string(b"server-sig-algs");
            m.put_string(SERVER_SIG_ALGS);
            self.send(&m);
        }
        self.kex = Kex::AwaitNewkeys {
            recv: kex::direction_keys(neg.c2s, &k, &h, &sid, true),
        };
        Ok(())
    }

    fn service_request(&mut self, payload: &[u8]) -> Result<Step, Fatal> {
        let mut r = Reader::new(payload);
        r.u8()?;
        let name = r.string()?;
        if name != b"ssh-userauth" || self.service {
            return Err(Fatal::new(
                reason::SERVICE_NOT_AVAILABLE,
                "service not available",
            ));
        }
        self.service = true;
        let mut m = alloc::vec![msg::SERVICE_ACCEPT];
        m.put_string(name);
        self.send(&m);
        Ok(Step::Handled)
    }
}
