//! 2-level event channels: the upcall handler and the kernel's `EventChannel`.
//!
//! The upcall (an IDT vector, registered as the HVM callback "vector" type)
//! moves pending, unmasked ports from shared_info into `FIRED` and clears them
//! there. Events are wakeups, not work: every owner looks at its ring on
//! every turn anyway. `begin_turn` moves what fired into `TURN`, where owners
//! `take_pending` it during the turn; what nobody took is dropped at the next
//! turn, so an event whose owner is gone (a closed device, a broken XenStore
//! connection) cannot keep the idle loop from halting. A wait inside a turn
//! (a XenStore reply) moves what woke it into `DEFERRED` (`defer_fired`): its
//! owner may already have run this turn, so the main loop's `block_until`
//! does not sleep while anything is deferred: the next turn sees it. (Taking
//! it into `TURN` instead lost netfront's wakeup whenever a XenStore write
//! followed its poll in the same turn: the guest slept through its RX.)

use core::sync::atomic::{AtomicU64, Ordering};

use xenabi::event_channel as ev;
use xenabi::hal::{DomId, EventChannel, EvtchnError, Port};
use xenabi::shared_info as si;

use super::hypercall;

/// The IDT vector Xen raises for event channels (HVM callback "vector").
pub const UPCALL_VECTOR: u8 = 0xf3;

const WORDS: usize = 64; // 64 x 64 = 4096 ports (2-level ABI on x86-64)

static FIRED: [AtomicU64; WORDS] = [const { AtomicU64::new(0) }; WORDS];
/// What fired before this turn began, for its owners to take.
static TURN: [AtomicU64; WORDS] = [const { AtomicU64::new(0) }; WORDS];
/// What woke a wait inside this turn: for the next turn's owners.
static DEFERRED: [AtomicU64; WORDS] = [const { AtomicU64::new(0) }; WORDS];
/// Upcalls taken, for the counters.
pub static UPCALLS: AtomicU64 = AtomicU64::new(0);
/// Notifications we sent, for the counters.
pub static NOTIFIES: AtomicU64 = AtomicU64::new(0);

/// Mask every port: we unmask only the ports we use.
pub fn mask_all() {
    let Some(s) = super::shared_info() else {
        return;
    };
    for w in 0..WORDS {
        s.write_u64(si::EVTCHN_MASK_OFFSET + w * 8, !0);
    }
}

/// The upcall: runs with interrupts off on its own IST stack.
pub fn upcall() {
    let Some(s) = super::shared_info() else {
        return;
    };
    UPCALLS.fetch_add(1, Ordering::Relaxed);
    let vcpu0 = si::VCPU_INFO_OFFSET;
    s.write_u8(vcpu0 + si::VCPU_UPCALL_PENDING_OFFSET, 0);
    let mut sel = s.swap_u64(vcpu0 + si::VCPU_PENDING_SEL_OFFSET, 0);
    while sel != 0 {
        let w = sel.trailing_zeros() as usize;
        sel &= sel - 1;
        if w >= WORDS {
            continue;
        }
        let pending = s.read_u64(si::EVTCHN_PENDING_OFFSET + w * 8);
        let mask = s.read_u64(si::EVTCHN_MASK_OFFSET + w * 8);
        let fire = pending & !mask;
        if fire != 0 {
            s.fetch_and_u64(si::EVTCHN_PENDING_OFFSET + w * 8, !fire);
            FIRED[w].fetch_or(fire, Ordering::AcqRel);
        }
    }
}

/// Has anything fired since the turn began, or been deferred by a wait?
/// (The main loop must not sleep then.)
pub fn any_pending() -> bool {
    FIRED
        .iter()
        .chain(DEFERRED.iter())
        .any(|w| w.load(Ordering::Acquire) != 0)
}

/// Has anything fired since the last wait woke? (A wait inside a turn
/// sleeps unless so.)
pub fn any_fired() -> bool {
    FIRED.iter().any(|w| w.load(Ordering::Acquire) != 0)
}

/// A new turn: what fired or was deferred is for this turn's owners; what
/// the last turn's owners did not take is forgotten.
pub fn begin_turn() {
    for w in 0..WORDS {
        let t = FIRED[w].swap(0, Ordering::AcqRel) | DEFERRED[w].swap(0, Ordering::AcqRel);
        TURN[w].store(t, Ordering::Release);
    }
}

/// A wait inside a turn (a XenStore reply, a backend's state) woke up:
/// keep what fired for the owners (this turn's, or the next's), and let the
/// wait's next sleep sleep.
pub fn defer_fired() {
    for w in 0..WORDS {
        let f = FIRED[w].swap(0, Ordering::AcqRel);
        if f != 0 {
            DEFERRED[w].fetch_or(f, Ordering::AcqRel);
        }
    }
}

/// Test and clear: did `port` fire (this turn or since)?
pub fn take_pending(port: Port) -> bool {
    let (w, b) = (port as usize / 64, port % 64);
    if w >= WORDS {
        return false;
    }
    let bit = 1u64 << b;
    let turn = TURN[w].fetch_and(!bit, Ordering::AcqRel) & bit != 0;
    let deferred = DEFERRED[w].fetch_and(!bit, Ordering::AcqRel) & bit != 0;
    let fired = FIRED[w].fetch_and(!bit, Ordering::AcqRel) & bit != 0;
    turn || deferred || fired
}

pub fn notify(port: Port) {
    NOTIFIES.fetch_add(1, Ordering::Relaxed);
    let mut send = ev::EvtchnSend { port };
    hypercall::evtchn_send(&mut send);
}

pub fn unmask(port: Port) {
    let mut u = ev::EvtchnUnmask { port };
    hypercall::evtchn_unmask(&mut u);
}

pub fn bind_virq(virq: u32) -> Result<Port, EvtchnError> {
    let mut b = ev::EvtchnBindVirq {
        virq,
        vcpu: 0,
        port: 0,
    };
    let rc = hypercall::evtchn_bind_virq(&mut b);
    if rc < 0 {
        return Err(EvtchnError::Xen(rc as i32));
    }
    Ok(b.port)
}

/// The kernel's event channels, as drivers see them.
#[derive(Clone, Copy)]
pub struct XenEvents;

impl EventChannel for XenEvents {
    fn alloc_unbound(&mut self, remote: DomId) -> Result<Port, EvtchnError> {
        let mut a = ev::EvtchnAllocUnbound {
            dom: xenabi::xen::DOMID_SELF,
            remote_dom: remote,
            port: 0,
        };
        let rc = hypercall::evtchn_alloc_unbound(&mut a);
        if rc < 0 {
            return Err(EvtchnError::Xen(rc as i32));
        }
        Ok(a.port)
    }

    fn close(&mut self, port: Port) {
        let mut c = ev::EvtchnClose { port };
        hypercall::evtchn_close(&mut c);
        take_pending(port);
    }

    fn notify(&mut self, port: Port) {
        notify(port)
    }

    fn unmask(&mut self, port: Port) {
        unmask(port)
    }

    fn take_pending(&mut self, port: Port) -> bool {
        take_pending(port)
    }
}
