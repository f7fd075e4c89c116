//! blkfront against the simulated blkback: the handshake, reads of every
//! size and alignment on 512-, 2048- and 4096-byte disks, and a hostile
//! backend that must never panic us or leave a grant active.

use std::cell::RefCell;
use std::rc::Rc;

use blkfront::{BlkError, Blkfront, CHUNK, SEGMENTS};
use xenabi::blkif as b;
use xenabi::hal::Clock;
use xensim::xenstored::Xenstored;
use xensim::SimPageAlloc;
use xensim::{BlkMisbehave, SimBlkback, SimClock, SimEvtchn, SimGrantTable, SimMemory, SimPage};
use xenstore::xenbus;
use xenstore::{Client, Wait};

const DOMID: u16 = 1;
const VDEV: u32 = 51712; // xvda
const MS: u64 = 1_000_000;

struct SimWait {
    xsd: Rc<RefCell<Xenstored>>,
    bb: Rc<RefCell<SimBlkback>>,
    clock: SimClock,
}

impl Wait for SimWait {
    fn notify(&mut self) {}
    fn wait(&mut self, deadline_ns: u64) {
        self.xsd.borrow_mut().process();
        self.bb.borrow_mut().step();
        self.xsd.borrow_mut().process();
        let step = MS.min(deadline_ns.saturating_sub(self.clock.now_ns()).max(1));
        self.clock.advance(step);
    }
    fn now_ns(&self) -> u64 {
        self.clock.now_ns()
    }
}

struct Env {
    xs: Client<SimPage, SimWait>,
    gt: SimGrantTable,
    evt: SimEvtchn,
    bb: Rc<RefCell<SimBlkback>>,
    pa: SimPageAlloc,
}

type Disk = Blkfront<SimPage, SimEvtchn>;

/// A disk image whose every byte says where it is.
fn image(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[1])
        .collect()
}

fn env_with(img: Vec<u8>, setup: impl FnOnce(&mut SimBlkback)) -> Env {
    let mem = SimMemory::new();
    let gt = SimGrantTable::new(mem.clone(), 1024);
    let evt = SimEvtchn::new();
    let xsd = Rc::new(RefCell::new(Xenstored::new()));
    let page = SimPage::new();
    xsd.borrow_mut().introduce(DOMID, page.clone());
    let mut bb = SimBlkback::attach(xsd.clone(), gt.clone(), evt.clone(), DOMID, VDEV, img);
    setup(&mut bb);
    let bb = Rc::new(RefCell::new(bb));
    let mut xs = Client::new(
        page,
        SimWait {
            xsd,
            bb: bb.clone(),
            clock: SimClock::new(),
        },
    );
    xs.timeout_ns = 1_000_000_000;
    Env {
        xs,
        gt,
        evt,
        bb,
        pa: SimPageAlloc::new(mem),
    }
}

fn env(misbehave: Option<BlkMisbehave>) -> Env {
    env_with(image(256 * 1024), |bb| bb.misbehave = misbehave)
}

fn connect(e: &mut Env) -> Result<Disk, BlkError> {
    let devs = xenbus::enumerate(&mut e.xs, "vbd").unwrap();
    assert_eq!(devs.len(), 1);
    Blkfront::connect(
        &mut e.xs,
        &mut e.gt.clone(),
        &mut e.pa,
        e.evt.clone(),
        &devs[0],
    )
}

fn read(e: &mut Env, d: &mut Disk, offset: u64, len: usize) -> Result<Vec<u8>, BlkError> {
    let mut buf = vec![0u8; len];
    let deadline = e.xs.waiter().now_ns() + 2_000 * MS;
    d.read(&mut e.xs, offset, &mut buf, deadline).map(|_| buf)
}

/// Shut down and check that nothing stays granted or allocated, and that
/// the backend never saw anything but reads.
fn assert_clean_close(mut e: Env, d: Disk) {
    let gt = e.gt.clone();
    let quarantined = d.shutdown(&mut e.xs, &mut gt.clone());
    assert_eq!(quarantined, 0, "every grant ended");
    assert!(gt.active().is_empty(), "grants left: {:?}", gt.active());
    assert_eq!(gt.allocated_refs(), 0, "every reference returned");
    assert_eq!(gt.misuses(), 0);
    let bb = e.bb.borrow().requests.clone();
    assert!(!e.bb.borrow().connected);
    assert!(
        bb.iter().all(|r| r.operation == b::BLKIF_OP_READ),
        "only reads"
    );
    assert_eq!(
        e.xs.read_string(&format!("device/vbd/{}/state", VDEV))
            .unwrap(),
        "6"
    );
}

#[test]
fn connects_and_publishes_the_handshake() {
    let mut e = env(None);
    let d = connect(&mut e).unwrap();
    let fe = |xs: &mut Client<SimPage, SimWait>, k: &str| {
        xs.read_string(&format!("device/vbd/{}/{}", VDEV, k))
            .unwrap()
    };
    assert_eq!(fe(&mut e.xs, "state"), "4");
    assert_eq!(fe(&mut e.xs, "protocol"), "x86_64-abi");
    assert_eq!(fe(&mut e.xs, "event-channel"), format!("{}", d.port));
    assert_eq!(
        fe(&mut e.xs, "ring-ref"),
        format!("{}", e.bb.borrow().ring_ref().unwrap())
    );
    // offered, read, and not taken up
    assert!(d.offered().persistent);
    assert_eq!(d.offered().max_ring_page_order, 4);
    assert_eq!(d.offered().max_indirect_segments, 256);
    for k in ["feature-persistent", "ring-page-order", "ring-ref0"] {
        assert!(e
            .xs
            .read_string(&format!("device/vbd/{}/{}", VDEV, k))
            .is_err());
    }
    let info = *d.info();
    assert_eq!((info.size_bytes, info.sector_size), (256 * 1024, 512));
    assert!(info.is_readonly() && !info.is_cdrom());
    // the ring and every data page granted once, at connect
    assert_eq!(e.gt.active().len(), 1 + blkfront::REQUESTS * SEGMENTS);
    assert!(!e.evt.is_masked(d.port));
    assert_clean_close(e, d);
}

/// Offsets and lengths around every boundary that matters: sectors,
/// pages, a request's chunk, the end of the disk.
fn boundaries(size: usize) -> Vec<(u64, usize)> {
    let edges = [0usize, 1, 511, 512, 513, 2047, 2048, 4095, 4096, 4097];
    let mut v = Vec::new();
    for &o in &edges {
        for &l in &[
            1usize,
            7,
            511,
            512,
            513,
            4096,
            5000,
            CHUNK - 1,
            CHUNK,
            CHUNK + 1,
            3 * CHUNK + 77,
        ] {
            v.push((o as u64, l));
        }
    }
    for o in [CHUNK - 1, CHUNK, CHUNK + 513, 100_000] {
        v.push((o as u64, 9 * CHUNK / 2));
    }
    v.push((0, size)); // the whole disk: more chunks than slots
    v.push(((size - 1) as u64, 1));
    v.push(((size - 4096) as u64, 4096));
    v.retain(|&(o, l)| o as usize + l <= size);
    v
}

fn reads_everywhere(sector_size: u32) {
    let img = image(512 * 1024);
    let mut e = env_with(img.clone(), |bb| {
        bb.disk_nodes[2].1 = format!("{}", sector_size);
    });
    let mut d = connect(&mut e).unwrap();
    assert_eq!(d.info().sector_size, sector_size);
    let cases = boundaries(img.len());
    for &(o, l) in &cases {
        let got =
            read(&mut e, &mut d, o, l).unwrap_or_else(|err| panic!("{} at {}: {}", l, o, err));
        assert!(
            got == img[o as usize..o as usize + l],
            "{} bytes at {}",
            l,
            o
        );
    }
    assert_eq!(d.stats.reads, cases.len() as u64);
    assert_eq!(d.stats.io_errors, 0);
    // every request the backend saw was aligned to the logical block (the
    // backend answers misaligned ones with an error, which would have failed)
    let per_block = sector_size as u64 / 512;
    assert!(e
        .bb
        .borrow()
        .requests
        .iter()
        .all(|r| r.sector.is_multiple_of(per_block)
            && (r.bytes as u64 / 512).is_multiple_of(per_block)
            && r.bytes <= CHUNK));
    assert_clean_close(e, d);
}

#[test]
fn reads_of_every_size_and_alignment_512() {
    reads_everywhere(512);
}

#[test]
fn reads_of_every_size_and_alignment_2048() {
    reads_everywhere(2048);
}

#[test]
fn reads_of_every_size_and_alignment_4096() {
    reads_everywhere(4096);
}

#[test]
fn a_big_read_keeps_several_requests_in_flight_and_takes_them_in_any_order() {
    let img = image(512 * 1024);
    let mut e = env_with(img.clone(), |bb| bb.misbehave = Some(BlkMisbehave::Reorder));
    let mut d = connect(&mut e).unwrap();
    let got = read(&mut e, &mut d, 3, img.len() - 3).unwrap();
    assert!(got == img[3..]);
    let n = img.len().div_ceil(CHUNK) as u64;
    assert_eq!(d.stats.requests, n);
    assert!(
        d.stats.notifies < n,
        "batches of requests share a notification: {} for {}",
        d.stats.notifies,
        n
    );
    assert_clean_close(e, d);
}

#[test]
fn reads_past_the_end_are_refused_and_the_device_stays_up() {
    let mut e = env(None);
    let mut d = connect(&mut e).unwrap();
    let size = d.info().size_bytes;
    for (o, l) in [
        (size, 1),
        (size - 1, 2),
        (u64::MAX, 1),
        (0, size as usize + 1),
    ] {
        assert!(
            matches!(read(&mut e, &mut d, o, l), Err(BlkError::OutOfRange { .. })),
            "{} at {}",
            l,
            o
        );
    }
    assert_eq!(read(&mut e, &mut d, size, 0), Ok(vec![]));
    assert!(d.is_down().is_none());
    assert_eq!(read(&mut e, &mut d, 0, 4).unwrap(), image(4));
    assert_clean_close(e, d);
}

#[test]
fn an_error_status_fails_the_read_not_the_device() {
    let mut e = env(Some(BlkMisbehave::ErrorStatus));
    let mut d = connect(&mut e).unwrap();
    let r = read(&mut e, &mut d, 1000, 3 * CHUNK);
    assert_eq!(
        r,
        Err(BlkError::Io {
            offset: 512,
            status: b::BLKIF_RSP_ERROR
        })
    );
    assert_eq!(d.stats.io_errors, 4, "every chunk in flight drained");
    assert!(d.is_down().is_none());
    e.bb.borrow_mut().misbehave = None;
    assert_eq!(read(&mut e, &mut d, 0, 100).unwrap(), image(100));
    assert_clean_close(e, d);
}

// ---- the hostile backend ----

/// A read against a misbehaving backend ends with the device down and a
/// reason containing `needle`; later reads are refused; closing leaves
/// nothing granted.
fn hostile(m: BlkMisbehave, len: usize, needle: &str) {
    let mut e = env(Some(m));
    let mut d = connect(&mut e).unwrap();
    let r = read(&mut e, &mut d, 0, len);
    match r {
        Err(BlkError::Down(ref why)) => assert!(why.contains(needle), "{:?}: {:?}", m, why),
        other => panic!("{:?}: {:?}", m, other),
    }
    assert!(d.is_down().unwrap().contains(needle));
    assert!(matches!(read(&mut e, &mut d, 0, 1), Err(BlkError::Down(_))));
    assert_clean_close(e, d);
}

#[test]
fn hostile_wrong_id() {
    hostile(BlkMisbehave::WrongId, 512, "id 1000 not in flight");
}

#[test]
fn hostile_wrong_operation() {
    hostile(BlkMisbehave::WrongOperation, 512, "operation 1");
}

#[test]
fn hostile_unknown_status() {
    hostile(BlkMisbehave::UnknownStatus, 512, "unknown status 7");
}

#[test]
fn hostile_response_never_asked_for() {
    // four requests in flight: the last answer repeats the first's id
    hostile(BlkMisbehave::Unsolicited, 4 * CHUNK, "id 0 not in flight");
}

#[test]
fn hostile_duplicate_past_our_requests() {
    // one request in flight: its copy is one response more than we asked for
    hostile(BlkMisbehave::Duplicate, 512, "rsp_prod 2 cons 0");
}

#[test]
fn hostile_producer_jump() {
    hostile(BlkMisbehave::ProdJump, 512, "runs past our requests");
}

#[test]
fn hostile_event_storm() {
    hostile(BlkMisbehave::Storm, 512, "event storm");
}

#[test]
fn backend_closing_mid_read() {
    hostile(
        BlkMisbehave::CloseMidRead,
        512,
        "left Connected mid-read (state Closing)",
    );
}

#[test]
fn a_silent_backend_meets_the_deadline() {
    let mut e = env(Some(BlkMisbehave::Silent));
    let mut d = connect(&mut e).unwrap();
    let t0 = e.xs.waiter().now_ns();
    let mut buf = [0u8; 512];
    let r = d.read(&mut e.xs, 0, &mut buf, t0 + 300 * MS);
    assert!(
        matches!(r, Err(BlkError::Down(ref m)) if m.contains("timed out with 1 requests")),
        "{:?}",
        r
    );
    let waited = e.xs.waiter().now_ns() - t0;
    assert!((300 * MS..310 * MS).contains(&waited), "{} ns", waited);
    assert_clean_close(e, d);
}

#[test]
fn a_backend_that_keeps_the_ring_mapped_gets_it_quarantined() {
    let mut e = env(Some(BlkMisbehave::KeepRingMapped));
    let mut d = connect(&mut e).unwrap();
    assert_eq!(read(&mut e, &mut d, 0, 10).unwrap(), image(10));
    let ring = e.bb.borrow().ring_ref().unwrap();
    let gt = e.gt.clone();
    assert_eq!(d.shutdown(&mut e.xs, &mut gt.clone()), 1);
    assert_eq!(gt.active(), vec![ring], "only the ring stays granted");
    assert_eq!(gt.allocated_refs(), 1, "its reference is never reused");
    assert_eq!(gt.misuses(), 0);
}

#[test]
fn a_detach_waits_for_a_slow_backend_to_let_go() {
    let mut e = env(None);
    let mut d = connect(&mut e).unwrap();
    read(&mut e, &mut d, 0, 100).unwrap();
    e.bb.borrow_mut().begin_close();
    e.bb.borrow_mut().close_lag = 20;
    assert_clean_close(e, d);
}

// ---- refused at connect ----

/// Connect must fail with `want`, end and give back everything it granted
/// and leave the frontend saying Closed.
fn assert_connect_refused(mut e: Env, want: impl Fn(&BlkError) -> bool) {
    let gt = e.gt.clone();
    let err = connect(&mut e).err().expect("connect must fail");
    assert!(want(&err), "{:?}", err);
    assert!(gt.active().is_empty(), "{:?}", gt.active());
    assert_eq!(gt.allocated_refs(), 0);
    assert_eq!(
        e.xs.read_string(&format!("device/vbd/{}/state", VDEV))
            .unwrap(),
        "6",
        "frontend says Closed"
    );
}

fn backend_error(needle: &'static str) -> impl Fn(&BlkError) -> bool {
    move |e| matches!(e, BlkError::Backend(m) if m.contains(needle))
}

#[test]
fn bad_disk_descriptions_are_refused() {
    let cases: [(&'static str, Option<&str>, &'static str); 6] = [
        (
            "sector-size",
            Some("1000"),
            "sector-size 1000 is not a power of two",
        ),
        ("sector-size", Some("8192"), "sector-size 8192"),
        ("sector-size", Some("256"), "sector-size 256"),
        ("sectors", Some("36028797018963968"), "overflows"),
        ("sectors", None, "no sectors"),
        ("info", Some("cdrom"), "info is not a number"),
    ];
    for (key, value, needle) in cases {
        let e = env_with(image(4096), |bb| {
            bb.disk_nodes.retain(|(k, _)| *k != key);
            if let Some(v) = value {
                bb.disk_nodes.push((key, v.to_string()));
            }
        });
        assert_connect_refused(e, backend_error(needle));
    }
}

#[test]
fn a_backend_that_never_connects_is_given_up_on() {
    assert_connect_refused(
        env(Some(BlkMisbehave::NeverConnect)),
        backend_error("did not connect"),
    );
}

#[test]
fn out_of_pages_at_connect() {
    let mut e = env(None);
    e.pa.limit = Some(20);
    assert_connect_refused(e, |err| *err == BlkError::Resources("out of pages"));
}

#[test]
fn out_of_grant_references_at_connect() {
    let mem = SimMemory::new();
    let mut e = env(None);
    // a table too small for the 44 data pages
    e.gt = SimGrantTable::new(mem.clone(), 30);
    e.pa = SimPageAlloc::new(mem);
    let gt = e.gt.clone();
    e.bb.borrow_mut().misbehave = None;
    let err = connect(&mut e).err().expect("connect must fail");
    assert_eq!(err, BlkError::Resources("out of grant references"));
    assert!(gt.active().is_empty());
    assert_eq!(gt.allocated_refs(), 0);
}

// ---- a seed disk end to end: mkseed.sh -> blkback -> blkfront -> seedfs ----

/// seedfs reading through the driver, as the runtime wires them.
struct DiskSource<'a> {
    e: &'a mut Env,
    d: &'a mut Disk,
}

impl seedfs::Source for DiskSource<'_> {
    fn len(&self) -> u64 {
        self.d.info().size_bytes
    }
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), seedfs::SourceError> {
        let deadline = self.e.xs.waiter().now_ns() + 1_000 * MS;
        self.d
            .read(&mut self.e.xs, offset, buf, deadline)
            .map_err(|e| seedfs::SourceError(e.to_string()))
    }
}

fn tool(cmd: &str, args: &[&str]) {
    let st = std::process::Command::new(cmd)
        .args(args)
        .status()
        .unwrap_or_else(|e| panic!("{} must be installed (./run.sh deps): {}", cmd, e));
    assert!(st.success(), "{} {:?}", cmd, args);
}

fn seed_files(dir: &std::path::Path) -> std::path::PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let key = dir.join("key.pub");
    std::fs::write(&key, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJvrxPOqLjGIrks1sfcFsNbfGXZKw1WuzOYuOoDjuRgp me@host\n").unwrap();
    key
}

fn read_seed(img: Vec<u8>, sector_size: u32, cdrom: bool) -> (Vec<u8>, Vec<u8>) {
    let mut e = env_with(img, |bb| {
        bb.disk_nodes[2].1 = format!("{}", sector_size);
        if cdrom {
            bb.disk_nodes[1].1 = format!("{}", b::VDISK_CDROM | b::VDISK_READONLY);
        }
    });
    let mut d = connect(&mut e).unwrap();
    assert_eq!(d.info().is_cdrom(), cdrom);
    let (meta, user) = {
        let mut vol = seedfs::open(DiskSource {
            e: &mut e,
            d: &mut d,
        })
        .unwrap();
        assert!(
            vol.label().eq_ignore_ascii_case("cidata"),
            "{}",
            vol.label()
        );
        (
            vol.read_file("meta-data", 4096).unwrap().unwrap(),
            vol.read_file("user-data", 4096).unwrap().unwrap(),
        )
    };
    assert!(d.stats.requests < 40, "{} requests", d.stats.requests);
    assert_clean_close(e, d);
    (meta, user)
}

#[test]
fn a_mkseed_disk_read_through_the_driver() {
    let dir = std::env::temp_dir().join(format!("blk-seed-{}", std::process::id()));
    let key = seed_files(&dir);
    let out = dir.join("seed.img");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../image/mkseed.sh");
    tool(
        "bash",
        &[
            script,
            "--key",
            key.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let (meta, user) = read_seed(std::fs::read(&out).unwrap(), 512, false);
    assert!(meta.starts_with(b"instance-id: iid-seed-"));
    assert!(user.starts_with(b"#cloud-config\nssh_authorized_keys:\n  - 'ssh-ed25519 AAAA"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_cloud_localds_style_iso_on_a_2k_cdrom() {
    let dir = std::env::temp_dir().join(format!("blk-iso-{}", std::process::id()));
    let tree = dir.join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(tree.join("meta-data"), "instance-id: iid-iso\n").unwrap();
    std::fs::write(tree.join("user-data"), "#cloud-config\n").unwrap();
    let out = dir.join("seed.iso");
    tool(
        "genisoimage",
        &[
            "-quiet",
            "-o",
            out.to_str().unwrap(),
            "-V",
            "cidata",
            "-J",
            "-R",
            tree.to_str().unwrap(),
        ],
    );
    let (meta, user) = read_seed(std::fs::read(&out).unwrap(), 2048, true);
    assert_eq!(meta, b"instance-id: iid-iso\n");
    assert_eq!(user, b"#cloud-config\n");
    let _ = std::fs::remove_dir_all(&dir);
}
