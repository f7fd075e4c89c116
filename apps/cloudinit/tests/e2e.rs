//! End to end without sockets: the IMDS flow, one `Exchange` per
//! connection, a simulated network with latency and a simulated metadata
//! service that misbehaves at the TCP level too (refused and black-holed
//! connects, bytes dribbled slowly, hangs, resets and early closes mid
//! response), on a simulated clock. What a run prints and publishes is
//! taken from `report`, as the kernel would.

use std::collections::VecDeque;

use cloudinit::exchange::{Exchange, CONNECT_TIMEOUT_NS};
use cloudinit::imds::{Action, Imds, Mode, Target, REQUEST_TIMEOUT_NS, TOTAL_TIMEOUT_NS};
use cloudinit::report;

const MS: u64 = 1_000_000;
const RTT: u64 = 2 * MS;
const KEY: &str =
    "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBF0BGlirrVplJEwzFhi+XTAFN6mhuu9EmgIt1WpRL9w4E8D8OyMy48kUTf97anPdHdIZOEwDgm4RrSZVC3ud5Es= test@ecdsa256";
const FP: &str = "SHA256:ncHtTzcvWEzBkzCRUUfScz/9wBfVos9an45dc7Xpqeg";

/// What the service does with the next connection.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Fault {
    /// RST to the SYN (service down).
    Refuse,
    /// No answer to the SYN at all.
    Blackhole,
    /// Accept, read the request, never answer.
    Hang,
    /// Answer one byte every this many ns.
    Dribble(u64),
    /// Send this many bytes of the answer, then RST.
    ResetAfter(usize),
    /// Send this many bytes of the answer, then FIN.
    CloseAfter(usize),
    /// Answer 503.
    Busy,
}

struct Service {
    v2: bool,
    v1: bool,
    chunked: bool,
    faults: VecDeque<Fault>,
    log: Vec<String>,
}

impl Service {
    fn new(v2: bool, v1: bool, faults: &[Fault]) -> Self {
        Service {
            v2,
            v1,
            chunked: false,
            faults: faults.iter().copied().collect(),
            log: Vec::new(),
        }
    }

    /// The full answer to a request, as bytes on the wire.
    fn answer(&mut self, req: &[u8], busy: bool) -> Vec<u8> {
        let text = String::from_utf8_lossy(req).to_string();
        let first = text.lines().next().unwrap_or("").to_string();
        self.log.push(first.clone());
        let mut parts = first.split(' ');
        let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let has_token = text.contains("\r\nX-aws-ec2-metadata-token: tok-e2e\r\n");
        let (status, body) = if busy {
            (503, "busy".to_string())
        } else if method == "PUT" && path == "/latest/api/token" {
            if self.v2 {
                (200, "tok-e2e".into())
            } else {
                (405, "".into())
            }
        } else if !(has_token && self.v2 || self.v1) {
            (401, "".into())
        } else {
            match path {
                "/latest/meta-data/public-keys/" => (200, "0=e2e-key".into()),
                "/latest/meta-data/public-keys/0/openssh-key" => (200, format!("{}\n", KEY)),
                "/latest/meta-data/instance-id" => (200, "i-0e2e".into()),
                "/latest/meta-data/local-hostname" => (200, "e2e.internal".into()),
                _ => (404, "".into()),
            }
        };
        if self.chunked {
            let mut s = format!(
                "HTTP/1.1 {} X\r\nTransfer-Encoding: chunked\r\n\r\n",
                status
            );
            for c in body.as_bytes().chunks(5) {
                s += &format!("{:x};n=1\r\n{}\r\n", c.len(), String::from_utf8_lossy(c));
            }
            s += "0\r\nX-Trailer: t\r\n\r\n";
            s.into_bytes()
        } else {
            format!(
                "HTTP/1.1 {} X\r\nContent-Length: {}\r\n\r\n{}",
                status,
                body.len(),
                body
            )
            .into_bytes()
        }
    }
}

/// Network events for the one connection in flight, in time order.
enum Ev {
    Connected,
    Data(Vec<u8>),
    Closed,
    Reset,
}

struct Run {
    lines: Vec<String>,
    xenstore: Vec<(&'static str, String)>,
    now: u64,
    connections: u32,
    mode: Option<Mode>,
}

fn run(svc: &mut Service, seed: u32) -> Run {
    let mut imds = Imds::new(Target::default(), seed);
    let mut now = 0u64;
    let mut lines = vec![report::start(imds.target())];
    let mut connections = 0;
    loop {
        let bytes = match imds.next(now) {
            Action::Request(b) => b,
            Action::Wait(t) => {
                assert!(t > now);
                now = t;
                continue;
            }
            Action::Done(s) => {
                lines.extend(report::success_lines(&s, now / MS));
                return Run {
                    lines,
                    xenstore: report::xenstore_success(&s),
                    now,
                    connections,
                    mode: Some(s.mode),
                };
            }
            Action::Failed(why) => {
                lines.push(report::error(&why));
                return Run {
                    lines,
                    xenstore: report::xenstore_error(&why),
                    now,
                    connections,
                    mode: imds.mode(),
                };
            }
        };
        connections += 1;
        assert!(connections < 500, "too many connections");
        let fault = svc.faults.pop_front();
        let mut ex = Exchange::new(bytes, now);
        // the connection's future, as (time, event)
        let mut script: VecDeque<(u64, Ev)> = VecDeque::new();
        match fault {
            Some(Fault::Refuse) => script.push_back((now + RTT, Ev::Reset)),
            Some(Fault::Blackhole) => {}
            _ => script.push_back((now + RTT, Ev::Connected)),
        }
        let outcome = loop {
            let next_ev = script.front().map(|(t, _)| *t);
            let deadline = ex.deadline().expect("in flight");
            if next_ev.is_none_or(|t| t >= deadline) {
                now = deadline;
                if let Some(o) = ex.on_timer(now) {
                    break o;
                }
                continue;
            }
            let (t, ev) = script.pop_front().unwrap();
            now = t;
            let o = match ev {
                Ev::Connected => {
                    ex.on_connected(now);
                    // the socket takes the whole request; the service answers
                    // one RTT later
                    let req = ex.to_send().to_vec();
                    ex.on_sent(req.len());
                    let answer = svc.answer(&req, fault == Some(Fault::Busy));
                    let start = now + RTT;
                    match fault {
                        Some(Fault::Hang) => {}
                        Some(Fault::Dribble(every)) => {
                            for (i, b) in answer.iter().enumerate() {
                                script.push_back((start + i as u64 * every, Ev::Data(vec![*b])));
                            }
                            script.push_back((start + answer.len() as u64 * every, Ev::Closed));
                        }
                        Some(Fault::ResetAfter(n)) => {
                            script.push_back((start, Ev::Data(answer[..n].to_vec())));
                            script.push_back((start + MS, Ev::Reset));
                        }
                        Some(Fault::CloseAfter(n)) => {
                            script.push_back((start, Ev::Data(answer[..n].to_vec())));
                            script.push_back((start + MS, Ev::Closed));
                        }
                        _ => {
                            // in segments of 7 bytes, as a small window would
                            for (i, c) in answer.chunks(7).enumerate() {
                                script.push_back((start + i as u64 * 10_000, Ev::Data(c.to_vec())));
                            }
                            script.push_back((start + MS, Ev::Closed));
                        }
                    }
                    None
                }
                Ev::Data(d) => ex.on_data(now, &d),
                Ev::Closed => ex.on_closed(),
                Ev::Reset => ex.on_reset(),
            };
            if let Some(o) = o {
                break o;
            }
        };
        assert!(ex.is_over());
        let before = imds.retries();
        imds.on_outcome(now, outcome);
        if imds.retries() > before {
            lines.push(report::retry(
                imds.retries(),
                imds.last_error.as_deref().unwrap_or("-"),
            ));
        }
    }
}

fn assert_success(r: &Run, mode: Mode) {
    let text = r.lines.join("\n");
    assert_eq!(r.mode, Some(mode), "{}", text);
    assert!(
        text.contains(&format!("\nimds: mode={} ", mode.name())),
        "{}",
        text
    );
    assert!(
        text.contains(&format!(
            "\ncloudinit: ssh-key type=ecdsa-sha2-nistp256 bits=256 fingerprint={} comment=test@ecdsa256 name=e2e-key\n",
            FP
        )),
        "{}",
        text
    );
    assert!(text.contains(&format!("\nssh-key: {}\n", KEY)), "{}", text);
    assert!(r
        .lines
        .last()
        .unwrap()
        .starts_with("cloudinit: done elapsed_ms="));
    assert_eq!(
        r.xenstore.last().unwrap(),
        &("data/cloudinit/status", "done".to_string())
    );
    assert!(r
        .xenstore
        .contains(&("data/cloudinit/fingerprint", FP.to_string())));
}

#[test]
fn clean_v2_and_v1_and_chunked() {
    let r = run(&mut Service::new(true, false, &[]), 1);
    assert_success(&r, Mode::V2);
    assert_eq!(
        r.connections, 6,
        "token, instance-id, list, key, hostname, user-data"
    );
    assert!(r.now < 100 * MS, "a clean run is quick: {} ns", r.now);
    let r = run(&mut Service::new(false, true, &[]), 2);
    assert_success(&r, Mode::V1);
    let mut svc = Service::new(true, true, &[]);
    svc.chunked = true;
    assert_success(&run(&mut svc, 3), Mode::V2);
}

#[test]
fn down_then_up() {
    let mut svc = Service::new(true, false, &[Fault::Refuse; 4]);
    let r = run(&mut svc, 4);
    assert_success(&r, Mode::V2);
    let retries: Vec<_> = r
        .lines
        .iter()
        .filter(|l| l.starts_with("imds: retry"))
        .collect();
    assert_eq!(retries.len(), 4);
    assert_eq!(retries[0], "imds: retry n=1 reason=\"connect failed\"");
}

#[test]
fn black_holed_connects_time_out_quickly() {
    let mut svc = Service::new(true, false, &[Fault::Blackhole, Fault::Blackhole]);
    let r = run(&mut svc, 5);
    assert_success(&r, Mode::V2);
    // two connect timeouts plus backoff, far below two response timeouts
    assert!(r.now >= 2 * CONNECT_TIMEOUT_NS, "{}", r.now);
    assert!(r.now < 2 * REQUEST_TIMEOUT_NS, "{}", r.now);
}

#[test]
fn slow_but_steady_answers_are_waited_for() {
    // ~100 bytes at 20 ms each: 2 s, inside the response timeout
    let mut svc = Service::new(true, false, &[Fault::Dribble(20 * MS); 5]);
    let r = run(&mut svc, 6);
    assert_success(&r, Mode::V2);
    assert!(!r.lines.iter().any(|l| l.starts_with("imds: retry")));
    assert!(r.now > 5 * 1_000 * MS);
}

#[test]
fn too_slow_answers_and_hangs_time_out_and_are_retried() {
    let faults = [Fault::Dribble(500 * MS), Fault::Hang, Fault::Hang];
    let r = run(&mut Service::new(true, false, &faults), 7);
    assert_success(&r, Mode::V2);
    let timeouts = r
        .lines
        .iter()
        .filter(|l| l.contains("reason=timeout"))
        .count();
    assert_eq!(timeouts, 3, "{:#?}", r.lines);
    assert!(r.now >= 3 * REQUEST_TIMEOUT_NS);
}

#[test]
fn resets_and_early_closes_mid_response() {
    let faults = [
        Fault::ResetAfter(20),
        Fault::CloseAfter(30),
        Fault::CloseAfter(0),
        Fault::Busy,
        Fault::Busy,
    ];
    let r = run(&mut Service::new(true, false, &faults), 8);
    assert_success(&r, Mode::V2);
    let reasons: Vec<_> = r
        .lines
        .iter()
        .filter_map(|l| l.strip_prefix("imds: retry "))
        .collect();
    assert_eq!(
        reasons,
        [
            "n=1 reason=\"connection reset\"",
            "n=2 reason=\"truncated response\"",
            "n=3 reason=\"truncated response\"",
            "n=4 reason=\"503 on /latest/api/token\"",
            "n=5 reason=\"503 on /latest/api/token\"",
        ]
    );
}

#[test]
fn service_that_stays_down_ends_with_one_clear_error() {
    let mut svc = Service::new(true, false, &[Fault::Blackhole; 100]);
    let r = run(&mut svc, 9);
    let last = r.lines.last().unwrap();
    assert_eq!(
        last,
        "cloudinit: error reason=\"/latest/api/token after 8 attempts: connect failed\""
    );
    assert_eq!(r.connections, 8);
    assert!(r.now < TOTAL_TIMEOUT_NS);
    assert_eq!(
        r.xenstore.last().unwrap(),
        &("data/cloudinit/status", "error".to_string())
    );
}

#[test]
fn jitter_spreads_retries_across_seeds() {
    // many appliances booting at once must not retry in lockstep
    let mut ends = Vec::new();
    for seed in 0..20 {
        let r = run(&mut Service::new(true, false, &[Fault::Refuse; 3]), seed);
        assert_success(&r, Mode::V2);
        ends.push(r.now);
    }
    ends.sort();
    ends.dedup();
    assert!(ends.len() >= 15, "{:?}", ends);
}
