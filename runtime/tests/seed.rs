//! The seed-disk datasource on the host: a NoCloud `cidata` disk made by
//! `image/mkseed.sh` (mtools) and an OpenStack config drive (genisoimage)
//! served by xensim's blkback. No DHCP server answers and no metadata
//! service runs: the key and the address come from the disk.

mod world;

use std::path::PathBuf;
use std::process::Command;

use world::{World, KEY, S};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("runtime-seed-{}-{}", std::process::id(), name));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn mkseed(name: &str, network_config: Option<&str>) -> Vec<u8> {
    let d = tmp(name);
    std::fs::write(d.join("key.pub"), format!("{}\n", KEY)).unwrap();
    let mut cmd = Command::new("bash");
    cmd.arg(root().join("image/mkseed.sh"))
        .arg("--key")
        .arg(d.join("key.pub"))
        .arg("--hostname")
        .arg("seeded")
        .arg("--out")
        .arg(d.join("seed.img"));
    if let Some(nc) = network_config {
        std::fs::write(d.join("net.yaml"), nc).unwrap();
        cmd.arg("--network-config").arg(d.join("net.yaml"));
    }
    let st = cmd
        .status()
        .expect("mkseed.sh runs (mtools: ./run.sh deps)");
    assert!(st.success());
    std::fs::read(d.join("seed.img")).unwrap()
}

fn quiet_network(w: &mut World) {
    w.peer.dhcp.mode = xensim::peer::DhcpMode::Silent;
    w.peer.serve_http(Box::new(|_| (404, Vec::new())));
}

#[test]
fn a_nocloud_disk_with_a_static_address_is_the_whole_story() {
    let img = mkseed("static", Some(
        "version: 2\nethernets:\n  eth0:\n    addresses: [10.0.0.9/24]\n    gateway4: 10.0.0.1\n",
    ));
    let mut w = World::with_disk("", Some(img));
    quiet_network(&mut w);
    let ok = w.run_until(30 * S, |w| w.has_line("ssh: listening "));
    assert!(ok, "{}", w.dump());
    assert_eq!(
        w.line("cloudinit: datasource=nocloud-disk ").as_deref(),
        Some("cloudinit: datasource=nocloud-disk device=xvdb label=CIDATA fs=vfat")
    );
    assert!(w.has_line("net: address from the seed's network-config"));
    assert!(w.has_line("net: static ip=10.0.0.9/24 gw=10.0.0.1"));
    assert_eq!(w.line("ssh-key: ").unwrap(), format!("ssh-key: {}", KEY));
    assert!(w.has_line("cloudinit: done "));
    assert!(
        !w.has_line("dhcp: start"),
        "no DHCP with a static seed address"
    );
    assert!(
        world::ssh_banner_at(&mut w, [10, 0, 0, 9], 45000, 5 * S),
        "{}",
        w.dump()
    );
    assert!(
        !w.has_line("seed: closed "),
        "the seed disk closed with every grant ended"
    );
}

#[test]
fn a_nocloud_disk_without_network_config_uses_dhcp() {
    let img = mkseed("dhcp", None);
    let mut w = World::with_disk("", Some(img));
    w.peer.serve_http(Box::new(|_| (404, Vec::new())));
    let ok = w.run_until(30 * S, |w| w.has_line("dhcp: lease ip=10.0.0.50/24 "));
    assert!(ok, "{}", w.dump());
    assert!(w.has_line("cloudinit: datasource=nocloud-disk device=xvdb "));
    assert!(w.has_line("ssh: listening "));
    assert!(
        !w.has_line("imds: start"),
        "the seed wins over the network sources"
    );
}

#[test]
fn an_openstack_config_drive_on_iso9660() {
    if Command::new("genisoimage")
        .arg("--version")
        .output()
        .is_err()
    {
        panic!("genisoimage is missing: ./run.sh deps installs it");
    }
    let d = tmp("configdrive");
    let tree = d.join("tree/openstack/latest");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(
        tree.join("meta_data.json"),
        format!(
            "{{\"uuid\": \"83679162-1378-4288-a2d4-70e13ec132aa\", \"hostname\": \"cd\", \"public_keys\": {{\"mykey\": \"{}\"}}}}",
            KEY
        ),
    )
    .unwrap();
    let iso = d.join("cd.iso");
    let st = Command::new("genisoimage")
        .args(["-quiet", "-J", "-R", "-V", "config-2", "-o"])
        .arg(&iso)
        .arg(d.join("tree"))
        .status()
        .unwrap();
    assert!(st.success());
    let mut w = World::with_disk("", Some(std::fs::read(iso).unwrap()));
    w.peer.serve_http(Box::new(|_| (404, Vec::new())));
    w.boot_to_ssh();
    assert_eq!(
        w.line("cloudinit: datasource=configdrive ").as_deref(),
        Some("cloudinit: datasource=configdrive device=xvdb label=config-2 fs=iso9660")
    );
    assert_eq!(w.line("ssh-key: ").unwrap(), format!("ssh-key: {}", KEY));
}

#[test]
fn a_disk_that_is_not_a_seed_is_passed_over() {
    let mut w = World::with_disk("", Some(vec![0u8; 1 << 20]));
    w.boot_to_ssh();
    assert!(w.has_line("seed: skipped device=xvdb "), "{}", w.dump());
    assert!(w.has_line("imds: mode=v2 "), "the network sources run");
}
