//! The xenstore ring page (struct xenstore_domain_interface): a 1 KiB
//! request ring we produce into and a 1 KiB response ring we consume from.
//! The daemon's indexes are checked before use: a producer more than a ring
//! ahead of our consumer is corruption, never a reason to read out of range.

use xenabi::hal::SharedMem;
use xenabi::xs_wire as xs;

const SIZE: u32 = xs::XENSTORE_RING_SIZE as u32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RingError {
    /// An index from the other side is impossible (prod - cons > ring size).
    Corrupt { prod: u32, cons: u32 },
}

pub struct Ring<M: SharedMem> {
    page: M,
}

impl<M: SharedMem> Ring<M> {
    pub fn new(page: M) -> Self {
        Ring { page }
    }

    pub fn page(&self) -> &M {
        &self.page
    }

    /// Copy as much of `data` into the request ring as fits; returns how much.
    pub fn write(&self, data: &[u8]) -> Result<usize, RingError> {
        let cons = self.page.read_u32(xs::XS_REQ_CONS_OFFSET);
        let prod = self.page.read_u32(xs::XS_REQ_PROD_OFFSET);
        let used = prod.wrapping_sub(cons);
        if used > SIZE {
            return Err(RingError::Corrupt { prod, cons });
        }
        let n = data.len().min((SIZE - used) as usize);
        self.copy_in(xs::XS_REQ_OFFSET, prod, &data[..n]);
        // release store: the bytes are visible before the new producer index
        self.page
            .write_u32(xs::XS_REQ_PROD_OFFSET, prod.wrapping_add(n as u32));
        Ok(n)
    }

    /// Copy up to `buf.len()` bytes out of the response ring.
    pub fn read(&self, buf: &mut [u8]) -> Result<usize, RingError> {
        let cons = self.page.read_u32(xs::XS_RSP_CONS_OFFSET);
        let prod = self.page.read_u32(xs::XS_RSP_PROD_OFFSET); // acquire: data after index
        let avail = prod.wrapping_sub(cons);
        if avail > SIZE {
            return Err(RingError::Corrupt { prod, cons });
        }
        let n = buf.len().min(avail as usize);
        self.copy_out(xs::XS_RSP_OFFSET, cons, &mut buf[..n]);
        self.page.full_fence(); // finish reading before handing the space back
        self.page
            .write_u32(xs::XS_RSP_CONS_OFFSET, cons.wrapping_add(n as u32));
        Ok(n)
    }

    /// Bytes waiting in the response ring (0 if the indexes are corrupt).
    pub fn readable(&self) -> u32 {
        let avail = self
            .page
            .read_u32(xs::XS_RSP_PROD_OFFSET)
            .wrapping_sub(self.page.read_u32(xs::XS_RSP_CONS_OFFSET));
        if avail > SIZE {
            0
        } else {
            avail
        }
    }

    fn copy_in(&self, base: usize, idx: u32, data: &[u8]) {
        let start = (idx % SIZE) as usize;
        let first = data.len().min(SIZE as usize - start);
        self.page.write(base + start, &data[..first]);
        self.page.write(base, &data[first..]);
    }

    fn copy_out(&self, base: usize, idx: u32, buf: &mut [u8]) {
        let start = (idx % SIZE) as usize;
        let first = buf.len().min(SIZE as usize - start);
        self.page.read(base + start, &mut buf[..first]);
        self.page.read(base, &mut buf[first..]);
    }
}
