//! cloud-init's source selection against a service whose every answer
//! comes from the fuzzer: EC2 probing, the OpenStack fallback and NoCloud
//! (chosen by the first byte) always end, with bounded requests, inside
//! the total timeout, never a panic.
#![no_main]

mod common;

use cloudinit::imds::{Target, REQUEST_TIMEOUT_NS, TOTAL_TIMEOUT_NS};
use cloudinit::report::{self, Clock};
use cloudinit::select::{parse_ds, Select};
use cloudinit::source::{Action, Source};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let ds = match data.first().map(|b| b % 3) {
        Some(1) => Some(parse_ds("openstack").unwrap()),
        Some(2) => Some(parse_ds("nocloud;s=http://10.0.0.1:8000/s/;h=x").unwrap()),
        _ => None,
    };
    let mut src = Select::new(ds, Target::default(), 7).unwrap();
    let mut input = data.get(1..).unwrap_or(&[]).iter().copied();
    let mut now = 0u64;
    let mut requests = 0;
    loop {
        match src.next(now) {
            Action::Request(r) => {
                requests += 1;
                assert!(requests < 1000, "unbounded requests");
                assert!(r.bytes.ends_with(b"\r\n\r\n"));
                now += 1_000_000;
                let outcome = common::outcome(&mut input, &mut now, 4);
                src.on_outcome(now, outcome);
                let line = report::source_retry(
                    src.name(),
                    src.retries(),
                    src.last_error().unwrap_or("-"),
                );
                assert!(!line.contains(['\n', '\r']));
            }
            Action::Wait(t) => {
                assert!(t > now, "wait goes backwards");
                now = t;
            }
            Action::Done(md) => {
                let clock = Clock {
                    elapsed_ms: 0,
                    uptime_ns: now,
                    wallclock_s: None,
                };
                for line in report::metadata_lines(&md, clock) {
                    assert!(
                        line.bytes().all(|b| (0x20..0x7f).contains(&b)),
                        "{:?}",
                        line
                    );
                }
                break;
            }
            Action::Failed(why) => {
                assert!(!report::error(&why).contains(['\n', '\r']));
                break;
            }
        }
    }
    // a probe and a fallback each have the total timeout
    assert!(now <= 2 * (TOTAL_TIMEOUT_NS + 2 * REQUEST_TIMEOUT_NS));
});
