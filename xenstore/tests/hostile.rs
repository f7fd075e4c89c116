//! A hostile xenstored: garbage, stray, duplicate and late replies, ring
//! indexes that run backwards or past the ring, silence, a node rewritten
//! without end and floods of watch events. Whatever it does, the client
//! stays bounded in time (deadlines and wakeup counts) and memory (queued
//! events), `control/shutdown` is still seen, and errors say what happened.

mod common;

use std::cell::RefCell;
use std::rc::Rc;

use common::*;
use xenabi::hal::{Clock, SharedMem};
use xenabi::xs_wire as xs;
use xensim::xenstored::{Flood, Misbehave, Xenstored};
use xensim::{SimClock, SimPage};
use xenstore::client::{MAX_MESSAGES_PER_PUMP, MAX_WAKEUPS};
use xenstore::xenbus::{self, Frontend, FrontendError, Request, State};
use xenstore::{Client, Errno, Error, Wait, MAX_PENDING_PER_WATCH, MAX_WATCHES};

const BE_STATE: &str = "/local/domain/0/backend/vif/1/0/state";
const QUEUE_BOUND: usize = MAX_WATCHES * MAX_PENDING_PER_WATCH;
const MS: u64 = 1_000_000;

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
    assert_eq!(c.stats.stray_replies, 1);
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
    // a well-framed answer: this request failed, the connection did not
    assert!(c.broken().is_none());
    assert_eq!(c.read("data/k").unwrap(), b"v");
}

#[test]
fn hostile_daemon_malformed_watch_event_is_dropped() {
    let (mut c, _) = hostile(Misbehave::BadWatchEvent);
    assert_eq!(c.read("data/k").unwrap(), b"v");
    assert_eq!(c.stats.bad_events, 1);
    assert_eq!(c.poll_event().unwrap(), None);
    assert!(c.broken().is_none());
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
        let mut c = Client::new(page.clone(), SimWait::new(xsd, clock));
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

// ---- replies: stray, duplicate, late ----

#[test]
fn a_flood_of_stray_replies_is_dropped_as_it_arrives() {
    let (mut c, _) = hostile(Misbehave::StrayReplies(500));
    assert_eq!(c.read("data/k").unwrap(), b"v");
    assert_eq!(c.stats.stray_replies, 500);
    assert!(c.broken().is_none());
}

#[test]
fn a_duplicate_reply_never_answers_the_next_request() {
    let (mut c, _) = hostile(Misbehave::DuplicateReply);
    assert_eq!(c.read("data/k").unwrap(), b"v");
    assert_eq!(
        c.read("data/j"),
        Err(Error::Xs(Errno::ENOENT)),
        "not the copy"
    );
    assert_eq!(c.stats.stray_replies, 1);
}

#[test]
fn a_late_reply_is_dropped_not_taken_for_the_next() {
    let (mut c, _) = hostile(Misbehave::Late);
    assert_eq!(c.read("data/k"), Err(Error::Timeout));
    // the held "v" arrives first, for the request that gave up on it
    assert_eq!(c.read("data/j"), Err(Error::Xs(Errno::ENOENT)));
    assert_eq!(c.stats.stray_replies, 1);
}

// ---- ring indexes and a daemon that stops ----

fn assert_broken_for_good(c: &mut Client<SimPage, SimWait>, why: &str) {
    let reason = c.broken().expect("broken").to_string();
    assert!(reason.contains(why), "{}", reason);
    assert!(!c.readable(), "a broken connection is never readable");
    assert_eq!(c.poll_events(8), Err(Error::Protocol(reason.clone())));
    assert_eq!(c.read("data/k"), Err(Error::Protocol(reason)));
}

#[test]
fn a_response_producer_running_backwards_breaks_the_connection() {
    let (mut c, _) = hostile(Misbehave::ProdBackwards);
    assert!(matches!(c.read("data/k"), Err(Error::Protocol(m)) if m.contains("corrupt")));
    assert_broken_for_good(&mut c, "corrupt");
}

#[test]
fn a_request_consumer_past_our_producer_breaks_the_connection() {
    let (mut c, _) = hostile(Misbehave::ConsPast);
    assert_eq!(c.read("data/k"), Err(Error::Timeout));
    assert!(matches!(c.read("data/k"), Err(Error::Protocol(m)) if m.contains("corrupt")));
    assert_broken_for_good(&mut c, "corrupt");
}

#[test]
fn a_hung_daemon_costs_each_wait_its_deadline_and_no_more() {
    let (mut c, xsd, clock) = setup();
    let mut f = Frontend::new(vif(&xsd));
    f.switch(&mut c, State::Initialising).unwrap();
    xenbus::control_init(&mut c).unwrap();
    xsd.borrow_mut().hang(true);
    c.timeout_ns = 50 * MS;
    let t0 = clock.now_ns();
    assert_eq!(c.read("data/k"), Err(Error::Timeout));
    assert_eq!(clock.now_ns(), t0 + 50 * MS, "exactly the request timeout");
    // the main loop's poll never waits
    let t1 = clock.now_ns();
    let p = c.poll_events(8).unwrap();
    assert_eq!(clock.now_ns(), t1);
    assert!(!p.more);
    // a longer request timeout is cut to the wait's deadline
    c.timeout_ns = 5_000 * MS;
    let deadline = clock.now_ns() + 30 * MS;
    let r = f.wait_backend(&mut c, deadline, |s| s == State::Connected);
    assert_eq!(r, Err(FrontendError::Timeout(State::Unknown)));
    assert_eq!(clock.now_ns(), deadline);
    // close: the waits end by the deadline; publishing Closed takes at most
    // the request timeout on top (which a hung daemon uses up)
    c.timeout_ns = 20 * MS;
    let deadline = clock.now_ns() + 30 * MS;
    assert!(f.close(&mut c, deadline).is_err());
    assert!(clock.now_ns() <= deadline + 3 * 20 * MS);
    xsd.borrow_mut().hang(false);
    assert!(c.broken().is_none());
    c.write("data/k", b"back").unwrap();
}

// ---- time: the deadline is fixed, and wakeups are counted ----

#[test]
fn a_wait_that_returns_at_once_still_ends() {
    let (mut c, xsd, clock) = setup();
    let mut f = Frontend::new(vif(&xsd));
    f.switch(&mut c, State::Initialising).unwrap();
    c.waiter().step_ns = 0; // the clock never moves: only the count ends waits
    xsd.borrow_mut().misbehave(Misbehave::Silent);
    c.waiter().wakeups = 0;
    assert_eq!(c.read("data/k"), Err(Error::Timeout));
    assert!(c.waiter().wakeups <= MAX_WAKEUPS as u64 + 1);
    let never = clock.now_ns() + 1;
    assert_eq!(c.wait_event_for("nobody", never).unwrap(), None);
    // a backend stuck in Initialising: rounds of read + wait, counted
    c.waiter().wakeups = 0;
    let r = f.wait_backend(&mut c, never, |s| s == State::Connected);
    assert_eq!(r, Err(FrontendError::Timeout(State::Initialising)));
    assert!(
        c.waiter().wakeups <= 3 * MAX_WAKEUPS as u64,
        "{}",
        c.waiter().wakeups
    );
}

fn event_flood(xsd: &Rc<RefCell<Xenstored>>, path: &str, token: &str, distinct: bool) {
    xsd.borrow_mut().flood(Flood::Events {
        domid: DOMID,
        path: path.into(),
        token: token.into(),
        distinct,
    });
}

fn rewrite_flood(xsd: &Rc<RefCell<Xenstored>>, a: &[u8], b: &[u8]) {
    xsd.borrow_mut().flood(Flood::Rewrite {
        path: BE_STATE.into(),
        values: [a.to_vec(), b.to_vec()],
    });
}

#[test]
fn a_backend_rewriting_its_state_cannot_hold_up_connect() {
    let (mut c, xsd, clock) = setup();
    let mut f = Frontend::new(vif(&xsd));
    f.switch(&mut c, State::Initialising).unwrap();
    // Initialising <-> Initialised, never InitWait
    rewrite_flood(&xsd, b"1", b"3");
    let start = clock.now_ns();
    let deadline = start + 200 * MS;
    let r = f.wait_backend(&mut c, deadline, |s| s == State::InitWait);
    assert!(
        matches!(
            r,
            Err(FrontendError::Timeout(
                State::Initialising | State::Initialised
            ))
        ),
        "{:?}",
        r
    );
    assert!(clock.now_ns() <= deadline);
    let writes = xsd.borrow().flood_writes;
    assert!(writes >= 1_000, "a flood: {} writes in 200 ms", writes);
    assert!(c.queued_events() <= QUEUE_BOUND);
    assert!(c.stats.coalesced_events > 0);
}

#[test]
fn close_ends_by_its_deadline_under_a_state_rewrite_flood() {
    let (mut c, xsd, clock) = setup();
    let mut f = Frontend::new(vif(&xsd));
    let watches = xsd.borrow().watch_count(DOMID);
    f.switch(&mut c, State::Initialising).unwrap();
    rewrite_flood(&xsd, b"4", b"2"); // never Closing or Closed
    let deadline = clock.now_ns() + 100 * MS;
    let r = f.close(&mut c, deadline);
    assert!(matches!(r, Err(FrontendError::Timeout(_))), "{:?}", r);
    // Closed is still published, a few flooded requests after the deadline
    assert!(
        clock.now_ns() <= deadline + 50 * MS,
        "{}",
        clock.now_ns() - deadline
    );
    assert_eq!(f.state(), State::Closed);
    assert_eq!(
        xsd.borrow()
            .tool_read("/local/domain/1/device/vif/0/state")
            .unwrap(),
        b"6"
    );
    assert_eq!(xsd.borrow().watch_count(DOMID), watches, "unwatched");
}

// ---- watch events: coalesced, bounded, and shutdown always heard ----

/// The main loop's way: a wakeup, then one budgeted poll. Returns after
/// the shutdown request was taken, or None if it never was in `rounds`.
fn main_loop_until_shutdown(c: &mut Client<SimPage, SimWait>, rounds: usize) -> Option<usize> {
    let mut lost = false;
    for round in 0..rounds {
        let now = c.waiter().now_ns();
        c.waiter().wait(now + MS);
        let p = c.poll_events(QUEUE_BOUND).unwrap();
        assert!(c.queued_events() <= QUEUE_BOUND);
        lost |= p.lost;
        let asked = p.events.iter().any(|e| e.token == xenbus::SHUTDOWN_TOKEN);
        if asked || lost {
            // lost events: re-read what we watch, as the owner must
            lost = false;
            if let Some(r) = xenbus::take_request(c).unwrap() {
                assert_eq!(r, Request::Poweroff);
                return Some(round);
            }
        }
    }
    None
}

fn shutdown_at(c: &mut Client<SimPage, SimWait>, at: u64) {
    let mut sent = false;
    c.waiter().hook = Some(Box::new(move |x: &mut Xenstored, now| {
        if now >= at && !sent {
            sent = true;
            x.tool_write("/local/domain/1/control/shutdown", b"poweroff");
        }
    }));
}

#[test]
fn a_state_rewrite_flood_does_not_hide_a_shutdown_request() {
    let (mut c, xsd, clock) = setup();
    xenbus::control_init(&mut c).unwrap();
    let mut f = Frontend::new(vif(&xsd));
    f.watch_backend(&mut c).unwrap();
    rewrite_flood(&xsd, b"4", b"2");
    shutdown_at(&mut c, clock.now_ns() + 20 * MS);
    let round = main_loop_until_shutdown(&mut c, 200).expect("shutdown heard");
    assert!(round < 40, "heard after {} rounds", round);
    assert_eq!(
        xsd.borrow()
            .tool_read("/local/domain/1/control/shutdown")
            .unwrap(),
        b"",
        "acknowledged under the flood"
    );
}

#[test]
fn an_event_flood_on_distinct_paths_folds_and_keeps_shutdown() {
    let (mut c, xsd, clock) = setup();
    xenbus::control_init(&mut c).unwrap();
    c.watch("device/vif", "devices").unwrap();
    event_flood(&xsd, "device/vif", "devices", true);
    shutdown_at(&mut c, clock.now_ns() + 20 * MS);
    let round = main_loop_until_shutdown(&mut c, 200).expect("shutdown heard");
    assert!(round < 40, "heard after {} rounds", round);
    let flood = xsd.borrow().flood_events;
    assert!(flood > 500, "a flood: {} events", flood);
    assert!(c.stats.overflowed_events > 0);
    // what a fold leaves: one event for the watched path itself
    xsd.borrow_mut().stop_floods();
    let mut seen = Vec::new();
    for _ in 0..10 {
        let now = c.waiter().now_ns();
        c.waiter().wait(now + MS);
        seen.extend(c.poll_events(QUEUE_BOUND).unwrap().events);
    }
    assert!(seen
        .iter()
        .any(|e| e.path == "device/vif" && e.token == "devices"));
}

#[test]
fn a_flood_of_identical_events_is_one_event() {
    let (mut c, xsd, _) = setup();
    c.watch("data/x", "x").unwrap();
    c.poll_events(8).unwrap();
    event_flood(&xsd, "data/x", "x", false);
    for _ in 0..20 {
        c.read("data/k").unwrap_err();
    }
    assert_eq!(c.queued_events(), 1);
    assert!(c.stats.coalesced_events > 100);
    assert!(!c.take_lost(), "nothing was lost");
}

#[test]
fn events_for_tokens_never_watched_are_dropped() {
    let (mut c, xsd, _) = setup();
    event_flood(&xsd, "control/shutdown", "forged", true);
    for _ in 0..10 {
        c.read("data/k").unwrap_err();
    }
    assert_eq!(c.queued_events(), 0);
    assert!(c.stats.stray_events > 100);
}

#[test]
fn poll_events_does_a_bounded_amount_of_work() {
    let (mut c, xsd, clock) = setup();
    c.watch("data/x", "x").unwrap();
    event_flood(&xsd, "data/x", "x", false);
    xsd.borrow_mut().process(); // a full ring, and a backlog behind it
    let before = c.stats.coalesced_events;
    let t = clock.now_ns();
    let p = c.poll_events(1).unwrap();
    assert_eq!(clock.now_ns(), t, "never waits");
    assert_eq!(p.events.len(), 1);
    let read = c.stats.coalesced_events - before + 1;
    assert!(read as usize <= MAX_MESSAGES_PER_PUMP, "{}", read);
    // what is left over is said: two tokens pending, one taken per call
    xsd.borrow_mut().stop_floods();
    c.watch("data/y", "y").unwrap();
    c.read("data/k").unwrap_err(); // the initial event and the flood's tail
    let p = c.poll_events(1).unwrap();
    assert!(p.more, "{:?}", p);
    let p = c.poll_events(1).unwrap();
    assert!(!p.more, "{:?}", p);
}

#[test]
fn watches_are_bounded_and_tokens_unique() {
    let (mut c, xsd, _) = setup();
    for i in 0..MAX_WATCHES {
        c.watch("data", &format!("t{}", i)).unwrap();
    }
    assert_eq!(c.watch("data", "one-more"), Err(Error::TooManyWatches));
    assert_eq!(xsd.borrow().watch_count(DOMID), MAX_WATCHES);
    c.unwatch("data", "t0").unwrap();
    assert_eq!(c.watch("data/k", "t1"), Err(Error::TokenInUse));
    c.watch("data", "one-more").unwrap();
}

// ---- values: bounded before anyone prints them ----

#[test]
fn values_from_xenstore_are_bounded() {
    let (mut c, xsd, _) = setup();
    vif(&xsd);
    let dev = "/local/domain/1/device/vif/0";
    xsd.borrow_mut()
        .tool_write(&format!("{}/mac", dev), &[b'a'; 4000]);
    assert_eq!(
        xenbus::enumerate(&mut c, "vif"),
        Err(Error::BadValue {
            node: "device/vif/0/mac".into(),
            reason: "over 17 bytes"
        })
    );
    xsd.borrow_mut()
        .tool_write(&format!("{}/mac", dev), b"00:16:3e:00:00:02");
    xsd.borrow_mut()
        .tool_write(&format!("{}/backend", dev), b"/local/\x1b[2J\n");
    assert!(matches!(
        xenbus::enumerate(&mut c, "vif"),
        Err(Error::BadValue {
            reason: "not an absolute path",
            ..
        })
    ));
    xsd.borrow_mut().tool_write(
        &format!("{}/backend", dev),
        b"/local/domain/0/backend/vif/1/0",
    );
    xsd.borrow_mut()
        .tool_write(&format!("{}/backend-id", dev), b"+0");
    assert!(matches!(
        xenbus::enumerate(&mut c, "vif"),
        Err(Error::BadValue {
            reason: "not a domain id",
            ..
        })
    ));
    xsd.borrow_mut()
        .tool_write(&format!("{}/backend-id", dev), b"0");
    xsd.borrow_mut()
        .tool_write("/local/domain/1/device/vif/\x1b]0;owned\x07", b"");
    assert_eq!(
        xenbus::enumerate(&mut c, "vif"),
        Err(Error::BadValue {
            node: "device/vif".into(),
            reason: "entry is not a device id"
        })
    );
    // the shutdown request we do not know is kept short
    let long = "suspend".repeat(500);
    xsd.borrow_mut()
        .tool_write("/local/domain/1/control/shutdown", long.as_bytes());
    match xenbus::take_request(&mut c).unwrap() {
        Some(Request::Unsupported(s)) => {
            assert_eq!(s.len(), xenbus::REQUEST_TEXT_MAX);
            assert!(long.starts_with(&s));
        }
        r => panic!("{:?}", r),
    }
    xsd.borrow_mut().tool_write("/local/domain/1/domid", b"1");
    assert_eq!(xenbus::read_domid(&mut c), Ok(1));
    xsd.borrow_mut()
        .tool_write("/local/domain/1/domid", b"1\n\x1b[31m");
    assert!(matches!(
        xenbus::read_domid(&mut c),
        Err(Error::BadValue { .. })
    ));
}

// ---- batches ----

#[test]
fn duplicate_and_stray_replies_during_a_batch_are_dropped() {
    let (mut c, xsd) = hostile(Misbehave::DuplicateReply);
    xsd.borrow_mut().misbehave(Misbehave::WrongReqId);
    c.write_all(&[("data/a", b"1"), ("data/b", b"2"), ("data/c", b"3")])
        .unwrap();
    assert_eq!(c.stats.stray_replies, 2);
    assert_eq!(c.read("data/c").unwrap(), b"3");
}

#[test]
fn a_late_reply_inside_a_batch_still_counts_and_a_hung_daemon_times_it_out() {
    // held back until the daemon handles the next request: in a batch that
    // is the batch's own next request, so the batch completes
    let (mut c, xsd) = hostile(Misbehave::Late);
    c.write_all(&[("data/a", b"1"), ("data/b", b"2")]).unwrap();
    assert_eq!(c.stats.stray_replies, 0);
    // a daemon that stops: the batch ends at its deadline, not broken
    xsd.borrow_mut().hang(true);
    assert_eq!(
        c.write_all(&[("data/a", b"3"), ("data/b", b"4")]),
        Err(Error::Timeout)
    );
    assert!(c.broken().is_none(), "a timeout is not a broken connection");
    // it wakes up: the old batch's replies are stray, the read gets its own
    xsd.borrow_mut().hang(false);
    assert_eq!(c.read("data/b").unwrap(), b"4");
    assert_eq!(c.stats.stray_replies, 2);
}
