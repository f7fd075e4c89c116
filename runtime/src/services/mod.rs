//! The appliance's services, each polled by the scheduler in lib.rs.

pub mod bench;
pub mod cloudinit;
pub mod ssh;
pub mod status;
