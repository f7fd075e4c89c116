//! arch-x86/hvm/start_info.h and the ELF note that asks for a PVH entry.

/// ELF note type (owner "Xen"): 32-bit physical entry point for PVH.
pub const XEN_ELFNOTE_PHYS32_ENTRY: u32 = 18;
pub const HVM_START_MAGIC_VALUE: u32 = 0x336e_c578;

pub const HVM_MEMMAP_TYPE_RAM: u32 = 1;
pub const HVM_MEMMAP_TYPE_RESERVED: u32 = 2;
pub const HVM_MEMMAP_TYPE_ACPI: u32 = 3;
pub const HVM_MEMMAP_TYPE_NVS: u32 = 4;
pub const HVM_MEMMAP_TYPE_UNUSABLE: u32 = 5;
pub const HVM_MEMMAP_TYPE_DISABLED: u32 = 6;
pub const HVM_MEMMAP_TYPE_PMEM: u32 = 7;

/// struct hvm_start_info (version 1 layout; version 0 ends before memmap_paddr)
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct HvmStartInfo {
    pub magic: u32,
    pub version: u32,
    pub flags: u32,
    pub nr_modules: u32,
    pub modlist_paddr: u64,
    pub cmdline_paddr: u64,
    pub rsdp_paddr: u64,
    pub memmap_paddr: u64,
    pub memmap_entries: u32,
    pub reserved: u32,
}

/// struct hvm_modlist_entry
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct HvmModlistEntry {
    pub paddr: u64,
    pub size: u64,
    pub cmdline_paddr: u64,
    pub reserved: u64,
}

/// struct hvm_memmap_table_entry
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct HvmMemmapTableEntry {
    pub addr: u64,
    pub size: u64,
    pub kind: u32,
    pub reserved: u32,
}
