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

/// Product number for drivers not in Xen's register (pvdrivers.h:
/// "experimental"); QEMU only logs it and checks its blacklist with it.
pub const XEN_IOPORT_EXPERIMENTAL_PRODNUM: u16 = 0xffff;

/// Port I/O as the unplug protocol needs it (the kernel's `in`/`out`; a fake
/// device in tests).
pub trait PortIo {
    fn inb(&mut self, port: u16) -> u8;
    fn inw(&mut self, port: u16) -> u16;
    fn outw(&mut self, port: u16, val: u16);
    fn outl(&mut self, port: u16, val: u32);
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unplug {
    /// The mask was written (protocol version as read).
    Done { protocol: u8 },
    /// No platform device (magic missing: no device model, e.g. PVH).
    NoDevice { magic: u16 },
    /// The device model blacklisted our product/build: use emulated devices.
    Blacklisted,
}

/// docs/misc/hvm-emulated-unplug: check the magic, register product and
/// build (protocol >= 1), check we are not blacklisted, write the mask.
pub fn unplug<P: PortIo>(io: &mut P, mask: u16, build: u32) -> Unplug {
    let magic = io.inw(XEN_IOPORT_MAGIC);
    if magic != XEN_IOPORT_MAGIC_VAL {
        return Unplug::NoDevice { magic };
    }
    let protocol = io.inb(XEN_IOPORT_PROTOVER);
    if protocol >= 1 {
        io.outw(XEN_IOPORT_PRODNUM, XEN_IOPORT_EXPERIMENTAL_PRODNUM);
        io.outl(XEN_IOPORT_DRVVER, build);
        if io.inw(XEN_IOPORT_MAGIC) != XEN_IOPORT_MAGIC_VAL {
            return Unplug::Blacklisted;
        }
    }
    io.outw(XEN_IOPORT_UNPLUG, mask);
    Unplug::Done { protocol }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// QEMU's xen-platform device, as far as the protocol goes.
    struct FakePlatform {
        present: bool,
        protocol: u8,
        blacklist: bool,
        product: Option<u16>,
        build: Option<u32>,
        unplugged: Option<u16>,
    }

    impl FakePlatform {
        fn new() -> Self {
            FakePlatform {
                present: true,
                protocol: 1,
                blacklist: false,
                product: None,
                build: None,
                unplugged: None,
            }
        }
    }

    impl PortIo for FakePlatform {
        fn inb(&mut self, port: u16) -> u8 {
            match (self.present, port) {
                (true, XEN_IOPORT_PROTOVER) => self.protocol,
                _ => 0xff,
            }
        }
        fn inw(&mut self, port: u16) -> u16 {
            match (self.present, port) {
                (true, XEN_IOPORT_MAGIC) if self.blacklist && self.build.is_some() => {
                    XEN_IOPORT_MAGIC_BLACKLISTED
                }
                (true, XEN_IOPORT_MAGIC) => XEN_IOPORT_MAGIC_VAL,
                _ => 0xffff,
            }
        }
        fn outw(&mut self, port: u16, val: u16) {
            match port {
                XEN_IOPORT_PRODNUM => self.product = Some(val),
                XEN_IOPORT_UNPLUG if self.present => self.unplugged = Some(val),
                _ => {}
            }
        }
        fn outl(&mut self, port: u16, val: u32) {
            if port == XEN_IOPORT_DRVVER {
                self.build = Some(val);
            }
        }
    }

    #[test]
    fn registers_then_unplugs() {
        let mut d = FakePlatform::new();
        assert_eq!(
            unplug(&mut d, UNPLUG_ALL_NICS, 7),
            Unplug::Done { protocol: 1 }
        );
        assert_eq!(d.product, Some(XEN_IOPORT_EXPERIMENTAL_PRODNUM));
        assert_eq!(d.build, Some(7));
        assert_eq!(d.unplugged, Some(UNPLUG_ALL_NICS));
    }

    #[test]
    fn protocol_zero_skips_registration() {
        let mut d = FakePlatform::new();
        d.protocol = 0;
        assert_eq!(unplug(&mut d, UNPLUG_ALL, 1), Unplug::Done { protocol: 0 });
        assert_eq!((d.product, d.build), (None, None));
        assert_eq!(d.unplugged, Some(UNPLUG_ALL));
    }

    #[test]
    fn no_device_no_writes() {
        let mut d = FakePlatform::new();
        d.present = false;
        assert_eq!(
            unplug(&mut d, UNPLUG_ALL_NICS, 1),
            Unplug::NoDevice { magic: 0xffff }
        );
        assert_eq!((d.product, d.unplugged), (None, None));
    }

    #[test]
    fn blacklisted_drivers_leave_devices_plugged() {
        let mut d = FakePlatform::new();
        d.blacklist = true;
        assert_eq!(unplug(&mut d, UNPLUG_ALL_NICS, 1), Unplug::Blacklisted);
        assert_eq!(d.unplugged, None);
    }
}
