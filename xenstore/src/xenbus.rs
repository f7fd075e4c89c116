//! xenbus conventions on top of the client: front-end state, device
//! enumeration, the control/shutdown protocol, and reporting keys.

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use xenabi::hal::SharedMem;

use crate::client::{Client, Error, Result, Wait};
use crate::wire::Errno;

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

pub fn set_state<M: SharedMem, W: Wait>(c: &mut Client<M, W>, path: &str, s: State) -> Result<()> {
    c.write(
        &format!("{}/state", path),
        format!("{}", s as u8).as_bytes(),
    )
}

/// The devices of one kind (`vif`, `vbd`, ...) the toolstack gave us.
pub fn enumerate<M: SharedMem, W: Wait>(c: &mut Client<M, W>, kind: &str) -> Result<Vec<Device>> {
    let ids = match c.directory(&format!("device/{}", kind)) {
        Ok(ids) => ids,
        Err(Error::Xs(Errno::ENOENT)) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for id in ids {
        let path = format!("device/{}/{}", kind, id);
        let backend = c.read_string(&format!("{}/backend", path))?;
        let backend_id = c
            .read_string(&format!("{}/backend-id", path))?
            .parse::<u16>()
            .map_err(|_| Error::Protocol(format!("{}/backend-id is not a domain id", path)))?;
        let mac = match c.read_string(&format!("{}/mac", path)) {
            Ok(m) => Some(m),
            Err(Error::Xs(Errno::ENOENT)) => None,
            Err(e) => return Err(e),
        };
        out.push(Device {
            path,
            backend,
            backend_id,
            mac,
        });
    }
    Ok(out)
}

/// Wait until the state at `path` satisfies `accept`, or the deadline.
/// Returns the last state seen (check it with `accept` again on timeout).
pub fn wait_state<M: SharedMem, W: Wait>(
    c: &mut Client<M, W>,
    path: &str,
    deadline_ns: u64,
    accept: impl Fn(State) -> bool,
) -> Result<State> {
    let node = format!("{}/state", path);
    let token = format!("wait:{}", node);
    c.watch(&node, &token)?;
    let result = loop {
        let s = match read_state(c, path) {
            Ok(s) => s,
            Err(e) => break Err(e),
        };
        if accept(s) {
            break Ok(s);
        }
        match c.wait_event(deadline_ns) {
            Ok(Some(_)) => continue,
            Ok(None) => break Ok(s),
            Err(e) => break Err(e),
        }
    };
    let _ = c.unwatch(&node, &token);
    result
}

// ---- control: xl shutdown / xl reboot ----

pub const SHUTDOWN_NODE: &str = "control/shutdown";
pub const SHUTDOWN_TOKEN: &str = "control-shutdown";

/// What the toolstack asked for in `control/shutdown`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    Poweroff,
    Reboot,
    /// Suspend (or anything else) that we do not implement.
    Unsupported(String),
}

/// Tell the toolstack which requests we honour (we have no suspend), and
/// watch for them.
pub fn control_init<M: SharedMem, W: Wait>(c: &mut Client<M, W>) -> Result<()> {
    c.write("control/feature-poweroff", b"1")?;
    c.write("control/feature-reboot", b"1")?;
    c.write("control/feature-suspend", b"0")?;
    c.watch(SHUTDOWN_NODE, SHUTDOWN_TOKEN)
}

/// Read and acknowledge (clear) a shutdown request, if there is one.
pub fn take_request<M: SharedMem, W: Wait>(c: &mut Client<M, W>) -> Result<Option<Request>> {
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
            x => Request::Unsupported(x),
        };
        if !matches!(req, Request::Unsupported(_)) {
            c.write_tx(tx, SHUTDOWN_NODE, b"")?; // acknowledge: the toolstack waits for this
        }
        Ok(Some(req))
    })
}

// ---- reporting ----

/// Write one of our own keys (`data/...` or `attr/...`), relative to our domain path.
pub fn report<M: SharedMem, W: Wait>(c: &mut Client<M, W>, key: &str, value: &str) -> Result<()> {
    if !(key.starts_with("data/") || key.starts_with("attr/")) {
        return Err(Error::Xs(Errno::EINVAL));
    }
    c.write(key, value.as_bytes())
}
