//! A source that is a few files under one URL prefix (OpenStack's
//! `/openstack/latest/`, a NoCloud seed URL): each fetched in order with
//! the shared retry policy, then handed to the source's parser (the same
//! plain function over bytes the seed-disk datasource calls).

extern crate alloc;

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::fetch::{self, Fetch};
use crate::http;
use crate::imds::{Outcome, Target};
use crate::retry::{Backoff, MAX_ATTEMPTS};
use crate::source::{Action, Metadata, Request, Source};

/// What became of one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Got {
    Body(Vec<u8>),
    /// 404: the source has none.
    Missing,
    /// It could not be fetched (an optional file: reported, not fatal).
    Failed(String),
}

impl Got {
    pub fn body(&self) -> Option<&[u8]> {
        match self {
            Got::Body(b) => Some(b),
            _ => None,
        }
    }
}

pub struct File {
    pub name: &'static str,
    pub required: bool,
}

/// Builds the `Metadata` from what was fetched, in `files` order.
pub type Build = Box<dyn Fn(&[Got]) -> Result<Metadata, String>>;

pub struct Files {
    name: &'static str,
    target: Target,
    /// ends with `/`
    prefix: String,
    files: &'static [File],
    got: Vec<Got>,
    backoff: Backoff,
    build: Build,
    /// the first file came back 404 (nothing of this source is here)
    absent: bool,
    finished: Option<Action>,
}

impl Files {
    pub fn new(
        name: &'static str,
        target: Target,
        prefix: String,
        files: &'static [File],
        seed: u32,
        build: Build,
    ) -> Files {
        Files {
            name,
            target,
            prefix,
            files,
            got: Vec::new(),
            backoff: Backoff::new(seed),
            build,
            absent: false,
            finished: None,
        }
    }

    /// The first (required) file was not there at all.
    pub fn absent(&self) -> bool {
        self.absent
    }

    pub fn requests(&self) -> u32 {
        self.backoff.requests()
    }

    fn path(&self) -> String {
        let name = self.files.get(self.got.len()).map_or("", |f| f.name);
        format!("{}{}", self.prefix, name)
    }

    /// Record the current file and go on (or finish).
    fn record(&mut self, got: Got) {
        let required = self.files.get(self.got.len()).is_some_and(|f| f.required);
        match (&got, required) {
            (Got::Missing, true) => {
                self.absent = self.got.is_empty();
                return self.fail(format!("{} returned 404", self.path()));
            }
            (Got::Failed(why), true) => return self.fail(why.clone()),
            _ => {}
        }
        self.got.push(got);
        self.backoff.next_step();
        if self.got.len() == self.files.len() {
            let built = (self.build)(&self.got);
            self.finished = Some(match built {
                Ok(mut md) => {
                    md.requests = self.backoff.requests();
                    md.retries = self.backoff.retries();
                    Action::Done(md)
                }
                Err(why) => Action::Failed(why),
            });
        }
    }

    fn fail(&mut self, why: String) {
        self.finished = Some(Action::Failed(why));
    }
}

impl Source for Files {
    fn name(&self) -> &'static str {
        self.name
    }

    fn next(&mut self, now: u64) -> Action {
        if let Some(f) = &self.finished {
            return f.clone();
        }
        let a = self.backoff.gate(now).into_action(|| Request {
            to: self.target.clone(),
            bytes: http::request("GET", &self.target.host(), &self.path(), &[]),
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
        let why = match fetch::response(outcome) {
            Ok(r) if r.status == 200 => return self.record(Got::Body(r.body)),
            Ok(r) if r.status == 404 => return self.record(Got::Missing),
            Ok(r) if r.status < 500 => {
                let why = format!("{} returned {}", self.path(), r.status);
                return self.record(Got::Failed(why));
            }
            Ok(r) => format!("{} on {}", r.status, self.path()),
            Err(why) => why,
        };
        if !self.backoff.failed(now, why.clone()) {
            let given_up = format!("{} after {} attempts: {}", self.path(), MAX_ATTEMPTS, why);
            self.record(Got::Failed(given_up));
        }
    }

    fn retries(&self) -> u32 {
        self.backoff.retries()
    }

    fn last_error(&self) -> Option<&str> {
        self.backoff.last_error()
    }

    fn fetch(&self, path: &str) -> Option<Fetch> {
        Some(Fetch::get(&self.target, &self.prefix, path))
    }
}
