//! The appliance's SSH server, sans-IO: one `Connection` per TCP stream,
//! built on `sunset` (no_std). Public-key authentication only, for one user
//! and the key(s) the metadata service handed over; a small command set
//! (`shell`) answered by the host through `Request`s. The kernel moves bytes
//! between smoltcp sockets and `Connection`s; the host tests do the same over
//! loopback TCP with the real OpenSSH client.
//!
//! sunset 0.6's server cannot send a channel EOF/close or an exit status, so
//! a finished command ends the connection itself (OpenSSH prints the output,
//! then "closed by remote host", exit status 255).
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod auth;
pub mod conn;
pub mod hostkey;
pub mod shell;

pub use auth::{AuthorizedKey, Policy};
pub use conn::{Connection, Note};
pub use hostkey::HostKey;
pub use shell::Request;
