//! A simulated metadata network for `source::Source` tests: every request
//! is parsed as a server would, answered by the test's handler, and the
//! answer goes through the real HTTP parser on a simulated clock.
#![allow(dead_code)]

use cloudinit::imds::{Outcome, Target, REQUEST_TIMEOUT_NS};
use cloudinit::report;
use cloudinit::source::{Action, Metadata, Source};

pub const KEY_A: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBTNIgAqBBmRJ68FMrDIxqV0X/6zK/cdhRkP0x2FnX2c one@test";
pub const FP_A: &str = "SHA256:AeUr/fAAm7GKvcYlrUUrp3bCtG2XMS+vbuN8Myx0bVs";
pub const KEY_B: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGlH4HFqAnbjf48tIspEBf22MOBLfz9qhKg2H5UuH8qm two@test";
pub const FP_B: &str = "SHA256:ip+UYSOLA9KMf0+LKJ/kTpx+6Lau7hotaRaY65esQAg";
pub const KEY_C: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEnvP/nGCmK5aDXSbxz5xWwD5g6Q+t+cg0jftODORkTI test@ed25519";
pub const FP_C: &str = "SHA256:N5qg9+xayv/kw7in0Cr+k5CblB9wQS/srchPq9BXrCQ";

/// One request as the service saw it.
#[derive(Clone, Debug)]
pub struct Req {
    pub to: Target,
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
}

impl Req {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub enum Reply {
    Http(u16, Vec<u8>),
    Fault(Outcome),
}

pub fn ok(body: &str) -> Reply {
    Reply::Http(200, body.as_bytes().to_vec())
}

pub fn status(code: u16) -> Reply {
    Reply::Http(code, b"nope".to_vec())
}

pub struct Run {
    pub end: Action,
    /// "METHOD PATH" per request
    pub log: Vec<String>,
    pub now: u64,
    /// the retry lines a runtime would print
    pub retry_lines: Vec<String>,
}

impl Run {
    pub fn metadata(&self) -> &Metadata {
        match &self.end {
            Action::Done(md) => md,
            other => panic!("expected Done, got {:?}\nlog: {:#?}", other, self.log),
        }
    }

    pub fn failure(&self) -> &str {
        match &self.end {
            Action::Failed(why) => why,
            other => panic!("expected Failed, got {:?}\nlog: {:#?}", other, self.log),
        }
    }
}

fn parse_request(to: &Target, bytes: &[u8]) -> Req {
    let text = String::from_utf8(bytes.to_vec()).expect("requests are text");
    assert!(text.ends_with("\r\n\r\n"), "{:?}", text);
    let mut lines = text.split("\r\n");
    let first: Vec<&str> = lines.next().unwrap().split(' ').collect();
    assert_eq!(first.len(), 3, "{:?}", first);
    assert_eq!(first[2], "HTTP/1.1");
    let headers = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (k, v) = l.split_once(": ").expect("header line");
            (k.to_string(), v.to_string())
        })
        .collect();
    Req {
        to: to.clone(),
        method: first[0].into(),
        path: first[1].into(),
        headers,
    }
}

/// The answer as bytes on the wire, through the client's parser.
pub fn wire(code: u16, body: &[u8]) -> Outcome {
    let mut raw = format!(
        "HTTP/1.1 {} X\r\nContent-Length: {}\r\n\r\n",
        code,
        body.len()
    )
    .into_bytes();
    raw.extend_from_slice(body);
    cloudinit::exchange::outcome_of(&raw)
}

/// Run a source to the end against `handler`.
pub fn drive(src: &mut dyn Source, mut handler: impl FnMut(&Req) -> Reply) -> Run {
    let mut now = 0u64;
    let mut log = Vec::new();
    let mut retry_lines = Vec::new();
    for _ in 0..10_000 {
        match src.next(now) {
            Action::Request(r) => {
                now += 1_000_000;
                let req = parse_request(&r.to, &r.bytes);
                log.push(format!("{} {}", req.method, req.path));
                let o = match handler(&req) {
                    Reply::Http(code, body) => wire(code, &body),
                    Reply::Fault(o) => {
                        if o == Outcome::Timeout {
                            now += REQUEST_TIMEOUT_NS;
                        }
                        o
                    }
                };
                let before = src.retries();
                src.on_outcome(now, o);
                if src.retries() > before {
                    retry_lines.push(report::source_retry(
                        src.name(),
                        src.retries(),
                        src.last_error().unwrap_or("-"),
                    ));
                }
            }
            Action::Wait(t) => {
                assert!(t > now, "waits move forward");
                now = t;
            }
            end => {
                assert_eq!(src.next(now + 1), end, "the end is final");
                return Run {
                    end,
                    log,
                    now,
                    retry_lines,
                };
            }
        }
    }
    panic!("source did not finish: {:#?}", log);
}

/// A gzip member of `data` (for user-data tests), built with the same
/// crates the appliance links.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut g = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
    g.extend(miniz_oxide::deflate::compress_to_vec(data, 6));
    let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC).checksum(data);
    g.extend_from_slice(&crc.to_le_bytes());
    g.extend_from_slice(&(data.len() as u32).to_le_bytes());
    g
}

/// Every line is one printable-ASCII line.
pub fn assert_one_line_each(lines: &[String]) {
    for l in lines {
        assert!(l.bytes().all(|b| (0x20..0x7f).contains(&b)), "{:?}", l);
    }
}
