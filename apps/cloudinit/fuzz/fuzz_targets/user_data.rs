//! Any bytes as user-data (raw, or gzip'd when the input says so): a report
//! and keys merged into metadata, never a panic; inflating stops at the
//! bound; every report line is one printable line.
#![no_main]

use cloudinit::report::{self, Clock};
use cloudinit::source::Metadata;
use cloudinit::userdata::{self, UserData, MAX_INFLATED};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let u = userdata::parse("user-data", data, 64 * 1024);
    assert_eq!(u.report.bytes, data.len());
    assert!(u.keys.len() <= cloudinit::cloudconfig::MAX_ENTRIES);
    // the same text gzip'd gives the same result, flagged
    if data.len() <= MAX_INFLATED {
        let mut g = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
        g.extend(miniz_oxide::deflate::compress_to_vec(data, 1));
        g.extend_from_slice(
            &crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC)
                .checksum(data)
                .to_le_bytes(),
        );
        g.extend_from_slice(&(data.len() as u32).to_le_bytes());
        let z = userdata::parse("user-data", &g, usize::MAX);
        if !cloudinit::gzip::is_gzip(data) {
            assert!(z.report.gzip);
            assert_eq!(
                (&z.keys, &z.hostname, &z.report.kind),
                (&u.keys, &u.hostname, &u.report.kind)
            );
        }
    }
    let mut md = Metadata::new("ec2");
    md.merge(u, UserData::none("vendor-data"));
    assert!(md.keys.len() <= cloudinit::source::MAX_KEYS);
    let clock = Clock {
        elapsed_ms: 1,
        uptime_ns: 1,
        wallclock_s: Some(u32::MAX as u64),
    };
    for line in report::metadata_lines(&md, clock) {
        assert!(
            line.bytes().all(|b| (0x20..0x7f).contains(&b)),
            "{:?}",
            line
        );
    }
});
