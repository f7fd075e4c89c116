//! The XenStore client: one request at a time, replies matched by request
//! id, watch events (which interleave with replies on the ring) queued apart,
//! every wait bounded by a deadline.

extern crate alloc;

use alloc::collections::VecDeque;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use xenabi::hal::SharedMem;

use crate::ring::{Ring, RingError};
use crate::wire::{split_strings, Errno, Kind, Message, Perm, Reader, WireError};

/// What the client needs from its platform besides the ring page.
pub trait Wait {
    /// Signal the daemon (event channel) that the ring has news.
    fn notify(&mut self);
    /// Block until an event arrives or `deadline_ns` passes. In tests this
    /// runs the simulated daemon.
    fn wait(&mut self, deadline_ns: u64);
    fn now_ns(&self) -> u64;
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// The daemon answered with an error.
    Xs(Errno),
    /// No complete reply before the deadline.
    Timeout,
    /// The daemon broke the protocol; the connection is unusable from now on.
    Protocol(String),
    /// Request payload over 4096 bytes.
    TooBig,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Xs(e) => write!(f, "{}", e),
            Error::Timeout => f.write_str("timeout"),
            Error::Protocol(m) => write!(f, "protocol error: {}", m),
            Error::TooBig => f.write_str("request too big"),
        }
    }
}

impl From<RingError> for Error {
    fn from(e: RingError) -> Self {
        match e {
            RingError::Corrupt { prod, cons } => {
                Error::Protocol(format!("ring index corrupt prod={} cons={}", prod, cons))
            }
        }
    }
}

impl From<WireError> for Error {
    fn from(e: WireError) -> Self {
        Error::Protocol(format!("{}", e))
    }
}

pub type Result<T> = core::result::Result<T, Error>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchEvent {
    pub path: String,
    pub token: String,
}

/// Watch events kept while nobody polls; older ones are dropped beyond this.
const MAX_QUEUED_EVENTS: usize = 256;
/// Messages taken off the ring per pump, so a flooding daemon cannot keep us here.
const MAX_MESSAGES_PER_PUMP: usize = 64;
pub const DEFAULT_TIMEOUT_NS: u64 = 5_000_000_000;
const TRANSACTION_RETRIES: usize = 8;

pub struct Client<M: SharedMem, W: Wait> {
    ring: Ring<M>,
    wait: W,
    reader: Reader,
    next_id: u32,
    replies: VecDeque<Message>,
    events: VecDeque<WatchEvent>,
    broken: Option<String>,
    pub timeout_ns: u64,
    /// Replies that matched no outstanding request (late or forged), dropped.
    pub stray_replies: u64,
    pub dropped_events: u64,
    /// Watch events without a path and token, or not UTF-8, dropped.
    pub bad_events: u64,
}

impl<M: SharedMem, W: Wait> Client<M, W> {
    pub fn new(page: M, wait: W) -> Self {
        Client {
            ring: Ring::new(page),
            wait,
            reader: Reader::new(),
            next_id: 1,
            replies: VecDeque::new(),
            events: VecDeque::new(),
            broken: None,
            timeout_ns: DEFAULT_TIMEOUT_NS,
            stray_replies: 0,
            dropped_events: 0,
            bad_events: 0,
        }
    }

    /// The ring page (for tests that play a misbehaving guest).
    pub fn ring_page(&self) -> &M {
        self.ring.page()
    }

    pub fn waiter(&mut self) -> &mut W {
        &mut self.wait
    }

    /// Why the connection is unusable, if it is.
    pub fn broken(&self) -> Option<&str> {
        self.broken.as_deref()
    }

    fn fail<T>(&mut self, e: Error) -> Result<T> {
        if let Error::Protocol(m) = &e {
            self.broken = Some(m.clone());
        }
        Err(e)
    }

    /// Move whatever the daemon wrote into the reply and event queues.
    fn pump(&mut self) -> Result<()> {
        if let Some(b) = &self.broken {
            return Err(Error::Protocol(b.clone()));
        }
        let mut consumed = false;
        let mut messages = 0;
        let mut buf = [0u8; 256];
        while messages < MAX_MESSAGES_PER_PUMP {
            let want = self.reader.wanted().min(buf.len());
            let n = match self.ring.read(&mut buf[..want]) {
                Ok(n) => n,
                Err(e) => return self.fail(e.into()),
            };
            if n == 0 {
                break;
            }
            consumed = true;
            self.reader.push(&buf[..n]);
            loop {
                match self.reader.next() {
                    Ok(Some(m)) => {
                        messages += 1;
                        self.accept(m)?;
                    }
                    Ok(None) => break,
                    Err(e) => return self.fail(e.into()),
                }
            }
        }
        if consumed {
            self.wait.notify(); // we made room in the response ring
        }
        Ok(())
    }

    fn accept(&mut self, m: Message) -> Result<()> {
        if m.header.kind != Kind::WatchEvent {
            self.replies.push_back(m);
            return Ok(());
        }
        // A malformed event is still well framed: drop it, keep the connection.
        let parts = split_strings(&m.payload);
        let (Some(path), Some(token)) = (parts.first(), parts.get(1)) else {
            self.bad_events += 1;
            return Ok(());
        };
        let (Ok(path), Ok(token)) = (core::str::from_utf8(path), core::str::from_utf8(token))
        else {
            self.bad_events += 1;
            return Ok(());
        };
        if self.events.len() == MAX_QUEUED_EVENTS {
            self.events.pop_front();
            self.dropped_events += 1;
        }
        self.events.push_back(WatchEvent {
            path: String::from(path),
            token: String::from(token),
        });
        Ok(())
    }

    /// Send one request and wait for its reply.
    pub fn request(&mut self, kind: Kind, tx: u32, payload: &[u8]) -> Result<Vec<u8>> {
        if let Some(b) = &self.broken {
            return Err(Error::Protocol(b.clone()));
        }
        let req_id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        let msg = Message::encode(kind, req_id, tx, payload).map_err(|_| Error::TooBig)?;
        let deadline = self.wait.now_ns().saturating_add(self.timeout_ns);

        let mut sent = 0;
        while sent < msg.len() {
            let n = match self.ring.write(&msg[sent..]) {
                Ok(n) => n,
                Err(e) => return self.fail(e.into()),
            };
            sent += n;
            self.wait.notify();
            if sent < msg.len() {
                self.pump()?; // the daemon may be waiting for us to drain replies
                if self.wait.now_ns() >= deadline {
                    // a half-written request desynchronises the stream for good
                    return self.fail(Error::Protocol(String::from("request ring stuck full")));
                }
                self.wait.wait(deadline);
            }
        }

        loop {
            self.pump()?;
            while let Some(m) = self.replies.pop_front() {
                if m.header.req_id != req_id {
                    self.stray_replies += 1;
                    continue;
                }
                return match m.header.kind {
                    // an error name we do not know is still a well-framed
                    // answer: this request failed, the connection is fine
                    Kind::Error => match Errno::from_payload(&m.payload) {
                        Some(e) => Err(Error::Xs(e)),
                        None => Err(Error::Protocol(String::from("unknown error name"))),
                    },
                    k if k == kind => Ok(m.payload),
                    _ => self.fail(Error::Protocol(format!(
                        "reply type {:?} to a {:?}",
                        m.header.kind, kind
                    ))),
                };
            }
            if self.wait.now_ns() >= deadline {
                return Err(Error::Timeout);
            }
            self.wait.wait(deadline);
        }
    }

    // ---- operations ----

    pub fn read(&mut self, path: &str) -> Result<Vec<u8>> {
        self.read_tx(0, path)
    }

    pub fn read_tx(&mut self, tx: u32, path: &str) -> Result<Vec<u8>> {
        self.request(Kind::Read, tx, &nul(path))
    }

    /// Read a value as text (the trailing NUL some writers add is dropped).
    pub fn read_string(&mut self, path: &str) -> Result<String> {
        let v = self.read(path)?;
        text(v)
    }

    pub fn write(&mut self, path: &str, value: &[u8]) -> Result<()> {
        self.write_tx(0, path, value)
    }

    pub fn write_tx(&mut self, tx: u32, path: &str, value: &[u8]) -> Result<()> {
        let mut p = nul(path);
        p.extend_from_slice(value);
        self.request(Kind::Write, tx, &p).map(|_| ())
    }

    pub fn mkdir(&mut self, path: &str) -> Result<()> {
        self.mkdir_tx(0, path)
    }

    pub fn mkdir_tx(&mut self, tx: u32, path: &str) -> Result<()> {
        self.request(Kind::Mkdir, tx, &nul(path)).map(|_| ())
    }

    pub fn rm(&mut self, path: &str) -> Result<()> {
        self.rm_tx(0, path)
    }

    pub fn rm_tx(&mut self, tx: u32, path: &str) -> Result<()> {
        self.request(Kind::Rm, tx, &nul(path)).map(|_| ())
    }

    pub fn directory(&mut self, path: &str) -> Result<Vec<String>> {
        self.directory_tx(0, path)
    }

    pub fn directory_tx(&mut self, tx: u32, path: &str) -> Result<Vec<String>> {
        let v = self.request(Kind::Directory, tx, &nul(path))?;
        split_strings(&v)
            .into_iter()
            .map(|s| {
                core::str::from_utf8(s)
                    .map(String::from)
                    .map_err(|_| Error::Protocol(String::from("directory entry not UTF-8")))
            })
            .collect()
    }

    /// A node's permissions: owner (and everyone's default) first, then the ACL.
    pub fn get_perms(&mut self, path: &str) -> Result<Vec<Perm>> {
        let v = self.request(Kind::GetPerms, 0, &nul(path))?;
        let perms: Option<Vec<Perm>> = split_strings(&v).into_iter().map(Perm::parse).collect();
        match perms {
            Some(p) if !p.is_empty() => Ok(p),
            _ => Err(Error::Protocol(String::from("unparsable permissions"))),
        }
    }

    /// Set a node's permissions, e.g. `[n1, r0]`: owner dom1, nobody else
    /// may read except dom0 (which may anyway).
    pub fn set_perms(&mut self, path: &str, perms: &[Perm]) -> Result<()> {
        let mut p = nul(path);
        for perm in perms {
            perm.emit(&mut p);
        }
        self.request(Kind::SetPerms, 0, &p).map(|_| ())
    }

    /// Drop every watch (and transaction) this connection has, as a fresh
    /// kernel does in case a previous one left some behind.
    pub fn reset_watches(&mut self) -> Result<()> {
        self.request(Kind::ResetWatches, 0, b"\0").map(|_| ())?;
        self.events.clear();
        Ok(())
    }

    pub fn get_domain_path(&mut self, domid: u16) -> Result<String> {
        let v = self.request(Kind::GetDomainPath, 0, &nul(&format!("{}", domid)))?;
        text(v)
    }

    pub fn watch(&mut self, path: &str, token: &str) -> Result<()> {
        let mut p = nul(path);
        p.extend_from_slice(&nul(token));
        self.request(Kind::Watch, 0, &p).map(|_| ())
    }

    pub fn unwatch(&mut self, path: &str, token: &str) -> Result<()> {
        let mut p = nul(path);
        p.extend_from_slice(&nul(token));
        self.request(Kind::Unwatch, 0, &p).map(|_| ())
    }

    pub fn transaction_start(&mut self) -> Result<u32> {
        let v = self.request(Kind::TransactionStart, 0, b"\0")?;
        let s = text(v)?;
        match s.parse::<u32>() {
            Ok(tx) if tx != 0 => Ok(tx),
            _ => self.fail(Error::Protocol(format!("bad transaction id {:?}", s))),
        }
    }

    /// Commit (`true`) or abort a transaction. EAGAIN means: run it again.
    pub fn transaction_end(&mut self, tx: u32, commit: bool) -> Result<()> {
        self.request(
            Kind::TransactionEnd,
            tx,
            if commit { b"T\0" } else { b"F\0" },
        )
        .map(|_| ())
    }

    /// Run `f` in a transaction, retrying on EAGAIN a bounded number of times.
    pub fn transaction<T>(&mut self, mut f: impl FnMut(&mut Self, u32) -> Result<T>) -> Result<T> {
        for _ in 0..TRANSACTION_RETRIES {
            let tx = self.transaction_start()?;
            let r = match f(self, tx) {
                Ok(r) => r,
                Err(e) => {
                    let _ = self.transaction_end(tx, false);
                    return Err(e);
                }
            };
            match self.transaction_end(tx, true) {
                Ok(()) => return Ok(r),
                Err(Error::Xs(Errno::EAGAIN)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::Xs(Errno::EAGAIN))
    }

    // ---- watch events ----

    /// A queued watch event, without blocking (reads what the ring holds).
    pub fn poll_event(&mut self) -> Result<Option<WatchEvent>> {
        if self.events.is_empty() {
            self.pump()?;
        }
        Ok(self.events.pop_front())
    }

    /// Wait for a watch event until `deadline_ns`.
    pub fn wait_event(&mut self, deadline_ns: u64) -> Result<Option<WatchEvent>> {
        loop {
            if let Some(e) = self.poll_event()? {
                return Ok(Some(e));
            }
            if self.wait.now_ns() >= deadline_ns {
                return Ok(None);
            }
            self.wait.wait(deadline_ns);
        }
    }

    /// The oldest queued event for `token`, without blocking. Events for
    /// other tokens stay queued for their owners (a shutdown request that
    /// arrives while a driver waits for its backend must not be lost).
    pub fn take_event(&mut self, token: &str) -> Result<Option<WatchEvent>> {
        self.pump()?;
        let i = self.events.iter().position(|e| e.token == token);
        Ok(i.and_then(|i| self.events.remove(i)))
    }

    /// Wait until `deadline_ns` for an event for `token`; others stay queued.
    pub fn wait_event_for(&mut self, token: &str, deadline_ns: u64) -> Result<Option<WatchEvent>> {
        loop {
            if let Some(e) = self.take_event(token)? {
                return Ok(Some(e));
            }
            if self.wait.now_ns() >= deadline_ns {
                return Ok(None);
            }
            self.wait.wait(deadline_ns);
        }
    }

    /// Forget queued events for `token` (after unwatching it). Returns how many.
    pub fn discard_events(&mut self, token: &str) -> usize {
        let before = self.events.len();
        self.events.retain(|e| e.token != token);
        before - self.events.len()
    }

    /// Is there anything for us in the response ring?
    pub fn readable(&self) -> bool {
        !self.events.is_empty() || self.ring.readable() > 0
    }
}

fn nul(s: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(s.len() + 1);
    v.extend_from_slice(s.as_bytes());
    v.push(0);
    v
}

fn text(mut v: Vec<u8>) -> Result<String> {
    if v.last() == Some(&0) {
        v.pop();
    }
    String::from_utf8(v).map_err(|_| Error::Protocol(String::from("value not UTF-8")))
}
