//! OpenStack metadata: `GET /openstack/latest/meta_data.json` (`uuid`,
//! `hostname`, the `public_keys` map and the `keys` list) and
//! `/openstack/latest/user_data` (optional, at most 65535 bytes as Nova
//! allows), from the metadata service or, through `from_files`, from a
//! config drive (`config-2`) the seed-disk datasource reads.

extern crate alloc;

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use serde::Deserialize;

use crate::files::{File, Files, Got};
use crate::imds::Target;
use crate::source::{fact, Metadata};
use crate::userdata::{self, UserData};

pub const NAME: &str = "openstack";
pub const PREFIX: &str = "/openstack/latest/";
/// Nova's limit on user_data.
pub const MAX_USER_DATA: usize = 65535;

const FILES: &[File] = &[
    File {
        name: "meta_data.json",
        required: true,
    },
    File {
        name: "user_data",
        required: false,
    },
];

/// The parts of meta_data.json we use; the rest is ignored. A field of the
/// wrong type makes the whole file an error (with serde_json's position).
#[derive(Deserialize)]
struct MetaData {
    uuid: Option<String>,
    hostname: Option<String>,
    public_keys: Option<BTreeMap<String, String>>,
    keys: Option<Vec<KeyItem>>,
}

#[derive(Deserialize)]
struct KeyItem {
    name: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    data: Option<String>,
}

/// The OpenStack metadata service at `target` as a `Source`.
pub fn source(target: Target, seed: u32) -> Files {
    let build = Box::new(|got: &[Got]| {
        let meta = got.first().and_then(Got::body).unwrap_or(&[]);
        from_files(meta, got.get(1).cloned().unwrap_or(Got::Missing))
    });
    Files::new(NAME, target, PREFIX.into(), FILES, seed, build)
}

/// meta_data.json and user_data (as fetched or read from a config drive).
pub fn from_files(meta_data_json: &[u8], user_data: Got) -> Result<Metadata, String> {
    // serde would also take a struct from a JSON array
    if meta_data_json.trim_ascii_start().first() != Some(&b'{') {
        return Err("meta_data.json is not a JSON object".into());
    }
    let m: MetaData =
        serde_json::from_slice(meta_data_json).map_err(|e| format!("meta_data.json: {}", e))?;
    let mut md = Metadata::new(NAME);
    md.instance_id = m.uuid.as_deref().and_then(fact);
    md.hostname = m.hostname.as_deref().and_then(fact);
    let mut seen: Vec<String> = Vec::new();
    for (name, key) in m.public_keys.unwrap_or_default() {
        md.offer_key("public_keys", &name, &key);
        seen.push(key.trim().into());
    }
    for (i, k) in m.keys.unwrap_or_default().into_iter().enumerate() {
        let origin = format!("keys/{}", i);
        let Some(data) = k.data else {
            md.skip(&origin, "no data".into());
            continue;
        };
        if seen.iter().any(|s| *s == data.trim()) {
            continue; // the same key as in public_keys: Nova lists it twice
        }
        match k.kind.as_deref() {
            None | Some("ssh") => md.offer_key(&origin, k.name.as_deref().unwrap_or(""), &data),
            Some(other) => md.skip(&origin, format!("type {:?} is not an ssh key", other)),
        }
    }
    let user = match user_data {
        Got::Body(b) => userdata::parse("user-data", &b, MAX_USER_DATA),
        Got::Missing => UserData::none("user-data"),
        Got::Failed(why) => UserData::failed("user-data", why),
    };
    md.merge(user, UserData::none("vendor-data"));
    Ok(md)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEnvP/nGCmK5aDXSbxz5xWwD5g6Q+t+cg0jftODORkTI test@ed25519";

    #[test]
    fn nova_meta_data() {
        let json = format!(
            r#"{{"uuid": "83679162-1378-4288-a2d4-70e13ec132aa", "hostname": "test.novalocal",
                "name": "test", "availability_zone": "nova", "launch_index": 0,
                "meta": {{"role": "web"}},
                "public_keys": {{"mykey": "{k}\n"}},
                "keys": [{{"name": "mykey", "type": "ssh", "data": "{k}\n"}},
                         {{"name": "cert", "type": "x509", "data": "-----BEGIN"}},
                         {{"name": "nodata", "type": "ssh"}}]}}"#,
            k = KEY
        );
        let md = from_files(json.as_bytes(), Got::Missing).unwrap();
        assert_eq!(
            md.instance_id.as_deref(),
            Some("83679162-1378-4288-a2d4-70e13ec132aa")
        );
        assert_eq!(md.hostname.as_deref(), Some("test.novalocal"));
        assert_eq!(md.keys.len(), 1);
        assert_eq!(
            (md.keys[0].origin.as_str(), md.keys[0].name.as_str()),
            ("public_keys", "mykey")
        );
        let skipped: Vec<(&str, &str)> = md
            .skipped
            .iter()
            .map(|s| (s.origin.as_str(), s.reason.as_str()))
            .collect();
        assert_eq!(
            skipped,
            [
                ("keys/1", "type \"x509\" is not an ssh key"),
                ("keys/2", "no data")
            ]
        );
    }

    #[test]
    fn variants_and_errors() {
        // only the keys list; no uuid; user_data as cloud-config
        let json = format!(r#"{{"keys": [{{"data": "{}"}}]}}"#, KEY);
        let ud = Got::Body(b"#cloud-config\nhostname: from-ud\n".to_vec());
        let md = from_files(json.as_bytes(), ud).unwrap();
        assert_eq!(md.keys[0].origin, "keys/0");
        assert_eq!(md.hostname.as_deref(), Some("from-ud"));
        assert_eq!(md.instance_id, None);
        // nulls are absent
        let md = from_files(
            br#"{"public_keys": null, "keys": null, "uuid": null}"#,
            Got::Missing,
        )
        .unwrap();
        assert!(md.keys.is_empty());
        for (bad, want) in [
            (
                &br#"{"hostname": 5}"#[..],
                "meta_data.json: invalid type: integer `5`, expected a string at line 1 column 14",
            ),
            (
                b"{",
                "meta_data.json: EOF while parsing an object at line 1 column 1",
            ),
            (
                br#"["u", "h", null, null]"#,
                "meta_data.json is not a JSON object",
            ),
            (
                br#"{"public_keys": {"a": 1}}"#,
                "meta_data.json: invalid type: integer `1`, expected a string at line 1 column 23",
            ),
        ] {
            assert_eq!(from_files(bad, Got::Missing).err().as_deref(), Some(want));
        }
        // deep nesting in a field we ignore is skipped without recursion;
        // in one we read it is a type error at the first level
        let deep = format!(
            "{{\"meta\": {}{}}}",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert!(from_files(deep.as_bytes(), Got::Missing).is_ok());
        let deep = format!(
            "{{\"keys\": {}{}}}",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert!(from_files(deep.as_bytes(), Got::Missing)
            .unwrap_err()
            .contains("invalid type: sequence"));
    }
}
