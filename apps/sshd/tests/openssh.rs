//! The server against the real OpenSSH client over loopback TCP: the
//! driver loop here is what the kernel does with smoltcp sockets.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sshd::auth::Limits;
use sshd::{AuthorizedKey, Connection, HostKey, Note, Policy, Request};

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sshd-test-{}-{}", name, std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A new key pair: `kind` is ssh-keygen's `-t` and `-b` (e.g. "rsa:3072").
fn keygen(dir: &Path, name: &str, kind: &str) -> (PathBuf, String) {
    let key = dir.join(name);
    let (t, bits) = kind.split_once(':').unwrap_or((kind, ""));
    let mut cmd = Command::new("ssh-keygen");
    cmd.args(["-q", "-t", t, "-N", "", "-C", name, "-f"])
        .arg(&key);
    if !bits.is_empty() {
        cmd.args(["-b", bits]);
    }
    let st = cmd
        .status()
        .expect("ssh-keygen (openssh-client) must be installed");
    assert!(st.success());
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    (key, public.trim().to_string())
}

/// What the served connections did, for the assertions.
#[derive(Default)]
struct Seen {
    notes: Vec<Note>,
    requests: Vec<Request>,
    /// Per connection: strict kex negotiated.
    strict: Vec<bool>,
}

struct Server {
    port: u16,
    seen: Arc<Mutex<Seen>>,
    host_fp: String,
}

impl Server {
    fn notes(&self) -> Vec<Note> {
        self.seen.lock().unwrap().notes.clone()
    }
}

/// Serve connections one at a time in a thread, as the kernel would.
fn serve(policy: Policy, seed: [u8; 32]) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let hk = HostKey::from_seed(&seed);
    let host_fp = hk.fingerprint();
    let s = seen.clone();
    std::thread::spawn(move || {
        let t0 = Instant::now();
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(stream) = stream else { continue };
            let mut conn_seed = seed;
            conn_seed[0] ^= 0x80;
            conn_seed[1..9].copy_from_slice(&(n as u64).to_le_bytes());
            drive(stream, &policy, &hk, conn_seed, t0, &s);
        }
    });
    Server {
        port,
        seen,
        host_fp,
    }
}

/// The host's side of the commands; `metadata missing` fails (status 1),
/// `metadata big` is 40 KB (enough to re-key under RekeyLimit=1K).
fn host_answer(r: &Request) -> (String, u32) {
    match r {
        Request::Status => ("uptime_s=42 ip=10.0.0.7/24 imds=v2".into(), 0),
        Request::Ifconfig => ("vif0 mac=00:16:3e:00:00:01".into(), 0),
        Request::Metadata(p) if p == "missing" => ("metadata: error: 404".into(), 1),
        Request::Metadata(p) if p == "big" => {
            let mut s = String::new();
            for i in 0..1000 {
                s.push_str(&format!("line {:05} of the big answer..........\n", i));
            }
            (s, 0)
        }
        Request::Metadata(p) => (format!("metadata {}: i-0123", p), 0),
        Request::Log => ("appliance: boot\nimds: mode=v2\n".into(), 0),
        Request::Poweroff => ("powering off".into(), 0),
        Request::Reboot => ("rebooting".into(), 0),
    }
}

fn drive(
    mut s: TcpStream,
    policy: &Policy,
    hk: &HostKey,
    seed: [u8; 32],
    t0: Instant,
    seen: &Mutex<Seen>,
) {
    s.set_nonblocking(true).unwrap();
    let now = || t0.elapsed().as_nanos() as u64;
    let mut c = Connection::new(now(), seed);
    let mut inbuf: Vec<u8> = Vec::new();
    let mut eof = false;
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let mut buf = [0u8; 4096];
        match s.read(&mut buf) {
            Ok(0) => eof = true,
            Ok(n) => inbuf.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(_) => eof = true,
        }
        loop {
            c.poll(policy, hk, now());
            let n = c.input(&inbuf, now());
            inbuf.drain(..n);
            if n == 0 {
                break;
            }
        }
        if eof && inbuf.is_empty() {
            c.peer_closed();
        }
        c.poll(policy, hk, now());
        if let Some(r) = c.take_request() {
            seen.lock().unwrap().requests.push(r.clone());
            let (text, status) = host_answer(&r);
            c.answer(&text, status);
            c.poll(policy, hk, now());
        }
        loop {
            let out = c.output();
            if out.is_empty() {
                break;
            }
            match s.write(out) {
                Ok(n) => c.consume(n),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(_) => {
                    c.peer_closed();
                    break;
                }
            }
        }
        seen.lock().unwrap().notes.extend(c.notes());
        if c.closed().is_some() && c.output().is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut seen = seen.lock().unwrap();
    seen.notes.extend(c.notes());
    seen.strict.push(c.strict_kex());
    drop(seen);
    // Half-close, then read what the peer still sends until it closes too:
    // closing with unread input would reset the connection and the peer
    // could lose the output it has not read yet.
    let _ = s.shutdown(std::net::Shutdown::Write);
    let t = Instant::now();
    let mut buf = [0u8; 4096];
    while t.elapsed() < Duration::from_secs(2) {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(2))
            }
            Err(_) => break,
        }
    }
}

/// A server for one new ed25519 key, and that key's private file.
fn one_key_server(name: &str, seed: u8) -> (PathBuf, Server) {
    let (key, public) = keygen(&tmpdir(name), "good", "ed25519");
    (key, serve(policy_for(&[&public]), [seed; 32]))
}

fn policy_for(publics: &[&str]) -> Policy {
    let keys = publics
        .iter()
        .map(|p| AuthorizedKey::from_public(&cloudinit::sshkey::parse(p).unwrap()).unwrap())
        .collect();
    Policy {
        user: "admin".into(),
        keys,
        limits: Limits {
            fail_delay_ns: 100_000_000,
            ..Limits::default()
        },
    }
}

/// One ssh invocation: options, an optional pty, and stdin written in
/// timed chunks (kept open until the last one is written when `tty`).
struct Ssh<'a> {
    port: u16,
    key: &'a Path,
    user: &'a str,
    opts: Vec<String>,
    tty: bool,
    cmd: Vec<&'a str>,
    stdin: Vec<(u64, &'a str)>,
}

struct Out {
    rc: i32,
    out: String,
    err: String,
}

impl<'a> Ssh<'a> {
    fn new(port: u16, key: &'a Path, cmd: &[&'a str]) -> Ssh<'a> {
        Ssh {
            port,
            key,
            user: "admin",
            opts: Vec::new(),
            tty: false,
            cmd: cmd.to_vec(),
            stdin: Vec::new(),
        }
    }

    fn opt(mut self, o: &str) -> Self {
        self.opts.push("-o".into());
        self.opts.push(o.into());
        self
    }

    /// ssh with no agent, no config, no known_hosts; killed after 30 s.
    fn run(self) -> Out {
        let mut child = Command::new("ssh")
            .args(["-F", "/dev/null", "-o", "StrictHostKeyChecking=no"])
            .args(["-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes"])
            .args(["-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none"])
            .args(["-o", "PasswordAuthentication=no", "-o", "ConnectTimeout=10"])
            .args(&self.opts)
            .args(if self.tty { &["-tt"][..] } else { &[] })
            .arg("-i")
            .arg(self.key)
            .args(["-p", &self.port.to_string()])
            .arg(format!("{}@127.0.0.1", self.user))
            .args(&self.cmd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        let chunks: Vec<(u64, String)> = self
            .stdin
            .iter()
            .map(|(d, s)| (*d, s.to_string()))
            .collect();
        let tty = self.tty;
        let writer = std::thread::spawn(move || {
            for (delay_ms, s) in chunks {
                std::thread::sleep(Duration::from_millis(delay_ms));
                let _ = input.write_all(s.as_bytes());
            }
            if tty {
                // a terminal stays open: the session must end by itself
                std::thread::sleep(Duration::from_secs(30));
            }
            drop(input);
        });
        let t = Instant::now();
        while child.try_wait().unwrap().is_none() {
            if t.elapsed() > Duration::from_secs(30) {
                let _ = child.kill();
                let out = child.wait_with_output().unwrap();
                panic!(
                    "ssh {:?} did not finish in 30 s: stdout={:?} stderr={:?}",
                    self.cmd,
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = child.wait_with_output().unwrap();
        drop(writer); // detached; it ends on its own
        Out {
            rc: out.status.code().unwrap_or(-1),
            out: String::from_utf8_lossy(&out.stdout).into_owned(),
            err: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

#[test]
fn commands_end_with_their_exit_status() {
    let d = tmpdir("cmd");
    let (key, public) = keygen(&d, "good", "ed25519");
    let want_fp = cloudinit::sshkey::parse(&public).unwrap().fingerprint();
    let srv = serve(policy_for(&[&public]), [3u8; 32]);
    let o = Ssh::new(srv.port, &key, &["status"]).run();
    assert!(
        o.out.contains("uptime_s=42 ip=10.0.0.7/24 imds=v2"),
        "stdout={:?} stderr={:?} notes={:?}",
        o.out,
        o.err,
        srv.notes()
    );
    assert_eq!(o.rc, 0, "`ssh host status; echo $?` is 0: {:?}", o.err);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(srv.seen.lock().unwrap().requests, [Request::Status]);
    let notes = srv.notes();
    assert!(
        notes.contains(&Note::Login {
            user: "admin".into(),
            key: want_fp.clone()
        }),
        "{notes:?}"
    );
    assert!(
        notes
            .iter()
            .any(|n| matches!(n, Note::Closed { reason } if reason == "command done")),
        "{notes:?}"
    );

    let o = Ssh::new(srv.port, &key, &["metadata", "meta-data/instance-id"]).run();
    assert!(
        o.out.contains("metadata meta-data/instance-id: i-0123"),
        "{:?}",
        o.out
    );
    assert_eq!(o.rc, 0);
    let o = Ssh::new(srv.port, &key, &["bogus"]).run();
    assert!(o.out.contains("bogus: unknown command"), "{:?}", o.out);
    assert_eq!(o.rc, 127, "{:?}", o.err);
    let o = Ssh::new(srv.port, &key, &["status", "now"]).run();
    assert!(o.out.contains("takes no arguments"), "{:?}", o.out);
    assert_eq!(o.rc, 2);
    let o = Ssh::new(srv.port, &key, &["metadata", "missing"]).run();
    assert!(o.out.contains("metadata: error: 404"), "{:?}", o.out);
    assert_eq!(o.rc, 1, "the host's failure is the exit status");
}

#[test]
fn every_key_type_logs_in_and_a_wrong_key_of_each_is_refused() {
    let d = tmpdir("types");
    let kinds = ["ed25519", "ecdsa:256", "rsa:2048", "rsa:3072", "rsa:4096"];
    let good: Vec<(PathBuf, String)> = kinds
        .iter()
        .map(|k| keygen(&d, &format!("good-{}", k.replace(':', "-")), k))
        .collect();
    let publics: Vec<&str> = good.iter().map(|(_, p)| p.as_str()).collect();
    let srv = serve(policy_for(&publics), [4u8; 32]);
    for (kind, (key, public)) in kinds.iter().zip(&good) {
        let o = Ssh::new(srv.port, key, &["status"]).run();
        assert!(
            o.out.contains("uptime_s=42"),
            "{kind}: {:?} {:?}",
            o.out,
            o.err
        );
        assert_eq!(o.rc, 0, "{kind}");
        let fp = cloudinit::sshkey::parse(public).unwrap().fingerprint();
        assert!(
            srv.notes().contains(&Note::Login {
                user: "admin".into(),
                key: fp
            }),
            "{kind}"
        );
    }
    for kind in ["ed25519", "ecdsa:256", "rsa:2048"] {
        let (bad, bad_public) = keygen(&d, &format!("bad-{}", kind.replace(':', "-")), kind);
        let bad_fp = cloudinit::sshkey::parse(&bad_public).unwrap().fingerprint();
        let o = Ssh::new(srv.port, &bad, &["status"]).run();
        assert_ne!(o.rc, 0, "{kind}");
        assert!(!o.out.contains("uptime_s"), "{kind}: {:?}", o.out);
        assert!(o.err.contains("Permission denied"), "{kind}: {:?}", o.err);
        assert!(
            srv.notes().contains(&Note::Refused {
                user: "admin".into(),
                reason: "key not authorized",
                key: Some(bad_fp)
            }),
            "{kind}: {:?}",
            srv.notes()
        );
    }
    // the right key for another user
    let mut o = Ssh::new(srv.port, &good[0].0, &["status"]);
    o.user = "root";
    let o = o.run();
    assert!(
        o.rc != 0 && o.err.contains("Permission denied"),
        "{:?}",
        o.err
    );
    std::thread::sleep(Duration::from_millis(100));
    assert!(srv.notes().iter().any(
        |n| matches!(n, Note::Refused { user, reason: "unknown user", .. } if user == "root")
    ));
    // ssh-rsa (SHA-1) is never used: OpenSSH picked rsa-sha2-* from server-sig-algs
    assert!(!srv
        .notes()
        .iter()
        .any(|n| matches!(n, Note::Refused { reason, .. } if reason.contains("SHA-1"))));
}

#[test]
fn interactive_prompt_exit_ends_with_status_zero() {
    let (key, srv) = one_key_server("shell", 5);
    let mut s = Ssh::new(srv.port, &key, &[]);
    s.tty = true;
    s.stdin = vec![(0, "help\rifconfig\rlog\rbogus\rexit\r")];
    let o = s.run();
    assert!(o.out.contains("appliance> "), "{:?} {:?}", o.out, o.err);
    assert!(o.out.contains("commands: status, ifconfig"), "{:?}", o.out);
    assert!(o.out.contains("vif0 mac=00:16:3e:00:00:01"), "{:?}", o.out);
    assert!(o.out.contains("imds: mode=v2"), "{:?}", o.out);
    assert_eq!(
        o.rc, 0,
        "exit in a shell is status 0 (an unknown command before it does not count): {:?}",
        o.err
    );
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        srv.seen.lock().unwrap().requests,
        [Request::Ifconfig, Request::Log]
    );
    assert!(srv
        .notes()
        .iter()
        .any(|n| matches!(n, Note::Closed { reason } if reason == "logout")));
}

#[test]
fn keepalives_are_answered_and_the_session_stays_up() {
    let (key, srv) = one_key_server("alive", 10);
    let mut s = Ssh::new(srv.port, &key, &[])
        .opt("ServerAliveInterval=1")
        .opt("ServerAliveCountMax=2");
    s.tty = true;
    // 4 s of silence from the user: the client sends keepalive@openssh.com
    // each second and gives up after 2 unanswered ones.
    s.stdin = vec![(0, "status\r"), (4000, "ifconfig\r"), (200, "exit\r")];
    let o = s.run();
    assert!(o.out.contains("uptime_s=42"), "{:?} {:?}", o.out, o.err);
    assert!(o.out.contains("vif0 mac="), "{:?} {:?}", o.out, o.err);
    assert_eq!(o.rc, 0, "{:?}", o.err);
    assert!(!o.err.contains("Timeout"), "{:?}", o.err);
}

#[test]
fn each_offered_cipher_works_and_strict_kex_is_negotiated() {
    let (key, srv) = one_key_server("ciphers", 11);
    for cipher in sshd::cipher::OFFERED.iter().map(|c| c.name()) {
        let o = Ssh::new(srv.port, &key, &["status"])
            .opt(&format!("Ciphers={cipher}"))
            .opt("LogLevel=DEBUG3")
            .run();
        assert!(o.out.contains("uptime_s=42"), "{cipher}: {:?}", o.err);
        assert_eq!(o.rc, 0, "{cipher}");
        assert!(
            o.err.contains(&format!("cipher: {cipher}")),
            "{cipher}: {:?}",
            o.err
        );
        assert!(
            o.err.contains("strict KEX"),
            "OpenSSH says it uses strict kex: {:?}",
            o.err
        );
    }
    std::thread::sleep(Duration::from_millis(100));
    let strict = srv.seen.lock().unwrap().strict.clone();
    assert!(
        !strict.is_empty() && strict.iter().all(|&s| s),
        "{strict:?}"
    );
}

#[test]
fn a_client_rekey_mid_session_is_handled() {
    let (key, srv) = one_key_server("rekey", 12);
    // 40 KB out makes the client re-key (RekeyLimit=1K); the next command
    // runs under the new keys.
    let mut s = Ssh::new(srv.port, &key, &[])
        .opt("RekeyLimit=1K")
        .opt("LogLevel=DEBUG3");
    s.tty = true;
    s.stdin = vec![(0, "metadata big\r"), (1500, "status\r"), (1500, "exit\r")];
    let o = s.run();
    assert_eq!(
        o.rc,
        0,
        "{:?}",
        o.err.lines().rev().take(20).collect::<Vec<_>>()
    );
    assert_eq!(
        o.out.lines().filter(|l| l.starts_with("line ")).count(),
        1000
    );
    assert!(
        o.out.contains("uptime_s=42"),
        "the command after the re-key"
    );
    let newkeys = o.err.matches("SSH2_MSG_NEWKEYS received").count();
    assert!(
        newkeys >= 2,
        "the client re-keyed ({newkeys} NEWKEYS received)"
    );
}

#[test]
fn keyscan_fingerprint_matches_the_host_key() {
    let (_, public) = keygen(&tmpdir("scan"), "k", "ed25519");
    let srv = serve(policy_for(&[&public]), [6u8; 32]);
    let scan = Command::new("ssh-keyscan")
        .args([
            "-T",
            "10",
            "-t",
            "ed25519",
            "-p",
            &srv.port.to_string(),
            "127.0.0.1",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&scan.stdout).into_owned();
    let line = text
        .lines()
        .find(|l| l.contains("ssh-ed25519"))
        .unwrap_or_else(|| panic!("{text:?}"));
    let public = line.split_once(' ').unwrap().1;
    let fp = cloudinit::sshkey::parse(public).unwrap().fingerprint();
    assert_eq!(fp, srv.host_fp);
    let hk = HostKey::from_seed(&[6u8; 32]);
    assert_eq!(
        cloudinit::sshkey::parse(&hk.public_line("x")).unwrap().blob,
        cloudinit::sshkey::parse(public).unwrap().blob
    );
}

/// Garbage, a truncated banner, a stalled client: each ends the connection
/// with a reason, never a panic or a hang.
#[test]
fn hostile_clients_are_closed_cleanly() {
    let hk = HostKey::from_seed(&[8u8; 32]);
    let (_, public) = keygen(&tmpdir("hostile"), "k", "ed25519");
    let mut policy = policy_for(&[&public]);
    policy.limits.login_grace_ns = 50_000_000;
    let inputs: [&[u8]; 5] = [
        b"GET / HTTP/1.1\r\n\r\n",
        b"SSH-2.0-x\r\n\x00\x00\xff\xff\x0a\x14garbage-garbage-garbage",
        b"SSH-2.0-x\r\n\x00\x00\x00\x0c\x0a\x14\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
        &[0xffu8; 70_000],
        b"SSH-1.5-old\r\n",
    ];
    for (i, input) in inputs.iter().enumerate() {
        let mut c = Connection::new(0, [i as u8; 32]);
        let mut now = 0;
        let mut off = 0;
        for _ in 0..10_000 {
            c.poll(&policy, &hk, now);
            off += c.input(&input[off..], now);
            let n = c.output().len();
            c.consume(n);
            if c.closed().is_some() {
                break;
            }
            now += 1_000_000;
        }
        let why = c
            .closed()
            .unwrap_or_else(|| panic!("input {i} did not close the connection"));
        assert!(!why.is_empty());
    }
    // a client that connects and says nothing is dropped after the grace time
    let mut c = Connection::new(0, [9; 32]);
    c.poll(&policy, &hk, 10);
    assert!(c.closed().is_none());
    assert!(c.next_deadline(&policy).unwrap() <= 50_000_000);
    c.poll(&policy, &hk, 60_000_000);
    assert_eq!(c.closed(), Some("not authenticated in time"));
}
