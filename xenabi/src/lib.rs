//! The Xen public ABI, defined once for every crate (see DESIGN.md): hypercall
//! numbers and `#[repr(C)]` layouts from xen/include/public (x86-64), with
//! layout tests, and the small `hal` interface the drivers are written against.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod console;
pub mod cpuid;
pub mod event_channel;
pub mod grant_table;
pub mod hal;
pub mod hvm;
pub mod memory;
pub mod netif;
pub mod ring;
pub mod sched;
pub mod shared_info;
pub mod start_info;
pub mod vcpu;
pub mod version;
pub mod xen;
pub mod xs_wire;

#[cfg(test)]
mod layout_tests {
    //! Sizes and offsets as the C headers lay them out on x86-64.
    use super::*;
    use core::mem::{offset_of, size_of};

    #[test]
    fn start_info() {
        use start_info::*;
        assert_eq!(size_of::<HvmStartInfo>(), 56);
        assert_eq!(offset_of!(HvmStartInfo, modlist_paddr), 16);
        assert_eq!(offset_of!(HvmStartInfo, cmdline_paddr), 24);
        assert_eq!(offset_of!(HvmStartInfo, rsdp_paddr), 32);
        assert_eq!(offset_of!(HvmStartInfo, memmap_paddr), 40);
        assert_eq!(offset_of!(HvmStartInfo, memmap_entries), 48);
        assert_eq!(size_of::<HvmModlistEntry>(), 32);
        assert_eq!(size_of::<HvmMemmapTableEntry>(), 24);
        assert_eq!(offset_of!(HvmMemmapTableEntry, kind), 16);
    }

    #[test]
    fn shared_info() {
        use shared_info::*;
        assert_eq!(size_of::<VcpuTimeInfo>(), 32);
        assert_eq!(
            offset_of!(VcpuTimeInfo, tsc_timestamp),
            TIME_TSC_TIMESTAMP_OFFSET
        );
        assert_eq!(
            offset_of!(VcpuTimeInfo, system_time),
            TIME_SYSTEM_TIME_OFFSET
        );
        assert_eq!(
            offset_of!(VcpuTimeInfo, tsc_to_system_mul),
            TIME_TSC_TO_SYSTEM_MUL_OFFSET
        );
        assert_eq!(offset_of!(VcpuTimeInfo, tsc_shift), TIME_TSC_SHIFT_OFFSET);
        assert_eq!(size_of::<VcpuInfo>(), VCPU_INFO_SIZE);
        assert_eq!(
            offset_of!(VcpuInfo, evtchn_upcall_mask),
            VCPU_UPCALL_MASK_OFFSET
        );
        assert_eq!(
            offset_of!(VcpuInfo, evtchn_pending_sel),
            VCPU_PENDING_SEL_OFFSET
        );
        assert_eq!(offset_of!(VcpuInfo, time), VCPU_TIME_OFFSET);
        assert_eq!(
            offset_of!(SharedInfoHead, evtchn_pending),
            EVTCHN_PENDING_OFFSET
        );
        assert_eq!(offset_of!(SharedInfoHead, evtchn_mask), EVTCHN_MASK_OFFSET);
        assert_eq!(offset_of!(SharedInfoHead, wc_version), WC_VERSION_OFFSET);
    }

    #[test]
    fn hypercall_args() {
        assert_eq!(size_of::<memory::XenAddToPhysmap>(), 24);
        assert_eq!(offset_of!(memory::XenAddToPhysmap, space), 4);
        assert_eq!(offset_of!(memory::XenAddToPhysmap, idx), 8);
        assert_eq!(offset_of!(memory::XenAddToPhysmap, gpfn), 16);
        assert_eq!(size_of::<hvm::XenHvmParam>(), 16);
        assert_eq!(offset_of!(hvm::XenHvmParam, index), 4);
        assert_eq!(offset_of!(hvm::XenHvmParam, value), 8);
        assert_eq!(size_of::<hvm::XenHvmEvtchnUpcallVector>(), 8);
        assert_eq!(size_of::<vcpu::VcpuSetSingleshotTimer>(), 16);
        assert_eq!(size_of::<sched::SchedShutdown>(), 4);
        assert_eq!(size_of::<version::XenFeatureInfo>(), 8);
        assert_eq!(size_of::<event_channel::EvtchnAllocUnbound>(), 8);
        assert_eq!(offset_of!(event_channel::EvtchnAllocUnbound, port), 4);
        assert_eq!(size_of::<event_channel::EvtchnBindInterdomain>(), 12);
        assert_eq!(
            offset_of!(event_channel::EvtchnBindInterdomain, remote_port),
            4
        );
        assert_eq!(size_of::<event_channel::EvtchnBindVirq>(), 12);
        assert_eq!(hvm::callback_via_vector(0xf3), 0x0200_0000_0000_00f3);
    }

    #[test]
    fn grant_table() {
        use grant_table::*;
        assert_eq!(size_of::<GrantEntryV1>(), GRANT_ENTRY_SIZE);
        assert_eq!(offset_of!(GrantEntryV1, domid), GRANT_ENTRY_DOMID_OFFSET);
        assert_eq!(offset_of!(GrantEntryV1, frame), GRANT_ENTRY_FRAME_OFFSET);
        assert_eq!(size_of::<GnttabQuerySize>(), 16);
        assert_eq!(offset_of!(GnttabQuerySize, nr_frames), 4);
        assert_eq!(offset_of!(GnttabQuerySize, max_nr_frames), 8);
        assert_eq!(offset_of!(GnttabQuerySize, status), 12);
        assert_eq!(size_of::<GnttabSetupTable>(), 24);
        assert_eq!(offset_of!(GnttabSetupTable, frame_list), 16);
        assert_eq!(size_of::<GnttabCopyPtr>(), 16);
        assert_eq!(size_of::<GnttabCopy>(), 40);
        assert_eq!(offset_of!(GnttabCopy, len), 32);
        assert_eq!(offset_of!(GnttabCopy, status), 36);
        assert_eq!(ENTRIES_PER_FRAME, 512);
    }

    #[test]
    fn netif_rings() {
        use netif::*;
        assert_eq!(size_of::<NetifTxRequest>(), TX_SLOT_SIZE);
        assert_eq!(size_of::<NetifTxResponse>(), 4);
        assert_eq!(size_of::<NetifRxRequest>(), RX_SLOT_SIZE);
        assert_eq!(size_of::<NetifRxResponse>(), RX_SLOT_SIZE);
        assert_eq!(offset_of!(NetifRxRequest, gref), 4);
        assert_eq!(offset_of!(NetifRxResponse, status), 6);
        assert_eq!(TX_RING_SIZE, 256);
        assert_eq!(RX_RING_SIZE, 256);
        assert_eq!(ring::ring_size(4096, 4096), 0);
        assert_eq!(ring::ring_size(4096, 64), 32); // 63 slots fit, rounded down
    }

    #[test]
    fn xenstore() {
        use xs_wire::*;
        assert_eq!(size_of::<XsdSockmsg>(), XSD_SOCKMSG_SIZE);
        assert_eq!(XSD_ERRORS[4], "ENOENT");
        assert_eq!(XSD_ERRORS[12], "EAGAIN");
        assert_eq!(XS_RSP_PROD_OFFSET, 2 * XENSTORE_RING_SIZE + 12);
        assert_eq!(console::OUT_PROD_OFFSET, 1024 + 2048 + 12);
    }
}
