//! Hypercalls through the hypercall page Xen fills in when we write its
//! physical address to the MSR named by CPUID (leaf base+2).
//!
//! The raw calls are `unsafe`: Xen reads and writes as many bytes as the
//! command's argument struct has. The safe, typed wrappers at the bottom pair
//! each command with its `xenabi` struct.

use core::arch::{asm, global_asm};
use core::sync::atomic::{AtomicU64, Ordering};

use xenabi::xen as nr;

// In .bss (executable: the kernel's pages are): a page of the file saved,
// and the alignment padding a page-aligned .text costs. Zero until Xen
// fills it; nothing calls it before `install`.
global_asm!(
    r#"
    .section .bss.hypercall_page, "awx", @nobits
    .balign 4096
    .global hypercall_page
hypercall_page:
    .skip 4096
    .text
"#
);

extern "C" {
    static hypercall_page: u8;
}

/// Hypercalls made, for the bench's per-packet costs (bench.rs).
pub static COUNT: AtomicU64 = AtomicU64::new(0);

pub fn page_paddr() -> u64 {
    // SAFETY: only the symbol's address is taken.
    unsafe { &hypercall_page as *const u8 as u64 }
}

/// Raw five-argument hypercall (rdi, rsi, rdx, r10, r8 per the x86-64 ABI).
///
/// # Safety
/// The hypercall page must be installed, and pointer arguments must point to
/// live memory of the layout the call expects.
pub unsafe fn hypercall5(op: u32, a1: u64, a2: u64, a3: u64, a4: u64, a5: u64) -> i64 {
    let entry = page_paddr() + (op as u64) * 32;
    COUNT.fetch_add(1, Ordering::Relaxed);
    let ret: i64;
    // SAFETY: delegated to the caller; Xen may clobber the argument registers.
    unsafe {
        asm!(
            "call {entry}",
            entry = in(reg) entry,
            inlateout("rax") 0i64 => ret,
            inlateout("rdi") a1 => _,
            inlateout("rsi") a2 => _,
            inlateout("rdx") a3 => _,
            inlateout("r10") a4 => _,
            inlateout("r8") a5 => _,
            out("rcx") _,
            out("r11") _,
        );
    }
    ret
}

/// Hypercall taking a command and a pointer to its argument struct.
///
/// # Safety
/// `T` must be the argument struct that `cmd` of `op` expects.
unsafe fn op_with<T>(op: u32, cmd: u64, arg: &mut T) -> i64 {
    // SAFETY: `arg` is live and exclusively borrowed; its type is the caller's promise.
    unsafe { hypercall5(op, cmd, arg as *mut T as u64, 0, 0, 0) }
}

// ---- typed wrappers: each pairs one command with its xenabi argument ----

use xenabi::{event_channel as ev, grant_table as gt, hvm, memory, sched, vcpu, version, xen};

pub fn xen_version() -> u32 {
    // SAFETY: XENVER_version takes no argument pointer.
    unsafe {
        hypercall5(
            nr::HYPERVISOR_XEN_VERSION,
            version::XENVER_VERSION as u64,
            0,
            0,
            0,
            0,
        ) as u32
    }
}

pub fn xen_extraversion() -> [u8; 16] {
    let mut extra = [0u8; 16];
    // SAFETY: XENVER_extraversion fills a xen_extraversion_t (16 bytes).
    unsafe {
        op_with(
            nr::HYPERVISOR_XEN_VERSION,
            version::XENVER_EXTRAVERSION as u64,
            &mut extra,
        )
    };
    extra
}

pub fn xen_features(submap: u32) -> u32 {
    let mut fi = version::XenFeatureInfo {
        submap_idx: submap,
        submap: 0,
    };
    // SAFETY: XENVER_get_features takes a xen_feature_info.
    unsafe {
        op_with(
            nr::HYPERVISOR_XEN_VERSION,
            version::XENVER_GET_FEATURES as u64,
            &mut fi,
        )
    };
    fi.submap
}

pub fn add_to_physmap(space: u32, idx: u64, gpfn: u64) -> Result<(), i64> {
    let mut a = memory::XenAddToPhysmap {
        domid: xen::DOMID_SELF,
        size: 0,
        space,
        idx,
        gpfn,
    };
    // SAFETY: XENMEM_add_to_physmap takes a xen_add_to_physmap.
    let rc = unsafe {
        op_with(
            nr::HYPERVISOR_MEMORY_OP,
            memory::XENMEM_ADD_TO_PHYSMAP as u64,
            &mut a,
        )
    };
    if rc < 0 {
        Err(rc)
    } else {
        Ok(())
    }
}

pub fn hvm_get_param(index: u32) -> Result<u64, i64> {
    let mut p = hvm::XenHvmParam {
        domid: xen::DOMID_SELF,
        pad: 0,
        index,
        value: 0,
    };
    // SAFETY: HVMOP_get_param takes a xen_hvm_param.
    let rc = unsafe { op_with(nr::HYPERVISOR_HVM_OP, hvm::HVMOP_GET_PARAM as u64, &mut p) };
    if rc < 0 {
        Err(rc)
    } else {
        Ok(p.value)
    }
}

pub fn hvm_set_param(index: u32, value: u64) -> Result<(), i64> {
    let mut p = hvm::XenHvmParam {
        domid: xen::DOMID_SELF,
        pad: 0,
        index,
        value,
    };
    // SAFETY: HVMOP_set_param takes a xen_hvm_param.
    let rc = unsafe { op_with(nr::HYPERVISOR_HVM_OP, hvm::HVMOP_SET_PARAM as u64, &mut p) };
    if rc < 0 {
        Err(rc)
    } else {
        Ok(())
    }
}

pub fn evtchn_send(a: &mut ev::EvtchnSend) -> i64 {
    // SAFETY: EVTCHNOP_send takes an evtchn_send.
    unsafe { op_with(nr::HYPERVISOR_EVENT_CHANNEL_OP, ev::EVTCHNOP_SEND as u64, a) }
}

pub fn evtchn_unmask(a: &mut ev::EvtchnUnmask) -> i64 {
    // SAFETY: EVTCHNOP_unmask takes an evtchn_unmask.
    unsafe {
        op_with(
            nr::HYPERVISOR_EVENT_CHANNEL_OP,
            ev::EVTCHNOP_UNMASK as u64,
            a,
        )
    }
}

pub fn evtchn_close(a: &mut ev::EvtchnClose) -> i64 {
    // SAFETY: EVTCHNOP_close takes an evtchn_close.
    unsafe {
        op_with(
            nr::HYPERVISOR_EVENT_CHANNEL_OP,
            ev::EVTCHNOP_CLOSE as u64,
            a,
        )
    }
}

pub fn evtchn_bind_virq(a: &mut ev::EvtchnBindVirq) -> i64 {
    // SAFETY: EVTCHNOP_bind_virq takes an evtchn_bind_virq.
    unsafe {
        op_with(
            nr::HYPERVISOR_EVENT_CHANNEL_OP,
            ev::EVTCHNOP_BIND_VIRQ as u64,
            a,
        )
    }
}

pub fn evtchn_alloc_unbound(a: &mut ev::EvtchnAllocUnbound) -> i64 {
    // SAFETY: EVTCHNOP_alloc_unbound takes an evtchn_alloc_unbound.
    unsafe {
        op_with(
            nr::HYPERVISOR_EVENT_CHANNEL_OP,
            ev::EVTCHNOP_ALLOC_UNBOUND as u64,
            a,
        )
    }
}

pub fn sched_shutdown(reason: u32) -> i64 {
    let mut s = sched::SchedShutdown { reason };
    // SAFETY: SCHEDOP_shutdown takes a sched_shutdown.
    unsafe {
        op_with(
            nr::HYPERVISOR_SCHED_OP,
            sched::SCHEDOP_SHUTDOWN as u64,
            &mut s,
        )
    }
}

pub fn sched_yield() {
    // SAFETY: SCHEDOP_yield takes no argument pointer.
    unsafe {
        hypercall5(
            nr::HYPERVISOR_SCHED_OP,
            sched::SCHEDOP_YIELD as u64,
            0,
            0,
            0,
            0,
        )
    };
}

pub fn vcpu_set_singleshot_timer(vcpu_id: u32, timeout_abs_ns: u64) -> i64 {
    let mut t = vcpu::VcpuSetSingleshotTimer {
        timeout_abs_ns,
        flags: 0,
    };
    // SAFETY: VCPUOP_set_singleshot_timer takes a vcpu_set_singleshot_timer.
    unsafe {
        hypercall5(
            nr::HYPERVISOR_VCPU_OP,
            vcpu::VCPUOP_SET_SINGLESHOT_TIMER as u64,
            vcpu_id as u64,
            &mut t as *mut _ as u64,
            0,
            0,
        )
    }
}

pub fn vcpu_stop_periodic_timer(vcpu_id: u32) -> i64 {
    // SAFETY: VCPUOP_stop_periodic_timer takes no argument pointer.
    unsafe {
        hypercall5(
            nr::HYPERVISOR_VCPU_OP,
            vcpu::VCPUOP_STOP_PERIODIC_TIMER as u64,
            vcpu_id as u64,
            0,
            0,
            0,
        )
    }
}

pub fn gnttab_query_size(q: &mut gt::GnttabQuerySize) -> i64 {
    // SAFETY: GNTTABOP_query_size takes one gnttab_query_size (count 1).
    unsafe {
        hypercall5(
            nr::HYPERVISOR_GRANT_TABLE_OP,
            gt::GNTTABOP_QUERY_SIZE as u64,
            q as *mut _ as u64,
            1,
            0,
            0,
        )
    }
}
