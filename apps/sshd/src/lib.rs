//! The appliance's SSH server, sans-IO: one `Connection` per TCP stream.
//! The SSH-2 transport is our own (as dropbear and TinySSH do it) over
//! RustCrypto primitives, with a small fixed set of algorithms:
//! curve25519-sha256 key exchange with strict kex, an ssh-ed25519 host key,
//! chacha20-poly1305@openssh.com and aes256-gcm@openssh.com. Public-key
//! authentication only, for one user and the key(s) the metadata service
//! handed over (ed25519, RSA with SHA-2, ECDSA P-256); one session channel
//! whose commands (`shell`) the host answers through `Request`s, ended with
//! exit-status, EOF and CLOSE.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod auth;
pub mod channel;
pub mod cipher;
pub mod conn;
pub mod hostkey;
pub mod kex;
pub mod msg;
pub mod packet;
pub mod pubkey;
pub mod rng;
pub mod shell;
#[cfg(any(test, feature = "test-client"))]
pub mod testclient;
#[cfg(test)]
mod tests;
pub mod transport;
pub mod userauth;
pub mod wire;

pub use auth::{AuthorizedKey, Policy};
pub use conn::{Connection, Note};
pub use hostkey::HostKey;
pub use shell::Request;
