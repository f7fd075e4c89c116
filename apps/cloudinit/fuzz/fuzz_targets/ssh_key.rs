//! Any text as a key line: a validated key (whose normalised line parses
//! back to the same key) or an error, never a panic. The same text also goes
//! through the report quoting.
#![no_main]

use cloudinit::{report, sshkey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else { return };
    if let Ok(k) = sshkey::parse(line) {
        let again = sshkey::parse(&k.line).expect("normalised line parses");
        assert_eq!(again.blob, k.blob);
        assert_eq!(again.fingerprint(), k.fingerprint());
        assert!(!k.line.contains(['\n', '\r']));
    }
    if let Some(blob) = sshkey::base64_decode(line) {
        assert_eq!(sshkey::base64_encode(&blob, true), line, "strict base64 is canonical");
    }
    let quoted = report::value(line);
    assert!(!quoted.contains(['\n', '\r']));
});
