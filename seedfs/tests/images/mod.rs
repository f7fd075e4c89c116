//! Minimal image writers for the tests: FAT12/16/32 with long names and a
//! label, ISO9660 with optional Joliet and Rock Ridge (optionally with the
//! names in continuation areas). Just enough of each format to say what a
//! reader must find, and to know where to break it.
#![allow(dead_code)]

pub enum Node {
    File(&'static str, Vec<u8>),
    Dir(&'static str, Vec<Node>),
}

pub use Node::{Dir, File};

/// The tree every test writes: NoCloud files, a config-drive path, a long
/// name, a short 8.3 name and an empty file.
pub fn seed_tree() -> Vec<Node> {
    vec![
        File(
            "meta-data",
            b"instance-id: iid-local01\nlocal-hostname: seed\n".to_vec(),
        ),
        File(
            "user-data",
            b"#cloud-config\nssh_authorized_keys:\n  - ssh-ed25519 AAAA test\n".to_vec(),
        ),
        File("README.TXT", b"plain 8.3 name".to_vec()),
        File("empty", Vec::new()),
        File(
            "a rather long file name with spaces.json",
            (0..5000u32).map(|i| (i % 251) as u8).collect(),
        ),
        Dir(
            "openstack",
            vec![Dir(
                "latest",
                vec![
                    File("meta_data.json", b"{\"uuid\": \"0b9f\"}".to_vec()),
                    File("user_data", (0..3000u32).map(|i| (i * 7) as u8).collect()),
                ],
            )],
        ),
    ]
}

// ---------------- FAT ----------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FatKind {
    Fat12,
    Fat16,
    Fat32,
}

pub struct FatImage {
    pub img: Vec<u8>,
    pub kind: FatKind,
    pub fat_start: usize,
    pub fat_bytes: usize,
    pub nfats: usize,
    pub data_start: usize,
    pub cluster_bytes: usize,
    pub root_start: usize,
    /// (path, first cluster) of everything written
    pub clusters: Vec<(String, u32)>,
    next: u32,
}

fn put16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}
fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

impl FatImage {
    pub fn build(kind: FatKind, label: &str, tree: &[Node]) -> FatImage {
        let (total, spc, rsvd, root_ent) = match kind {
            FatKind::Fat12 => (2880u32, 1u32, 1u32, 224u32),
            FatKind::Fat16 => (40_000, 1, 1, 512),
            FatKind::Fat32 => (70_000, 1, 32, 0),
        };
        let bits = match kind {
            FatKind::Fat12 => 12,
            FatKind::Fat16 => 16,
            FatKind::Fat32 => 32,
        };
        let fat_sectors = ((total + 2) * bits / 8).div_ceil(512);
        let nfats = 2;
        let root_sectors = (root_ent * 32).div_ceil(512);
        let fat_start = (rsvd * 512) as usize;
        let root_start = fat_start + (nfats * fat_sectors * 512) as usize;
        let data_start = root_start + (root_sectors * 512) as usize;
        let mut img = vec![0u8; total as usize * 512];
        let bs = &mut img[..512];
        bs[0..3].copy_from_slice(&[0xeb, 0x3c, 0x90]);
        bs[3..11].copy_from_slice(b"SEEDTEST");
        put16(bs, 11, 512);
        bs[13] = spc as u8;
        put16(bs, 14, rsvd as u16);
        bs[16] = nfats as u8;
        put16(bs, 17, root_ent as u16);
        if total < 65536 {
            put16(bs, 19, total as u16);
        } else {
            put32(bs, 32, total);
        }
        bs[21] = 0xf8;
        let mut lab = [b' '; 11];
        lab[..label.len()].copy_from_slice(label.as_bytes());
        if kind == FatKind::Fat32 {
            put32(bs, 36, fat_sectors);
            put32(bs, 44, 2);
            bs[66] = 0x29;
            bs[71..82].copy_from_slice(&lab);
            bs[82..90].copy_from_slice(b"FAT32   ");
        } else {
            put16(bs, 22, fat_sectors as u16);
            bs[38] = 0x29;
            bs[43..54].copy_from_slice(&lab);
            bs[54..62].copy_from_slice(if kind == FatKind::Fat12 {
                b"FAT12   "
            } else {
                b"FAT16   "
            });
        }
        bs[510] = 0x55;
        bs[511] = 0xaa;
        let mut f = FatImage {
            img,
            kind,
            fat_start,
            fat_bytes: (fat_sectors * 512) as usize,
            nfats: nfats as usize,
            data_start,
            cluster_bytes: (spc * 512) as usize,
            root_start,
            clusters: Vec::new(),
            next: 2,
        };
        f.set_fat(0, 0x0fff_fff8);
        f.set_fat(1, 0x0fff_ffff);
        // the root: the label entry, then the tree
        let mut label_entry = [0u8; 32];
        label_entry[..11].copy_from_slice(&lab);
        label_entry[11] = 0x08;
        let root_cluster = if kind == FatKind::Fat32 {
            f.alloc(32 * (1 + f.entry_count(tree)))
        } else {
            0
        };
        let mut entries = label_entry.to_vec();
        entries.extend(f.dir_entries(tree, "", root_cluster));
        let at = if kind == FatKind::Fat32 {
            f.offset(root_cluster)
        } else {
            root_start
        };
        f.img[at..at + entries.len()].copy_from_slice(&entries);
        f
    }

    pub fn offset(&self, c: u32) -> usize {
        self.data_start + (c as usize - 2) * self.cluster_bytes
    }

    /// Write FAT entry `c` in every copy.
    pub fn set_fat(&mut self, c: u32, v: u32) {
        for n in 0..self.nfats {
            let fat = self.fat_start + n * self.fat_bytes;
            match self.kind {
                FatKind::Fat12 => {
                    let at = fat + c as usize + c as usize / 2;
                    let old = u16::from_le_bytes([self.img[at], self.img[at + 1]]);
                    let v = (v & 0xfff) as u16;
                    let new = if c & 1 == 1 {
                        (old & 0x000f) | (v << 4)
                    } else {
                        (old & 0xf000) | v
                    };
                    put16(&mut self.img, at, new);
                }
                FatKind::Fat16 => put16(&mut self.img, fat + c as usize * 2, v as u16),
                FatKind::Fat32 => put32(&mut self.img, fat + c as usize * 4, v & 0x0fff_ffff),
            }
        }
    }

    /// A chain of clusters for `bytes` (at least one), marked in the FAT.
    fn alloc(&mut self, bytes: usize) -> u32 {
        let n = bytes.div_ceil(self.cluster_bytes).max(1) as u32;
        let first = self.next;
        for c in first..first + n {
            self.set_fat(
                c,
                if c + 1 == first + n {
                    0x0fff_ffff
                } else {
                    c + 1
                },
            );
        }
        self.next += n;
        first
    }

    fn entry_count(&self, nodes: &[Node]) -> usize {
        nodes.iter().map(|n| 1 + lfn_parts(node_name(n))).sum()
    }

    fn dir_entries(&mut self, nodes: &[Node], path: &str, parent: u32) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, node) in nodes.iter().enumerate() {
            let name = node_name(node);
            let full = format!("{}/{}", path, name);
            let (cluster, size, attr) = match node {
                File(_, data) => {
                    if data.is_empty() {
                        (0, 0, 0x20)
                    } else {
                        let c = self.alloc(data.len());
                        let at = self.offset(c);
                        self.img[at..at + data.len()].copy_from_slice(data);
                        (c, data.len() as u32, 0x20)
                    }
                }
                Dir(_, kids) => {
                    let c = self.alloc(32 * (2 + self.entry_count(kids)));
                    let mut e = dot_entry(b".          ", c);
                    e.extend(dot_entry(b"..         ", parent));
                    e.extend(self.dir_entries(kids, &full, c));
                    let at = self.offset(c);
                    self.img[at..at + e.len()].copy_from_slice(&e);
                    (c, 0, 0x10)
                }
            };
            self.clusters.push((full, cluster));
            out.extend(name_entries(name, i, cluster, size, attr));
        }
        out
    }
}

fn node_name(n: &Node) -> &'static str {
    match n {
        File(name, _) | Dir(name, _) => name,
    }
}

fn dot_entry(name: &[u8; 11], cluster: u32) -> Vec<u8> {
    let mut e = [0u8; 32];
    e[..11].copy_from_slice(name);
    e[11] = 0x10;
    put16(&mut e, 20, (cluster >> 16) as u16);
    put16(&mut e, 26, cluster as u16);
    e.to_vec()
}

/// An 8.3 name that needs no long name: upper-case letters, digits, `_`.
fn fits_8_3(name: &str) -> Option<[u8; 11]> {
    let (base, ext) = name.split_once('.').unwrap_or((name, ""));
    let ok = |s: &str, n| {
        !s.is_empty()
            && s.len() <= n
            && s.bytes()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_')
    };
    if !ok(base, 8) || !(ext.is_empty() || ok(ext, 3)) {
        return None;
    }
    let mut s = [b' '; 11];
    s[..base.len()].copy_from_slice(base.as_bytes());
    s[8..8 + ext.len()].copy_from_slice(ext.as_bytes());
    Some(s)
}

fn lfn_parts(name: &str) -> usize {
    if fits_8_3(name).is_some() {
        0
    } else {
        name.encode_utf16().count().div_ceil(13)
    }
}

pub fn lfn_checksum(short: &[u8; 11]) -> u8 {
    short
        .iter()
        .fold(0u8, |s, &c| s.rotate_right(1).wrapping_add(c))
}

/// Long-name entries (last part first) and the short entry.
fn name_entries(name: &str, index: usize, cluster: u32, size: u32, attr: u8) -> Vec<u8> {
    let short = fits_8_3(name).unwrap_or_else(|| {
        let mut s = [b' '; 11];
        let tail = format!("~{}", index + 1);
        let base: Vec<u8> = name
            .bytes()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_uppercase())
            .take(8 - tail.len())
            .collect();
        s[..base.len()].copy_from_slice(&base);
        s[base.len()..base.len() + tail.len()].copy_from_slice(tail.as_bytes());
        s
    });
    let mut out = Vec::new();
    let n = lfn_parts(name);
    if n > 0 {
        let mut units: Vec<u16> = name.encode_utf16().collect();
        if !units.len().is_multiple_of(13) {
            units.push(0);
        }
        units.resize(n * 13, 0xffff);
        for part in (1..=n).rev() {
            let mut e = [0u8; 32];
            e[0] = part as u8 | if part == n { 0x40 } else { 0 };
            e[11] = 0x0f;
            e[13] = lfn_checksum(&short);
            let u = &units[(part - 1) * 13..part * 13];
            for (i, at) in [1usize, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30]
                .iter()
                .enumerate()
            {
                put16(&mut e, *at, u[i]);
            }
            out.extend(e);
        }
    }
    let mut e = [0u8; 32];
    e[..11].copy_from_slice(&short);
    e[11] = attr;
    put16(&mut e, 20, (cluster >> 16) as u16);
    put16(&mut e, 26, cluster as u16);
    put32(&mut e, 28, size);
    out.extend(e);
    out
}

// ---------------- ISO9660 ----------------

pub struct IsoOptions {
    pub joliet: bool,
    pub rock_ridge: bool,
    /// Rock Ridge names in a continuation area (CE) instead of the record.
    pub rr_in_continuation: bool,
}

pub struct IsoImage {
    pub img: Vec<u8>,
    /// (path, first block, byte offset of its directory record) of each file
    pub files: Vec<(String, u32, usize)>,
}

const S: usize = 2048;

fn both32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
    b[at + 4..at + 8].copy_from_slice(&v.to_be_bytes());
}
fn both16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
    b[at + 2..at + 4].copy_from_slice(&v.to_be_bytes());
}

fn plain_id(name: &str, is_dir: bool) -> Vec<u8> {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    if !is_dir {
        if !s.contains('.') {
            s.push('.');
        }
        s.push_str(";1");
    }
    s.into_bytes()
}

fn joliet_id(name: &str, is_dir: bool) -> Vec<u8> {
    let mut n = name.to_string();
    if !is_dir {
        n.push_str(";1");
    }
    n.encode_utf16().flat_map(|u| u.to_be_bytes()).collect()
}

/// One directory record.
fn iso_record(id: &[u8], block: u32, size: u32, dir: bool, su: &[u8]) -> Vec<u8> {
    let mut r = vec![0u8; 33];
    r.extend_from_slice(id);
    if id.len().is_multiple_of(2) {
        r.push(0);
    }
    r.extend_from_slice(su);
    r[0] = r.len() as u8;
    both32(&mut r, 2, block);
    both32(&mut r, 10, size);
    r[25] = if dir { 2 } else { 0 };
    both16(&mut r, 28, 1);
    r[32] = id.len() as u8;
    r
}

fn nm(name: &str) -> Vec<u8> {
    let mut e = vec![b'N', b'M', (5 + name.len()) as u8, 1, 0];
    e.extend_from_slice(name.as_bytes());
    e
}

struct IsoBuilder {
    img: Vec<u8>,
    next: usize,
    opts: IsoOptions,
    files: Vec<(String, u32, usize)>,
}

impl IsoBuilder {
    fn alloc(&mut self, bytes: usize) -> usize {
        let b = self.next;
        self.next += bytes.div_ceil(S).max(1);
        if self.img.len() < self.next * S {
            self.img.resize(self.next * S, 0);
        }
        b
    }

    /// Lay out a directory: records packed into whole sectors. Returns
    /// (block, size).
    fn dir(
        &mut self,
        nodes: &[Node],
        path: &str,
        parent: Option<(usize, usize)>,
        joliet: bool,
    ) -> (usize, usize) {
        // sizes first: children's records, then the two dot records
        let rr = self.opts.rock_ridge && !joliet;
        let mut records: Vec<(Vec<u8>, Option<&Node>)> = Vec::new();
        let sp: Vec<u8> = if rr {
            vec![b'S', b'P', 7, 1, 0xbe, 0xef, 0]
        } else {
            vec![]
        };
        records.push((iso_record(&[0], 0, 0, true, &sp), None));
        records.push((iso_record(&[1], 0, 0, true, &[]), None));
        let mut children = Vec::new();
        for n in nodes {
            let (name, is_dir) = match n {
                File(name, _) => (*name, false),
                Dir(name, _) => (*name, true),
            };
            let id = if joliet {
                joliet_id(name, is_dir)
            } else {
                plain_id(name, is_dir)
            };
            let su = if !rr {
                vec![]
            } else if self.opts.rr_in_continuation {
                // CE: block, offset, length, filled in below
                let mut ce = vec![b'C', b'E', 28, 1];
                ce.resize(28, 0);
                ce
            } else {
                nm(name)
            };
            children.push((id, su, n, name));
        }
        for (id, su, n, _) in &children {
            records.push((iso_record(id, 0, 0, matches!(n, Dir(..)), su), Some(*n)));
        }
        let mut sectors = 1;
        let mut used = 0;
        for (r, _) in &records {
            if used + r.len() > S {
                sectors += 1;
                used = 0;
            }
            used += r.len();
        }
        let me = self.alloc(sectors * S);
        let size = sectors * S;
        let (pblock, psize) = parent.unwrap_or((me, size));
        // children's contents
        let mut placed = Vec::new();
        for (id, su, n, name) in children {
            let full = format!("{}/{}", path, name);
            let (block, len, su) = match n {
                File(_, data) => {
                    let b = if data.is_empty() {
                        0
                    } else {
                        self.alloc(data.len())
                    };
                    self.img[b * S..b * S + data.len()].copy_from_slice(data);
                    (b, data.len(), su)
                }
                Dir(_, kids) => {
                    let (b, l) = self.dir(kids, &full, Some((me, size)), joliet);
                    (b, l, su)
                }
            };
            let su = if rr && self.opts.rr_in_continuation {
                let area = nm(name);
                let cb = self.alloc(area.len());
                self.img[cb * S..cb * S + area.len()].copy_from_slice(&area);
                let mut ce = su;
                both32(&mut ce, 4, cb as u32);
                both32(&mut ce, 12, 0);
                both32(&mut ce, 20, area.len() as u32);
                ce
            } else {
                su
            };
            placed.push((
                iso_record(&id, block as u32, len as u32, matches!(n, Dir(..)), &su),
                full,
                block,
                matches!(n, File(..)),
            ));
        }
        let mut all = vec![
            (iso_record(&[0], me as u32, size as u32, true, &sp), None),
            (
                iso_record(&[1], pblock as u32, psize as u32, true, &[]),
                None,
            ),
        ];
        for (r, full, block, is_file) in placed {
            all.push((r, if is_file { Some((full, block)) } else { None }));
        }
        let mut at = me * S;
        let mut used = 0;
        for (r, file) in all {
            if used + r.len() > S {
                at += S - used;
                used = 0;
            }
            self.img[at..at + r.len()].copy_from_slice(&r);
            if let Some((full, block)) = file {
                if !joliet {
                    self.files.push((full, block as u32, at));
                }
            }
            at += r.len();
            used += r.len();
        }
        (me, size)
    }
}

impl IsoImage {
    pub fn build(volume_id: &str, tree: &[Node], opts: IsoOptions) -> IsoImage {
        let joliet = opts.joliet;
        let mut b = IsoBuilder {
            img: vec![0u8; 19 * S],
            next: 19,
            opts,
            files: Vec::new(),
        };
        let (proot, psize) = b.dir(tree, "", None, false);
        let jroot = joliet.then(|| b.dir(tree, "", None, true));
        let total = b.next as u32;
        let mut desc = |sector: usize, kind: u8, root: (usize, usize), j: bool| {
            let d = &mut b.img[sector * S..(sector + 1) * S];
            d[0] = kind;
            d[1..6].copy_from_slice(b"CD001");
            d[6] = 1;
            let mut vid = [b' '; 32];
            vid[..volume_id.len()].copy_from_slice(volume_id.as_bytes());
            d[40..72].copy_from_slice(&vid);
            both32(d, 80, total);
            if j {
                d[88..91].copy_from_slice(b"%/E");
            }
            both16(d, 120, 1);
            both16(d, 124, 1);
            both16(d, 128, S as u16);
            let r = iso_record(&[0], root.0 as u32, root.1 as u32, true, &[]);
            d[156..156 + 34].copy_from_slice(&r);
            d[881] = 1;
        };
        desc(16, 1, (proot, psize), false);
        let term = if let Some(j) = jroot {
            desc(17, 2, j, true);
            18
        } else {
            17
        };
        b.img[term * S] = 255;
        b.img[term * S + 1..term * S + 6].copy_from_slice(b"CD001");
        b.img[term * S + 6] = 1;
        IsoImage {
            img: b.img,
            files: b.files,
        }
    }
}
