//! The Xen platform PCI device's I/O-port unplug protocol (docs/misc/
//! hvm-emulated-unplug, Linux platform_pci.h): an HVM/PVH-with-QEMU guest
//! unplugs emulated disks and NICs before using the PV ones. Several
//! registers share a port and differ by access width.

/// PCI ids of the Xen platform device.
pub const XEN_PLATFORM_VENDOR_ID: u16 = 0x5853;
pub const XEN_PLATFORM_DEVICE_ID: u16 = 0x0001;

pub const XEN_IOPORT_BASE: u16 = 0x10;
/// 2-byte read: the magic; 2-byte write: the unplug mask; 4-byte write: the
/// driver build number; 1-byte read/write: platform flags.
pub const XEN_IOPORT_MAGIC: u16 = XEN_IOPORT_BASE;
pub const XEN_IOPORT_UNPLUG: u16 = XEN_IOPORT_BASE;
pub const XEN_IOPORT_DRVVER: u16 = XEN_IOPORT_BASE;
pub const XEN_IOPORT_PLATFLAGS: u16 = XEN_IOPORT_BASE;
/// 1-byte read: protocol version; 2-byte write: product number; 1-byte
/// write: a log character for QEMU's log.
pub const XEN_IOPORT_PROTOVER: u16 = XEN_IOPORT_BASE + 2;
pub const XEN_IOPORT_PRODNUM: u16 = XEN_IOPORT_BASE + 2;
pub const XEN_IOPORT_SYSLOG: u16 = XEN_IOPORT_BASE + 2;

/// What the magic port reads when the protocol is there.
pub const XEN_IOPORT_MAGIC_VAL: u16 = 0x49d2;
/// What it reads after the product/build was written if it is blacklisted.
pub const XEN_IOPORT_MAGIC_BLACKLISTED: u16 = 0xd249;

/// Product number Linux registers (pvdrivers.h); a build number to go with it.
pub const XEN_IOPORT_LINUX_PRODNUM: u16 = 0x0003;
pub const XEN_IOPORT_LINUX_DRVVER: u32 = 0x0001;

// Bits of the unplug mask.
pub const UNPLUG_ALL_IDE_DISKS: u16 = 1 << 0;
pub const UNPLUG_ALL_NICS: u16 = 1 << 1;
pub const UNPLUG_AUX_IDE_DISKS: u16 = 1 << 2;
pub const UNPLUG_NVME_DISKS: u16 = 1 << 3;
pub const UNPLUG_ALL: u16 = UNPLUG_ALL_IDE_DISKS | UNPLUG_ALL_NICS | UNPLUG_AUX_IDE_DISKS;
