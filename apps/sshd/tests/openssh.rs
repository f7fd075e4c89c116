//! The server against the real OpenSSH client over loopback TCP: the
//! driver loop here is what the kernel does with smoltcp sockets.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
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

fn keygen(dir: &PathBuf, name: &str) -> (PathBuf, String) {
    let key = dir.join(name);
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&key)
        .status()
        .expect("ssh-keygen (openssh-client) must be installed");
    assert!(st.success());
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    (key, public.trim().to_string())
}

struct Server {
    port: u16,
    notes: Arc<Mutex<Vec<Note>>>,
    requests: Arc<Mutex<Vec<Request>>>,
    host_fp: String,
}

/// Serve connections one at a time in a thread, as the kernel would.
fn serve(policy: Policy, seed: [u8; 32]) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let notes = Arc::new(Mutex::new(Vec::new()));
    let requests = Arc::new(Mutex::new(Vec::new()));
    let hk = HostKey::from_seed(&seed);
    let host_fp = hk.fingerprint();
    let (n, r) = (notes.clone(), requests.clone());
    std::thread::spawn(move || {
        let t0 = Instant::now();
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            drive(stream, &policy, &hk, t0, &n, &r);
        }
    });
    Server {
        port,
        notes,
        requests,
        host_fp,
    }
}

fn drive(
    mut s: TcpStream,
    policy: &Policy,
    hk: &HostKey,
    t0: Instant,
    notes: &Mutex<Vec<Note>>,
    requests: &Mutex<Vec<Request>>,
) {
    s.set_nonblocking(true).unwrap();
    let now = || t0.elapsed().as_nanos() as u64;
    let mut c = Connection::new(now());
    let mut inbuf: Vec<u8> = Vec::new();
    let mut eof = false;
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let mut buf = [0u8; 4096];
        match s.read(&mut buf) {
            Ok(0) => {
                if !eof {
                    eof = true;
                }
            }
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
            requests.lock().unwrap().push(r.clone());
            let text = match r {
                Request::Status => "uptime_s=42 ip=10.0.0.7/24 imds=v2".to_string(),
                Request::Ifconfig => "vif0 mac=00:16:3e:00:00:01".to_string(),
                Request::Metadata(p) => format!("metadata {}: i-0123", p),
                Request::Log => "appliance: boot\nimds: mode=v2\n".to_string(),
                Request::Poweroff => "powering off".to_string(),
                Request::Reboot => "rebooting".to_string(),
            };
            c.answer(&text);
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
        notes.lock().unwrap().extend(c.notes());
        if c.closed().is_some() && c.output().is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    notes.lock().unwrap().extend(c.notes());
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

fn policy_for(public: &str) -> Policy {
    let k = cloudinit::sshkey::parse(public).unwrap();
    Policy {
        user: "admin".into(),
        keys: vec![AuthorizedKey::from_public(&k).unwrap()],
        limits: Limits {
            fail_delay_ns: 100_000_000,
            ..Limits::default()
        },
    }
}

/// ssh with no agent, no config, no known_hosts; killed after 30 s.
fn ssh(port: u16, key: &PathBuf, user: &str, cmd: &[&str], stdin: &str) -> (i32, String, String) {
    let tty = cmd == ["-tt"];
    let mut child = Command::new("ssh")
        .args([
            "-F",
            "/dev/null",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
        ])
        .args([
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "IdentityAgent=none",
        ])
        .args([
            "-o",
            "PasswordAuthentication=no",
            "-o",
            "ConnectTimeout=10",
            "-o",
            "LogLevel=ERROR",
        ])
        .arg("-i")
        .arg(key)
        .args(["-p", &port.to_string()])
        .args(if tty { cmd } else { &[] })
        .arg(format!("{}@127.0.0.1", user))
        .args(if tty { &[] } else { cmd })
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).unwrap();
    let _open = if tty {
        Some(input)
    } else {
        drop(input);
        None
    };
    let t = Instant::now();
    loop {
        if let Some(_) = child.try_wait().unwrap() {
            break;
        }
        if t.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "ssh {:?} did not finish in 30 s: stdout={:?} stderr={:?}",
                cmd,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn openssh_runs_a_command_with_the_metadata_key() {
    let d = tmpdir("cmd");
    let (key, public) = keygen(&d, "good");
    let want_fp = cloudinit::sshkey::parse(&public).unwrap().fingerprint();
    let srv = serve(policy_for(&public), [3u8; 32]);
    let (_rc, out, err) = ssh(srv.port, &key, "admin", &["status"], "");
    assert!(
        out.contains("uptime_s=42 ip=10.0.0.7/24 imds=v2"),
        "stdout={out:?} stderr={err:?} notes={:?}",
        srv.notes.lock().unwrap()
    );
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(srv.requests.lock().unwrap().as_slice(), [Request::Status]);
    let notes = srv.notes.lock().unwrap();
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
    drop(notes);

    let (_rc, out, _) = ssh(
        srv.port,
        &key,
        "admin",
        &["metadata", "meta-data/instance-id"],
        "",
    );
    assert!(
        out.contains("metadata meta-data/instance-id: i-0123"),
        "{out:?}"
    );
    let (_rc, out, _) = ssh(srv.port, &key, "admin", &["bogus"], "");
    assert!(out.contains("bogus: unknown command"), "{out:?}");
}

#[test]
fn wrong_key_and_wrong_user_are_refused() {
    let d = tmpdir("refuse");
    let (_good, public) = keygen(&d, "good");
    let (bad, bad_public) = keygen(&d, "bad");
    let bad_fp = cloudinit::sshkey::parse(&bad_public).unwrap().fingerprint();
    let srv = serve(policy_for(&public), [4u8; 32]);
    let (rc, out, err) = ssh(srv.port, &bad, "admin", &["status"], "");
    assert_ne!(rc, 0);
    assert!(!out.contains("uptime_s"), "{out:?}");
    assert!(err.contains("Permission denied"), "{err:?}");
    let (_good_key, _) = (d.join("good"), ());
    let (rc, out, err) = ssh(srv.port, &d.join("good"), "root", &["status"], "");
    assert_ne!(rc, 0);
    assert!(
        !out.contains("uptime_s") && err.contains("Permission denied"),
        "{out:?} {err:?}"
    );
    std::thread::sleep(Duration::from_millis(100));
    assert!(srv.requests.lock().unwrap().is_empty());
    let notes = srv.notes.lock().unwrap();
    assert!(
        notes.contains(&Note::Refused {
            user: "admin".into(),
            reason: "key not authorized",
            key: Some(bad_fp)
        }),
        "{notes:?}"
    );
    assert!(
        notes.iter().any(
            |n| matches!(n, Note::Refused { user, reason: "unknown user", .. } if user == "root")
        ),
        "{notes:?}"
    );
    assert!(
        !notes.iter().any(|n| matches!(n, Note::Login { .. })),
        "{notes:?}"
    );
}

#[test]
fn interactive_prompt() {
    let d = tmpdir("shell");
    let (key, public) = keygen(&d, "good");
    let srv = serve(policy_for(&public), [5u8; 32]);
    let (_rc, out, err) = ssh(
        srv.port,
        &key,
        "admin",
        &["-tt"],
        "help\rifconfig\rlog\rexit\r",
    );
    assert!(out.contains("appliance> "), "{out:?} {err:?}");
    assert!(out.contains("commands: status, ifconfig"), "{out:?}");
    assert!(out.contains("vif0 mac=00:16:3e:00:00:01"), "{out:?}");
    assert!(out.contains("imds: mode=v2"), "{out:?}");
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        srv.requests.lock().unwrap().as_slice(),
        [Request::Ifconfig, Request::Log]
    );
}

#[test]
fn keyscan_fingerprint_matches_the_host_key() {
    let srv = serve(policy_for(&keygen(&tmpdir("scan"), "k").1), [6u8; 32]);
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
    let mut policy = policy_for(&keygen(&tmpdir("hostile"), "k").1);
    policy.limits.login_grace_ns = 50_000_000;
    let inputs: [&[u8]; 4] = [
        b"GET / HTTP/1.1\r\n\r\n",
        b"SSH-2.0-x\r\n\x00\x00\xff\xff\x0a\x14garbage-garbage-garbage",
        b"SSH-2.0-x\r\n\x00\x00\x00\x0c\x0a\x14\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
        &[0xffu8; 70_000],
    ];
    for (i, input) in inputs.iter().enumerate() {
        let mut c = Connection::new(0);
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
    let mut c = Connection::new(0);
    c.poll(&policy, &hk, 10);
    assert!(c.closed().is_none());
    assert!(c.next_deadline(&policy).unwrap() <= 50_000_000);
    c.poll(&policy, &hk, 60_000_000);
    assert_eq!(c.closed(), Some("not authenticated in time"));
}
