//! One SSH connection: bytes in from the peer, bytes out to it, sunset's
//! events answered by policy, and the session's commands turned into
//! `Request`s for the host.
//!
//! The driver's loop: `input()` what the socket has, `poll()`, send
//! `output()` and `consume()` what was sent, hand `take_request()` to the host
//! and `answer()` it, print `notes()`, and close the socket once `closed()` is
//! set and there is no output left. Times are the caller's clock in ns.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use sunset::{ChanData, ChanFail, ChanHandle, Event, PubKey, Runner, ServEvent, Server};

use crate::auth::{offered_fingerprint, Policy};
use crate::hostkey::HostKey;
use crate::shell::{self, Command, Key, LineEditor, Request};

/// What happened, for the console (the driver adds the peer address).
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

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Idle,
    Exec,
    Shell,
}

/// Everything but the sunset runner (so events borrowing the runner can
/// update it).
struct State {
    pty: bool,
    mode: Mode,
    editor: LineEditor,
    /// Keystrokes read but not yet handled (typed ahead of a running command).
    typeahead: Vec<u8>,
    /// Channel output not yet taken by sunset (window or buffer full).
    out: Vec<u8>,
    pending: Option<Request>,
    request_taken: bool,
    user: String,
    /// Fingerprint of the key that was allowed.
    login_key: String,
    authenticated: bool,
    failures: u32,
    not_before: u64,
    started: u64,
    last_input: u64,
    /// Close once the output is flushed (and a linger), for this reason.
    finishing: Option<String>,
    close_at: Option<u64>,
    closed: Option<String>,
    notes: Vec<Note>,
}

pub struct Connection {
    runner: Runner<'static, Server>,
    /// The one session channel a connection may open.
    chan: Option<ChanHandle>,
    st: State,
}

const PROMPT: &str = "appliance> ";
/// Channel output held for a slow peer before the session is ended.
const MAX_OUT: usize = 256 * 1024;
/// Time the client gets to print the output before the connection ends.
pub const LINGER_NS: u64 = 500_000_000;

impl Connection {
    pub fn new(now: u64) -> Connection {
        Connection {
            runner: Runner::new_server_owned(),
            chan: None,
            st: State {
                pty: false,
                mode: Mode::Idle,
                editor: LineEditor::default(),
                typeahead: Vec::new(),
                out: Vec::new(),
                pending: None,
                request_taken: false,
                user: String::new(),
                login_key: String::new(),
                authenticated: false,
                failures: 0,
                not_before: 0,
                started: now,
                last_input: now,
                finishing: None,
                close_at: None,
                closed: None,
                notes: Vec::new(),
            },
        }
    }

    /// Take bytes from the peer; returns how many were consumed (0: call
    /// `poll` and offer them again; nothing is read during a failure delay).
    pub fn input(&mut self, data: &[u8], now: u64) -> usize {
        if self.st.closed.is_some() {
            return data.len();
        }
        if now < self.st.not_before || data.is_empty() {
            return 0;
        }
        match self.runner.input(data) {
            Ok(n) => {
                if n > 0 {
                    self.st.last_input = now;
                }
                n
            }
            Err(e) => {
                self.st.close(format!("protocol error: {}", e));
                data.len()
            }
        }
    }

    /// The peer closed its side.
    pub fn peer_closed(&mut self) {
        self.runner.close_input();
        if self.st.closed.is_none() {
            self.st.close("client closed the connection".into());
        }
    }

    /// Bytes to send to the peer (consume what was sent).
    pub fn output(&mut self) -> &[u8] {
        self.runner.output_buf()
    }

    pub fn consume(&mut self, n: usize) {
        self.runner.consume_output(n)
    }

    /// Set once the connection is over; close the socket when `output()`
    /// is empty.
    pub fn closed(&self) -> Option<&str> {
        self.st.closed.as_deref()
    }

    pub fn authenticated(&self) -> bool {
        self.st.authenticated
    }

    pub fn notes(&mut self) -> Vec<Note> {
        core::mem::take(&mut self.st.notes)
    }

    /// A command for the host, once; `answer()` it.
    pub fn take_request(&mut self) -> Option<Request> {
        if self.st.request_taken {
            return None;
        }
        let r = self.st.pending.clone()?;
        self.st.request_taken = true;
        Some(r)
    }

    /// The host's answer to the request taken: shown to the user, then the
    /// prompt again (shell) or the end of the connection (command).
    pub fn answer(&mut self, text: &str) {
        let Some(req) = self.st.pending.take() else {
            return;
        };
        self.st.request_taken = false;
        self.st.write(text.as_bytes());
        if !text.ends_with('\n') {
            self.st.write(b"\n");
        }
        match req {
            Request::Poweroff | Request::Reboot => self.st.finish("appliance going down"),
            _ => self.st.end_command(),
        }
        // Queue it now, ahead of whatever sunset handles next (an EOF).
        self.flush();
    }

    /// When `poll` should next run without new input (timeouts, the end of
    /// a failure delay).
    pub fn next_deadline(&self, policy: &Policy) -> Option<u64> {
        if self.st.closed.is_some() {
            return None;
        }
        let l = &policy.limits;
        let mut d = self.st.last_input.saturating_add(l.idle_timeout_ns);
        if !self.st.authenticated {
            d = d.min(self.st.started.saturating_add(l.login_grace_ns));
        }
        if self.st.not_before > 0 {
            d = d.min(self.st.not_before);
        }
        if let Some(t) = self.st.close_at {
            d = d.min(t);
        }
        Some(d)
    }

    /// Run the protocol: answer sunset's events, read the session's input,
    /// push its output; check the timeouts.
    pub fn poll(&mut self, policy: &Policy, hostkey: &HostKey, now: u64) {
        if self.st.closed.is_some() {
            return;
        }
        let l = &policy.limits;
        if !self.st.authenticated && now.saturating_sub(self.st.started) >= l.login_grace_ns {
            self.st.close("not authenticated in time".into());
            return;
        }
        if now.saturating_sub(self.st.last_input) >= l.idle_timeout_ns {
            self.st.close("idle timeout".into());
            return;
        }
        self.flush();
        // While the host works on a request, sunset is not driven: a
        // channel EOF the client sent behind the command would make sunset
        // answer EOF at once, and output after our EOF is dropped by the
        // client. The input stays queued; the answer goes out first.
        for _ in 0..64 {
            if self.st.pending.is_some() {
                break;
            }
            let ev = match self.runner.progress() {
                Ok(ev) => ev,
                Err(e) => {
                    self.st.close(format!("protocol error: {}", e));
                    return;
                }
            };
            match handle(ev, &mut self.st, &mut self.chan, policy, hostkey, now) {
                Ok(true) => self.flush(), // before any EOF the next event may bring
                Ok(false) => break,
                Err(e) => {
                    self.st.close(format!("protocol error: {}", e));
                    return;
                }
            }
        }
        if self.st.closed.is_none() {
            self.session_input();
            self.flush();
        }
        if self.st.out.len() > MAX_OUT {
            self.st.close("peer does not read its output".into());
        }
        // Flushed: linger before closing. sunset 0.6 cannot close the
        // channel, so the connection ends it; OpenSSH drops channel output it
        // has not written out yet when the connection closes under it.
        if self.st.out.is_empty() && !self.runner.is_output_pending() && self.st.finishing.is_some()
        {
            match self.st.close_at {
                None => self.st.close_at = Some(now.saturating_add(LINGER_NS)),
                Some(t) if now >= t => {
                    let why = self.st.finishing.take().unwrap_or_default();
                    self.st.close(why);
                }
                Some(_) => {}
            }
        }
    }

    /// Keystrokes or command input from the session channel. Bytes typed
    /// ahead of a command that is still running wait in `typeahead`.
    fn session_input(&mut self) {
        let Some(ch) = self.chan.as_ref() else {
            return;
        };
        let mut buf = [0u8; 128];
        loop {
            while let Some(&b) = self.st.typeahead.first() {
                if self.st.pending.is_some() || self.st.finishing.is_some() {
                    return;
                }
                self.st.typeahead.remove(0);
                self.st.key(b);
            }
            if self.st.pending.is_some() || self.st.finishing.is_some() {
                return;
            }
            let n = match self.runner.read_channel(ch, ChanData::Normal, &mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if self.st.mode == Mode::Shell {
                self.st.typeahead.extend_from_slice(&buf[..n]); // a command's stdin is not used
            }
        }
    }

    fn flush(&mut self) {
        let Some(ch) = self.chan.as_ref() else {
            return;
        };
        while !self.st.out.is_empty() {
            match self
                .runner
                .write_channel(ch, ChanData::Normal, &self.st.out)
            {
                Ok(0) => break,
                Ok(n) => {
                    self.st.out.drain(..n);
                }
                Err(_) => {
                    self.st.out.clear();
                    self.st.close("session channel closed".into());
                    break;
                }
            }
        }
    }
}

impl State {
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
            Some(Key::Eof) => self.finish("logout"),
            None => {}
        }
    }

    fn close(&mut self, reason: String) {
        if self.closed.is_none() {
            self.notes.push(Note::Closed {
                reason: reason.clone(),
            });
            self.closed = Some(reason);
        }
    }

    fn finish(&mut self, reason: &str) {
        if self.finishing.is_none() {
            self.finishing = Some(reason.into());
        }
    }

    fn refuse(&mut self, reason: &'static str, key: Option<String>, policy: &Policy, now: u64) {
        self.failures += 1;
        self.not_before = now.saturating_add(policy.limits.fail_delay_ns);
        self.notes.push(Note::Refused {
            user: self.user.clone(),
            reason,
            key,
        });
        if self.failures >= policy.limits.max_failures {
            self.close("too many failed attempts".into());
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

    fn end_command(&mut self) {
        match self.mode {
            Mode::Shell => self.prompt(),
            _ => self.finish("command done"),
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
                self.end_command();
            }
            Command::Exit => self.finish("logout"),
            Command::Empty => self.end_command(),
            Command::Invalid(msg) => {
                self.write(msg.as_bytes());
                self.write(b"\n");
                self.end_command();
            }
        }
    }
}

/// Answer one sunset event; Ok(false) when there was none.
fn handle(
    ev: Event<'_, '_>,
    st: &mut State,
    chan: &mut Option<ChanHandle>,
    policy: &Policy,
    hostkey: &HostKey,
    now: u64,
) -> sunset::Result<bool> {
    let ev = match ev {
        Event::None => return Ok(false),
        Event::Progressed => return Ok(true),
        Event::Cli(_) => return Ok(true), // not a client
        Event::Serv(ev) => ev,
    };
    match ev {
        ServEvent::Hostkeys(h) => h.hostkeys(&[&hostkey.key])?,
        ServEvent::FirstAuth(mut a) => {
            st.user = a.username().unwrap_or("?").chars().take(32).collect();
            a.set_auth_methods(false, true)?;
            a.reject()?; // "none" never logs in; publickey is offered
        }
        ServEvent::PasswordAuth(a) => {
            a.reject()?;
            st.refuse("password authentication is disabled", None, policy, now);
        }
        ServEvent::PubkeyAuth(a) => {
            let user: String = a.username().unwrap_or("?").chars().take(32).collect();
            let offered = match a.pubkey() {
                Ok(PubKey::Ed25519(k)) => Some(k.key.0),
                _ => None,
            };
            match offered.as_ref().and_then(|k| policy.allows(&user, k)) {
                Some(ak) => {
                    // A query is allowed first, then the signed request;
                    // the login is noted at Authenticated.
                    st.user = user;
                    st.login_key = ak.fingerprint.clone();
                    a.allow()?;
                }
                None => {
                    a.reject()?;
                    let reason = match (user == policy.user, offered.is_some()) {
                        (false, _) => "unknown user",
                        (true, false) => "key type not accepted",
                        (true, true) => "key not authorized",
                    };
                    st.user = user;
                    st.refuse(
                        reason,
                        offered.as_ref().map(offered_fingerprint),
                        policy,
                        now,
                    );
                }
            }
        }
        ServEvent::Authenticated => {
            st.authenticated = true;
            st.notes.push(Note::Login {
                user: st.user.clone(),
                key: st.login_key.clone(),
            });
        }
        ServEvent::OpenSession(s) => {
            if st.authenticated && chan.is_none() {
                *chan = Some(s.accept()?);
            } else {
                s.reject(ChanFail::SSH_OPEN_ADMINISTRATIVELY_PROHIBITED)?;
            }
        }
        ServEvent::SessionPty(p) => {
            st.pty = true;
            p.succeed()?;
        }
        ServEvent::SessionEnv(e) => e.fail()?,
        ServEvent::SessionSubsystem(e) => e.fail()?,
        ServEvent::SessionShell(s) => {
            if st.mode == Mode::Idle {
                s.succeed()?;
                st.mode = Mode::Shell;
                let banner = format!(
                    "appliance {} ({}); {}\n",
                    env!("CARGO_PKG_VERSION"),
                    st.user,
                    shell::HELP
                );
                st.write(banner.as_bytes());
                st.prompt();
            } else {
                s.fail()?;
            }
        }
        ServEvent::SessionExec(e) => {
            if st.mode == Mode::Idle {
                let cmd = e.command().unwrap_or("").to_string();
                e.succeed()?;
                st.mode = Mode::Exec;
                st.run(&cmd);
            } else {
                e.fail()?;
            }
        }
        ServEvent::Defunct => st.close("connection ended".into()),
        ServEvent::PollAgain => {}
    }
    Ok(true)
}
