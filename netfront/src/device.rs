//! netfront as a `smoltcp::phy::Device`: Ethernet at the MTU in force, TCP
//! segmentation offload when the backend offers it, and TCP/UDP checksums
//! left to the driver (`csum`). Received packets are handed over as a slice
//! of the device's one receive buffer, frames built in its staging buffer:
//! nothing is allocated per packet.

#[cfg(feature = "tso")]
use core::num::NonZeroUsize;

#[cfg(feature = "tso")]
use smoltcp::phy::PacketMeta;
use smoltcp::phy::{
    Checksum, ChecksumCapabilities, Device, DeviceCapabilities, Medium, RxToken, TxToken,
};
use smoltcp::time::Instant;
use xenabi::hal::{EventChannel, SharedMem};

use crate::tx::TxPath;
#[cfg(feature = "tso")]
use crate::tx::MAX_TX_FRAME;
use crate::{Netfront, Stats};

pub struct NfRx<'a>(&'a [u8]);

pub struct NfTx<'a, M: SharedMem, E: EventChannel> {
    tx: &'a mut TxPath<M, E>,
    stats: &'a mut Stats,
    gso_mss: Option<u16>,
}

impl RxToken for NfRx<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.0)
    }
}

impl<M: SharedMem, E: EventChannel> TxToken for NfTx<'_, M, E> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        // without room the frame is built and dropped (counted): the token
        // of a receive may come while every TX buffer is in flight
        self.tx.send(self.stats, len, self.gso_mss, f)
    }

    #[cfg(feature = "tso")]
    fn set_meta(&mut self, meta: PacketMeta) {
        self.gso_mss = meta.segmentation_offload_size.map(|s| s.get());
    }
}

impl<M: SharedMem, E: EventChannel> Device for Netfront<M, E> {
    type RxToken<'a>
        = NfRx<'a>
    where
        Self: 'a;
    type TxToken<'a>
        = NfTx<'a, M, E>
    where
        Self: 'a;

    fn receive(&mut self, _t: Instant) -> Option<(NfRx<'_>, NfTx<'_, M, E>)> {
        let n = self.next_packet()?;
        let tx = NfTx {
            tx: &mut self.tx,
            stats: &mut self.stats,
            gso_mss: None,
        };
        Some((NfRx(self.rx_buf.get(..n)?), tx))
    }

    fn transmit(&mut self, _t: Instant) -> Option<NfTx<'_, M, E>> {
        self.can_send().then(|| NfTx {
            tx: &mut self.tx,
            stats: &mut self.stats,
            gso_mss: None,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = self.tx.max_frame;
        let mut cs = ChecksumCapabilities::default();
        cs.ipv4 = Checksum::Both;
        cs.icmpv4 = Checksum::Both;
        // the driver verifies (or completes) TCP and UDP on receive and has
        // the backend fill TCP's on transmit; smoltcp computes UDP's
        cs.udp = Checksum::Tx;
        cs.tcp = Checksum::None;
        caps.checksum = cs;
        #[cfg(feature = "tso")]
        if self.tx.tso {
            caps.segmentation.tcpv4 = NonZeroUsize::new(MAX_TX_FRAME);
        }
        caps
    }
}
