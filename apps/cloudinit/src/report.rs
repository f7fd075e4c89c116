//! What the app tells the world: console lines in the stable
//! `subsystem: key=value ...` form and the XenStore entries under
//! `data/cloudinit/`. Values that came from the network (comments, key
//! names, hostnames, error text) are quoted and escaped, so one report is
//! always exactly one line and `key=value` pairs split unambiguously.

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use crate::ec2;
use crate::imds::{Summary, Target};
use crate::source::{KeyEntry, Metadata, Skipped};
use crate::sshkey::PublicKey;
use crate::userdata::UserDataReport;

/// Append ` key=value`, quoting the value when it needs it.
pub fn field(out: &mut String, key: &str, value: &str) {
    out.push(' ');
    out.push_str(key);
    out.push('=');
    push_value(out, value);
}

/// A value is bare when it is non-empty printable ASCII without space,
/// quote, backslash or `=`; otherwise it is `"..."` with `\"`, `\\`,
/// `\xNN` (ASCII control bytes) and `\u{...}` (everything outside ASCII)
/// escapes. Escaping all of non-ASCII, not just C0/C1 controls, keeps out
/// what a peer could use to make a line read differently than it parses:
/// bidi overrides, line separators, zero-width and look-alike characters.
pub fn push_value(out: &mut String, value: &str) {
    let bare = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b'\\' | b'='));
    if bare {
        out.push_str(value);
        return;
    }
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_ascii_control() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if !c.is_ascii() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `value` as it would appear after `key=`.
pub fn value(value: &str) -> String {
    let mut s = String::new();
    push_value(&mut s, value);
    s
}

/// `imds: start target=http://169.254.169.254`
pub fn start(target: &Target) -> String {
    let mut s = String::from("imds: start");
    let _ = write!(s, " target=http://{}", target.host());
    s
}

/// `imds: retry n=N reason="..."`
pub fn retry(n: u32, reason: &str) -> String {
    let mut s = String::from("imds: retry");
    let _ = write!(s, " n={}", n);
    field(&mut s, "reason", reason);
    s
}

/// `imds: mode=v2 requests=N retries=N instance-id=... local-hostname=...`
pub fn imds_summary(sum: &Summary) -> String {
    let mut s = String::from("imds:");
    field(&mut s, "mode", sum.mode.name());
    let _ = write!(s, " requests={} retries={}", sum.requests, sum.retries);
    field(
        &mut s,
        "instance-id",
        sum.instance_id.as_deref().unwrap_or("-"),
    );
    field(
        &mut s,
        "local-hostname",
        sum.hostname.as_deref().unwrap_or("-"),
    );
    s
}

/// `cloudinit: ssh-key type=... bits=... fingerprint=SHA256:... comment=... name=...`
pub fn ssh_key(sum: &Summary) -> String {
    key_fields(&sum.key, &sum.key_name)
}

fn key_fields(k: &PublicKey, name: &str) -> String {
    let mut s = String::from("cloudinit: ssh-key");
    field(&mut s, "type", &k.kind);
    let _ = write!(s, " bits={}", k.bits());
    field(&mut s, "fingerprint", &k.fingerprint());
    field(&mut s, "comment", &k.comment);
    field(&mut s, "name", name);
    s
}

/// `ssh-key: <the key line>`: the line itself, for copying into
/// authorized_keys. Its comment is printed only when it is plain printable
/// ASCII (the `cloudinit: ssh-key` line shows any comment quoted): a peer's
/// bidi or look-alike characters must not reach the console raw.
pub fn key_line(sum: &Summary) -> String {
    authorized_line(&sum.key)
}

fn authorized_line(k: &PublicKey) -> String {
    let mut s = String::from("ssh-key: ");
    if k.comment.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        s.push_str(&k.line);
    } else {
        s.push_str(
            k.line
                .split(' ')
                .take(2)
                .collect::<Vec<_>>()
                .join(" ")
                .as_str(),
        );
    }
    s
}

/// `cloudinit: done elapsed_ms=N`
pub fn done(elapsed_ms: u64) -> String {
    let mut s = String::from("cloudinit: done");
    let _ = write!(s, " elapsed_ms={}", elapsed_ms);
    s
}

/// `cloudinit: error reason="..."`
pub fn error(reason: &str) -> String {
    let mut s = String::from("cloudinit: error");
    field(&mut s, "reason", reason);
    s
}

/// Every console line of a successful run, in order.
pub fn success_lines(sum: &Summary, elapsed_ms: u64) -> [String; 4] {
    [
        imds_summary(sum),
        ssh_key(sum),
        key_line(sum),
        done(elapsed_ms),
    ]
}

/// XenStore paths, relative to the domain's home.
pub const XS_STATUS: &str = "data/cloudinit/status";
pub const XS_ERROR: &str = "data/cloudinit/error";
pub const XS_SSH_KEY: &str = "data/cloudinit/ssh-key";
pub const XS_FINGERPRINT: &str = "data/cloudinit/fingerprint";
pub const XS_IMDS_MODE: &str = "data/cloudinit/imds-mode";
pub const XS_INSTANCE_ID: &str = "data/cloudinit/instance-id";

/// The entries to write after success; `status` comes last so a reader
/// watching it finds the others already there.
pub fn xenstore_success(sum: &Summary) -> Vec<(&'static str, String)> {
    let mut v = Vec::with_capacity(5);
    v.push((XS_SSH_KEY, sum.key.line.clone()));
    v.push((XS_FINGERPRINT, sum.key.fingerprint()));
    v.push((XS_IMDS_MODE, String::from(sum.mode.name())));
    if let Some(id) = &sum.instance_id {
        v.push((XS_INSTANCE_ID, id.clone()));
    }
    v.push((XS_STATUS, String::from("done")));
    v
}

/// The entries to write after a failure, `status` last.
pub fn xenstore_error(reason: &str) -> Vec<(&'static str, String)> {
    Vec::from([
        (XS_ERROR, String::from(reason)),
        (XS_STATUS, String::from("error")),
    ])
}

/// The retry line for any source: `imds: retry ...` for EC2 (as before),
/// `cloudinit: retry datasource=NAME ...` for the others.
pub fn source_retry(source: &str, n: u32, reason: &str) -> String {
    if source == "ec2" {
        return retry(n, reason);
    }
    let mut s = String::from("cloudinit: retry");
    field(&mut s, "datasource", source);
    let _ = write!(s, " n={}", n);
    field(&mut s, "reason", reason);
    s
}

/// `cloudinit: start datasource=NAME target=http://a.b.c.d[:port]`
pub fn source_start(source: &str, target: &Target) -> String {
    let mut s = String::from("cloudinit: start");
    field(&mut s, "datasource", source);
    let _ = write!(s, " target=http://{}", target.host());
    s
}

/// How many ignored user-data keys a line names, and how much of each.
const MAX_NAMED: usize = 16;
const MAX_NAME_LEN: usize = 32;

/// When a run ended, for cloud-init's final line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    /// since the domain started
    pub elapsed_ms: u64,
    pub uptime_ns: u64,
    /// Unix time, when the platform knows it
    pub wallclock_s: Option<u64>,
}

/// Every console line of a finished source run, in order: the EC2 summary
/// (EC2 only, as before), `cloudinit: datasource=...`, each key (with its
/// `ssh-key:` line), each skipped entry, the user-data and vendor-data,
/// then `cloudinit: done` (or `cloudinit: error` when no key is usable)
/// and cloud-init's own final line.
pub fn metadata_lines(md: &Metadata, clock: Clock) -> Vec<String> {
    let mut v = Vec::new();
    if let Some(mode) = ec2::imds_mode(md) {
        let mut s = String::from("imds:");
        field(&mut s, "mode", mode);
        let _ = write!(s, " requests={} retries={}", md.requests, md.retries);
        field(
            &mut s,
            "instance-id",
            md.instance_id.as_deref().unwrap_or("-"),
        );
        field(
            &mut s,
            "local-hostname",
            md.hostname.as_deref().unwrap_or("-"),
        );
        v.push(s);
    }
    v.push(datasource(md));
    for k in &md.keys {
        v.push(key_entry(k));
        v.push(authorized_line(&k.key));
    }
    v.extend(md.skipped.iter().map(skipped));
    for ud in [&md.user_data, &md.vendor_data] {
        if ud.kind != crate::userdata::Kind::None {
            v.push(user_data(ud));
        }
    }
    match no_key_reason(md) {
        None => v.push(done(clock.elapsed_ms)),
        Some(why) => v.push(error(&why)),
    }
    v.push(finished(md.source, clock));
    v
}

/// Why a finished run gives SSH nothing to work with.
pub fn no_key_reason(md: &Metadata) -> Option<String> {
    md.keys.is_empty().then(|| {
        alloc::format!(
            "no usable ssh key from {} ({} entries skipped)",
            md.source,
            md.skipped.len()
        )
    })
}

/// `cloudinit: datasource=NAME detail=... instance-id=... hostname=... keys=N skipped=N user-data=KIND requests=N retries=N`
pub fn datasource(md: &Metadata) -> String {
    let mut s = String::from("cloudinit:");
    field(&mut s, "datasource", md.source);
    if !md.detail.is_empty() {
        field(&mut s, "detail", &md.detail);
    }
    field(
        &mut s,
        "instance-id",
        md.instance_id.as_deref().unwrap_or("-"),
    );
    field(&mut s, "hostname", md.hostname.as_deref().unwrap_or("-"));
    let _ = write!(s, " keys={} skipped={}", md.keys.len(), md.skipped.len());
    field(&mut s, "user-data", md.user_data.kind.name());
    let _ = write!(s, " requests={} retries={}", md.requests, md.retries);
    s
}

/// `cloudinit: ssh-key type=... bits=... fingerprint=... comment=... name=... origin=...`
pub fn key_entry(k: &KeyEntry) -> String {
    let mut s = key_fields(&k.key, &k.name);
    field(&mut s, "origin", &k.origin);
    s
}

/// `cloudinit: skipped origin=... reason="..."`
pub fn skipped(sk: &Skipped) -> String {
    let mut s = String::from("cloudinit: skipped");
    field(&mut s, "origin", &sk.origin);
    field(&mut s, "reason", &sk.reason);
    s
}

/// `cloudinit: user-data kind=cloud-config bytes=N gzip=no status=ok ignored=a,b`
/// (`status=unsupported` for kinds not read, `status=error reason=...`).
pub fn user_data(ud: &UserDataReport) -> String {
    let mut s = String::from("cloudinit: ");
    s.push_str(ud.origin);
    field(&mut s, "kind", ud.kind.name());
    let _ = write!(
        s,
        " bytes={} gzip={}",
        ud.bytes,
        if ud.gzip { "yes" } else { "no" }
    );
    if let Some(e) = &ud.error {
        s.push_str(" status=error");
        field(&mut s, "reason", e);
        return s;
    }
    s.push_str(if ud.kind.supported() {
        " status=ok"
    } else {
        " status=unsupported"
    });
    if !ud.ignored.is_empty() {
        let mut names: Vec<String> = ud
            .ignored
            .iter()
            .take(MAX_NAMED)
            .map(|n| n.chars().take(MAX_NAME_LEN).collect())
            .collect();
        if ud.ignored.len() > MAX_NAMED {
            names.push(alloc::format!("+{}", ud.ignored.len() - MAX_NAMED));
        }
        field(&mut s, "ignored", &names.join(","));
    }
    s
}

/// `Cloud-init v. 0.1.0 finished at <time>. Datasource <name>.  Up <s> seconds`
/// (cloud-init's own last line; `<time>` is RFC 2822 when the wall clock
/// is known, else the uptime).
pub fn finished(source: &str, clock: Clock) -> String {
    let up_cs = clock.uptime_ns / 10_000_000;
    let up = alloc::format!("{}.{:02}", up_cs / 100, up_cs % 100);
    let at = match clock.wallclock_s {
        Some(t) => rfc2822(t),
        None => alloc::format!("uptime {}", up),
    };
    alloc::format!(
        "Cloud-init v. {} finished at {}. Datasource {}.  Up {} seconds",
        env!("CARGO_PKG_VERSION"),
        at,
        source,
        up
    )
}

/// `Thu, 01 Jan 1970 00:00:00 +0000` for a Unix time (UTC).
pub fn rfc2822(unix_s: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = unix_s / 86_400;
    let secs = unix_s % 86_400;
    // civil_from_days (H. Hinnant), for days since 1970-01-01
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    alloc::format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} +0000",
        DAYS[(days % 7) as usize],
        day,
        MONTHS[(month - 1) as usize],
        year,
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

pub const XS_HOSTNAME: &str = "data/cloudinit/hostname";
pub const XS_DATASOURCE: &str = "data/cloudinit/datasource";
pub const XS_KEYS: &str = "data/cloudinit/keys";
pub const XS_USER_DATA: &str = "data/cloudinit/user-data";

/// The entries to write after a finished run (`status` last: `done`, or
/// `error` with `error` when no key is usable).
pub fn xenstore_metadata(md: &Metadata) -> Vec<(&'static str, String)> {
    let mut v = Vec::new();
    if let Some(k) = md.keys.first() {
        v.push((XS_SSH_KEY, k.key.line.clone()));
        v.push((XS_FINGERPRINT, k.key.fingerprint()));
    }
    if let Some(mode) = ec2::imds_mode(md) {
        v.push((XS_IMDS_MODE, String::from(mode)));
    }
    if let Some(id) = &md.instance_id {
        v.push((XS_INSTANCE_ID, id.clone()));
    }
    if let Some(h) = &md.hostname {
        v.push((XS_HOSTNAME, h.clone()));
    }
    v.push((XS_DATASOURCE, String::from(md.source)));
    v.push((XS_KEYS, alloc::format!("{}", md.keys.len())));
    v.push((XS_USER_DATA, String::from(md.user_data.kind.name())));
    match no_key_reason(md) {
        None => v.push((XS_STATUS, String::from("done"))),
        Some(why) => v.extend(xenstore_error(&why)),
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imds::Mode;
    use crate::sshkey;

    const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEnvP/nGCmK5aDXSbxz5xWwD5g6Q+t+cg0jftODORkTI John \"J\" Doe";

    fn summary() -> Summary {
        Summary {
            mode: Mode::V2,
            key: sshkey::parse(KEY).unwrap(),
            key_name: "my-key".into(),
            instance_id: Some("i-0123456789abcdef0".into()),
            hostname: None,
            requests: 5,
            retries: 1,
        }
    }

    #[test]
    fn quoting() {
        assert_eq!(value("abc"), "abc");
        assert_eq!(value("SHA256:a+b/c"), "SHA256:a+b/c");
        assert_eq!(value(""), "\"\"");
        assert_eq!(value("a b"), "\"a b\"");
        assert_eq!(value("a=b"), "\"a=b\"");
        assert_eq!(value("say \"hi\"\\"), "\"say \\\"hi\\\"\\\\\"");
        assert_eq!(value("line\nbreak\r\x1b"), "\"line\\x0abreak\\x0d\\x1b\"");
        assert_eq!(value("Jürgen"), "\"J\\u{fc}rgen\"");
        assert_eq!(value("c1\u{85}"), "\"c1\\u{85}\"");
        // bidi override, line separator, zero-width space: all escaped
        assert_eq!(
            value("a\u{202e}b\u{2028}c\u{200b}"),
            "\"a\\u{202e}b\\u{2028}c\\u{200b}\""
        );
    }

    #[test]
    fn success_report() {
        let [a, b, c, d] = success_lines(&summary(), 1234);
        assert_eq!(
            a,
            "imds: mode=v2 requests=5 retries=1 instance-id=i-0123456789abcdef0 local-hostname=-"
        );
        assert_eq!(
            b,
            "cloudinit: ssh-key type=ssh-ed25519 bits=256 fingerprint=SHA256:N5qg9+xayv/kw7in0Cr+k5CblB9wQS/srchPq9BXrCQ comment=\"John \\\"J\\\" Doe\" name=my-key"
        );
        assert_eq!(c, alloc::format!("ssh-key: {}", KEY));
        assert_eq!(d, "cloudinit: done elapsed_ms=1234");
        let xs = xenstore_success(&summary());
        assert_eq!(xs.last().unwrap(), &(XS_STATUS, "done".into()));
        assert_eq!(xs[0], (XS_SSH_KEY, KEY.into()));
        assert!(xs
            .iter()
            .any(|(k, v)| *k == XS_INSTANCE_ID && v == "i-0123456789abcdef0"));
        let mut no_id = summary();
        no_id.instance_id = None;
        assert_eq!(xenstore_success(&no_id).len(), 4);
    }

    #[test]
    fn error_and_progress_lines() {
        assert_eq!(
            error("/latest/meta-data/public-keys/0/openssh-key returned 404"),
            "cloudinit: error reason=\"/latest/meta-data/public-keys/0/openssh-key returned 404\""
        );
        assert_eq!(
            retry(2, "503 on /latest/api/token"),
            "imds: retry n=2 reason=\"503 on /latest/api/token\""
        );
        assert_eq!(
            start(&Target::default()),
            "imds: start target=http://169.254.169.254"
        );
        assert_eq!(
            xenstore_error("x"),
            [(XS_ERROR, "x".into()), (XS_STATUS, "error".into())]
        );
    }

    #[test]
    fn every_line_is_one_line() {
        // hostile text in every network-sourced field
        let mut s = summary();
        s.key_name = "a\nb".into();
        s.instance_id = Some("i-1\r\nfake: line".into());
        s.hostname = Some("h\u{2028}x".into());
        s.key.comment = "me\u{202e}tsoh".into();
        let bare: Vec<&str> = KEY.split(' ').take(2).collect();
        let bare = bare.join(" ");
        s.key.line = alloc::format!("{} {}", bare, s.key.comment);
        for line in success_lines(&s, 0).iter().chain([error("x\ny")].iter()) {
            assert!(
                line.bytes().all(|b| (0x20..0x7f).contains(&b)),
                "{:?}",
                line
            );
        }
        assert_eq!(key_line(&s), alloc::format!("ssh-key: {}", bare));
    }
}
