//! The 32-bit entry stubs: from the PVH entry state (flat 32-bit protected
//! mode, paging off, %ebx = physical address of hvm_start_info) or the
//! multiboot2 one (the same, with %eax = the multiboot2 magic and %ebx = the
//! boot information; how GRUB enters us in an HVM domain booted from a disk)
//! to long mode with an identity map of the first 4 GiB, then into Rust
//! (`kmain_entry(info, kind)`, kind 0 = PVH, 1 = multiboot2).
//!
//! The stub zeroes .bss first, because the boot page tables and stack live there.
//! Memory above 4 GiB is mapped later by `paging::map_ram` from the memory map.

use core::arch::global_asm;

/// The TSC the entry stub read first: the boot phases count from it.
pub fn entry_tsc() -> u64 {
    extern "C" {
        static boot_tsc: u64;
    }
    // SAFETY: written once by the entry stub before any Rust runs, never
    // after; a plain aligned u64 in .data.
    unsafe { core::ptr::read_volatile(&raw const boot_tsc) }
}

/// Boot stack size; the first Rust frames and the main loop run on it (the
/// SSH key exchange is the deepest path: 56 KiB measured on real Xen). An
/// unmapped guard page sits below it (`paging::guard`), so an overflow is a
/// page fault with a report, never a write into the page tables under it.
pub const BOOT_STACK_SIZE: usize = 128 * 1024;

global_asm!(
    r#"
    .section .note.Xen, "a", @note
    .balign 4
    .long 4              /* namesz: "Xen\0" */
    .long 4              /* descsz */
    .long 18             /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .balign 4
    .long pvh_start32
    .balign 4

    /* multiboot2 header: 8-aligned within the file's first 32 KiB (the
       linker script puts it first in .text); the entry tag names the stub. */
    .section .multiboot2, "a"
    .balign 8
mb2_header:
    .long 0xe85250d6                       /* magic */
    .long 0                                /* architecture: i386 (32-bit protected mode) */
    .long mb2_header_end - mb2_header
    .long 0x100000000 - (0xe85250d6 + (mb2_header_end - mb2_header))
    .balign 8
    .short 3, 0                            /* entry address tag */
    .long 12
    .long mb2_start32
    .balign 8
    .short 0, 0                            /* end tag */
    .long 8
mb2_header_end:

    /* the TSC at entry (in .data: .bss is zeroed after it is taken) */
    .section .data.boot, "aw"
    .balign 8
    .global boot_tsc
boot_tsc: .quad 0

    .section .bss.boot, "aw", @nobits
    .balign 4096
    .global boot_pml4
boot_pml4:  .skip 4096
    .global boot_pdpt
boot_pdpt:  .skip 4096
    .global boot_pd
boot_pd:    .skip 4096 * 4
    .balign 4096
    .global boot_stack_guard
boot_stack_guard: .skip 4096
boot_stack: .skip {stack}
    .global boot_stack_top
boot_stack_top:

    .section .rodata.boot, "a"
    .balign 16
boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff   /* 0x08: 64-bit code */
    .quad 0x00cf92000000ffff   /* 0x10: data */
boot_gdt_end:
boot_gdt_ptr:
    .word boot_gdt_end - boot_gdt - 1
    .long boot_gdt

    .section .text.boot, "ax"
    .code32
    .global pvh_start32
pvh_start32:
    cli
    cld
    mov %ebx, %esi                 /* keep the boot info address across the stub */
    xor %ebp, %ebp                 /* and the entry kind: 0 = PVH */
    jmp start32

    .global mb2_start32
mb2_start32:
    cli
    cld
    cmp $0x36d76289, %eax          /* not a multiboot2 loader: nothing to stand on */
    jne 4f
    mov %ebx, %esi
    mov $1, %ebp                   /* 1 = multiboot2 */
    jmp start32
4:  hlt
    jmp 4b

start32:
    /* the domain's first instant we can see: boot phases count from here */
    rdtsc
    mov %eax, boot_tsc
    mov %edx, boot_tsc + 4

    /* zero .bss (page tables and stack live there) */
    mov $__bss_start, %edi
    mov $__bss_end, %ecx
    sub %edi, %ecx
    xor %eax, %eax
    rep stosb

    /* PML4[0] -> PDPT; PDPT[0..4] -> PD[0..4]; PD: 2048 x 2 MiB = 4 GiB identity */
    mov $boot_pdpt + 3, %eax
    mov %eax, boot_pml4
    mov $boot_pd + 3, %eax
    mov $boot_pdpt, %edi
    mov $4, %ecx
1:  mov %eax, (%edi)
    add $4096, %eax
    add $8, %edi
    loop 1b
    mov $0x83, %eax                /* present | writable | 2 MiB page */
    mov $boot_pd, %edi
    mov $2048, %ecx
2:  mov %eax, (%edi)
    add $0x200000, %eax
    add $8, %edi
    loop 2b

    /* CR4: PAE, OSFXSR, OSXMMEXCPT (SSE usable before Rust runs) */
    mov %cr4, %eax
    or $((1 << 5) | (1 << 9) | (1 << 10)), %eax
    mov %eax, %cr4
    mov $boot_pml4, %eax
    mov %eax, %cr3
    /* EFER.LME */
    mov $0xC0000080, %ecx
    rdmsr
    or $(1 << 8), %eax
    wrmsr
    /* CR0: PG | MP | PE, EM cleared */
    mov %cr0, %eax
    and $~(1 << 2), %eax
    or $((1 << 31) | (1 << 1) | 1), %eax
    mov %eax, %cr0

    lgdt boot_gdt_ptr
    ljmp $0x08, $long_mode_entry

    .code64
long_mode_entry:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    xor %eax, %eax
    mov %ax, %fs
    mov %ax, %gs
    lea boot_stack_top(%rip), %rsp
    mov %esi, %edi                 /* zero-extended boot info address */
    mov %ebp, %esi                 /* entry kind */
    xor %ebp, %ebp
    call kmain_entry
3:  ud2
    jmp 3b
"#,
    stack = const BOOT_STACK_SIZE,
    options(att_syntax)
);
