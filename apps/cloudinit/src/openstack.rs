//! OpenStack metadata: `GET /openstack/latest/meta_data.json` (`uuid`,
//! `hostname`, the `public_keys` map and the `keys` list) and
//! `/openstack/latest/user_data` (optional, at most 65535 bytes as Nova
//! allows), from the metadata service or, through `from_files`, from a
//! config drive (`config-2`) the seed-disk datasource reads.

extern crate alloc;

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::files::{File, Files, Got};
use crate::imds::Target;
use crate::json::{self, Json};
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
/// wrong type makes the whole file an error naming the field.
struct MetaData {
    uuid: Option<String>,
    hostname: Option<String>,
    /// In the file's order.
    public_keys: Vec<(String, String)>,
    keys: Vec<KeyItem>,
}

struct KeyItem {
    name: Option<String>,
    kind: Option<String>,
    data: Option<String>,
}

/// A string member, absent or null: None; another type: an error.
fn opt_str(o: &Json, key: &str, what: &str) -> Result<Option<String>, String> {
    match o.get(key) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::Str(s)) => Ok(Some(s.clone())),
        Some(v) => Err(format!(
            "meta_data.json: {}{} is {}, not a string",
            what,
            key,
            v.kind()
        )),
    }
}

fn meta_data(text: &[u8]) -> Result<MetaData, String> {
    let doc = json::parse(text).map_err(|e| format!("meta_data.json: {}", e))?;
    if !matches!(doc, Json::Obj(_)) {
        return Err("meta_data.json is not a JSON object".into());
    }
    let public_keys = match doc.get("public_keys") {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::Obj(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Json::Str(s) => Ok((k.clone(), s.clone())),
                other => Err(format!(
                    "meta_data.json: public_keys.{} is {}, not a string",
                    k,
                    other.kind()
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(v) => {
            return Err(format!(
                "meta_data.json: public_keys is {}, not an object",
                v.kind()
            ))
        }
    };
    let keys = match doc.get("keys") {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::Arr(items)) => items
            .iter()
            .map(|k| {
                if !matches!(k, Json::Obj(_)) {
                    return Err(format!(
                        "meta_data.json: a keys entry is {}, not an object",
                        k.kind()
                    ));
                }
                Ok(KeyItem {
                    name: opt_str(k, "name", "keys[].")?,
                    kind: opt_str(k, "type", "keys[].")?,
                    data: opt_str(k, "data", "keys[].")?,
                })
            })
            .collect::<Result<_, _>>()?,
        Some(v) => {
            return Err(format!(
                "meta_data.json: keys is {}, not an array",
                v.kind()
            ))
        }
    };
    Ok(MetaData {
        uuid: opt_str(&doc, "uuid", "")?,
        hostname: opt_str(&doc, "hostname", "")?,
        public_keys,
        keys,
    })
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
    let m = meta_data(meta_data_json)?;
    let mut md = Metadata::new(NAME);
    md.instance_id = m.uuid.as_deref().and_then(fact);
    md.hostname = m.hostname.as_deref().and_then(fact);
    let mut seen: Vec<String> = Vec::new();
    for (name, key) in m.public_keys {
        md.offer_key("public_keys", &name, &key);
        seen.push(key.trim().into());
    }
    for (i, k) in m.keys.into_iter().enumerate() {
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
                "meta_data.json: hostname is a number, not a string",
            ),
            (
                b"{",
                "meta_data.json: byte 1: an object key must be a string",
            ),
            (
                br#"["u", "h", null, null]"#,
                "meta_data.json is not a JSON object",
            ),
            (
                br#"{"public_keys": {"a": 1}}"#,
                "meta_data.json: public_keys.a is a number, not a string",
            ),
            (
                br#"{"keys": [[]]}"#,
                "meta_data.json: a keys entry is an array, not an object",
            ),
            (
                br#"{"uuid": "a", "uuid": "b"}"#,
                "meta_data.json: byte 14: duplicate key",
            ),
        ] {
            assert_eq!(from_files(bad, Got::Missing).err().as_deref(), Some(want));
        }
        // nesting is bounded wherever it is, read or ignored
        let deep = format!(
            "{{\"meta\": {}{}}}",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert!(from_files(deep.as_bytes(), Got::Missing)
            .unwrap_err()
            .contains("nested too deep"));
    }
}
