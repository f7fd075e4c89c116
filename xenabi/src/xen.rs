//! xen.h: hypercall numbers (re-exported from `hypercall`), domain ids,
//! console_io.

pub use crate::hypercall::*;

pub const DOMID_FIRST_RESERVED: u16 = 0x7ff0;
pub const DOMID_SELF: u16 = 0x7ff0;
pub const DOMID_IO: u16 = 0x7ff1;
pub const DOMID_XEN: u16 = 0x7ff2;
pub const DOMID_COW: u16 = 0x7ff3;
pub const DOMID_INVALID: u16 = 0x7ff4;
pub const DOMID_IDLE: u16 = 0x7fff;

pub const CONSOLEIO_WRITE: u32 = 0;
pub const CONSOLEIO_READ: u32 = 1;

/// Event channels in the 2-level ABI with 64-bit longs: 64 * 64.
pub const NR_EVENT_CHANNELS: u32 = 4096;
