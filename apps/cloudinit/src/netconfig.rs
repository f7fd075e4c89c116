//! cloud-init's `network-config` (from a seed disk), for the first NIC:
//! version 1 (`config:` list, a `physical` entry's first `subnets` item)
//! and version 2 (`ethernets:`, the first entry; optionally under a
//! top-level `network:`), read through the YAML subset. What we take: a
//! static IPv4 address with its prefix (`a.b.c.d/p`, or `address` plus
//! `netmask`) and a gateway (`gateway` / `gateway4` / a default route), or
//! DHCP. IPv6 entries are passed over; anything else is an error naming
//! what it did not understand, and the appliance then uses DHCP.

extern crate alloc;

use alloc::format;
use alloc::string::String;

use crate::addr::{parse_decimal, parse_ipv4};
use crate::yaml::{self, Value};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetConfig {
    Dhcp,
    Static {
        addr: [u8; 4],
        prefix_len: u8,
        gateway: Option<[u8; 4]>,
    },
}

/// Parse a `network-config` file. Ok(None): it says nothing about IPv4
/// for the first NIC (then: DHCP, as without the file).
pub fn parse(text: &[u8]) -> Result<Option<NetConfig>, String> {
    let text =
        core::str::from_utf8(text).map_err(|_| String::from("network-config is not UTF-8 text"))?;
    let doc = yaml::parse(text).map_err(|e| format!("network-config: {}", e))?;
    let doc = doc.get("network").unwrap_or(&doc);
    match doc.get("version").and_then(Value::as_str) {
        Some("1") => v1(doc),
        Some("2") => v2(doc),
        Some(v) => Err(format!("network-config version {:?} is not 1 or 2", v)),
        None => Err("network-config has no version".into()),
    }
}

fn v1(doc: &Value) -> Result<Option<NetConfig>, String> {
    let Some(Value::Seq(items)) = doc.get("config") else {
        return Err("network-config v1 has no config list".into());
    };
    let Some(nic) = items
        .iter()
        .find(|i| i.get("type").and_then(Value::as_str) == Some("physical"))
    else {
        return Ok(None);
    };
    let Some(Value::Seq(subnets)) = nic.get("subnets") else {
        return Ok(None);
    };
    for s in subnets {
        match s.get("type").and_then(Value::as_str) {
            Some("dhcp") | Some("dhcp4") => return Ok(Some(NetConfig::Dhcp)),
            Some("static") => {
                let addr = s
                    .get("address")
                    .and_then(Value::as_str)
                    .ok_or("a static subnet without address")?;
                if addr.contains(':') {
                    continue; // IPv6
                }
                let (a, p) = address(addr, s.get("netmask").and_then(Value::as_str))?;
                let gateway = gw(s.get("gateway"))?;
                return Ok(Some(NetConfig::Static {
                    addr: a,
                    prefix_len: p,
                    gateway,
                }));
            }
            Some("static6") | Some("dhcp6") | Some("ipv6_slaac") => continue,
            other => {
                return Err(format!(
                    "network-config v1 subnet type {:?} not understood",
                    other.unwrap_or("-")
                ))
            }
        }
    }
    Ok(None)
}

fn v2(doc: &Value) -> Result<Option<NetConfig>, String> {
    let Some(Value::Map(eths)) = doc.get("ethernets") else {
        return Ok(None);
    };
    let Some((_, nic)) = eths.first() else {
        return Ok(None);
    };
    if let Some(Value::Seq(addrs)) = nic.get("addresses") {
        for a in addrs {
            let Some(a) = a.as_str() else {
                return Err("network-config v2 address is not a string".into());
            };
            if a.contains(':') {
                continue;
            }
            let (addr, prefix_len) = address(a, None)?;
            let mut gateway = gw(nic.get("gateway4"))?;
            if gateway.is_none() {
                if let Some(Value::Seq(routes)) = nic.get("routes") {
                    for r in routes {
                        let to = r.get("to").and_then(Value::as_str);
                        if matches!(to, Some("default") | Some("0.0.0.0/0")) {
                            gateway = gw(r.get("via"))?;
                            break;
                        }
                    }
                }
            }
            return Ok(Some(NetConfig::Static {
                addr,
                prefix_len,
                gateway,
            }));
        }
    }
    match nic.get("dhcp4").and_then(Value::as_str) {
        Some("true") | Some("yes") | Some("on") => Ok(Some(NetConfig::Dhcp)),
        _ => Ok(None),
    }
}

/// `a.b.c.d/p`, or `a.b.c.d` with a dotted netmask.
fn address(a: &str, netmask: Option<&str>) -> Result<([u8; 4], u8), String> {
    let bad = || format!("network-config address {:?} is not a.b.c.d/prefix", a);
    let (ip, prefix) = match (a.split_once('/'), netmask) {
        (Some((ip, p)), _) => (ip, parse_decimal(p, 32).ok_or_else(bad)? as u8),
        (None, Some(m)) => {
            let m = u32::from_be_bytes(parse_ipv4(m).ok_or_else(bad)?);
            if m.leading_ones() + m.trailing_zeros() != 32 {
                return Err(format!(
                    "network-config netmask of {:?} is not contiguous",
                    a
                ));
            }
            (a, m.leading_ones() as u8)
        }
        (None, None) => return Err(bad()),
    };
    let ip = parse_ipv4(ip).ok_or_else(bad)?;
    if !(1..=32).contains(&prefix) {
        return Err(bad());
    }
    Ok((ip, prefix))
}

fn gw(v: Option<&Value>) -> Result<Option<[u8; 4]>, String> {
    match v.and_then(Value::as_str) {
        None => Ok(None),
        Some(g) => parse_ipv4(g)
            .map(Some)
            .ok_or_else(|| format!("network-config gateway {:?} is not a.b.c.d", g)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(a: [u8; 4], p: u8, g: Option<[u8; 4]>) -> Option<NetConfig> {
        Some(NetConfig::Static {
            addr: a,
            prefix_len: p,
            gateway: g,
        })
    }

    #[test]
    fn version_1() {
        let t = b"version: 1\nconfig:\n  - type: physical\n    name: eth0\n    subnets:\n      - type: static\n        address: 10.0.0.5/24\n        gateway: 10.0.0.1\n";
        assert_eq!(parse(t), Ok(st([10, 0, 0, 5], 24, Some([10, 0, 0, 1]))));
        let t = b"version: 1\nconfig:\n- type: physical\n  name: eth0\n  subnets:\n  - type: static\n    address: 192.168.1.9\n    netmask: 255.255.255.0\n";
        assert_eq!(parse(t), Ok(st([192, 168, 1, 9], 24, None)));
        let t = b"version: 1\nconfig:\n- type: physical\n  subnets:\n  - type: dhcp\n";
        assert_eq!(parse(t), Ok(Some(NetConfig::Dhcp)));
        let t = b"version: 1\nconfig:\n- type: physical\n  subnets:\n  - type: static\n    address: 10.0.0.5\n    netmask: 255.0.255.0\n";
        assert!(parse(t).unwrap_err().contains("not contiguous"));
    }

    #[test]
    fn version_2() {
        let t = b"network:\n  version: 2\n  ethernets:\n    eth0:\n      addresses: [10.0.0.7/24]\n      gateway4: 10.0.0.1\n";
        assert_eq!(parse(t), Ok(st([10, 0, 0, 7], 24, Some([10, 0, 0, 1]))));
        let t = b"version: 2\nethernets:\n  id0:\n    match:\n      macaddress: '00:16:3e:00:00:02'\n    addresses:\n      - fd00::5/64\n      - 10.1.2.3/16\n    routes:\n      - to: default\n        via: 10.1.0.1\n";
        assert_eq!(parse(t), Ok(st([10, 1, 2, 3], 16, Some([10, 1, 0, 1]))));
        assert_eq!(
            parse(b"version: 2\nethernets:\n  eth0:\n    dhcp4: true\n"),
            Ok(Some(NetConfig::Dhcp))
        );
        assert_eq!(parse(b"version: 2\nethernets: {}\n"), Ok(None));
    }

    #[test]
    fn refusals() {
        assert!(parse(b"version: 3\n").is_err());
        assert!(parse(b"config: []\n").is_err());
        assert!(parse(b"version: 2\nethernets:\n  e:\n    addresses: [10.0.0.5]\n").is_err());
        assert!(parse(b"version: 2\nethernets:\n  e:\n    addresses: [10.0.0.5/33]\n").is_err());
        assert!(parse(
            b"version: 2\nethernets:\n  e:\n    addresses: [10.0.0.5/24]\n    gateway4: x\n"
        )
        .is_err());
        assert!(parse(b"\xff").is_err());
        assert!(
            parse(b"version: 1\nconfig:\n- type: physical\n  subnets:\n  - type: bonded\n")
                .is_err()
        );
    }
}
