//! Thin wrappers over x86 instructions. Each is one instruction; the `unsafe`
//! ones touch CPU state whose misuse the callers reason about.

use core::arch::asm;

pub fn outb(port: u16, val: u8) {
    // SAFETY: port I/O to the debug port / UART / poweroff ports has no memory effects.
    unsafe {
        asm!("out dx, al", in("dx") port, in("al") val, options(nomem, nostack, preserves_flags))
    }
}

pub fn outw(port: u16, val: u16) {
    // SAFETY: as outb.
    unsafe {
        asm!("out dx, ax", in("dx") port, in("ax") val, options(nomem, nostack, preserves_flags))
    }
}

pub fn outl(port: u16, val: u32) {
    // SAFETY: as outb.
    unsafe {
        asm!("out dx, eax", in("dx") port, in("eax") val, options(nomem, nostack, preserves_flags))
    }
}

pub fn inw(port: u16) -> u16 {
    let v: u16;
    // SAFETY: reading an I/O port has no memory effects.
    unsafe {
        asm!("in ax, dx", out("ax") v, in("dx") port, options(nomem, nostack, preserves_flags))
    }
    v
}

/// Mask every line of both 8259 PICs (ports 0x21 and 0xa1: the interrupt
/// mask registers), so nothing the firmware left enabled reaches the CPU.
pub fn mask_legacy_pic() {
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
}

pub fn inb(port: u16) -> u8 {
    let v: u8;
    // SAFETY: reading an I/O port has no memory effects.
    unsafe {
        asm!("in al, dx", out("al") v, in("dx") port, options(nomem, nostack, preserves_flags))
    }
    v
}

pub struct CpuidResult {
    pub eax: u32,
    pub ebx: u32,
    pub ecx: u32,
    pub edx: u32,
}

pub fn cpuid(leaf: u32, subleaf: u32) -> CpuidResult {
    let r = core::arch::x86_64::__cpuid_count(leaf, subleaf);
    CpuidResult {
        eax: r.eax,
        ebx: r.ebx,
        ecx: r.ecx,
        edx: r.edx,
    }
}

/// # Safety
/// Writing an MSR changes CPU or hypervisor state; the caller names a valid MSR
/// and a value whose effect it owns (e.g. the Xen hypercall-page MSR).
pub unsafe fn wrmsr(msr: u32, val: u64) {
    // SAFETY: delegated to the caller (see above).
    unsafe {
        asm!("wrmsr", in("ecx") msr, in("eax") val as u32, in("edx") (val >> 32) as u32, options(nostack, preserves_flags))
    }
}

pub fn rdtsc() -> u64 {
    // SAFETY: RDTSC only reads the time-stamp counter.
    unsafe { core::arch::x86_64::_rdtsc() }
}

pub fn read_cr2() -> u64 {
    let v: u64;
    // SAFETY: reading CR2 has no side effects.
    unsafe { asm!("mov {}, cr2", out(reg) v, options(nomem, nostack, preserves_flags)) }
    v
}

pub fn read_cr3() -> u64 {
    let v: u64;
    // SAFETY: reading CR3 has no side effects.
    unsafe { asm!("mov {}, cr3", out(reg) v, options(nomem, nostack, preserves_flags)) }
    v
}

/// Reload CR3: drops every (non-global) cached translation.
///
/// # Safety
/// `v` must be a valid PML4 address (in practice, `read_cr3()`).
pub unsafe fn write_cr3(v: u64) {
    // SAFETY: the caller passes a valid PML4; not `nomem`, as page-table
    // writes before it must not move after it.
    unsafe { asm!("mov cr3, {}", in(reg) v, options(nostack, preserves_flags)) }
}

pub fn interrupts_enable() {
    // SAFETY: the IDT is loaded before anyone enables interrupts (trap::init runs first).
    // Not `nomem`: the upcall writes memory, so this is a compiler barrier too.
    unsafe { asm!("sti", options(nostack)) }
}

pub fn interrupts_disable() {
    // SAFETY: masking interrupts is always safe. Not `nomem`: loads of what
    // the upcall writes must not be hoisted above the cli.
    unsafe { asm!("cli", options(nostack)) }
}

pub fn interrupts_enabled() -> bool {
    let flags: u64;
    // SAFETY: reading RFLAGS through the stack.
    unsafe { asm!("pushfq; pop {}", out(reg) flags, options(nomem, preserves_flags)) }
    flags & (1 << 9) != 0
}

/// `sti; hlt`: sleep until the next interrupt, with no window between
/// enabling interrupts and halting (STI's one-instruction shadow).
pub fn enable_interrupts_and_halt() {
    // SAFETY: the IDT is loaded; the wakeup interrupt runs its handler and
    // returns here with interrupts enabled. Not `nomem`: the handler wrote
    // memory the caller reads next.
    unsafe { asm!("sti", "hlt", options(nostack)) }
}

/// Stop this CPU for good (only used when there is no Xen to shut us down).
pub fn halt_forever() -> ! {
    loop {
        interrupts_disable();
        // SAFETY: hlt with interrupts off parks the CPU; nothing follows.
        unsafe { asm!("hlt", options(nomem, nostack)) }
    }
}
