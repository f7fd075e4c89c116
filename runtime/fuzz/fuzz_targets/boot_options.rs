//! Any bytes as the boot command line: options or a named error, never a
//! panic; whatever is reported about it is exactly one console line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use runtime::options;

fuzz_target!(|data: &[u8]| {
    let line = String::from_utf8_lossy(data);
    match options::parse(&line) {
        Ok(o) => {
            if let Some(l) = options::unknown_options(&o) {
                assert!(!l.contains(['\n', '\r']));
            }
        }
        Err(e) => assert!(!options::options_error(&e).contains(['\n', '\r'])),
    }
});
