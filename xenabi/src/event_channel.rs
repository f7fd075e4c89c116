//! event_channel.h.

pub const EVTCHNOP_BIND_INTERDOMAIN: u32 = 0;
pub const EVTCHNOP_BIND_VIRQ: u32 = 1;
pub const EVTCHNOP_BIND_PIRQ: u32 = 2;
pub const EVTCHNOP_CLOSE: u32 = 3;
pub const EVTCHNOP_SEND: u32 = 4;
pub const EVTCHNOP_STATUS: u32 = 5;
pub const EVTCHNOP_ALLOC_UNBOUND: u32 = 6;
pub const EVTCHNOP_BIND_IPI: u32 = 7;
pub const EVTCHNOP_BIND_VCPU: u32 = 8;
pub const EVTCHNOP_UNMASK: u32 = 9;
pub const EVTCHNOP_RESET: u32 = 10;
pub const EVTCHNOP_INIT_CONTROL: u32 = 11;
pub const EVTCHNOP_EXPAND_ARRAY: u32 = 12;
pub const EVTCHNOP_SET_PRIORITY: u32 = 13;

// Virtual interrupts (xen.h). V: per vcpu, G: global.
pub const VIRQ_TIMER: u32 = 0; // V
pub const VIRQ_DEBUG: u32 = 1; // V
pub const VIRQ_CONSOLE: u32 = 2; // G
pub const VIRQ_DOM_EXC: u32 = 3; // G
pub const VIRQ_TBUF: u32 = 4; // G
pub const VIRQ_DEBUGGER: u32 = 6; // G
pub const VIRQ_XENOPROF: u32 = 7; // V
pub const VIRQ_CON_RING: u32 = 8; // G
pub const VIRQ_PCPU_STATE: u32 = 9; // G
pub const VIRQ_MEM_EVENT: u32 = 10; // G
pub const VIRQ_ARGO: u32 = 11;
pub const VIRQ_ENOMEM: u32 = 12; // G
pub const VIRQ_XENPMU: u32 = 13; // V
pub const VIRQ_ARCH_0: u32 = 16;
pub const NR_VIRQS: u32 = 24;

// evtchn_status.status
pub const EVTCHNSTAT_CLOSED: u32 = 0;
pub const EVTCHNSTAT_UNBOUND: u32 = 1;
pub const EVTCHNSTAT_INTERDOMAIN: u32 = 2;
pub const EVTCHNSTAT_PIRQ: u32 = 3;
pub const EVTCHNSTAT_VIRQ: u32 = 4;
pub const EVTCHNSTAT_IPI: u32 = 5;

/// Ports in the 2-level ABI on x86-64: 64 words of 64 bits.
pub const EVTCHN_2L_NR_CHANNELS: u32 = 4096;

/// struct evtchn_alloc_unbound
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct EvtchnAllocUnbound {
    pub dom: u16,
    pub remote_dom: u16,
    pub port: u32,
}

/// struct evtchn_bind_interdomain
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct EvtchnBindInterdomain {
    pub remote_dom: u16,
    pub remote_port: u32,
    pub local_port: u32,
}

/// struct evtchn_bind_virq
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct EvtchnBindVirq {
    pub virq: u32,
    pub vcpu: u32,
    pub port: u32,
}

/// struct evtchn_send
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct EvtchnSend {
    pub port: u32,
}

/// struct evtchn_close
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct EvtchnClose {
    pub port: u32,
}

/// struct evtchn_unmask
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct EvtchnUnmask {
    pub port: u32,
}

/// struct evtchn_bind_ipi
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct EvtchnBindIpi {
    pub vcpu: u32,
    pub port: u32,
}

/// struct evtchn_bind_vcpu
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct EvtchnBindVcpu {
    pub port: u32,
    pub vcpu: u32,
}

/// struct evtchn_status. The C union `u` is 8 bytes at offset 16: for
/// UNBOUND it holds the remote domid (u16 at 16); for INTERDOMAIN the remote
/// domid (u16 at 16) and remote port (u32 at 20); for PIRQ/VIRQ a u32 at 16.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct EvtchnStatus {
    pub dom: u16,
    pub port: u32,
    pub status: u32,
    pub vcpu: u32,
    pub u: [u32; 2],
}

impl EvtchnStatus {
    /// Remote domid (UNBOUND, INTERDOMAIN): the low half of the first word.
    pub fn remote_dom(&self) -> u16 {
        self.u[0] as u16
    }
    /// Remote port (INTERDOMAIN).
    pub fn remote_port(&self) -> u32 {
        self.u[1]
    }
    /// PIRQ or VIRQ number.
    pub fn irq(&self) -> u32 {
        self.u[0]
    }
}
