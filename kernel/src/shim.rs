// TEMPORARY compile shim until xenabi lands; not to be committed.
pub mod hypercall {
    pub const HYPERVISOR_MEMORY_OP: u32 = 12;
    pub const HYPERVISOR_XEN_VERSION: u32 = 17;
    pub const HYPERVISOR_GRANT_TABLE_OP: u32 = 20;
    pub const HYPERVISOR_VCPU_OP: u32 = 24;
    pub const HYPERVISOR_SCHED_OP: u32 = 29;
    pub const HYPERVISOR_EVENT_CHANNEL_OP: u32 = 32;
    pub const HYPERVISOR_HVM_OP: u32 = 34;
}
pub mod version {
    pub const XENVER_VERSION: u32 = 0;
    pub const XENVER_EXTRAVERSION: u32 = 1;
    pub const XENVER_GET_FEATURES: u32 = 6;
    #[repr(C)]
    pub struct XenFeatureInfo {
        pub submap_idx: u32,
        pub submap: u32,
    }
}
pub mod cpuid {
    pub const XEN_CPUID_FIRST_LEAF: u32 = 0x40000000;
    pub const XEN_CPUID_SIGNATURE_EBX: u32 = 0x566e6558;
    pub const XEN_CPUID_SIGNATURE_ECX: u32 = 0x65584d4d;
    pub const XEN_CPUID_SIGNATURE_EDX: u32 = 0x4d4d566e;
}
pub mod xen {
    pub const DOMID_SELF: u16 = 0x7ff0;
}
pub mod memory {
    pub const XENMEM_ADD_TO_PHYSMAP: u32 = 7;
    pub const XENMAPSPACE_SHARED_INFO: u32 = 0;
    #[repr(C)]
    pub struct XenAddToPhysmap {
        pub domid: u16,
        pub size: u16,
        pub space: u32,
        pub idx: u64,
        pub gpfn: u64,
    }
}
pub mod hvm {
    pub const HVMOP_SET_PARAM: u32 = 0;
    pub const HVMOP_GET_PARAM: u32 = 1;
    pub const HVM_PARAM_CALLBACK_IRQ: u32 = 0;
    pub const HVM_PARAM_CONSOLE_PFN: u32 = 17;
    pub const HVM_PARAM_CONSOLE_EVTCHN: u32 = 18;
    pub const HVM_PARAM_CALLBACK_TYPE_VECTOR_VALUE: u64 = 2 << 56;
    #[repr(C)]
    pub struct XenHvmParam {
        pub domid: u16,
        pub pad: u16,
        pub index: u32,
        pub value: u64,
    }
}
pub mod sched {
    pub const SCHEDOP_YIELD: u32 = 0;
    pub const SCHEDOP_SHUTDOWN: u32 = 2;
    pub const SHUTDOWN_POWEROFF: u32 = 0;
    pub const SHUTDOWN_REBOOT: u32 = 1;
    pub const SHUTDOWN_CRASH: u32 = 3;
    #[repr(C)]
    pub struct SchedShutdown {
        pub reason: u32,
    }
}
pub mod vcpu {
    pub const VCPUOP_STOP_PERIODIC_TIMER: u32 = 7;
    pub const VCPUOP_SET_SINGLESHOT_TIMER: u32 = 10;
    #[repr(C)]
    pub struct VcpuSetSingleshotTimer {
        pub timeout_abs_ns: u64,
        pub flags: u32,
    }
}
pub mod event_channel {
    pub const EVTCHNOP_BIND_VIRQ: u32 = 1;
    pub const EVTCHNOP_CLOSE: u32 = 3;
    pub const EVTCHNOP_SEND: u32 = 4;
    pub const EVTCHNOP_ALLOC_UNBOUND: u32 = 6;
    pub const EVTCHNOP_UNMASK: u32 = 9;
    pub const VIRQ_TIMER: u32 = 0;
    #[repr(C)]
    pub struct EvtchnSend {
        pub port: u32,
    }
    #[repr(C)]
    pub struct EvtchnUnmask {
        pub port: u32,
    }
    #[repr(C)]
    pub struct EvtchnClose {
        pub port: u32,
    }
    #[repr(C)]
    pub struct EvtchnBindVirq {
        pub virq: u32,
        pub vcpu: u32,
        pub port: u32,
    }
    #[repr(C)]
    pub struct EvtchnAllocUnbound {
        pub dom: u16,
        pub remote_dom: u16,
        pub port: u32,
    }
}
pub mod shared_info {
    pub const VCPU_INFO_OFFSET: usize = 0;
    pub const VCPU_UPCALL_PENDING_OFFSET: usize = 0;
    pub const VCPU_PENDING_SEL_OFFSET: usize = 8;
    pub const VCPU_TIME_OFFSET: usize = 32;
    pub const TIME_VERSION_OFFSET: usize = 0;
    pub const TIME_TSC_TIMESTAMP_OFFSET: usize = 8;
    pub const TIME_SYSTEM_TIME_OFFSET: usize = 16;
    pub const TIME_TSC_TO_SYSTEM_MUL_OFFSET: usize = 24;
    pub const TIME_TSC_SHIFT_OFFSET: usize = 28;
    pub const EVTCHN_PENDING_OFFSET: usize = 2048;
    pub const EVTCHN_MASK_OFFSET: usize = 2560;
}
pub mod start_info {
    pub const HVM_START_MAGIC_VALUE: u32 = 0x336ec578;
    pub const HVM_MEMMAP_TYPE_RAM: u32 = 1;
    #[repr(C)]
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
    #[repr(C)]
    pub struct HvmModlistEntry {
        pub paddr: u64,
        pub size: u64,
        pub cmdline_paddr: u64,
        pub reserved: u64,
    }
    #[repr(C)]
    pub struct HvmMemmapTableEntry {
        pub addr: u64,
        pub size: u64,
        pub typ: u32,
        pub reserved: u32,
    }
}
