//! The readers on images the real tools write: mtools (as mkimage.sh and
//! mkseed.sh use it; Xen Orchestra's cidata disks are FAT too), and
//! genisoimage / xorriso with `-J -R` (what cloud-localds runs). The tools
//! are build dependencies (`./run.sh deps` installs them).

mod images;

use std::path::{Path, PathBuf};
use std::process::Command;

use images::{seed_tree, Node};
use seedfs::{open, Kind};

const MAX: usize = 64 * 1024;

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("seedfs-{}-{}", name, std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("tree")).unwrap();
    d
}

fn write_tree(nodes: &[Node], dir: &Path, out: &mut Vec<(String, Vec<u8>)>, rel: &str) {
    for n in nodes {
        match n {
            Node::File(name, data) => {
                std::fs::write(dir.join(name), data).unwrap();
                out.push((format!("{}{}", rel, name), data.clone()));
            }
            Node::Dir(name, kids) => {
                std::fs::create_dir(dir.join(name)).unwrap();
                write_tree(kids, &dir.join(name), out, &format!("{}{}/", rel, name));
            }
        }
    }
}

fn run(tool: &str, args: &[&str]) {
    let st = Command::new(tool)
        .args(args)
        .status()
        .unwrap_or_else(|e| panic!("{} must be installed (./run.sh deps): {}", tool, e));
    assert!(st.success(), "{} {:?}", tool, args);
}

fn check(img: &[u8], kind: Kind, label: &str, files: &[(String, Vec<u8>)]) {
    let mut v = open(img).unwrap();
    assert_eq!(v.kind(), kind);
    assert_eq!(v.label(), label);
    for (path, data) in files {
        assert_eq!(
            v.read_file(path, MAX).unwrap().as_deref(),
            Some(&data[..]),
            "{}",
            path
        );
    }
    assert_eq!(v.read_file("vendor-data", MAX), Ok(None));
}

fn mtools(name: &str, size: &str, extra: &[&str], kind: Kind) {
    let d = scratch(name);
    let mut files = Vec::new();
    write_tree(&seed_tree(), &d.join("tree"), &mut files, "");
    let img = d.join("disk.img");
    let img_s = img.to_str().unwrap();
    run("truncate", &["-s", size, img_s]);
    let mut args = vec!["-i", img_s, "-v", "cidata"];
    args.extend_from_slice(extra);
    args.push("::");
    run("mformat", &args);
    for entry in std::fs::read_dir(d.join("tree")).unwrap() {
        let p = entry.unwrap().path();
        run(
            "mcopy",
            &["-i", img_s, "-s", "-Q", p.to_str().unwrap(), "::/"],
        );
    }
    // mformat writes the boot sector's label as given and the root
    // directory's in upper case; the root's wins (as blkid reads it)
    check(&std::fs::read(&img).unwrap(), kind, "CIDATA", &files);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn mtools_fat12() {
    mtools("fat12", "1M", &[], Kind::Fat12);
}

#[test]
fn mtools_fat16() {
    mtools("fat16", "16M", &[], Kind::Fat16);
}

#[test]
fn mtools_fat32() {
    mtools("fat32", "64M", &["-F"], Kind::Fat32);
}

fn iso(name: &str, tool: &str, pre: &[&str], flags: &[&str], kind: Kind) {
    let d = scratch(name);
    let mut files = Vec::new();
    write_tree(&seed_tree(), &d.join("tree"), &mut files, "");
    let img = d.join("seed.iso");
    let mut args: Vec<&str> = pre.to_vec();
    args.extend_from_slice(&["-quiet", "-V", "cidata", "-o", img.to_str().unwrap()]);
    args.extend_from_slice(flags);
    let tree = d.join("tree");
    args.push(tree.to_str().unwrap());
    run(tool, &args);
    check(&std::fs::read(&img).unwrap(), kind, "cidata", &files);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn genisoimage_joliet_and_rock_ridge() {
    let kind = Kind::Iso9660 {
        joliet: true,
        rock_ridge: true,
    };
    iso("gen-jr", "genisoimage", &[], &["-J", "-R"], kind);
}

#[test]
fn genisoimage_rock_ridge() {
    let kind = Kind::Iso9660 {
        joliet: false,
        rock_ridge: true,
    };
    iso("gen-r", "genisoimage", &[], &["-R"], kind);
}

#[test]
fn genisoimage_joliet() {
    // Joliet names are at most 64 characters: ours fit
    let kind = Kind::Iso9660 {
        joliet: true,
        rock_ridge: false,
    };
    iso("gen-j", "genisoimage", &[], &["-J"], kind);
}

#[test]
fn xorriso_joliet_and_rock_ridge() {
    let kind = Kind::Iso9660 {
        joliet: true,
        rock_ridge: true,
    };
    iso(
        "xorriso",
        "xorriso",
        &["-as", "mkisofs"],
        &["-J", "-R"],
        kind,
    );
}
