//! The seed-disk datasource: before the network comes up, look at each
//! block device the toolstack gave us for a NoCloud seed (a volume labelled
//! `cidata`: `meta-data`, `user-data`, `vendor-data`, `network-config`) or
//! an OpenStack config drive (`config-2`: `openstack/latest/meta_data.json`,
//! `user_data`). The first one found wins over the network sources. Every
//! disk is closed again after (a seed is read once, never written).

extern crate alloc;

use alloc::format;
use alloc::string::String;

use blkfront::Blkfront;
use cloudinit::files::Got;
use cloudinit::netconfig::{self, NetConfig};
use cloudinit::nocloud::{self, Overrides};
use cloudinit::openstack;
use cloudinit::source::Metadata;
use xenstore::xenbus;

use crate::report::quoted;
use crate::{Cx, Platform};

/// Largest seed file we read; user-data may be gzip'd and is bounded again
/// when inflated.
const MAX_FILE: usize = 64 * 1024;
/// Each read of the disk must finish within this.
const READ_TIMEOUT_NS: u64 = 5_000_000_000;

pub struct Seed {
    pub metadata: Metadata,
    /// What `network-config` says for the first NIC (None: DHCP).
    pub network: Option<NetConfig>,
}

type Disk<P> = Blkfront<<P as Platform>::Page, <P as Platform>::Events>;

/// One disk as `seedfs` bytes.
struct DiskBytes<'a, 'b, P: Platform> {
    cx: &'a mut Cx<'b, P>,
    disk: &'a mut Disk<P>,
}

impl<P: Platform> seedfs::Source for DiskBytes<'_, '_, P> {
    fn len(&self) -> u64 {
        self.disk.info().size_bytes
    }
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), seedfs::SourceError> {
        let deadline = self.cx.host.now_ns().saturating_add(READ_TIMEOUT_NS);
        self.disk
            .read(&mut self.cx.xen.store, offset, buf, deadline)
            .map_err(|e| seedfs::SourceError(format!("{}", e)))
    }
}

/// Look at every vbd (as `announce` found them); the first seed found,
/// read and parsed.
pub fn find<P: Platform>(
    cx: &mut Cx<'_, P>,
    overrides: &Overrides,
    devs: alloc::vec::Vec<xenbus::Device>,
) -> Option<Seed> {
    for dev in devs {
        let name = cx
            .xen
            .store
            .read_string(&format!("{}/dev", dev.backend))
            .ok()
            .filter(|n| n.len() <= 16 && n.bytes().all(|b| b.is_ascii_alphanumeric()))
            .unwrap_or_else(|| String::from(dev.path.trim_start_matches("device/")));
        let events = cx.xen.events.clone();
        let x = &mut *cx.xen;
        let mut disk =
            match Blkfront::connect(&mut x.store, &mut x.grants, &mut x.pages, events, &dev) {
                Ok(d) => d,
                Err(e) => {
                    cx.say(&format!(
                        "seed: error device={} reason={}",
                        quoted(&name),
                        quoted(&format!("{}", e))
                    ));
                    continue;
                }
            };
        let found = read_seed(cx, &mut disk, &name, overrides);
        let x = &mut *cx.xen;
        let quarantined = disk.shutdown(&mut x.store, &mut x.grants);
        if quarantined > 0 {
            cx.say(&format!(
                "seed: closed device={} quarantined={}",
                quoted(&name),
                quarantined
            ));
        }
        if found.is_some() {
            return found;
        }
    }
    None
}

/// The filesystem's name as the console says it (`fs=vfat|iso9660`).
fn fs_name(k: seedfs::Kind) -> &'static str {
    match k {
        seedfs::Kind::Fat12 | seedfs::Kind::Fat16 | seedfs::Kind::Fat32 => "vfat",
        seedfs::Kind::Iso9660 { .. } => "iso9660",
    }
}

fn read_seed<P: Platform>(
    cx: &mut Cx<'_, P>,
    disk: &mut Disk<P>,
    name: &str,
    overrides: &Overrides,
) -> Option<Seed> {
    let mut vol = match seedfs::open(DiskBytes { cx: &mut *cx, disk }) {
        Ok(v) => v,
        Err(e) => {
            let why = format!("{}", e);
            cx.say(&format!(
                "seed: skipped device={} reason={}",
                quoted(name),
                quoted(&why)
            ));
            return None;
        }
    };
    let label = String::from(vol.label());
    let fs = fs_name(vol.kind());
    let kind = match label.to_ascii_lowercase().as_str() {
        "cidata" => "nocloud-disk",
        "config-2" => "configdrive",
        _ => {
            drop(vol);
            cx.say(&format!(
                "seed: skipped device={} label={} fs={} reason=\"not a seed (cidata, config-2)\"",
                quoted(name),
                quoted(&label),
                fs
            ));
            return None;
        }
    };
    let mut file = |path: &str| -> Got {
        match vol.read_file(path, MAX_FILE) {
            Ok(Some(b)) => Got::Body(b),
            Ok(None) => Got::Missing,
            Err(e) => Got::Failed(format!("{}: {}", path, e)),
        }
    };
    let (md, network) = if kind == "nocloud-disk" {
        let meta = file("meta-data");
        let user = file("user-data");
        let vendor = file("vendor-data");
        let net = file("network-config");
        let md = match meta {
            Got::Body(m) => nocloud::with_overrides(&m, user, vendor, overrides),
            Got::Missing => Err(String::from("the seed has no meta-data")),
            Got::Failed(e) => Err(e),
        };
        (md, net)
    } else {
        let meta = file("openstack/latest/meta_data.json");
        let user = file("openstack/latest/user_data");
        let md = match meta {
            Got::Body(m) => openstack::from_files(&m, user),
            Got::Missing => Err(String::from(
                "the config drive has no openstack/latest/meta_data.json",
            )),
            Got::Failed(e) => Err(e),
        };
        (md, Got::Missing)
    };
    drop(vol);
    cx.say(&format!(
        "cloudinit: datasource={} device={} label={} fs={}",
        kind,
        quoted(name),
        quoted(&label),
        fs
    ));
    let mut md = match md {
        Ok(md) => md,
        Err(why) => {
            // a seed that is ours but broken: say so, and let the network try
            cx.say(&cloudinit::report::error(&why));
            return None;
        }
    };
    md.source = kind;
    let network = match network {
        Got::Body(b) => match netconfig::parse(&b) {
            Ok(n) => n,
            Err(why) => {
                cx.say(&format!(
                    "seed: error file=network-config reason={} (using DHCP)",
                    quoted(&why)
                ));
                None
            }
        },
        Got::Missing => None,
        Got::Failed(why) => {
            cx.say(&format!("seed: error reason={} (using DHCP)", quoted(&why)));
            None
        }
    };
    Some(Seed {
        metadata: md,
        network,
    })
}
