//! Simulated time for the client: a loop that does what the runtime's
//! driver does, against fake servers, recording every packet and event.
#![allow(dead_code)]

pub mod server;

use dhcp::{Client, Event, SEND_CEILING, SEND_WINDOW_NS};
use server::{decode, Sent, Server};
use smoltcp::wire::DhcpMessageType;

pub const S: u64 = 1_000_000_000;
pub const MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0x10, 0x20, 0x30];
pub const SEED: u64 = 0x5eed;

pub struct Sim {
    pub client: Client,
    pub servers: Vec<Server>,
    pub now: u64,
    pub sent: Vec<Sent>,
    pub events: Vec<(u64, Event)>,
    /// Replies on their way to the client: (arrival time, packet).
    pending: Vec<(u64, Vec<u8>)>,
}

impl Sim {
    pub fn new(servers: Vec<Server>) -> Sim {
        Sim::with_seed(servers, SEED)
    }

    pub fn with_seed(servers: Vec<Server>, seed: u64) -> Sim {
        Sim {
            client: Client::new(MAC, seed),
            servers,
            now: 0,
            sent: vec![],
            events: vec![],
            pending: vec![],
        }
    }

    /// Hand the client a packet now (as if the raw socket got it).
    pub fn inject(&mut self, packet: &[u8]) {
        self.client.receive(self.now, packet);
        self.drain_events();
    }

    fn drain_events(&mut self) {
        while let Some(e) = self.client.take_event() {
            self.events.push((self.now, e));
        }
    }

    /// Run the driver loop until `end`, sleeping to the next `poll_at` or
    /// reply each time. Panics if the client asks to be woken now after
    /// saying it has nothing to send (a busy loop) or if it sends anything
    /// malformed.
    pub fn run_until(&mut self, end: u64) {
        for _ in 0..10_000_000 {
            let (due, later): (Vec<_>, Vec<_>) =
                self.pending.drain(..).partition(|(at, _)| *at <= self.now);
            self.pending = later;
            for (_, p) in due {
                self.client.receive(self.now, &p);
            }
            while let Some(p) = self.client.transmit(self.now) {
                let s = decode(self.now, &p);
                assert_eq!(s.mac, MAC);
                self.sent.push(s);
                for server in &mut self.servers {
                    for (delay, r) in server.answer(&p) {
                        self.pending.push((self.now + delay, r));
                    }
                }
            }
            self.drain_events();
            let client_at = self.client.poll_at();
            if let Some(t) = client_at {
                assert!(t > self.now, "busy loop: poll_at {t} at now {}", self.now);
            }
            let reply_at = self.pending.iter().map(|(at, _)| *at).min();
            match [client_at, reply_at].into_iter().flatten().min() {
                Some(t) if t <= end => self.now = t,
                _ => {
                    self.now = end;
                    return;
                }
            }
        }
        panic!("the simulation did not reach {end}");
    }

    pub fn run_for(&mut self, d: u64) {
        self.run_until(self.now + d);
    }

    pub fn sent_of(&self, kind: DhcpMessageType) -> Vec<&Sent> {
        self.sent.iter().filter(|s| s.kind == kind).collect()
    }

    pub fn discovers(&self) -> Vec<&Sent> {
        self.sent_of(DhcpMessageType::Discover)
    }

    pub fn requests(&self) -> Vec<&Sent> {
        self.sent_of(DhcpMessageType::Request)
    }

    /// Most packets sent in any `SEND_WINDOW_NS`.
    pub fn busiest_window(&self) -> usize {
        let t: Vec<u64> = self.sent.iter().map(|s| s.at).collect();
        (0..t.len())
            .map(|i| {
                t[i..]
                    .iter()
                    .take_while(|&&u| u < t[i] + SEND_WINDOW_NS)
                    .count()
            })
            .max()
            .unwrap_or(0)
    }

    /// What every scenario must hold: under the ceiling, and under it by
    /// the schedule alone (the ceiling never had to act).
    pub fn assert_within_ceiling(&self) {
        assert!(
            self.busiest_window() <= SEND_CEILING,
            "{} in a window",
            self.busiest_window()
        );
        assert_eq!(self.client.counters().held_by_ceiling, 0);
    }

    pub fn configured(&self) -> Vec<(u64, &dhcp::Lease)> {
        self.events
            .iter()
            .filter_map(|(t, e)| match e {
                Event::Configured(l) => Some((*t, l)),
                _ => None,
            })
            .collect()
    }
}

/// Gaps between consecutive send times, in seconds (float for ranges).
pub fn gaps_s(sent: &[&Sent]) -> Vec<f64> {
    sent.windows(2)
        .map(|w| (w[1].at - w[0].at) as f64 / S as f64)
        .collect()
}
