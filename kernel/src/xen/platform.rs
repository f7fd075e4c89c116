//! The Xen platform PCI device of an HVM domain: unplug the emulated NICs
//! (the device model's rtl8139/e1000 twins of our vifs) before netfront
//! takes the vifs. The protocol itself is `xenabi::platform::unplug`.

use xenabi::platform::{self as pf, PortIo, Unplug};

use crate::{arch, println};

struct Ports;

impl PortIo for Ports {
    fn inb(&mut self, port: u16) -> u8 {
        arch::inb(port)
    }
    fn inw(&mut self, port: u16) -> u16 {
        arch::inw(port)
    }
    fn outw(&mut self, port: u16, val: u16) {
        arch::outw(port, val)
    }
    fn outl(&mut self, port: u16, val: u32) {
        arch::outl(port, val)
    }
}

/// Our build number for the device model's log and blacklist: the version
/// as 0xMMmmpp.
fn build_number() -> u32 {
    let mut n = 0u32;
    for part in crate::VERSION.split('.').take(3) {
        n = (n << 8) | part.parse::<u32>().unwrap_or(0).min(255);
    }
    n
}

/// Disks are left alone: the appliance has no block driver, and the disk it
/// booted from is harmless once we run.
pub fn unplug_emulated_nics() {
    match pf::unplug(&mut Ports, pf::UNPLUG_ALL_NICS, build_number()) {
        Unplug::Done { protocol } => {
            println!("platform: unplug nics=1 disks=0 protocol={}", protocol)
        }
        Unplug::NoDevice { magic } => println!(
            "platform: unplug=none reason=\"no Xen platform device\" magic={:#06x}",
            magic
        ),
        Unplug::Blacklisted => {
            println!("platform: error reason=\"device model blacklisted our drivers\"")
        }
    }
}
