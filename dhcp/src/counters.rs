//! What the client sent, received, ignored and corrected: raw numbers for
//! the caller to report.

pub use crate::options::OptionFaults;

/// Why a received packet was ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ignore {
    /// Not a well-formed IPv4 packet carrying a whole UDP datagram.
    Malformed,
    /// UDP checksum wrong.
    BadChecksum,
    /// Not UDP from port 67 to port 68.
    WrongPorts,
    /// Not a BOOTP/DHCP message (short, wrong magic, not Ethernet).
    NotDhcp,
    /// A BOOTREQUEST (another client's, or our own echoed back).
    NotReply,
    /// chaddr is another host's MAC.
    OtherMac,
    /// No (or an unknown) DHCP message type.
    NoMessageType,
    /// Not for the exchange we have open (stale or foreign xid).
    OtherXid,
    /// A valid type, but not one we wait for now (a second OFFER, an ACK
    /// while bound, ...).
    Unexpected,
    /// No server identifier (RFC 2131 requires one in OFFER, ACK and NAK).
    NoServerId,
    /// From a server other than the one we are talking to.
    OtherServer,
    /// yiaddr is not an address a host can use.
    BadAddress,
    /// Subnet mask not contiguous, or /0.
    BadMask,
}

/// Packets ignored, by reason (see [`Ignore`]).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Ignored {
    pub malformed: u64,
    pub bad_checksum: u64,
    pub wrong_ports: u64,
    pub not_dhcp: u64,
    pub not_reply: u64,
    pub other_mac: u64,
    pub no_message_type: u64,
    pub other_xid: u64,
    pub unexpected: u64,
    pub no_server_id: u64,
    pub other_server: u64,
    pub bad_address: u64,
    pub bad_mask: u64,
}

impl Ignored {
    pub(crate) fn count(&mut self, why: Ignore) {
        let c = match why {
            Ignore::Malformed => &mut self.malformed,
            Ignore::BadChecksum => &mut self.bad_checksum,
            Ignore::WrongPorts => &mut self.wrong_ports,
            Ignore::NotDhcp => &mut self.not_dhcp,
            Ignore::NotReply => &mut self.not_reply,
            Ignore::OtherMac => &mut self.other_mac,
            Ignore::NoMessageType => &mut self.no_message_type,
            Ignore::OtherXid => &mut self.other_xid,
            Ignore::Unexpected => &mut self.unexpected,
            Ignore::NoServerId => &mut self.no_server_id,
            Ignore::OtherServer => &mut self.other_server,
            Ignore::BadAddress => &mut self.bad_address,
            Ignore::BadMask => &mut self.bad_mask,
        };
        *c = c.saturating_add(1);
    }

    /// All ignored packets.
    pub fn total(&self) -> u64 {
        [
            self.malformed,
            self.bad_checksum,
            self.wrong_ports,
            self.not_dhcp,
            self.not_reply,
            self.other_mac,
            self.no_message_type,
            self.other_xid,
            self.unexpected,
            self.no_server_id,
            self.other_server,
            self.bad_address,
            self.bad_mask,
        ]
        .iter()
        .fold(0u64, |a, b| a.saturating_add(*b))
    }
}

/// Values in accepted OFFERs/ACKs we did not take as sent.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Corrected {
    /// Lease time missing or below `MIN_LEASE_S`: raised to it.
    pub lease_raised: u64,
    /// T1/T2 missing, too small or contradictory: RFC defaults used.
    pub times_defaulted: u64,
    /// MTU outside `MIN_MTU..=MAX_MTU`: clamped.
    pub mtu_clamped: u64,
    /// First router not a usable unicast address inside the subnet:
    /// dropped (the lease has no router).
    pub router_dropped: u64,
    /// DNS servers that are not usable unicast addresses, or past the
    /// third: dropped.
    pub dns_dropped: u64,
    /// Hostname or domain that is not UTF-8: dropped.
    pub text_dropped: u64,
}

impl Corrected {
    pub(crate) fn add(&mut self, o: &Corrected) {
        let pairs = [
            (&mut self.lease_raised, o.lease_raised),
            (&mut self.times_defaulted, o.times_defaulted),
            (&mut self.mtu_clamped, o.mtu_clamped),
            (&mut self.router_dropped, o.router_dropped),
            (&mut self.dns_dropped, o.dns_dropped),
            (&mut self.text_dropped, o.text_dropped),
        ];
        for (c, n) in pairs {
            *c = c.saturating_add(n);
        }
    }
}

/// Everything the client counts. Counters saturate; none wraps.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    pub sent_discover: u64,
    pub sent_request: u64,
    pub received_offer: u64,
    pub received_ack: u64,
    pub received_nak: u64,
    pub ignored: Ignored,
    /// Summed over every reply that got as far as its options.
    pub options: OptionFaults,
    pub corrected: Corrected,
    /// Due sends the ceiling held back (see `SEND_CEILING`).
    pub held_by_ceiling: u64,
    /// Events dropped because the caller had not taken them.
    pub events_dropped: u64,
}

pub(crate) fn bump(c: &mut u64) {
    *c = c.saturating_add(1);
}
