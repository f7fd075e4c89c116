//! The readers on images the tests write themselves (FAT12/16/32 with long
//! names; ISO9660 plain, Joliet, Rock Ridge, both), and on those images
//! broken in the ways a hostile disk would break them.

mod images;

use images::{seed_tree, FatImage, FatKind, IsoImage, IsoOptions, Node};
use seedfs::{open, FsError, Kind};

const MAX: usize = 64 * 1024;

/// Every file of the tree, with its path.
fn files(nodes: &[Node], path: &str, out: &mut Vec<(String, Vec<u8>)>) {
    for n in nodes {
        match n {
            Node::File(name, data) => out.push((format!("{}{}", path, name), data.clone())),
            Node::Dir(name, kids) => files(kids, &format!("{}{}/", path, name), out),
        }
    }
}

fn all_files() -> Vec<(String, Vec<u8>)> {
    let mut v = Vec::new();
    files(&seed_tree(), "", &mut v);
    v
}

fn read(img: &[u8], path: &str) -> Result<Option<Vec<u8>>, FsError> {
    open(img)?.read_file(path, MAX)
}

fn fat_reads_the_seed_tree(kind: FatKind, want: Kind) {
    let f = FatImage::build(kind, "CIDATA", &seed_tree());
    let mut v = open(&f.img[..]).unwrap();
    assert_eq!(v.kind(), want);
    assert_eq!(v.label(), "CIDATA");
    for (path, data) in all_files() {
        assert_eq!(
            v.read_file(&path, MAX).unwrap().as_deref(),
            Some(&data[..]),
            "{}",
            path
        );
        // any case, any slashes
        let shouted = format!("/{}", path.to_uppercase());
        assert_eq!(
            v.read_file(&shouted, MAX).unwrap().as_deref(),
            Some(&data[..]),
            "{}",
            shouted
        );
    }
    // the short name of a long one works too, as on any FAT reader
    assert!(v.read_file("METADA~1", MAX).unwrap().is_some());
    assert_eq!(v.read_file("vendor-data", MAX), Ok(None));
    assert_eq!(
        v.read_file("openstack/2012-08-10/meta_data.json", MAX),
        Ok(None)
    );
    assert_eq!(v.read_file("openstack/latest", MAX), Err(FsError::NotAFile));
    assert_eq!(v.read_file("meta-data/x", MAX), Err(FsError::NotAFile));
    assert_eq!(v.read_file("", MAX), Err(FsError::BadPath));
    assert_eq!(
        v.read_file("openstack/../meta-data", MAX),
        Err(FsError::BadPath)
    );
    assert_eq!(
        v.read_file("a rather long file name with spaces.json", 4999),
        Err(FsError::TooLarge {
            size: 5000,
            max: 4999
        })
    );
    assert_eq!(v.read_file("CIDATA", MAX), Ok(None), "the label is no file");
}

#[test]
fn fat12_with_long_names() {
    fat_reads_the_seed_tree(FatKind::Fat12, Kind::Fat12);
}

#[test]
fn fat16_with_long_names() {
    fat_reads_the_seed_tree(FatKind::Fat16, Kind::Fat16);
}

#[test]
fn fat32_with_long_names() {
    fat_reads_the_seed_tree(FatKind::Fat32, Kind::Fat32);
}

#[test]
fn fat_in_the_first_mbr_partition() {
    let f = FatImage::build(FatKind::Fat12, "cidata", &seed_tree());
    let mut disk = vec![0u8; 2048 * 512];
    disk[446 + 4] = 0x0e;
    disk[446 + 8..446 + 12].copy_from_slice(&2048u32.to_le_bytes());
    disk[446 + 12..446 + 16].copy_from_slice(&((f.img.len() / 512) as u32).to_le_bytes());
    disk[510] = 0x55;
    disk[511] = 0xaa;
    disk.extend_from_slice(&f.img);
    let mut v = open(&disk[..]).unwrap();
    assert_eq!(v.label(), "cidata");
    assert!(v
        .read_file("meta-data", MAX)
        .unwrap()
        .unwrap()
        .starts_with(b"instance-id"));
}

#[test]
fn the_label_falls_back_to_the_boot_sector() {
    let mut f = FatImage::build(FatKind::Fat16, "CIDATA", &seed_tree());
    f.img[f.root_start] = 0xe5; // the root's label entry deleted
    assert_eq!(open(&f.img[..]).unwrap().label(), "CIDATA");
    f.img[43..54].copy_from_slice(b"NO NAME    ");
    assert_eq!(open(&f.img[..]).unwrap().label(), "");
}

fn cluster_of(f: &FatImage, path: &str) -> u32 {
    f.clusters.iter().find(|(p, _)| p == path).unwrap().1
}

#[test]
fn fat_chains_that_loop_or_break_are_errors() {
    let long = "/a rather long file name with spaces.json";
    for kind in [FatKind::Fat12, FatKind::Fat16, FatKind::Fat32] {
        let base = FatImage::build(kind, "CIDATA", &seed_tree());
        let c = cluster_of(&base, long);
        let cases: [(u32, u32, &str); 4] = [
            (c + 3, c, "cluster chain loops"),
            (c + 3, 0, "cluster chain leaves the volume"),
            (c + 3, 0x0fff_fff7, "bad cluster in a chain"),
            (c + 3, 0x0fff_ffff, "cluster chain shorter than the file"),
        ];
        for (at, value, why) in cases {
            let mut f = FatImage::build(kind, "CIDATA", &seed_tree());
            f.set_fat(at, value);
            assert_eq!(
                read(&f.img, long),
                Err(FsError::Corrupt(why)),
                "{:?} {}",
                kind,
                why
            );
            // the rest of the disk still reads
            assert!(read(&f.img, "meta-data").unwrap().is_some());
        }
        // a directory whose chain loops onto itself ends, with an error
        let mut f = FatImage::build(kind, "CIDATA", &seed_tree());
        let d = cluster_of(&f, "/openstack");
        f.set_fat(d, d);
        let r = read(&f.img, "openstack/nothing-here");
        assert!(
            matches!(r, Ok(None) | Err(FsError::Corrupt("cluster chain loops"))),
            "{:?}",
            r
        );
    }
}

/// The byte offset of the short entry for `name` (upper-case 8.3 form).
fn find_entry(img: &[u8], short: &[u8]) -> usize {
    img.windows(short.len()).position(|w| w == short).unwrap()
}

#[test]
fn fat_entries_pointing_outside_are_errors() {
    let mut f = FatImage::build(FatKind::Fat16, "CIDATA", &seed_tree());
    let e = find_entry(&f.img, b"README  TXT");
    f.img[e + 26..e + 28].copy_from_slice(&0xfff0u16.to_le_bytes());
    assert_eq!(
        read(&f.img, "README.TXT"),
        Err(FsError::Corrupt("first cluster out of range"))
    );
    let mut f = FatImage::build(FatKind::Fat16, "CIDATA", &seed_tree());
    f.img[e + 28..e + 32].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(
        open(&f.img[..])
            .unwrap()
            .read_file("README.TXT", usize::MAX),
        Err(FsError::Corrupt("cluster chain shorter than the file"))
    );
    assert!(matches!(
        read(&f.img, "README.TXT"),
        Err(FsError::TooLarge { .. })
    ));
}

#[test]
fn a_long_name_with_the_wrong_checksum_is_ignored() {
    let mut f = FatImage::build(FatKind::Fat12, "CIDATA", &seed_tree());
    let e = find_entry(&f.img, b"METADA~1   ");
    f.img[e - 32 + 13] ^= 1; // the long-name entry just before it
    assert_eq!(read(&f.img, "meta-data"), Ok(None));
    assert!(read(&f.img, "METADA~1").unwrap().is_some());
}

#[test]
fn bpbs_that_do_not_add_up_are_refused() {
    let good = FatImage::build(FatKind::Fat12, "CIDATA", &seed_tree()).img;
    let cases: [(usize, &[u8], FsError); 5] = [
        (11, &1000u16.to_le_bytes(), FsError::NotAFilesystem),
        (13, &[3], FsError::NotAFilesystem),
        (
            19,
            &u16::MAX.to_le_bytes(),
            FsError::Corrupt("FAT volume larger than the disk"),
        ),
        (
            22,
            &2000u16.to_le_bytes(),
            FsError::Corrupt("FAT metadata larger than the volume"),
        ),
        (
            22,
            &1u16.to_le_bytes(),
            FsError::Corrupt("FAT too small for the cluster count"),
        ),
    ];
    for (at, bytes, want) in cases {
        let mut img = good.clone();
        img[at..at + bytes.len()].copy_from_slice(bytes);
        assert_eq!(open(&img[..]).err(), Some(want.clone()), "offset {}", at);
    }
    assert_eq!(
        open(&good[..good.len() / 2]).err(),
        Some(FsError::Corrupt("FAT volume larger than the disk"))
    );
}

fn iso(opts: IsoOptions) -> IsoImage {
    IsoImage::build("cidata", &seed_tree(), opts)
}

fn iso_reads_the_seed_tree(opts: IsoOptions, exact_names: bool) {
    let want = Kind::Iso9660 {
        joliet: opts.joliet,
        rock_ridge: opts.rock_ridge,
    };
    let i = iso(opts);
    let mut v = open(&i.img[..]).unwrap();
    assert_eq!(v.kind(), want);
    assert_eq!(v.label(), "cidata");
    for (path, data) in all_files() {
        let name = if exact_names {
            path.clone()
        } else {
            // what a plain ISO9660 directory holds: upper case, `_` for the rest
            path.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '.' || c == '/' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect()
        };
        assert_eq!(
            v.read_file(&name, MAX).unwrap().as_deref(),
            Some(&data[..]),
            "{}",
            name
        );
    }
    if exact_names {
        assert_eq!(
            v.read_file("META-DATA", MAX),
            Ok(None),
            "Rock Ridge and Joliet names are exact"
        );
    }
    assert_eq!(v.read_file("openstack/latest", MAX), Err(FsError::NotAFile));
    assert_eq!(v.read_file("nothing", MAX), Ok(None));
    assert_eq!(
        v.read_file("user-data", 10)
            .err()
            .map(|e| matches!(e, FsError::TooLarge { .. })),
        if exact_names { Some(true) } else { None }
    );
}

#[test]
fn iso9660_plain() {
    iso_reads_the_seed_tree(
        IsoOptions {
            joliet: false,
            rock_ridge: false,
            rr_in_continuation: false,
        },
        false,
    );
}

#[test]
fn iso9660_joliet() {
    iso_reads_the_seed_tree(
        IsoOptions {
            joliet: true,
            rock_ridge: false,
            rr_in_continuation: false,
        },
        true,
    );
}

#[test]
fn iso9660_rock_ridge() {
    iso_reads_the_seed_tree(
        IsoOptions {
            joliet: false,
            rock_ridge: true,
            rr_in_continuation: false,
        },
        true,
    );
}

#[test]
fn iso9660_rock_ridge_names_in_continuation_areas() {
    iso_reads_the_seed_tree(
        IsoOptions {
            joliet: false,
            rock_ridge: true,
            rr_in_continuation: true,
        },
        true,
    );
}

#[test]
fn iso9660_joliet_and_rock_ridge() {
    iso_reads_the_seed_tree(
        IsoOptions {
            joliet: true,
            rock_ridge: true,
            rr_in_continuation: false,
        },
        true,
    );
}

fn record_of(i: &IsoImage, path: &str) -> usize {
    i.files.iter().find(|(p, _, _)| p == path).unwrap().2
}

#[test]
fn iso_records_and_extents_out_of_bounds_are_errors() {
    let opts = || IsoOptions {
        joliet: false,
        rock_ridge: true,
        rr_in_continuation: false,
    };
    let mut i = iso(opts());
    let r = record_of(&i, "/meta-data");
    let len = i.img.len() as u32;
    i.img[r + 2..r + 6].copy_from_slice(&(len / 2048).to_le_bytes());
    assert_eq!(
        read(&i.img, "meta-data"),
        Err(FsError::Corrupt("points past the end of the disk"))
    );
    i.img[r + 2..r + 6].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(read(&i.img, "meta-data").is_err());

    let mut i = iso(opts());
    let r = record_of(&i, "/meta-data");
    i.img[r] = 250; // runs past its sector's records into padding and beyond
    let res = read(&i.img, "user-data");
    assert!(
        res.is_ok() || matches!(res, Err(FsError::Corrupt(_))),
        "{:?}",
        res
    );
    i.img[r] = 20; // shorter than a record can be
    assert_eq!(
        read(&i.img, "user-data"),
        Err(FsError::Corrupt("directory record crosses its sector"))
    );
}

#[test]
fn iso_continuation_loops_end() {
    let mut i = iso(IsoOptions {
        joliet: false,
        rock_ridge: true,
        rr_in_continuation: true,
    });
    // point every CE at its own area, with a CE inside: a loop of hops
    let r = record_of(&i, "/meta-data");
    let ce = r + 33 + i.img[r + 32] as usize + (i.img[r + 32] as usize + 1) % 2;
    assert_eq!(&i.img[ce..ce + 2], b"CE");
    let block = u32::from_le_bytes(i.img[ce + 4..ce + 8].try_into().unwrap()) as usize;
    let mut looped = i.img[ce..ce + 28].to_vec();
    looped[20..24].copy_from_slice(&28u32.to_le_bytes());
    i.img[block * 2048..block * 2048 + 28].copy_from_slice(&looped);
    assert_eq!(
        read(&i.img, "meta-data"),
        Ok(None),
        "no name after 8 hops, no hang"
    );
    i.img[ce + 20..ce + 24].copy_from_slice(&100_000u32.to_le_bytes());
    assert_eq!(
        read(&i.img, "meta-data"),
        Err(FsError::Corrupt("Rock Ridge continuation too large"))
    );
}

#[test]
fn iso_directories_too_large_are_refused() {
    let mut i = iso(IsoOptions {
        joliet: false,
        rock_ridge: false,
        rr_in_continuation: false,
    });
    // the root record in the primary volume descriptor: size 2 MiB
    let at = 16 * 2048 + 156 + 10;
    i.img[at..at + 4].copy_from_slice(&(2u32 << 20).to_le_bytes());
    assert_eq!(
        read(&i.img, "x"),
        Err(FsError::Limit("directory over 1 MiB"))
    );
}

#[test]
fn iso_descriptors_are_checked() {
    let good = iso(IsoOptions {
        joliet: true,
        rock_ridge: false,
        rr_in_continuation: false,
    })
    .img;
    let mut img = good.clone();
    img[17 * 2048 + 1] = b'X';
    assert_eq!(
        open(&img[..]).err(),
        Some(FsError::Corrupt("volume descriptor without CD001"))
    );
    let mut img = good.clone();
    img[16 * 2048] = 2; // no primary descriptor, only Joliet's
    assert_eq!(
        open(&img[..]).err(),
        Some(FsError::Corrupt("no primary volume descriptor"))
    );
    let mut img = good.clone();
    img[16 * 2048 + 128..16 * 2048 + 130].copy_from_slice(&4096u16.to_le_bytes());
    assert_eq!(
        open(&img[..]).err(),
        Some(FsError::Corrupt("logical block size"))
    );
    // a terminator that never comes: 32 descriptors at most
    let mut img = good.clone();
    img.resize(80 * 2048, 0);
    for s in 18..60 {
        img[s * 2048..s * 2048 + 7].copy_from_slice(b"\x00CD001\x01");
    }
    assert!(open(&img[..]).is_ok());
}

/// Flip bytes all over each image's metadata and read every file: errors
/// are fine, a panic or a hang is not.
#[test]
fn damaged_images_never_panic() {
    let mut imgs = vec![
        FatImage::build(FatKind::Fat12, "CIDATA", &seed_tree()).img,
        FatImage::build(FatKind::Fat32, "CIDATA", &seed_tree()).img,
        iso(IsoOptions {
            joliet: true,
            rock_ridge: true,
            rr_in_continuation: true,
        })
        .img,
    ];
    imgs[1].truncate(1 << 20); // FAT32 metadata sits in the first MiB
    let paths: Vec<String> = all_files().into_iter().map(|(p, _)| p).collect();
    let mut outcomes = [0usize; 2];
    for img in &mut imgs {
        let span = img.len().min(60 * 2048);
        for at in (0..span).step_by(29) {
            let keep = img[at];
            for v in [0x00u8, 0xff, 0x81] {
                img[at] = v;
                let ok = match open(&img[..]) {
                    Ok(mut vol) => paths.iter().all(|p| vol.read_file(p, MAX).is_ok()),
                    Err(_) => false,
                };
                outcomes[ok as usize] += 1;
            }
            img[at] = keep;
        }
    }
    assert!(outcomes[0] > 0 && outcomes[1] > 0, "{:?}", outcomes);
}
