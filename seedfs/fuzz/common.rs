//! Shared by the fuzz targets: a valid image (from the tests' writers) that
//! the input patches, or the input itself as the whole image; then every
//! lookup a seed datasource makes.

use std::sync::Mutex;

use seedfs::open;

const PATHS: [&str; 8] = [
    "meta-data",
    "user-data",
    "README.TXT",
    "empty",
    "a rather long file name with spaces.json",
    "openstack/latest/meta_data.json",
    "OPENSTACK/LATEST/USER_DATA",
    "network-config",
];

fn lookups(img: &[u8], extra: &str) {
    if let Ok(mut v) = open(img) {
        let _ = v.label();
        let _ = v.kind();
        for p in PATHS.iter().copied().chain([extra]) {
            if let Ok(Some(data)) = v.read_file(p, 64 * 1024) {
                assert!(data.len() <= 64 * 1024);
            }
        }
    }
}

/// `data[0]` odd: the rest is the image. Even: (3-byte offset within
/// `span`, value) patches to a valid image, restored afterwards.
pub fn run(base: &Mutex<Vec<u8>>, span: usize, data: &[u8]) {
    let Some((&ctl, rest)) = data.split_first() else {
        return;
    };
    if ctl & 1 == 1 {
        lookups(rest, "");
        return;
    }
    let mut img = base.lock().unwrap();
    let span = span.min(img.len());
    let mut undo = Vec::new();
    for p in rest.chunks_exact(4).take(64) {
        let at = (u32::from_le_bytes([p[0], p[1], p[2], 0]) as usize) % span;
        undo.push((at, img[at]));
        img[at] = p[3];
    }
    let extra = String::from_utf8_lossy(rest.get(rest.len() / 4 * 4..).unwrap_or(&[])).into_owned();
    lookups(&img, &extra);
    for (at, v) in undo.into_iter().rev() {
        img[at] = v;
    }
}
