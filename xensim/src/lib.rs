//! A hosted model of Xen for the drivers' tests: memory pages both sides
//! share, a clock, and an in-memory xenstored that serves a guest over the
//! real ring layout. It can misbehave on purpose.
//!
//! Extension points: the grant table, event channels and the netback plug in
//! beside `xenstored` as modules of their own.

pub mod clock;
pub mod grant;
pub mod mem;
pub mod xenstored;

pub use clock::SimClock;
pub use grant::{ArrayGrantTable, SimGrantTable};
pub use mem::{SimMemory, SimPage, SimPageAlloc};
