//! Numbers and IPv4 addresses as people and URLs write them: strict
//! decimal, no leading zeros, no signs.

/// Dotted quad, decimal, no leading zeros (is `010` eight or ten?).
pub fn parse_ipv4(s: &str) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut parts = s.split('.');
    for o in out.iter_mut() {
        *o = parse_decimal(parts.next()?, 255)? as u8;
    }
    parts.next().is_none().then_some(out)
}

/// Digits only (no sign, no leading zero), at most `max`.
pub fn parse_decimal(s: &str, max: u32) -> Option<u32> {
    if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if s.len() > 1 && s.starts_with('0') {
        return None;
    }
    let n: u64 = s.parse().ok()?;
    (n <= max as u64).then_some(n as u32)
}
