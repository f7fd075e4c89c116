//! DMA-able memory: whole pages, zeroed, from a `PageAlloc`. Only what is
//! meant for the peer (a ring, packet data) ever lives in them.

extern crate alloc;

use alloc::vec::Vec;

use xenabi::hal::{Gfn, PageAlloc, SharedMem, PAGE_SIZE};

pub struct DmaMem<P: SharedMem> {
    pages: Vec<P>,
    frames: Vec<Gfn>,
}

impl<P: SharedMem> DmaMem<P> {
    /// `npages` zeroed pages, or `None` if memory ran out.
    pub fn alloc(pa: &mut impl PageAlloc<Page = P>, npages: usize) -> Option<Self> {
        let mut pages = Vec::with_capacity(npages);
        for _ in 0..npages {
            let p = pa.alloc_page()?;
            p.zero();
            pages.push(p);
        }
        let frames = pages.iter().map(|p| p.gfn()).collect();
        Some(DmaMem { pages, frames })
    }

    /// The frames, in order, as `Map::load` takes them.
    pub fn frames(&self) -> &[Gfn] {
        &self.frames
    }

    pub fn page(&self, i: usize) -> &P {
        &self.pages[i]
    }

    pub fn len(&self) -> usize {
        self.pages.len() * PAGE_SIZE
    }

    pub fn is_empty(&self) -> bool {
        self.pages.is_empty()
    }

    /// Zero everything again, before the memory is granted anew (XSA-403:
    /// a peer must never see stale data).
    pub fn zero(&self) {
        for p in &self.pages {
            p.zero();
        }
    }

    /// Copy in across page boundaries.
    pub fn write(&self, mut off: usize, mut data: &[u8]) {
        while !data.is_empty() {
            let (i, o) = (off / PAGE_SIZE, off % PAGE_SIZE);
            let n = data.len().min(PAGE_SIZE - o);
            self.pages[i].write(o, &data[..n]);
            data = &data[n..];
            off += n;
        }
    }

    /// Copy out across page boundaries.
    pub fn read(&self, mut off: usize, mut buf: &mut [u8]) {
        while !buf.is_empty() {
            let (i, o) = (off / PAGE_SIZE, off % PAGE_SIZE);
            let n = buf.len().min(PAGE_SIZE - o);
            self.pages[i].read(o, &mut buf[..n]);
            buf = &mut buf[n..];
            off += n;
        }
    }
}
