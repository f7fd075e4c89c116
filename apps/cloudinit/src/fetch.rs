//! One metadata path fetched on demand (the SSH `metadata PATH` command):
//! a fresh IMDSv2 token first when the service is v2, then the GET. No
//! retries: the person asking can ask again; every failure is a message.

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::http::{self, Response};
use crate::imds::{Mode, Outcome, Target, TOKEN_TTL};

/// Longest body shown.
pub const MAX_BODY: usize = 16 * 1024;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Open a connection to the target, send these bytes, report the outcome.
    Request(Vec<u8>),
    Done(Result<String, String>),
}

pub struct Fetch {
    target: Target,
    host: String,
    path: String,
    mode: Mode,
    token: Option<String>,
    result: Option<Result<String, String>>,
}

impl Fetch {
    /// `path` is relative to `/latest/` (e.g. `meta-data/instance-id`).
    pub fn new(target: &Target, mode: Mode, path: &str) -> Fetch {
        Fetch::build(target, mode, "/latest/", path)
    }

    /// A plain GET of `prefix` + `path` (no token: OpenStack, NoCloud).
    pub fn get(target: &Target, prefix: &str, path: &str) -> Fetch {
        Fetch::build(target, Mode::V1, prefix, path)
    }

    fn build(target: &Target, mode: Mode, prefix: &str, path: &str) -> Fetch {
        // the path goes into the request line: one word of printable ASCII
        let ok = !path.is_empty() && path.bytes().all(|b| b.is_ascii_graphic());
        Fetch {
            target: target.clone(),
            host: target.host(),
            path: format!("{}{}", prefix, path.trim_start_matches('/')),
            mode,
            token: None,
            result: (!ok).then(|| Err("the path must be one word of printable ASCII".into())),
        }
    }

    /// Where every request of this fetch goes.
    pub fn target(&self) -> &Target {
        &self.target
    }

    pub fn next(&self) -> Step {
        if let Some(r) = &self.result {
            return Step::Done(r.clone());
        }
        Step::Request(match (self.mode, &self.token) {
            (Mode::V2, None) => http::request(
                "PUT",
                &self.host,
                "/latest/api/token",
                &[("X-aws-ec2-metadata-token-ttl-seconds", TOKEN_TTL)],
            ),
            (Mode::V2, Some(t)) => http::request(
                "GET",
                &self.host,
                &self.path,
                &[("X-aws-ec2-metadata-token", t)],
            ),
            (Mode::V1, _) => http::request("GET", &self.host, &self.path, &[]),
        })
    }

    pub fn on_outcome(&mut self, outcome: Outcome) {
        if self.result.is_some() {
            return;
        }
        let r = match response(outcome) {
            Ok(r) => r,
            Err(why) => return self.fail(why),
        };
        let getting_token = self.mode == Mode::V2 && self.token.is_none();
        match (getting_token, r.status) {
            (true, 200) => {
                let t = core::str::from_utf8(&r.body).unwrap_or("").trim();
                if t.is_empty() || t.len() > 512 || !t.bytes().all(|b| b.is_ascii_graphic()) {
                    self.fail("unusable token".into());
                } else {
                    self.token = Some(t.into());
                }
            }
            (true, s) => self.fail(format!("token request returned {}", s)),
            (false, 200) => {
                let n = r.body.len().min(MAX_BODY);
                let mut text = String::from_utf8_lossy(&r.body[..n]).into_owned();
                if r.body.len() > n {
                    text.push_str("\n(truncated)");
                }
                self.result = Some(Ok(text));
            }
            (false, s) => self.fail(format!("{} returned {}", self.path, s)),
        }
    }

    fn fail(&mut self, why: String) {
        self.result = Some(Err(why));
    }
}

/// The response, or what went wrong with the exchange, as reason text
/// (the same words in every source's retry lines).
pub fn response(outcome: Outcome) -> Result<Response, String> {
    match outcome {
        Outcome::Response(r) => Ok(r),
        Outcome::ConnectFailed => Err("connect failed".into()),
        Outcome::Timeout => Err("timeout".into()),
        Outcome::Reset => Err("connection reset".into()),
        Outcome::Http(e) => Err(format!("{}", e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Response;

    fn resp(status: u16, body: &[u8]) -> Outcome {
        Outcome::Response(Response {
            status,
            headers: Vec::new(),
            body: body.to_vec(),
        })
    }

    fn request_text(f: &Fetch) -> String {
        match f.next() {
            Step::Request(b) => String::from_utf8(b).unwrap(),
            other => panic!("{:?}", other),
        }
    }

    #[test]
    fn v2_token_then_get() {
        let mut f = Fetch::new(&Target::default(), Mode::V2, "meta-data/instance-id");
        assert!(request_text(&f).starts_with("PUT /latest/api/token "));
        f.on_outcome(resp(200, b"tok-123"));
        let get = request_text(&f);
        assert!(get.starts_with("GET /latest/meta-data/instance-id "));
        assert!(get.contains("X-aws-ec2-metadata-token: tok-123\r\n"));
        f.on_outcome(resp(200, b"i-0abc"));
        assert_eq!(f.next(), Step::Done(Ok("i-0abc".into())));
    }

    #[test]
    fn v1_get_and_errors() {
        let mut f = Fetch::new(&Target::default(), Mode::V1, "meta-data/nope");
        assert!(request_text(&f).starts_with("GET /latest/meta-data/nope "));
        f.on_outcome(resp(404, b""));
        assert_eq!(
            f.next(),
            Step::Done(Err("/latest/meta-data/nope returned 404".into()))
        );
        let mut f = Fetch::new(&Target::default(), Mode::V2, "x");
        f.on_outcome(resp(200, b"bad token\x01"));
        assert_eq!(f.next(), Step::Done(Err("unusable token".into())));
        let mut f = Fetch::new(&Target::default(), Mode::V1, "x");
        f.on_outcome(Outcome::Timeout);
        assert_eq!(f.next(), Step::Done(Err("timeout".into())));
    }

    #[test]
    fn paths_cannot_inject_request_lines() {
        for bad in ["a b", "x\r\nHost: evil", ""] {
            let f = Fetch::new(&Target::default(), Mode::V1, bad);
            assert!(matches!(f.next(), Step::Done(Err(_))), "{:?}", bad);
        }
        let f = Fetch::get(&Target::default(), "/openstack/latest/", "/meta_data.json");
        assert!(request_text(&f).starts_with("GET /openstack/latest/meta_data.json "));
        assert_eq!(f.target(), &Target::default());
    }

    #[test]
    fn long_bodies_are_cut() {
        let mut f = Fetch::new(&Target::default(), Mode::V1, "user-data");
        f.on_outcome(resp(200, &alloc::vec![b'a'; MAX_BODY * 2]));
        match f.next() {
            Step::Done(Ok(t)) => {
                assert!(t.ends_with("(truncated)"));
                assert!(t.len() < MAX_BODY + 20);
            }
            other => panic!("{:?}", other),
        }
    }
}
