//! A few blocks of the source kept in memory: FAT entries, directory
//! entries and volume descriptors are read a handful of bytes at a time,
//! and each source read may be a round trip to a block backend.

use alloc::vec;
use alloc::vec::Vec;

use crate::{FsError, Source};

const BLOCK: u64 = 4096;
const BLOCKS: usize = 16;

pub struct Cached<S: Source> {
    src: S,
    /// (block number, its bytes), replaced round-robin
    blocks: Vec<(u64, Vec<u8>)>,
    victim: usize,
}

impl<S: Source> Cached<S> {
    pub fn new(src: S) -> Self {
        Cached {
            src,
            blocks: Vec::with_capacity(BLOCKS),
            victim: 0,
        }
    }

    pub fn into_inner(self) -> S {
        self.src
    }

    pub fn len(&self) -> u64 {
        self.src.len()
    }

    fn check(&self, offset: u64, len: usize) -> Result<(), FsError> {
        match offset.checked_add(len as u64) {
            Some(end) if end <= self.src.len() => Ok(()),
            _ => Err(FsError::Corrupt("points past the end of the disk")),
        }
    }

    /// Small reads through the cache.
    pub fn read(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), FsError> {
        self.check(offset, buf.len())?;
        let mut done = 0;
        while done < buf.len() {
            let at = offset + done as u64;
            let (block, within) = (at / BLOCK, (at % BLOCK) as usize);
            let i = self.block(block)?;
            let bytes = &self.blocks[i].1;
            let n = (bytes.len() - within).min(buf.len() - done);
            buf[done..done + n].copy_from_slice(&bytes[within..within + n]);
            done += n;
        }
        Ok(())
    }

    /// Large reads (file data) straight from the source.
    pub fn read_direct(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), FsError> {
        self.check(offset, buf.len())?;
        Ok(self.src.read_at(offset, buf)?)
    }

    fn block(&mut self, block: u64) -> Result<usize, FsError> {
        if let Some(i) = self.blocks.iter().position(|(b, _)| *b == block) {
            return Ok(i);
        }
        let start = block * BLOCK;
        // the last block may be short: the disk need not be whole blocks
        let len = (self.src.len() - start).min(BLOCK) as usize;
        let mut bytes = vec![0u8; len];
        self.src.read_at(start, &mut bytes)?;
        if self.blocks.len() < BLOCKS {
            self.blocks.push((block, bytes));
            Ok(self.blocks.len() - 1)
        } else {
            let i = self.victim;
            self.victim = (self.victim + 1) % BLOCKS;
            self.blocks[i] = (block, bytes);
            Ok(i)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SourceError;

    /// Counts reads, to show the cache saves them.
    struct Counting<'a>(&'a [u8], usize);
    impl Source for Counting<'_> {
        fn len(&self) -> u64 {
            self.0.len() as u64
        }
        fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), SourceError> {
            self.1 += 1;
            let mut s = self.0;
            s.read_at(offset, buf)
        }
    }

    #[test]
    fn reads_across_blocks_and_a_short_last_block() {
        let img: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        let mut c = Cached::new(Counting(&img, 0));
        let mut b = [0u8; 300];
        c.read(4000, &mut b).unwrap();
        assert_eq!(&b[..], &img[4000..4300]);
        c.read(4010, &mut b).unwrap();
        assert_eq!(c.src.1, 2, "two blocks read once each");
        c.read(9700, &mut b).unwrap();
        assert_eq!(&b[..], &img[9700..]);
        assert!(c.read(9701, &mut b).is_err());
        assert!(c.read(u64::MAX - 2, &mut b).is_err());
        for blk in 0..40u64 {
            let _ = c.read(blk * 4096 % 9000, &mut b[..1]);
        }
        assert!(c.blocks.len() <= BLOCKS);
    }
}
