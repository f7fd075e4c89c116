//! The cloud-init app's protocol logic, sans-IO and host-tested: the HTTP
//! client codec, the IMDS flow, SSH public-key validation and fingerprints.
//! The kernel drives it over smoltcp.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod http;
pub mod imds;
pub mod options;
pub mod sha256;
pub mod sshkey;
