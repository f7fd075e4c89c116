//! arch-x86/cpuid.h: Xen's CPUID leaves.

/// First leaf; Xen's leaves may sit at any multiple of 0x100 above it.
pub const XEN_CPUID_FIRST_LEAF: u32 = 0x4000_0000;
/// "XenVMMXenVMM" in ebx, ecx, edx.
pub const XEN_CPUID_SIGNATURE_EBX: u32 = 0x566e_6558; // "XenV"
pub const XEN_CPUID_SIGNATURE_ECX: u32 = 0x6558_4d4d; // "MMXe"
pub const XEN_CPUID_SIGNATURE_EDX: u32 = 0x4d4d_566e; // "nVMM"
/// The same signature as bytes, in register order ebx, ecx, edx.
pub const XEN_CPUID_SIGNATURE: [u8; 12] = *b"XenVMMXenVMM";
/// Leaf base+0: eax = the largest Xen leaf.
pub const LEAF_SIGNATURE: u32 = 0;
/// Leaf base+1: eax = (major << 16) | minor.
pub const LEAF_VERSION: u32 = 1;
/// Leaf base+2: eax = number of hypercall pages, ebx = MSR to write their address to.
pub const LEAF_HYPERCALL: u32 = 2;
/// Leaf base+3: time (TSC mode, frequency).
pub const LEAF_TIME: u32 = 3;
/// Leaf base+4: HVM features in eax.
pub const LEAF_HVM: u32 = 4;
pub const XEN_HVM_CPUID_APIC_ACCESS_VIRT: u32 = 1 << 0;
pub const XEN_HVM_CPUID_X2APIC_VIRT: u32 = 1 << 1;
pub const XEN_HVM_CPUID_IOMMU_MAPPINGS: u32 = 1 << 2;
pub const XEN_HVM_CPUID_VCPU_ID_PRESENT: u32 = 1 << 3;
pub const XEN_HVM_CPUID_DOMID_PRESENT: u32 = 1 << 4;
pub const XEN_HVM_CPUID_EXT_DEST_ID: u32 = 1 << 5;
pub const XEN_HVM_CPUID_UPCALL_VECTOR: u32 = 1 << 6;
/// Leaf base+3, sub-leaf 0, eax: TSC flags; ebx: TSC mode.
pub const XEN_CPUID_TSC_EMULATED: u32 = 1 << 0;
pub const XEN_CPUID_HOST_TSC_RELIABLE: u32 = 1 << 1;
pub const XEN_CPUID_RDTSCP_INSTR_AVAIL: u32 = 1 << 2;
pub const XEN_CPUID_TSC_MODE_DEFAULT: u32 = 0;
pub const XEN_CPUID_TSC_MODE_ALWAYS_EMULATE: u32 = 1;
pub const XEN_CPUID_TSC_MODE_NEVER_EMULATE: u32 = 2;
pub const XEN_CPUID_TSC_MODE_PVRDTSCP: u32 = 3;
pub const XEN_CPUID_MAX_NUM_LEAVES: u32 = 5;

/// Does (ebx, ecx, edx) of a hypervisor leaf spell "XenVMMXenVMM"?
pub const fn is_xen_signature(ebx: u32, ecx: u32, edx: u32) -> bool {
    ebx == XEN_CPUID_SIGNATURE_EBX
        && ecx == XEN_CPUID_SIGNATURE_ECX
        && edx == XEN_CPUID_SIGNATURE_EDX
}
