//! The EC2 source (`ec2::Ec2` as a `source::Source`) against a simulated
//! IMDS: every key of `public-keys/`, lines that are not keys, duplicates,
//! user-data (none, cloud-config, gzip, malformed, too large, scripts),
//! 401/403/503, and the report a runtime prints from the `Metadata`.

mod common;

use cloudinit::ec2::{Ec2, MAX_USER_DATA};
use cloudinit::imds::{Outcome, Target};
use cloudinit::report::{self, Clock};
use cloudinit::source::{Source, MAX_KEYS};
use cloudinit::userdata::Kind;
use common::*;

/// An IMDS: v2 (tokens) and/or v1, serving these keys and user-data.
struct Imds {
    v2: bool,
    v1: bool,
    list: String,
    keys: Vec<(u32, Reply)>,
    user_data: Option<Vec<u8>>,
    /// answer every GET with this (403: disabled)
    all_gets: Option<u16>,
    /// 503 to the first N requests
    busy: u32,
    /// the first token is refused once (expired)
    expire_once: bool,
    tokens: u32,
}

impl Imds {
    fn new(keys: &[&str]) -> Imds {
        Imds {
            v2: true,
            v1: false,
            list: (0..keys.len())
                .map(|i| format!("{}=key-{}\n", i, i))
                .collect(),
            keys: keys
                .iter()
                .enumerate()
                .map(|(i, k)| (i as u32, ok(&format!("{}\n", k))))
                .collect(),
            user_data: None,
            all_gets: None,
            busy: 0,
            expire_once: false,
            tokens: 0,
        }
    }

    fn answer(&mut self, r: &Req) -> Reply {
        if self.busy > 0 {
            self.busy -= 1;
            return status(503);
        }
        if r.method == "PUT" {
            assert_eq!(r.path, "/latest/api/token");
            assert_eq!(
                r.header("X-aws-ec2-metadata-token-ttl-seconds"),
                Some("21600")
            );
            if !self.v2 {
                return status(403);
            }
            self.tokens += 1;
            return ok(&format!("tok-{}", self.tokens));
        }
        let token = r.header("X-aws-ec2-metadata-token");
        let current = format!("tok-{}", self.tokens);
        let authorised = match token {
            Some(t) if self.v2 => {
                if self.expire_once {
                    self.expire_once = false;
                    false
                } else {
                    t == current
                }
            }
            Some(_) => false,
            None => self.v1,
        };
        if !authorised {
            return status(401);
        }
        if let Some(code) = self.all_gets {
            return status(code);
        }
        match r.path.as_str() {
            "/latest/meta-data/instance-id" => ok("i-0abc"),
            "/latest/meta-data/local-hostname" => ok("ip-10-0-0-9.ec2.internal"),
            "/latest/meta-data/public-keys/" => ok(&self.list),
            "/latest/user-data" => match &self.user_data {
                Some(u) => Reply::Http(200, u.clone()),
                None => status(404),
            },
            p => {
                for (i, reply) in &self.keys {
                    if p == format!("/latest/meta-data/public-keys/{}/openssh-key", i) {
                        return match reply {
                            Reply::Http(c, b) => Reply::Http(*c, b.clone()),
                            Reply::Fault(o) => Reply::Fault(o.clone()),
                        };
                    }
                }
                status(404)
            }
        }
    }
}

fn run(svc: &mut Imds) -> Run {
    let mut src = Ec2::new(Target::default(), 42);
    drive(&mut src, |r| svc.answer(r))
}

const CLOCK: Clock = Clock {
    elapsed_ms: 1234,
    uptime_ns: 1_234_000_000,
    wallclock_s: Some(1_767_225_600), // 2026-01-01 00:00:00 UTC
};

#[test]
fn every_listed_key_in_order_and_the_report() {
    let mut svc = Imds::new(&[KEY_A, KEY_B]);
    let r = run(&mut svc);
    let md = r.metadata();
    assert_eq!(md.source, "ec2");
    assert_eq!(md.detail, "imds=v2");
    let fps: Vec<String> = md.keys.iter().map(|k| k.key.fingerprint()).collect();
    assert_eq!(fps, [FP_A, FP_B]);
    assert_eq!(md.keys[1].name, "key-1");
    assert_eq!(md.keys[1].origin, "public-keys/1");
    assert!(md.skipped.is_empty(), "{:?}", md.skipped);
    assert_eq!(md.instance_id.as_deref(), Some("i-0abc"));
    assert_eq!(md.hostname.as_deref(), Some("ip-10-0-0-9.ec2.internal"));
    assert_eq!(md.user_data.kind, Kind::None);
    assert_eq!(md.requests, 7, "{:#?}", r.log);
    assert_eq!(
        r.log,
        [
            "PUT /latest/api/token",
            "GET /latest/meta-data/instance-id",
            "GET /latest/meta-data/public-keys/",
            "GET /latest/meta-data/public-keys/0/openssh-key",
            "GET /latest/meta-data/public-keys/1/openssh-key",
            "GET /latest/meta-data/local-hostname",
            "GET /latest/user-data",
        ]
    );
    let lines = report::metadata_lines(md, CLOCK);
    assert_eq!(
        lines,
        [
            "imds: mode=v2 requests=7 retries=0 instance-id=i-0abc local-hostname=ip-10-0-0-9.ec2.internal".to_string(),
            "cloudinit: datasource=ec2 detail=\"imds=v2\" instance-id=i-0abc hostname=ip-10-0-0-9.ec2.internal keys=2 skipped=0 user-data=none requests=7 retries=0".into(),
            format!("cloudinit: ssh-key type=ssh-ed25519 bits=256 fingerprint={} comment=one@test name=key-0 origin=public-keys/0", FP_A),
            format!("ssh-key: {}", KEY_A),
            format!("cloudinit: ssh-key type=ssh-ed25519 bits=256 fingerprint={} comment=two@test name=key-1 origin=public-keys/1", FP_B),
            format!("ssh-key: {}", KEY_B),
            "cloudinit: done elapsed_ms=1234".into(),
            "Cloud-init v. 0.1.0 finished at Thu, 01 Jan 2026 00:00:00 +0000. Datasource ec2.  Up 1.23 seconds".into(),
        ]
    );
    let xs = report::xenstore_metadata(md);
    let get = |k: &str| xs.iter().find(|(p, _)| *p == k).map(|(_, v)| v.as_str());
    assert_eq!(get(report::XS_SSH_KEY), Some(KEY_A));
    assert_eq!(get(report::XS_FINGERPRINT), Some(FP_A));
    assert_eq!(get(report::XS_IMDS_MODE), Some("v2"));
    assert_eq!(get(report::XS_HOSTNAME), Some("ip-10-0-0-9.ec2.internal"));
    assert_eq!(get(report::XS_DATASOURCE), Some("ec2"));
    assert_eq!(get(report::XS_KEYS), Some("2"));
    assert_eq!(xs.last(), Some(&(report::XS_STATUS, "done".to_string())));
}

#[test]
fn lines_that_are_not_keys_are_skipped_with_reasons() {
    let mut svc = Imds::new(&[KEY_A, "<html>not a key</html>", KEY_A]);
    svc.list = "0=key-0\ngarbage line\n1=key-1\n\n2=dup\n1=again\nx=y\n5=missing\n".into();
    let r = run(&mut svc);
    let md = r.metadata();
    assert_eq!(md.keys.len(), 1);
    let skipped: Vec<(&str, &str)> = md
        .skipped
        .iter()
        .map(|s| (s.origin.as_str(), s.reason.as_str()))
        .collect();
    assert_eq!(
        skipped,
        [
            ("public-keys/", "not an index=name line: garbage line"),
            ("public-keys/1", "listed twice"),
            ("public-keys/", "not an index=name line: x=y"),
            (
                "public-keys/1",
                "invalid key: unsupported key type \"<html>not\""
            ),
            ("public-keys/2", "duplicate of the key from public-keys/0"),
            (
                "public-keys/5",
                "/latest/meta-data/public-keys/5/openssh-key returned 404"
            ),
        ]
    );
    let lines = report::metadata_lines(md, CLOCK);
    assert_one_line_each(&lines);
    assert!(lines.contains(
        &"cloudinit: skipped origin=public-keys/ reason=\"not an index=name line: garbage line\""
            .to_string()
    ));
}

#[test]
fn at_most_max_keys_are_fetched() {
    let keys: Vec<&str> = vec![KEY_A; 40];
    let mut svc = Imds::new(&keys);
    let r = run(&mut svc);
    let md = r.metadata();
    let key_gets = r.log.iter().filter(|l| l.ends_with("/openssh-key")).count();
    assert_eq!(key_gets, MAX_KEYS);
    assert_eq!(md.keys.len(), 1, "the rest are duplicates");
    assert_eq!(
        md.skipped
            .iter()
            .filter(|s| s.reason == "more than 16 keys listed")
            .count(),
        40 - MAX_KEYS
    );
}

#[test]
fn a_key_that_keeps_failing_is_skipped_and_the_rest_still_count() {
    let mut svc = Imds::new(&[KEY_A, KEY_B]);
    svc.keys[0].1 = Reply::Fault(Outcome::Reset);
    let r = run(&mut svc);
    let md = r.metadata();
    assert_eq!(md.keys.len(), 1);
    assert_eq!(md.keys[0].key.fingerprint(), FP_B);
    assert_eq!(
        md.skipped[0].reason,
        "/latest/meta-data/public-keys/0/openssh-key after 8 attempts: connection reset"
    );
    assert_eq!(r.retry_lines.len(), 8);
    assert_eq!(
        r.retry_lines[0],
        "imds: retry n=1 reason=\"connection reset\""
    );
}

#[test]
fn user_data_keys_merge_after_the_metadata_keys() {
    let mut svc = Imds::new(&[KEY_A]);
    let ud = format!(
        "#cloud-config\nhostname: from-user-data\nssh_authorized_keys:\n  - {}\n  - {}\n  - not a key\npackages: [x]\nruncmd: [ls]\n",
        KEY_B, KEY_A
    );
    svc.user_data = Some(ud.into_bytes());
    let r = run(&mut svc);
    let md = r.metadata();
    let origins: Vec<(&str, &str)> = md
        .keys
        .iter()
        .map(|k| (k.origin.as_str(), k.name.as_str()))
        .collect();
    assert_eq!(origins, [("public-keys/0", "key-0"), ("user-data", "")]);
    assert_eq!(md.keys[1].key.fingerprint(), FP_B);
    let reasons: Vec<&str> = md.skipped.iter().map(|s| s.reason.as_str()).collect();
    assert_eq!(
        reasons,
        [
            "duplicate of the key from public-keys/0",
            "invalid key: unsupported key type \"not\""
        ]
    );
    assert_eq!(
        md.hostname.as_deref(),
        Some("from-user-data"),
        "user-data wins"
    );
    assert_eq!(md.user_data.kind, Kind::CloudConfig);
    assert_eq!(md.user_data.ignored, ["packages", "runcmd"]);
    let lines = report::metadata_lines(md, CLOCK);
    let ud_line = format!(
        "cloudinit: user-data kind=cloud-config bytes={} gzip=no status=ok ignored=packages,runcmd",
        md.user_data.bytes
    );
    assert!(lines.contains(&ud_line), "{:#?}", lines);
    assert!(r.log.last().unwrap().ends_with("/latest/user-data"));
}

#[test]
fn user_data_alone_can_bring_the_key() {
    let mut svc = Imds::new(&[]);
    svc.list = String::new();
    svc.user_data = Some(gzip(
        format!("#cloud-config\nssh_authorized_keys: [\"{}\"]\n", KEY_C).as_bytes(),
    ));
    let r = run(&mut svc);
    let md = r.metadata();
    assert_eq!(md.keys.len(), 1);
    assert_eq!(md.keys[0].key.fingerprint(), FP_C);
    assert!(md.user_data.gzip);
}

#[test]
fn malformed_unsupported_and_oversized_user_data() {
    let cases: Vec<(Vec<u8>, Kind, Option<&str>)> = vec![
        (
            b"#cloud-config\nusers: &a [x]\n".to_vec(),
            Kind::CloudConfig,
            Some("cloud-config line 2 column 8: anchors are not supported"),
        ),
        (b"#!/bin/sh\necho hi\n".to_vec(), Kind::Script, None),
        (b"#include\nhttp://x/y\n".to_vec(), Kind::Include, None),
        (
            b"Content-Type: multipart/mixed; boundary=x\n\n--x\n".to_vec(),
            Kind::Multipart,
            None,
        ),
        (b"#cloud-boothook\n".to_vec(), Kind::Boothook, None),
        (
            vec![b'#'; MAX_USER_DATA + 1],
            Kind::Unknown,
            Some("16385 bytes, over the limit of 16384"),
        ),
        (
            vec![0x1f, 0x8b, 8, 0, 1, 2],
            Kind::Unknown,
            Some("gzip data is truncated"),
        ),
        (b"\xff\xfe".to_vec(), Kind::Unknown, Some("not UTF-8 text")),
    ];
    for (ud, kind, error) in cases {
        let mut svc = Imds::new(&[KEY_A]);
        svc.user_data = Some(ud);
        let r = run(&mut svc);
        let md = r.metadata();
        assert_eq!(md.keys.len(), 1, "the metadata key still counts");
        assert_eq!(md.user_data.kind, kind);
        assert_eq!(md.user_data.error.as_deref(), error);
        let line = report::user_data(&md.user_data);
        if error.is_some() {
            assert!(line.contains(" status=error reason="), "{}", line);
        } else {
            assert!(line.ends_with(" status=unsupported"), "{}", line);
        }
        let lines = report::metadata_lines(md, CLOCK);
        assert_one_line_each(&lines);
        assert_eq!(lines[lines.len() - 2], "cloudinit: done elapsed_ms=1234");
    }
}

#[test]
fn a_gzip_bomb_stops_at_the_bound() {
    let mut svc = Imds::new(&[KEY_A]);
    let bomb = gzip(&vec![b'a'; 8 << 20]);
    assert!(bomb.len() < MAX_USER_DATA, "{}", bomb.len());
    svc.user_data = Some(bomb);
    let md = run(&mut svc).metadata().clone();
    assert!(md.user_data.gzip);
    assert_eq!(
        md.user_data.error.as_deref(),
        Some("gzip data inflates past 65536 bytes")
    );
    assert_eq!(md.keys.len(), 1);
}

#[test]
fn disabled_endpoint_is_final_and_clear() {
    let mut svc = Imds::new(&[KEY_A]);
    svc.all_gets = Some(403);
    let r = run(&mut svc);
    assert_eq!(
        r.failure(),
        "the metadata service is disabled (403 on /latest/meta-data/instance-id)"
    );
    assert_eq!(r.log.len(), 2, "token, then one GET: no retries");
    // the same when the token PUT is refused too (v1 attempt, then 403)
    let mut svc = Imds::new(&[KEY_A]);
    svc.v2 = false;
    svc.v1 = true;
    svc.all_gets = Some(403);
    assert!(run(&mut svc)
        .failure()
        .starts_with("the metadata service is disabled"));
}

#[test]
fn expired_tokens_are_renewed_and_503_is_retried() {
    let mut svc = Imds::new(&[KEY_A]);
    svc.expire_once = true;
    svc.busy = 3;
    let r = run(&mut svc);
    let md = r.metadata();
    assert_eq!(md.keys.len(), 1);
    assert_eq!(
        r.log.iter().filter(|l| l.starts_with("PUT")).count(),
        5,
        "{:#?}",
        r.log
    );
    assert_eq!(md.retries, 4, "three 503s and one 401");
    assert!(r.now > 1_000_000_000, "503s back off: {}", r.now);
    assert_eq!(
        r.retry_lines[3],
        "imds: retry n=4 reason=\"401 on /latest/meta-data/instance-id\""
    );
}

#[test]
fn v1_service_and_no_keys_at_all() {
    let mut svc = Imds::new(&[KEY_A]);
    svc.v2 = false;
    svc.v1 = true;
    let r = run(&mut svc);
    assert_eq!(r.metadata().detail, "imds=v1");
    let mut src = Ec2::new(Target::default(), 1);
    assert!(src.fetch("meta-data/instance-id").is_none(), "no mode yet");
    let mut svc = Imds::new(&[]);
    svc.list = String::new();
    let r = drive(&mut src, |q| svc.answer(q));
    let md = r.metadata();
    assert!(md.keys.is_empty());
    let lines = report::metadata_lines(
        md,
        Clock {
            wallclock_s: None,
            ..CLOCK
        },
    );
    assert_eq!(
        &lines[lines.len() - 2..],
        [
            "cloudinit: error reason=\"no usable ssh key from ec2 (0 entries skipped)\"",
            "Cloud-init v. 0.1.0 finished at uptime 1.23. Datasource ec2.  Up 1.23 seconds",
        ]
    );
    let xs = report::xenstore_metadata(md);
    assert_eq!(xs.last(), Some(&(report::XS_STATUS, "error".to_string())));
    // the SSH `metadata` command goes to the same tree, token first
    let f = src.fetch("meta-data/instance-id").unwrap();
    match f.next() {
        cloudinit::fetch::Step::Request(b) => assert!(b.starts_with(b"PUT /latest/api/token ")),
        other => panic!("{:?}", other),
    }
}

#[test]
fn hostile_values_stay_on_one_line() {
    let mut svc = Imds::new(&[KEY_A]);
    svc.list = "0=evil\u{202e}name\n1\r=x\n".into();
    svc.user_data = Some(
        format!(
            "#cloud-config\nhostname: \"a\\nb\"\n\"bad\\u2028key\": 1\nssh_authorized_keys: [\"{} hi\\u202e\"]\n",
            KEY_B.rsplit_once(' ').unwrap().0
        )
        .into_bytes(),
    );
    let r = run(&mut svc);
    let md = r.metadata();
    assert_eq!(md.keys.len(), 2);
    let lines = report::metadata_lines(md, CLOCK);
    assert_one_line_each(&lines);
    // a comment with non-ASCII is left off the copyable line
    let last_key = lines
        .iter()
        .rev()
        .find(|l| l.starts_with("ssh-key: "))
        .unwrap();
    assert_eq!(
        last_key,
        &format!("ssh-key: {}", KEY_B.rsplit_once(' ').unwrap().0)
    );
}
