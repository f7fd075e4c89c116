//! xen.h `enum hypercall_num`: the index of each hypercall's 32-byte stub in
//! the hypercall page (x86-64: number in rax, args in rdi, rsi, rdx, r10, r8).

pub const HYPERVISOR_SET_TRAP_TABLE: u32 = 0;
pub const HYPERVISOR_MMU_UPDATE: u32 = 1;
pub const HYPERVISOR_SET_GDT: u32 = 2;
pub const HYPERVISOR_STACK_SWITCH: u32 = 3;
pub const HYPERVISOR_SET_CALLBACKS: u32 = 4;
pub const HYPERVISOR_FPU_TASKSWITCH: u32 = 5;
pub const HYPERVISOR_SCHED_OP_COMPAT: u32 = 6;
pub const HYPERVISOR_PLATFORM_OP: u32 = 7;
pub const HYPERVISOR_SET_DEBUGREG: u32 = 8;
pub const HYPERVISOR_GET_DEBUGREG: u32 = 9;
pub const HYPERVISOR_UPDATE_DESCRIPTOR: u32 = 10;
pub const HYPERVISOR_MEMORY_OP: u32 = 12;
pub const HYPERVISOR_MULTICALL: u32 = 13;
pub const HYPERVISOR_UPDATE_VA_MAPPING: u32 = 14;
pub const HYPERVISOR_SET_TIMER_OP: u32 = 15;
pub const HYPERVISOR_EVENT_CHANNEL_OP_COMPAT: u32 = 16;
pub const HYPERVISOR_XEN_VERSION: u32 = 17;
pub const HYPERVISOR_CONSOLE_IO: u32 = 18;
pub const HYPERVISOR_PHYSDEV_OP_COMPAT: u32 = 19;
pub const HYPERVISOR_GRANT_TABLE_OP: u32 = 20;
pub const HYPERVISOR_VM_ASSIST: u32 = 21;
pub const HYPERVISOR_UPDATE_VA_MAPPING_OTHERDOMAIN: u32 = 22;
pub const HYPERVISOR_IRET: u32 = 23;
pub const HYPERVISOR_VCPU_OP: u32 = 24;
pub const HYPERVISOR_SET_SEGMENT_BASE: u32 = 25;
pub const HYPERVISOR_MMUEXT_OP: u32 = 26;
pub const HYPERVISOR_XSM_OP: u32 = 27;
pub const HYPERVISOR_NMI_OP: u32 = 28;
pub const HYPERVISOR_SCHED_OP: u32 = 29;
pub const HYPERVISOR_CALLBACK_OP: u32 = 30;
pub const HYPERVISOR_XENOPROF_OP: u32 = 31;
pub const HYPERVISOR_EVENT_CHANNEL_OP: u32 = 32;
pub const HYPERVISOR_PHYSDEV_OP: u32 = 33;
pub const HYPERVISOR_HVM_OP: u32 = 34;
pub const HYPERVISOR_SYSCTL: u32 = 35;
pub const HYPERVISOR_DOMCTL: u32 = 36;
pub const HYPERVISOR_KEXEC_OP: u32 = 37;
pub const HYPERVISOR_TMEM_OP: u32 = 38;
pub const HYPERVISOR_ARGO_OP: u32 = 39;
pub const HYPERVISOR_XENPMU_OP: u32 = 40;
pub const HYPERVISOR_DM_OP: u32 = 41;
pub const HYPERVISOR_HYPFS_OP: u32 = 42;
/// Architecture-specific hypercalls are 48..=55.
pub const HYPERVISOR_ARCH_0: u32 = 48;

/// Hypercall stubs are 32 bytes apart in the hypercall page.
pub const HYPERCALL_STUB_SIZE: usize = 32;

/// Offset of hypercall `nr`'s stub in the hypercall page.
pub const fn stub_offset(nr: u32) -> usize {
    nr as usize * HYPERCALL_STUB_SIZE
}
