//! Any bytes from a metadata service, in any chunking: the parser answers
//! with a response or an error, within its limits, never a panic.
#![no_main]

use cloudinit::http::{Parser, MAX_BODY};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (ctl, body) = data.split_at(data.len().min(1));
    let step = 1 + ctl.first().copied().unwrap_or(0) as usize % 64;
    let mut p = Parser::new();
    for chunk in body.chunks(step) {
        match p.push(chunk) {
            Ok(Some(r)) => {
                assert!(r.body.len() <= MAX_BODY);
                return;
            }
            Ok(None) => {}
            Err(_) => return,
        }
    }
    if let Ok(r) = p.finish() {
        assert!(r.body.len() <= MAX_BODY);
    }
});
