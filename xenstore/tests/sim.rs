//! The XenStore client against the simulator's xenstored, over the real
//! ring layout: operations, permissions, watches interleaved with replies,
//! transactions with conflicts, xenbus helpers, and a hostile daemon.

use std::cell::RefCell;
use std::rc::Rc;

use xenabi::hal::{Clock, SharedMem};
use xenabi::xs_wire as xs;
use xensim::xenstored::{Misbehave, Xenstored};
use xensim::{SimClock, SimPage};
use xenstore::xenbus::{self, Request, State};
use xenstore::{Client, Errno, Error, Wait};

const DOMID: u16 = 1;

struct SimWait {
    xsd: Rc<RefCell<Xenstored>>,
    clock: SimClock,
    notifies: u64,
}

impl Wait for SimWait {
    fn notify(&mut self) {
        self.notifies += 1;
    }
    fn wait(&mut self, deadline_ns: u64) {
        self.xsd.borrow_mut().process();
        // time passes while we block, but never beyond the deadline
        let step = 1_000_000u64.min(deadline_ns.saturating_sub(self.clock.now_ns()).max(1));
        self.clock.advance(step);
    }
    fn now_ns(&self) -> u64 {
        self.clock.now_ns()
    }
}

fn setup() -> (Client<SimPage, SimWait>, Rc<RefCell<Xenstored>>, SimClock) {
    let page = SimPage::new();
    let xsd = Rc::new(RefCell::new(Xenstored::new()));
    xsd.borrow_mut().introduce(DOMID, page.clone());
    let clock = SimClock::new();
    let c = Client::new(
        page,
        SimWait {
            xsd: xsd.clone(),
            clock: clock.clone(),
            notifies: 0,
        },
    );
    (c, xsd, clock)
}

#[test]
fn read_write_directory_rm() {
    let (mut c, xsd, _) = setup();
    c.write("data/a", b"1").unwrap();
    c.write("data/b", b"two").unwrap();
    assert_eq!(c.read("data/b").unwrap(), b"two");
    assert_eq!(
        xsd.borrow().tool_read("/local/domain/1/data/a").unwrap(),
        b"1"
    );
    let mut d = c.directory("data").unwrap();
    d.sort();
    assert_eq!(d, vec!["a", "b"]);
    c.rm("data/a").unwrap();
    assert_eq!(c.read("data/a"), Err(Error::Xs(Errno::ENOENT)));
    c.mkdir("data/dir").unwrap();
    assert_eq!(c.read("data/dir").unwrap(), b"");
    assert_eq!(c.get_domain_path(DOMID).unwrap(), "/local/domain/1");
}

#[test]
fn permissions_are_enforced() {
    let (mut c, xsd, _) = setup();
    xsd.borrow_mut().tool_write("/secret", b"s");
    xsd.borrow_mut().tool_set_perms("/secret", &[(0, 'n')]);
    assert_eq!(c.read("/secret"), Err(Error::Xs(Errno::EACCES)));
    assert_eq!(c.write("/secret", b"x"), Err(Error::Xs(Errno::EACCES)));
    xsd.borrow_mut()
        .tool_set_perms("/secret", &[(0, 'n'), (DOMID, 'r')]);
    assert_eq!(c.read("/secret").unwrap(), b"s");
    assert_eq!(c.write("/secret", b"x"), Err(Error::Xs(Errno::EACCES)));
}

#[test]
fn large_values_cross_the_ring_boundary() {
    let (mut c, _, _) = setup();
    for round in 0..6u8 {
        let v: Vec<u8> = (0..4000)
            .map(|i| (i as u8).wrapping_mul(7).wrapping_add(round))
            .collect();
        c.write("data/big", &v).unwrap();
        assert_eq!(c.read("data/big").unwrap(), v);
    }
    assert_eq!(c.write("data/huge", &[b'x'; 4096]), Err(Error::TooBig));
}

#[test]
fn watch_events_interleave_with_replies() {
    let (mut c, xsd, _) = setup();
    c.watch("control/shutdown", "tok").unwrap();
    // the initial event arrives right after the reply
    let e = c.poll_event().unwrap().expect("initial watch event");
    assert_eq!(
        (e.path.as_str(), e.token.as_str()),
        ("control/shutdown", "tok")
    );
    // an event queued by the toolstack before our next reply
    xsd.borrow_mut()
        .tool_write("/local/domain/1/control/shutdown", b"poweroff");
    assert_eq!(c.read("control/shutdown").unwrap(), b"poweroff");
    let e = c.poll_event().unwrap().expect("change event");
    assert_eq!(e.path, "control/shutdown");
    assert_eq!(c.poll_event().unwrap(), None);
    c.unwatch("control/shutdown", "tok").unwrap();
    xsd.borrow_mut()
        .tool_write("/local/domain/1/control/shutdown", b"reboot");
    c.read("control/shutdown").unwrap();
    assert_eq!(c.poll_event().unwrap(), None, "no events after unwatch");
    assert_eq!(
        c.unwatch("control/shutdown", "tok"),
        Err(Error::Xs(Errno::ENOENT))
    );
}

#[test]
fn transactions_conflict_and_retry() {
    let (mut c, xsd, _) = setup();
    c.write("data/x", b"0").unwrap();
    // a conflicting write between read and commit: EAGAIN
    let tx = c.transaction_start().unwrap();
    assert_eq!(c.read_tx(tx, "data/x").unwrap(), b"0");
    xsd.borrow_mut()
        .tool_write("/local/domain/1/data/x", b"dom0");
    c.write_tx(tx, "data/y", b"1").unwrap();
    assert_eq!(c.transaction_end(tx, true), Err(Error::Xs(Errno::EAGAIN)));
    assert_eq!(
        c.read("data/y"),
        Err(Error::Xs(Errno::ENOENT)),
        "failed transaction left no trace"
    );
    // the helper retries until it commits
    let attempts = Rc::new(RefCell::new(0));
    let a = attempts.clone();
    let x2 = xsd.clone();
    c.transaction(|c, tx| {
        let v = c.read_tx(tx, "data/x")?;
        *a.borrow_mut() += 1;
        if *a.borrow() == 1 {
            x2.borrow_mut()
                .tool_write("/local/domain/1/data/x", b"again");
        }
        c.write_tx(tx, "data/y", &v)
    })
    .unwrap();
    assert_eq!(*attempts.borrow(), 2);
    assert_eq!(c.read("data/y").unwrap(), b"again");
    // aborting commits nothing
    let tx = c.transaction_start().unwrap();
    c.write_tx(tx, "data/z", b"1").unwrap();
    c.transaction_end(tx, false).unwrap();
    assert_eq!(c.read("data/z"), Err(Error::Xs(Errno::ENOENT)));
}

#[test]
fn xenbus_enumerates_devices_and_states() {
    let (mut c, xsd, clock) = setup();
    {
        let mut x = xsd.borrow_mut();
        x.tool_write(
            "/local/domain/1/device/vif/0/backend",
            b"/local/domain/0/backend/vif/1/0",
        );
        x.tool_write("/local/domain/1/device/vif/0/backend-id", b"0");
        x.tool_write("/local/domain/1/device/vif/0/mac", b"00:16:3e:00:00:02");
        x.tool_write("/local/domain/0/backend/vif/1/0/state", b"2");
        x.tool_set_perms("/local/domain/0/backend/vif/1/0/state", &[(0, 'r')]);
    }
    let devs = xenbus::enumerate(&mut c, "vif").unwrap();
    assert_eq!(devs.len(), 1);
    assert_eq!(devs[0].path, "device/vif/0");
    assert_eq!(devs[0].backend, "/local/domain/0/backend/vif/1/0");
    assert_eq!(devs[0].backend_id, 0);
    assert_eq!(devs[0].mac.as_deref(), Some("00:16:3e:00:00:02"));
    assert!(xenbus::enumerate(&mut c, "vbd").unwrap().is_empty());

    xenbus::set_state(&mut c, "device/vif/0", State::Initialised).unwrap();
    assert_eq!(
        xsd.borrow()
            .tool_read("/local/domain/1/device/vif/0/state")
            .unwrap(),
        b"3"
    );
    let be = "/local/domain/0/backend/vif/1/0";
    assert_eq!(xenbus::read_state(&mut c, be).unwrap(), State::InitWait);
    // a backend stuck in InitWait: the wait ends at the deadline
    let deadline = clock.now_ns() + 50_000_000;
    let s = xenbus::wait_state(&mut c, be, deadline, |s| s == State::Connected).unwrap();
    assert_eq!(s, State::InitWait);
    assert!(clock.now_ns() >= deadline);
    // a backend that went away reads as Closed
    xsd.borrow_mut().tool_rm(be);
    assert_eq!(xenbus::read_state(&mut c, be).unwrap(), State::Closed);
}

#[test]
fn control_shutdown_is_read_and_acknowledged() {
    let (mut c, xsd, _) = setup();
    xenbus::control_init(&mut c).unwrap();
    assert_eq!(
        xsd.borrow()
            .tool_read("/local/domain/1/control/feature-poweroff")
            .unwrap(),
        b"1"
    );
    assert_eq!(
        xsd.borrow()
            .tool_read("/local/domain/1/control/feature-reboot")
            .unwrap(),
        b"1"
    );
    assert_eq!(xenbus::take_request(&mut c).unwrap(), None);
    xsd.borrow_mut()
        .tool_write("/local/domain/1/control/shutdown", b"poweroff");
    let mut saw = false;
    while let Some(e) = c.poll_event().unwrap() {
        saw |= e.token == xenbus::SHUTDOWN_TOKEN;
    }
    assert!(saw);
    assert_eq!(
        xenbus::take_request(&mut c).unwrap(),
        Some(Request::Poweroff)
    );
    assert_eq!(
        xsd.borrow()
            .tool_read("/local/domain/1/control/shutdown")
            .unwrap(),
        b"",
        "acknowledged"
    );
    xsd.borrow_mut()
        .tool_write("/local/domain/1/control/shutdown", b"suspend");
    assert_eq!(
        xenbus::take_request(&mut c).unwrap(),
        Some(Request::Unsupported("suspend".into()))
    );
}

#[test]
fn reports_only_own_data_and_attr_keys() {
    let (mut c, xsd, _) = setup();
    xenbus::report(&mut c, "data/cloudinit/status", "ok").unwrap();
    xenbus::report(&mut c, "attr/vif/0/ipv4/0", "10.0.0.2").unwrap();
    assert_eq!(
        xsd.borrow()
            .tool_read("/local/domain/1/data/cloudinit/status")
            .unwrap(),
        b"ok"
    );
    assert_eq!(
        xsd.borrow()
            .tool_read("/local/domain/1/attr/vif/0/ipv4/0")
            .unwrap(),
        b"10.0.0.2"
    );
    assert_eq!(
        xenbus::report(&mut c, "control/shutdown", "x"),
        Err(Error::Xs(Errno::EINVAL))
    );
}

fn hostile(m: Misbehave) -> (Client<SimPage, SimWait>, Rc<RefCell<Xenstored>>) {
    let (mut c, xsd, _) = setup();
    c.write("data/k", b"v").unwrap();
    c.timeout_ns = 100_000_000;
    xsd.borrow_mut().misbehave(m);
    (c, xsd)
}

#[test]
fn hostile_daemon_garbage_type_breaks_the_connection() {
    let (mut c, _) = hostile(Misbehave::GarbageKind);
    assert!(matches!(c.read("data/k"), Err(Error::Protocol(_))));
    assert!(c.broken().is_some());
    assert!(
        matches!(c.read("data/k"), Err(Error::Protocol(_))),
        "stays down"
    );
}

#[test]
fn hostile_daemon_stray_reply_is_dropped() {
    let (mut c, _) = hostile(Misbehave::WrongReqId);
    // a reply for a request id we never used comes first: dropped, and the
    // real reply still answers the request
    assert_eq!(c.read("data/k").unwrap(), b"v");
    assert_eq!(c.stray_replies, 1);
}

#[test]
fn hostile_daemon_oversized_length() {
    let (mut c, _) = hostile(Misbehave::OversizeLen);
    assert!(matches!(c.read("data/k"), Err(Error::Protocol(m)) if m.contains("5000")));
}

#[test]
fn hostile_daemon_producer_jump() {
    let (mut c, _) = hostile(Misbehave::ProdJump);
    assert!(matches!(c.read("data/k"), Err(Error::Protocol(m)) if m.contains("corrupt")));
}

#[test]
fn hostile_daemon_silence_times_out() {
    let (mut c, _) = hostile(Misbehave::Silent);
    assert_eq!(c.read("data/k"), Err(Error::Timeout));
    assert_eq!(c.read("data/k").unwrap(), b"v");
}

#[test]
fn hostile_daemon_unknown_error_name() {
    let (mut c, _) = hostile(Misbehave::UnknownError);
    assert!(matches!(c.read("data/k"), Err(Error::Protocol(_))));
}

/// Random bytes written as the daemon's responses never panic the client
/// or make it read out of the ring; every outcome is a value.
#[test]
fn random_response_streams_never_panic() {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..2000 {
        let page = SimPage::new();
        let clock = SimClock::new();
        let xsd = Rc::new(RefCell::new(Xenstored::new()));
        let mut c = Client::new(
            page.clone(),
            SimWait {
                xsd,
                clock,
                notifies: 0,
            },
        );
        c.timeout_ns = 3_000_000;
        let n = (rnd() % 200) as usize;
        let mut bytes: Vec<u8> = (0..n).map(|_| rnd() as u8).collect();
        if rnd() % 2 == 0 && n >= 16 {
            // a plausible header with a random length and type
            bytes[0..4].copy_from_slice(&((rnd() % 20) as u32).to_le_bytes());
            bytes[4..8].copy_from_slice(&1u32.to_le_bytes());
            bytes[12..16].copy_from_slice(&((rnd() % 5000) as u32).to_le_bytes());
        }
        page.write(xs::XS_RSP_OFFSET, &bytes[..n.min(1024)]);
        let prod = if rnd() % 10 == 0 {
            rnd() as u32
        } else {
            n.min(1024) as u32
        };
        page.write_u32(xs::XS_RSP_PROD_OFFSET, prod);
        let _ = c.read("data/k");
        let _ = c.poll_event();
    }
}
