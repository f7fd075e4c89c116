//! The IMDS flow against a fake metadata service with every fault: v1-only
//! and v2-only services, token expiry, 5xx bursts, a service down then up,
//! slow (timing out) answers, truncated, oversized and chunked bodies,
//! garbage keys, missing keys.

use cloudinit::http::HttpError;
use cloudinit::imds::{Action, Imds, Mode, Outcome, Target};

const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEnvP/nGCmK5aDXSbxz5xWwD5g6Q+t+cg0jftODORkTI test@ed25519";
const FP: &str = "SHA256:N5qg9+xayv/kw7in0Cr+k5CblB9wQS/srchPq9BXrCQ";

#[derive(Default)]
struct Service {
    v2: bool,
    v1: bool,
    fail_5xx: u32,
    down: u32,
    slow: u32,
    truncate_key: bool,
    oversize_key: bool,
    chunked: bool,
    key: Option<String>,
    expire_token_once: bool,
    /// v2 service that hands out tokens it then refuses
    refuse_own_tokens: bool,
    /// status served for the key itself instead of the key
    key_status: Option<u16>,
    log: Vec<String>,
}

impl Service {
    fn v2_only() -> Self {
        Service {
            v2: true,
            key: Some(KEY.into()),
            ..Default::default()
        }
    }
    fn v1_only() -> Self {
        Service {
            v1: true,
            key: Some(KEY.into()),
            ..Default::default()
        }
    }

    fn handle(&mut self, req: &[u8]) -> Outcome {
        if self.down > 0 {
            self.down -= 1;
            return Outcome::ConnectFailed;
        }
        if self.slow > 0 {
            self.slow -= 1;
            return Outcome::Timeout;
        }
        let text = String::from_utf8(req.to_vec()).unwrap();
        let first = text.lines().next().unwrap().to_string();
        self.log.push(first.clone());
        let mut parts = first.split(' ');
        let (method, path) = (parts.next().unwrap(), parts.next().unwrap());
        let token = text
            .lines()
            .find_map(|l| l.strip_prefix("X-aws-ec2-metadata-token: "))
            .map(str::to_string);
        if self.fail_5xx > 0 {
            self.fail_5xx -= 1;
            return self.reply(503, "busy");
        }
        if method == "PUT" && path == "/latest/api/token" {
            assert!(text.contains("X-aws-ec2-metadata-token-ttl-seconds: 21600"));
            return if self.v2 {
                self.reply(200, "TOKEN123")
            } else {
                self.reply(403, "forbidden")
            };
        }
        let authorised = match token.as_deref() {
            Some("TOKEN123") if self.v2 => {
                if self.refuse_own_tokens {
                    false
                } else if self.expire_token_once {
                    self.expire_token_once = false;
                    false
                } else {
                    true
                }
            }
            None => self.v1,
            _ => false,
        };
        if !authorised {
            return self.reply(401, "unauthorized");
        }
        match path {
            "/latest/meta-data/public-keys/" => match self.key {
                Some(_) => self.reply(200, "0=my-key\n"),
                None => self.reply(404, "not found"),
            },
            "/latest/meta-data/public-keys/0/openssh-key" => {
                if let Some(st) = self.key_status {
                    return self.reply(st, "no such key");
                }
                let k = self.key.clone().unwrap();
                if self.truncate_key {
                    let raw = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{}",
                        k.len() + 10,
                        k
                    );
                    return parse(raw.as_bytes());
                }
                if self.oversize_key {
                    return self.reply(200, &"A".repeat(70_000));
                }
                self.reply(200, &(k + "\n"))
            }
            "/latest/meta-data/instance-id" => self.reply(200, "i-0123456789abcdef0"),
            "/latest/meta-data/local-hostname" => self.reply(200, "ip-10-0-0-2.ec2.internal"),
            _ => self.reply(404, "not found"),
        }
    }

    fn reply(&self, status: u16, body: &str) -> Outcome {
        let raw = if self.chunked {
            let mut s = format!(
                "HTTP/1.1 {} X\r\nTransfer-Encoding: chunked\r\n\r\n",
                status
            );
            for c in body.as_bytes().chunks(7) {
                s.push_str(&format!(
                    "{:x}\r\n{}\r\n",
                    c.len(),
                    std::str::from_utf8(c).unwrap()
                ));
            }
            s.push_str("0\r\n\r\n");
            s
        } else {
            format!(
                "HTTP/1.1 {} X\r\nContent-Length: {}\r\n\r\n{}",
                status,
                body.len(),
                body
            )
        };
        parse(raw.as_bytes())
    }
}

/// What the kernel does with the bytes: parse as they arrive, then close.
fn parse(raw: &[u8]) -> Outcome {
    cloudinit::exchange::outcome_of(raw)
}

/// Run to completion on a simulated clock; returns the final action and the time taken.
fn run(svc: &mut Service) -> (Action, u64) {
    let mut m = Imds::new(Target::default(), 0x1234_5678);
    let mut now = 0u64;
    for _ in 0..10_000 {
        match m.next(now) {
            Action::Request(bytes) => {
                now += 1_000_000;
                let o = svc.handle(&bytes);
                if o == Outcome::Timeout {
                    now += cloudinit::imds::REQUEST_TIMEOUT_NS;
                }
                m.on_outcome(now, o);
            }
            Action::Wait(t) => {
                assert!(t > now, "waits move forward");
                now = t;
            }
            done => return (done, now),
        }
    }
    panic!("flow did not finish");
}

fn done(a: Action) -> cloudinit::imds::Summary {
    match a {
        Action::Done(s) => s,
        other => panic!("expected Done, got {:?}", other),
    }
}

#[test]
fn v2_only_service() {
    let mut svc = Service::v2_only();
    let s = done(run(&mut svc).0);
    assert_eq!(s.mode, Mode::V2);
    assert_eq!(s.key.line, KEY);
    assert_eq!(s.key.fingerprint(), FP);
    assert_eq!(s.key_name, "my-key");
    assert_eq!(s.instance_id.as_deref(), Some("i-0123456789abcdef0"));
    assert_eq!(s.hostname.as_deref(), Some("ip-10-0-0-2.ec2.internal"));
    assert_eq!(svc.log[0], "PUT /latest/api/token HTTP/1.1");
    assert_eq!(s.retries, 0);
}

#[test]
fn v1_only_service_falls_back() {
    let mut svc = Service::v1_only();
    let s = done(run(&mut svc).0);
    assert_eq!(s.mode, Mode::V1);
    assert_eq!(s.key.fingerprint(), FP);
    assert_eq!(
        svc.log.iter().filter(|l| l.starts_with("PUT")).count(),
        1,
        "one token attempt, then v1"
    );
}

#[test]
fn expired_token_gets_a_new_one() {
    let mut svc = Service {
        expire_token_once: true,
        ..Service::v2_only()
    };
    let s = done(run(&mut svc).0);
    assert_eq!(s.mode, Mode::V2);
    assert_eq!(svc.log.iter().filter(|l| l.starts_with("PUT")).count(), 2);
}

#[test]
fn bursts_of_5xx_are_retried_with_backoff() {
    let mut svc = Service {
        fail_5xx: 5,
        ..Service::v2_only()
    };
    let (a, t) = run(&mut svc);
    let s = done(a);
    assert_eq!(s.retries, 5);
    // 0.25+0.5+1+2+4 s nominal, each 50%..150%
    assert!(
        t > 3_000_000_000 && t < 20_000_000_000,
        "backoff took {} ns",
        t
    );
}

#[test]
fn service_down_then_up() {
    let mut svc = Service {
        down: 4,
        ..Service::v1_only()
    };
    let s = done(run(&mut svc).0);
    assert_eq!(s.retries, 4);
}

#[test]
fn slow_service_times_out_then_recovers() {
    let mut svc = Service {
        slow: 2,
        ..Service::v2_only()
    };
    let (a, t) = run(&mut svc);
    done(a);
    assert!(t >= 2 * cloudinit::imds::REQUEST_TIMEOUT_NS);
}

#[test]
fn service_that_never_answers_gives_a_clear_error() {
    let mut svc = Service {
        down: 1000,
        ..Service::v2_only()
    };
    match run(&mut svc).0 {
        Action::Failed(why) => assert!(why.contains("after 8 attempts: connect failed"), "{}", why),
        other => panic!("{:?}", other),
    }
}

#[test]
fn chunked_bodies() {
    let mut svc = Service {
        chunked: true,
        ..Service::v2_only()
    };
    assert_eq!(done(run(&mut svc).0).key.line, KEY);
}

#[test]
fn truncated_key_is_retried_then_fails() {
    let mut svc = Service {
        truncate_key: true,
        ..Service::v2_only()
    };
    match run(&mut svc).0 {
        Action::Failed(why) => assert!(why.contains("truncated"), "{}", why),
        other => panic!("{:?}", other),
    }
}

#[test]
fn oversized_key_is_refused() {
    let mut svc = Service {
        oversize_key: true,
        ..Service::v2_only()
    };
    match run(&mut svc).0 {
        Action::Failed(why) => assert!(
            why.contains(&HttpError::TooLarge("body").to_string()),
            "{}",
            why
        ),
        other => panic!("{:?}", other),
    }
}

#[test]
fn garbage_key_is_a_final_error() {
    let mut svc = Service {
        key: Some("<html>oops</html>".into()),
        ..Service::v2_only()
    };
    match run(&mut svc).0 {
        Action::Failed(why) => assert!(
            why.starts_with("invalid key: unsupported key type"),
            "{}",
            why
        ),
        other => panic!("{:?}", other),
    }
}

#[test]
fn missing_keys_are_a_final_error() {
    let mut svc = Service {
        key: None,
        ..Service::v2_only()
    };
    match run(&mut svc).0 {
        Action::Failed(why) => assert_eq!(why, "/latest/meta-data/public-keys/ returned 404"),
        other => panic!("{:?}", other),
    }
}

#[test]
fn imds_override_urls() {
    assert_eq!(
        Target::parse("http://10.0.0.1:8080"),
        Some(Target {
            addr: [10, 0, 0, 1],
            port: 8080
        })
    );
    assert_eq!(
        Target::parse("http://169.254.169.254/"),
        Some(Target::default())
    );
    assert_eq!(Target::parse("https://10.0.0.1"), None);
    assert_eq!(Target::parse("http://example.com"), None);
    assert_eq!(Target::default().host(), "169.254.169.254");
}

#[test]
fn key_404_is_a_final_error() {
    let mut svc = Service {
        key_status: Some(404),
        ..Service::v2_only()
    };
    let (a, t) = run(&mut svc);
    match a {
        Action::Failed(why) => assert_eq!(
            why,
            "/latest/meta-data/public-keys/0/openssh-key returned 404"
        ),
        other => panic!("{:?}", other),
    }
    // final for that key: no retries, no backoff (the optional facts are
    // still asked for, as user-data might carry a key)
    assert_eq!(svc.log.len(), 6, "{:?}", svc.log);
    assert_eq!(
        svc.log.iter().filter(|l| l.contains("openssh-key")).count(),
        1
    );
    assert!(t < 1_000_000_000);
}

#[test]
fn service_refusing_its_own_tokens_is_not_a_tight_loop() {
    let mut svc = Service {
        refuse_own_tokens: true,
        ..Service::v2_only()
    };
    match run(&mut svc).0 {
        Action::Failed(why) => {
            assert!(why.contains("still 401 after 3 new tokens"), "{}", why)
        }
        other => panic!("{:?}", other),
    }
    // one token, then 3 more, each followed by the refused GET
    assert_eq!(svc.log.iter().filter(|l| l.starts_with("PUT")).count(), 4);
    assert_eq!(svc.log.len(), 8, "{:?}", svc.log);
}

#[test]
fn v1_service_that_answers_401_ends_clearly() {
    // token endpoint absent, but every GET demands a token
    let mut svc = Service {
        v1: false,
        v2: false,
        key: Some(KEY.into()),
        ..Default::default()
    };
    match run(&mut svc).0 {
        Action::Failed(why) => assert!(why.contains("(mode v1)"), "{}", why),
        other => panic!("{:?}", other),
    }
    assert!(svc.log.len() <= 8, "{:?}", svc.log);
}

/// xorshift32, for reproducible hostile services.
struct Rng(u32);
impl Rng {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.next() as usize % xs.len()]
    }
}

fn request_path(req: &[u8]) -> String {
    let text = String::from_utf8_lossy(req);
    text.split(' ').nth(1).unwrap_or("").to_string()
}

fn right_answer(path: &str) -> &'static [u8] {
    match path {
        "/latest/api/token" => b"TOKEN123",
        "/latest/meta-data/public-keys/" => b"0=my-key\n",
        "/latest/meta-data/public-keys/0/openssh-key" => KEY.as_bytes(),
        _ => b"i-0123",
    }
}

/// A service that answers anything at random: the flow always ends, with a
/// bounded number of requests and within the total timeout.
#[test]
fn random_hostile_services_always_end() {
    let statuses = [200u16, 200, 200, 401, 403, 404, 500, 503, 302, 100, 204];
    let bodies: [&[u8]; 7] = [
        b"TOKEN123",
        KEY.as_bytes(),
        b"0=my-key\n",
        b"\xff\xfe garbage",
        b"",
        b"ssh-ed25519 AAAA",
        b"i-0123",
    ];
    let mut rng = Rng(0x9e37_79b9);
    let (mut done_n, mut failed_n, mut max_requests) = (0, 0, 0);
    for round in 0..3000 {
        let mut m = Imds::new(Target::default(), round);
        let mut now = 0u64;
        let mut requests = 0u32;
        let end = loop {
            match m.next(now) {
                Action::Request(bytes) => {
                    requests += 1;
                    assert!(requests < 1000, "round {}: unbounded requests", round);
                    assert!(bytes.ends_with(b"\r\n\r\n"));
                    now += 1_000_000 + (rng.next() % 50) as u64 * 1_000_000;
                    let o = match rng.next() % 10 {
                        0 => Outcome::ConnectFailed,
                        1 => {
                            now += cloudinit::imds::REQUEST_TIMEOUT_NS;
                            Outcome::Timeout
                        }
                        2 => Outcome::Reset,
                        3 => Outcome::Http(HttpError::Truncated),
                        _ => {
                            // mostly the right answer for the path, else anything
                            let path = request_path(&bytes);
                            let (st, body) = if !rng.next().is_multiple_of(3) {
                                (200, right_answer(&path))
                            } else {
                                (*rng.pick(&statuses), *rng.pick(&bodies))
                            };
                            let mut raw = format!(
                                "HTTP/1.1 {} X\r\nContent-Length: {}\r\n\r\n",
                                st,
                                body.len()
                            )
                            .into_bytes();
                            raw.extend_from_slice(body);
                            parse(&raw)
                        }
                    };
                    m.on_outcome(now, o);
                }
                Action::Wait(t) => {
                    assert!(t > now, "round {}: wait goes backwards", round);
                    now = t;
                }
                end => break end,
            }
        };
        assert!(
            now <= cloudinit::imds::TOTAL_TIMEOUT_NS + 2 * cloudinit::imds::REQUEST_TIMEOUT_NS,
            "round {}: took {} ns",
            round,
            now
        );
        // finished is final
        assert_eq!(m.next(now + 1), end);
        match end {
            Action::Done(s) => {
                assert_eq!(s.key.line, KEY);
                done_n += 1;
            }
            Action::Failed(why) => {
                assert!(!why.is_empty());
                failed_n += 1;
            }
            _ => unreachable!(),
        }
        max_requests = max_requests.max(requests);
    }
    // the generator must exercise both endings
    assert!(
        done_n > 10 && failed_n > 10,
        "done={} failed={}",
        done_n,
        failed_n
    );
    println!(
        "done={} failed={} max_requests={}",
        done_n, failed_n, max_requests
    );
}
