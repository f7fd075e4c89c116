//! Any bytes as OpenStack meta_data.json and as NoCloud meta-data (YAML or
//! JSON): Metadata or an error, never a panic; what is kept is validated
//! and bounded, and reports are one printable line each.
#![no_main]

use cloudinit::files::Got;
use cloudinit::report::{self, Clock};
use cloudinit::{nocloud, openstack};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let clock = Clock {
        elapsed_ms: 0,
        uptime_ns: 0,
        wallclock_s: None,
    };
    for md in [
        openstack::from_files(data, Got::Missing),
        nocloud::from_files(data, Got::Missing, Got::Body(data.to_vec())),
    ]
    .into_iter()
    .flatten()
    {
        assert!(md.keys.len() <= cloudinit::source::MAX_KEYS);
        assert!(md.skipped.len() <= cloudinit::source::MAX_SKIPPED);
        for line in report::metadata_lines(&md, clock) {
            assert!(
                line.bytes().all(|b| (0x20..0x7f).contains(&b)),
                "{:?}",
                line
            );
        }
        for (_, v) in report::xenstore_metadata(&md) {
            assert!(v.len() <= 64 * 1024);
        }
    }
});
