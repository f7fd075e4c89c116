//! The appliance as a program: boot options, network bring-up, the services
//! (cloud-init, SSH, bench) and the one scheduler that polls them. Hosted and
//! safe: the kernel supplies the platform, the tests supply xensim.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod options;
