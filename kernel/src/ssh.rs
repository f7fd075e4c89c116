//! SSH into the appliance with the key the metadata service gave: the
//! sans-IO server (apps/sshd) on smoltcp sockets. Started once cloud-init is
//! done; a fixed number of slots, each a listening socket or one connection.
//! Commands are answered here: status, ifconfig, log from the console ring,
//! a fresh metadata fetch, poweroff/reboot.

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use cloudinit::fetch::{self, Fetch};
use cloudinit::imds::{Summary, Target};
use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp;
use sshd::auth::{AuthorizedKey, Limits, Policy};
use sshd::{Connection, HostKey, Note, Request};
use xenstore::xenbus;

use crate::app::{self, Exchange};
use crate::net::Net;
use crate::power::Reason;
use crate::store::Store;
use crate::{console, println, rng};

pub const MAX_SESSIONS: usize = 4;
/// A slot whose socket is still closing after this long is reset.
const CLOSE_TIMEOUT_NS: u64 = 10_000_000_000;
/// Poweroff/reboot from a session: time for the answer to reach the client.
const POWER_GRACE_NS: u64 = 1_500_000_000;

struct Slot {
    handle: SocketHandle,
    conn: Option<Connection>,
    peer: String,
    closing_since: Option<u64>,
}

/// A `metadata PATH` command in flight (one at a time).
struct MetaFetch {
    slot: usize,
    target: Target,
    fetch: Fetch,
    exchange: Option<Exchange>,
}

/// What the commands report about the rest of the appliance.
pub struct Facts<'a> {
    pub boot_ns: u64,
    pub summary: &'a Summary,
    pub target: &'a Target,
}

pub struct Ssh {
    policy: Policy,
    hostkey: HostKey,
    port: u16,
    slots: Vec<Slot>,
    fetch: Option<MetaFetch>,
    power: Option<(Reason, u64)>,
    logins: u64,
}

fn listen_socket(net: &mut Net, port: u16) -> SocketHandle {
    let mut s = tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; 8192]),
        tcp::SocketBuffer::new(vec![0; 16384]),
    );
    let _ = s.listen(port);
    net.sockets.add(s)
}

impl Ssh {
    /// Host key from the hardware RNG, the policy from the fetched key(s),
    /// listeners on the port. None (with the reason printed) when SSH cannot
    /// run.
    pub fn start(
        net: &mut Net,
        xs: &mut Store,
        summary: &Summary,
        port: u16,
        user: &str,
    ) -> Option<Ssh> {
        let keys: Vec<AuthorizedKey> = match AuthorizedKey::from_public(&summary.key) {
            Ok(k) => vec![k],
            Err(kind) => {
                println!(
                    "ssh: error reason=\"the metadata key is {}: only ssh-ed25519, ssh-rsa and ecdsa-sha2-nistp256 keys can log in\"",
                    kind
                );
                return None;
            }
        };
        let Some(src) = rng::init() else {
            println!("ssh: error reason=\"no healthy hardware random number generator (RDSEED/RDRAND): no host key, no SSH\"");
            return None;
        };
        let mut seed = [0u8; 32];
        if !rng::fill(&mut seed) {
            println!("ssh: error reason=\"the hardware random number generator failed\"");
            return None;
        }
        let hostkey = HostKey::from_seed(&seed);
        let fp = hostkey.fingerprint();
        let public = hostkey.public_line("root@appliance");
        println!("-----BEGIN SSH HOST KEY FINGERPRINTS-----");
        println!("256 {} root@appliance (ED25519)", fp);
        println!("-----END SSH HOST KEY FINGERPRINTS-----");
        println!("-----BEGIN SSH HOST KEY KEYS-----");
        println!("{}", public);
        println!("-----END SSH HOST KEY KEYS-----");
        let _ = xenbus::report(xs, "data/ssh/host-key", &public);
        let _ = xenbus::report(xs, "data/ssh/host-key-fingerprint", &fp);
        let _ = xenbus::report(xs, "data/ssh/port", &format!("{}", port));
        let slots = (0..MAX_SESSIONS)
            .map(|_| Slot {
                handle: listen_socket(net, port),
                conn: None,
                peer: String::new(),
                closing_since: None,
            })
            .collect();
        println!(
            "ssh: listening port={} user={} keys={} sessions={} rng={} host-key={}",
            port,
            user,
            keys.len(),
            MAX_SESSIONS,
            src.name(),
            fp
        );
        Some(Ssh {
            policy: Policy {
                user: user.into(),
                keys,
                limits: Limits::default(),
            },
            hostkey,
            port,
            slots,
            fetch: None,
            power: None,
            logins: 0,
        })
    }

    /// The network was replaced (hotplug): every socket belonged to the old
    /// stack; listen again on the new one.
    pub fn net_changed(&mut self, net: &mut Net) {
        self.fetch = None;
        for s in &mut self.slots {
            if s.conn.take().is_some() {
                println!("ssh: closed from={} reason=\"network went down\"", s.peer);
            }
            s.handle = listen_socket(net, self.port);
            s.closing_since = None;
        }
    }

    /// Move every session along; returns when to run again.
    pub fn poll(&mut self, net: &mut Net, facts: &Facts, now: u64) -> Option<u64> {
        let mut deadline: Option<u64> = None;
        let soon = |d: u64, deadline: &mut Option<u64>| {
            *deadline = Some(deadline.map_or(d, |x| x.min(d)));
        };
        for i in 0..self.slots.len() {
            if let Some(d) = self.poll_slot(i, net, facts, now) {
                soon(d, &mut deadline);
            }
        }
        // After the slots: a fetch a session just asked for starts now, and
        // an answer it produced goes out on the slots' next turn, right away.
        if self.poll_fetch(net, now) {
            soon(now, &mut deadline);
        }
        if let Some(f) = &self.fetch {
            if let Some(ex) = &f.exchange {
                soon(ex.deadline, &mut deadline);
            }
        }
        if let Some((reason, at)) = self.power {
            let flushed = self.slots.iter().all(|s| s.conn.is_none());
            if flushed || now >= at {
                crate::power::shutdown(reason, "ssh command");
            }
            soon(at, &mut deadline);
        }
        deadline
    }

    fn poll_slot(&mut self, i: usize, net: &mut Net, facts: &Facts, now: u64) -> Option<u64> {
        let handle = self.slots[i].handle;
        let sock = net.sockets.get_mut::<tcp::Socket>(handle);
        let slot = &mut self.slots[i];

        // A socket whose connection ended: once it is closed (or stuck
        // closing), listen again.
        if let Some(since) = slot.closing_since {
            if matches!(sock.state(), tcp::State::Closed | tcp::State::TimeWait)
                || now.saturating_sub(since) > CLOSE_TIMEOUT_NS
            {
                sock.abort();
                let _ = sock.listen(self.port);
                slot.closing_since = None;
            } else {
                return Some(now + 100_000_000);
            }
        }
        if slot.conn.is_none() {
            if sock.state() == tcp::State::Established {
                slot.peer = sock
                    .remote_endpoint()
                    .map(|e| format!("{}", e))
                    .unwrap_or_else(|| "?".into());
                // Fresh randomness per connection: its ephemeral key, cookie, padding.
                let mut seed = [0u8; 32];
                if !rng::fill(&mut seed) {
                    println!("ssh: error reason=\"the hardware random number generator failed\" from={}", slot.peer);
                    sock.abort();
                    return None;
                }
                slot.conn = Some(Connection::new(now, seed));
                println!("ssh: connect from={} slot={}", slot.peer, i);
            } else if !sock.is_open() {
                let _ = sock.listen(self.port);
                return None;
            } else {
                return None;
            }
        }
        let conn = slot.conn.as_mut()?;

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
        }
        if !sock.may_recv() && !sock.can_recv() {
            conn.peer_closed();
        }
        conn.poll(&self.policy, &self.hostkey, now);

        // commands for us
        if let Some(req) = conn.take_request() {
            match req {
                Request::Metadata(path) => {
                    if self.fetch.is_some() {
                        conn.answer("metadata: another fetch is in flight, try again", 1);
                    } else {
                        let mode = facts.summary.mode;
                        self.fetch = Some(MetaFetch {
                            slot: i,
                            target: facts.target.clone(),
                            fetch: Fetch::new(facts.target, mode, &path),
                            exchange: None,
                        });
                    }
                }
                Request::Poweroff | Request::Reboot => {
                    let (reason, text) = if req == Request::Poweroff {
                        (Reason::Poweroff, "powering off")
                    } else {
                        (Reason::Reboot, "rebooting")
                    };
                    conn.answer(text, 0);
                    println!("ssh: {} from={}", text, slot.peer);
                    self.power = Some((reason, now + POWER_GRACE_NS));
                }
                other => {
                    let text = answer(&other, net, facts, self.logins, now);
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
                Ok(n) if n > 0 => conn.consume(n),
                _ => break,
            }
        }
        for note in conn.notes() {
            match note {
                Note::Login { user, key } => {
                    self.logins += 1;
                    println!("ssh: login user={} key={} from={}", user, key, slot.peer)
                }
                Note::Refused { user, reason, key } => println!(
                    "ssh: refused user={} reason=\"{}\" key={} from={}",
                    user,
                    reason,
                    key.as_deref().unwrap_or("-"),
                    slot.peer
                ),
                Note::Command { user, line } => {
                    println!(
                        "ssh: command user={} line=\"{}\" from={}",
                        user, line, slot.peer
                    )
                }
                Note::Closed { reason } => {
                    println!("ssh: closed from={} reason=\"{}\"", slot.peer, reason)
                }
            }
        }
        let next = conn.next_deadline(&self.policy);
        if conn.closed().is_some() && conn.output().is_empty() {
            sock.close();
            slot.conn = None;
            slot.closing_since = Some(now);
            if self.fetch.as_ref().is_some_and(|f| f.slot == i) {
                self.fetch = None; // nobody left to answer
            }
            return Some(now + 100_000_000);
        }
        if !conn.output().is_empty() {
            return Some(now + 10_000_000); // the socket's buffer is full: retry soon
        }
        if sock.can_recv() && conn.closed().is_none() {
            // The connection took no more input (its output waits for the
            // peer, or a failure delay runs): no new packet may come to
            // wake us, so come back.
            return Some(now + 10_000_000);
        }
        next
    }

    /// Drive the metadata fetch; answer its session when it is over (then
    /// true: that session has output to send).
    fn poll_fetch(&mut self, net: &mut Net, now: u64) -> bool {
        let Some(f) = self.fetch.as_mut() else {
            return false;
        };
        if let Some(ex) = f.exchange.as_mut() {
            match app::step(ex, net, now) {
                Some(outcome) => {
                    if let Some(ex) = f.exchange.take() {
                        app::close_exchange(net, ex);
                    }
                    f.fetch.on_outcome(outcome);
                }
                None => return false,
            }
        }
        match f.fetch.next() {
            fetch::Step::Request(bytes) => {
                f.exchange = Some(app::open_exchange(net, &f.target, bytes, now));
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
}

/// 00:16:3e:.. as Xen and Linux write it (smoltcp's Display uses dashes).
fn mac_colons(net: &Net) -> String {
    match net.iface.hardware_addr() {
        smoltcp::wire::HardwareAddress::Ethernet(e) => {
            let b = e.as_bytes();
            format!(
                "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                b[0], b[1], b[2], b[3], b[4], b[5]
            )
        }
        #[allow(unreachable_patterns)]
        _ => "-".into(),
    }
}

/// status / ifconfig / log
fn answer(req: &Request, net: &Net, facts: &Facts, logins: u64, now: u64) -> String {
    let st = net.nf.stats;
    let addr = net
        .iface
        .ip_addrs()
        .first()
        .map(|a| format!("{}", a))
        .unwrap_or_else(|| "-".into());
    let gw = net
        .gateway
        .map(|g| format!("{}", g))
        .unwrap_or_else(|| "-".into());
    let how = if net.lease.is_some() {
        "dhcp"
    } else {
        "static"
    };
    let counters = format!(
        "rx_packets={} rx_bytes={} tx_packets={} tx_bytes={} rx_dropped={} tx_errors={} tx_busy={} notifies={} events={}",
        st.rx_packets, st.rx_bytes, st.tx_packets, st.tx_bytes, st.rx_dropped, st.tx_errors, st.tx_busy, st.notifies, st.events
    );
    match req {
        Request::Status => {
            let s = facts.summary;
            let m = crate::mem::stats();
            format!(
                "appliance version={} uptime_s={} mem_total_kib={} heap_kib={} heap_free_kib={}\naddress={} gateway={} config={}\nimds={} target=http://{} instance-id={} local-hostname={}\nkey={} type={} comment=\"{}\"\nssh logins={}\n{}",
                crate::VERSION,
                now.saturating_sub(facts.boot_ns) / 1_000_000_000,
                m.total_kib,
                m.heap_kib,
                m.heap_free_kib,
                addr,
                gw,
                how,
                s.mode.name(),
                facts.target.host(),
                s.instance_id.as_deref().unwrap_or("-"),
                s.hostname.as_deref().unwrap_or("-"),
                s.key.fingerprint(),
                s.key.kind,
                s.key.comment,
                logins,
                counters
            )
        }
        Request::Ifconfig => format!(
            "vif0 device={} mac={} mtu=1500\n    inet {} gateway {} ({})\n    {}",
            net.nf.path(),
            mac_colons(net),
            addr,
            gw,
            how,
            counters
        ),
        Request::Log => String::from_utf8_lossy(&console::recent(8192)).into_owned(),
        Request::Metadata(_) | Request::Poweroff | Request::Reboot => String::new(),
    }
}
