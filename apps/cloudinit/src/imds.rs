//! The vocabulary every metadata source shares (`Target`, `Outcome`,
//! `Mode`, the timeouts) and `Imds`, the single-key view of the EC2 source
//! (`ec2::Ec2`) that the kernel drove before `source::Source` existed:
//! it ends in a `Summary` with the first usable key, or fails when there
//! is none.

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::addr;
use crate::ec2::Ec2;
use crate::http::{HttpError, Response};
use crate::source::{self, Metadata, Source};
use crate::sshkey::PublicKey;

pub const DEFAULT_HOST: [u8; 4] = [169, 254, 169, 254];
pub const TOKEN_TTL: &str = "21600";
/// Per-exchange limit (connect + response) the caller enforces.
pub const REQUEST_TIMEOUT_NS: u64 = 10_000_000_000;
/// The whole fetch gives up after this.
pub use crate::retry::TOTAL_TIMEOUT_NS;

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

/// The EC2 source seen through the old single-key API.
pub struct Imds {
    inner: Ec2,
    finished: Option<Action>,
    /// Why the last retry happened.
    pub last_error: Option<String>,
}

impl Imds {
    pub fn new(target: Target, seed: u32) -> Self {
        Imds {
            inner: Ec2::new(target, seed),
            finished: None,
            last_error: None,
        }
    }

    pub fn target(&self) -> &Target {
        self.inner.target()
    }

    pub fn mode(&self) -> Option<Mode> {
        self.inner.mode()
    }

    /// Retries so far (each with `last_error` saying why).
    pub fn retries(&self) -> u32 {
        self.inner.retries()
    }

    /// What to do now (call when no exchange is in flight).
    pub fn next(&mut self, now: u64) -> Action {
        if let Some(f) = &self.finished {
            return f.clone();
        }
        let a = match self.inner.next(now) {
            source::Action::Request(r) => return Action::Request(r.bytes),
            source::Action::Wait(t) => return Action::Wait(t),
            source::Action::Done(md) => self.summary(md),
            source::Action::Failed(why) => Action::Failed(why),
        };
        self.finished = Some(a.clone());
        a
    }

    pub fn on_outcome(&mut self, now: u64, outcome: Outcome) {
        self.inner.on_outcome(now, outcome);
        self.last_error = self.inner.last_error().map(String::from);
    }

    /// The first usable key, or why there is none: the first skipped
    /// key's reason, else why none was offered.
    fn summary(&self, md: Metadata) -> Action {
        let Some(first) = md.first_key() else {
            let why = md
                .skipped
                .iter()
                .find(|s| s.origin.starts_with("public-keys/") && s.origin != "public-keys/")
                .map(|s| s.reason.clone())
                .or_else(|| self.inner.no_keys_reason().map(String::from))
                .unwrap_or_else(|| "no usable ssh key".into());
            return Action::Failed(why);
        };
        Action::Done(Summary {
            mode: self.inner.mode().unwrap_or(Mode::V1),
            key: first.key.clone(),
            key_name: first.name.clone(),
            instance_id: md.instance_id.clone(),
            hostname: md.hostname.clone(),
            requests: md.requests,
            retries: md.retries,
        })
    }
}
