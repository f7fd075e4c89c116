//! netfront as a `smoltcp::phy::Device`: Ethernet, MTU 1500, checksums
//! computed and verified in software (we asked the backend for full ones).

extern crate alloc;

use alloc::vec::Vec;

use smoltcp::phy::{
    Checksum, ChecksumCapabilities, Device, DeviceCapabilities, Medium, RxToken, TxToken,
};
use smoltcp::time::Instant;
use xenabi::hal::{EventChannel, SharedMem};

use crate::{Netfront, MAX_FRAME};

pub struct NfRx(Vec<u8>);

pub struct NfTx<'a, M: SharedMem, E: EventChannel>(&'a mut Netfront<M, E>);

impl RxToken for NfRx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl<M: SharedMem, E: EventChannel> TxToken for NfTx<'_, M, E> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut f = Some(f);
        match self.0.send_with(len, |buf| (f.take().unwrap())(buf)) {
            Some(r) => r,
            // transmit() only hands out a token when a buffer is free; if the
            // device went down in between, build the frame and drop it
            None => {
                let mut scratch = alloc::vec![0u8; len];
                (f.take().unwrap())(&mut scratch)
            }
        }
    }
}

impl<M: SharedMem, E: EventChannel> Device for Netfront<M, E> {
    type RxToken<'a>
        = NfRx
    where
        Self: 'a;
    type TxToken<'a>
        = NfTx<'a, M, E>
    where
        Self: 'a;

    fn receive(&mut self, _t: Instant) -> Option<(NfRx, NfTx<'_, M, E>)> {
        let frame = self.recv()?;
        Some((NfRx(frame), NfTx(self)))
    }

    fn transmit(&mut self, _t: Instant) -> Option<NfTx<'_, M, E>> {
        self.can_send().then(|| NfTx(self))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = MAX_FRAME;
        caps.max_burst_size = Some(crate::TX_BUFS);
        let mut cs = ChecksumCapabilities::default();
        cs.ipv4 = Checksum::Both;
        cs.udp = Checksum::Both;
        cs.tcp = Checksum::Both;
        cs.icmpv4 = Checksum::Both;
        caps.checksum = cs;
        caps
    }
}
