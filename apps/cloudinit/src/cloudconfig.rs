//! `#cloud-config` user-data, read through the `yaml` subset: the keys the
//! appliance acts on are `ssh_authorized_keys` (a list of key lines, merged
//! after the metadata's keys), `hostname` and `fqdn`; every other
//! top-level key is listed once as ignored (including `users`: the
//! appliance has one login user, `ssh_user=`, and a per-user key list
//! would not mean what it says).

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::source::fact;
use crate::yaml::{self, Value};

/// `ssh_authorized_keys` entries looked at.
pub const MAX_ENTRIES: usize = 64;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CloudConfig {
    /// `ssh_authorized_keys` strings, unvalidated, in order.
    pub keys: Vec<String>,
    /// Entries not used, with why.
    pub skipped: Vec<String>,
    pub hostname: Option<String>,
    pub fqdn: Option<String>,
    /// Other top-level keys, in order.
    pub ignored: Vec<String>,
}

pub fn read(text: &str) -> Result<CloudConfig, String> {
    let doc = yaml::parse(text).map_err(|e| format!("cloud-config {}", e))?;
    let entries = match doc {
        Value::Map(m) => m,
        Value::Null => Vec::new(),
        _ => return Err("cloud-config is not a mapping".into()),
    };
    let mut c = CloudConfig::default();
    for (k, v) in entries {
        match k.as_str() {
            "ssh_authorized_keys" => keys(&mut c, v),
            "hostname" | "fqdn" => {
                let name = v.as_str().and_then(fact);
                if name.is_none() && v != Value::Null {
                    c.skipped.push(format!("{} is not a host name", k));
                }
                if k == "fqdn" {
                    c.fqdn = name;
                } else {
                    c.hostname = name;
                }
            }
            _ => c.ignored.push(k),
        }
    }
    Ok(c)
}

fn keys(c: &mut CloudConfig, v: Value) {
    let items = match v {
        Value::Seq(items) => items,
        Value::Null => return,
        _ => return c.skipped.push("ssh_authorized_keys is not a list".into()),
    };
    let n = items.len();
    for (i, item) in items.into_iter().take(MAX_ENTRIES).enumerate() {
        match item {
            Value::Str(s) => c.keys.push(s),
            _ => c
                .skipped
                .push(format!("ssh_authorized_keys entry {} is not a string", i)),
        }
    }
    if n > MAX_ENTRIES {
        c.skipped.push(format!(
            "{} more ssh_authorized_keys entries not read",
            n - MAX_ENTRIES
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_the_appliance_uses() {
        let c = read(
            "#cloud-config\nhostname: web\nfqdn: web.example.com\nssh_authorized_keys:\n  - ssh-ed25519 AAAA a\n  - [not, a, string]\n  - 'ssh-rsa BBBB b'\npackages: [x]\nruncmd:\n  - echo hi\nusers: [default]\n",
        )
        .unwrap();
        assert_eq!(c.keys, ["ssh-ed25519 AAAA a", "ssh-rsa BBBB b"]);
        assert_eq!(c.skipped, ["ssh_authorized_keys entry 1 is not a string"]);
        assert_eq!(c.hostname.as_deref(), Some("web"));
        assert_eq!(c.fqdn.as_deref(), Some("web.example.com"));
        assert_eq!(c.ignored, ["packages", "runcmd", "users"]);
    }

    #[test]
    fn odd_shapes() {
        assert_eq!(read("#cloud-config\n"), Ok(CloudConfig::default()));
        assert_eq!(
            read("#cloud-config\n- a\n"),
            Err("cloud-config is not a mapping".into())
        );
        let c = read("ssh_authorized_keys: ssh-ed25519 AAAA\nhostname: 'two words'\n").unwrap();
        assert!(c.keys.is_empty());
        assert_eq!(
            c.skipped,
            [
                "ssh_authorized_keys is not a list",
                "hostname is not a host name"
            ]
        );
        assert_eq!(
            read("a: &x 1\n"),
            Err("cloud-config line 1 column 4: anchors are not supported".into())
        );
        let many = (0..MAX_ENTRIES + 3)
            .map(|i| format!("  - k{}\n", i))
            .collect::<String>();
        let c = read(&format!("ssh_authorized_keys:\n{}", many)).unwrap();
        assert_eq!(c.keys.len(), MAX_ENTRIES);
        assert_eq!(c.skipped, ["3 more ssh_authorized_keys entries not read"]);
    }
}
