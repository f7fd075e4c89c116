//! The EC2 instance-metadata flow as a state machine. The caller performs
//! each HTTP exchange (over smoltcp in the kernel, over a fake service in
//! tests) and reports the outcome; the machine decides what comes next:
//! IMDSv2 token first, IMDSv1 when no token endpoint is offered, a new token
//! on 401, bounded retries with exponential backoff and jitter on 5xx,
//! timeouts and resets, and a clear final error otherwise.

extern crate alloc;

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::http::{self, HttpError, Response};
use crate::addr;
use crate::sshkey::{self, PublicKey};

pub const DEFAULT_HOST: [u8; 4] = [169, 254, 169, 254];
pub const TOKEN_TTL: &str = "21600";
const MAX_ATTEMPTS: u32 = 8;
/// 401s in a row on one step, each answered by fetching a new token, before
/// we stop: a service that never accepts its own tokens would otherwise keep
/// us in a tight PUT/GET loop until the total timeout.
const MAX_REAUTH: u32 = 3;
const BACKOFF_BASE_NS: u64 = 250_000_000;
const BACKOFF_CAP_NS: u64 = 8_000_000_000;
/// Per-exchange limit (connect + response) the caller enforces.
pub const REQUEST_TIMEOUT_NS: u64 = 10_000_000_000;
/// The whole fetch gives up after this.
pub const TOTAL_TIMEOUT_NS: u64 = 300_000_000_000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub addr: [u8; 4],
    pub port: u16,
}

impl Target {
    /// `http://a.b.c.d[:port][/]` (the metadata service is addressed by
    /// IP): decimal without leading zeros or signs, port 1..65535.
    pub fn parse(url: &str) -> Option<Target> {
        let rest = url.strip_prefix("http://")?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let (host, port) = match rest.split_once(':') {
            Some((h, p)) => (h, addr::parse_decimal(p, 65535)? as u16),
            None => (rest, 80),
        };
        let addr = addr::parse_ipv4(host)?;
        (port != 0).then_some(Target { addr, port })
    }

    pub fn host(&self) -> String {
        let a = self.addr;
        if self.port == 80 {
            format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3])
        } else {
            format!("{}.{}.{}.{}:{}", a[0], a[1], a[2], a[3], self.port)
        }
    }
}

impl Default for Target {
    fn default() -> Self {
        Target {
            addr: DEFAULT_HOST,
            port: 80,
        }
    }
}

/// How one exchange went, as the caller saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Response(Response),
    ConnectFailed,
    Timeout,
    Reset,
    Http(HttpError),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    V2,
    V1,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::V2 => "v2",
            Mode::V1 => "v1",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Token,
    ListKeys,
    Key,
    InstanceId,
    Hostname,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    pub mode: Mode,
    pub key: PublicKey,
    pub key_name: String,
    pub instance_id: Option<String>,
    pub hostname: Option<String>,
    pub requests: u32,
    pub retries: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Open a connection to the target, send these bytes, report the outcome.
    Request(Vec<u8>),
    /// Nothing to do until this time.
    Wait(u64),
    Done(Summary),
    Failed(String),
}

pub struct Imds {
    target: Target,
    mode: Option<Mode>,
    token: String,
    step: Step,
    /// after a new token, go back here
    resume: Step,
    attempt: u32,
    /// consecutive 401s answered with a new token
    reauths: u32,
    not_before: u64,
    give_up_at: Option<u64>,
    rng: u32,
    key_index: u32,
    key_name: String,
    key: Option<PublicKey>,
    instance_id: Option<String>,
    hostname: Option<String>,
    requests: u32,
    retries: u32,
    finished: Option<Action>,
    pub last_error: Option<String>,
}

impl Imds {
    pub fn new(target: Target, seed: u32) -> Self {
        Imds {
            target,
            mode: None,
            token: String::new(),
            step: Step::Token,
            resume: Step::ListKeys,
            attempt: 0,
            reauths: 0,
            not_before: 0,
            give_up_at: None,
            rng: rng_state(seed),
            key_index: 0,
            key_name: String::new(),
            key: None,
            instance_id: None,
            hostname: None,
            requests: 0,
            retries: 0,
            finished: None,
            last_error: None,
        }
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    pub fn mode(&self) -> Option<Mode> {
        self.mode
    }

    /// Retries so far (each with `last_error` saying why).
    pub fn retries(&self) -> u32 {
        self.retries
    }

    fn path(&self) -> String {
        match self.step {
            Step::Token => "/latest/api/token".into(),
            Step::ListKeys => "/latest/meta-data/public-keys/".into(),
            Step::Key => format!(
                "/latest/meta-data/public-keys/{}/openssh-key",
                self.key_index
            ),
            Step::InstanceId => "/latest/meta-data/instance-id".into(),
            Step::Hostname => "/latest/meta-data/local-hostname".into(),
        }
    }

    /// What to do now (call when no exchange is in flight).
    pub fn next(&mut self, now: u64) -> Action {
        if let Some(f) = &self.finished {
            return f.clone();
        }
        let give_up = *self.give_up_at.get_or_insert(now + TOTAL_TIMEOUT_NS);
        if now >= give_up {
            return self.fail(format!(
                "metadata service unreachable for {} s (last error: {})",
                TOTAL_TIMEOUT_NS / 1_000_000_000,
                self.last_error.clone().unwrap_or_else(|| "none".into())
            ));
        }
        if now < self.not_before {
            return Action::Wait(self.not_before.min(give_up));
        }
        self.requests += 1;
        let host = self.target.host();
        let path = self.path();
        Action::Request(if self.step == Step::Token {
            http::request(
                "PUT",
                &host,
                &path,
                &[("X-aws-ec2-metadata-token-ttl-seconds", TOKEN_TTL)],
            )
        } else if self.mode == Some(Mode::V2) {
            http::request(
                "GET",
                &host,
                &path,
                &[("X-aws-ec2-metadata-token", &self.token)],
            )
        } else {
            http::request("GET", &host, &path, &[])
        })
    }

    fn fail(&mut self, why: String) -> Action {
        let a = Action::Failed(why);
        self.finished = Some(a.clone());
        a
    }

    fn advance(&mut self, next: Step) {
        self.step = next;
        self.attempt = 0;
    }

    fn done(&mut self) {
        // the optional steps come after the key, so it is always there
        let Some(key) = self.key.clone() else {
            self.fail("internal: finished without a key".into());
            return;
        };
        let s = Summary {
            mode: self.mode.unwrap_or(Mode::V1),
            key,
            key_name: self.key_name.clone(),
            instance_id: self.instance_id.clone(),
            hostname: self.hostname.clone(),
            requests: self.requests,
            retries: self.retries,
        };
        self.finished = Some(Action::Done(s));
    }

    /// Retry the current step after a backoff with jitter, or give up.
    fn retry(&mut self, now: u64, why: String) {
        self.last_error = Some(why.clone());
        self.attempt += 1;
        self.retries += 1;
        if self.attempt >= MAX_ATTEMPTS {
            match self.step {
                // optional facts: go on without them
                Step::InstanceId => self.advance(Step::Hostname),
                Step::Hostname => self.done(),
                _ => {
                    self.fail(format!(
                        "{} after {} attempts: {}",
                        self.path(),
                        MAX_ATTEMPTS,
                        why
                    ));
                }
            }
            return;
        }
        let exp = BACKOFF_BASE_NS
            .saturating_mul(1 << (self.attempt - 1).min(16))
            .min(BACKOFF_CAP_NS);
        // xorshift32 jitter: 50%..150% of the exponential step
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 17;
        self.rng ^= self.rng << 5;
        let jitter = exp / 2 + (self.rng as u64 % exp.max(1));
        self.not_before = now + jitter;
    }

    pub fn on_outcome(&mut self, now: u64, outcome: Outcome) {
        if self.finished.is_some() {
            return;
        }
        let r = match outcome {
            Outcome::Response(r) => r,
            Outcome::ConnectFailed => return self.retry(now, "connect failed".into()),
            Outcome::Timeout => return self.retry(now, "timeout".into()),
            Outcome::Reset => return self.retry(now, "connection reset".into()),
            Outcome::Http(e) => return self.retry(now, e.to_string()),
        };
        if r.status >= 500 {
            return self.retry(now, format!("{} on {}", r.status, self.path()));
        }
        match self.step {
            Step::Token => match r.status {
                200 => match token(&r.body) {
                    Some(t) => {
                        self.token = t;
                        self.mode = Some(Mode::V2);
                        let resume = self.resume;
                        self.advance(resume);
                    }
                    None => self.retry(now, "unusable token".into()),
                },
                // no token endpoint (IMDSv1 only)
                400..=499 => {
                    self.mode = Some(Mode::V1);
                    let resume = self.resume;
                    self.advance(resume);
                }
                s => self.retry(now, format!("token status {}", s)),
            },
            step => {
                if r.status == 401 {
                    // token expired, or the service wants v2 after all: get a
                    // (new) token, then come back to this step
                    self.last_error = Some(format!("401 on {}", self.path()));
                    self.reauths += 1;
                    if self.reauths > MAX_REAUTH {
                        let why = format!(
                            "{} still 401 after {} new tokens (mode {})",
                            self.path(),
                            MAX_REAUTH,
                            self.mode.unwrap_or(Mode::V1).name()
                        );
                        self.fail(why);
                        return;
                    }
                    self.resume = step;
                    self.retries += 1;
                    self.advance(Step::Token);
                    return;
                }
                self.reauths = 0;
                if r.status != 200 {
                    return match step {
                        Step::InstanceId => {
                            self.advance(Step::Hostname);
                        }
                        Step::Hostname => self.done(),
                        _ => {
                            self.fail(format!("{} returned {}", self.path(), r.status));
                        }
                    };
                }
                self.handle_ok(step, &r.body);
            }
        }
    }

    fn handle_ok(&mut self, step: Step, body: &[u8]) {
        let Ok(text) = core::str::from_utf8(body) else {
            return match step {
                Step::Key | Step::ListKeys => {
                    self.fail(format!("{} is not text", self.path()));
                }
                Step::InstanceId => self.advance(Step::Hostname),
                _ => self.done(),
            };
        };
        match step {
            Step::ListKeys => match first_key(text) {
                Some((i, name)) => {
                    self.key_index = i;
                    self.key_name = name;
                    self.advance(Step::Key);
                }
                None => {
                    self.fail("no public keys offered (public-keys/ is empty or malformed)".into());
                }
            },
            Step::Key => match sshkey::parse(text) {
                Ok(k) => {
                    self.key = Some(k);
                    self.advance(Step::InstanceId);
                }
                Err(e) => {
                    self.fail(format!("invalid key: {}", e));
                }
            },
            Step::InstanceId => {
                self.instance_id = fact(text);
                self.advance(Step::Hostname);
            }
            Step::Hostname => {
                self.hostname = fact(text);
                self.done();
            }
            Step::Token => {} // handled in on_outcome
        }
    }
}

/// A non-zero xorshift32 state that differs for every seed (`seed | 1`
/// made seeds 2k and 2k+1 retry in lockstep).
fn rng_state(seed: u32) -> u32 {
    match seed.wrapping_mul(0x9e37_79b9).rotate_left(16) ^ 0x2545_f491 {
        0 => 1,
        s => s,
    }
}

/// A token is printable ASCII, short.
fn token(body: &[u8]) -> Option<String> {
    let t = core::str::from_utf8(body).ok()?.trim();
    (!t.is_empty() && t.len() <= 256 && t.bytes().all(|b| (0x21..0x7f).contains(&b)))
        .then(|| t.into())
}

/// A one-line fact (instance-id, hostname): printable, bounded.
fn fact(text: &str) -> Option<String> {
    let t = text.trim();
    (!t.is_empty() && t.len() <= 255 && t.bytes().all(|b| (0x21..0x7f).contains(&b)))
        .then(|| t.into())
}

/// The first `index=name` line of public-keys/.
fn first_key(text: &str) -> Option<(u32, String)> {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    let (i, name) = line.split_once('=')?;
    let i: u32 = i.parse().ok()?;
    let name = fact(name).unwrap_or_default();
    Some((i, name))
}
