//! Any text through the YAML subset: a value or an error with a position
//! inside the text, never a panic, a stack overflow or a hang; the same
//! text always gives the same answer, and no value nests past MAX_DEPTH.
#![no_main]

use cloudinit::yaml::{self, Value, MAX_DEPTH};
use libfuzzer_sys::fuzz_target;

fn depth(v: &Value) -> usize {
    match v {
        Value::Seq(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Map(m) => 1 + m.iter().map(|(_, v)| depth(v)).max().unwrap_or(0),
        _ => 0,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let first = yaml::parse(text);
    assert_eq!(first, yaml::parse(text));
    match first {
        Ok(v) => assert!(depth(&v) <= MAX_DEPTH + 1),
        Err(e) => {
            let lines = text.split('\n').count();
            assert!(e.line >= 1 && e.line <= lines, "{} of {}", e.line, lines);
            assert!(e.column >= 1);
        }
    }
});
