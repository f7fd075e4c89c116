//! Console conventions shared by the runtime's services: one line per
//! event, `subsystem: key=value`, peer-controlled values quoted.

extern crate alloc;

use alloc::string::String;

/// A value as it appears after `key=` (bare when safe, else quoted and
/// escaped): see `cloudinit::report::push_value`.
pub fn quoted(v: &str) -> String {
    cloudinit::report::value(v)
}
