//! Whole connections against the in-memory test client: the order of the
//! session's end, and every hostile path (out-of-order messages, strict
//! kex violations, bad tags, oversize fields, windows).

use alloc::vec::Vec;

use crate::auth::Policy;
use crate::cipher::{Algorithm, OFFERED};
use crate::conn::Connection;
use crate::hostkey::HostKey;
use crate::msg;
use crate::testclient::{kexinit, policy_for, Client, Offer, SigningKey};
use crate::wire::{Reader, Writer};
use crate::{Note, Request};

struct World {
    conn: Connection,
    cl: Client,
    policy: Policy,
    hk: HostKey,
    user_key: SigningKey,
}

fn world() -> World {
    let user_key = SigningKey::from_bytes(&[21; 32]);
    let policy = policy_for(&user_key);
    let mut conn = Connection::new(0, [1; 32]);
    let cl = Client::start(&mut conn, [2; 32]);
    World {
        conn,
        cl,
        policy,
        hk: HostKey::from_seed(&[3; 32]),
        user_key,
    }
}

impl World {
    fn pump(&mut self) {
        self.cl.pump(&mut self.conn, &self.policy, &self.hk);
    }
    fn send(&mut self, m: &[u8]) {
        self.cl.send(&mut self.conn, m);
        self.pump();
    }
    fn handshake(&mut self, offer: Offer) {
        self.cl
            .handshake(&mut self.conn, &self.policy, &self.hk, offer);
    }
    fn login(&mut self) {
        self.handshake(Offer::default());
        let key = self.user_key.clone();
        self.cl
            .login(&mut self.conn, &self.policy, &self.hk, b"admin", &key);
        assert!(self.conn.authenticated(), "{:?}", self.conn.closed());
        assert!(self.cl.take(msg::SERVICE_ACCEPT).is_some());
        assert!(self.cl.take(msg::USERAUTH_SUCCESS).is_some());
    }
    fn session(&mut self) {
        self.login();
        self.cl
            .open_session(&mut self.conn, &self.policy, &self.hk, 1 << 20, 32768);
        assert!(self.cl.take(msg::CHANNEL_OPEN_CONFIRMATION).is_some());
    }
    fn exec(&mut self, cmd: &str) {
        let mut args = Vec::new();
        args.put_string(cmd.as_bytes());
        self.cl
            .request(&mut self.conn, &self.policy, &self.hk, b"exec", true, &args);
    }
    /// The connection ended with this reason, after a DISCONNECT with this code.
    fn assert_disconnected(&mut self, code: u32, reason: &str) {
        assert_eq!(self.conn.closed(), Some(reason));
        let d = self
            .cl
            .take(msg::DISCONNECT)
            .expect("a DISCONNECT was sent");
        let mut r = Reader::new(&d);
        r.u8().unwrap();
        assert_eq!(r.u32().unwrap(), code);
        assert_eq!(r.text().unwrap(), reason);
    }
    /// The message numbers received, in order (and the inbox emptied).
    fn received(&mut self) -> Vec<u8> {
        self.cl.inbox.drain(..).map(|m| m[0]).collect()
    }
}

fn window_adjust(n: u32) -> Vec<u8> {
    let mut m = alloc::vec![msg::CHANNEL_WINDOW_ADJUST];
    m.put_u32(0);
    m.put_u32(n);
    m
}

fn exit_status(m: &[u8]) -> Option<u32> {
    let mut r = Reader::new(m);
    r.u8().ok()?;
    r.u32().ok()?;
    (r.string().ok()? == b"exit-status").then_some(())?;
    r.bool().ok()?;
    r.u32().ok()
}

#[test]
fn every_cipher_with_and_without_strict_kex_gets_through_the_handshake() {
    for &cipher in OFFERED {
        for strict in [true, false] {
            let mut w = world();
            w.handshake(Offer {
                cipher,
                strict,
                ext_info: !strict,
            });
            assert_eq!(w.conn.strict_kex(), strict);
            assert!(w.conn.closed().is_none(), "{:?}", w.conn.closed());
            let mut svc = alloc::vec![msg::SERVICE_REQUEST];
            svc.put_string(b"ssh-userauth");
            w.send(&svc);
            assert!(
                w.cl.take(msg::SERVICE_ACCEPT).is_some(),
                "{:?} strict={}",
                cipher,
                strict
            );
        }
    }
}

#[test]
fn a_command_ends_with_output_exit_status_eof_close_in_that_order() {
    let mut w = world();
    w.session();
    w.exec("status");
    assert_eq!(w.conn.take_request(), Some(Request::Status));
    assert_eq!(w.conn.take_request(), None, "handed out once");
    w.conn.answer("all good", 0);
    w.pump();
    let got: Vec<Vec<u8>> = w.cl.inbox.drain(..).collect();
    let kinds: Vec<u8> = got.iter().map(|m| m[0]).collect();
    assert_eq!(
        kinds,
        [
            msg::CHANNEL_SUCCESS,
            msg::CHANNEL_DATA,
            msg::CHANNEL_REQUEST,
            msg::CHANNEL_EOF,
            msg::CHANNEL_CLOSE
        ]
    );
    assert!(got[1].ends_with(b"all good\n"));
    assert_eq!(exit_status(&got[2]), Some(0));
    // every message is addressed to the client's channel number (5)
    assert!(got.iter().all(|m| m[1..5] == [0, 0, 0, 5]));
    assert!(w.conn.closed().is_none(), "waits for the client's CLOSE");
    w.send(&[msg::CHANNEL_CLOSE, 0, 0, 0, 0]);
    assert_eq!(w.conn.closed(), Some("command done"));
    assert!(w.cl.inbox.is_empty(), "no second CLOSE");
}

#[test]
fn unknown_commands_and_failed_answers_are_non_zero() {
    for (cmd, answer, want) in [
        ("bogus", None, 127),
        ("status now", None, 2),
        ("metadata x", Some(1), 1),
    ] {
        let mut w = world();
        w.session();
        w.exec(cmd);
        if let Some(status) = answer {
            assert!(w.conn.take_request().is_some());
            w.conn.answer("metadata: error: timeout", status);
            w.pump();
        }
        let req = w.cl.take(msg::CHANNEL_REQUEST).expect("exit-status");
        assert_eq!(exit_status(&req), Some(want), "{cmd}");
    }
}

#[test]
fn a_client_that_never_sends_close_is_closed_after_the_wait() {
    let mut w = world();
    w.session();
    w.exec("help");
    assert!(w.cl.take(msg::CHANNEL_CLOSE).is_some());
    let later = w.cl.now + crate::conn::CLOSE_WAIT_NS;
    assert!(w.conn.next_deadline(&w.policy).unwrap() <= later);
    w.conn.poll(&w.policy, &w.hk, later);
    assert_eq!(w.conn.closed(), Some("command done"));
}

#[test]
fn output_respects_the_clients_window_and_packet_size() {
    let mut w = world();
    w.login();
    w.cl.open_session(&mut w.conn, &w.policy, &w.hk, 10, 4);
    w.exec("status");
    w.conn.take_request().unwrap();
    w.conn.answer("0123456789abcdef", 0);
    w.pump();
    let data: Vec<Vec<u8>> = core::iter::from_fn(|| w.cl.take(msg::CHANNEL_DATA)).collect();
    assert!(data.iter().all(|m| m.len() - 9 <= 4), "max packet");
    assert_eq!(
        data.iter().map(|m| m.len() - 9).sum::<usize>(),
        10,
        "window"
    );
    assert!(
        w.cl.take(msg::CHANNEL_EOF).is_none(),
        "not before the output is out"
    );
    w.send(&window_adjust(100));
    let rest: usize = core::iter::from_fn(|| w.cl.take(msg::CHANNEL_DATA))
        .map(|m| m.len() - 9)
        .sum();
    assert_eq!(rest, 7, "the rest: 6 bytes and the newline");
    assert!(w.cl.take(msg::CHANNEL_EOF).is_some());
}

#[test]
fn data_beyond_the_window_we_granted_is_fatal() {
    let mut w = world();
    w.session();
    w.cl.request(&mut w.conn, &w.policy, &w.hk, b"shell", true, &[]);
    // typed ahead of a running command: held, so the window is not given back
    let data = |bytes: &[u8]| {
        let mut m = alloc::vec![msg::CHANNEL_DATA];
        m.put_u32(0);
        m.put_string(bytes);
        m
    };
    w.send(&data(b"status\r"));
    assert_eq!(w.conn.take_request(), Some(Request::Status));
    let chunk = data(&alloc::vec![b'x'; 30_000]);
    w.send(&chunk);
    w.send(&chunk);
    assert!(
        w.conn.closed().is_none(),
        "60007 bytes fit the 64 KiB window"
    );
    w.send(&chunk);
    w.assert_disconnected(
        msg::reason::PROTOCOL_ERROR,
        "channel data beyond the window",
    );
}

#[test]
fn a_client_rekey_after_login_is_handled() {
    let mut w = world();
    w.session();
    // strict kex, once negotiated, resets the sequence numbers at every NEWKEYS
    let offer = Offer {
        ext_info: false,
        ..Offer::default()
    };
    let ours = kexinit(offer, [7; 16]);
    w.send(&ours);
    let theirs =
        w.cl.take(msg::KEXINIT)
            .expect("our KEXINIT answers the client's");
    let (conn, policy, hk) = (&mut w.conn, &w.policy, &w.hk);
    w.cl.exchange(conn, policy, hk, offer, &ours, &theirs);
    assert!(
        w.cl.take(msg::EXT_INFO).is_none(),
        "EXT_INFO only after the first NEWKEYS"
    );
    w.exec("help");
    assert!(
        w.cl.take(msg::CHANNEL_DATA).is_some(),
        "{:?}",
        w.conn.closed()
    );
    assert!(w.conn.closed().is_none());
}

#[test]
fn session_output_waits_while_a_rekey_runs() {
    let mut w = world();
    w.session();
    w.exec("status");
    w.conn.take_request().unwrap();
    let offer = Offer {
        strict: false,
        ext_info: false,
        ..Offer::default()
    };
    w.send(&kexinit(offer, [7; 16]));
    w.received();
    w.conn.answer("during the rekey", 0);
    w.pump();
    assert_eq!(
        w.received(),
        Vec::<u8>::new(),
        "nothing between our KEXINIT and NEWKEYS"
    );
}

#[test]
fn strict_kex_refuses_anything_but_the_exchange() {
    // an IGNORE before KEXINIT: found out once the client turns out strict
    let mut w = world();
    w.send(&[msg::IGNORE, 0, 0, 0, 0]);
    w.send(&kexinit(Offer::default(), [1; 16]));
    w.assert_disconnected(
        msg::reason::PROTOCOL_ERROR,
        "strict key exchange: KEXINIT was not the first packet",
    );
    // an IGNORE between KEXINIT and ECDH_INIT
    let mut w = world();
    w.send(&kexinit(Offer::default(), [1; 16]));
    w.send(&[msg::IGNORE, 0, 0, 0, 0]);
    w.assert_disconnected(
        msg::reason::PROTOCOL_ERROR,
        "unexpected message during strict key exchange",
    );
    // without strict kex, IGNORE is fine but a userauth message is not
    let mut w = world();
    let loose = Offer {
        strict: false,
        ..Offer::default()
    };
    w.send(&kexinit(loose, [1; 16]));
    w.send(&[msg::IGNORE, 0, 0, 0, 0]);
    assert!(w.conn.closed().is_none());
    w.send(&[msg::USERAUTH_REQUEST]);
    w.assert_disconnected(
        msg::reason::PROTOCOL_ERROR,
        "unexpected message during key exchange",
    );
}

#[test]
fn out_of_order_messages_are_fatal_with_a_reason() {
    let cases: [(&[u8], &str); 4] = [
        (
            &[msg::USERAUTH_REQUEST, 0, 0, 0, 0],
            "message before the ssh-userauth service",
        ),
        (&[msg::NEWKEYS], "unexpected key exchange message"),
        (
            &[msg::KEX_ECDH_INIT, 0, 0, 0, 0],
            "unexpected key exchange message",
        ),
        (
            &[msg::SERVICE_REQUEST, 0, 0, 0, 4, b'n', b'o', b'n', b'e'],
            "service not available",
        ),
    ];
    for (m, why) in cases {
        let mut w = world();
        w.handshake(Offer::default());
        w.send(m);
        assert_eq!(w.conn.closed(), Some(why), "{:?}", m);
        assert!(w.cl.take(msg::DISCONNECT).is_some());
    }
    let mut w = world();
    w.handshake(Offer::default());
    let mut svc = alloc::vec![msg::SERVICE_REQUEST];
    svc.put_string(b"ssh-userauth");
    w.send(&svc);
    w.send(&[
        msg::CHANNEL_OPEN,
        0,
        0,
        0,
        7,
        b's',
        b'e',
        b's',
        b's',
        b'i',
        b'o',
        b'n',
        0,
        0,
        0,
        0,
        0,
        0,
        1,
        0,
        0,
        0,
        1,
        0,
    ]);
    w.assert_disconnected(
        msg::reason::PROTOCOL_ERROR,
        "connection protocol before authentication",
    );
}

#[test]
fn unknown_messages_get_unimplemented_and_requests_get_failure() {
    let mut w = world();
    w.session();
    w.received();
    w.send(&[200, 1, 2, 3]);
    let u = w.cl.take(msg::UNIMPLEMENTED).expect("UNIMPLEMENTED");
    // the client's packets since strict kex reset the count: NEWKEYS was
    // not counted; service request, userauth, channel open, then this one
    assert_eq!(u[1..5], 3u32.to_be_bytes());
    // keepalive@openssh.com (ServerAliveInterval)
    let mut g = alloc::vec![msg::GLOBAL_REQUEST];
    g.put_string(b"keepalive@openssh.com");
    g.put_bool(true);
    w.send(&g);
    assert_eq!(w.received(), [msg::REQUEST_FAILURE]);
    // unknown channel requests, with and without want-reply
    w.cl.request(
        &mut w.conn,
        &w.policy,
        &w.hk,
        b"keepalive@openssh.com",
        true,
        &[],
    );
    assert_eq!(w.received(), [msg::CHANNEL_FAILURE]);
    w.cl.request(
        &mut w.conn,
        &w.policy,
        &w.hk,
        b"env",
        false,
        &[0, 0, 0, 1, b'A', 0, 0, 0, 1, b'B'],
    );
    assert_eq!(w.received(), Vec::<u8>::new());
    // a second session and a forwarding channel are refused
    w.cl.open_session(&mut w.conn, &w.policy, &w.hk, 100, 100);
    let mut fwd = alloc::vec![msg::CHANNEL_OPEN];
    fwd.put_string(b"direct-tcpip");
    fwd.put_u32(9);
    fwd.put_u32(100);
    fwd.put_u32(100);
    w.send(&fwd);
    assert_eq!(
        w.received(),
        [msg::CHANNEL_OPEN_FAILURE, msg::CHANNEL_OPEN_FAILURE]
    );
    // IGNORE and DEBUG are ignored
    w.send(&[msg::IGNORE, 0, 0, 0, 0]);
    w.send(&[msg::DEBUG, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(w.received(), Vec::<u8>::new());
    assert!(w.conn.closed().is_none());
}

#[test]
fn a_bad_tag_after_newkeys_is_a_mac_error() {
    let mut w = world();
    w.handshake(Offer::default());
    let mut svc = alloc::vec![msg::SERVICE_REQUEST];
    svc.put_string(b"ssh-userauth");
    let mut wire = w.cl.seal(&svc);
    let last = wire.len() - 1;
    wire[last] ^= 0x40; // one bit of the tag
    let (conn, now) = (&mut w.conn, w.cl.now);
    conn.input(&wire, now);
    w.pump();
    assert_eq!(w.conn.closed(), Some("bad message authentication tag"));
    // (the DISCONNECT is sent under our keys; the client sees it)
    assert!(w.cl.take(msg::DISCONNECT).is_some());
}

#[test]
fn oversize_and_malformed_fields_close_cleanly() {
    let mut w = world();
    w.handshake(Offer::default());
    let mut svc = alloc::vec![msg::SERVICE_REQUEST];
    svc.put_string(b"ssh-userauth");
    w.send(&svc);
    // a user name claiming 4 GiB
    w.send(&[msg::USERAUTH_REQUEST, 0xff, 0xff, 0xff, 0xff, b'a']);
    w.assert_disconnected(msg::reason::PROTOCOL_ERROR, "malformed message");
    // a packet length over 35000 under the new keys
    let mut w = world();
    w.handshake(Offer {
        cipher: Algorithm::ChaChaPoly,
        ..Offer::default()
    });
    w.send(&alloc::vec![msg::IGNORE; 35_100]);
    w.assert_disconnected(msg::reason::PROTOCOL_ERROR, "bad packet length");
    // a version line without end
    let mut c = Connection::new(0, [0; 32]);
    c.input(&[b'x'; 300], 0);
    c.poll(&w.policy, &w.hk, 0);
    assert_eq!(c.closed(), Some("version line too long"));
}

#[test]
fn refusals_delay_input_and_end_the_connection_at_the_limit() {
    let mut w = world();
    w.policy.limits.max_failures = 2;
    w.handshake(Offer::default());
    let mut svc = alloc::vec![msg::SERVICE_REQUEST];
    svc.put_string(b"ssh-userauth");
    w.send(&svc);
    let mut pw = alloc::vec![msg::USERAUTH_REQUEST];
    pw.put_string(b"admin");
    pw.put_string(b"ssh-connection");
    pw.put_string(b"password");
    w.send(&pw);
    assert!(w.cl.take(msg::USERAUTH_FAILURE).is_some());
    let now = w.cl.now;
    assert_eq!(
        w.conn.input(b"more", now),
        0,
        "nothing read during the delay"
    );
    let notes = w.conn.notes();
    assert!(
        matches!(
            &notes[..],
            [Note::Refused {
                reason: "password authentication is disabled",
                ..
            }]
        ),
        "{notes:?}"
    );
    w.cl.now += w.policy.limits.fail_delay_ns;
    w.send(&pw);
    w.assert_disconnected(
        msg::reason::NO_MORE_AUTH_METHODS_AVAILABLE,
        "too many failed attempts",
    );
}

#[test]
fn the_client_disconnecting_sends_nothing_back() {
    let mut w = world();
    w.handshake(Offer::default());
    w.received();
    w.send(&[msg::DISCONNECT, 0, 0, 0, 11, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(w.conn.closed(), Some("client disconnected"));
    assert_eq!(w.received(), Vec::<u8>::new());
}

#[test]
fn a_long_answer_is_cut_even_inside_a_character() {
    let mut w = world();
    w.session();
    w.exec("log");
    w.conn.take_request().unwrap();
    // 'é' is two bytes: byte MAX_ANSWER falls inside one
    let text = alloc::format!("x{}", "é".repeat(crate::conn::MAX_ANSWER));
    w.conn.answer(&text, 0);
    for _ in 0..8 {
        w.send(&window_adjust(1 << 20));
    }
    let data: Vec<u8> = core::iter::from_fn(|| w.cl.take(msg::CHANNEL_DATA))
        .flat_map(|m| m[9..].to_vec())
        .collect();
    assert!(data.len() <= crate::conn::MAX_ANSWER + 20, "{}", data.len());
    assert!(
        data.ends_with(b"\n(output cut)\n"),
        "{} {:?}",
        data.len(),
        alloc::string::String::from_utf8_lossy(&data[data.len().saturating_sub(30)..])
    );
    assert!(
        core::str::from_utf8(&data).is_ok(),
        "cut on a character boundary"
    );
}

#[test]
fn echo_for_a_peer_that_does_not_read_stays_bounded() {
    let mut w = world();
    w.login();
    // a window of 100 bytes that is never adjusted: the echo cannot leave
    w.cl.open_session(&mut w.conn, &w.policy, &w.hk, 100, 100);
    w.cl.request(&mut w.conn, &w.policy, &w.hk, b"pty-req", true, &[]);
    w.cl.request(&mut w.conn, &w.policy, &w.hk, b"shell", true, &[]);
    let mut typed = 0usize;
    for _ in 0..200 {
        let mut m = alloc::vec![msg::CHANNEL_DATA];
        m.put_u32(0);
        m.put_string(&[b'a', 0x15].repeat(8000)); // a letter and Ctrl-U: 4 echo bytes per 2 typed
        w.cl.send(&mut w.conn, &m);
        w.pump();
        if w.conn.closed().is_some() {
            break;
        }
        typed += 16000;
    }
    // the window we granted stops the client long before 3.2 MB
    assert_eq!(
        w.conn.closed(),
        Some("channel data beyond the window"),
        "typed {typed} bytes"
    );
    assert!(typed < 2 * crate::channel::WINDOW as usize);
}

#[test]
fn a_client_that_never_rekeys_is_dropped_before_sequence_numbers_wrap() {
    use crate::transport::MAX_PACKETS_PER_KEY;
    let mut w = world();
    w.session();
    w.conn
        .transport()
        .set_packets_under_key(MAX_PACKETS_PER_KEY - 2);
    w.send(&[msg::IGNORE, 0, 0, 0, 0]);
    assert!(w.conn.closed().is_none());
    w.send(&[msg::IGNORE, 0, 0, 0, 0]);
    w.assert_disconnected(
        msg::reason::PROTOCOL_ERROR,
        "too many packets without a re-key",
    );
    // a re-key resets the count
    let mut w = world();
    w.session();
    // room for the exchange itself: 3 packets each way
    w.conn
        .transport()
        .set_packets_under_key(MAX_PACKETS_PER_KEY - 6);
    let offer = Offer {
        ext_info: false,
        ..Offer::default()
    };
    let ours = kexinit(offer, [7; 16]);
    w.send(&ours);
    let theirs = w.cl.take(msg::KEXINIT).unwrap();
    let (conn, policy, hk) = (&mut w.conn, &w.policy, &w.hk);
    w.cl.exchange(conn, policy, hk, offer, &ours, &theirs);
    w.send(&[msg::IGNORE, 0, 0, 0, 0]);
    assert!(w.conn.closed().is_none(), "{:?}", w.conn.closed());
}
