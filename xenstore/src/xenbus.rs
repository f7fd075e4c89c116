//! xenbus conventions on top of the client: front-end state, device
//! enumeration, the control/shutdown protocol, and reporting keys.

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use xenabi::hal::SharedMem;

use xenabi::xs_wire as xs;

use crate::client::{
    entries, nul, text, write_payload, Budget, Client, Error, Op, Result, Wait, MAX_BATCH,
};
use crate::wire::{Errno, Kind};

/// Longest MAC text taken from a device: `00:16:3e:00:00:02`.
pub const MAC_TEXT_MAX: usize = 17;
/// Longest device id under `device/<kind>/`.
pub const DEVICE_ID_MAX: usize = 32;
/// Longest `control/shutdown` value kept in `Request::Unsupported`.
pub const REQUEST_TEXT_MAX: usize = 32;

fn is_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-_@".contains(&b)
}

/// A device id: xenstored's path characters, no `/`: safe on a console.
fn is_device_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= DEVICE_ID_MAX && s.bytes().all(is_name_char)
}

/// An absolute path in xenstored's character set: safe on a console.
fn is_abs_path(s: &str) -> bool {
    s.starts_with('/')
        && s.len() <= xs::XENSTORE_ABS_PATH_MAX
        && !s.contains("//")
        && s.bytes().all(|b| b == b'/' || is_name_char(b))
}

/// A domain id as the toolstack writes it: 1-5 digits, within u16.
fn parse_domid(s: &str) -> Option<u16> {
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn bad(node: String, reason: &'static str) -> Error {
    Error::BadValue { node, reason }
}

/// enum xenbus_state (io/xenbus.h)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Unknown = 0,
    Initialising = 1,
    InitWait = 2,
    Initialised = 3,
    Connected = 4,
    Closing = 5,
    Closed = 6,
    Reconfiguring = 7,
    Reconfigured = 8,
}

impl State {
    pub fn from_str(s: &str) -> Option<State> {
        let n: u8 = s.trim().parse().ok()?;
        [
            State::Unknown,
            State::Initialising,
            State::InitWait,
            State::Initialised,
            State::Connected,
            State::Closing,
            State::Closed,
            State::Reconfiguring,
            State::Reconfigured,
        ]
        .get(n as usize)
        .copied()
    }
}

/// A device under our `device/` directory, e.g. `device/vif/0`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    pub path: String,
    pub backend: String,
    pub backend_id: u16,
    pub mac: Option<String>,
}

/// Read a device's state node (`<path>/state`). A missing or unparsable
/// state reads as `Unknown` / `Closed` so a vanished peer looks closed.
pub fn read_state<M: SharedMem, W: Wait>(c: &mut Client<M, W>, path: &str) -> Result<State> {
    match c.read_string(&format!("{}/state", path)) {
        Ok(s) => Ok(State::from_str(&s).unwrap_or(State::Unknown)),
        Err(Error::Xs(Errno::ENOENT)) => Ok(State::Closed),
        Err(e) => Err(e),
    }
}

/// The devices of one kind (`vif`, `vbd`, ...) the toolstack gave us.
pub fn enumerate<M: SharedMem, W: Wait>(c: &mut Client<M, W>, kind: &str) -> Result<Vec<Device>> {
    let dir = format!("device/{}", kind);
    let listed = c
        .batch(&[Op::Directory(&dir)])?
        .pop()
        .unwrap_or(Err(Error::Timeout));
    let ids = device_ids(kind, listed)?;
    read_devices(c, &ids)
}

/// `device/KIND`'s entries from its Directory answer (none when it is
/// missing), as (kind, id) for `read_devices`; anything but a device id
/// is an error.
pub fn device_ids<'k>(kind: &'k str, listed: Result<Vec<u8>>) -> Result<Vec<(&'k str, String)>> {
    let ids = match listed.and_then(|v| entries(&v)) {
        Ok(ids) => ids,
        Err(Error::Xs(Errno::ENOENT)) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    match ids.iter().find(|id| !is_device_id(id)) {
        Some(_) => Err(bad(format!("device/{}", kind), "entry is not a device id")),
        None => Ok(ids.into_iter().map(|id| (kind, id)).collect()),
    }
}

/// Each device's backend, backend-id and mac (kinds may be mixed): the
/// nodes of five devices per round trip.
pub fn read_devices<M: SharedMem, W: Wait>(
    c: &mut Client<M, W>,
    ids: &[(&str, String)],
) -> Result<Vec<Device>> {
    const NODES: [&str; 3] = ["backend", "backend-id", "mac"];
    let mut out = Vec::new();
    for chunk in ids.chunks(MAX_BATCH / NODES.len()) {
        let paths: Vec<String> = chunk
            .iter()
            .flat_map(|(kind, id)| {
                NODES
                    .iter()
                    .map(move |n| format!("device/{}/{}/{}", kind, id, n))
            })
            .collect();
        let ops: Vec<Op> = paths.iter().map(|p| Op::Read(p)).collect();
        let mut got = c.batch(&ops)?.into_iter().map(|r| r.and_then(text));
        for (kind, id) in chunk {
            let mut next = || got.next().unwrap_or(Err(Error::Timeout));
            let (backend, backend_id, mac) = (next(), next(), next());
            out.push(device(
                format!("device/{}/{}", kind, id),
                backend,
                backend_id,
                mac,
            )?);
        }
    }
    Ok(out)
}

/// A device from its three nodes' answers, each checked.
fn device(
    path: String,
    backend: Result<String>,
    backend_id: Result<String>,
    mac: Result<String>,
) -> Result<Device> {
    let node = |key: &str| format!("{}/{}", path, key);
    let backend = backend?;
    if !is_abs_path(&backend) {
        return Err(bad(node("backend"), "not an absolute path"));
    }
    let backend_id =
        parse_domid(&backend_id?).ok_or_else(|| bad(node("backend-id"), "not a domain id"))?;
    let mac = match mac {
        Ok(m) if m.len() > MAC_TEXT_MAX => return Err(bad(node("mac"), "over 17 bytes")),
        Ok(m) => Some(m),
        Err(Error::Xs(Errno::ENOENT)) => None,
        Err(e) => return Err(e),
    };
    Ok(Device {
        path,
        backend,
        backend_id,
        mac,
    })
}

/// A backend's state node, with "gone" (the node or the whole backend
/// directory removed) kept apart from a backend that says Closed.
pub fn read_backend<M: SharedMem, W: Wait>(
    c: &mut Client<M, W>,
    backend: &str,
) -> Result<Option<State>> {
    backend_state(c.read(&format!("{}/state", backend)))
}

/// A backend state node's Read answer as `read_backend` says it.
fn backend_state(answer: Result<Vec<u8>>) -> Result<Option<State>> {
    match answer.and_then(text) {
        Ok(s) => Ok(Some(State::from_str(&s).unwrap_or(State::Unknown))),
        Err(Error::Xs(Errno::ENOENT)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Why a front-end could not move on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrontendError {
    Store(Error),
    /// The backend did not reach an acceptable state in time; its last state.
    Timeout(State),
    /// The backend's state node disappeared (backend domain or device gone).
    BackendGone,
    /// Our own device directory is gone (the toolstack removed the device).
    DeviceGone,
    /// A state change the xenbus protocol does not allow.
    BadTransition {
        from: State,
        to: State,
    },
}

impl From<Error> for FrontendError {
    fn from(e: Error) -> Self {
        FrontendError::Store(e)
    }
}

impl core::fmt::Display for FrontendError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FrontendError::Store(e) => write!(f, "xenstore: {}", e),
            FrontendError::Timeout(s) => write!(f, "backend stuck in {:?}", s),
            FrontendError::BackendGone => f.write_str("backend went away"),
            FrontendError::DeviceGone => f.write_str("device removed"),
            FrontendError::BadTransition { from, to } => {
                write!(f, "state change {:?} -> {:?} not allowed", from, to)
            }
        }
    }
}

/// The front-end half of the xenbus handshake for one device:
/// Initialising -> (Initialised ->) Connected, and Closing -> Closed from
/// anywhere. It watches the backend's state under its own token, so events
/// meant for others stay queued.
pub struct Frontend {
    pub dev: Device,
    state: State,
    token: String,
    watching: bool,
}

impl Frontend {
    pub fn new(dev: Device) -> Self {
        let token = format!("be-state:{}", dev.path);
        Frontend {
            dev,
            state: State::Unknown,
            token,
            watching: false,
        }
    }

    /// Our state as last published.
    pub fn state(&self) -> State {
        self.state
    }

    /// The watch token for the backend's state node.
    pub fn token(&self) -> &str {
        &self.token
    }

    fn allowed(from: State, to: State) -> bool {
        use State::*;
        match to {
            _ if from == to => true,
            Closing | Closed => true,
            Initialising => matches!(from, Unknown | Closed),
            Initialised => from == Initialising,
            Connected => matches!(from, Initialising | Initialised),
            _ => false,
        }
    }

    /// Publish our new state. Done in a transaction that first checks our
    /// state node still exists, so a device the toolstack removed is not
    /// brought back to life by our write.
    pub fn switch<M: SharedMem, W: Wait>(
        &mut self,
        c: &mut Client<M, W>,
        to: State,
    ) -> core::result::Result<(), FrontendError> {
        self.switch_with(c, to, &[])
    }

    /// `switch`, with `writes` (a device's ring and feature keys) committed
    /// in the same transaction: the backend sees them with the state, and
    /// the whole costs one batch besides the transaction's start and end.
    pub fn switch_with<M: SharedMem, W: Wait>(
        &mut self,
        c: &mut Client<M, W>,
        to: State,
        writes: &[(&str, &[u8])],
    ) -> core::result::Result<(), FrontendError> {
        if !Self::allowed(self.state, to) {
            return Err(FrontendError::BadTransition {
                from: self.state,
                to,
            });
        }
        let node = format!("{}/state", self.dev.path);
        let write = write_payload(&node, format!("{}", to as u8).as_bytes());
        // the read and the write in one round trip: if the node was gone,
        // the write (which would have made it again) is aborted with the
        // transaction
        let extra: Vec<Vec<u8>> = writes.iter().map(|(p, v)| write_payload(p, v)).collect();
        let r = c.transaction(|c, tx| {
            let mut reqs = Vec::with_capacity(extra.len() + 2);
            reqs.push((Kind::Read, tx, nul(&node)));
            reqs.extend(extra.iter().map(|p| (Kind::Write, tx, p.clone())));
            reqs.push((Kind::Write, tx, write.clone()));
            let reqs: Vec<(Kind, u32, &[u8])> = reqs
                .iter()
                .map(|(k, t, p)| (*k, *t, p.as_slice()))
                .collect();
            // the read's failure (our node is gone) first, then any write's
            c.requests(&reqs)?
                .into_iter()
                .try_for_each(|r| r.map(|_| ()))
        });
        match r {
            Ok(()) => {
                self.state = to;
                Ok(())
            }
            Err(Error::Xs(Errno::ENOENT)) => Err(FrontendError::DeviceGone),
            Err(e) => Err(e.into()),
        }
    }

    /// Start watching the backend's state (idempotent).
    pub fn watch_backend<M: SharedMem, W: Wait>(&mut self, c: &mut Client<M, W>) -> Result<()> {
        self.watch_and_read(c).map(|_| ())
    }

    /// `watch_backend`; when the watch is new, the state is read in the same
    /// round trip (after the watch: a later change brings an event) and
    /// returned.
    fn watch_and_read<M: SharedMem, W: Wait>(
        &mut self,
        c: &mut Client<M, W>,
    ) -> Result<Option<Option<State>>> {
        if self.watching {
            return Ok(None);
        }
        let node = format!("{}/state", self.dev.backend);
        let mut got = c
            .batch(&[Op::Watch(&node, &self.token), Op::Read(&node)])?
            .into_iter();
        got.next().unwrap_or(Err(Error::Timeout))?;
        self.watching = true;
        backend_state(got.next().unwrap_or(Err(Error::Timeout))).map(Some)
    }

    pub fn unwatch_backend<M: SharedMem, W: Wait>(&mut self, c: &mut Client<M, W>) -> Result<()> {
        if self.watching {
            self.watching = false;
            c.discard_events(&self.token);
            c.unwatch(&format!("{}/state", self.dev.backend), &self.token)?;
        }
        Ok(())
    }

    /// Whether the backend's watch fired: one pump, then every event of
    /// ours that is queued is taken. Never loops while events keep coming.
    fn drain_events<M: SharedMem, W: Wait>(&self, c: &mut Client<M, W>) -> Result<bool> {
        let fired = c.take_event(&self.token)?.is_some();
        Ok(c.discard_events(&self.token) > 0 || fired)
    }

    /// For the main loop, without blocking: the backend's state if its
    /// watch fired since the last call (`Some(None)`: the backend is gone),
    /// `None` if nothing happened.
    pub fn poll_backend<M: SharedMem, W: Wait>(
        &mut self,
        c: &mut Client<M, W>,
    ) -> Result<Option<Option<State>>> {
        if !self.drain_events(c)? {
            return Ok(None);
        }
        read_backend(c, &self.dev.backend).map(Some)
    }

    /// Wait until the backend's state satisfies `accept`, ending by
    /// `deadline_ns` (every request in it included) or after `MAX_WAKEUPS`
    /// rounds, however often the backend rewrites its state. A vanished
    /// backend ends the wait at once.
    pub fn wait_backend<M: SharedMem, W: Wait>(
        &mut self,
        c: &mut Client<M, W>,
        deadline_ns: u64,
        accept: impl Fn(State) -> bool,
    ) -> core::result::Result<State, FrontendError> {
        let mut budget = Budget::new(deadline_ns);
        let mut last = State::Unknown;
        let r = c.within(deadline_ns, |c| {
            let mut first = self.watch_and_read(c)?;
            loop {
                // read after any events (and once at the start, with the
                // watch when it is new): however many came, the node's
                // value is the truth
                let with_watch = first.take();
                let now = match with_watch {
                    Some(s) => s,
                    None => {
                        self.drain_events(c)?;
                        read_backend(c, &self.dev.backend)?
                    }
                };
                last = now.ok_or(FrontendError::BackendGone)?;
                if accept(last) {
                    return Ok(last);
                }
                if with_watch.is_some() {
                    // events since that read (the watch's first, at least)
                    // are drained and the node read again before any wait
                    continue;
                }
                if budget.spent(c.waiter().now_ns())
                    || c.wait_event_for(&self.token, deadline_ns)?.is_none()
                {
                    return Err(FrontendError::Timeout(last));
                }
            }
        });
        match r {
            // a request cut short by our deadline: the wait timed out
            Err(FrontendError::Store(Error::Timeout)) if c.waiter().now_ns() >= deadline_ns => {
                Err(FrontendError::Timeout(last))
            }
            r => r,
        }
    }

    /// Orderly shutdown: Closing, wait for the backend to close or vanish,
    /// Closed, wait for the backend's Closed (or for it to vanish): only then
    /// has it let go of what we granted. A Closing the toolstack wrote on
    /// detach comes before the backend's own disconnect, so the first wait
    /// alone proves nothing. Both waits end by `deadline_ns`; Closed is
    /// published even if the backend never answered; stops watching it.
    pub fn close<M: SharedMem, W: Wait>(
        &mut self,
        c: &mut Client<M, W>,
        deadline_ns: u64,
    ) -> core::result::Result<(), FrontendError> {
        let wait_for = |f: &mut Self, c: &mut Client<M, W>, closing: bool| match f.wait_backend(
            c,
            deadline_ns,
            |s| matches!(s, State::Closed | State::Unknown) || (closing && s == State::Closing),
        ) {
            Ok(_) | Err(FrontendError::BackendGone) => Ok(()),
            Err(e) => Err(e),
        };
        // Closed is published whatever happened before, with the client's
        // own request timeout: the only step that may run past the deadline
        let waited = c
            .within(deadline_ns, |c| self.switch(c, State::Closing))
            .and_then(|_| wait_for(self, c, true));
        let closed = self.switch(c, State::Closed);
        let released = wait_for(self, c, false);
        let unwatched = self.unwatch_backend(c).map_err(FrontendError::Store);
        waited.and(closed).and(released).and(unwatched)
    }
}

// ---- control: xl shutdown / xl reboot ----

pub const SHUTDOWN_NODE: &str = "control/shutdown";
pub const SHUTDOWN_TOKEN: &str = "control-shutdown";

/// What the toolstack asked for in `control/shutdown`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    Poweroff,
    Reboot,
    /// Suspend (or anything else) that we do not implement; at most
    /// `REQUEST_TEXT_MAX` bytes of what was asked.
    Unsupported(String),
}

/// Tell the toolstack which requests we honour (we have no suspend), and
/// watch for them.
pub fn control_init<M: SharedMem, W: Wait>(c: &mut Client<M, W>) -> Result<()> {
    for r in c.batch(&control_ops())? {
        r?;
    }
    Ok(())
}

/// `control_init`'s requests, for a caller's own batch.
pub fn control_ops() -> [Op<'static>; 4] {
    [
        Op::Write("control/feature-poweroff", b"1"),
        Op::Write("control/feature-reboot", b"1"),
        Op::Write("control/feature-suspend", b"0"),
        Op::Watch(SHUTDOWN_NODE, SHUTDOWN_TOKEN),
    ]
}

/// Read and acknowledge (clear) a shutdown request, if there is one.
pub fn take_request<M: SharedMem, W: Wait>(c: &mut Client<M, W>) -> Result<Option<Request>> {
    // nearly always there is none (the watch fires once when set up): one
    // plain read says so; only a request is read again and cleared atomically
    match c.read(SHUTDOWN_NODE) {
        Ok(v)
            if String::from_utf8_lossy(&v)
                .trim_matches(|ch: char| ch == '\0' || ch.is_whitespace())
                .is_empty() =>
        {
            return Ok(None)
        }
        Err(Error::Xs(Errno::ENOENT)) => return Ok(None),
        Err(e) => return Err(e),
        Ok(_) => {}
    }
    c.transaction(|c, tx| {
        let v = match c.read_tx(tx, SHUTDOWN_NODE) {
            Ok(v) => v,
            Err(Error::Xs(Errno::ENOENT)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let s: String = String::from_utf8_lossy(&v)
            .trim_end_matches('\0')
            .trim()
            .into();
        let req = match s {
            ref x if x.is_empty() => return Ok(None),
            ref x if x == "poweroff" || x == "halt" => Request::Poweroff,
            ref x if x == "reboot" => Request::Reboot,
            x => Request::Unsupported(truncate(x, REQUEST_TEXT_MAX)),
        };
        if !matches!(req, Request::Unsupported(_)) {
            c.write_tx(tx, SHUTDOWN_NODE, b"")?; // acknowledge: the toolstack waits for this
        }
        Ok(Some(req))
    })
}

/// `s` cut to at most `max` bytes, at a character boundary.
fn truncate(mut s: String, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    s
}

/// Our domain id, from the `domid` node the toolstack writes.
pub fn read_domid<M: SharedMem, W: Wait>(c: &mut Client<M, W>) -> Result<u16> {
    parse_domid(c.read_string("domid")?.trim())
        .ok_or_else(|| bad("domid".into(), "not a domain id"))
}

// ---- reporting ----

/// Write one of our own keys (`data/...` or `attr/...`), relative to our domain path.
pub fn report<M: SharedMem, W: Wait>(c: &mut Client<M, W>, key: &str, value: &str) -> Result<()> {
    report_all(c, &[(key, value)])
}

/// `report` for many keys in one batch (one round trip); a key outside
/// `data/` and `attr/` refuses the whole report before anything is sent.
pub fn report_all<M: SharedMem, W: Wait, V: AsRef<str>>(
    c: &mut Client<M, W>,
    keys: &[(&str, V)],
) -> Result<()> {
    if !keys
        .iter()
        .all(|(k, _)| k.starts_with("data/") || k.starts_with("attr/"))
    {
        return Err(Error::Xs(Errno::EINVAL));
    }
    let nodes: Vec<(&str, &[u8])> = keys
        .iter()
        .map(|(k, v)| (*k, v.as_ref().as_bytes()))
        .collect();
    c.write_all(&nodes)
}
