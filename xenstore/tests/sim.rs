//! The XenStore client against the simulator's xenstored, over the real
//! ring layout: operations, permissions, watches interleaved with replies,
//! transactions with conflicts, and the xenbus helpers. The hostile
//! daemon has its own file (hostile.rs).

mod common;

use std::cell::RefCell;
use std::rc::Rc;

use common::*;
use xenabi::hal::{Clock, SharedMem};
use xenabi::xs_wire as xs;
use xensim::xenstored::Xenstored;
use xenstore::wire::Kind;
use xenstore::xenbus::{self, Frontend, FrontendError, Request, State};
use xenstore::{Access, Errno, Error, Op, Perm};

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
        x.tool_write("/local/domain/1/device/vif/0", b"");
        x.tool_set_perms("/local/domain/1/device/vif/0", &[(DOMID, 'n'), (0, 'r')]);
        x.tool_write(
            "/local/domain/1/device/vif/0/backend",
            b"/local/domain/0/backend/vif/1/0",
        );
        x.tool_write("/local/domain/1/device/vif/0/backend-id", b"0");
        x.tool_write("/local/domain/1/device/vif/0/mac", b"00:16:3e:00:00:02");
        x.tool_write("/local/domain/1/device/vif/0/state", b"1");
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

    let mut f = Frontend::new(devs[0].clone());
    f.switch(&mut c, State::Initialising).unwrap();
    f.switch(&mut c, State::Initialised).unwrap();
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
    let r = f.wait_backend(&mut c, deadline, |s| s == State::Connected);
    assert_eq!(r, Err(FrontendError::Timeout(State::InitWait)));
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
fn guest_writes_only_where_libxl_lets_it() {
    let (mut c, xsd, _) = setup();
    // libxl's layout: the home and device/ are read-only to the guest
    assert_eq!(c.write("foo", b"1"), Err(Error::Xs(Errno::EACCES)));
    assert_eq!(
        c.write("device/vif/9/state", b"1"),
        Err(Error::Xs(Errno::EACCES))
    );
    assert_eq!(
        c.write("control/other", b"1"),
        Err(Error::Xs(Errno::EACCES))
    );
    assert_eq!(
        c.read("control/platform-feature-xs_reset_watches").unwrap(),
        b"1"
    );
    assert!(xsd.borrow().tool_read("/local/domain/1/foo").is_none());
    xenbus::control_init(&mut c).unwrap();
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

// ---- permissions, transactions and watch semantics in depth ----

#[test]
fn perms_get_and_set() {
    let (mut c, xsd, _) = setup();
    c.write("data/p", b"1").unwrap();
    let p = c.get_perms("data/p").unwrap();
    assert_eq!(
        p[0],
        Perm {
            domid: DOMID,
            access: Access::None
        },
        "owned by its creator"
    );
    c.set_perms(
        "data/p",
        &[
            Perm {
                domid: DOMID,
                access: Access::None,
            },
            Perm {
                domid: 5,
                access: Access::Read,
            },
        ],
    )
    .unwrap();
    assert_eq!(
        xsd.borrow().tool_perms("/local/domain/1/data/p").unwrap(),
        vec![(1, 'n'), (5, 'r')]
    );
    assert_eq!(
        c.get_perms("data/p").unwrap()[1],
        Perm {
            domid: 5,
            access: Access::Read
        }
    );
    // not ours: dom0's node
    xsd.borrow_mut()
        .tool_write("/local/domain/0/name", b"Domain-0");
    xsd.borrow_mut()
        .tool_set_perms("/local/domain/0/name", &[(0, 'r')]);
    assert_eq!(
        c.set_perms(
            "/local/domain/0/name",
            &[Perm {
                domid: DOMID,
                access: Access::Both
            }]
        ),
        Err(Error::Xs(Errno::EACCES))
    );
    // a malformed entry (non-ASCII mode byte) is EINVAL from the daemon
    assert_eq!(
        c.request(Kind::SetPerms, 0, "data/p\0\u{e9}1\0".as_bytes()),
        Err(Error::Xs(Errno::EINVAL))
    );
    assert_eq!(
        c.request(Kind::SetPerms, 0, b"data/p\0r+1\0"),
        Err(Error::Xs(Errno::EINVAL))
    );
}

#[test]
fn transaction_conflicts_on_written_and_listed_nodes() {
    let (mut c, xsd, _) = setup();
    // write-write: dom0 changes a node the transaction overwrites
    c.write("data/y", b"0").unwrap();
    let tx = c.transaction_start().unwrap();
    c.write_tx(tx, "data/y", b"guest").unwrap();
    xsd.borrow_mut()
        .tool_write("/local/domain/1/data/y", b"dom0");
    assert_eq!(c.transaction_end(tx, true), Err(Error::Xs(Errno::EAGAIN)));
    assert_eq!(c.read("data/y").unwrap(), b"dom0");
    // a listed directory gains a child
    xsd.borrow_mut()
        .tool_write("/local/domain/1/device/vif/0/state", b"1");
    let tx = c.transaction_start().unwrap();
    assert_eq!(c.directory_tx(tx, "device/vif").unwrap(), vec!["0"]);
    xsd.borrow_mut()
        .tool_write("/local/domain/1/device/vif/1/state", b"1");
    c.write_tx(tx, "data/seen", b"1").unwrap();
    assert_eq!(c.transaction_end(tx, true), Err(Error::Xs(Errno::EAGAIN)));
    // untouched nodes changing elsewhere do not conflict
    let tx = c.transaction_start().unwrap();
    c.read_tx(tx, "data/y").unwrap();
    xsd.borrow_mut()
        .tool_write("/local/domain/1/data/other", b"x");
    c.write_tx(tx, "data/z", b"1").unwrap();
    c.transaction_end(tx, true).unwrap();
    assert_eq!(c.read("data/z").unwrap(), b"1");
}

#[test]
fn transaction_commit_creates_parents_and_replays_removals() {
    let (mut c, xsd, _) = setup();
    c.write("data/old/a", b"1").unwrap();
    c.write("data/old/b", b"2").unwrap();
    let tx = c.transaction_start().unwrap();
    c.write_tx(tx, "data/new/deep/k", b"v").unwrap();
    c.mkdir_tx(tx, "data/made").unwrap();
    c.rm_tx(tx, "data/old").unwrap();
    c.write_tx(tx, "data/old/c", b"3").unwrap();
    // nothing visible before commit
    assert_eq!(c.read("data/new/deep/k"), Err(Error::Xs(Errno::ENOENT)));
    c.transaction_end(tx, true).unwrap();
    assert_eq!(c.read("data/new/deep/k").unwrap(), b"v");
    assert_eq!(c.directory("data/new").unwrap(), vec!["deep"]);
    assert_eq!(c.read("data/made").unwrap(), b"");
    assert_eq!(c.directory("data/old").unwrap(), vec!["c"], "rm then write");
    assert!(xsd
        .borrow()
        .tool_read("/local/domain/1/data/old/a")
        .is_none());
    // a transaction id that is not ours, or unknown, is refused
    assert_eq!(c.read_tx(999, "data/made"), Err(Error::Xs(Errno::ENOENT)));
}

#[test]
fn watches_fire_on_subtree_and_removal_but_not_on_ancestor_writes() {
    let (mut c, xsd, _) = setup();
    c.write("data/w/x", b"0").unwrap();
    c.watch("data/w", "t").unwrap();
    assert_eq!(
        c.take_event("t").unwrap().unwrap().path,
        "data/w",
        "initial"
    );
    let home = "/local/domain/1";
    xsd.borrow_mut()
        .tool_write(&format!("{}/data", home), b"parent value");
    c.read("data/w/x").unwrap();
    assert_eq!(
        c.take_event("t").unwrap(),
        None,
        "ancestor write does not fire"
    );
    xsd.borrow_mut()
        .tool_write(&format!("{}/data/w/x/y", home), b"1");
    c.read("data/w/x").unwrap();
    assert_eq!(c.take_event("t").unwrap().unwrap().path, "data/w/x/y");
    xsd.borrow_mut().tool_rm(&format!("{}/data", home));
    c.read("data/q").unwrap_err();
    assert_eq!(
        c.take_event("t").unwrap().unwrap().path,
        "data",
        "ancestor removed"
    );
}

#[test]
fn watch_events_respect_read_permission() {
    let (mut c, xsd, _) = setup();
    let be = "/local/domain/0/backend";
    xsd.borrow_mut().tool_write(be, b"");
    xsd.borrow_mut().tool_set_perms(be, &[(0, 'n')]);
    c.watch(be, "be").unwrap();
    c.take_event("be")
        .unwrap()
        .expect("initial fire regardless");
    xsd.borrow_mut().tool_write(&format!("{}/secret", be), b"s");
    c.read("data/none").unwrap_err();
    assert_eq!(
        c.take_event("be").unwrap(),
        None,
        "unreadable node: no event"
    );
    xsd.borrow_mut()
        .tool_set_perms(be, &[(0, 'n'), (DOMID, 'r')]);
    xsd.borrow_mut().tool_write(&format!("{}/vif", be), b"");
    c.read("data/none").unwrap_err();
    assert_eq!(
        c.take_event("be").unwrap().unwrap().path,
        format!("{}/vif", be)
    );
}

#[test]
fn reset_watches_drops_them_all() {
    let (mut c, xsd, _) = setup();
    c.watch("data/a", "a").unwrap();
    c.watch("data/b", "b").unwrap();
    assert_eq!(xsd.borrow().watch_count(DOMID), 2);
    c.reset_watches().unwrap();
    assert_eq!(xsd.borrow().watch_count(DOMID), 0);
    xsd.borrow_mut().tool_write("/local/domain/1/data/a", b"1");
    c.read("data/a").unwrap();
    assert_eq!(c.poll_event().unwrap(), None);
}

#[test]
fn oversized_reply_is_e2big() {
    let (mut c, xsd, _) = setup();
    for i in 0..200 {
        xsd.borrow_mut().tool_write(
            &format!("/local/domain/1/data/many/entry-with-a-long-name-{:04}", i),
            b"",
        );
    }
    assert_eq!(c.directory("data/many"), Err(Error::Xs(Errno::E2BIG)));
    assert_eq!(c.read("data/many").unwrap(), b"", "connection fine");
}

#[test]
fn guest_sending_an_oversized_request_is_cut_off() {
    let (mut c, xsd, _) = setup();
    c.timeout_ns = 20_000_000;
    c.write("data/k", b"v").unwrap();
    // a header claiming 5000 bytes of payload, straight into the request ring
    let page = c.ring_page().clone();
    let prod = page.read_u32(xs::XS_REQ_PROD_OFFSET);
    let mut h = Vec::new();
    for w in [xs::XS_WRITE, 99, 0, 5000] {
        h.extend_from_slice(&u32::to_le_bytes(w));
    }
    page.write(xs::XS_REQ_OFFSET + (prod % 1024) as usize, &h);
    page.write_u32(xs::XS_REQ_PROD_OFFSET, prod + 16);
    assert_eq!(c.read("data/k"), Err(Error::Timeout));
    assert!(xsd.borrow().is_bad(DOMID));
}

#[test]
fn frontend_handshake_and_orderly_close() {
    let (mut c, xsd, clock) = setup();
    let mut f = Frontend::new(vif(&xsd));
    let watches_before = xsd.borrow().watch_count(DOMID);
    f.switch(&mut c, State::Initialising).unwrap();
    c.waiter().hook = Some(backend_follows("1", b"2"));
    let deadline = clock.now_ns() + 1_000_000_000;
    assert_eq!(
        f.wait_backend(&mut c, deadline, |s| s == State::InitWait),
        Ok(State::InitWait)
    );
    f.switch(&mut c, State::Connected).unwrap();
    c.waiter().hook = Some(backend_follows("4", b"4"));
    assert_eq!(
        f.wait_backend(&mut c, deadline, |s| s == State::Connected),
        Ok(State::Connected)
    );
    assert_eq!(
        f.switch(&mut c, State::Initialised),
        Err(FrontendError::BadTransition {
            from: State::Connected,
            to: State::Initialised
        })
    );
    assert_eq!(
        xsd.borrow()
            .tool_read("/local/domain/1/device/vif/0/state")
            .unwrap(),
        b"4",
        "a refused change writes nothing"
    );
    c.waiter().hook = Some(backend_follows("5", b"6"));
    f.close(&mut c, deadline).unwrap();
    assert_eq!(f.state(), State::Closed);
    assert_eq!(
        xsd.borrow()
            .tool_read("/local/domain/1/device/vif/0/state")
            .unwrap(),
        b"6"
    );
    assert!(clock.now_ns() < deadline, "did not wait out the deadline");
    assert_eq!(xsd.borrow().watch_count(DOMID), watches_before, "unwatched");
}

#[test]
fn frontend_sees_a_backend_go_away_without_waiting_out_the_deadline() {
    let (mut c, xsd, clock) = setup();
    let mut f = Frontend::new(vif(&xsd));
    f.switch(&mut c, State::Initialising).unwrap();
    let gone_at = clock.now_ns() + 10_000_000;
    c.waiter().hook = Some(Box::new(move |x: &mut Xenstored, now| {
        if now >= gone_at
            && x.tool_read("/local/domain/0/backend/vif/1/0/state")
                .is_some()
        {
            x.tool_rm("/local/domain/0/backend/vif/1/0");
        }
    }));
    let deadline = clock.now_ns() + 2_000_000_000;
    assert_eq!(
        f.wait_backend(&mut c, deadline, |s| s == State::InitWait),
        Err(FrontendError::BackendGone)
    );
    assert!(clock.now_ns() < gone_at + 5_000_000);
    // closing against a vanished backend still ends Closed, promptly
    f.close(&mut c, deadline).unwrap();
    assert_eq!(f.state(), State::Closed);
}

#[test]
fn frontend_times_out_on_a_stuck_backend_and_polls_changes() {
    let (mut c, xsd, clock) = setup();
    let mut f = Frontend::new(vif(&xsd));
    f.switch(&mut c, State::Initialising).unwrap();
    let deadline = clock.now_ns() + 30_000_000;
    assert_eq!(
        f.wait_backend(&mut c, deadline, |s| s == State::Connected),
        Err(FrontendError::Timeout(State::Initialising))
    );
    assert!(clock.now_ns() >= deadline);
    // main-loop style: nothing, then a change, then the backend vanishing
    assert_eq!(f.poll_backend(&mut c).unwrap(), None);
    xsd.borrow_mut()
        .tool_write("/local/domain/0/backend/vif/1/0/state", b"5");
    xsd.borrow_mut().process(); // the daemon runs on its own in real life
    assert_eq!(f.poll_backend(&mut c).unwrap(), Some(Some(State::Closing)));
    xsd.borrow_mut().tool_rm("/local/domain/0/backend/vif/1/0");
    xsd.borrow_mut().process();
    assert_eq!(f.poll_backend(&mut c).unwrap(), Some(None));
}

#[test]
fn frontend_does_not_resurrect_a_removed_device() {
    let (mut c, xsd, _) = setup();
    let mut f = Frontend::new(vif(&xsd));
    f.switch(&mut c, State::Initialising).unwrap();
    xsd.borrow_mut().tool_rm("/local/domain/1/device/vif/0");
    assert_eq!(
        f.switch(&mut c, State::Connected),
        Err(FrontendError::DeviceGone)
    );
    assert!(xsd
        .borrow()
        .tool_read("/local/domain/1/device/vif/0/state")
        .is_none());
    assert_eq!(f.state(), State::Initialising);
}

#[test]
fn a_shutdown_request_during_a_backend_wait_is_not_lost() {
    let (mut c, xsd, clock) = setup();
    xenbus::control_init(&mut c).unwrap();
    while c.poll_event().unwrap().is_some() {} // the initial fire
    let dev = vif(&xsd);
    let at = clock.now_ns() + 5_000_000;
    let mut sent = false;
    c.waiter().hook = Some(Box::new(move |x: &mut Xenstored, now| {
        if now >= at && !sent {
            x.tool_write("/local/domain/1/control/shutdown", b"reboot");
            sent = true;
        }
    }));
    // the Frontend's wait leaves others' events queued
    let mut f = Frontend::new(dev);
    let _ = f.wait_backend(&mut c, clock.now_ns() + 20_000_000, |s| {
        s == State::Connected
    });
    let ev = c
        .poll_event()
        .unwrap()
        .expect("shutdown event still queued");
    assert_eq!(ev.token, xenbus::SHUTDOWN_TOKEN);
    assert_eq!(xenbus::take_request(&mut c).unwrap(), Some(Request::Reboot));
    // what is left: at most our own acknowledgement firing the shutdown
    // watch again; the waits took or discarded their own events
    while let Some(ev) = c.poll_event().unwrap() {
        assert_eq!(ev.token, xenbus::SHUTDOWN_TOKEN);
    }
    assert_eq!(xenbus::take_request(&mut c).unwrap(), None, "acknowledged");
}

#[test]
fn stats_count_requests_and_their_round_trips() {
    let (mut c, _, _) = setup();
    let before = c.stats;
    c.write("data/a", b"1").unwrap();
    assert_eq!(c.read("data/nope"), Err(Error::Xs(Errno::ENOENT)));
    assert_eq!(
        c.stats.requests,
        before.requests + 2,
        "a failed request counts too"
    );
    // the simulated daemon answers after the client's first wait: time passes
    assert!(c.stats.request_ns > before.request_ns, "{:?}", c.stats);
}

// ---- batches: many requests, one round trip ----

fn nodes(n: usize, value_len: usize) -> Vec<(String, Vec<u8>)> {
    (0..n)
        .map(|i| {
            (
                format!("data/b{}", i),
                vec![b'a' + (i % 26) as u8; value_len],
            )
        })
        .collect()
}

fn refs(v: &[(String, Vec<u8>)]) -> Vec<(&str, &[u8])> {
    v.iter().map(|(p, x)| (p.as_str(), x.as_slice())).collect()
}

/// Every node of `n` holds its value in the daemon.
fn assert_written(xsd: &Rc<RefCell<Xenstored>>, n: &[(String, Vec<u8>)]) {
    for (p, v) in n {
        let got = xsd.borrow().tool_read(&format!("/local/domain/1/{}", p));
        assert_eq!(got.as_ref(), Some(v), "{}", p);
    }
}

#[test]
fn a_batch_of_writes_waits_once_for_all_its_replies() {
    let (mut c, xsd, _) = setup();
    let n = nodes(12, 8);
    let (w0, r0) = (c.waiter().wakeups, c.stats.requests);
    c.write_all(&refs(&n)).unwrap();
    assert_eq!(c.waiter().wakeups - w0, 1, "one round trip, not twelve");
    assert_eq!(c.stats.requests - r0, 12);
    assert_written(&xsd, &n);
    // one at a time, the same writes wait once each
    let w1 = c.waiter().wakeups;
    for (p, v) in &n {
        c.write(p, v).unwrap();
    }
    assert_eq!(c.waiter().wakeups - w1, 12);
}

#[test]
fn a_batch_bigger_than_the_ring_goes_in_as_the_daemon_reads() {
    let (mut c, xsd, _) = setup();
    // 16 writes of ~220 bytes: over three times the 1 KiB request ring
    let n = nodes(16, 200);
    c.write_all(&refs(&n)).unwrap();
    assert_written(&xsd, &n);
    assert_eq!(c.read("data/b15").unwrap(), n[15].1);
}

#[test]
fn more_nodes_than_a_batch_go_in_batches_and_a_batch_over_the_limit_is_refused() {
    let (mut c, xsd, _) = setup();
    let n = nodes(40, 4);
    let w0 = c.waiter().wakeups;
    c.write_all(&refs(&n)).unwrap();
    assert_eq!(c.waiter().wakeups - w0, 3, "16 + 16 + 8");
    assert_eq!(
        xsd.borrow()
            .tool_read("/local/domain/1/data/b39")
            .as_deref(),
        Some(&b"nnnn"[..])
    );
    let reqs: Vec<(Kind, u32, &[u8])> = (0..17)
        .map(|_| (Kind::Read, 0, &b"data/b0\0"[..]))
        .collect();
    let before = xsd.borrow().requests;
    assert_eq!(c.requests(&reqs), Err(Error::TooBig));
    assert_eq!(xsd.borrow().requests, before, "nothing sent");
}

#[test]
fn a_failed_write_in_a_batch_is_the_answer_and_the_rest_of_it_is_written() {
    let (mut c, xsd, _) = setup();
    xsd.borrow_mut().tool_write("/secret", b"s");
    xsd.borrow_mut().tool_set_perms("/secret", &[(0, 'n')]);
    let r = c.write_all(&[("data/x", b"1"), ("/secret", b"x"), ("data/y", b"2")]);
    assert_eq!(r, Err(Error::Xs(Errno::EACCES)));
    assert_eq!(c.read("data/x").unwrap(), b"1");
    assert_eq!(c.read("data/y").unwrap(), b"2");
    assert_eq!(
        xsd.borrow().tool_read("/secret").as_deref(),
        Some(&b"s"[..])
    );
    // mixed kinds: each request gets its own answer, in order
    let got = c
        .requests(&[
            (Kind::Read, 0, b"data/x\0"),
            (Kind::Read, 0, b"data/nope\0"),
            (Kind::Read, 0, b"data/y\0"),
        ])
        .unwrap();
    assert_eq!(
        got,
        vec![
            Ok(b"1".to_vec()),
            Err(Error::Xs(Errno::ENOENT)),
            Ok(b"2".to_vec())
        ]
    );
}

#[test]
fn a_batch_in_a_transaction_is_seen_at_commit() {
    let (mut c, xsd, _) = setup();
    c.transaction(|c, t| {
        c.write_all_tx(t, &[("data/t1", b"a"), ("data/t2", b"b")])?;
        assert_eq!(
            xsd.borrow().tool_read("/local/domain/1/data/t1"),
            None,
            "not before the commit"
        );
        Ok(())
    })
    .unwrap();
    assert_eq!(c.read("data/t2").unwrap(), b"b");
}

#[test]
fn a_state_switch_is_three_round_trips_and_no_shutdown_request_is_one_read() {
    let (mut c, xsd, _) = setup();
    let mut f = Frontend::new(vif(&xsd));
    let w0 = c.waiter().wakeups;
    f.switch(&mut c, State::Initialising).unwrap();
    // transaction start, the read and the write together, the commit
    assert_eq!(c.waiter().wakeups - w0, 3);
    assert_eq!(
        xsd.borrow()
            .tool_read("/local/domain/1/device/vif/0/state")
            .as_deref(),
        Some(&b"1"[..])
    );
    xenbus::control_init(&mut c).unwrap();
    let r0 = c.stats.requests;
    assert_eq!(xenbus::take_request(&mut c).unwrap(), None);
    assert_eq!(c.stats.requests - r0, 1, "a plain read, no transaction");
}

#[test]
fn a_batch_of_kinds_with_watches_is_one_round_trip() {
    let (mut c, xsd, _) = setup();
    vif(&xsd);
    let w0 = c.waiter().wakeups;
    let got = c
        .batch(&[
            Op::Write("data/a", b"1"),
            Op::Watch("data/a", "tok-a"),
            Op::Read("data/a"),
            Op::Directory("device/vif"),
            Op::Read("data/nope"),
        ])
        .unwrap();
    assert_eq!(c.waiter().wakeups - w0, 1, "one round trip for five kinds");
    assert!(got[0].is_ok() && got[1].is_ok(), "{:?}", got);
    assert_eq!(got[2].as_deref(), Ok(&b"1"[..]));
    assert_eq!(
        xenstore::client::entries(got[3].as_ref().unwrap()).unwrap(),
        vec!["0"]
    );
    assert_eq!(got[4], Err(Error::Xs(Errno::ENOENT)));
    // the watch is registered: its first event and a later write's arrive
    assert!(c.wait_event_for("tok-a", u64::MAX).unwrap().is_some());
    xsd.borrow_mut().tool_write("/local/domain/1/data/a", b"2");
    assert!(c.wait_event_for("tok-a", u64::MAX).unwrap().is_some());
    // a watch the daemon refuses (EINVAL: no such path) is forgotten
    // again, and the token is free for another watch
    let got = c
        .batch(&[Op::Watch("data//x", "tok-s"), Op::Read("data/a")])
        .unwrap();
    assert_eq!(got[0], Err(Error::Xs(Errno::EINVAL)));
    assert_eq!(got[1].as_deref(), Ok(&b"2"[..]));
    assert!(
        c.watch("data/b", "tok-s").is_ok(),
        "the token is free again"
    );
}

#[test]
fn devices_of_two_kinds_are_read_in_one_round_trip() {
    let (mut c, xsd, _) = setup();
    vif(&xsd);
    {
        let mut x = xsd.borrow_mut();
        for k in ["backend", "backend-id"] {
            let v: &[u8] = if k == "backend" {
                b"/local/domain/0/backend/vbd/1/51728"
            } else {
                b"0"
            };
            x.tool_write(&format!("/local/domain/1/device/vbd/51728/{}", k), v);
        }
    }
    let got = c
        .batch(&[
            Op::Directory("device/vif"),
            Op::Directory("device/vbd"),
            Op::Directory("device/9pfs"),
        ])
        .unwrap()
        .into_iter();
    let mut ids = Vec::new();
    for (kind, listed) in ["vif", "vbd", "9pfs"].into_iter().zip(got) {
        ids.extend(xenbus::device_ids(kind, listed).unwrap());
    }
    assert_eq!(ids.len(), 2, "no 9pfs directory: none of them");
    let w0 = c.waiter().wakeups;
    let devs = xenbus::read_devices(&mut c, &ids).unwrap();
    assert_eq!(c.waiter().wakeups - w0, 1);
    assert_eq!(devs[0].path, "device/vif/0");
    assert_eq!(devs[1].path, "device/vbd/51728");
    assert_eq!(devs[1].backend, "/local/domain/0/backend/vbd/1/51728");
    assert_eq!(devs[1].mac, None);
    // an entry that is no device id is refused, as `enumerate` does
    assert!(xenbus::device_ids("vif", Ok(b"0\0../x\0".to_vec())).is_err());
}

#[test]
fn keys_and_a_state_switch_commit_together_and_a_new_watch_reads_at_once() {
    let (mut c, xsd, _) = setup();
    let mut f = Frontend::new(vif(&xsd));
    f.switch(&mut c, State::Initialising).unwrap();
    xsd.borrow_mut()
        .tool_write("/local/domain/0/backend/vif/1/0/state", b"2");
    // the backend's state is watched and read in one round trip, and a
    // state that is already right ends the wait there
    let w0 = c.waiter().wakeups;
    let s = f
        .wait_backend(&mut c, u64::MAX, |s| s == State::InitWait)
        .unwrap();
    assert_eq!(s, State::InitWait);
    assert_eq!(c.waiter().wakeups - w0, 1);
    // ring keys and Connected: the transaction's start, one batch, the commit
    let w0 = c.waiter().wakeups;
    f.switch_with(
        &mut c,
        State::Connected,
        &[
            ("device/vif/0/tx-ring-ref", b"8"),
            ("device/vif/0/rx-ring-ref", b"9"),
        ],
    )
    .unwrap();
    assert_eq!(c.waiter().wakeups - w0, 3);
    let x = xsd.borrow();
    assert_eq!(
        x.tool_read("/local/domain/1/device/vif/0/state").as_deref(),
        Some(&b"4"[..])
    );
    assert_eq!(
        x.tool_read("/local/domain/1/device/vif/0/rx-ring-ref")
            .as_deref(),
        Some(&b"9"[..])
    );
    drop(x);
    // a removed device is not brought back, keys included
    xsd.borrow_mut().tool_rm("/local/domain/1/device/vif/0");
    let mut g = Frontend::new(f.dev.clone());
    assert_eq!(
        g.switch_with(
            &mut c,
            State::Initialising,
            &[("device/vif/0/tx-ring-ref", b"8")]
        ),
        Err(FrontendError::DeviceGone)
    );
    assert_eq!(
        xsd.borrow()
            .tool_read("/local/domain/1/device/vif/0/tx-ring-ref"),
        None
    );
}
