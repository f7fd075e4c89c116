//! One SSH connection: the transport below, user authentication and the one
//! session channel above, the session's commands turned into `Request`s for
//! the host.
//!
//! The driver's loop (the kernel's over smoltcp, the host tests' over TCP):
//!
//! ```text
//! let mut c = Connection::new(now, seed);        // seed: 32 fresh bytes from the RNG
//! loop {
//!     n = c.input(&received, now); drop n bytes;   // 0: poll first, then offer again
//!     if the peer closed its side { c.peer_closed() }
//!     c.poll(&policy, &hostkey, now);
//!     if let Some(r) = c.take_request() { c.answer(&text, exit_status); c.poll(..) }
//!     send c.output(); c.consume(bytes sent);
//!     print c.notes();                             // raw peer values: quote them
//!     if c.closed().is_some() && c.output().is_empty() { orderly TCP close; break }
//!     sleep until c.next_deadline(&policy) or new input
//! }
//! ```
//!
//! Memory per connection is bounded: input 64 KiB (`packet::RECV_BUFFER`);
//! encrypted output stops growing past `OUT_HIGH` plus one data packet
//! (input is then not read); session output past `OUT_HIGH` (keystrokes
//! then wait) plus one answer (`MAX_ANSWER`); typeahead at the channel
//! window (`channel::WINDOW`): about 350 KiB at worst, a few KiB when idle.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::auth::Policy;
use crate::channel::open_failure;
use crate::channel::{self, Channel, Incoming};
use crate::hostkey::HostKey;
use crate::msg::{self, reason};
use crate::shell::{self, Command, Key, LineEditor, Request};
use crate::transport::{Fatal, Step, Transport};
use crate::userauth::{self, Outcome};
use crate::wire::Reader;

/// What happened, for the console (the driver adds the peer address).
/// `user`, `line` and the key fingerprints are peer-controlled: quote them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Note {
    Login {
        user: String,
        key: String,
    },
    Refused {
        user: String,
        reason: &'static str,
        key: Option<String>,
    },
    Command {
        user: String,
        line: String,
    },
    Closed {
        reason: String,
    },
}

const PROMPT: &str = "appliance> ";
/// Encrypted output queued before input is no longer read.
pub const OUT_HIGH: usize = 64 * 1024;
/// The longest answer shown; more is cut.
pub const MAX_ANSWER: usize = 64 * 1024;
/// Packets handled per `poll` (then `next_deadline` says: at once).
const STEPS_PER_POLL: usize = 64;
/// After our CLOSE, how long the client has to send its own.
pub const CLOSE_WAIT_NS: u64 = 5_000_000_000;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Idle,
    Exec,
    Shell,
}

/// The session: prompt, line editing, output for the channel, the request
/// the host is working on.
#[cfg_attr(any(test, feature = "test-client"), derive(Clone))]
struct Session {
    pty: bool,
    mode: Mode,
    editor: LineEditor,
    /// Keystrokes received but not yet handled (typed ahead of a running
    /// command); bounded by the window we grant.
    typeahead: Vec<u8>,
    /// Output not yet sent as channel data.
    out: Vec<u8>,
    pending: Option<Request>,
    request_taken: bool,
    /// The session is over: the reason and the exit status to send once
    /// `out` is flushed.
    finishing: Option<(&'static str, u32)>,
    user: String,
    notes: Vec<Note>,
}

#[cfg_attr(any(test, feature = "test-client"), derive(Clone))]
pub struct Connection {
    t: Transport,
    chan: Option<Channel>,
    /// A session channel was opened (one per connection).
    opened: bool,
    s: Session,
    authenticated: bool,
    failures: u32,
    not_before: u64,
    started: u64,
    last_input: u64,
    close_by: Option<u64>,
    more_work: bool,
    closed: Option<String>,
}

impl Connection {
    /// `seed`: 32 bytes from the caller's hardware RNG, fresh for each
    /// connection (the ephemeral key, cookie and padding come from it).
    pub fn new(now: u64, seed: [u8; 32]) -> Connection {
        Connection {
            t: Transport::new(seed),
            chan: None,
            opened: false,
            s: Session {
                pty: false,
                mode: Mode::Idle,
                editor: LineEditor::default(),
                typeahead: Vec::new(),
                out: Vec::new(),
                pending: None,
                request_taken: false,
                finishing: None,
                user: String::new(),
                notes: Vec::new(),
            },
            authenticated: false,
            failures: 0,
            not_before: 0,
            started: now,
            last_input: now,
            close_by: None,
            more_work: false,
            closed: None,
        }
    }

    /// Take bytes from the peer; returns how many were taken (0: call `poll`
    /// and offer them again; nothing is read during a failure delay or
    /// while our output waits for the peer to read it).
    pub fn input(&mut self, data: &[u8], now: u64) -> usize {
        if self.closed.is_some() {
            return data.len();
        }
        if now < self.not_before || data.is_empty() || self.t.output().len() >= OUT_HIGH {
            return 0;
        }
        let n = self.t.push(data);
        if n > 0 {
            self.last_input = now;
        }
        n
    }

    /// The peer closed its side of the TCP connection.
    pub fn peer_closed(&mut self) {
        self.close("client closed the connection".into());
    }

    /// Bytes to send to the peer (consume what was sent).
    pub fn output(&self) -> &[u8] {
        self.t.output()
    }

    pub fn consume(&mut self, n: usize) {
        self.t.consume(n)
    }

    /// Set once the connection is over; close the socket when `output()`
    /// is empty.
    pub fn closed(&self) -> Option<&str> {
        self.closed.as_deref()
    }

    pub fn authenticated(&self) -> bool {
        self.authenticated
    }

    /// Milliseconds from the connection's start (the `now` given to `new`)
    /// to `now`: what its log lines say a login or a session took.
    pub fn elapsed_ms(&self, now: u64) -> u64 {
        now.saturating_sub(self.started) / 1_000_000
    }

    /// Strict key exchange was negotiated (the Terrapin fix).
    pub fn strict_kex(&self) -> bool {
        self.t.strict()
    }

    /// For tests: the transport underneath.
    #[cfg(any(test, feature = "test-client"))]
    pub fn transport(&mut self) -> &mut Transport {
        &mut self.t
    }

    pub fn notes(&mut self) -> Vec<Note> {
        core::mem::take(&mut self.s.notes)
    }

    /// A command for the host, once; `answer()` it.
    pub fn take_request(&mut self) -> Option<Request> {
        if self.s.request_taken {
            return None;
        }
        let r = self.s.pending.clone()?;
        self.s.request_taken = true;
        Some(r)
    }

    /// The host's answer to the request taken, and its exit status (0
    /// success): shown to the user, then the prompt again (shell) or the
    /// end of the session with that status (command).
    pub fn answer(&mut self, text: &str, exit_status: u32) {
        let Some(req) = self.s.pending.take() else {
            return;
        };
        self.s.request_taken = false;
        let mut end = text.len().min(MAX_ANSWER);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let shown = &text[..end];
        self.s.write(shown.as_bytes());
        if !shown.ends_with('\n') {
            self.s.write(b"\n");
        }
        if end < text.len() {
            self.s.write(b"(output cut)\n");
        }
        match req {
            Request::Poweroff | Request::Reboot => {
                self.s.finish("appliance going down", exit_status)
            }
            _ => self.s.end_command(exit_status),
        }
    }

    /// When `poll` should next run without new input (timeouts, the end of
    /// a failure delay, work left over).
    pub fn next_deadline(&self, policy: &Policy) -> Option<u64> {
        if self.closed.is_some() {
            return None;
        }
        if self.more_work {
            return Some(0);
        }
        let l = &policy.limits;
        let mut d = self.last_input.saturating_add(l.idle_timeout_ns);
        if !self.authenticated {
            d = d.min(self.started.saturating_add(l.login_grace_ns));
        }
        if self.not_before > 0 {
            d = d.min(self.not_before);
        }
        if let Some(t) = self.close_by {
            d = d.min(t);
        }
        Some(d)
    }

    /// Run the protocol: timeouts, the packets that came in, the session's
    /// keystrokes, its output, its end.
    pub fn poll(&mut self, policy: &Policy, hostkey: &HostKey, now: u64) {
        if self.closed.is_some() {
            return;
        }
        let l = &policy.limits;
        if !self.authenticated && now.saturating_sub(self.started) >= l.login_grace_ns {
            return self.fatal(Fatal::new(
                reason::BY_APPLICATION,
                "not authenticated in time",
            ));
        }
        if now.saturating_sub(self.last_input) >= l.idle_timeout_ns {
            return self.fatal(Fatal::new(reason::BY_APPLICATION, "idle timeout"));
        }
        if self.close_by.is_some_and(|t| now >= t) {
            let why = self.s.finishing.map_or("session ended", |f| f.0);
            return self.close(why.into());
        }
        self.more_work = false;
        for i in 0.. {
            if now < self.not_before || self.t.output().len() >= OUT_HIGH || self.closed.is_some() {
                break;
            }
            if i == STEPS_PER_POLL {
                self.more_work = true;
                break;
            }
            match self.t.step(hostkey) {
                Ok(Step::Wait) => break,
                Ok(Step::Handled) => {}
                Ok(Step::Message(m, seq)) => {
                    if let Err(f) = self.message(&m, seq, policy, now) {
                        return self.fatal(f);
                    }
                }
                Err(f) => return self.fatal(f),
            }
        }
        if self.closed.is_some() {
            return;
        }
        self.session_input();
        self.flush(now);
    }

    fn close(&mut self, reason: String) {
        if self.closed.is_none() {
            self.s.notes.push(Note::Closed {
                reason: reason.clone(),
            });
            self.closed = Some(reason);
        }
    }

    /// DISCONNECT with the reason (unless the client disconnected), then closed.
    fn fatal(&mut self, f: Fatal) {
        if self.closed.is_some() {
            return;
        }
        if let Some(code) = f.code {
            self.t.disconnect(code, f.reason);
        }
        self.close(f.reason.into());
    }

    fn refuse(&mut self, why: &'static str, key: Option<String>, policy: &Policy, now: u64) {
        self.failures += 1;
        self.not_before = now.saturating_add(policy.limits.fail_delay_ns);
        self.s.notes.push(Note::Refused {
            user: self.s.user.clone(),
            reason: why,
            key,
        });
        if self.failures >= policy.limits.max_failures {
            self.fatal(Fatal::new(
                reason::NO_MORE_AUTH_METHODS_AVAILABLE,
                "too many failed attempts",
            ));
        }
    }

    /// A message of the layers above the transport.
    fn message(&mut self, m: &[u8], seq: u32, policy: &Policy, now: u64) -> Result<(), Fatal> {
        let n = m.first().copied().unwrap_or(0);
        match n {
            msg::USERAUTH_REQUEST if self.authenticated => Ok(()), // RFC 4252 §5.1: ignored
            msg::USERAUTH_REQUEST => {
                let sid = self.t.session_id().copied().unwrap_or_default();
                let (user, outcome) = userauth::request(m, &sid, policy)?;
                self.s.user = user;
                match outcome {
                    Outcome::Methods => self.t.send(&userauth::failure()),
                    Outcome::Refused(why, key) => {
                        self.t.send(&userauth::failure());
                        self.refuse(why, key, policy, now);
                    }
                    Outcome::PkOk(reply) => self.t.send(&reply),
                    Outcome::Success(key) => {
                        self.t.send(&[msg::USERAUTH_SUCCESS]);
                        self.authenticated = true;
                        self.s.notes.push(Note::Login {
                            user: self.s.user.clone(),
                            key,
                        });
                    }
                }
                Ok(())
            }
            msg::GLOBAL_REQUEST..=msg::CHANNEL_FAILURE if !self.authenticated => {
                Err(Fatal::protocol("connection protocol before authentication"))
            }
            msg::GLOBAL_REQUEST => {
                // keepalive@openssh.com and forwarding requests: all refused.
                let mut r = Reader::new(m);
                r.u8()?;
                r.string()?;
                if r.bool()? {
                    self.t.send(&[msg::REQUEST_FAILURE]);
                }
                Ok(())
            }
            msg::CHANNEL_OPEN..=msg::CHANNEL_FAILURE => {
                let incoming = channel::parse(m).map_err(Fatal::protocol)?;
                self.channel(incoming)
            }
            _ => {
                self.t.unimplemented(seq);
                Ok(())
            }
        }
    }

    fn channel(&mut self, m: Incoming) -> Result<(), Fatal> {
        if let Incoming::Open {
            kind,
            sender,
            window,
            max_packet,
        } = m
        {
            let reply = match (kind, self.opened) {
                (b"session", false) => {
                    let (ch, confirm) = Channel::open(sender, window, max_packet);
                    self.chan = Some(ch);
                    self.opened = true;
                    confirm
                }
                (b"session", true) => open_failure(
                    sender,
                    msg::open_failure::ADMINISTRATIVELY_PROHIBITED,
                    "one session per connection",
                ),
                _ => open_failure(
                    sender,
                    msg::open_failure::UNKNOWN_CHANNEL_TYPE,
                    "only session channels (no forwarding)",
                ),
            };
            self.t.send(&reply);
            return Ok(());
        }
        let Some(ch) = self.chan.as_mut() else {
            return Err(Fatal::protocol("message for a channel that is not open"));
        };
        match m {
            Incoming::Open { .. } | Incoming::Reply => {}
            Incoming::WindowAdjust(n) => ch.window_adjust(n),
            Incoming::Data(d) => {
                ch.receive(d.len()).map_err(Fatal::protocol)?;
                if self.s.mode == Mode::Shell {
                    self.s.typeahead.extend_from_slice(d);
                } else if let Some(adj) = ch.consumed(d.len()) {
                    self.t.send(&adj); // a command's stdin is not used
                }
            }
            Incoming::ExtendedData(d) => {
                ch.receive(d.len()).map_err(Fatal::protocol)?;
                if let Some(adj) = ch.consumed(d.len()) {
                    self.t.send(&adj);
                }
            }
            Incoming::Eof => ch.got_eof = true,
            Incoming::Close => {
                if !ch.sent_close {
                    let close = ch.close();
                    self.t.send(&close);
                }
                let why = self
                    .s
                    .finishing
                    .map_or("client closed the channel", |f| f.0);
                self.close(why.into());
            }
            Incoming::Request {
                kind,
                want_reply,
                args,
            } => {
                let ok = self.s.request(kind, args);
                if want_reply {
                    let reply = ch.reply(ok);
                    self.t.send(&reply);
                }
            }
        }
        Ok(())
    }

    /// Keystrokes typed ahead, while no command runs; the window they held
    /// is given back.
    fn session_input(&mut self) {
        let Some(ch) = self.chan.as_mut() else {
            return;
        };
        let mut used = 0;
        while let Some(&b) = self.s.typeahead.get(used) {
            let busy = self.s.pending.is_some() || self.s.finishing.is_some();
            // Echo for a peer that does not read: the keys wait (and the window with them).
            if busy || self.s.out.len() >= OUT_HIGH {
                break;
            }
            used += 1;
            self.s.key(b);
        }
        self.s.typeahead.drain(..used);
        if let Some(adj) = ch.consumed(used) {
            self.t.send(&adj);
        }
        let idle = self.s.pending.is_none() && self.s.typeahead.is_empty();
        if ch.got_eof && self.s.mode == Mode::Shell && idle {
            self.s.finish("logout", 0);
        }
    }

    /// Session output as channel data, as far as the window and our output
    /// bound allow; then, once finished and flushed, the end of the channel.
    fn flush(&mut self, now: u64) {
        let Some(ch) = self.chan.as_mut() else {
            return;
        };
        if !self.t.can_send_app() || ch.sent_close {
            return;
        }
        while !self.s.out.is_empty() && self.t.output().len() < OUT_HIGH {
            let Some((m, n)) = ch.data(&self.s.out) else {
                break;
            };
            self.t.send(&m);
            self.s.out.drain(..n);
        }
        if let (Some((_, status)), true) = (self.s.finishing, self.s.out.is_empty()) {
            for m in ch.end(status) {
                self.t.send(&m);
            }
            self.close_by = Some(now.saturating_add(CLOSE_WAIT_NS));
        }
    }
}

impl Session {
    /// A channel request; whether it succeeded.
    fn request(&mut self, kind: &[u8], mut args: Reader) -> bool {
        match kind {
            b"pty-req" => {
                self.pty = true;
                true
            }
            b"window-change" => true,
            b"shell" if self.mode == Mode::Idle => {
                self.mode = Mode::Shell;
                let banner = format!(
                    "appliance {} ({}); {}\n",
                    env!("CARGO_PKG_VERSION"),
                    self.user,
                    shell::HELP
                );
                self.write(banner.as_bytes());
                self.prompt();
                true
            }
            b"exec" if self.mode == Mode::Idle => {
                let Ok(cmd) = args.string() else {
                    return false;
                };
                self.mode = Mode::Exec;
                let line = String::from_utf8_lossy(cmd).into_owned();
                self.run(&line);
                true
            }
            // env (ignored), subsystem, x11-req, agent forwarding, signals...
            _ => false,
        }
    }

    /// One keystroke at the prompt.
    fn key(&mut self, b: u8) {
        match self.editor.feed(b) {
            Some(Key::Echo(e)) if self.pty => self.out.extend_from_slice(&e),
            Some(Key::Echo(_)) => {}
            Some(Key::Line(line)) => {
                if self.pty {
                    self.out.extend_from_slice(b"\r\n");
                }
                self.run(&line);
            }
            Some(Key::Eof) => self.finish("logout", 0),
            None => {}
        }
    }

    fn finish(&mut self, reason: &'static str, status: u32) {
        if self.finishing.is_none() {
            self.finishing = Some((reason, status));
        }
    }

    /// Session output; `\n` becomes `\r\n` on a pty.
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if b == b'\n' && self.pty {
                self.out.push(b'\r');
            }
            self.out.push(b);
        }
    }

    fn prompt(&mut self) {
        self.out.extend_from_slice(PROMPT.as_bytes());
    }

    fn end_command(&mut self, status: u32) {
        match self.mode {
            Mode::Shell => self.prompt(),
            _ => self.finish("command done", status),
        }
    }

    fn run(&mut self, line: &str) {
        let line = line.trim();
        if !line.is_empty() {
            self.notes.push(Note::Command {
                user: self.user.clone(),
                line: line.chars().take(80).collect(),
            });
        }
        match shell::parse(line) {
            Command::Host(r) => {
                self.pending = Some(r);
                self.request_taken = false;
            }
            Command::Help => {
                self.write(shell::HELP.as_bytes());
                self.write(b"\n");
                self.end_command(0);
            }
            Command::Exit => self.finish("logout", 0),
            Command::Empty => self.end_command(0),
            Command::Invalid { message, status } => {
                self.write(message.as_bytes());
                self.write(b"\n");
                self.end_command(status);
            }
        }
    }
}
