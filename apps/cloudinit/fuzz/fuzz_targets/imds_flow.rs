//! A metadata service whose every answer comes from the fuzzer (status,
//! body, or a transport fault): the IMDS state machine always ends, with a
//! bounded number of requests, inside the total timeout, never a panic.
#![no_main]

mod common;

use cloudinit::imds::{Action, Imds, Target, REQUEST_TIMEOUT_NS, TOTAL_TIMEOUT_NS};
use cloudinit::report;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let seed = data.iter().take(4).fold(0u32, |a, &b| a << 8 | b as u32);
    let mut input = data.get(4..).unwrap_or(&[]).iter().copied();
    let mut m = Imds::new(Target::default(), seed);
    let mut now = 0u64;
    let mut requests = 0;
    loop {
        match m.next(now) {
            Action::Request(_) => {
                requests += 1;
                assert!(requests < 1000, "unbounded requests");
                now += 1_000_000;
                let outcome = common::outcome(&mut input, &mut now, 1);
                m.on_outcome(now, outcome);
            }
            Action::Wait(t) => {
                assert!(t > now, "wait goes backwards");
                now = t;
            }
            Action::Done(s) => {
                for line in report::success_lines(&s, 0) {
                    assert!(!line.contains(['\n', '\r']));
                }
                break;
            }
            Action::Failed(why) => {
                assert!(!report::error(&why).contains(['\n', '\r']));
                break;
            }
        }
    }
    assert!(now <= TOTAL_TIMEOUT_NS + 2 * REQUEST_TIMEOUT_NS);
});
