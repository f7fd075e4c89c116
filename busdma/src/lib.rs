//! bus_dma(9) over Xen grant tables (after OpenBSD's xen(4) bus_dma tag):
//! drivers describe buffers with tags and maps, and the grant table turns
//! DMA segments into grant references a driver puts straight into a ring.
//! Generic over the `xenabi::hal` traits, so the same code runs in the kernel
//! and against the simulator.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod map;
pub mod mem;
pub mod refs;

pub use map::{Direction, DmaError, Map, Segment, Tag};
pub use mem::DmaMem;
pub use refs::RefAllocator;
