//! bus_dma(9) over grant tables: a `Tag` states what a device may be given,
//! a `Map` owns the grant references for one buffer's worth of segments
//! (allocated at create time, as OpenBSD's xen bus_dma does), and `load`
//! turns a buffer's frames into (grant ref, offset, len) segments that a
//! driver puts straight into a ring slot.

extern crate alloc;

use alloc::vec::Vec;
use core::fmt;

use xenabi::hal::{DomId, Gfn, GrantError, GrantRef, GrantTable, PAGE_SIZE};

/// Who moves the data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// The device (backend) reads our buffer: the grant is read-only.
    ToDevice,
    /// The device writes our buffer: the grant is writable.
    FromDevice,
}

/// Constraints for every map created from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tag {
    pub alignment: usize,
    /// Segments may not cross a multiple of this (0: no constraint).
    pub boundary: usize,
    pub max_size: usize,
    pub max_segments: usize,
    pub max_segment_size: usize,
    pub peer: DomId,
    pub direction: Direction,
}

impl Tag {
    /// A tag for page-sized, page-aligned buffers of `max_segments` pages.
    pub fn pages(peer: DomId, direction: Direction, max_segments: usize) -> Tag {
        Tag {
            alignment: 1,
            boundary: PAGE_SIZE,
            max_size: max_segments * PAGE_SIZE,
            max_segments,
            max_segment_size: PAGE_SIZE,
            peer,
            direction,
        }
    }

    fn valid(&self) -> bool {
        self.alignment.is_power_of_two()
            && (self.boundary == 0 || self.boundary.is_power_of_two())
            && self.max_segments > 0
            && self.max_segment_size > 0
            && self.max_segment_size <= PAGE_SIZE
            && self.max_size > 0
    }
}

/// One granted piece of a loaded buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    pub gref: GrantRef,
    /// Offset within the granted page.
    pub offset: u16,
    pub len: u16,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DmaError {
    /// The tag's constraints are inconsistent.
    BadTag,
    /// Grant references (or table space) ran out at create time.
    Grant(GrantError),
    /// Buffer larger than the tag's max_size.
    TooBig,
    /// Buffer start does not meet the alignment.
    Misaligned,
    /// The buffer needs more segments than the tag allows.
    TooManySegments,
    /// The frames given do not cover offset + len.
    ShortBuffer,
    /// The map is loaded, or quarantined because the peer still uses a grant
    /// (also returned by a failed `load` whose undo found a grant in use).
    Busy,
}

impl fmt::Display for DmaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DmaError::BadTag => f.write_str("inconsistent tag"),
            DmaError::Grant(e) => write!(f, "{}", e),
            DmaError::TooBig => f.write_str("buffer over max_size"),
            DmaError::Misaligned => f.write_str("buffer misaligned"),
            DmaError::TooManySegments => f.write_str("too many segments"),
            DmaError::ShortBuffer => f.write_str("frames do not cover the buffer"),
            DmaError::Busy => f.write_str("map busy"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Idle,
    Loaded,
    /// unload found grants still in use (those with `active` set)
    Quarantined,
}

pub struct Map {
    tag: Tag,
    refs: Vec<GrantRef>,
    segs: Vec<Segment>,
    /// which loaded segments still have their grant active
    active: Vec<bool>,
    state: State,
}

impl Map {
    /// Allocate the references for the tag's max segments now, so a failure
    /// surfaces here and loads never allocate.
    pub fn create(tag: Tag, gt: &mut impl GrantTable) -> Result<Map, DmaError> {
        if !tag.valid() {
            return Err(DmaError::BadTag);
        }
        let mut refs = Vec::with_capacity(tag.max_segments);
        gt.alloc_refs(tag.max_segments, &mut refs)
            .map_err(DmaError::Grant)?;
        Ok(Map {
            tag,
            refs,
            segs: Vec::with_capacity(tag.max_segments),
            active: Vec::with_capacity(tag.max_segments),
            state: State::Idle,
        })
    }

    pub fn tag(&self) -> &Tag {
        &self.tag
    }

    pub fn segments(&self) -> &[Segment] {
        if self.state == State::Loaded {
            &self.segs
        } else {
            &[]
        }
    }

    pub fn is_loaded(&self) -> bool {
        self.state == State::Loaded
    }

    pub fn is_quarantined(&self) -> bool {
        self.state == State::Quarantined
    }

    /// Grant the buffer `[offset, offset + len)` of the pages `frames` (in
    /// order) to the tag's peer and describe it as segments.
    pub fn load(
        &mut self,
        gt: &mut impl GrantTable,
        frames: &[Gfn],
        offset: usize,
        len: usize,
    ) -> Result<&[Segment], DmaError> {
        if self.state != State::Idle {
            return Err(DmaError::Busy);
        }
        if len == 0 || len > self.tag.max_size {
            return Err(DmaError::TooBig);
        }
        if !offset.is_multiple_of(self.tag.alignment) {
            return Err(DmaError::Misaligned);
        }
        if offset
            .checked_add(len)
            .is_none_or(|end| end > frames.len() * PAGE_SIZE)
        {
            return Err(DmaError::ShortBuffer);
        }
        // Plan the segments first: nothing is granted unless all of it fits.
        self.segs.clear();
        let (mut at, end) = (offset, offset + len);
        while at < end {
            let mut n = (end - at)
                .min(PAGE_SIZE - at % PAGE_SIZE)
                .min(self.tag.max_segment_size);
            if self.tag.boundary != 0 {
                n = n.min(self.tag.boundary - at % self.tag.boundary);
            }
            if self.segs.len() == self.tag.max_segments {
                self.segs.clear();
                return Err(DmaError::TooManySegments);
            }
            let gref = self.refs[self.segs.len()];
            self.segs.push(Segment {
                gref,
                offset: (at % PAGE_SIZE) as u16,
                len: n as u16,
            });
            at += n;
        }
        let readonly = self.tag.direction == Direction::ToDevice;
        self.active.clear();
        let mut page_at = offset;
        for i in 0..self.segs.len() {
            let gfn = frames[page_at / PAGE_SIZE];
            if let Err(e) = gt.grant(self.segs[i].gref, self.tag.peer, gfn, readonly) {
                // Undo what was granted so far. The driver has not published
                // these refs, but a hostile peer may guess and map one: such
                // a grant stays active and the map is quarantined.
                self.segs.truncate(i);
                self.state = State::Loaded;
                return Err(match self.unload(gt) {
                    Ok(()) => DmaError::Grant(e),
                    Err(_) => DmaError::Busy,
                });
            }
            self.active.push(true);
            page_at += self.segs[i].len as usize;
        }
        self.state = State::Loaded;
        Ok(&self.segs)
    }

    /// End the peer's access. If the peer still uses a grant, the map is
    /// quarantined: the buffer must not be reused or freed, and `unload`
    /// must be called again later. Returns how many grants are still active.
    pub fn unload(&mut self, gt: &mut impl GrantTable) -> Result<(), usize> {
        if self.state == State::Idle {
            return Ok(());
        }
        let mut still = 0;
        for (s, active) in self.segs.iter().zip(self.active.iter_mut()) {
            if *active {
                match gt.end_access(s.gref) {
                    Ok(()) => *active = false,
                    Err(_) => still += 1,
                }
            }
        }
        if still == 0 {
            self.segs.clear();
            self.active.clear();
            self.state = State::Idle;
            Ok(())
        } else {
            self.state = State::Quarantined;
            Err(still)
        }
    }

    /// A driver letting go for good: unload and destroy; if the peer still
    /// uses a grant, forget the map and `keep` (the memory behind it) so
    /// neither reference nor memory is ever reused. True if quarantined.
    pub fn retire<K>(mut self, gt: &mut impl GrantTable, keep: K) -> bool {
        if self.unload(gt).is_ok() {
            let _ = self.destroy(gt);
            false
        } else {
            core::mem::forget(self);
            core::mem::forget(keep);
            true
        }
    }

    /// Give the references back. Refused (the map is returned) while loaded
    /// or quarantined.
    pub fn destroy(self, gt: &mut impl GrantTable) -> Result<(), Map> {
        if self.state != State::Idle {
            return Err(self);
        }
        for r in &self.refs {
            gt.free_ref(*r);
        }
        Ok(())
    }
}
