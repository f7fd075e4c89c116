//! A hosted model of Xen for the drivers' tests: memory pages both sides
//! share, a clock, and an in-memory xenstored that serves a guest over the
//! real ring layout. It can misbehave on purpose.
//!
//! Pieces: `mem` (pages by frame number), `grant` (the hypervisor's grant
//! table with peer-side map/copy), `evtchn`, `xenstored`, and `netback`,
//! which plays the backend over all of them.

pub mod clock;
pub mod evtchn;
pub mod grant;
pub mod mem;
pub mod netback;
pub mod xenstored;

pub use clock::SimClock;
pub use evtchn::SimEvtchn;
pub use grant::{ArrayGrantTable, SimGrantTable};
pub use mem::{SimMemory, SimPage, SimPageAlloc};
