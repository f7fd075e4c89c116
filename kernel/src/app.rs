//! The cloud-init app on the kernel's network: runs the IMDS state machine
//! (apps/cloudinit) over smoltcp TCP sockets, then reports what it learned
//! on the console and in XenStore.

extern crate alloc;

use alloc::vec;
use alloc::vec::Vec;

use cloudinit::http::Parser;
use cloudinit::imds::{Action, Imds, Outcome, Summary, Target, REQUEST_TIMEOUT_NS};
use cloudinit::report;
use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp;
use smoltcp::wire::IpAddress;
use xenstore::xenbus;

use crate::net::Net;
use crate::store::Store;
use crate::{arch, println};

/// One HTTP exchange on its own TCP connection (the IMDS flow here, the
/// SSH `metadata` command in ssh.rs).
pub struct Exchange {
    pub handle: SocketHandle,
    request: Vec<u8>,
    sent: usize,
    parser: Parser,
    established: bool,
    pub deadline: u64,
}

/// Ephemeral ports for our connections, started at a random point.
static NEXT_PORT: core::sync::atomic::AtomicU16 = core::sync::atomic::AtomicU16::new(0);

fn next_port() -> u16 {
    use core::sync::atomic::Ordering;
    let p = NEXT_PORT.load(Ordering::Relaxed);
    let p = if p < 49152 {
        49152 + (arch::rdtsc() % 8192) as u16
    } else {
        p
    };
    NEXT_PORT.store(if p >= 65000 { 49152 } else { p + 1 }, Ordering::Relaxed);
    p
}

/// Open a connection to `t` and queue `request` on it.
pub fn open_exchange(net: &mut Net, t: &Target, request: Vec<u8>, now: u64) -> Exchange {
    let sock = tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; 8192]),
        tcp::SocketBuffer::new(vec![0; 2048]),
    );
    let handle = net.sockets.add(sock);
    let remote = (
        IpAddress::v4(t.addr[0], t.addr[1], t.addr[2], t.addr[3]),
        t.port,
    );
    let ok = net
        .sockets
        .get_mut::<tcp::Socket>(handle)
        .connect(net.iface.context(), remote, next_port())
        .is_ok();
    Exchange {
        handle,
        request,
        sent: 0,
        parser: Parser::new(),
        established: false,
        // a failed connect is reported on the next step
        deadline: if ok { now + REQUEST_TIMEOUT_NS } else { now },
    }
}

/// End an exchange: drop its socket.
pub fn close_exchange(net: &mut Net, ex: Exchange) {
    net.sockets.get_mut::<tcp::Socket>(ex.handle).abort();
    net.sockets.remove(ex.handle);
}

pub struct CloudInit {
    imds: Imds,
    exchange: Option<Exchange>,
    boot_ns: u64,
    started: bool,
    finished: bool,
    /// What the metadata service said, once done.
    pub summary: Option<Summary>,
}

impl CloudInit {
    pub fn new(target: Target, boot_ns: u64) -> Self {
        let seed = arch::rdtsc() as u32;
        CloudInit {
            imds: Imds::new(target, seed),
            exchange: None,
            boot_ns,
            started: false,
            finished: false,
            summary: None,
        }
    }

    pub fn target(&self) -> &Target {
        self.imds.target()
    }

    /// Drive the flow; returns when it next needs to run (None: finished, or
    /// waiting for the network).
    pub fn poll(&mut self, net: &mut Net, xs: &mut Store, now: u64) -> Option<u64> {
        if self.finished || !net.configured {
            return None;
        }
        if !self.started {
            self.started = true;
            println!("{}", report::start(self.imds.target()));
        }
        for _ in 0..8 {
            if let Some(ex) = self.exchange.as_mut() {
                match step(ex, net, now) {
                    Some(outcome) => {
                        if let Some(ex) = self.exchange.take() {
                            close_exchange(net, ex);
                        }
                        let retries = self.imds.retries();
                        self.imds.on_outcome(now, outcome);
                        if self.imds.retries() > retries {
                            println!(
                                "{}",
                                report::retry(
                                    self.imds.retries(),
                                    self.imds.last_error.as_deref().unwrap_or("-")
                                )
                            );
                        }
                    }
                    None => return Some(self.exchange.as_ref().unwrap().deadline),
                }
            }
            match self.imds.next(now) {
                Action::Request(bytes) => {
                    let t = self.imds.target().clone();
                    self.exchange = Some(open_exchange(net, &t, bytes, now));
                }
                Action::Wait(t) => return Some(t),
                Action::Done(s) => {
                    self.finished = true;
                    let elapsed_ms = (now - self.boot_ns) / 1_000_000;
                    let [summary, key, line, done] = report::success_lines(&s, elapsed_ms);
                    println!("{}", summary);
                    println!("{}", key);
                    println!("{}", line);
                    for (path, value) in report::xenstore_success(&s) {
                        let _ = xenbus::report(xs, path, &value);
                    }
                    println!("{}", done);
                    self.summary = Some(s);
                    return None;
                }
                Action::Failed(why) => {
                    self.finished = true;
                    println!("{}", report::error(&why));
                    for (path, value) in report::xenstore_error(&why) {
                        let _ = xenbus::report(xs, path, &value);
                    }
                    return None;
                }
            }
        }
        Some(now) // more to do right away
    }

    /// The network went away (device closed): an exchange in flight died
    /// with it; its socket belonged to the old stack.
    pub fn net_lost(&mut self, now: u64) {
        if self.exchange.take().is_some() {
            self.imds.on_outcome(now, Outcome::Reset);
            println!(
                "{}",
                report::retry(self.imds.retries(), "network went down")
            );
        }
    }
}

/// Move one exchange along; Some(outcome) when it is over.
pub fn step(ex: &mut Exchange, net: &mut Net, now: u64) -> Option<Outcome> {
    let s = net.sockets.get_mut::<tcp::Socket>(ex.handle);
    if s.may_send() {
        ex.established = true;
        if ex.sent < ex.request.len() {
            if let Ok(n) = s.send_slice(&ex.request[ex.sent..]) {
                ex.sent += n;
            }
        }
    }
    while s.can_recv() {
        let r = s.recv(|buf| (buf.len(), ex.parser.push(buf)));
        match r {
            Ok(Ok(Some(resp))) => return Some(Outcome::Response(resp)),
            Ok(Ok(None)) => {}
            Ok(Err(e)) => return Some(Outcome::Http(e)),
            Err(_) => return Some(Outcome::Reset),
        }
    }
    if !s.is_open() || (ex.established && !s.may_recv()) {
        // closed by the peer (FIN or RST)
        if !ex.established {
            return Some(Outcome::ConnectFailed);
        }
        return Some(match ex.parser.finish() {
            Ok(r) => Outcome::Response(r),
            Err(e) => Outcome::Http(e),
        });
    }
    if now >= ex.deadline {
        return Some(if ex.established {
            Outcome::Timeout
        } else {
            Outcome::ConnectFailed
        });
    }
    None
}
