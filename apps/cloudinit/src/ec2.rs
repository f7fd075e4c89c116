//! The EC2 instance-metadata service (IMDS) as a `Source`.
//!
//! IMDSv2 first: `PUT /latest/api/token` with a TTL of 21600 s, the token
//! on every GET, a new token on 401 (at most `MAX_REAUTH` in a row). A
//! token endpoint that answers 4xx means IMDSv1 (plain GETs). 403 on a GET
//! means the endpoint is disabled: final. 5xx, timeouts and resets are
//! retried with backoff (`retry`). Then, in order: `instance-id`, every
//! `N=name` line of `public-keys/` (at most `MAX_KEYS`) and each key's
//! `openssh-key`, `local-hostname`, and `/latest/user-data` (404: none; at
//! most 16 KiB, as EC2 allows). A key that is missing or invalid is
//! skipped with its reason; instance-id, hostname and user-data are
//! optional.
//!
//! A 403 on the token PUT alone is not taken as "disabled": some IMDSv1
//! emulators (and our harness's) answer the PUT that way; a disabled
//! endpoint then refuses the first GET with 403 too, and that is final.

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::fetch::Fetch;
use crate::http;
use crate::imds::{Mode, Outcome, Target, TOKEN_TTL};
use crate::retry::{Backoff, MAX_ATTEMPTS};
use crate::source::{fact, Action, Metadata, Request, Source, MAX_KEYS};
use crate::userdata::{self, UserData};

/// 401s in a row on one step, each answered by fetching a new token, before
/// we stop: a service that never accepts its own tokens would otherwise keep
/// us in a tight PUT/GET loop until the total timeout.
const MAX_REAUTH: u32 = 3;
/// EC2 refuses user-data over 16 KiB (raw, before base64).
pub const MAX_USER_DATA: usize = 16 * 1024;
/// Lines of `public-keys/` looked at; the rest are counted and skipped.
const MAX_LIST_LINES: usize = 64;

/// `Metadata::detail` of this source: `imds=v2` or `imds=v1`.
const DETAIL_MODE: &str = "imds=";

/// The IMDS mode of an EC2 run ("v2", "v1"); None for other sources.
pub fn imds_mode(md: &Metadata) -> Option<&str> {
    if md.source != "ec2" {
        return None;
    }
    md.detail.strip_prefix(DETAIL_MODE)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Token,
    InstanceId,
    ListKeys,
    /// index into `listed`
    Key(usize),
    Hostname,
    UserData,
}

pub struct Ec2 {
    target: Target,
    mode: Option<Mode>,
    token: String,
    step: Step,
    /// after a new token, go back here
    resume: Step,
    /// consecutive 401s answered with a new token
    reauths: u32,
    backoff: Backoff,
    /// (index, name) from `public-keys/`
    listed: Vec<(u32, String)>,
    md: Metadata,
    user: Option<UserData>,
    /// instance-id and public-keys/ were not there (not an EC2 tree)
    instance_missing: bool,
    keys_missing: bool,
    /// why the metadata offered no key at all
    no_keys: Option<String>,
    finished: Option<Action>,
}

impl Ec2 {
    pub fn new(target: Target, seed: u32) -> Ec2 {
        Ec2 {
            target,
            mode: None,
            token: String::new(),
            step: Step::Token,
            resume: Step::InstanceId,
            reauths: 0,
            backoff: Backoff::new(seed),
            listed: Vec::new(),
            md: Metadata::new("ec2"),
            user: None,
            instance_missing: false,
            keys_missing: false,
            no_keys: None,
            finished: None,
        }
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// v2 once a token was issued, v1 once the token endpoint said no.
    pub fn mode(&self) -> Option<Mode> {
        self.mode
    }

    /// The service answered, but with no `/latest/meta-data/` tree
    /// (instance-id and public-keys/ both missing): not EC2's format.
    pub fn absent(&self) -> bool {
        self.instance_missing && self.keys_missing
    }

    /// Why the metadata offered no key at all (none listed, listing missing).
    pub fn no_keys_reason(&self) -> Option<&str> {
        self.no_keys.as_deref()
    }

    fn path(&self) -> String {
        match self.step {
            Step::Token => "/latest/api/token".into(),
            Step::InstanceId => "/latest/meta-data/instance-id".into(),
            Step::ListKeys => "/latest/meta-data/public-keys/".into(),
            Step::Key(i) => format!(
                "/latest/meta-data/public-keys/{}/openssh-key",
                self.listed.get(i).map_or(0, |k| k.0)
            ),
            Step::Hostname => "/latest/meta-data/local-hostname".into(),
            Step::UserData => "/latest/user-data".into(),
        }
    }

    fn request(&self) -> Vec<u8> {
        let host = self.target.host();
        let path = self.path();
        if self.step == Step::Token {
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
        }
    }

    fn fail(&mut self, why: String) {
        self.finished = Some(Action::Failed(why));
    }

    fn advance(&mut self, next: Step) {
        self.step = next;
        self.backoff.next_step();
    }

    /// The step after key `i` (or after the listing, with `i` = none yet).
    fn after_key(&self, i: Option<usize>) -> Step {
        let n = i.map_or(0, |i| i + 1);
        if n < self.listed.len() {
            Step::Key(n)
        } else {
            Step::Hostname
        }
    }

    fn key_origin(&self, i: usize) -> (String, String) {
        let (idx, name) = self.listed.get(i).cloned().unwrap_or_default();
        (format!("public-keys/{}", idx), name)
    }

    fn done(&mut self) {
        let mut md = core::mem::replace(&mut self.md, Metadata::new("ec2"));
        let user = self
            .user
            .take()
            .unwrap_or_else(|| UserData::none("user-data"));
        md.merge(user, UserData::none("vendor-data"));
        md.detail = format!("{}{}", DETAIL_MODE, self.mode.unwrap_or(Mode::V1).name());
        md.requests = self.backoff.requests();
        md.retries = self.backoff.retries();
        self.finished = Some(Action::Done(md));
    }

    /// Retry the current step after a backoff, or give it up: fatal for
    /// the token and the key listing, skipped for the rest.
    fn retry(&mut self, now: u64, why: String) {
        if self.backoff.failed(now, why.clone()) {
            return;
        }
        let given_up = format!("{} after {} attempts: {}", self.path(), MAX_ATTEMPTS, why);
        match self.step {
            Step::Token | Step::ListKeys => self.fail(given_up),
            Step::InstanceId => self.advance(Step::ListKeys),
            Step::Key(i) => {
                let (origin, _) = self.key_origin(i);
                self.md.skip(&origin, given_up);
                let next = self.after_key(Some(i));
                self.advance(next);
            }
            Step::Hostname => self.advance(Step::UserData),
            Step::UserData => {
                self.user = Some(UserData::failed("user-data", given_up));
                self.done();
            }
        }
    }

    fn on_token(&mut self, now: u64, status: u16, body: &[u8]) {
        match status {
            200 => match token(body) {
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
        }
    }

    /// 401: the token expired, or the service wants v2 after all: get a
    /// (new) token, then come back to this step.
    fn reauth(&mut self, step: Step) {
        self.backoff.note(format!("401 on {}", self.path()));
        self.reauths += 1;
        if self.reauths > MAX_REAUTH {
            let why = format!(
                "{} still 401 after {} new tokens (mode {})",
                self.path(),
                MAX_REAUTH,
                self.mode.unwrap_or(Mode::V1).name()
            );
            return self.fail(why);
        }
        self.resume = step;
        self.advance(Step::Token);
    }

    /// A 4xx other than 401/403: this entry is not there.
    fn on_missing(&mut self, step: Step, status: u16) {
        let why = format!("{} returned {}", self.path(), status);
        match step {
            Step::InstanceId => {
                self.instance_missing = status == 404;
                self.keys_missing = false;
                self.advance(Step::ListKeys);
            }
            Step::ListKeys => {
                self.keys_missing = status == 404;
                self.no_keys = Some(why);
                if self.absent() {
                    // no EC2 tree here: stop asking (selection may try
                    // another format)
                    return self.done();
                }
                self.advance(Step::Hostname);
            }
            Step::Key(i) => {
                let (origin, _) = self.key_origin(i);
                self.md.skip(&origin, why);
                let next = self.after_key(Some(i));
                self.advance(next);
            }
            Step::Hostname => self.advance(Step::UserData),
            Step::UserData => {
                if status != 404 {
                    self.user = Some(UserData::failed("user-data", why));
                }
                self.done();
            }
            Step::Token => {} // handled in on_token
        }
    }

    fn on_ok(&mut self, step: Step, body: &[u8]) {
        let text = core::str::from_utf8(body).ok();
        match step {
            Step::InstanceId => {
                self.md.instance_id = text.and_then(fact);
                self.advance(Step::ListKeys);
            }
            Step::ListKeys => {
                self.list(text.unwrap_or(""));
                let next = self.after_key(None);
                self.advance(next);
            }
            Step::Key(i) => {
                let (origin, name) = self.key_origin(i);
                match text {
                    Some(t) => self.md.offer_key(&origin, &name, t),
                    None => self
                        .md
                        .skip(&origin, format!("{} is not text", self.path())),
                }
                let next = self.after_key(Some(i));
                self.advance(next);
            }
            Step::Hostname => {
                self.md.hostname = text.and_then(fact);
                self.advance(Step::UserData);
            }
            Step::UserData => {
                self.user = Some(userdata::parse("user-data", body, MAX_USER_DATA));
                self.done();
            }
            Step::Token => {} // handled in on_token
        }
    }

    /// Every `N=name` line of `public-keys/`; the others are skipped.
    fn list(&mut self, text: &str) {
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        for line in lines.iter().take(MAX_LIST_LINES) {
            let entry = line.split_once('=').and_then(|(i, name)| {
                let i = crate::addr::parse_decimal(i, 999_999)?;
                Some((i, fact(name).unwrap_or_default()))
            });
            match entry {
                None => self.md.skip(
                    "public-keys/",
                    format!("not an index=name line: {}", clip(line)),
                ),
                Some((i, _)) if self.listed.iter().any(|k| k.0 == i) => self
                    .md
                    .skip(&format!("public-keys/{}", i), "listed twice".into()),
                Some((i, _)) if self.listed.len() >= MAX_KEYS => self.md.skip(
                    &format!("public-keys/{}", i),
                    format!("more than {} keys listed", MAX_KEYS),
                ),
                Some(k) => self.listed.push(k),
            }
        }
        if lines.len() > MAX_LIST_LINES {
            let why = format!("{} more lines not read", lines.len() - MAX_LIST_LINES);
            self.md.skip("public-keys/", why);
        }
        if self.listed.is_empty() {
            self.no_keys =
                Some("no public keys offered (public-keys/ is empty or malformed)".into());
        }
    }
}

impl Source for Ec2 {
    fn name(&self) -> &'static str {
        "ec2"
    }

    fn next(&mut self, now: u64) -> Action {
        if let Some(f) = &self.finished {
            return f.clone();
        }
        let a = self.backoff.gate(now).into_action(|| Request {
            to: self.target.clone(),
            bytes: self.request(),
        });
        if let Action::Failed(_) = &a {
            self.finished = Some(a.clone());
        }
        a
    }

    fn on_outcome(&mut self, now: u64, outcome: Outcome) {
        if self.finished.is_some() {
            return;
        }
        let r = match crate::fetch::response(outcome) {
            Ok(r) => r,
            Err(why) => return self.retry(now, why),
        };
        if r.status >= 500 {
            return self.retry(now, format!("{} on {}", r.status, self.path()));
        }
        let step = self.step;
        if step == Step::Token {
            return self.on_token(now, r.status, &r.body);
        }
        if r.status == 401 {
            return self.reauth(step);
        }
        self.reauths = 0;
        match r.status {
            200 => self.on_ok(step, &r.body),
            403 => self.fail(format!(
                "the metadata service is disabled (403 on {})",
                self.path()
            )),
            // 1xx/2xx/3xx other than 200 carry nothing we can use
            s => self.on_missing(step, s),
        }
    }

    fn retries(&self) -> u32 {
        self.backoff.retries()
    }

    fn last_error(&self) -> Option<&str> {
        self.backoff.last_error()
    }

    fn fetch(&self, path: &str) -> Option<Fetch> {
        Some(Fetch::new(&self.target, self.mode?, path))
    }
}

/// A token is printable ASCII, short.
fn token(body: &[u8]) -> Option<String> {
    let t = core::str::from_utf8(body).ok()?.trim();
    (!t.is_empty() && t.len() <= 256 && t.bytes().all(|b| (0x21..0x7f).contains(&b)))
        .then(|| t.into())
}

/// At most 64 characters of a peer's line, for a reason text.
pub(crate) fn clip(s: &str) -> String {
    s.chars().take(64).collect()
}
