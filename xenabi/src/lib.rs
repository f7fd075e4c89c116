//! The Xen public ABI, defined once for every crate (see DESIGN.md): hypercall
//! numbers and `#[repr(C)]` layouts from xen/include/public, with layout tests,
//! and the small `hal` interface the drivers are written against.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod hal;
