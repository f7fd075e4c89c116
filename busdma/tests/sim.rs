//! busdma against the simulated grant table: what the peer can and cannot
//! do with a loaded buffer, splitting, errors, quarantine, exhaustion, leaks.

use busdma::{Direction, DmaError, DmaMem, Map, Segment, Tag};
use proptest::prelude::*;
use xenabi::grant_table as gt;
use xenabi::hal::{DomId, Gfn, GrantError, GrantRef, GrantTable, PAGE_SIZE};
use xensim::{ArrayGrantTable, SimGrantTable, SimMemory, SimPageAlloc};

const PEER: u16 = 0;

fn setup(capacity: u32) -> (SimGrantTable, SimPageAlloc) {
    let mem = SimMemory::new();
    (
        SimGrantTable::new(mem.clone(), capacity),
        SimPageAlloc::new(mem),
    )
}

#[test]
fn to_device_is_read_only_for_the_peer() {
    let (mut g, mut pa) = setup(64);
    let buf = DmaMem::alloc(&mut pa, 1).unwrap();
    buf.write(10, b"packet");
    let mut map = Map::create(Tag::pages(PEER, Direction::ToDevice, 1), &mut g).unwrap();
    let segs = map.load(&mut g, buf.frames(), 10, 6).unwrap().to_vec();
    assert_eq!(segs.len(), 1);
    assert_eq!((segs[0].offset, segs[0].len), (10, 6));
    let e = g.entry(segs[0].gref).unwrap();
    assert_eq!(e.flags, gt::GTF_PERMIT_ACCESS | gt::GTF_READONLY);
    let mut got = [0u8; 6];
    g.copy_from(PEER, segs[0].gref, 10, &mut got).unwrap();
    assert_eq!(&got, b"packet");
    assert_eq!(
        g.copy_to(PEER, segs[0].gref, 10, b"evil"),
        Err(gt::GNTST_PERMISSION_DENIED)
    );
    assert_eq!(
        g.copy_from(7, segs[0].gref, 10, &mut got),
        Err(gt::GNTST_PERMISSION_DENIED),
        "other domains refused"
    );
    map.unload(&mut g).unwrap();
    assert_eq!(
        g.copy_from(PEER, segs[0].gref, 10, &mut got),
        Err(gt::GNTST_BAD_GNTREF),
        "no access after unload"
    );
    map.destroy(&mut g).ok().unwrap();
    assert!(g.active().is_empty());
    assert_eq!(g.allocated_refs(), 0);
}

#[test]
fn from_device_lets_the_peer_write() {
    let (mut g, mut pa) = setup(64);
    let buf = DmaMem::alloc(&mut pa, 1).unwrap();
    let mut map = Map::create(Tag::pages(PEER, Direction::FromDevice, 1), &mut g).unwrap();
    let s = map.load(&mut g, buf.frames(), 0, PAGE_SIZE).unwrap()[0];
    g.copy_to(PEER, s.gref, 0, b"frame").unwrap();
    let mut got = [0u8; 5];
    buf.read(0, &mut got);
    assert_eq!(&got, b"frame");
    map.unload(&mut g).unwrap();
}

#[test]
fn multi_page_buffers_split_at_page_boundaries() {
    let (mut g, mut pa) = setup(64);
    let buf = DmaMem::alloc(&mut pa, 3).unwrap();
    let mut map = Map::create(Tag::pages(PEER, Direction::ToDevice, 3), &mut g).unwrap();
    let segs: Vec<Segment> = map.load(&mut g, buf.frames(), 100, 9000).unwrap().to_vec();
    let shape: Vec<(u16, u16)> = segs.iter().map(|s| (s.offset, s.len)).collect();
    assert_eq!(shape, vec![(100, 3996), (0, 4096), (0, 908)]);
    for (i, s) in segs.iter().enumerate() {
        assert_eq!(
            g.entry(s.gref).unwrap().frame,
            buf.frames()[i],
            "segment {} grants page {}",
            i,
            i
        );
    }
    map.unload(&mut g).unwrap();
}

#[test]
fn segment_size_and_boundary_constraints() {
    let (mut g, mut pa) = setup(64);
    let buf = DmaMem::alloc(&mut pa, 1).unwrap();
    let tag = Tag {
        max_segment_size: 1000,
        boundary: 2048,
        max_segments: 8,
        ..Tag::pages(PEER, Direction::ToDevice, 1)
    };
    let mut map = Map::create(tag, &mut g).unwrap();
    let shape: Vec<(u16, u16)> = map
        .load(&mut g, buf.frames(), 1500, 2000)
        .unwrap()
        .iter()
        .map(|s| (s.offset, s.len))
        .collect();
    assert_eq!(shape, vec![(1500, 548), (2048, 1000), (3048, 452)]);
    map.unload(&mut g).unwrap();
}

#[test]
fn bad_loads_grant_nothing() {
    let (mut g, mut pa) = setup(64);
    let buf = DmaMem::alloc(&mut pa, 2).unwrap();
    let mut map = Map::create(Tag::pages(PEER, Direction::ToDevice, 1), &mut g).unwrap();
    assert_eq!(
        map.load(&mut g, buf.frames(), 0, 2 * PAGE_SIZE).err(),
        Some(DmaError::TooBig)
    );
    assert_eq!(
        map.load(&mut g, buf.frames(), 100, PAGE_SIZE).err(),
        Some(DmaError::TooManySegments)
    );
    assert_eq!(
        map.load(&mut g, &buf.frames()[..1], 4000, 200).err(),
        Some(DmaError::ShortBuffer)
    );
    assert_eq!(
        map.load(&mut g, buf.frames(), 0, 0).err(),
        Some(DmaError::TooBig)
    );
    let aligned = Tag {
        alignment: 64,
        ..Tag::pages(PEER, Direction::ToDevice, 1)
    };
    let mut m2 = Map::create(aligned, &mut g).unwrap();
    assert_eq!(
        m2.load(&mut g, buf.frames(), 3, 10).err(),
        Some(DmaError::Misaligned)
    );
    assert!(g.active().is_empty());
    assert!(!map.is_loaded());
    map.load(&mut g, buf.frames(), 0, 10).unwrap();
    assert_eq!(
        map.load(&mut g, buf.frames(), 0, 10).err(),
        Some(DmaError::Busy),
        "loaded twice"
    );
    map.unload(&mut g).unwrap();
    let bad = Tag {
        alignment: 3,
        ..Tag::pages(PEER, Direction::ToDevice, 1)
    };
    assert_eq!(Map::create(bad, &mut g).err(), Some(DmaError::BadTag));
}

#[test]
fn grants_in_use_are_quarantined_not_reused() {
    let (mut g, mut pa) = setup(64);
    let buf = DmaMem::alloc(&mut pa, 2).unwrap();
    let mut map = Map::create(Tag::pages(PEER, Direction::FromDevice, 2), &mut g).unwrap();
    let segs = map
        .load(&mut g, buf.frames(), 0, 2 * PAGE_SIZE)
        .unwrap()
        .to_vec();
    let _mapped = g.map(PEER, segs[1].gref, false).unwrap();
    assert_eq!(
        map.unload(&mut g),
        Err(1),
        "one grant still mapped by the peer"
    );
    assert!(map.is_quarantined());
    assert_eq!(g.active(), vec![segs[1].gref]);
    assert_eq!(
        map.load(&mut g, buf.frames(), 0, 10).err(),
        Some(DmaError::Busy)
    );
    let map = map
        .destroy(&mut g)
        .err()
        .expect("destroy refused while quarantined");
    let mut map = map;
    g.unmap(segs[1].gref);
    map.unload(&mut g).unwrap();
    map.destroy(&mut g).ok().unwrap();
    assert!(g.active().is_empty());
    assert_eq!(g.allocated_refs(), 0);
}

#[test]
fn exhaustion_surfaces_at_create_time() {
    let (mut g, _) = setup(8 + 5);
    let m1 = Map::create(Tag::pages(PEER, Direction::ToDevice, 4), &mut g).unwrap();
    assert_eq!(
        Map::create(Tag::pages(PEER, Direction::ToDevice, 2), &mut g).err(),
        Some(DmaError::Grant(GrantError::Exhausted))
    );
    assert_eq!(g.allocated_refs(), 4, "the failed create took nothing");
    m1.destroy(&mut g).ok().unwrap();
    assert!(Map::create(Tag::pages(PEER, Direction::ToDevice, 5), &mut g).is_ok());
}

#[test]
fn a_million_cycles_leak_nothing() {
    let mut g = ArrayGrantTable::new(64);
    let frames = [0x1000u64, 0x1001];
    let free0 = g.free_count();
    let mut map = Map::create(Tag::pages(PEER, Direction::ToDevice, 2), &mut g).unwrap();
    for i in 0..1_000_000usize {
        let len = 1 + (i * 7919) % 5000;
        map.load(&mut g, &frames, i % 3000, len).unwrap();
        map.unload(&mut g).unwrap();
    }
    assert_eq!(g.active(), 0);
    map.destroy(&mut g).ok().unwrap();
    assert_eq!(g.free_count(), free0);
}

/// A grant table whose `fail_at`-th grant fails; just before failing, a
/// hostile peer that guessed the previous reference maps it (`peer_races`).
struct FailingTable {
    inner: SimGrantTable,
    grants: usize,
    fail_at: usize,
    last: Option<GrantRef>,
    peer_races: bool,
}

impl GrantTable for FailingTable {
    fn alloc_refs(&mut self, n: usize, out: &mut Vec<GrantRef>) -> Result<(), GrantError> {
        self.inner.alloc_refs(n, out)
    }
    fn free_ref(&mut self, r: GrantRef) {
        self.inner.free_ref(r)
    }
    fn grant(&mut self, r: GrantRef, d: DomId, gfn: Gfn, ro: bool) -> Result<(), GrantError> {
        self.grants += 1;
        if self.grants == self.fail_at {
            if let (true, Some(prev)) = (self.peer_races, self.last) {
                self.inner.map(d, prev, ro).unwrap();
            }
            return Err(GrantError::BadRef);
        }
        self.last = Some(r);
        self.inner.grant(r, d, gfn, ro)
    }
    fn end_access(&mut self, r: GrantRef) -> Result<(), GrantError> {
        self.inner.end_access(r)
    }
}

#[test]
fn a_failed_load_ends_what_it_granted() {
    let (g, mut pa) = setup(64);
    let buf = DmaMem::alloc(&mut pa, 3).unwrap();
    let mut t = FailingTable {
        inner: g.clone(),
        grants: 0,
        fail_at: 3,
        last: None,
        peer_races: false,
    };
    let mut map = Map::create(Tag::pages(PEER, Direction::ToDevice, 3), &mut t).unwrap();
    assert_eq!(
        map.load(&mut t, buf.frames(), 0, 3 * PAGE_SIZE).err(),
        Some(DmaError::Grant(GrantError::BadRef))
    );
    assert!(!map.is_loaded() && !map.is_quarantined());
    assert!(g.active().is_empty(), "the two granted pages were ended");
    map.load(&mut t, buf.frames(), 0, 3 * PAGE_SIZE).unwrap();
    map.unload(&mut t).unwrap();
    map.destroy(&mut t).ok().unwrap();
    assert_eq!(g.allocated_refs(), 0);
}

#[test]
fn a_failed_load_quarantines_a_grant_the_peer_grabbed() {
    let (g, mut pa) = setup(64);
    let buf = DmaMem::alloc(&mut pa, 3).unwrap();
    let mut t = FailingTable {
        inner: g.clone(),
        grants: 0,
        fail_at: 3,
        last: None,
        peer_races: true,
    };
    let mut map = Map::create(Tag::pages(PEER, Direction::ToDevice, 3), &mut t).unwrap();
    assert_eq!(
        map.load(&mut t, buf.frames(), 0, 3 * PAGE_SIZE).err(),
        Some(DmaError::Busy)
    );
    assert!(map.is_quarantined(), "the buffer must not be reused");
    let grabbed = t.last.unwrap();
    assert_eq!(g.active(), vec![grabbed]);
    assert!(map.segments().is_empty());
    let mut map = map.destroy(&mut t).err().expect("destroy refused");
    assert_eq!(map.unload(&mut t), Err(1));
    g.unmap(grabbed);
    map.unload(&mut t).unwrap();
    map.destroy(&mut t).ok().unwrap();
    assert!(g.active().is_empty());
    assert_eq!(g.allocated_refs(), 0);
}

proptest! {
    #[test]
    fn random_loads_cover_the_buffer_exactly(offset in 0usize..8192, len in 1usize..12288, dir in any::<bool>()) {
        let (mut g, mut pa) = setup(64);
        let buf = DmaMem::alloc(&mut pa, 5).unwrap();
        let direction = if dir { Direction::ToDevice } else { Direction::FromDevice };
        let mut map = Map::create(Tag::pages(PEER, direction, 4), &mut g).unwrap();
        match map.load(&mut g, buf.frames(), offset, len) {
            Ok(segs) => {
                let segs = segs.to_vec();
                prop_assert_eq!(segs.iter().map(|s| s.len as usize).sum::<usize>(), len);
                let mut at = offset;
                for s in &segs {
                    prop_assert_eq!(s.offset as usize, at % PAGE_SIZE);
                    prop_assert!(s.offset as usize + s.len as usize <= PAGE_SIZE);
                    let e = g.entry(s.gref).unwrap();
                    prop_assert_eq!(e.frame, buf.frames()[at / PAGE_SIZE]);
                    prop_assert_eq!(e.flags & gt::GTF_READONLY != 0, dir);
                    at += s.len as usize;
                }
                map.unload(&mut g).unwrap();
            }
            Err(e) => {
                prop_assert!(matches!(e, DmaError::TooBig | DmaError::TooManySegments));
                prop_assert!(g.active().is_empty());
            }
        }
        map.destroy(&mut g).ok().unwrap();
        prop_assert_eq!(g.allocated_refs(), 0);
    }
}

#[derive(Clone, Debug)]
enum Op {
    Load { offset: usize, len: usize },
    PeerMap { seg: usize, write: bool },
    PeerUnmapAll,
    Unload,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0usize..8192, 1usize..9000).prop_map(|(offset, len)| Op::Load { offset, len }),
        (0usize..3, any::<bool>()).prop_map(|(seg, write)| Op::PeerMap { seg, write }),
        Just(Op::PeerUnmapAll),
        Just(Op::Unload),
    ]
}

proptest! {
    /// Whatever a driver and a peer do in whatever order: a grant is active
    /// only while its map is loaded or quarantined, the peer never writes a
    /// to-device buffer, and once the peer lets go everything comes back.
    #[test]
    fn random_driver_and_peer_interleavings_never_leak(ops in proptest::collection::vec(op(), 1..40), dir in any::<bool>()) {
        let (mut g, mut pa) = setup(64);
        let buf = DmaMem::alloc(&mut pa, 3).unwrap();
        let direction = if dir { Direction::ToDevice } else { Direction::FromDevice };
        let mut map = Map::create(Tag::pages(PEER, direction, 3), &mut g).unwrap();
        let mut granted: Vec<GrantRef> = Vec::new();
        let mut mapped: Vec<GrantRef> = Vec::new();
        for op in ops {
            match op {
                Op::Load { offset, len } => {
                    let was_idle = !map.is_loaded() && !map.is_quarantined();
                    match map.load(&mut g, buf.frames(), offset, len) {
                        Ok(segs) => {
                            prop_assert!(was_idle);
                            granted = segs.iter().map(|s| s.gref).collect();
                        }
                        Err(DmaError::Busy) => prop_assert!(!was_idle),
                        Err(e) => prop_assert!(matches!(e, DmaError::TooBig | DmaError::TooManySegments | DmaError::ShortBuffer)),
                    }
                }
                Op::PeerMap { seg, write } => {
                    if let Some(r) = map.segments().get(seg).map(|s| s.gref) {
                        match g.map(PEER, r, !write) {
                            Ok(_) => {
                                prop_assert!(!(write && dir), "writable map of a to-device grant");
                                mapped.push(r);
                            }
                            Err(e) => prop_assert!(write && dir && e == gt::GNTST_PERMISSION_DENIED),
                        }
                    }
                }
                Op::PeerUnmapAll => {
                    for r in mapped.drain(..) {
                        g.unmap(r);
                    }
                }
                Op::Unload => {
                    let res = map.unload(&mut g);
                    let busy: std::collections::BTreeSet<_> = mapped.iter().collect();
                    match res {
                        Ok(()) => prop_assert!(busy.is_empty()),
                        Err(n) => {
                            prop_assert_eq!(n, busy.len());
                            prop_assert!(map.is_quarantined());
                        }
                    }
                }
            }
            // invariant: active grants are exactly those of a loaded or quarantined map
            let active = g.active();
            if map.is_loaded() {
                let mut want = granted.clone();
                want.sort();
                prop_assert_eq!(&active, &want);
            } else if map.is_quarantined() {
                prop_assert!(!active.is_empty());
                // still granted until unload is retried, even after the peer let go
                prop_assert!(active.iter().all(|r| granted.contains(r)));
            } else {
                prop_assert!(active.is_empty());
            }
        }
        for r in mapped.drain(..) {
            g.unmap(r);
        }
        map.unload(&mut g).unwrap();
        map.destroy(&mut g).ok().unwrap();
        prop_assert!(g.active().is_empty());
        prop_assert_eq!(g.allocated_refs(), 0);
        prop_assert_eq!(g.misuses(), 0, "busdma never frees a granted ref");
    }
}
