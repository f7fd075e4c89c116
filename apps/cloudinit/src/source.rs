//! The metadata-source seam: every network datasource (EC2 IMDS, OpenStack,
//! NoCloud over HTTP, and the selection between them) is a sans-IO state
//! machine behind one trait, and every one of them ends in the same
//! `Metadata`. The runtime performs each exchange (`exchange::Exchange`
//! over a TCP connection to `Request::to`) and reports the `Outcome`.
//!
//! Driving a source:
//! ```text
//! loop match src.next(now) {
//!     Action::Request(r) => { open r.to, send r.bytes, ...; src.on_outcome(now, outcome) }
//!     Action::Wait(t)    => sleep until t,
//!     Action::Done(md)   => { print report::metadata_lines(&md, ..); break }
//!     Action::Failed(why)=> { print report::error(&why); break }
//! }
//! ```
//! `Done` may carry no usable key (every one was skipped, or none was
//! offered): the report then ends in `cloudinit: error`, and SSH cannot run.

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::fetch::Fetch;
use crate::imds::{Outcome, Target};
use crate::sshkey::{self, PublicKey};
use crate::userdata::{UserData, UserDataReport};

/// Keys kept per run, from every origin together; the rest are skipped.
pub const MAX_KEYS: usize = 16;
/// Skipped entries remembered (each is a console line).
pub const MAX_SKIPPED: usize = 32;

/// Where a request goes and what to send (one HTTP/1.1 exchange on its
/// own connection).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub to: Target,
    pub bytes: Vec<u8>,
}

// `Done` is returned once per run: boxing it would only cost the callers.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Connect to `to` (within `exchange::CONNECT_TIMEOUT_NS`), send, read
    /// the response (within `imds::REQUEST_TIMEOUT_NS`), report the outcome.
    Request(Request),
    /// Nothing to do until this time (ns).
    Wait(u64),
    Done(Metadata),
    Failed(String),
}

/// One network metadata source as a state machine.
pub trait Source {
    /// "ec2", "openstack", "nocloud-net": the console's `datasource=` value.
    fn name(&self) -> &'static str;
    /// What to do now (call when no exchange is in flight). Once `Done` or
    /// `Failed`, it keeps answering the same.
    fn next(&mut self, now_ns: u64) -> Action;
    fn on_outcome(&mut self, now_ns: u64, outcome: Outcome);
    /// Retries so far and why the last one happened (for `imds: retry`).
    fn retries(&self) -> u32;
    fn last_error(&self) -> Option<&str>;
    /// A one-off fetch of `path` under this source's tree, for SSH's
    /// `metadata PATH` (None: the source has no such tree, or is not done).
    fn fetch(&self, path: &str) -> Option<Fetch>;
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyEntry {
    pub key: PublicKey,
    /// The name the source gives the key (EC2 key pair, OpenStack key
    /// name); empty when it has none (user-data).
    pub name: String,
    /// Where it came from: "public-keys/0", "public_keys", "keys/1",
    /// "meta-data", "user-data", "vendor-data".
    pub origin: String,
}

/// An entry that was not used, and why (one console line each).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    pub origin: String,
    pub reason: String,
}

/// What any source learned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metadata {
    pub source: &'static str,
    /// Source-specific, shown in `status`: e.g. "imds=v2".
    pub detail: String,
    /// Every usable key, metadata first then user-data then vendor-data,
    /// validated and deduplicated (by key blob), at most `MAX_KEYS`.
    pub keys: Vec<KeyEntry>,
    /// Entries that were not keys or could not be used, with why.
    pub skipped: Vec<Skipped>,
    pub instance_id: Option<String>,
    /// user-data `fqdn`, else user-data `hostname`, else vendor-data's,
    /// else the metadata's.
    pub hostname: Option<String>,
    pub user_data: UserDataReport,
    pub vendor_data: UserDataReport,
    pub requests: u32,
    pub retries: u32,
}

impl Metadata {
    pub fn new(source: &'static str) -> Metadata {
        Metadata {
            source,
            detail: String::new(),
            keys: Vec::new(),
            skipped: Vec::new(),
            instance_id: None,
            hostname: None,
            user_data: UserDataReport::none("user-data"),
            vendor_data: UserDataReport::none("vendor-data"),
            requests: 0,
            retries: 0,
        }
    }

    /// Validate one key line and keep it unless it is a duplicate or over
    /// the limit; otherwise remember why not.
    pub fn offer_key(&mut self, origin: &str, name: &str, line: &str) {
        let key = match sshkey::parse(line) {
            Ok(k) => k,
            Err(e) => return self.skip(origin, format!("invalid key: {}", e)),
        };
        if let Some(first) = self.keys.iter().find(|k| k.key.blob == key.blob) {
            let why = format!("duplicate of the key from {}", first.origin);
            return self.skip(origin, why);
        }
        if self.keys.len() >= MAX_KEYS {
            return self.skip(origin, format!("more than {} keys", MAX_KEYS));
        }
        self.keys.push(KeyEntry {
            key,
            name: name.into(),
            origin: origin.into(),
        });
    }

    pub fn skip(&mut self, origin: &str, reason: String) {
        if self.skipped.len() < MAX_SKIPPED {
            self.skipped.push(Skipped {
                origin: origin.into(),
                reason,
            });
        }
    }

    /// Merge what user-data and vendor-data gave: their keys after the
    /// metadata's (user-data's first), and a hostname over the metadata's
    /// (user-data's over vendor-data's).
    pub fn merge(&mut self, user: UserData, vendor: UserData) {
        for data in [&user, &vendor] {
            for line in &data.keys {
                self.offer_key(data.report.origin, "", line);
            }
            for s in &data.skipped {
                self.skip(&s.origin, s.reason.clone());
            }
        }
        if let Some(h) = user.hostname.or(vendor.hostname) {
            self.hostname = Some(h);
        }
        self.user_data = user.report;
        self.vendor_data = vendor.report;
    }

    /// The first usable key, for the single-key API (`imds::Summary`).
    pub fn first_key(&self) -> Option<&KeyEntry> {
        self.keys.first()
    }
}

/// A one-line fact (instance-id, hostname): printable ASCII without
/// spaces, at most 255 bytes, trimmed.
pub fn fact(text: &str) -> Option<String> {
    let t = text.trim();
    (!t.is_empty() && t.len() <= 255 && t.bytes().all(|b| b.is_ascii_graphic())).then(|| t.into())
}
