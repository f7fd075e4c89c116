//! The console: every line goes to each sink that is up, and to a ring of
//! recent output (for a later `log` command).
//!
//! Sinks: port 0xE9 (Xen prints a PVH guest's writes as `(dN) ...` from the
//! first instruction on), COM1 (plain QEMU, no Xen), and the Xen PV console
//! ring once it is mapped (what `xl console` and xenconsoled show).

extern crate alloc;

use core::fmt::{self, Write};

use xenabi::hal::SharedMem;

use crate::arch;
use crate::phys::PhysRegion;
use crate::sync::IrqLock;

const COM1: u16 = 0x3f8;
const LOG_RING: usize = 16 * 1024;

/// The PV console ring page (xencons_interface) and its event channel.
pub struct PvConsole {
    pub page: PhysRegion,
    pub port: u32,
    pub notify: fn(u32),
    pub yield_cpu: fn(),
}

struct Console {
    e9: bool,
    com1: bool,
    pv: Option<PvConsole>,
    log: [u8; LOG_RING],
    log_pos: usize,
    dropped: u64,
}

static CONSOLE: IrqLock<Console> = IrqLock::new(Console {
    e9: false,
    com1: false,
    pv: None,
    log: [0; LOG_RING],
    log_pos: 0,
    dropped: 0,
});

/// Early console under Xen: the 0xE9 debug port.
pub fn enable_e9() {
    CONSOLE.lock().e9 = true;
}

/// COM1 at 115200 8N1, for plain QEMU.
pub fn enable_com1() {
    arch::outb(COM1 + 1, 0x00); // no interrupts
    arch::outb(COM1 + 3, 0x80); // DLAB
    arch::outb(COM1, 0x01); // divisor 1: 115200 baud
    arch::outb(COM1 + 1, 0x00);
    arch::outb(COM1 + 3, 0x03); // 8N1
    arch::outb(COM1 + 2, 0xc7); // FIFO on
    let mut c = CONSOLE.lock();
    c.com1 = true;
    c.put(b"\n"); // firmware may have left the cursor mid-line
}

/// Switch to the PV console ring. Output keeps going to 0xE9 too, so Xen's
/// own log has the guest's lines even when no xenconsoled reads the ring.
/// What was printed before (the boot lines) is replayed into the ring, so
/// `xl console` and the xenconsoled log show the whole boot.
pub fn attach_pv(pv: PvConsole) {
    let mut c = CONSOLE.lock();
    if c.log_pos <= LOG_RING {
        let early = c.log;
        pv_write(&pv, &early[..c.log_pos]);
    }
    c.pv = Some(pv);
}

impl Console {
    fn put(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.log[self.log_pos % LOG_RING] = b;
            self.log_pos = self.log_pos.wrapping_add(1);
            if self.e9 {
                arch::outb(0xe9, b);
            }
            if self.com1 {
                if b == b'\n' {
                    com1_byte(b'\r');
                }
                com1_byte(b);
            }
        }
        if let Some(pv) = &self.pv {
            if !pv_write(pv, bytes) {
                self.dropped += 1;
            }
        }
    }
}

fn com1_byte(b: u8) {
    let mut spins = 0;
    while arch::inb(COM1 + 5) & 0x20 == 0 && spins < 100_000 {
        spins += 1;
    }
    arch::outb(COM1, b);
}

use xenabi::console::{
    OUT_CONS_OFFSET as OUT_CONS, OUT_OFFSET as OUT, OUT_PROD_OFFSET as OUT_PROD,
};
const OUT_SIZE: u32 = xenabi::console::OUT_SIZE as u32;

/// Copy into the ring; when it is full, kick the backend and yield a bounded
/// number of times. Returns false if output had to be dropped (no reader).
fn pv_write(pv: &PvConsole, mut bytes: &[u8]) -> bool {
    let mut waits = 0;
    while !bytes.is_empty() {
        let cons = pv.page.read_u32(OUT_CONS);
        let prod = pv.page.read_u32(OUT_PROD);
        let used = prod.wrapping_sub(cons);
        if used > OUT_SIZE {
            return false; // a corrupt index from the other side: stop writing
        }
        let free = (OUT_SIZE - used) as usize;
        if free == 0 {
            (pv.notify)(pv.port);
            waits += 1;
            if waits > 1000 {
                return false;
            }
            (pv.yield_cpu)();
            continue;
        }
        let n = free.min(bytes.len());
        for (i, &b) in bytes[..n].iter().enumerate() {
            let idx = (prod.wrapping_add(i as u32) % OUT_SIZE) as usize;
            pv.page.write(OUT + idx, &[b]);
        }
        // write_u32 is a release store: the bytes are visible before the index.
        pv.page.write_u32(OUT_PROD, prod.wrapping_add(n as u32));
        bytes = &bytes[n..];
    }
    (pv.notify)(pv.port);
    true
}

/// The last `max` bytes (at most the ring) of console output, from the
/// start of a line: the SSH `log` command.
pub fn recent(max: usize) -> alloc::vec::Vec<u8> {
    let c = CONSOLE.lock();
    let n = max.min(LOG_RING).min(c.log_pos);
    let start = c.log_pos - n;
    let mut out = alloc::vec::Vec::with_capacity(n);
    for i in start..c.log_pos {
        out.push(c.log[i % LOG_RING]);
    }
    drop(c);
    if start > 0 {
        // drop the partial first line
        let cut = out.iter().position(|&b| b == b'\n').map_or(0, |i| i + 1);
        out.drain(..cut);
    }
    out
}

pub fn print(args: fmt::Arguments) {
    // Format into a line buffer first so one line is one ring update and one notify.
    let mut line = LineBuf {
        buf: [0; 512],
        len: 0,
    };
    let _ = line.write_fmt(args);
    CONSOLE.lock().put(&line.buf[..line.len]);
}

/// Print from a trap handler, even when the interrupted code held the console.
pub fn print_emergency(args: fmt::Arguments) {
    let mut line = LineBuf {
        buf: [0; 512],
        len: 0,
    };
    let _ = line.write_fmt(args);
    match CONSOLE.try_lock() {
        Some(mut c) => c.put(&line.buf[..line.len]),
        None => {
            for &b in &line.buf[..line.len] {
                arch::outb(0xe9, b);
            }
        }
    }
}

struct LineBuf {
    buf: [u8; 512],
    len: usize,
}

impl Write for LineBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            if self.len == self.buf.len() {
                // flush a long line in pieces
                CONSOLE.lock().put(&self.buf[..self.len]);
                self.len = 0;
            }
            self.buf[self.len] = b;
            self.len += 1;
        }
        Ok(())
    }
}

#[macro_export]
macro_rules! println {
    () => { $crate::console::print(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::console::print(format_args!("{}\n", format_args!($($arg)*))) };
}
