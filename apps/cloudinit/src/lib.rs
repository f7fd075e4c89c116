//! The cloud-init app's protocol logic, sans-IO and host-tested: the
//! metadata sources behind one trait (`source`: `ec2`, with `imds` its
//! single-key view; `openstack` and `nocloud` over `files`; `select`
//! choosing between them), the HTTP/1.1 client codec (`http`, `exchange`,
//! `fetch`), user-data (`userdata`, `gzip`, `cloudconfig` over the `yaml`
//! subset), SSH public-key validation (`sshkey`, with `sha256` for
//! fingerprints) and the console/XenStore report (`report`). The runtime
//! drives it over smoltcp; the tests drive it over simulated services.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod addr;
pub mod cloudconfig;
pub mod ec2;
mod ecpoint;
pub mod exchange;
pub mod fetch;
pub mod files;
pub mod gzip;
pub mod http;
pub mod imds;
pub mod json;
pub mod netconfig;
pub mod nocloud;
pub mod openstack;
pub mod report;
pub mod retry;
pub mod select;
pub mod sha256;
pub mod source;
pub mod sshkey;
pub mod userdata;
pub mod yaml;
