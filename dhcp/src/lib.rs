//! A sans-IO DHCPv4 client (RFC 2131/2132) that a rogue server cannot
//! wedge: every interval is bounded below, every retry backs off, lease
//! times are sanitised, and a hard ceiling caps what it sends whatever the
//! peers do (`SEND_CEILING` packets per `SEND_WINDOW_NS`).
//!
//! It speaks whole IPv4 packets, as a smoltcp `raw::Socket` opened for
//! (`IpVersion::Ipv4`, `IpProtocol::Udp`) carries them: the raw socket sees
//! every UDP packet, also one unicast to the offered address before the
//! interface has an address, and sends ours from 0.0.0.0 to the broadcast
//! address as they are.
//!
//! # Driver loop
//!
//! ```text
//! let mut dhcp = dhcp::Client::new(mac, hardware_rng_u64());
//! loop {
//!     iface.poll(now, &mut device, &mut sockets);
//!     let raw = sockets.get_mut::<raw::Socket>(raw_handle);
//!     while let Ok(packet) = raw.recv() {
//!         dhcp.receive(now_ns, packet);
//!     }
//!     while let Some(packet) = dhcp.transmit(now_ns) {
//!         let _ = raw.send_slice(&packet); // a full queue: the retransmission covers it
//!     }
//!     while let Some(event) = dhcp.take_event() {
//!         match event {
//!             dhcp::Event::Configured(lease) => { /* set address, prefix, router, MTU */ }
//!             dhcp::Event::Deconfigured(reason) => { /* clear address and routes */ }
//!         }
//!     }
//!     // sleep until the earliest of dhcp.poll_at(), iface.poll_at(), ...
//! }
//! ```
//!
//! `transmit` also runs the lease timers (T1, T2, expiry), so call it when
//! `poll_at` comes even if nothing was received. Time is the caller's
//! monotonic clock in nanoseconds; a clock that steps back only delays
//! things. Values are raw (addresses, peer-chosen text, counters): printing
//! them, quoted, is the caller's job.
//!
//! Not done: INIT-REBOOT (asking for the last address after a reboot: we
//! keep no state across boots), the ARP check and DECLINE of an offered
//! address, RELEASE, option overload (52) and classless routes (121).
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

mod ceiling;
mod client;
mod counters;
mod lease;
mod options;
mod rng;
mod timing;
mod wire;

pub use client::{Client, Event, Phase, Reason};
pub use counters::{Corrected, Counters, Ignore, Ignored, OptionFaults};
pub use lease::{Lease, LeaseTimes, MAX_DNS_SERVERS, MAX_MTU, MIN_MTU};
pub use timing::*;
