//! The XenStore client: one request (or one batch of them) at a time,
//! replies matched by request id, watch events (which interleave with
//! replies on the ring) queued apart.
//!
//! Everything the daemon does is bounded:
//!
//! - Time. Every wait (a request, `wait_event*`, the xenbus waits) ends at
//!   its deadline or after `MAX_WAKEUPS` wakeups, whichever comes first; the
//!   deadline is fixed when the wait starts, so a `Wait` that keeps
//!   returning early, or events that keep coming, never extend it.
//!   `within` caps the deadline of every request made inside it.
//! - Replies. Only the replies to the outstanding requests are kept. Any
//!   other (for an id never used, a duplicate, or a late answer to a request
//!   that timed out) is dropped the moment it is read and counted in
//!   `stats.stray_replies`; nothing is stored past the request it answers.
//! - Watch events. Coalesced per (token, path) and bounded per watch (see
//!   `events`): at most `MAX_WATCHES * MAX_PENDING_PER_WATCH` queued, a flood
//!   on one watch cannot push out another's event, and a fold raises the
//!   `take_lost` flag: re-read everything you watch.
//! - Work. One pump takes at most `MAX_MESSAGES_PER_PUMP` messages off the
//!   ring (a whole ring of the smallest messages); `poll_events` is one pump.
//! - Protocol errors are final: `broken` says why, every call returns that
//!   error, and `readable` is false from then on, so nobody polls forever.

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use xenabi::hal::SharedMem;
use xenabi::xs_wire as xs;

use crate::events::{EventQueue, Pushed, Registered};
pub use crate::events::{WatchEvent, MAX_PENDING_PER_WATCH, MAX_WATCHES};
use crate::ring::{Ring, RingError};
use crate::wire::{split_strings, Errno, Kind, Message, Perm, Reader, WireError};

/// What the client needs from its platform besides the ring page.
pub trait Wait {
    /// Signal the daemon (event channel) that the ring has news.
    fn notify(&mut self);
    /// Block until an event arrives or `deadline_ns` passes. In tests this
    /// runs the simulated daemon. May return early, any number of times.
    fn wait(&mut self, deadline_ns: u64);
    fn now_ns(&self) -> u64;
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// The daemon answered with an error.
    Xs(Errno),
    /// No complete reply before the deadline (or the wakeup budget ran out).
    Timeout,
    /// The daemon broke the protocol; the connection is unusable from now on.
    Protocol(String),
    /// Request payload over 4096 bytes.
    TooBig,
    /// `MAX_WATCHES` watches are registered already.
    TooManyWatches,
    /// The token is watching another path.
    TokenInUse,
    /// A value that breaks its format or size bound; the connection is fine.
    /// `node` is built from checked path characters only.
    BadValue { node: String, reason: &'static str },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Xs(e) => write!(f, "{}", e),
            Error::Timeout => f.write_str("timeout"),
            Error::Protocol(m) => write!(f, "protocol error: {}", m),
            Error::TooBig => f.write_str("request too big"),
            Error::TooManyWatches => write!(f, "more than {} watches", MAX_WATCHES),
            Error::TokenInUse => f.write_str("watch token in use"),
            Error::BadValue { node, reason } => write!(f, "{}: {}", node, reason),
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

/// Messages taken off the ring per pump: a full ring of header-only messages.
pub const MAX_MESSAGES_PER_PUMP: usize = xs::XENSTORE_RING_SIZE / xs::XSD_SOCKMSG_SIZE;
/// Wakeups one wait may take whatever its deadline: the second bound, for a
/// clock that stalls or a `Wait` that keeps returning at once.
pub const MAX_WAKEUPS: u32 = 4096;
pub const DEFAULT_TIMEOUT_NS: u64 = 5_000_000_000;
/// Requests one batch carries (`requests`): C xenstored takes 20 from a
/// domain before it waits for that domain to read its replies.
pub const MAX_BATCH: usize = 16;
const TRANSACTION_RETRIES: usize = 8;

/// The two bounds of one wait: a fixed deadline and a count of rounds.
pub(crate) struct Budget {
    deadline: u64,
    rounds: u32,
}

impl Budget {
    pub(crate) fn new(deadline_ns: u64) -> Self {
        Budget {
            deadline: deadline_ns,
            rounds: 0,
        }
    }

    /// Count one more round; true once the deadline passed or rounds ran out.
    pub(crate) fn spent(&mut self, now_ns: u64) -> bool {
        self.rounds = self.rounds.saturating_add(1);
        now_ns >= self.deadline || self.rounds > MAX_WAKEUPS
    }
}

/// What the daemon did that we threw away, for the owner to show.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Replies that matched no outstanding request (late, duplicate or forged).
    pub stray_replies: u64,
    /// Watch events without a path and token, not UTF-8, or a path too long.
    pub bad_events: u64,
    /// Watch events for a token we do not watch (late after unwatch, or forged).
    pub stray_events: u64,
    /// Watch events identical to one already pending: nothing lost.
    pub coalesced_events: u64,
    /// Watch events folded into a whole-watch event: their paths were lost.
    pub overflowed_events: u64,
    /// Requests sent, and the time spent from sending each to its answer
    /// (or its failure): what XenStore costs a boot.
    pub requests: u64,
    pub request_ns: u64,
}

/// One budgeted `poll_events`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Polled {
    pub events: Vec<WatchEvent>,
    /// Events still queued or bytes still on the ring: poll again soon.
    pub more: bool,
    /// Events were folded since the last look: re-read everything watched.
    pub lost: bool,
}

struct Outstanding {
    req_id: u32,
    kind: Kind,
}

pub struct Client<M: SharedMem, W: Wait> {
    ring: Ring<M>,
    wait: W,
    reader: Reader,
    next_id: u32,
    /// The requests on their way (one, or a batch), each with its reply
    /// once it came.
    outstanding: Vec<(Outstanding, Option<Message>)>,
    events: EventQueue,
    lost: bool,
    broken: Option<String>,
    /// Cap on every request's deadline (`within`).
    limit_ns: u64,
    pub timeout_ns: u64,
    pub stats: Stats,
}

impl<M: SharedMem, W: Wait> Client<M, W> {
    pub fn new(page: M, wait: W) -> Self {
        Client {
            ring: Ring::new(page),
            wait,
            reader: Reader::new(),
            next_id: 1,
            outstanding: Vec::new(),
            events: EventQueue::default(),
            lost: false,
            broken: None,
            limit_ns: u64::MAX,
            timeout_ns: DEFAULT_TIMEOUT_NS,
            stats: Stats::default(),
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

    /// Watch events queued now (never more than
    /// `MAX_WATCHES * MAX_PENDING_PER_WATCH`).
    pub fn queued_events(&self) -> usize {
        self.events.len()
    }

    /// Whether events were folded since the last call (and clear the flag):
    /// if so, re-read every node you watch.
    pub fn take_lost(&mut self) -> bool {
        core::mem::take(&mut self.lost)
    }

    /// Run `f` with every request's deadline capped at `deadline_ns`, so a
    /// sequence of requests ends by then however the daemon answers. A
    /// request whose deadline has passed is not sent: `Timeout`.
    pub fn within<T>(&mut self, deadline_ns: u64, f: impl FnOnce(&mut Self) -> T) -> T {
        let saved = self.limit_ns;
        self.limit_ns = saved.min(deadline_ns);
        let r = f(self);
        self.limit_ns = saved;
        r
    }

    fn check(&self) -> Result<()> {
        match &self.broken {
            Some(b) => Err(Error::Protocol(b.clone())),
            None => Ok(()),
        }
    }

    fn fail<T>(&mut self, e: Error) -> Result<T> {
        if let Error::Protocol(m) = &e {
            self.broken = Some(m.clone());
        }
        Err(e)
    }

    /// Take up to `MAX_MESSAGES_PER_PUMP` messages off the ring: the reply
    /// to the outstanding request into its slot, events into their queue,
    /// everything else dropped.
    fn pump(&mut self) -> Result<()> {
        self.check()?;
        let mut consumed = false;
        let mut messages = 0;
        let mut buf = [0u8; 256];
        while messages < MAX_MESSAGES_PER_PUMP {
            // never more than the rest of one message: the reader holds at
            // most one, so each read yields at most one
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
            match self.reader.next() {
                Ok(Some(m)) => {
                    messages += 1;
                    self.accept(m);
                }
                Ok(None) => {}
                Err(e) => return self.fail(e.into()),
            }
        }
        if consumed {
            self.wait.notify(); // we made room in the response ring
        }
        Ok(())
    }

    fn accept(&mut self, m: Message) {
        if m.header.kind == Kind::WatchEvent {
            return self.accept_event(&m.payload);
        }
        let id = m.header.req_id;
        match self
            .outstanding
            .iter_mut()
            .find(|(o, r)| o.req_id == id && r.is_none())
        {
            Some((_, slot)) => *slot = Some(m),
            None => self.stats.stray_replies += 1,
        }
    }

    /// A malformed event is still well framed: drop it, keep the connection.
    fn accept_event(&mut self, payload: &[u8]) {
        let parts = split_strings(payload);
        let (Some(path), Some(token)) = (parts.first(), parts.get(1)) else {
            self.stats.bad_events += 1;
            return;
        };
        let (Ok(path), Ok(token)) = (core::str::from_utf8(path), core::str::from_utf8(token))
        else {
            self.stats.bad_events += 1;
            return;
        };
        if path.len() > xs::XENSTORE_ABS_PATH_MAX {
            self.stats.bad_events += 1;
            return;
        }
        match self.events.push(path, token) {
            Pushed::Queued => {}
            Pushed::Coalesced => self.stats.coalesced_events += 1,
            Pushed::Stray => self.stats.stray_events += 1,
            Pushed::Folded(n) => {
                self.stats.overflowed_events += n as u64;
                self.lost = true;
            }
        }
    }

    /// Send one request and wait for its reply.
    pub fn request(&mut self, kind: Kind, tx: u32, payload: &[u8]) -> Result<Vec<u8>> {
        let mut r = self.requests(&[(kind, tx, payload)])?;
        r.pop().unwrap_or(Err(Error::Timeout))
    }

    /// Send up to `MAX_BATCH` requests back to back and wait for every
    /// reply: the daemon answers them in turn, so a batch costs one round
    /// trip, not one each. `Err` is what ended the whole exchange (the
    /// deadline, a broken connection, a request too big: then nothing was
    /// sent); `Ok` holds each request's own answer, in order.
    pub fn requests(&mut self, reqs: &[(Kind, u32, &[u8])]) -> Result<Vec<Result<Vec<u8>>>> {
        self.check()?;
        if reqs.len() > MAX_BATCH {
            return Err(Error::TooBig);
        }
        let mut stream = Vec::new();
        let mut ends = Vec::with_capacity(reqs.len());
        let mut batch = Vec::with_capacity(reqs.len());
        let mut id = self.next_id;
        for &(kind, tx, payload) in reqs {
            let msg = Message::encode(kind, id, tx, payload).map_err(|_| Error::TooBig)?;
            stream.extend_from_slice(&msg);
            ends.push(stream.len());
            batch.push((Outstanding { req_id: id, kind }, None));
            id = id.wrapping_add(1).max(1);
        }
        let now = self.wait.now_ns();
        let deadline = now.saturating_add(self.timeout_ns).min(self.limit_ns);
        if now >= deadline {
            return Err(Error::Timeout);
        }
        self.next_id = id;
        self.outstanding = batch;
        let r = self.exchange(&stream, &ends, deadline);
        self.stats.requests += reqs.len() as u64;
        self.stats.request_ns += self.wait.now_ns().saturating_sub(now);
        // whatever answers these requests from now on is stray
        let answered = core::mem::take(&mut self.outstanding);
        r?;
        let mut out = Vec::with_capacity(answered.len());
        for (o, m) in answered {
            match m {
                Some(m) => out.push(self.answer(o.kind, m)),
                None => return Err(Error::Timeout), // unreachable: exchange waits for all
            }
        }
        // a reply of the wrong type broke the connection: say so, whatever came after
        match self.broken.clone() {
            Some(b) => Err(Error::Protocol(b)),
            None => Ok(out),
        }
    }

    /// Write the batch's bytes (`ends`: where each request ends) as the ring
    /// takes them, until every outstanding request has its reply.
    fn exchange(&mut self, stream: &[u8], ends: &[usize], deadline: u64) -> Result<()> {
        let mut budget = Budget::new(deadline);
        let mut sent = 0;
        loop {
            if let Some(rest) = stream.get(sent..).filter(|r| !r.is_empty()) {
                let n = match self.ring.write(rest) {
                    Ok(n) => n,
                    Err(e) => return self.fail(e.into()),
                };
                if n > 0 {
                    sent += n;
                    self.wait.notify();
                }
            }
            // the daemon may be waiting for us to drain before it reads more
            self.pump()?;
            if self.outstanding.iter().all(|(_, r)| r.is_some()) {
                return Ok(());
            }
            if budget.spent(self.wait.now_ns()) {
                if sent > 0 && sent < stream.len() && !ends.contains(&sent) {
                    // a half-written request desynchronises the stream for good
                    return self.fail(Error::Protocol(String::from("request ring stuck full")));
                }
                return Err(Error::Timeout);
            }
            // bytes left on the ring (a pump's worth was not enough) are
            // read at once; blocking would wait for an event already seen
            if self.ring.readable() == 0 {
                self.wait.wait(deadline);
            }
        }
    }

    fn answer(&mut self, kind: Kind, m: Message) -> Result<Vec<u8>> {
        match m.header.kind {
            // an error name we do not know is still a well-framed answer:
            // this request failed, the connection is fine
            Kind::Error => match Errno::from_payload(&m.payload) {
                Some(e) => Err(Error::Xs(e)),
                None => Err(Error::Protocol(String::from("unknown error name"))),
            },
            k if k == kind => Ok(m.payload),
            _ => self.fail(Error::Protocol(format!(
                "reply type {:?} to a {:?}",
                m.header.kind, kind
            ))),
        }
    }

    // ---- operations ----

    pub fn read(&mut self, path: &str) -> Result<Vec<u8>> {
        self.read_tx(0, path)
    }

    pub fn read_tx(&mut self, tx: u32, path: &str) -> Result<Vec<u8>> {
        self.request(Kind::Read, tx, &nul(path))
    }

    /// Read up to `MAX_BATCH` nodes in one round trip: each node's own
    /// answer (a missing node is its `ENOENT`), in order.
    pub fn read_all(&mut self, paths: &[&str]) -> Result<Vec<Result<Vec<u8>>>> {
        let payloads: Vec<Vec<u8>> = paths.iter().map(|p| nul(p)).collect();
        self.requests(&same_kind(Kind::Read, 0, &payloads))
    }

    /// `read_all`, each value as text (as `read_string`).
    pub fn read_strings(&mut self, paths: &[&str]) -> Result<Vec<Result<String>>> {
        Ok(self
            .read_all(paths)?
            .into_iter()
            .map(|r| r.and_then(text))
            .collect())
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
        self.write_all_tx(tx, &[(path, value)])
    }

    /// Write every (path, value), `MAX_BATCH` at a time (`requests`: one
    /// round trip per batch). The first failure is the answer; the rest of
    /// its batch was still written, later batches are not sent.
    pub fn write_all(&mut self, nodes: &[(&str, &[u8])]) -> Result<()> {
        self.write_all_tx(0, nodes)
    }

    pub fn write_all_tx(&mut self, tx: u32, nodes: &[(&str, &[u8])]) -> Result<()> {
        for chunk in nodes.chunks(MAX_BATCH) {
            let payloads: Vec<Vec<u8>> = chunk.iter().map(|(p, v)| write_payload(p, v)).collect();
            for r in self.requests(&same_kind(Kind::Write, tx, &payloads))? {
                r?;
            }
        }
        Ok(())
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
        entries(&v)
    }

    /// Requests of different kinds that do not depend on each other, watches
    /// among them, in one round trip (at most `MAX_BATCH`): each one's own
    /// answer, in order (a watch's is `Ok` once registered). A watch is
    /// registered before the batch goes out, as its initial event may
    /// follow the reply in the same read; one the daemon refuses is
    /// forgotten again.
    pub fn batch(&mut self, ops: &[Op<'_>]) -> Result<Vec<Result<Vec<u8>>>> {
        let mut fresh = Vec::new();
        let mut refused = None;
        for op in ops {
            if let Op::Watch(path, token) = *op {
                match self.events.register(path, token) {
                    Registered::New => fresh.push(token),
                    Registered::Again => {} // the daemon answers EEXIST
                    Registered::TokenInUse => refused = Some(Error::TokenInUse),
                    Registered::Full => refused = Some(Error::TooManyWatches),
                }
            }
        }
        let payloads: Vec<(Kind, Vec<u8>)> = ops.iter().map(Op::encode).collect();
        let reqs: Vec<(Kind, u32, &[u8])> = payloads
            .iter()
            .map(|(k, p)| (*k, 0, p.as_slice()))
            .collect();
        let got = match refused {
            Some(e) => Err(e),
            None => self.requests(&reqs),
        };
        let got = match got {
            Ok(g) => g,
            Err(e) => {
                for token in fresh {
                    self.events.unregister(token);
                }
                return Err(e);
            }
        };
        for (op, r) in ops.iter().zip(got.iter()) {
            if let (Op::Watch(_, token), Err(_)) = (op, r) {
                if fresh.contains(token) {
                    self.events.unregister(token);
                }
            }
        }
        Ok(got)
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

    /// Watch `path` under `token` (one path per token, at most
    /// `MAX_WATCHES`). Registered before the request goes out, as the
    /// initial event may follow the reply in the same read.
    pub fn watch(&mut self, path: &str, token: &str) -> Result<()> {
        let mut got = self.batch(&[Op::Watch(path, token)])?;
        got.pop().unwrap_or(Err(Error::Timeout)).map(|_| ())
    }

    /// Stop watching; events of `token` still pending or still on their
    /// way are dropped whatever the daemon answers.
    pub fn unwatch(&mut self, path: &str, token: &str) -> Result<()> {
        self.events.unregister(token);
        self.request(Kind::Unwatch, 0, &path_and_token(path, token))
            .map(|_| ())
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

    /// Take the events that arrived, without blocking: one pump (at most
    /// `MAX_MESSAGES_PER_PUMP` messages off the ring), then up to `max`
    /// queued events. The main loop's way in: bounded work per call.
    pub fn poll_events(&mut self, max: usize) -> Result<Polled> {
        self.pump()?;
        let mut events = Vec::new();
        while events.len() < max {
            match self.events.pop() {
                Some(e) => events.push(e),
                None => break,
            }
        }
        Ok(Polled {
            events,
            more: self.readable(),
            lost: self.take_lost(),
        })
    }

    /// A queued watch event, without blocking (pumps once if none is queued).
    /// Looping on this while events arrive need not end: use `poll_events`.
    pub fn poll_event(&mut self) -> Result<Option<WatchEvent>> {
        if self.events.is_empty() {
            self.pump()?;
        }
        Ok(self.events.pop())
    }

    /// Wait for a watch event until `deadline_ns` (or `MAX_WAKEUPS`).
    pub fn wait_event(&mut self, deadline_ns: u64) -> Result<Option<WatchEvent>> {
        self.wait_for(deadline_ns, |c| c.poll_event())
    }

    /// The oldest queued event for `token`, without blocking. Events for
    /// other tokens stay queued for their owners (a shutdown request that
    /// arrives while a driver waits for its backend must not be lost).
    pub fn take_event(&mut self, token: &str) -> Result<Option<WatchEvent>> {
        self.pump()?;
        Ok(self.events.take(token))
    }

    /// Wait until `deadline_ns` (or `MAX_WAKEUPS`) for an event for
    /// `token`; others stay queued.
    pub fn wait_event_for(&mut self, token: &str, deadline_ns: u64) -> Result<Option<WatchEvent>> {
        self.wait_for(deadline_ns, |c| c.take_event(token))
    }

    fn wait_for(
        &mut self,
        deadline_ns: u64,
        mut poll: impl FnMut(&mut Self) -> Result<Option<WatchEvent>>,
    ) -> Result<Option<WatchEvent>> {
        let mut budget = Budget::new(deadline_ns);
        loop {
            if let Some(e) = poll(self)? {
                return Ok(Some(e));
            }
            if budget.spent(self.wait.now_ns()) {
                return Ok(None);
            }
            if self.ring.readable() == 0 {
                self.wait.wait(deadline_ns);
            }
        }
    }

    /// Forget queued events for `token` (after unwatching it). Returns how many.
    pub fn discard_events(&mut self, token: &str) -> usize {
        self.events.discard(token)
    }

    /// Is there anything for us? Never true on a broken connection.
    pub fn readable(&self) -> bool {
        self.broken.is_none() && (!self.events.is_empty() || self.ring.readable() > 0)
    }
}

/// One request of a `batch`, outside any transaction.
#[derive(Clone, Copy, Debug)]
pub enum Op<'a> {
    Read(&'a str),
    Write(&'a str, &'a [u8]),
    Directory(&'a str),
    /// (path, token)
    Watch(&'a str, &'a str),
}

impl Op<'_> {
    fn encode(&self) -> (Kind, Vec<u8>) {
        match *self {
            Op::Read(path) => (Kind::Read, nul(path)),
            Op::Write(path, value) => (Kind::Write, write_payload(path, value)),
            Op::Directory(path) => (Kind::Directory, nul(path)),
            Op::Watch(path, token) => (Kind::Watch, path_and_token(path, token)),
        }
    }
}

/// A directory's answer as its entries.
pub fn entries(v: &[u8]) -> Result<Vec<String>> {
    split_strings(v)
        .into_iter()
        .map(|s| {
            core::str::from_utf8(s)
                .map(String::from)
                .map_err(|_| Error::Protocol(String::from("directory entry not UTF-8")))
        })
        .collect()
}

/// A Write request's payload: the path, NUL, the value.
pub(crate) fn write_payload(path: &str, value: &[u8]) -> Vec<u8> {
    let mut p = nul(path);
    p.extend_from_slice(value);
    p
}

pub(crate) fn nul(s: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(s.len() + 1);
    v.extend_from_slice(s.as_bytes());
    v.push(0);
    v
}

/// One batch of requests of one kind, one per payload, for `requests`.
fn same_kind(kind: Kind, tx: u32, payloads: &[Vec<u8>]) -> Vec<(Kind, u32, &[u8])> {
    payloads.iter().map(|p| (kind, tx, p.as_slice())).collect()
}

fn path_and_token(path: &str, token: &str) -> Vec<u8> {
    let mut p = nul(path);
    p.extend_from_slice(&nul(token));
    p
}

pub(crate) fn text(mut v: Vec<u8>) -> Result<String> {
    if v.last() == Some(&0) {
        v.pop();
    }
    String::from_utf8(v).map_err(|_| Error::Protocol(String::from("value not UTF-8")))
}
