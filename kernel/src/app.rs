//! The cloud-init app on the kernel's network: runs the IMDS state machine
//! (apps/cloudinit) over smoltcp TCP sockets, then reports what it learned
//! on the console and in XenStore.

extern crate alloc;

use alloc::vec;
use alloc::vec::Vec;

use cloudinit::http::Parser;
use cloudinit::imds::{Action, Imds, Outcome, Target, REQUEST_TIMEOUT_NS};
use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp;
use smoltcp::wire::IpAddress;
use xenstore::xenbus;

use crate::net::Net;
use crate::store::Store;
use crate::{arch, println};

struct Exchange {
    handle: SocketHandle,
    request: Vec<u8>,
    sent: usize,
    parser: Parser,
    established: bool,
    deadline: u64,
}

pub struct CloudInit {
    imds: Imds,
    exchange: Option<Exchange>,
    boot_ns: u64,
    started: bool,
    finished: bool,
    next_port: u16,
}

impl CloudInit {
    pub fn new(imds_url: Option<&str>, boot_ns: u64) -> Self {
        let target = match imds_url.map(Target::parse) {
            Some(Some(t)) => t,
            Some(None) => {
                println!("imds: error reason=\"bad imds= option, using the default\"");
                Target::default()
            }
            None => Target::default(),
        };
        let seed = arch::rdtsc() as u32;
        CloudInit {
            imds: Imds::new(target, seed),
            exchange: None,
            boot_ns,
            started: false,
            finished: false,
            next_port: 49152 + (seed % 8192) as u16,
        }
    }

    /// Drive the flow; returns when it next needs to run (None: finished, or
    /// waiting for the network).
    pub fn poll(&mut self, net: &mut Net, xs: &mut Store, now: u64) -> Option<u64> {
        if self.finished || !net.configured {
            return None;
        }
        if !self.started {
            self.started = true;
            println!("imds: start target=http://{}", self.imds.target().host());
        }
        for _ in 0..8 {
            if let Some(ex) = self.exchange.as_mut() {
                match step(ex, net, now) {
                    Some(outcome) => {
                        let h = ex.handle;
                        net.sockets.get_mut::<tcp::Socket>(h).abort();
                        net.sockets.remove(h);
                        self.exchange = None;
                        let retries = self.imds.retries();
                        self.imds.on_outcome(now, outcome);
                        if self.imds.retries() > retries {
                            println!(
                                "imds: retry n={} reason=\"{}\"",
                                self.imds.retries(),
                                self.imds.last_error.as_deref().unwrap_or("-")
                            );
                        }
                    }
                    None => return Some(self.exchange.as_ref().unwrap().deadline),
                }
            }
            match self.imds.next(now) {
                Action::Request(bytes) => self.open(net, bytes, now),
                Action::Wait(t) => return Some(t),
                Action::Done(s) => {
                    self.finished = true;
                    let elapsed_ms = (now - self.boot_ns) / 1_000_000;
                    println!(
                        "imds: mode={} requests={} retries={} instance-id={} local-hostname={}",
                        s.mode.name(),
                        s.requests,
                        s.retries,
                        s.instance_id.as_deref().unwrap_or("-"),
                        s.hostname.as_deref().unwrap_or("-")
                    );
                    let fp = s.key.fingerprint();
                    println!(
                        "cloudinit: ssh-key type={} bits={} fingerprint={} comment=\"{}\" name=\"{}\"",
                        s.key.kind,
                        s.key.bits(),
                        fp,
                        s.key.comment,
                        s.key_name
                    );
                    println!("ssh-key: {}", s.key.line);
                    let _ = xenbus::report(xs, "data/cloudinit/ssh-key", &s.key.line);
                    let _ = xenbus::report(xs, "data/cloudinit/fingerprint", &fp);
                    let _ = xenbus::report(xs, "data/cloudinit/imds-mode", s.mode.name());
                    if let Some(i) = &s.instance_id {
                        let _ = xenbus::report(xs, "data/cloudinit/instance-id", i);
                    }
                    let _ = xenbus::report(xs, "data/cloudinit/status", "done");
                    println!("cloudinit: done elapsed_ms={}", elapsed_ms);
                    return None;
                }
                Action::Failed(why) => {
                    self.finished = true;
                    println!("cloudinit: error reason=\"{}\"", why);
                    let _ = xenbus::report(xs, "data/cloudinit/status", "error");
                    let _ = xenbus::report(xs, "data/cloudinit/error", &why);
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
                "imds: retry n={} reason=\"network went down\"",
                self.imds.retries()
            );
        }
    }

    fn open(&mut self, net: &mut Net, request: Vec<u8>, now: u64) {
        let sock = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; 8192]),
            tcp::SocketBuffer::new(vec![0; 2048]),
        );
        let handle = net.sockets.add(sock);
        let t = self.imds.target().clone();
        let port = self.next_port;
        self.next_port = if port >= 65000 { 49152 } else { port + 1 };
        let remote = (
            IpAddress::v4(t.addr[0], t.addr[1], t.addr[2], t.addr[3]),
            t.port,
        );
        let ok = net
            .sockets
            .get_mut::<tcp::Socket>(handle)
            .connect(net.iface.context(), remote, port)
            .is_ok();
        let ex = Exchange {
            handle,
            request,
            sent: 0,
            parser: Parser::new(),
            established: false,
            deadline: now + REQUEST_TIMEOUT_NS,
        };
        self.exchange = Some(ex);
        if !ok {
            // reported on the next step as a failed connect
            self.exchange.as_mut().unwrap().deadline = now;
        }
    }
}

/// Move one exchange along; Some(outcome) when it is over.
fn step(ex: &mut Exchange, net: &mut Net, now: u64) -> Option<Outcome> {
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
