//! NoCloud: `meta-data` (the `yaml` subset, where JSON written on one line
//! parses too; multi-line JSON does not: serde_json's `Value` for it cost
//! 13 KB of kernel text; `instance-id`, `local-hostname`,
//! `public-keys`/`public_keys` as a string of lines, a list, or a map of
//! name to key(s)), `user-data` and the optional `vendor-data`, from a
//! seed URL (`ds=nocloud;s=http://a.b.c.d[:port]/path/`: the
//! `nocloud-net` source) or, through `from_files`, from a `cidata` disk the
//! seed-disk datasource reads.

extern crate alloc;

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::files::{File, Files, Got};
use crate::imds::Target;
use crate::source::{fact, Metadata};
use crate::userdata::{self, UserData};
use crate::yaml::{self, Value};

/// The name of the seed-disk form; the HTTP form is `nocloud-net`.
pub const NAME: &str = "nocloud";
pub const NET_NAME: &str = "nocloud-net";
/// Most bytes of user-data or vendor-data read from a seed.
pub const MAX_SEED_FILE: usize = 64 * 1024;
/// Public-key entries looked at.
const MAX_ENTRIES: usize = 64;

const FILES: &[File] = &[
    File {
        name: "meta-data",
        required: true,
    },
    File {
        name: "user-data",
        required: false,
    },
    File {
        name: "vendor-data",
        required: false,
    },
];

/// Where a NoCloud seed is served: `http://a.b.c.d[:port]/path/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeedUrl {
    pub target: Target,
    /// starts and ends with `/`
    pub path: String,
}

impl SeedUrl {
    /// By IPv4 address (the appliance has no resolver); the path must end
    /// in `/` (the file names are appended, as cloud-init does).
    pub fn parse(url: &str) -> Result<SeedUrl, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or("the seed URL must start with http://")?;
        let (hostport, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, "/"),
        };
        let target = Target::parse(&format!("http://{}", hostport))
            .ok_or("the seed URL's host must be an IPv4 address, with an optional port")?;
        if !path.ends_with('/') {
            return Err("the seed URL's path must end with /".into());
        }
        if !path.bytes().all(|b| b.is_ascii_graphic()) || path.contains(['?', '#']) {
            return Err("the seed URL's path must be printable ASCII, without ? or #".into());
        }
        Ok(SeedUrl {
            target,
            path: path.into(),
        })
    }
}

/// Values given on the command line (`h=`, `i=`): they win over meta-data.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    pub hostname: Option<String>,
    pub instance_id: Option<String>,
}

/// The NoCloud seed at `url` as a `Source`.
pub fn source(url: SeedUrl, overrides: Overrides, seed: u32) -> Files {
    let detail = format!("seed=http://{}{}", url.target.host(), url.path);
    let build = Box::new(move |got: &[Got]| {
        let meta = got.first().and_then(Got::body).unwrap_or(&[]);
        let file = |i: usize| got.get(i).cloned().unwrap_or(Got::Missing);
        let mut md = with_overrides(meta, file(1), file(2), &overrides)?;
        md.source = NET_NAME;
        md.detail = detail.clone();
        Ok(md)
    });
    Files::new(NET_NAME, url.target, url.path, FILES, seed, build)
}

/// meta-data, user-data and vendor-data (as fetched or read from a disk).
pub fn from_files(meta_data: &[u8], user_data: Got, vendor_data: Got) -> Result<Metadata, String> {
    with_overrides(meta_data, user_data, vendor_data, &Overrides::default())
}

/// `from_files`, with the command line's values over meta-data's (and
/// user-data's hostname still over both).
pub fn with_overrides(
    meta_data: &[u8],
    user_data: Got,
    vendor_data: Got,
    overrides: &Overrides,
) -> Result<Metadata, String> {
    let text = core::str::from_utf8(meta_data).map_err(|_| "meta-data is not UTF-8 text")?;
    let doc = yaml::parse(text).map_err(|e| format!("meta-data {}", e))?;
    if !matches!(doc, Value::Map(_) | Value::Null) {
        return Err("meta-data is not a mapping".into());
    }
    let mut md = Metadata::new(NAME);
    md.instance_id = doc
        .get("instance-id")
        .and_then(Value::as_str)
        .and_then(fact);
    md.hostname = doc
        .get("local-hostname")
        .and_then(Value::as_str)
        .and_then(fact);
    if let Some(h) = &overrides.hostname {
        md.hostname = Some(h.clone());
    }
    if let Some(i) = &overrides.instance_id {
        md.instance_id = Some(i.clone());
    }
    for name in ["public-keys", "public_keys"] {
        if let Some(v) = doc.get(name) {
            keys(&mut md, v);
        }
    }
    let read = |origin, got: Got| match got {
        Got::Body(b) => userdata::parse(origin, &b, MAX_SEED_FILE),
        Got::Missing => UserData::none(origin),
        Got::Failed(why) => UserData::failed(origin, why),
    };
    md.merge(
        read("user-data", user_data),
        read("vendor-data", vendor_data),
    );
    Ok(md)
}

/// cloud-init's normalisation: a string of key lines, a list of them, or
/// a map of name to a string or a list.
fn keys(md: &mut Metadata, v: &Value) {
    const ORIGIN: &str = "meta-data";
    let mut entries: Vec<(&str, &str)> = Vec::new();
    let mut odd = 0usize;
    match v {
        Value::Map(m) => {
            for (name, v) in m {
                match v {
                    Value::Seq(items) => items
                        .iter()
                        .for_each(|i| key_lines(name, i, &mut entries, &mut odd)),
                    v => key_lines(name, v, &mut entries, &mut odd),
                }
            }
        }
        Value::Seq(items) => items
            .iter()
            .for_each(|i| key_lines("", i, &mut entries, &mut odd)),
        Value::Null => {}
        v => key_lines("", v, &mut entries, &mut odd),
    }
    for (name, line) in entries.iter().take(MAX_ENTRIES) {
        md.offer_key(ORIGIN, name, line);
    }
    if entries.len() > MAX_ENTRIES {
        let why = format!(
            "{} more public-keys entries not read",
            entries.len() - MAX_ENTRIES
        );
        md.skip(ORIGIN, why);
    }
    if odd > 0 {
        md.skip(
            ORIGIN,
            format!("{} public-keys entries are not strings", odd),
        );
    }
}

/// The key lines of one entry (a string may hold several; `#` lines are
/// comments); anything else is counted as odd.
fn key_lines<'a>(name: &'a str, v: &'a Value, out: &mut Vec<(&'a str, &'a str)>, odd: &mut usize) {
    match v {
        Value::Str(s) => s
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .for_each(|l| out.push((name, l))),
        _ => *odd += 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEnvP/nGCmK5aDXSbxz5xWwD5g6Q+t+cg0jftODORkTI test@ed25519";

    fn md(meta: &str) -> Result<Metadata, String> {
        from_files(meta.as_bytes(), Got::Missing, Got::Missing)
    }

    #[test]
    fn public_keys_in_every_shape() {
        let shapes = [
            format!(
                "instance-id: iid-1\nlocal-hostname: seed-host\npublic-keys:\n  - {}\n",
                KEY
            ),
            format!("public_keys: \"{}\"\n", KEY),
            format!("public-keys: |\n  # a comment\n  {}\n\n", KEY),
            format!("public-keys:\n  mykey: {}\n", KEY),
            format!("public-keys:\n  mykey:\n    - {}\n", KEY),
            format!(
                "{{\"instance-id\": \"iid-1\", \"public-keys\": [\"{}\"]}}",
                KEY
            ),
            format!("{{\"public_keys\": {{\"mykey\": \"{}\"}}}}\n", KEY),
        ];
        for s in &shapes {
            let m = md(s).unwrap_or_else(|e| panic!("{}: {}", s, e));
            assert_eq!(m.keys.len(), 1, "{}", s);
            assert_eq!(m.keys[0].origin, "meta-data");
            assert!(m.skipped.is_empty(), "{}: {:?}", s, m.skipped);
        }
        let m = md(&shapes[0]).unwrap();
        assert_eq!(m.instance_id.as_deref(), Some("iid-1"));
        assert_eq!(m.hostname.as_deref(), Some("seed-host"));
        assert_eq!(md(&shapes[3]).unwrap().keys[0].name, "mykey");
    }

    #[test]
    fn user_and_vendor_data_merge_in_order() {
        let meta = b"instance-id: x\nlocal-hostname: meta\n";
        let ud =
            Got::Body(format!("#cloud-config\nssh_authorized_keys: [\"{}\"]\n", KEY).into_bytes());
        let other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBTNIgAqBBmRJ68FMrDIxqV0X/6zK/cdhRkP0x2FnX2c one@test";
        let vd = Got::Body(
            format!(
                "#cloud-config\nhostname: vendor\nssh_authorized_keys: [\"{}\"]\n",
                other
            )
            .into_bytes(),
        );
        let m = from_files(meta, ud, vd).unwrap();
        let origins: Vec<&str> = m.keys.iter().map(|k| k.origin.as_str()).collect();
        assert_eq!(origins, ["user-data", "vendor-data"]);
        assert_eq!(
            m.hostname.as_deref(),
            Some("vendor"),
            "vendor-data over meta-data"
        );
        assert_eq!(m.vendor_data.kind, userdata::Kind::CloudConfig);
    }

    #[test]
    fn errors_and_odd_entries() {
        assert_eq!(
            md("- a\n").err().as_deref(),
            Some("meta-data is not a mapping")
        );
        assert_eq!(
            md("instance-id: &a x\n").err().as_deref(),
            Some("meta-data line 1 column 14: anchors are not supported")
        );
        assert_eq!(
            md("{\n  \"instance-id\": \"x\"\n}\n").err().as_deref(),
            Some("meta-data line 1 column 2: flow collection not closed on its line"),
            "multi-line JSON is refused with a position"
        );
        assert_eq!(
            from_files(b"\xff", Got::Missing, Got::Missing)
                .err()
                .as_deref(),
            Some("meta-data is not UTF-8 text")
        );
        let m = md("public-keys: [[x], {a: b}, \"not a key\"]\n").unwrap();
        let reasons: Vec<&str> = m.skipped.iter().map(|s| s.reason.as_str()).collect();
        assert_eq!(
            reasons,
            [
                "invalid key: unsupported key type \"not\"",
                "2 public-keys entries are not strings"
            ]
        );
        assert_eq!(md("").unwrap().keys.len(), 0);
    }

    #[test]
    fn seed_urls() {
        let u = SeedUrl::parse("http://10.0.0.1:8000/seeds/vm1/").unwrap();
        assert_eq!(
            u.target,
            Target {
                addr: [10, 0, 0, 1],
                port: 8000
            }
        );
        assert_eq!(u.path, "/seeds/vm1/");
        assert_eq!(SeedUrl::parse("http://10.0.0.1").unwrap().path, "/");
        for bad in [
            "https://10.0.0.1/",
            "http://seed.local/",
            "http://10.0.0.1/x",
            "http://10.0.0.1/a b/",
            "http://10.0.0.1/?q/",
            "http://10.0.0.1:0/",
        ] {
            assert!(SeedUrl::parse(bad).is_err(), "{}", bad);
        }
    }
}
