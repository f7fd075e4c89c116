//! xen.h: hypercall numbers, domain ids, console_io.

pub const HYPERVISOR_MEMORY_OP: u32 = 12;
pub const HYPERVISOR_XEN_VERSION: u32 = 17;
pub const HYPERVISOR_CONSOLE_IO: u32 = 18;
pub const HYPERVISOR_GRANT_TABLE_OP: u32 = 20;
pub const HYPERVISOR_VCPU_OP: u32 = 24;
pub const HYPERVISOR_SCHED_OP: u32 = 29;
pub const HYPERVISOR_EVENT_CHANNEL_OP: u32 = 32;
pub const HYPERVISOR_HVM_OP: u32 = 34;

pub const DOMID_FIRST_RESERVED: u16 = 0x7ff0;
pub const DOMID_SELF: u16 = 0x7ff0;
pub const DOMID_IO: u16 = 0x7ff1;
pub const DOMID_XEN: u16 = 0x7ff2;

pub const CONSOLEIO_WRITE: u32 = 0;
pub const CONSOLEIO_READ: u32 = 1;

/// Hypercall stubs are 32 bytes apart in the hypercall page.
pub const HYPERCALL_STUB_SIZE: usize = 32;
