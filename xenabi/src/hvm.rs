//! hvm/hvm_op.h and hvm/params.h.

pub const HVMOP_SET_PARAM: u32 = 0;
pub const HVMOP_GET_PARAM: u32 = 1;
pub const HVMOP_PAGETABLE_DYING: u32 = 9;
pub const HVMOP_GET_TIME: u32 = 10;
pub const HVMOP_SET_EVTCHN_UPCALL_VECTOR: u32 = 23;

/// struct xen_hvm_param
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct XenHvmParam {
    pub domid: u16,
    pub pad: u16,
    pub index: u32,
    pub value: u64,
}

/// struct xen_hvm_evtchn_upcall_vector
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct XenHvmEvtchnUpcallVector {
    pub vcpu: u32,
    pub vector: u8,
}

pub const HVM_PARAM_CALLBACK_IRQ: u32 = 0;
pub const HVM_PARAM_STORE_PFN: u32 = 1;
pub const HVM_PARAM_STORE_EVTCHN: u32 = 2;
pub const HVM_PARAM_PAE_ENABLED: u32 = 4;
pub const HVM_PARAM_IOREQ_PFN: u32 = 5;
pub const HVM_PARAM_BUFIOREQ_PFN: u32 = 6;
pub const HVM_PARAM_VIRIDIAN: u32 = 9;
pub const HVM_PARAM_TIMER_MODE: u32 = 10;
pub const HVM_PARAM_HPET_ENABLED: u32 = 11;
pub const HVM_PARAM_IDENT_PT: u32 = 12;
pub const HVM_PARAM_DM_DOMAIN: u32 = 13;
pub const HVM_PARAM_ACPI_S_STATE: u32 = 14;
pub const HVM_PARAM_VM86_TSS: u32 = 15;
pub const HVM_PARAM_VPT_ALIGN: u32 = 16;
pub const HVM_PARAM_CONSOLE_PFN: u32 = 17;
pub const HVM_PARAM_CONSOLE_EVTCHN: u32 = 18;
pub const HVM_PARAM_ACPI_IOPORTS_LOCATION: u32 = 19;
pub const HVM_PARAM_NESTEDHVM: u32 = 24;
pub const HVM_PARAM_BUFIOREQ_EVTCHN: u32 = 26;
pub const HVM_PARAM_PAGING_RING_PFN: u32 = 27;
pub const HVM_PARAM_MONITOR_RING_PFN: u32 = 28;
pub const HVM_PARAM_SHARING_RING_PFN: u32 = 29;
pub const HVM_PARAM_TRIPLE_FAULT_REASON: u32 = 31;
pub const HVM_PARAM_IOREQ_SERVER_PFN: u32 = 32;
pub const HVM_PARAM_NR_IOREQ_SERVER_PAGES: u32 = 33;
pub const HVM_PARAM_VM_GENERATION_ID_ADDR: u32 = 34;
pub const HVM_PARAM_ALTP2M: u32 = 35;
pub const HVM_PARAM_X87_FIP_WIDTH: u32 = 36;
pub const HVM_PARAM_VM86_TSS_SIZED: u32 = 37;
pub const HVM_PARAM_MCA_CAP: u32 = 38;

/// HVM_PARAM_CALLBACK_IRQ: the type lives in bits 63:56 of the value.
pub const HVM_PARAM_CALLBACK_TYPE_SHIFT: u32 = 56;
pub const HVM_PARAM_CALLBACK_IRQ_TYPE_MASK: u64 = 0xff00_0000_0000_0000;
/// val[55:0] is a GSI (0 disables the callback).
pub const HVM_PARAM_CALLBACK_TYPE_GSI: u64 = 0;
/// val[15:8] bus, val[7:3] device, val[1:0] INTx pin of a PCI device.
pub const HVM_PARAM_CALLBACK_TYPE_PCI_INTX: u64 = 1;
/// val[7:0] is an IDT vector (x86).
pub const HVM_PARAM_CALLBACK_TYPE_VECTOR: u64 = 2;

/// The HVM_PARAM_CALLBACK_IRQ value that delivers upcalls on IDT `vector`.
pub const fn callback_via_vector(vector: u8) -> u64 {
    (HVM_PARAM_CALLBACK_TYPE_VECTOR << HVM_PARAM_CALLBACK_TYPE_SHIFT) | vector as u64
}

/// struct xen_hvm_get_time (HVMOP_get_time): system time in ns.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct XenHvmGetTime {
    pub now: u64,
}
