//! The cloud-init app's protocol logic, sans-IO and host-tested: the kernel
//! command line (`options`), the HTTP/1.1 client codec (`http`), the IMDS
//! flow (`imds`), SSH public-key validation (`sshkey`, with `sha256` for
//! fingerprints) and the console/XenStore report (`report`). The kernel
//! drives it over smoltcp; the tests drive it over simulated services.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

mod ecpoint;
pub mod addr;
pub mod exchange;
pub mod fetch;
pub mod http;
pub mod imds;
pub mod report;
pub mod sha256;
pub mod sshkey;
