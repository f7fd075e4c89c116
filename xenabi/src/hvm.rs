//! hvm/hvm_op.h and hvm/params.h.

pub const HVMOP_SET_PARAM: u32 = 0;
pub const HVMOP_GET_PARAM: u32 = 1;
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
pub const HVM_PARAM_CONSOLE_PFN: u32 = 17;
pub const HVM_PARAM_CONSOLE_EVTCHN: u32 = 18;

/// HVM_PARAM_CALLBACK_IRQ: the type lives in bits 63:56 of the value.
pub const HVM_PARAM_CALLBACK_TYPE_SHIFT: u32 = 56;
pub const HVM_PARAM_CALLBACK_TYPE_VECTOR: u64 = 2;

/// The HVM_PARAM_CALLBACK_IRQ value that delivers upcalls on IDT `vector`.
pub const fn callback_via_vector(vector: u8) -> u64 {
    (HVM_PARAM_CALLBACK_TYPE_VECTOR << HVM_PARAM_CALLBACK_TYPE_SHIFT) | vector as u64
}
