//! XenStore client and xenbus helpers, in safe Rust and independent of the
//! transport: the kernel hands in the ring page (a `SharedMem`) and a `Wait`
//! (event channel + blocking); the tests hand in the simulator's.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod client;
pub mod events;
pub mod ring;
pub mod wire;
pub mod xenbus;

pub use client::{Client, Error, Op, Polled, Stats, Wait, WatchEvent};
pub use events::{MAX_PENDING_PER_WATCH, MAX_WATCHES};
pub use wire::{Access, Errno, Perm};
