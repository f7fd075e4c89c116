//! image/mkseed.sh: reproducible (same inputs, same bytes, whatever the
//! clock says) and readable by seedfs as a NoCloud `cidata` volume.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use seedfs::{open, Kind};

const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJvrxPOqLjGIrks1sfcFsNbfGXZKw1WuzOYuOoDjuRgp it's me@host";

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mkseed-{}-{}", name, std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn mkseed(args: &[&str]) -> Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../image/mkseed.sh");
    Command::new("bash")
        .arg(script)
        .args(args)
        .env_remove("SOURCE_DATE_EPOCH")
        .output()
        .expect("bash")
}

fn build(dir: &Path, out: &str, extra: &[&str]) -> Vec<u8> {
    let key = dir.join("key.pub");
    std::fs::write(&key, format!("{}\n", KEY)).unwrap();
    let out = dir.join(out);
    let mut args = vec![
        "--key",
        key.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = mkseed(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::read(out).unwrap()
}

#[test]
fn the_same_inputs_give_the_same_bytes_and_seedfs_reads_them() {
    let d = scratch("repro");
    let a = build(&d, "a.img", &[]);
    // FAT times have a 2 s resolution: a clock that leaked in would show
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let b = build(&d, "b.img", &[]);
    assert!(a == b, "two builds differ");

    let mut v = open(&a[..]).unwrap();
    assert_eq!(v.kind(), Kind::Fat12);
    assert!(v.label().eq_ignore_ascii_case("cidata"));
    let meta = String::from_utf8(v.read_file("meta-data", 4096).unwrap().unwrap()).unwrap();
    assert!(meta.starts_with("instance-id: iid-seed-"), "{}", meta);
    assert!(meta.contains("local-hostname: appliance\n"));
    // YAML single quotes, the key's own quote doubled
    let quoted = format!("  - '{}'\n", KEY.replace('\'', "''"));
    assert!(
        meta.ends_with(&format!("public-keys:\n{}", quoted)),
        "{}",
        meta
    );
    let user = String::from_utf8(v.read_file("user-data", 4096).unwrap().unwrap()).unwrap();
    assert_eq!(
        user,
        format!("#cloud-config\nssh_authorized_keys:\n{}", quoted)
    );
    assert_eq!(v.read_file("network-config", 4096), Ok(None));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn given_user_data_and_network_config_are_copied_as_they_are() {
    let d = scratch("given");
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(d.join("ud"), &big).unwrap();
    std::fs::write(d.join("nc"), b"version: 2\nethernets: {}\n").unwrap();
    let (ud, nc) = (d.join("ud"), d.join("nc"));
    let img = build(
        &d,
        "s.img",
        &[
            "--user-data",
            ud.to_str().unwrap(),
            "--network-config",
            nc.to_str().unwrap(),
            "--instance-id",
            "i-0123",
            "--hostname",
            "seed-host",
        ],
    );
    assert!(img.len() > 2 * big.len(), "a bigger disk for bigger files");
    let mut v = open(&img[..]).unwrap();
    assert_eq!(v.read_file("user-data", 4 << 20).unwrap().unwrap(), big);
    assert_eq!(
        v.read_file("network-config", 4096).unwrap().unwrap(),
        b"version: 2\nethernets: {}\n"
    );
    let meta = v.read_file("meta-data", 4096).unwrap().unwrap();
    assert!(meta.starts_with(b"instance-id: i-0123\nlocal-hostname: seed-host\n"));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn keys_and_names_that_could_break_the_yaml_are_refused() {
    let d = scratch("refused");
    let out = d.join("x.img");
    for (key, extra, why) in [
        (
            "ssh-ed25519 AAAA a\nssh-ed25519 BBBB b\n",
            vec![],
            "exactly one",
        ),
        ("not a key\n", vec![], "does not look like"),
        ("ssh-ed25519 AAAA \x1b[2J\n", vec![], "control characters"),
        (KEY, vec!["--hostname", "a:b"], "bad hostname"),
        (KEY, vec!["--instance-id", "x\ny"], "bad instance-id"),
    ] {
        std::fs::write(d.join("k"), key).unwrap();
        let k = d.join("k");
        let mut args = vec!["--key", k.to_str().unwrap(), "--out", out.to_str().unwrap()];
        args.extend(extra);
        let o = mkseed(&args);
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(why), "{:?}: {}", key, err);
        assert!(!out.exists());
    }
    assert_eq!(mkseed(&[]).status.code(), Some(2), "usage");
    let _ = std::fs::remove_dir_all(&d);
}
