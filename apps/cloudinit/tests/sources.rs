//! OpenStack, NoCloud over HTTP and the selection between sources, each
//! against a simulated service: probing (EC2 tree present, only
//! OpenStack's, neither), seeds with and without user-data and
//! vendor-data, 503s, missing files, and the report lines.

mod common;

use cloudinit::imds::{Outcome, Target};
use cloudinit::report::{self, Clock};
use cloudinit::select::{parse_ds, Select};
use cloudinit::source::Source;
use cloudinit::userdata::Kind;
use common::*;

const CLOCK: Clock = Clock {
    elapsed_ms: 10,
    uptime_ns: 10_000_000,
    wallclock_s: None,
};

fn meta_data_json() -> String {
    format!(
        r#"{{"uuid": "d8e02d56-2648-49a3-bf97-6be8f1204f38", "hostname": "vm.novalocal",
            "public_keys": {{"k": "{a}"}},
            "keys": [{{"name": "k", "type": "ssh", "data": "{a}"}}, {{"name": "k2", "type": "ssh", "data": "{b}"}}]}}"#,
        a = KEY_A,
        b = KEY_B
    )
}

/// A Nova metadata service (no EC2 tree) with optional user_data.
fn nova<'a>(user_data: Option<&str>, busy: &'a mut u32) -> impl FnMut(&Req) -> Reply + 'a {
    let user_data = user_data.map(String::from);
    move |r: &Req| {
        assert!(r.header("X-aws-ec2-metadata-token").is_none() || r.path.starts_with("/latest/"));
        if *busy > 0 && r.path.starts_with("/openstack/") {
            *busy -= 1;
            return status(503);
        }
        match (r.method.as_str(), r.path.as_str()) {
            ("GET", "/openstack/latest/meta_data.json") => ok(&meta_data_json()),
            ("GET", "/openstack/latest/user_data") => match &user_data {
                Some(u) => ok(u),
                None => status(404),
            },
            _ => status(404),
        }
    }
}

#[test]
fn auto_selection_falls_back_to_openstack() {
    let mut busy = 2;
    let mut src = Select::new(None, Target::default(), 7).unwrap();
    assert_eq!(src.name(), "ec2");
    let r = drive(
        &mut src,
        nova(Some("#cloud-config\nfqdn: vm.example.com\n"), &mut busy),
    );
    let md = r.metadata();
    assert_eq!(src.name(), "openstack");
    assert_eq!(
        r.log,
        [
            "PUT /latest/api/token",
            "GET /latest/meta-data/instance-id",
            "GET /latest/meta-data/public-keys/",
            "GET /openstack/latest/meta_data.json",
            "GET /openstack/latest/meta_data.json",
            "GET /openstack/latest/meta_data.json",
            "GET /openstack/latest/user_data",
        ]
    );
    assert_eq!(md.source, "openstack");
    assert_eq!(md.requests, 7, "the probe's requests count too");
    assert_eq!(md.retries, 2);
    assert_eq!(
        r.retry_lines,
        [
            "cloudinit: retry datasource=openstack n=1 reason=\"503 on /openstack/latest/meta_data.json\"",
            "cloudinit: retry datasource=openstack n=2 reason=\"503 on /openstack/latest/meta_data.json\"",
        ]
    );
    let fps: Vec<String> = md.keys.iter().map(|k| k.key.fingerprint()).collect();
    assert_eq!(
        fps,
        [FP_A, FP_B],
        "public_keys, then the keys list without its duplicate"
    );
    assert!(md.skipped.is_empty(), "{:?}", md.skipped);
    assert_eq!(
        md.instance_id.as_deref(),
        Some("d8e02d56-2648-49a3-bf97-6be8f1204f38")
    );
    assert_eq!(md.hostname.as_deref(), Some("vm.example.com"));
    let lines = report::metadata_lines(md, CLOCK);
    assert_one_line_each(&lines);
    assert!(
        !lines.iter().any(|l| l.starts_with("imds:")),
        "no EC2 line for openstack"
    );
    assert_eq!(
        lines[0],
        "cloudinit: datasource=openstack instance-id=d8e02d56-2648-49a3-bf97-6be8f1204f38 hostname=vm.example.com keys=2 skipped=0 user-data=cloud-config requests=7 retries=2"
    );
    assert_eq!(
        lines.last().unwrap(),
        "Cloud-init v. 0.1.0 finished at uptime 0.01. Datasource openstack.  Up 0.01 seconds"
    );
    // SSH's `metadata` command reads OpenStack's tree
    let f = src.fetch("meta_data.json").unwrap();
    match f.next() {
        cloudinit::fetch::Step::Request(b) => {
            assert!(b.starts_with(b"GET /openstack/latest/meta_data.json HTTP/1.1\r\n"))
        }
        other => panic!("{:?}", other),
    }
}

#[test]
fn an_ec2_tree_wins_even_where_openstack_is_served_too() {
    let mut src = Select::new(None, Target::default(), 1).unwrap();
    let r = drive(&mut src, |r| match r.path.as_str() {
        "/latest/api/token" => status(405),
        "/latest/meta-data/instance-id" => ok("i-nova-ec2-compat"),
        "/latest/meta-data/public-keys/" => ok("0=k"),
        "/latest/meta-data/public-keys/0/openssh-key" => ok(KEY_C),
        "/openstack/latest/meta_data.json" => ok(&meta_data_json()),
        _ => status(404),
    });
    let md = r.metadata();
    assert_eq!((md.source, md.detail.as_str()), ("ec2", "imds=v1"));
    assert!(!r.log.iter().any(|l| l.contains("/openstack/")));
}

#[test]
fn neither_tree_is_one_clear_error() {
    let mut src = Select::new(None, Target::parse("http://10.0.0.1:8080").unwrap(), 1).unwrap();
    let r = drive(&mut src, |_| status(404));
    assert_eq!(
        r.failure(),
        "no metadata at http://10.0.0.1:8080: neither /latest/meta-data/ nor /openstack/latest/meta_data.json is there"
    );
    assert_eq!(r.log.len(), 4, "{:#?}", r.log);
}

#[test]
fn a_dead_service_is_not_probed_twice() {
    let mut src = Select::new(None, Target::default(), 1).unwrap();
    let r = drive(&mut src, |_| Reply::Fault(Outcome::ConnectFailed));
    assert_eq!(
        r.failure(),
        "/latest/api/token after 8 attempts: connect failed"
    );
    assert_eq!(r.log.len(), 8);
}

#[test]
fn ds_openstack_goes_straight_there_and_a_failing_user_data_is_reported() {
    let ds = parse_ds("openstack").unwrap();
    let mut src = Select::new(Some(ds), Target::default(), 3).unwrap();
    let r = drive(&mut src, |r| match r.path.as_str() {
        "/openstack/latest/meta_data.json" => ok(&meta_data_json()),
        _ => status(500),
    });
    let md = r.metadata();
    assert_eq!(r.log[0], "GET /openstack/latest/meta_data.json");
    assert_eq!(md.keys.len(), 2);
    assert_eq!(
        md.user_data.error.as_deref(),
        Some("/openstack/latest/user_data after 8 attempts: 500 on /openstack/latest/user_data")
    );
    let line = report::user_data(&md.user_data);
    assert!(
        line.starts_with("cloudinit: user-data kind=unknown bytes=0 gzip=no status=error reason="),
        "{}",
        line
    );
}

/// A NoCloud seed served over HTTP under `/seed/vm1/`.
fn seed<'a>(files: &'a [(&'static str, Vec<u8>)]) -> impl FnMut(&Req) -> Reply + 'a {
    move |r: &Req| {
        assert_eq!(
            r.to,
            Target {
                addr: [10, 0, 0, 1],
                port: 8000
            }
        );
        assert_eq!(r.header("Host"), Some("10.0.0.1:8000"));
        for (name, body) in files {
            if r.path == format!("/seed/vm1/{}", name) {
                return Reply::Http(200, body.clone());
            }
        }
        status(404)
    }
}

#[test]
fn nocloud_net_seed_with_every_file() {
    let ds = parse_ds("nocloud-net;s=http://10.0.0.1:8000/seed/vm1/;h=cmdline-host").unwrap();
    let mut src = Select::new(Some(ds), Target::default(), 5).unwrap();
    assert_eq!(src.name(), "nocloud-net");
    let files = [
        (
            "meta-data",
            format!(
                "instance-id: iid-seed\nlocal-hostname: meta-host\npublic-keys:\n  - {}\n",
                KEY_A
            )
            .into_bytes(),
        ),
        (
            "user-data",
            gzip(
                format!(
                    "#cloud-config\nssh_authorized_keys:\n  - {}\nruncmd: [x]\n",
                    KEY_B
                )
                .as_bytes(),
            ),
        ),
        (
            "vendor-data",
            format!("#cloud-config\nssh_authorized_keys: ['{}']\n", KEY_C).into_bytes(),
        ),
    ];
    let r = drive(&mut src, seed(&files));
    assert_eq!(
        r.log,
        [
            "GET /seed/vm1/meta-data",
            "GET /seed/vm1/user-data",
            "GET /seed/vm1/vendor-data"
        ]
    );
    let md = r.metadata();
    assert_eq!(md.source, "nocloud-net");
    assert_eq!(md.detail, "seed=http://10.0.0.1:8000/seed/vm1/");
    let origins: Vec<&str> = md.keys.iter().map(|k| k.origin.as_str()).collect();
    assert_eq!(origins, ["meta-data", "user-data", "vendor-data"]);
    assert_eq!(
        md.hostname.as_deref(),
        Some("cmdline-host"),
        "h= over meta-data"
    );
    assert_eq!(md.instance_id.as_deref(), Some("iid-seed"));
    assert!(md.user_data.gzip);
    assert_eq!(md.user_data.ignored, ["runcmd"]);
    assert_eq!(md.vendor_data.kind, Kind::CloudConfig);
    let lines = report::metadata_lines(md, CLOCK);
    assert_one_line_each(&lines);
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("cloudinit: vendor-data kind=cloud-config ")),
        "{:#?}",
        lines
    );
    let xs = report::xenstore_metadata(md);
    assert!(xs.contains(&(report::XS_DATASOURCE, "nocloud-net".into())));
    assert!(xs.contains(&(report::XS_KEYS, "3".into())));
    let f = src.fetch("meta-data").unwrap();
    assert_eq!(
        f.target(),
        &Target {
            addr: [10, 0, 0, 1],
            port: 8000
        }
    );
}

#[test]
fn nocloud_seed_with_meta_data_only_or_none() {
    let ds = parse_ds("nocloud;s=http://10.0.0.1:8000/seed/vm1/").unwrap();
    let files = [(
        "meta-data",
        format!("public-keys: \"{}\"\n", KEY_A).into_bytes(),
    )];
    let mut src = Select::new(Some(ds.clone()), Target::default(), 5).unwrap();
    let r = drive(&mut src, seed(&files));
    assert_eq!(r.metadata().keys.len(), 1);
    assert_eq!(r.metadata().user_data.kind, Kind::None);
    let mut src = Select::new(Some(ds.clone()), Target::default(), 5).unwrap();
    let r = drive(&mut src, seed(&[]));
    assert_eq!(r.failure(), "/seed/vm1/meta-data returned 404");
    assert_eq!(r.log.len(), 1);
    // malformed meta-data is a clear error, not a retry
    let bad = [("meta-data", b"instance-id: [unclosed\n".to_vec())];
    let mut src = Select::new(Some(ds), Target::default(), 5).unwrap();
    let r = drive(&mut src, seed(&bad));
    assert_eq!(
        r.failure(),
        "meta-data line 1 column 23: flow collection not closed on its line"
    );
}
