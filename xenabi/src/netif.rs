//! io/netif.h: the netfront/netback ring slots.

use crate::grant_table::GrantRef;

/// struct netif_tx_request
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetifTxRequest {
    pub gref: GrantRef,
    pub offset: u16,
    pub flags: u16,
    pub id: u16,
    pub size: u16,
}

/// struct netif_tx_response
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetifTxResponse {
    pub id: u16,
    pub status: i16,
}

/// struct netif_rx_request
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetifRxRequest {
    pub id: u16,
    pub pad: u16,
    pub gref: GrantRef,
}

/// struct netif_rx_response
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetifRxResponse {
    pub id: u16,
    pub offset: u16,
    pub flags: u16,
    pub status: i16,
}

/// struct netif_extra_info: follows a request/response that has the
/// extra-info flag, in the next ring slot. `u` is the C union (gso: size u16,
/// type u8, pad u8, features u16; mcast: addr[6]; hash: type, algorithm,
/// value[4]).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetifExtraInfo {
    pub kind: u8,
    pub flags: u8,
    pub u: [u8; 6],
}

/// Size of struct netif_extra_info.
pub const NETIF_EXTRA_INFO_SIZE: usize = 8;

/// `u.gso` of struct netif_extra_info: what a GSO extra slot carries after
/// its type and flags bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetifExtraGso {
    /// Largest payload of each segment (the TCP MSS).
    pub size: u16,
    /// XEN_NETIF_GSO_TYPE_*.
    pub kind: u8,
    pub pad: u8,
    /// XEN_NETIF_GSO_FEAT_* (none are defined).
    pub features: u16,
}

pub const XEN_NETIF_EXTRA_TYPE_NONE: u8 = 0;
pub const XEN_NETIF_EXTRA_TYPE_GSO: u8 = 1;
pub const XEN_NETIF_EXTRA_TYPE_MCAST_ADD: u8 = 2;
pub const XEN_NETIF_EXTRA_TYPE_MCAST_DEL: u8 = 3;
pub const XEN_NETIF_EXTRA_TYPE_HASH: u8 = 4;
pub const XEN_NETIF_EXTRA_TYPE_XDP: u8 = 5;
pub const XEN_NETIF_EXTRA_TYPE_MAX: u8 = 6;
/// Another extra-info slot follows this one.
pub const XEN_NETIF_EXTRA_FLAG_MORE: u8 = 1 << 0;

pub const XEN_NETIF_GSO_TYPE_NONE: u8 = 0;
pub const XEN_NETIF_GSO_TYPE_TCPV4: u8 = 1;
pub const XEN_NETIF_GSO_TYPE_TCPV6: u8 = 2;

pub const NETTXF_CSUM_BLANK: u16 = 1 << 0;
pub const NETTXF_DATA_VALIDATED: u16 = 1 << 1;
pub const NETTXF_MORE_DATA: u16 = 1 << 2;
pub const NETTXF_EXTRA_INFO: u16 = 1 << 3;

pub const NETRXF_DATA_VALIDATED: u16 = 1 << 0;
pub const NETRXF_CSUM_BLANK: u16 = 1 << 1;
pub const NETRXF_MORE_DATA: u16 = 1 << 2;
pub const NETRXF_EXTRA_INFO: u16 = 1 << 3;
pub const NETRXF_GSO_PREFIX: u16 = 1 << 4;

pub const NETIF_RSP_DROPPED: i16 = -2;
pub const NETIF_RSP_ERROR: i16 = -1;
pub const NETIF_RSP_OKAY: i16 = 0;
pub const NETIF_RSP_NULL: i16 = 1;

/// Slot sizes: a ring slot is the union of request and response.
pub const TX_SLOT_SIZE: usize = 12;
pub const RX_SLOT_SIZE: usize = 8;
pub const TX_RING_SIZE: usize = crate::ring::ring_size(4096, TX_SLOT_SIZE);
pub const RX_RING_SIZE: usize = crate::ring::ring_size(4096, RX_SLOT_SIZE);
/// A frontend must accept at least this many slots per packet from the backend.
pub const XEN_NETIF_NR_SLOTS_MIN: usize = 18;
/// Largest packet a TX request chain may describe (the first request's
/// `size` is a u16).
pub const XEN_NETIF_MAX_TX_SIZE: usize = 0xFFFF;
