//! The boot command line as typed options: `ip=10.0.0.2/24 gw=10.0.0.1
//! imds=http://host:port ds=NAME[;s=URL] selftest=NAME cloudinit=on|off ssh=on|off
//! ssh_port=N ssh_user=NAME bench=on|off`. Strict: a value
//! that does not parse, a key given twice or a gateway without an address
//! is an error naming the word; keys we do not know are kept, in order, for
//! the caller to report.

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::{self, Write};

use cloudinit::addr::{parse_decimal, parse_ipv4};
use cloudinit::imds::Target;
use cloudinit::report;
use cloudinit::select::{parse_ds, Ds};

/// Words on the line we look at; xl limits the command line to 1 KiB anyway.
pub const MAX_WORDS: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Cidr {
    pub addr: [u8; 4],
    pub prefix_len: u8,
}

impl Ipv4Cidr {
    fn mask(self) -> u32 {
        match self.prefix_len {
            0 => 0,
            n => u32::MAX << (32 - n as u32),
        }
    }

    /// Whether `ip` is on this address's subnet.
    pub fn contains(self, ip: [u8; 4]) -> bool {
        let m = self.mask();
        u32::from_be_bytes(ip) & m == u32::from_be_bytes(self.addr) & m
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selftest {
    Poweroff,
    Reboot,
    Crash,
    Fault,
    Timer,
    Gnttab,
    /// Overflow the boot stack: the guard page must turn it into a report.
    Stack,
    /// Shared-memory copies at every alignment against a byte-wise reference.
    Copy,
}

impl Selftest {
    pub const ALL: [(&'static str, Selftest); 8] = [
        ("poweroff", Selftest::Poweroff),
        ("reboot", Selftest::Reboot),
        ("crash", Selftest::Crash),
        ("fault", Selftest::Fault),
        ("timer", Selftest::Timer),
        ("gnttab", Selftest::Gnttab),
        ("stack", Selftest::Stack),
        ("copy", Selftest::Copy),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, s)| *s == self)
            .map_or("?", |(n, _)| n)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// Static address; None means DHCP.
    pub ip: Option<Ipv4Cidr>,
    /// Default route with a static address.
    pub gw: Option<[u8; 4]>,
    /// Metadata service; None means the default (169.254.169.254:80).
    pub imds: Option<Target>,
    /// `ds=` (cloud-init's spelling; `datasource=` the same): which source
    /// to use. None: a seed disk if there is one, else cloud-init's own
    /// selection over the network.
    pub ds: Option<Ds>,
    pub selftest: Option<Selftest>,
    /// `cloudinit=off` brings the network up without fetching metadata.
    pub cloudinit: bool,
    /// `ssh=off`: no SSH server after the key is fetched.
    pub ssh: bool,
    pub ssh_port: u16,
    /// The one login name SSH accepts.
    pub ssh_user: String,
    /// `bench=on`: the TCP sink and source for the benchmarks.
    pub bench: bool,
    /// Words with keys we do not know, as (key, value); a bare word has
    /// value None.
    pub unknown: Vec<(String, Option<String>)>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            ip: None,
            gw: None,
            imds: None,
            ds: None,
            selftest: None,
            cloudinit: true,
            ssh: true,
            ssh_port: 22,
            ssh_user: String::from("admin"),
            bench: false,
            unknown: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OptionError {
    /// `key=value` where the value does not parse; `why` says what is expected.
    BadValue {
        key: &'static str,
        value: String,
        why: &'static str,
    },
    /// A known key given twice (which one wins would be a guess).
    Duplicate(&'static str),
    /// `gw=` needs `ip=`; with DHCP the router comes from the lease.
    GatewayWithoutAddress,
    /// The gateway is not on the address's subnet, or is the address itself.
    GatewayUnreachable,
    TooManyWords,
    /// `ds=`/`datasource=` that cloud-init's rules refuse.
    BadDatasource {
        value: String,
        why: String,
    },
}

impl fmt::Display for OptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptionError::BadValue { key, value, why } => {
                write!(f, "bad {}={:?}: {}", key, value, why)
            }
            OptionError::Duplicate(k) => write!(f, "{}= given more than once", k),
            OptionError::GatewayWithoutAddress => f.write_str("gw= needs ip="),
            OptionError::GatewayUnreachable => {
                f.write_str("gw= is not another host on the ip= subnet")
            }
            OptionError::TooManyWords => write!(f, "more than {} words", MAX_WORDS),
            OptionError::BadDatasource { value, why } => write!(f, "bad ds={:?}: {}", value, why),
        }
    }
}

const KEYS: [&str; 11] = [
    "ip",
    "gw",
    "imds",
    "ds",
    "datasource",
    "selftest",
    "cloudinit",
    "ssh",
    "ssh_port",
    "ssh_user",
    "bench",
];

fn on_off(v: &str) -> Result<bool, &'static str> {
    match v {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err("on or off"),
    }
}

/// A plain login name: lowercase letter or `_` first, then lowercase
/// letters, digits, `_` or `-`; at most 32.
pub fn valid_user(u: &str) -> bool {
    u.len() <= 32
        && u.bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
        && u.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

pub fn parse(line: &str) -> Result<Options, OptionError> {
    let mut o = Options::default();
    let mut seen = [false; KEYS.len()];
    for (n, word) in line.split_ascii_whitespace().enumerate() {
        if n == MAX_WORDS {
            return Err(OptionError::TooManyWords);
        }
        let (k, v) = match word.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (word, None),
        };
        let Some(i) = KEYS.iter().position(|&known| known == k) else {
            o.unknown.push((k.into(), v.map(String::from)));
            continue;
        };
        let key = KEYS[i];
        if core::mem::replace(&mut seen[i], true) {
            return Err(OptionError::Duplicate(key));
        }
        let value = v.unwrap_or("");
        let bad = |why| OptionError::BadValue {
            key,
            value: value.into(),
            why,
        };
        match key {
            "ip" => o.ip = Some(parse_cidr(value).map_err(bad)?),
            "gw" => o.gw = Some(parse_host(value).map_err(bad)?),
            "imds" => {
                o.imds = Some(Target::parse(value).ok_or_else(|| bad("http://a.b.c.d[:port]"))?)
            }
            "ds" | "datasource" => {
                if o.ds.is_some() {
                    return Err(OptionError::Duplicate("ds"));
                }
                o.ds = Some(parse_ds(value).map_err(|why| OptionError::BadDatasource {
                    value: value.into(),
                    why,
                })?)
            }
            "selftest" => {
                let t = Selftest::ALL.iter().find(|(name, _)| *name == value);
                o.selftest = Some(t.ok_or_else(|| bad("unknown selftest"))?.1);
            }
            "cloudinit" => o.cloudinit = on_off(value).map_err(bad)?,
            "ssh" => o.ssh = on_off(value).map_err(bad)?,
            "bench" => o.bench = on_off(value).map_err(bad)?,
            "ssh_port" => {
                o.ssh_port = parse_decimal(value, 65535)
                    .filter(|&p| p > 0)
                    .ok_or_else(|| bad("a port, 1..65535"))? as u16
            }
            _ => {
                if !valid_user(value) {
                    return Err(bad("a lowercase login name"));
                }
                o.ssh_user = value.into();
            }
        }
    }
    if let Some(gw) = o.gw {
        let ip = o.ip.ok_or(OptionError::GatewayWithoutAddress)?;
        if !ip.contains(gw) || gw == ip.addr {
            return Err(OptionError::GatewayUnreachable);
        }
    }
    Ok(o)
}

/// A unicast address a host can have.
fn parse_host(s: &str) -> Result<[u8; 4], &'static str> {
    let a = parse_ipv4(s).ok_or("a.b.c.d")?;
    match a {
        [0, ..] => Err("0.0.0.0/8 is not a host address"),
        [127, ..] => Err("loopback"),
        [224..=255, ..] => Err("multicast or reserved"),
        _ => Ok(a),
    }
}

fn parse_cidr(s: &str) -> Result<Ipv4Cidr, &'static str> {
    let (a, p) = s.split_once('/').ok_or("a.b.c.d/prefix")?;
    let addr = parse_host(a)?;
    let prefix_len = parse_decimal(p, 32).ok_or("prefix 0..32")? as u8;
    if !(1..=32).contains(&prefix_len) {
        return Err("prefix 1..32");
    }
    let c = Ipv4Cidr { addr, prefix_len };
    // on subnets with a network and a broadcast address, neither is a host
    if prefix_len <= 30 {
        let host = u32::from_be_bytes(addr) & !c.mask();
        if host == 0 || host == !c.mask() {
            return Err("network or broadcast address");
        }
    }
    Ok(c)
}

/// `options: unknown key=value ...` for words the command line parser did
/// not know (None when there were none).
pub fn unknown_options(o: &Options) -> Option<String> {
    if o.unknown.is_empty() {
        return None;
    }
    let mut s = String::from("options: unknown");
    for (k, v) in &o.unknown {
        match v {
            Some(v) => report::field(&mut s, k, v),
            None => {
                s.push(' ');
                report::push_value(&mut s, k);
            }
        }
    }
    Some(s)
}

/// `options: error reason="..."`
pub fn options_error(e: &OptionError) -> String {
    let mut s = String::from("options: error");
    let mut why = String::new();
    let _ = write!(why, "{}", e);
    report::field(&mut s, "reason", &why);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn report_lines() {
        let o = parse("quiet console=hvc0 a=\"b\"").unwrap();
        assert_eq!(
            unknown_options(&o).unwrap(),
            "options: unknown quiet console=hvc0 a=\"\\\"b\\\"\""
        );
        assert_eq!(unknown_options(&parse("").unwrap()), None);
        let e = parse("gw=1.2.3.4").unwrap_err();
        assert_eq!(options_error(&e), "options: error reason=\"gw= needs ip=\"");
    }

    #[test]
    fn datasource_options() {
        assert_eq!(parse("ds=ec2").unwrap().ds, Some(Ds::Ec2));
        assert_eq!(
            parse("datasource=openstack").unwrap().ds,
            Some(Ds::OpenStack)
        );
        let o = parse("ds=nocloud-net;s=http://10.0.0.1:8000/seed/").unwrap();
        assert!(matches!(o.ds, Some(Ds::NoCloud { seed: Some(_), .. })));
        assert_eq!(
            parse("ds=ec2 datasource=ec2"),
            Err(OptionError::Duplicate("ds"))
        );
        assert!(matches!(
            parse("ds=azure"),
            Err(OptionError::BadDatasource { .. })
        ));
    }

    #[test]
    fn ssh_and_bench_options() {
        let o = parse("").unwrap();
        assert_eq!(
            (o.ssh, o.ssh_port, o.ssh_user.as_str(), o.bench),
            (true, 22, "admin", false)
        );
        let o = parse("ssh=off ssh_port=2222 ssh_user=ops_1 bench=on").unwrap();
        assert_eq!(
            (o.ssh, o.ssh_port, o.ssh_user.as_str(), o.bench),
            (false, 2222, "ops_1", true)
        );
        for bad in [
            "ssh=no",
            "ssh_port=0",
            "ssh_port=65536",
            "ssh_port=022",
            "ssh_port=",
            "ssh_user=Root",
            "ssh_user=1admin",
            "ssh_user=",
            "ssh_user=a/b",
            "bench=1",
        ] {
            assert!(
                matches!(parse(bad), Err(OptionError::BadValue { .. })),
                "{}",
                bad
            );
        }
        assert_eq!(
            parse("ssh_user=a ssh_user=b"),
            Err(OptionError::Duplicate("ssh_user"))
        );
        assert!(valid_user("_svc-1") && !valid_user(&"a".repeat(33)));
    }

    #[test]
    fn typical_lines() {
        let o =
            parse("ip=10.0.0.2/24 gw=10.0.0.1 imds=http://10.0.0.1:8080 extra quiet=1").unwrap();
        assert_eq!(
            o.ip,
            Some(Ipv4Cidr {
                addr: [10, 0, 0, 2],
                prefix_len: 24
            })
        );
        assert_eq!(o.gw, Some([10, 0, 0, 1]));
        assert_eq!(
            o.imds,
            Some(Target {
                addr: [10, 0, 0, 1],
                port: 8080
            })
        );
        assert!(o.cloudinit);
        assert_eq!(
            o.unknown,
            [
                ("extra".to_string(), None),
                ("quiet".into(), Some("1".into()))
            ]
        );
        assert_eq!(parse("").unwrap(), Options::default());
        let o = parse("  cloudinit=off\tselftest=gnttab ").unwrap();
        assert!(!o.cloudinit);
        assert_eq!(o.selftest, Some(Selftest::Gnttab));
        assert_eq!(Selftest::Gnttab.name(), "gnttab");
        // a /31 has no network or broadcast address
        assert!(parse("ip=10.0.0.0/31 gw=10.0.0.1").is_ok());
    }

    #[test]
    fn strict_errors() {
        let bad = |line: &str| parse(line).unwrap_err().to_string();
        assert_eq!(bad("ip=10.0.0.2"), "bad ip=\"10.0.0.2\": a.b.c.d/prefix");
        assert_eq!(
            bad("ip=10.0.0.2/33"),
            "bad ip=\"10.0.0.2/33\": prefix 0..32"
        );
        assert_eq!(bad("ip=10.0.0.2/0"), "bad ip=\"10.0.0.2/0\": prefix 1..32");
        assert_eq!(
            bad("ip=10.0.0.0/24"),
            "bad ip=\"10.0.0.0/24\": network or broadcast address"
        );
        assert_eq!(
            bad("ip=10.0.0.255/24"),
            "bad ip=\"10.0.0.255/24\": network or broadcast address"
        );
        assert_eq!(bad("ip=010.0.0.2/24"), "bad ip=\"010.0.0.2/24\": a.b.c.d");
        assert_eq!(bad("ip=10.0.0.256/24"), "bad ip=\"10.0.0.256/24\": a.b.c.d");
        assert_eq!(bad("ip=+10.0.0.2/24"), "bad ip=\"+10.0.0.2/24\": a.b.c.d");
        assert_eq!(bad("ip=127.0.0.1/8"), "bad ip=\"127.0.0.1/8\": loopback");
        assert_eq!(
            bad("ip=224.0.0.1/24"),
            "bad ip=\"224.0.0.1/24\": multicast or reserved"
        );
        assert_eq!(bad("ip"), "bad ip=\"\": a.b.c.d/prefix");
        assert_eq!(bad("gw=10.0.0.1"), "gw= needs ip=");
        assert_eq!(
            bad("ip=10.0.0.2/24 gw=10.0.1.1"),
            "gw= is not another host on the ip= subnet"
        );
        assert_eq!(
            bad("ip=10.0.0.2/24 gw=10.0.0.2"),
            "gw= is not another host on the ip= subnet"
        );
        assert_eq!(
            bad("ip=10.0.0.2/24 ip=10.0.0.3/24"),
            "ip= given more than once"
        );
        assert_eq!(
            bad("imds=https://1.2.3.4"),
            "bad imds=\"https://1.2.3.4\": http://a.b.c.d[:port]"
        );
        assert_eq!(
            bad("imds=http://1.2.3.4:0"),
            "bad imds=\"http://1.2.3.4:0\": http://a.b.c.d[:port]"
        );
        assert_eq!(
            bad("imds=http://1.2.3.4:+80"),
            "bad imds=\"http://1.2.3.4:+80\": http://a.b.c.d[:port]"
        );
        assert_eq!(
            bad("imds=http://metadata"),
            "bad imds=\"http://metadata\": http://a.b.c.d[:port]"
        );
        assert_eq!(
            bad("selftest=nope"),
            "bad selftest=\"nope\": unknown selftest"
        );
        assert_eq!(bad("cloudinit=no"), "bad cloudinit=\"no\": on or off");
        let long = "x ".repeat(MAX_WORDS + 1);
        assert_eq!(parse(&long), Err(OptionError::TooManyWords));
    }

    #[test]
    fn any_line_parses_or_errs() {
        // every short line over a small alphabet: never a panic
        let alphabet = [
            "ip=",
            "gw=",
            "imds=",
            "http://",
            "1",
            "0",
            ".",
            "/",
            ":",
            "=",
            " ",
            "selftest=",
        ];
        let mut idx = [0usize; 5];
        loop {
            let line: String = idx.iter().map(|&i| alphabet[i]).collect();
            let _ = parse(&line);
            let mut k = 0;
            loop {
                if k == idx.len() {
                    return;
                }
                idx[k] += 1;
                if idx[k] < alphabet.len() {
                    break;
                }
                idx[k] = 0;
                k += 1;
            }
        }
    }
}
