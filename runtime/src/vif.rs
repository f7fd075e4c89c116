//! The first vif's life: connect netfront and bring a `Net` up on it; take
//! it down when the backend closes or misbehaves (`xl network-detach`, a
//! protocol error); connect again when a backend is ready (`xl
//! network-attach`), with a growing delay after each failure.

extern crate alloc;

use alloc::format;
use alloc::string::String;

use netfront::Netfront;
use xenstore::xenbus::{self, State};

use crate::intervals::{VIF_RETRY_CAP_NS, VIF_RETRY_FIRST_NS};
use crate::net::{mac_string, Counters, Net, Nic};
use crate::options::Options;
use crate::report::quoted;
use crate::wake::Wake;
use crate::{Cx, Platform};

/// The watch token of our device directory (attach; set by `announce`).
/// The backend's state (detach) is watched under netfront's own token.
pub const DEVICES_TOKEN: &str = "netfront-devices";

pub type NetOf<P> = Net<Netfront<<P as Platform>::Page, <P as Platform>::Events>>;

impl<M: xenabi::hal::SharedMem, E: xenabi::hal::EventChannel> Nic for Netfront<M, E> {
    fn service(&mut self) -> Result<bool, String> {
        self.poll().map_err(|e| format!("{}", e))
    }

    fn counters(&self) -> Counters {
        self.stats
    }

    fn mac(&self) -> [u8; 6] {
        self.mac
    }

    fn name(&self) -> &str {
        self.path()
    }

    fn mtu(&self) -> u16 {
        Netfront::mtu(self)
    }

    fn mtu_cap(&self) -> u16 {
        Netfront::mtu_cap(self)
    }

    fn set_mtu(&mut self, mtu: u16) -> u16 {
        Netfront::set_mtu(self, mtu)
    }
}

pub struct Vif<P: Platform> {
    pub net: Option<NetOf<P>>,
    /// The vif `announce` found: the first look starts from it.
    found: Option<xenbus::Device>,
    /// Connections made so far (the next `Net`'s generation).
    connects: u32,
    /// A hotplug event or a down device asks us to look again.
    look: bool,
    retry_at: Option<u64>,
    backoff: u64,
}

impl<P: Platform> Vif<P> {
    /// `found`: the first vif as `announce` read it (which also set the
    /// watch on our device directory).
    pub fn new(found: Option<xenbus::Device>) -> Self {
        Vif {
            net: None,
            found,
            connects: 0,
            look: true,
            retry_at: None,
            backoff: VIF_RETRY_FIRST_NS,
        }
    }

    /// A watch fired for one of our tokens.
    pub fn on_event(&mut self, token: &str) -> bool {
        let ours = token == DEVICES_TOKEN
            || self
                .net
                .as_ref()
                .is_some_and(|n| n.nic.backend_token() == token);
        self.look |= ours;
        ours
    }

    /// Events were lost: look at everything again.
    pub fn look_again(&mut self) {
        self.look = true;
    }

    /// Take a dead or closing device down, bring one up when a backend is
    /// ready. Connecting blocks (bounded by netfront's deadline).
    pub fn poll(&mut self, cx: &mut Cx<'_, P>, opts: &Options, now: u64) -> Wake {
        let down = self.net.as_ref().is_some_and(|n| n.down().is_some());
        let retry_due = self.retry_at.is_some_and(|t| now >= t);
        if !(self.look || down || retry_due) {
            return Wake::maybe(self.retry_at);
        }
        self.look = false;
        let mut wake = Wake::IDLE;
        if let Some(why) = self.should_close(cx) {
            if let Some(n) = self.net.take() {
                close(cx, n, &why);
                wake = wake.progressed();
                self.schedule_retry(now, false);
            }
        }
        let ready = (self.net.is_none() && self.retry_at.is_none_or(|t| now >= t))
            .then(|| ready_device(cx, self.found.take()))
            .flatten();
        if let Some(dev) = ready {
            self.retry_at = None;
            match up::<P>(cx, opts, &dev, self.connects, now) {
                Some(n) => {
                    self.connects += 1;
                    self.backoff = VIF_RETRY_FIRST_NS;
                    self.net = Some(n);
                }
                None => self.schedule_retry(now, true),
            }
            wake = wake.progressed();
        }
        wake.also_at(self.retry_at);
        wake
    }

    /// After a failure: the next attempt waits, each time longer. A clean
    /// detach (`failed` false) only waits the first step.
    fn schedule_retry(&mut self, now: u64, failed: bool) {
        self.retry_at = Some(now.saturating_add(self.backoff));
        if failed {
            self.backoff = self.backoff.saturating_mul(2).min(VIF_RETRY_CAP_NS);
        }
    }

    fn should_close(&self, cx: &mut Cx<'_, P>) -> Option<String> {
        let n = self.net.as_ref()?;
        if let Some(why) = n.down() {
            return Some(why.into());
        }
        match xenbus::read_state(&mut cx.xen.store, n.nic.backend()) {
            Ok(s) if s as u8 >= State::Closing as u8 => Some(format!("backend state {:?}", s)),
            _ => None,
        }
    }
}

/// The first vif (`found`, or as the store says now), if its backend is
/// ready for a (re)connect (none, or a broken directory: not yet; a
/// hotplug event brings another look).
fn ready_device<P: Platform>(
    cx: &mut Cx<'_, P>,
    found: Option<xenbus::Device>,
) -> Option<xenbus::Device> {
    let dev = match found {
        Some(d) => d,
        None => xenbus::enumerate(&mut cx.xen.store, "vif")
            .ok()?
            .into_iter()
            .next()?,
    };
    matches!(
        xenbus::read_state(&mut cx.xen.store, &dev.backend),
        Ok(State::InitWait) | Ok(State::Connected)
    )
    .then_some(dev)
}

/// The RX ring's pages: at most a quarter of the free pages (`free_kib`,
/// outside the heap): a full ring of 256 from 4 MiB free on, about 100 in
/// a 3 MiB guest, never fewer than netfront's minimum; the TX side and
/// reconnects keep the rest.
fn rx_bufs_for(free_kib: u64) -> usize {
    const RX_SHARE: u64 = 4;
    let pages = free_kib / 4 / RX_SHARE;
    (pages as usize).clamp(netfront::MIN_RX_BUFS, netfront::RX_BUFS)
}

/// Connect `dev` and bring the stack up on it.
fn up<P: Platform>(
    cx: &mut Cx<'_, P>,
    opts: &Options,
    dev: &xenbus::Device,
    generation: u32,
    now: u64,
) -> Option<NetOf<P>> {
    let events = cx.xen.events.clone();
    let m = cx.host.memory();
    let rx_bufs = rx_bufs_for(m.free_kib.saturating_sub(m.heap_free_kib));
    let x = &mut *cx.xen;
    let nf = match Netfront::connect_with(
        &mut x.store,
        &mut x.grants,
        &mut x.pages,
        events,
        dev,
        rx_bufs,
    ) {
        Ok(nf) => nf,
        Err(e) => {
            cx.say(&format!(
                "netfront: error device={} reason={}",
                quoted(&dev.path),
                quoted(&format!("{}", e))
            ));
            return None;
        }
    };
    let refs = free_refs(cx);
    cx.say(&format!(
        "netfront: connected device={} mac={} backend={} evtchn={} mtu={} rx_bufs={} tx_bufs={} free_refs={} reconnects={}",
        quoted(nf.path()),
        mac_string(nf.mac),
        quoted(nf.backend()),
        nf.port,
        nf.mtu(),
        nf.rx_bufs(),
        netfront::TX_BUFS,
        refs,
        generation
    ));
    let mut seed = [0u8; 16];
    cx.random(&mut seed);
    let s0 = u64::from_le_bytes(seed[..8].try_into().unwrap_or([0; 8]));
    let s1 = u64::from_le_bytes(seed[8..].try_into().unwrap_or([0; 8]));
    let fixed = opts.ip.map(|c| (c, opts.gw));
    if fixed.is_none() {
        cx.say(&format!("dhcp: start device={}", quoted(nf.path())));
    }
    Some(Net::new(nf, fixed, [s0, s1], generation, now))
}

fn free_refs<P: Platform>(cx: &mut Cx<'_, P>) -> String {
    P::free_grant_refs(&cx.xen.grants).map_or_else(|| "-".into(), |n| format!("{}", n))
}

/// Closing -> end or quarantine every grant -> Closed.
fn close<P: Platform>(cx: &mut Cx<'_, P>, n: NetOf<P>, why: &str) {
    let path = String::from(n.nic.path());
    let c = n.nic.counters();
    let x = &mut *cx.xen;
    let quarantined = n.nic.shutdown(&mut x.store, &mut x.grants);
    let refs = free_refs(cx);
    cx.say(&format!(
        "netfront: closed device={} reason={} quarantined={} free_refs={} rx_packets={} tx_packets={}",
        quoted(&path),
        quoted(why),
        quarantined,
        refs,
        c.rx_packets,
        c.tx_packets
    ));
}

#[cfg(test)]
mod tests {
    use super::rx_bufs_for;

    #[test]
    fn rx_ring_pages_follow_free_memory() {
        assert_eq!(rx_bufs_for(64 << 10), netfront::RX_BUFS);
        assert_eq!(rx_bufs_for(4 << 10), netfront::RX_BUFS);
        assert_eq!(rx_bufs_for(2 << 10), 128);
        assert_eq!(rx_bufs_for(512), netfront::MIN_RX_BUFS);
        assert_eq!(rx_bufs_for(0), netfront::MIN_RX_BUFS);
    }
}
