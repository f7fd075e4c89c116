//! The kernel command line as `key=value` options (a bare word is `key=`).
//! Values are opaque here; the app interprets its own keys.

pub struct Options<'a> {
    line: &'a str,
}

impl<'a> Options<'a> {
    pub fn new(line: &'a str) -> Self {
        Options { line }
    }

    /// All options in order.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.line
            .split_ascii_whitespace()
            .map(|w| w.split_once('=').unwrap_or((w, "")))
    }

    /// The last value given for `key`.
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.iter()
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| v)
            .last()
    }
}
