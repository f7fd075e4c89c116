//! The Xen public ABI, defined once for every crate (see DESIGN.md): hypercall
//! numbers and `#[repr(C)]` layouts from xen/include/public (x86-64), with
//! layout tests, and the small `hal` interface the drivers are written against.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod blkif;
pub mod console;
pub mod cpuid;
pub mod event_channel;
pub mod grant_table;
pub mod hal;
pub mod hvm;
pub mod hypercall;
pub mod memory;
pub mod multiboot2;
pub mod netif;
pub mod platform;
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

    #[test]
    fn more_hypercall_args() {
        assert_eq!(hypercall::HYPERVISOR_HVM_OP, 34);
        assert_eq!(xen::HYPERVISOR_EVENT_CHANNEL_OP, 32);
        assert_eq!(
            hypercall::stub_offset(hypercall::HYPERVISOR_SCHED_OP),
            29 * 32
        );
        assert_eq!(size_of::<memory::XenRemoveFromPhysmap>(), 16);
        assert_eq!(offset_of!(memory::XenRemoveFromPhysmap, gpfn), 8);
        assert_eq!(size_of::<memory::XenMemoryReservation>(), 32);
        assert_eq!(offset_of!(memory::XenMemoryReservation, nr_extents), 8);
        assert_eq!(offset_of!(memory::XenMemoryReservation, extent_order), 16);
        assert_eq!(offset_of!(memory::XenMemoryReservation, mem_flags), 20);
        assert_eq!(offset_of!(memory::XenMemoryReservation, domid), 24);
        assert_eq!(size_of::<vcpu::VcpuRegisterVcpuInfo>(), 16);
        assert_eq!(offset_of!(vcpu::VcpuRegisterVcpuInfo, offset), 8);
        assert_eq!(size_of::<vcpu::VcpuSetPeriodicTimer>(), 8);
        assert_eq!(size_of::<sched::SchedPoll>(), 24);
        assert_eq!(offset_of!(sched::SchedPoll, nr_ports), 8);
        assert_eq!(offset_of!(sched::SchedPoll, timeout), 16);
        assert_eq!(size_of::<hvm::XenHvmGetTime>(), 8);
        assert_eq!(size_of::<version::XenCompileInfo>(), 144);
        assert_eq!(offset_of!(version::XenCompileInfo, compile_date), 112);
        assert_eq!(version::version_major(0x0004_0011), 4);
        assert_eq!(version::version_minor(0x0004_0011), 17);
    }

    #[test]
    fn event_channel_args() {
        use event_channel::*;
        assert_eq!(size_of::<EvtchnStatus>(), 24);
        assert_eq!(offset_of!(EvtchnStatus, port), 4);
        assert_eq!(offset_of!(EvtchnStatus, status), 8);
        assert_eq!(offset_of!(EvtchnStatus, vcpu), 12);
        assert_eq!(offset_of!(EvtchnStatus, u), 16);
        let st = EvtchnStatus {
            status: EVTCHNSTAT_INTERDOMAIN,
            u: [0xdead_0007, 42],
            ..Default::default()
        };
        assert_eq!((st.remote_dom(), st.remote_port()), (7, 42));
        assert_eq!(size_of::<EvtchnBindIpi>(), 8);
        assert_eq!(size_of::<EvtchnBindVcpu>(), 8);
        assert_eq!(size_of::<EvtchnSend>(), 4);
        assert_eq!(EVTCHN_2L_NR_CHANNELS, xen::NR_EVENT_CHANNELS);
        // 64 words of 64 bits: the pending/mask arrays in shared_info
        assert_eq!(
            shared_info::EVTCHN_MASK_OFFSET - shared_info::EVTCHN_PENDING_OFFSET,
            xen::NR_EVENT_CHANNELS as usize / 8
        );
    }

    #[test]
    fn grant_map_args() {
        use grant_table::*;
        assert_eq!(size_of::<GnttabMapGrantRef>(), 32);
        assert_eq!(offset_of!(GnttabMapGrantRef, flags), 8);
        assert_eq!(offset_of!(GnttabMapGrantRef, gref), 12);
        assert_eq!(offset_of!(GnttabMapGrantRef, dom), 16);
        assert_eq!(offset_of!(GnttabMapGrantRef, status), 18);
        assert_eq!(offset_of!(GnttabMapGrantRef, handle), 20);
        assert_eq!(offset_of!(GnttabMapGrantRef, dev_bus_addr), 24);
        assert_eq!(size_of::<GnttabUnmapGrantRef>(), 24);
        assert_eq!(offset_of!(GnttabUnmapGrantRef, handle), 16);
        assert_eq!(offset_of!(GnttabUnmapGrantRef, status), 20);
        assert_eq!(size_of::<GnttabGetVersion>(), 8);
        assert_eq!(offset_of!(GnttabGetVersion, version), 4);
        // the flag bits do not overlap the entry type
        for f in [GTF_READONLY, GTF_READING, GTF_WRITING, GTF_SUB_PAGE] {
            assert_eq!(f & GTF_TYPE_MASK, 0);
        }
    }

    #[test]
    fn netif_extra_and_ring_header() {
        use netif::*;
        assert_eq!(size_of::<NetifExtraInfo>(), NETIF_EXTRA_INFO_SIZE);
        assert_eq!(offset_of!(NetifExtraInfo, u), 2);
        // u.gso: size u16, type u8, pad u8, features u16
        assert_eq!(size_of::<NetifExtraGso>(), 6);
        assert_eq!(offset_of!(NetifExtraGso, size), 0);
        assert_eq!(offset_of!(NetifExtraGso, kind), 2);
        assert_eq!(offset_of!(NetifExtraGso, features), 4);
        assert_eq!(XEN_NETIF_EXTRA_TYPE_XDP, 5);
        assert_eq!(XEN_NETIF_EXTRA_TYPE_MAX, 6);
        assert_eq!(XEN_NETIF_MAX_TX_SIZE, 65535);
        // an extra-info slot fits in either ring's slot
        assert!(NETIF_EXTRA_INFO_SIZE <= TX_SLOT_SIZE && NETIF_EXTRA_INFO_SIZE <= RX_SLOT_SIZE);
        assert_eq!(ring::ring_size(4096, TX_SLOT_SIZE), 256); // 336 fit
        assert_eq!(ring::ring_size(4096, RX_SLOT_SIZE), 256); // 504 fit
        assert_eq!(ring::ring_size(4096, 4032), 1);
        assert_eq!(ring::ring_size(8192, RX_SLOT_SIZE), 512); // 1016 fit
        assert!(ring::PVT_OFFSET + 4 + 44 == ring::RING_OFFSET);
    }

    #[test]
    fn cpuid_signature_spells_xenvmm() {
        use cpuid::*;
        let mut b = [0u8; 12];
        b[0..4].copy_from_slice(&XEN_CPUID_SIGNATURE_EBX.to_le_bytes());
        b[4..8].copy_from_slice(&XEN_CPUID_SIGNATURE_ECX.to_le_bytes());
        b[8..12].copy_from_slice(&XEN_CPUID_SIGNATURE_EDX.to_le_bytes());
        assert_eq!(&b, &XEN_CPUID_SIGNATURE);
        assert!(is_xen_signature(
            XEN_CPUID_SIGNATURE_EBX,
            XEN_CPUID_SIGNATURE_ECX,
            XEN_CPUID_SIGNATURE_EDX
        ));
        assert!(!is_xen_signature(0x756e_6547, 0x6c65_746e, 0x4965_6e69)); // GenuineIntel
    }

    #[test]
    fn ring_pages_and_platform() {
        use xs_wire::*;
        assert_eq!(XS_EVTCHN_PORT_OFFSET, XS_ERROR_OFFSET + 4);
        assert!(XS_EVTCHN_PORT_OFFSET + 4 <= 4096);
        assert_eq!(XS_RESET_WATCHES, XS_SET_TARGET + 2);
        assert_eq!(XSD_ERRORS[14], "E2BIG");
        assert_eq!(console::CONNECTION_OFFSET, console::OUT_PROD_OFFSET + 4);
        assert_eq!(
            platform::XEN_IOPORT_MAGIC_VAL.swap_bytes(),
            platform::XEN_IOPORT_MAGIC_BLACKLISTED
        );
        assert_eq!(platform::UNPLUG_ALL, 7);
    }
    #[test]
    fn blkif_rings() {
        use blkif::*;
        assert_eq!(size_of::<BlkifRequestSegment>(), SEGMENT_SIZE);
        assert_eq!(offset_of!(BlkifRequestSegment, first_sect), 4);
        assert_eq!(offset_of!(BlkifRequestSegment, last_sect), 5);
        assert_eq!(size_of::<BlkifRequest>(), SLOT_SIZE);
        assert_eq!(offset_of!(BlkifRequest, operation), REQ_OPERATION_OFFSET);
        assert_eq!(
            offset_of!(BlkifRequest, nr_segments),
            REQ_NR_SEGMENTS_OFFSET
        );
        assert_eq!(offset_of!(BlkifRequest, handle), REQ_HANDLE_OFFSET);
        assert_eq!(offset_of!(BlkifRequest, id), REQ_ID_OFFSET);
        assert_eq!(offset_of!(BlkifRequest, sector_number), REQ_SECTOR_OFFSET);
        assert_eq!(offset_of!(BlkifRequest, seg), REQ_SEG_OFFSET);
        assert_eq!(size_of::<BlkifResponse>(), RESPONSE_SIZE);
        assert_eq!(offset_of!(BlkifResponse, id), RSP_ID_OFFSET);
        assert_eq!(offset_of!(BlkifResponse, operation), RSP_OPERATION_OFFSET);
        assert_eq!(offset_of!(BlkifResponse, status), RSP_STATUS_OFFSET);
        assert_eq!(size_of::<BlkifRequestDiscard>(), 32);
        assert_eq!(offset_of!(BlkifRequestDiscard, nr_sectors), 24);
        assert_eq!(size_of::<BlkifRequestIndirect>(), 64);
        assert_eq!(offset_of!(BlkifRequestIndirect, nr_segments), 2);
        assert_eq!(offset_of!(BlkifRequestIndirect, sector_number), 16);
        assert_eq!(offset_of!(BlkifRequestIndirect, handle), 24);
        assert_eq!(offset_of!(BlkifRequestIndirect, indirect_grefs), 28);
        // (4096 - 64) / 112 = 36 slots fit, rounded down to 32
        assert_eq!(RING_SIZE, 32);
        // 11 segments of a whole page, in 512-byte sectors
        assert_eq!(
            BLKIF_MAX_SEGMENTS_PER_REQUEST * 4096 / BLKIF_SECTOR_SIZE,
            88
        );
    }
}
