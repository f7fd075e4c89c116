//! A hosted model of Xen for the drivers' tests (host-only, plain std): memory
//! pages both sides share, a clock, and an in-memory xenstored that serves a
//! guest over the real ring layout. It can misbehave on purpose.
//!
//! Pieces, and where new ones plug in:
//! - `mem`: pages by frame number. `SimPage` is the guest's `hal::SharedMem`
//!   and, cloned, the peer's view of the same bytes; `SimPageAlloc` is the
//!   guest's `hal::PageAlloc`; `SimMemory` resolves a gfn to its page, which
//!   is how the hypervisor side finds what a grant points at.
//! - `grant`: the hypervisor's copy of one guest's v1 grant table. The guest
//!   side is `hal::GrantTable`; a backend uses `map`/`unmap`/`copy_from`/
//!   `copy_to` (domid and read-only enforced, GTF_reading/writing while
//!   mapped). `active()`, `mapped()` and `misuses()` are the leak and bug
//!   reports tests assert on. `ArrayGrantTable` is a peerless flat table for
//!   benchmarks.
//! - `evtchn`: ports the guest allocates for a backend, pending and mask
//!   bits, send counts each way (for notification-suppression tests).
//! - `clock`: time that tests advance by hand.
//! - `xenstored` and `netback`: simulated backends written against the
//!   handles above. A new backend (a block device, a console) takes clones
//!   of `SimGrantTable`, `SimEvtchn` and pages from `SimMemory`, and is
//!   driven by the test calling its `poll`-style method; misbehaviour knobs
//!   belong on the backend, not here.
//!
//! Handles are `Rc<RefCell<_>>` (one thread, two "domains" taking turns);
//! page bytes sit behind `Arc<Mutex<_>>` so a page can be handed to another
//! thread if a test ever needs a concurrent peer.

pub mod blkback;
pub mod clock;
pub mod evtchn;
pub mod grant;
pub mod mem;
pub mod netback;
pub mod peer;
pub mod xenstored;

pub use blkback::{BlkMisbehave, SimBlkback};
pub use clock::SimClock;
pub use evtchn::SimEvtchn;
pub use grant::{ArrayGrantTable, SimGrantTable};
pub use mem::{SimMemory, SimPage, SimPageAlloc};
