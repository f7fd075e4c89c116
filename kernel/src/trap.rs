//! GDT with a TSS, IDT, and the trap entry path.
//!
//! Every exception gate runs on an IST stack, so even a fault with a broken
//! %rsp lands on a good stack. CPU exceptions print vector, error code, RIP,
//! CR2 and the registers, then the domain is shut down with reason "crash"
//! (never a silent triple fault). The event-channel upcall has its own
//! vector and runs on the interrupted stack (no red zone in this kernel):
//! its delivery then touches only the IDT and a stack in use, not the TSS
//! and a page only upcalls touch. Under the harness's nested TCG a guest was
//! seen three times stuck for good delivering its upcall to its IST stack
//! (every `xenctx` sample at the stub's first instruction, the frame just
//! pushed, the same registers), with either paging mode.

use core::arch::{asm, global_asm};
use core::mem::size_of;

use crate::arch;

use crate::xen::events::UPCALL_VECTOR;

/// Each IST stack: a guard page (unmapped by `guard_pages`' caller), then
/// 16 KiB. A handler that overflows faults on the guard (a double fault,
/// reported on its own stack) instead of running into the next stack.
const IST_SIZE: usize = 20 * 1024;
const GUARD: usize = 4096;
const IST_COUNT: usize = 3;
// IST indexes (1-based in the IDT): double fault, NMI/MCE, other exceptions;
// 0: the interrupted stack (the upcall).
const IST_DOUBLE_FAULT: u8 = 1;
const IST_NMI_MCE: u8 = 2;
const IST_EXCEPTION: u8 = 3;
const ON_CURRENT_STACK: u8 = 0;

#[repr(C, align(4096))]
struct Stacks([[u8; IST_SIZE]; IST_COUNT]);
static mut IST_STACKS: Stacks = Stacks([[0; IST_SIZE]; IST_COUNT]);

#[repr(C, packed)]
struct Tss {
    _reserved0: u32,
    rsp: [u64; 3],
    _reserved1: u64,
    ist: [u64; 7],
    _reserved2: u64,
    _reserved3: u16,
    iomap_base: u16,
}

static mut TSS: Tss = Tss {
    _reserved0: 0,
    rsp: [0; 3],
    _reserved1: 0,
    ist: [0; 7],
    _reserved2: 0,
    _reserved3: 0,
    iomap_base: size_of::<Tss>() as u16,
};

// null, code64 (0x08), data (0x10), TSS (0x18, two slots)
static mut GDT: [u64; 5] = [0, 0x00af9a000000ffff, 0x00cf92000000ffff, 0, 0];
const KERNEL_CS: u16 = 0x08;
const TSS_SEL: u16 = 0x18;

#[derive(Clone, Copy)]
#[repr(C)]
struct IdtEntry {
    offset_lo: u16,
    selector: u16,
    ist: u8,
    type_attr: u8,
    offset_mid: u16,
    offset_hi: u32,
    _zero: u32,
}

const EMPTY_GATE: IdtEntry = IdtEntry {
    offset_lo: 0,
    selector: 0,
    ist: 0,
    type_attr: 0,
    offset_mid: 0,
    offset_hi: 0,
    _zero: 0,
};
static mut IDT: [IdtEntry; 256] = [EMPTY_GATE; 256];

#[repr(C, packed)]
struct DescPtr {
    limit: u16,
    base: u64,
}

/// Saved state, in the order the entry stub pushes it.
#[repr(C)]
pub struct TrapFrame {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rbp: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub rcx: u64,
    pub rbx: u64,
    pub rax: u64,
    pub vector: u64,
    pub error: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

// Entry stubs: push a dummy error code where the CPU pushes none, then the
// vector, then all general registers; call `trap_dispatch(&mut TrapFrame)`.
macro_rules! stubs {
    ($push:literal: $($v:literal),*) => {
        global_asm!(
            $(
                concat!(".global trap_stub_", $v, "\n",
                        "trap_stub_", $v, ":\n",
                        $push,
                        "push ", $v, "\n",
                        "jmp trap_common\n"),
            )*
        );
    };
}

// Vectors where the CPU pushes no error code get a dummy 0.
stubs!("push 0\n": 0, 1, 2, 3, 4, 5, 6, 7, 9, 15, 16, 18, 19, 20, 22, 23, 24, 25, 26, 27, 28, 31, 243, 255);
stubs!("": 8, 10, 11, 12, 13, 14, 17, 21, 29, 30);

global_asm!(
    r#"
trap_common:
    push rax
    push rbx
    push rcx
    push rdx
    push rsi
    push rdi
    push rbp
    push r8
    push r9
    push r10
    push r11
    push r12
    push r13
    push r14
    push r15
    mov rdi, rsp
    cld
    call trap_dispatch
    pop r15
    pop r14
    pop r13
    pop r12
    pop r11
    pop r10
    pop r9
    pop r8
    pop rbp
    pop rdi
    pop rsi
    pop rdx
    pop rcx
    pop rbx
    pop rax
    add rsp, 16
    iretq
"#
);

extern "C" {
    fn trap_stub_0();
    fn trap_stub_1();
    fn trap_stub_2();
    fn trap_stub_3();
    fn trap_stub_4();
    fn trap_stub_5();
    fn trap_stub_6();
    fn trap_stub_7();
    fn trap_stub_8();
    fn trap_stub_9();
    fn trap_stub_10();
    fn trap_stub_11();
    fn trap_stub_12();
    fn trap_stub_13();
    fn trap_stub_14();
    fn trap_stub_15();
    fn trap_stub_16();
    fn trap_stub_17();
    fn trap_stub_18();
    fn trap_stub_19();
    fn trap_stub_20();
    fn trap_stub_21();
    fn trap_stub_22();
    fn trap_stub_23();
    fn trap_stub_24();
    fn trap_stub_25();
    fn trap_stub_26();
    fn trap_stub_27();
    fn trap_stub_28();
    fn trap_stub_29();
    fn trap_stub_30();
    fn trap_stub_31();
    fn trap_stub_243();
    fn trap_stub_255();
}

const EXCEPTION_STUBS: [unsafe extern "C" fn(); 32] = [
    trap_stub_0,
    trap_stub_1,
    trap_stub_2,
    trap_stub_3,
    trap_stub_4,
    trap_stub_5,
    trap_stub_6,
    trap_stub_7,
    trap_stub_8,
    trap_stub_9,
    trap_stub_10,
    trap_stub_11,
    trap_stub_12,
    trap_stub_13,
    trap_stub_14,
    trap_stub_15,
    trap_stub_16,
    trap_stub_17,
    trap_stub_18,
    trap_stub_19,
    trap_stub_20,
    trap_stub_21,
    trap_stub_22,
    trap_stub_23,
    trap_stub_24,
    trap_stub_25,
    trap_stub_26,
    trap_stub_27,
    trap_stub_28,
    trap_stub_29,
    trap_stub_30,
    trap_stub_31,
];

fn gate(handler: unsafe extern "C" fn(), ist: u8) -> IdtEntry {
    let a = handler as usize as u64;
    IdtEntry {
        offset_lo: a as u16,
        selector: KERNEL_CS,
        ist,
        type_attr: 0x8e, // present, DPL 0, 64-bit interrupt gate (IF cleared on entry)
        offset_mid: (a >> 16) as u16,
        offset_hi: (a >> 32) as u32,
        _zero: 0,
    }
}

/// The guard page at the bottom of each IST stack.
pub fn guard_pages() -> [u64; IST_COUNT] {
    let base = (&raw const IST_STACKS) as u64;
    core::array::from_fn(|i| base + (i * IST_SIZE) as u64)
}

const _: () = assert!(IST_SIZE % 4096 == 0 && GUARD < IST_SIZE);

/// Load our GDT, TSS and IDT. Runs once, first thing in `kmain`.
pub fn init() {
    // SAFETY: single-threaded early boot, interrupts off; the statics are only
    // written here and then handed to the CPU, which reads them from now on.
    unsafe {
        let stacks = &raw mut IST_STACKS;
        let tss = &raw mut TSS;
        for i in 0..IST_COUNT {
            let top = (*stacks).0[i].as_ptr() as u64 + IST_SIZE as u64;
            (*tss).ist[i] = top & !0xf;
        }
        let tss_addr = tss as u64;
        let limit = (size_of::<Tss>() - 1) as u64;
        let gdt = &raw mut GDT;
        (*gdt)[3] = (limit & 0xffff)
            | ((tss_addr & 0xff_ffff) << 16)
            | (0x89u64 << 40) // present, 64-bit TSS (available)
            | (((limit >> 16) & 0xf) << 48)
            | (((tss_addr >> 24) & 0xff) << 56);
        (*gdt)[4] = tss_addr >> 32;

        let idt = &raw mut IDT;
        for (v, stub) in EXCEPTION_STUBS.iter().enumerate() {
            let ist = match v {
                8 => IST_DOUBLE_FAULT,
                2 | 18 => IST_NMI_MCE,
                _ => IST_EXCEPTION,
            };
            (*idt)[v] = gate(*stub, ist);
        }
        (*idt)[UPCALL_VECTOR as usize] = gate(trap_stub_243, ON_CURRENT_STACK);
        (*idt)[255] = gate(trap_stub_255, ON_CURRENT_STACK);

        let gdtr = DescPtr {
            limit: (size_of::<[u64; 5]>() - 1) as u16,
            base: gdt as u64,
        };
        let idtr = DescPtr {
            limit: (size_of::<[IdtEntry; 256]>() - 1) as u16,
            base: idt as u64,
        };
        asm!(
            "lgdt [{gdtr}]",
            "push {cs}",
            "lea {tmp}, [rip + 2f]",
            "push {tmp}",
            "retfq",
            "2:",
            "mov {tmp:e}, 0x10",
            "mov ds, {tmp:e}",
            "mov es, {tmp:e}",
            "mov ss, {tmp:e}",
            "ltr {tss:x}",
            "lidt [{idtr}]",
            gdtr = in(reg) &gdtr,
            idtr = in(reg) &idtr,
            cs = const KERNEL_CS as u64,
            tss = in(reg) TSS_SEL,
            tmp = out(reg) _,
        );
    }
}

const NAMES: [&str; 32] = [
    "divide error",
    "debug",
    "NMI",
    "breakpoint",
    "overflow",
    "bound range",
    "invalid opcode",
    "device not available",
    "double fault",
    "coprocessor overrun",
    "invalid TSS",
    "segment not present",
    "stack fault",
    "general protection",
    "page fault",
    "reserved",
    "x87 FP",
    "alignment check",
    "machine check",
    "SIMD FP",
    "virtualization",
    "control protection",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "hypervisor injection",
    "VMM communication",
    "security",
    "reserved",
];

#[no_mangle]
extern "C" fn trap_dispatch(frame: &mut TrapFrame) {
    match frame.vector {
        v if v == UPCALL_VECTOR as u64 => crate::xen::events::upcall(),
        255 => {} // spurious
        v if v < 32 => fatal_exception(frame),
        _ => {}
    }
}

fn fatal_exception(f: &TrapFrame) -> ! {
    let p = crate::console::print_emergency;
    p(format_args!(
        "trap: vector={} name=\"{}\" error={:#x} rip={:#x} cr2={:#x} rsp={:#x} rflags={:#x} cs={:#x}\n",
        f.vector,
        NAMES[f.vector as usize & 31],
        f.error,
        f.rip,
        arch::read_cr2(),
        f.rsp,
        f.rflags,
        f.cs
    ));
    p(format_args!(
        "trap: rax={:#x} rbx={:#x} rcx={:#x} rdx={:#x} rsi={:#x} rdi={:#x} rbp={:#x}\n",
        f.rax, f.rbx, f.rcx, f.rdx, f.rsi, f.rdi, f.rbp
    ));
    p(format_args!(
        "trap: r8={:#x} r9={:#x} r10={:#x} r11={:#x} r12={:#x} r13={:#x} r14={:#x} r15={:#x} cr3={:#x}\n",
        f.r8,
        f.r9,
        f.r10,
        f.r11,
        f.r12,
        f.r13,
        f.r14,
        f.r15,
        arch::read_cr3()
    ));
    crate::power::crash("exception")
}
