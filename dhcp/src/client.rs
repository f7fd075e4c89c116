//! The client's state machine (RFC 2131 4.4, figure 5, without INIT-REBOOT):
//! selecting -> requesting -> bound -> renewing -> rebinding, and back to
//! selecting on a NAK, on REQUESTs that go unanswered, or on expiry.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::net::Ipv4Addr;

use smoltcp::wire::DhcpMessageType;

use crate::ceiling::Ceiling;
use crate::counters::{bump, Counters, Ignore};
use crate::lease::{from_reply, is_host_address, Lease};
use crate::options::Options;
use crate::rng::Rng;
use crate::timing::{
    after_s, jittered, retransmit_base_ns, NS_PER_S, RENEW_RETRANSMIT_MIN_NS, REQUEST_MAX_SENDS,
    RESTART_BACKOFF_FIRST_NS, RESTART_BACKOFF_MAX_NS,
};
use crate::wire::{self, Outgoing};

/// A time that never comes.
const NEVER: u64 = u64::MAX;
/// Events kept for the caller; past this the oldest goes (and is counted).
/// Each call raises at most two, so a caller that drains them never loses one.
const MAX_EVENTS: usize = 4;

/// What the caller must act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Use this lease (a new one, or new settings: it replaces any earlier).
    Configured(Lease),
    /// Stop using the address.
    Deconfigured(Reason),
}

/// Why the address went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The lease ran out without a server renewing it.
    LeaseExpired,
    /// The server refused to renew it.
    Nak,
}

/// Where the client is, for reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Selecting,
    Requesting,
    Bound,
    Renewing,
    Rebinding,
}

/// One message and its retransmissions, under one xid.
#[derive(Debug, Clone)]
struct Exchange {
    xid: u32,
    sends: u32,
    /// Next send (or, for a REQUEST out of sends, when we give up).
    next_at: u64,
    /// First send of this message: what lease times count from (RFC 2131
    /// 4.4.1), and what `secs` counts from.
    first_sent_at: u64,
}

#[derive(Debug, Clone)]
struct Offered {
    address: Ipv4Addr,
    server: Ipv4Addr,
    /// The DISCOVER's `secs`, repeated in the REQUEST (RFC 2131 4.4.1).
    secs: u16,
}

/// A lease we hold, with its deadlines on the caller's clock.
#[derive(Debug, Clone)]
struct Held {
    lease: Lease,
    renew_at: u64,
    rebind_at: u64,
    expires_at: u64,
}

#[derive(Debug, Clone)]
enum State {
    Selecting(Exchange),
    Requesting(Exchange, Offered),
    Bound(Held),
    Renewing(Held, Exchange),
    Rebinding(Held, Exchange),
}

/// `at` has come (`NEVER` never does).
fn due(now: u64, at: u64) -> bool {
    at != NEVER && now >= at
}

fn secs_since(now: u64, from: u64) -> u16 {
    u16::try_from(now.saturating_sub(from) / NS_PER_S).unwrap_or(u16::MAX)
}

/// A sans-IO DHCPv4 client for one Ethernet interface; see the crate docs
/// for the driver loop.
#[derive(Debug, Clone)]
pub struct Client {
    mac: [u8; 6],
    rng: Rng,
    state: State,
    ceiling: Ceiling,
    /// Wait before the next restarted discovery (doubles per failed round).
    restart_backoff_ns: u64,
    events: VecDeque<Event>,
    counters: Counters,
}

impl Client {
    /// A client for the interface with address `mac`; `seed` (from a
    /// hardware RNG) picks the xids and jitter. It starts selecting: the
    /// first DISCOVER goes out on the first `transmit` (no RFC 2131 4.4.1
    /// startup delay: one guest, and boot time counts).
    pub fn new(mac: [u8; 6], seed: u64) -> Client {
        let mut rng = Rng::new(seed);
        let first = Exchange {
            xid: rng.next_u32(),
            sends: 0,
            next_at: 0,
            first_sent_at: 0,
        };
        Client {
            mac,
            rng,
            state: State::Selecting(first),
            ceiling: Ceiling::new(),
            restart_backoff_ns: RESTART_BACKOFF_FIRST_NS,
            events: VecDeque::new(),
            counters: Counters::default(),
        }
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The lease held now (also while renewing and rebinding).
    pub fn lease(&self) -> Option<&Lease> {
        match &self.state {
            State::Bound(h) | State::Renewing(h, _) | State::Rebinding(h, _) => Some(&h.lease),
            State::Selecting(_) | State::Requesting(..) => None,
        }
    }

    pub fn phase(&self) -> Phase {
        match self.state {
            State::Selecting(_) => Phase::Selecting,
            State::Requesting(..) => Phase::Requesting,
            State::Bound(_) => Phase::Bound,
            State::Renewing(..) => Phase::Renewing,
            State::Rebinding(..) => Phase::Rebinding,
        }
    }

    pub fn take_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When to call `transmit` next (it also runs the lease timers); `None`
    /// while an infinite lease is held.
    pub fn poll_at(&self) -> Option<u64> {
        let (send_at, deadline) = match &self.state {
            State::Selecting(x) => (Some(x.next_at), NEVER),
            State::Requesting(x, _) if x.sends < REQUEST_MAX_SENDS => (Some(x.next_at), NEVER),
            State::Requesting(x, _) => (None, x.next_at),
            State::Bound(h) => (None, h.renew_at),
            State::Renewing(h, x) => (Some(x.next_at), h.rebind_at),
            State::Rebinding(h, x) => (Some(x.next_at), h.expires_at),
        };
        let send_at = send_at.map(|t| t.max(self.ceiling.free_at()));
        let at = send_at.map_or(deadline, |s| s.min(deadline));
        (at != NEVER).then_some(at)
    }

    /// The next packet to send (a whole IPv4 packet), if one is due at
    /// `now_ns`; at most one per call. Runs the lease timers first.
    pub fn transmit(&mut self, now_ns: u64) -> Option<Vec<u8>> {
        self.advance(now_ns);
        let out = self.due_message(now_ns)?;
        let packet = wire::build(&out)?;
        if !self.ceiling.try_send(now_ns) {
            bump(&mut self.counters.held_by_ceiling);
            return None;
        }
        bump(match out.kind {
            DhcpMessageType::Discover => &mut self.counters.sent_discover,
            _ => &mut self.counters.sent_request,
        });
        self.sent(now_ns);
        Some(packet)
    }

    /// Take one received IPv4 packet (anything a raw socket for UDP hands
    /// over: what is not a reply for us is counted and dropped).
    pub fn receive(&mut self, now_ns: u64, ipv4_packet: &[u8]) {
        self.advance(now_ns);
        let reply = match wire::parse_reply(ipv4_packet, self.mac) {
            Ok(r) => r,
            Err(why) => return self.counters.ignored.count(why),
        };
        let o = &reply.options;
        self.counters.options.add(&o.faults);
        let (kind, seen) = match o.message_type.map(DhcpMessageType::from) {
            Some(k @ DhcpMessageType::Offer) => (k, &mut self.counters.received_offer),
            Some(k @ DhcpMessageType::Ack) => (k, &mut self.counters.received_ack),
            Some(k @ DhcpMessageType::Nak) => (k, &mut self.counters.received_nak),
            _ => return self.counters.ignored.count(Ignore::NoMessageType),
        };
        bump(seen);
        if let Err(why) = self.on_reply(now_ns, kind, reply.xid, reply.your_ip, o) {
            self.counters.ignored.count(why);
        }
    }

    fn on_reply(
        &mut self,
        now: u64,
        kind: DhcpMessageType,
        xid: u32,
        your_ip: Ipv4Addr,
        o: &Options<'_>,
    ) -> Result<(), Ignore> {
        use DhcpMessageType::{Ack, Nak, Offer};
        let open = self.open_exchange().ok_or(Ignore::Unexpected)?;
        if xid != open.xid {
            return Err(Ignore::OtherXid);
        }
        let server = o
            .server_id
            .map(Ipv4Addr::from)
            .filter(|&s| is_host_address(s));
        let server = server.ok_or(Ignore::NoServerId)?;
        // the server we talk to; None: any (selecting, rebinding)
        let ours = match &self.state {
            State::Requesting(_, offer) => Some(offer.server),
            State::Renewing(h, _) => Some(h.lease.server),
            _ => None,
        };
        if ours.is_some_and(|s| s != server) {
            return Err(Ignore::OtherServer);
        }
        match (kind, &self.state) {
            (Offer, State::Selecting(x)) => {
                let (lease, _) = from_reply(your_ip, o, server)?;
                let secs = secs_since(now, x.first_sent_at);
                let x = Exchange {
                    sends: 0,
                    next_at: now,
                    ..x.clone()
                };
                let offer = Offered {
                    address: lease.address,
                    server,
                    secs,
                };
                self.state = State::Requesting(x, offer);
            }
            (Ack, State::Requesting(..) | State::Renewing(..) | State::Rebinding(..)) => {
                let (lease, corrected) = from_reply(your_ip, o, server)?;
                self.counters.corrected.add(&corrected);
                self.bind(lease, now);
            }
            (Nak, State::Requesting(..)) => self.restart(now),
            (Nak, State::Renewing(..) | State::Rebinding(..)) => {
                self.push(Event::Deconfigured(Reason::Nak));
                self.restart(now);
            }
            _ => return Err(Ignore::Unexpected),
        }
        Ok(())
    }

    /// The exchange waiting for a reply (none while bound).
    fn open_exchange(&self) -> Option<&Exchange> {
        match &self.state {
            State::Selecting(x)
            | State::Requesting(x, _)
            | State::Renewing(_, x)
            | State::Rebinding(_, x) => Some(x),
            State::Bound(_) => None,
        }
    }

    /// Hold `lease`, timed from the first REQUEST of the open exchange.
    fn bind(&mut self, lease: Lease, now: u64) {
        let from = self.open_exchange().map_or(now, |x| x.first_sent_at);
        if !self.lease().is_some_and(|p| p.same_settings(&lease)) {
            self.push(Event::Configured(lease.clone()));
        }
        let t = lease.times;
        self.state = State::Bound(Held {
            renew_at: after_s(from, t.renew_s),
            rebind_at: after_s(from, t.rebind_s),
            expires_at: after_s(from, t.lease_s),
            lease,
        });
        self.restart_backoff_ns = RESTART_BACKOFF_FIRST_NS;
    }

    fn exchange(&mut self, next_at: u64) -> Exchange {
        Exchange {
            xid: self.rng.next_u32(),
            sends: 0,
            next_at,
            first_sent_at: next_at,
        }
    }

    /// A failed round: discover again after the restart backoff, which
    /// doubles for the next failure.
    fn restart(&mut self, now: u64) {
        let wait = self.restart_backoff_ns;
        self.restart_backoff_ns = wait.saturating_mul(2).min(RESTART_BACKOFF_MAX_NS);
        self.state = State::Selecting(self.exchange(now.saturating_add(wait)));
    }

    /// Run the timers: give up on REQUESTs, start renewing at T1, rebinding
    /// at T2, and drop the lease at expiry. One pass covers a late call that
    /// passed several deadlines.
    fn advance(&mut self, now: u64) {
        if let State::Requesting(x, _) = &self.state {
            if x.sends >= REQUEST_MAX_SENDS && due(now, x.next_at) {
                self.restart(now);
            }
        }
        if let State::Bound(h) = &self.state {
            if due(now, h.renew_at) {
                self.state = State::Renewing(h.clone(), self.exchange(now));
            }
        }
        if let State::Renewing(h, _) = &self.state {
            if due(now, h.rebind_at) {
                self.state = State::Rebinding(h.clone(), self.exchange(now));
            }
        }
        if let State::Bound(h) | State::Renewing(h, _) | State::Rebinding(h, _) = &self.state {
            if due(now, h.expires_at) {
                self.push(Event::Deconfigured(Reason::LeaseExpired));
                self.state = State::Selecting(self.exchange(now));
            }
        }
    }

    /// The message the state wants sent at `now`, if any.
    fn due_message(&self, now: u64) -> Option<Outgoing> {
        let (x, client_ip, dst, requested_ip, server_id, secs) = match &self.state {
            State::Selecting(x) => {
                let secs = if x.sends == 0 {
                    0
                } else {
                    secs_since(now, x.first_sent_at)
                };
                (
                    x,
                    Ipv4Addr::UNSPECIFIED,
                    Ipv4Addr::BROADCAST,
                    None,
                    None,
                    secs,
                )
            }
            State::Requesting(x, o) if x.sends < REQUEST_MAX_SENDS => {
                let (a, s) = (Some(o.address), Some(o.server));
                (x, Ipv4Addr::UNSPECIFIED, Ipv4Addr::BROADCAST, a, s, o.secs)
            }
            State::Renewing(h, x) => {
                let secs = secs_since(now, x.first_sent_at);
                (x, h.lease.address, h.lease.server, None, None, secs)
            }
            State::Rebinding(h, x) => {
                let secs = secs_since(now, x.first_sent_at);
                (x, h.lease.address, Ipv4Addr::BROADCAST, None, None, secs)
            }
            State::Requesting(..) | State::Bound(_) => return None,
        };
        if !due(now, x.next_at) {
            return None;
        }
        let kind = match self.state {
            State::Selecting(_) => DhcpMessageType::Discover,
            _ => DhcpMessageType::Request,
        };
        Some(Outgoing {
            kind,
            xid: x.xid,
            secs,
            mac: self.mac,
            client_ip,
            requested_ip,
            server_id,
            dst,
        })
    }

    /// Schedule the retransmission of what was just sent at `now`.
    fn sent(&mut self, now: u64) {
        let r = self.rng.next_u64();
        let (x, next_at) = match &mut self.state {
            State::Selecting(x) | State::Requesting(x, _) => {
                let n = x.sends.saturating_add(1);
                (x, now.saturating_add(jittered(retransmit_base_ns(n), r)))
            }
            // RFC 2131 4.4.5: half the time left, at least a minute
            State::Renewing(h, x) => {
                let half = h.rebind_at.saturating_sub(now) / 2;
                (x, now.saturating_add(half.max(RENEW_RETRANSMIT_MIN_NS)))
            }
            State::Rebinding(h, x) => {
                let half = h.expires_at.saturating_sub(now) / 2;
                (x, now.saturating_add(half.max(RENEW_RETRANSMIT_MIN_NS)))
            }
            State::Bound(_) => return,
        };
        if x.sends == 0 {
            x.first_sent_at = now;
        }
        x.sends = x.sends.saturating_add(1);
        x.next_at = next_at;
    }

    fn push(&mut self, e: Event) {
        if self.events.len() >= MAX_EVENTS {
            self.events.pop_front();
            bump(&mut self.counters.events_dropped);
        }
        self.events.push_back(e);
    }
}
