//! The SSH service: the sans-IO server (`apps/sshd`) on smoltcp sockets, a
//! fixed number of slots, each a listening socket or one connection. No
//! peer can keep a slot: a socket that is neither listening nor carrying a
//! connection within SSH_HANDSHAKE_TIMEOUT_NS (a spoofed SYN, a FIN at once)
//! is reset and listens again; the server itself ends connections that do
//! not authenticate within the login grace. With every slot busy, smoltcp
//! answers a new SYN with a reset at once.

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use cloudinit::fetch::{self, Fetch};
use cloudinit::source::Metadata;
use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp;
use sshd::auth::{AuthorizedKey, Limits, Policy};
use sshd::{Connection, HostKey, Note, Request};

use crate::http::HttpConn;
use crate::intervals::{
    OVERLOAD_REPORT_NS, POWER_GRACE_NS, SSH_CLOSE_TIMEOUT_NS, SSH_CLOSING_POLL_NS,
    SSH_HANDSHAKE_TIMEOUT_NS, SSH_RETRY_NS,
};
use crate::net::{Net, Nic};
use crate::platform::Power;
use crate::report::quoted;
use crate::services::status;
use crate::wake::Wake;
use crate::{Cx, Platform};

pub const MAX_SESSIONS: usize = 4;
const RX_BUF: usize = 8192;
const TX_BUF: usize = 16384;

/// What the commands report about the rest of the appliance.
pub struct Facts<'a> {
    pub boot_ns: u64,
    pub metadata: &'a Metadata,
    pub cloudinit: &'a crate::services::cloudinit::CloudInit,
}

struct Slot {
    handle: SocketHandle,
    conn: Option<Connection>,
    peer: String,
    /// When the socket left the listening state without a connection.
    handshake_since: Option<u64>,
    closing_since: Option<u64>,
}

/// A `metadata PATH` command in flight (one at a time).
struct MetaFetch {
    slot: usize,
    fetch: Fetch,
    conn: Option<HttpConn>,
}

pub struct Ssh {
    policy: Policy,
    hostkey: HostKey,
    port: u16,
    /// The network our sockets belong to.
    generation: Option<u32>,
    slots: Vec<Slot>,
    fetch: Option<MetaFetch>,
    power: Option<(Power, u64)>,
    logins: u64,
    low_memory_refusals: u64,
    /// When the next low-memory line may be said.
    low_memory_said: u64,
}

/// Below this much free heap a new connection is refused.
const MIN_FREE_HEAP_KIB: u64 = 192;

fn listen_socket<N: Nic>(net: &mut Net<N>, port: u16) -> SocketHandle {
    let mut s = tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; RX_BUF]),
        tcp::SocketBuffer::new(vec![0; TX_BUF]),
    );
    // SSH is request-response in small packets (as OpenSSH, TCP_NODELAY):
    // with Nagle each one after the first waits for the client's delayed
    // ACK (up to 40 ms on Linux), several times per login
    s.set_nagle_enabled(false);
    let _ = s.listen(port);
    net.sockets.add(s)
}

impl Ssh {
    /// The host key from the hardware RNG, the policy from the fetched
    /// key(s). None (with the reason printed) when SSH cannot run.
    pub fn start<P: Platform>(
        cx: &mut Cx<'_, P>,
        md: &Metadata,
        port: u16,
        user: &str,
    ) -> Option<Ssh> {
        let mut keys: Vec<AuthorizedKey> = Vec::new();
        for k in &md.keys {
            match AuthorizedKey::from_public(&k.key) {
                Ok(a) => keys.push(a),
                Err(kind) => cx.say(&format!(
                    "ssh: skipped key={} type={} origin={} reason=\"this key type cannot log in here\"",
                    k.key.fingerprint(),
                    quoted(&kind),
                    quoted(&k.origin)
                )),
            }
        }
        if keys.is_empty() {
            cx.say("ssh: error reason=\"no key from the metadata can log in: no SSH\"");
            return None;
        }
        let mut seed = [0u8; 32];
        let Some(rng) = cx.random(&mut seed) else {
            cx.say("ssh: error reason=\"no healthy hardware random number generator (RDSEED/RDRAND): no host key, no SSH\"");
            return None;
        };
        let hostkey = HostKey::from_seed(&seed);
        let fp = hostkey.fingerprint();
        let public = hostkey.public_line("root@appliance");
        cx.say("-----BEGIN SSH HOST KEY FINGERPRINTS-----");
        cx.say(&format!("256 {} root@appliance (ED25519)", fp));
        cx.say("-----END SSH HOST KEY FINGERPRINTS-----");
        cx.say("-----BEGIN SSH HOST KEY KEYS-----");
        cx.say(&public);
        cx.say("-----END SSH HOST KEY KEYS-----");
        cx.report_all(&[
            ("data/ssh/host-key", &public),
            ("data/ssh/host-key-fingerprint", &fp),
            ("data/ssh/port", &format!("{}", port)),
        ]);
        cx.say(&format!(
            "ssh: listening port={} user={} keys={} sessions={} rng={} host-key={}",
            port,
            user,
            keys.len(),
            MAX_SESSIONS,
            rng,
            fp
        ));
        Some(Ssh {
            policy: Policy {
                user: user.into(),
                keys,
                limits: Limits::default(),
            },
            hostkey,
            port,
            generation: None,
            slots: Vec::new(),
            fetch: None,
            power: None,
            logins: 0,
            low_memory_refusals: 0,
            low_memory_said: 0,
        })
    }

    /// Listen on this network (at start, and again when the network was
    /// replaced: every socket belonged to the old one).
    fn attach<N: Nic, P: Platform>(&mut self, net: &mut Net<N>, cx: &mut Cx<'_, P>) {
        if self.generation == Some(net.generation) {
            return;
        }
        if self.generation.is_some() {
            for s in &self.slots {
                if let Some(conn) = &s.conn {
                    cx.say(&format!(
                        "ssh: closed from={} reason=\"network went down\" ms={}",
                        s.peer,
                        conn.elapsed_ms(cx.host.now_ns())
                    ));
                }
            }
        }
        self.generation = Some(net.generation);
        self.fetch = None;
        let port = self.port;
        self.slots = (0..MAX_SESSIONS)
            .map(|_| Slot {
                handle: listen_socket(net, port),
                conn: None,
                peer: String::new(),
                handshake_since: None,
                closing_since: None,
            })
            .collect();
    }

    pub fn poll<N: Nic, P: Platform>(
        &mut self,
        net: &mut Net<N>,
        cx: &mut Cx<'_, P>,
        facts: &Facts,
        now: u64,
    ) -> Wake {
        self.attach(net, cx);
        let mut wake = Wake::IDLE;
        for i in 0..self.slots.len() {
            wake.merge(self.poll_slot(i, net, cx, facts, now));
        }
        // After the slots: a fetch a session just asked for starts now, and
        // an answer it produced goes out on the slots' next turn, right away.
        if self.poll_fetch(net, now) {
            wake.also_at(Some(now));
            wake = wake.progressed();
        }
        if let Some(c) = self.fetch.as_ref().and_then(|f| f.conn.as_ref()) {
            wake.also_at(c.deadline());
        }
        if let Some((action, at)) = self.power {
            let flushed = self.slots.iter().all(|s| s.conn.is_none());
            if flushed || now >= at {
                cx.power(action, "ssh command");
            }
            wake.also_at(Some(at));
        }
        wake
    }

    fn poll_slot<N: Nic, P: Platform>(
        &mut self,
        i: usize,
        net: &mut Net<N>,
        cx: &mut Cx<'_, P>,
        facts: &Facts,
        now: u64,
    ) -> Wake {
        let handle = self.slots[i].handle;
        let port = self.port;
        let sock = net.sockets.get_mut::<tcp::Socket>(handle);
        let slot = &mut self.slots[i];

        // A socket whose connection ended: once it is closed (or stuck
        // closing), listen again.
        if let Some(since) = slot.closing_since {
            // FinWait2: the peer has every byte we sent; we read nothing
            // more, so its own FIN is not worth a slot
            if matches!(
                sock.state(),
                tcp::State::Closed | tcp::State::TimeWait | tcp::State::FinWait2
            ) || now.saturating_sub(since) > SSH_CLOSE_TIMEOUT_NS
            {
                sock.abort();
                let _ = sock.listen(port);
                slot.closing_since = None;
                return Wake::IDLE.progressed();
            }
            return Wake::at(now.saturating_add(SSH_CLOSING_POLL_NS));
        }
        if slot.conn.is_none() {
            match sock.state() {
                // a connection, even one whose peer already sent its FIN
                tcp::State::Established | tcp::State::CloseWait
                    if cx.host.memory().heap_free_kib < MIN_FREE_HEAP_KIB =>
                {
                    // a session needs ~100 KiB: refuse it cleanly rather
                    // than let an allocation fail mid-handshake
                    sock.abort();
                    let _ = sock.listen(port);
                    self.low_memory_refusals += 1;
                    if now >= self.low_memory_said {
                        cx.say(&format!(
                            "ssh: refused reason=\"low memory\" heap_free_kib={} refusals={}",
                            cx.host.memory().heap_free_kib,
                            self.low_memory_refusals
                        ));
                        self.low_memory_said = now.saturating_add(OVERLOAD_REPORT_NS);
                    }
                    return Wake::IDLE.progressed();
                }
                tcp::State::Established | tcp::State::CloseWait => {
                    slot.peer = sock
                        .remote_endpoint()
                        .map(|e| format!("{}", e))
                        .unwrap_or_else(|| "?".into());
                    slot.handshake_since = None;
                    // every connection's key exchange secrets from the hardware RNG
                    let mut seed = [0u8; 32];
                    if cx.random(&mut seed).is_none() {
                        cx.say(&format!(
                            "ssh: error from={} reason=\"the hardware random number generator failed\"",
                            slot.peer
                        ));
                        sock.abort();
                        let _ = sock.listen(port);
                        return Wake::IDLE.progressed();
                    }
                    slot.conn = Some(Connection::new(now, seed));
                    cx.say(&format!("ssh: connect from={} slot={}", slot.peer, i));
                }
                tcp::State::Listen => {
                    slot.handshake_since = None;
                    return Wake::IDLE;
                }
                _ => {
                    // half-open (SYN received) or closed: bounded
                    let since = *slot.handshake_since.get_or_insert(now);
                    if !sock.is_open() || now.saturating_sub(since) >= SSH_HANDSHAKE_TIMEOUT_NS {
                        sock.abort();
                        let _ = sock.listen(port);
                        slot.handshake_since = None;
                        return Wake::IDLE.progressed();
                    }
                    return Wake::at(since.saturating_add(SSH_HANDSHAKE_TIMEOUT_NS));
                }
            }
        }
        let Some(conn) = slot.conn.as_mut() else {
            return Wake::IDLE;
        };
        let mut progressed = false;

        // peer -> server
        for _ in 0..8 {
            if !sock.can_recv() {
                break;
            }
            let took = sock
                .recv(|buf| {
                    let n = conn.input(buf, now);
                    (n, n)
                })
                .unwrap_or(0);
            conn.poll(&self.policy, &self.hostkey, now);
            if took == 0 {
                break;
            }
            progressed = true;
        }
        if !sock.may_recv() && !sock.can_recv() {
            conn.peer_closed();
        }
        conn.poll(&self.policy, &self.hostkey, now);

        // commands for us
        if let Some(req) = conn.take_request() {
            progressed = true;
            match req {
                Request::Metadata(path) => {
                    if self.fetch.is_some() {
                        conn.answer("metadata: another fetch is in flight, try again", 1);
                    } else if let Some(fetch) = facts.cloudinit.fetch(&path) {
                        self.fetch = Some(MetaFetch {
                            slot: i,
                            fetch,
                            conn: None,
                        });
                    } else {
                        conn.answer(
                            "metadata: this datasource has no metadata service to ask",
                            1,
                        );
                    }
                }
                Request::Poweroff | Request::Reboot => {
                    let (action, text) = if req == Request::Poweroff {
                        (Power::Off, "powering off")
                    } else {
                        (Power::Reboot, "rebooting")
                    };
                    conn.answer(text, 0);
                    cx.say(&format!("ssh: {} from={}", text, slot.peer));
                    self.power = Some((action, now.saturating_add(POWER_GRACE_NS)));
                }
                other => {
                    let text = status::answer(&other, net, cx, facts, self.logins, now);
                    conn.answer(&text, 0);
                }
            }
            conn.poll(&self.policy, &self.hostkey, now);
        }

        // server -> peer
        let sock = net.sockets.get_mut::<tcp::Socket>(handle);
        while sock.can_send() {
            let out = conn.output();
            if out.is_empty() {
                break;
            }
            match sock.send_slice(out) {
                Ok(n) if n > 0 => {
                    conn.consume(n);
                    progressed = true;
                }
                _ => break,
            }
        }
        // the lines say ms since the connection was established: how long
        // a login takes as the appliance sees it
        let ms = conn.elapsed_ms(now);
        for note in conn.notes() {
            let line = match note {
                Note::Login { user, key } => {
                    self.logins += 1;
                    format!(
                        "ssh: login user={} key={} from={} ms={}",
                        quoted(&user),
                        quoted(&key),
                        slot.peer,
                        ms
                    )
                }
                Note::Refused { user, reason, key } => format!(
                    "ssh: refused user={} reason={} key={} from={}",
                    quoted(&user),
                    quoted(reason),
                    quoted(key.as_deref().unwrap_or("-")),
                    slot.peer
                ),
                Note::Command { user, line } => format!(
                    "ssh: command user={} line={} from={}",
                    quoted(&user),
                    quoted(&line),
                    slot.peer
                ),
                Note::Closed { reason } => {
                    format!(
                        "ssh: closed from={} reason={} ms={}",
                        slot.peer,
                        quoted(&reason),
                        ms
                    )
                }
            };
            cx.say(&line);
        }
        let mut wake = Wake::maybe(conn.next_deadline(&self.policy));
        if progressed {
            wake = wake.progressed();
        }
        if conn.closed().is_some() && conn.output().is_empty() {
            sock.close();
            slot.conn = None;
            slot.closing_since = Some(now);
            if self.fetch.as_ref().is_some_and(|f| f.slot == i) {
                self.fetch = None; // nobody left to answer
            }
            return Wake::at(now.saturating_add(SSH_CLOSING_POLL_NS)).progressed();
        }
        if !conn.output().is_empty() || (sock.can_recv() && conn.closed().is_none()) {
            // output did not fit, or the server took no more input until
            // its output drained (key exchange): no packet may come to wake us
            wake.also_at(Some(now.saturating_add(SSH_RETRY_NS)));
        }
        wake
    }

    /// Drive the metadata fetch; answer its session when it is over (then
    /// true: that session has output to send).
    fn poll_fetch<N: Nic>(&mut self, net: &mut Net<N>, now: u64) -> bool {
        let Some(f) = self.fetch.as_mut() else {
            return false;
        };
        if let Some(c) = f.conn.as_mut() {
            match c.step(net, now) {
                Some(outcome) => {
                    if let Some(c) = f.conn.take() {
                        c.close(net, now);
                    }
                    f.fetch.on_outcome(outcome);
                }
                None => return false,
            }
        }
        match f.fetch.next() {
            fetch::Step::Request(bytes) => {
                let to = f.fetch.target().clone();
                f.conn = Some(HttpConn::open(net, &to, bytes, now));
                false
            }
            fetch::Step::Done(result) => {
                let (text, status) = match result {
                    Ok(body) => (body, 0),
                    Err(e) => (format!("metadata: error: {}", e), 1),
                };
                let slot = f.slot;
                self.fetch = None;
                match self.slots.get_mut(slot).and_then(|s| s.conn.as_mut()) {
                    Some(c) => {
                        c.answer(&text, status);
                        true
                    }
                    None => false,
                }
            }
        }
    }

    pub fn logins(&self) -> u64 {
        self.logins
    }
}
