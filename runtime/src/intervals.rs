//! Every interval the appliance waits on, in one place, with why. Times in
//! nanoseconds of the platform clock.

const MS: u64 = 1_000_000;
const S: u64 = 1_000 * MS;

/// Rounds of services-then-stack per turn: a socket a service just wrote to
/// sends in the same turn, but a stack that stays due cannot hold the turn
/// (XenStore and events are processed at the start of every turn).
pub const MAX_ROUNDS: usize = 4;
/// A turn that moved nothing while something asked for "now" sleeps at
/// least this long: whatever asked is waiting for an event (a TX ring
/// slot, a backend) that will wake us, and must not make the loop spin.
pub const STALL_SLEEP_NS: u64 = 10 * MS;
/// XenStore watch events handled per turn; the rest wait for the next turn
/// (which comes at once: the ring is still readable).
pub const STORE_EVENTS_PER_TURN: usize = 32;

/// `data/netfront/stats` is rewritten when the counters changed, at most
/// this often: dom0 tools read it, nobody needs it per packet.
pub const STATS_PUBLISH_NS: u64 = 5 * S;
/// Overload (drops, rate limits) is said on the console at most this often.
pub const OVERLOAD_REPORT_NS: u64 = 10 * S;

/// After a vif failed to connect or was taken down, the first retry waits
/// this long and each further one twice as long, up to the cap: a backend
/// that fails every time costs a connect (and its quarantined pages) per
/// minute, not per turn.
pub const VIF_RETRY_FIRST_NS: u64 = S;
pub const VIF_RETRY_CAP_NS: u64 = 60 * S;

/// DISCOVER every 4 s, not faster (RFC 2131 4.1; dnsmasq offers 3 s after a
/// DISCOVER because it first checks the address is free).
pub const DHCP_DISCOVER_NS: u64 = 4 * S;
pub const DHCP_REQUEST_NS: u64 = 2 * S;
/// "Still waiting for DHCP" lines: the first after this, then doubling.
pub const DHCP_WAIT_REPORT_FIRST_NS: u64 = 2 * S;
pub const DHCP_WAIT_REPORT_CAP_NS: u64 = 60 * S;

/// SSH: a slot whose socket is still closing after this is reset.
pub const SSH_CLOSE_TIMEOUT_NS: u64 = 10 * S;
/// SSH: how often a closing slot is looked at.
pub const SSH_CLOSING_POLL_NS: u64 = 100 * MS;
/// SSH: a connection whose output did not fit the socket, or whose input the
/// server has not taken yet (during key exchange), is looked at again after
/// this: no packet may come to wake us.
pub const SSH_RETRY_NS: u64 = 10 * MS;
/// SSH: a slot's socket that is neither listening nor carrying a connection
/// for this long (a SYN from a spoofed or vanished host) is reset. A real
/// client completes the handshake in one round trip; three seconds allow
/// for two SYN-ACK retransmissions on a lossy link, and a SYN flood from
/// spoofed sources holds the slots for no longer than this after it stops.
pub const SSH_HANDSHAKE_TIMEOUT_NS: u64 = 3 * S;
/// SSH poweroff/reboot: time for the answer to reach the client.
pub const POWER_GRACE_NS: u64 = 1_500 * MS;
