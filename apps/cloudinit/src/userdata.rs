//! User-data (and vendor-data) as cloud-init reads it: gzip recognised by
//! its magic bytes and inflated (bounded), then the kind named by the first
//! line. `#cloud-config` is read (`cloudconfig`) for `ssh_authorized_keys`,
//! `hostname` and `fqdn`; every other kind (`#!` scripts, `#include`, MIME
//! multipart, `#cloud-boothook`, jinja templates, part handlers, archives)
//! is named as unsupported. Malformed user-data is an error in the report;
//! the metadata's own keys still count.

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::cloudconfig;
use crate::gzip;
use crate::source::Skipped;

/// Most bytes user-data may inflate to.
pub const MAX_INFLATED: usize = 64 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The source has none (404, no file).
    None,
    Empty,
    CloudConfig,
    Script,
    Include,
    Boothook,
    Multipart,
    Jinja,
    PartHandler,
    Archive,
    /// Text with no header cloud-init knows, or not text at all.
    Unknown,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::None => "none",
            Kind::Empty => "empty",
            Kind::CloudConfig => "cloud-config",
            Kind::Script => "script",
            Kind::Include => "include",
            Kind::Boothook => "cloud-boothook",
            Kind::Multipart => "multipart",
            Kind::Jinja => "jinja",
            Kind::PartHandler => "part-handler",
            Kind::Archive => "cloud-config-archive",
            Kind::Unknown => "unknown",
        }
    }

    /// Read for what it says (the others are reported and left alone).
    pub fn supported(self) -> bool {
        matches!(self, Kind::None | Kind::Empty | Kind::CloudConfig)
    }
}

/// What the console and `status` say about the user-data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserDataReport {
    /// "user-data" or "vendor-data"
    pub origin: &'static str,
    pub kind: Kind,
    /// As served (before inflating).
    pub bytes: usize,
    pub gzip: bool,
    /// Top-level cloud-config keys we do not act on, each once, in order.
    pub ignored: Vec<String>,
    /// Why it could not be read (malformed, too large, a fetch error).
    pub error: Option<String>,
}

impl UserDataReport {
    pub fn none(origin: &'static str) -> UserDataReport {
        UserDataReport {
            origin,
            kind: Kind::None,
            bytes: 0,
            gzip: false,
            ignored: Vec::new(),
            error: None,
        }
    }
}

/// What the user-data gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserData {
    pub report: UserDataReport,
    /// `ssh_authorized_keys` entries, unvalidated, in order.
    pub keys: Vec<String>,
    /// Entries that were not key lines, with why.
    pub skipped: Vec<Skipped>,
    /// `fqdn` if given, else `hostname`.
    pub hostname: Option<String>,
}

impl UserData {
    pub fn none(origin: &'static str) -> UserData {
        UserData {
            report: UserDataReport::none(origin),
            keys: Vec::new(),
            skipped: Vec::new(),
            hostname: None,
        }
    }

    /// It could not be fetched.
    pub fn failed(origin: &'static str, why: String) -> UserData {
        let mut u = UserData::none(origin);
        u.report.kind = Kind::Unknown;
        u.report.error = Some(why);
        u
    }
}

/// Read user-data as served; `max_raw` is the source's own limit.
pub fn parse(origin: &'static str, raw: &[u8], max_raw: usize) -> UserData {
    let mut u = UserData::none(origin);
    u.report.bytes = raw.len();
    u.report.kind = Kind::Unknown;
    if raw.len() > max_raw {
        u.report.error = Some(format!(
            "{} bytes, over the limit of {}",
            raw.len(),
            max_raw
        ));
        return u;
    }
    let inflated;
    let data = if gzip::is_gzip(raw) {
        u.report.gzip = true;
        match gzip::inflate(raw, MAX_INFLATED) {
            Ok(d) => {
                inflated = d;
                &inflated[..]
            }
            Err(e) => {
                u.report.error = Some(format!("{}", e));
                return u;
            }
        }
    } else {
        raw
    };
    let Ok(text) = core::str::from_utf8(data) else {
        u.report.error = Some("not UTF-8 text".into());
        return u;
    };
    u.report.kind = kind(text);
    if u.report.kind == Kind::CloudConfig {
        match cloudconfig::read(text) {
            Ok(c) => {
                u.keys = c.keys;
                u.skipped = c
                    .skipped
                    .into_iter()
                    .map(|reason| Skipped {
                        origin: origin.into(),
                        reason,
                    })
                    .collect();
                u.hostname = c.fqdn.or(c.hostname);
                u.report.ignored = c.ignored;
            }
            Err(e) => u.report.error = Some(e),
        }
    }
    u
}

/// The kind, from the first line (the longest header that matches, as
/// cloud-init's prefix table does).
pub fn kind(text: &str) -> Kind {
    if text.trim().is_empty() {
        return Kind::Empty;
    }
    let first = text.lines().next().unwrap_or("").trim_end();
    let word = first.split_ascii_whitespace().next().unwrap_or("");
    let lower = first.to_ascii_lowercase();
    if lower.starts_with("content-type:") || lower.starts_with("mime-version:") {
        return Kind::Multipart;
    }
    if lower.starts_with("## template:") && lower.contains("jinja") {
        return Kind::Jinja;
    }
    match word {
        "#cloud-config" => Kind::CloudConfig,
        "#cloud-config-archive" => Kind::Archive,
        "#include" | "#include-once" => Kind::Include,
        "#cloud-boothook" => Kind::Boothook,
        "#part-handler" => Kind::PartHandler,
        _ if first.starts_with("#!") => Kind::Script,
        _ => Kind::Unknown,
    }
}
