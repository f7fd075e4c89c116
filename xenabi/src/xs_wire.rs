//! io/xs_wire.h: XenStore messages and the shared ring page.

/// XenStore message types (enum xsd_sockmsg_type).
pub const XS_CONTROL: u32 = 0;
pub const XS_DIRECTORY: u32 = 1;
pub const XS_READ: u32 = 2;
pub const XS_GET_PERMS: u32 = 3;
pub const XS_WATCH: u32 = 4;
pub const XS_UNWATCH: u32 = 5;
pub const XS_TRANSACTION_START: u32 = 6;
pub const XS_TRANSACTION_END: u32 = 7;
pub const XS_INTRODUCE: u32 = 8;
pub const XS_RELEASE: u32 = 9;
pub const XS_GET_DOMAIN_PATH: u32 = 10;
pub const XS_WRITE: u32 = 11;
pub const XS_MKDIR: u32 = 12;
pub const XS_RM: u32 = 13;
pub const XS_SET_PERMS: u32 = 14;
pub const XS_WATCH_EVENT: u32 = 15;
pub const XS_ERROR: u32 = 16;
pub const XS_IS_DOMAIN_INTRODUCED: u32 = 17;
pub const XS_RESUME: u32 = 18;
pub const XS_SET_TARGET: u32 = 19;
pub const XS_RESET_WATCHES: u32 = 21;
pub const XS_DIRECTORY_PART: u32 = 22;
pub const XS_GET_FEATURE: u32 = 23;
pub const XS_SET_FEATURE: u32 = 24;
pub const XS_GET_QUOTA: u32 = 25;
pub const XS_SET_QUOTA: u32 = 26;
/// XS_DEBUG is an alias of XS_CONTROL.
pub const XS_DEBUG: u32 = XS_CONTROL;
pub const XS_INVALID: u32 = 0xffff;

/// struct xsd_sockmsg: the 16-byte header of every message.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XsdSockmsg {
    pub kind: u32,
    pub req_id: u32,
    pub tx_id: u32,
    pub len: u32,
}
pub const XSD_SOCKMSG_SIZE: usize = 16;

/// Errors travel as their names (struct xsd_errors), in this order.
pub const XSD_ERRORS: [&str; 16] = [
    "EINVAL",
    "EACCES",
    "EEXIST",
    "EISDIR",
    "ENOENT",
    "ENOMEM",
    "ENOSPC",
    "EIO",
    "ENOTEMPTY",
    "ENOSYS",
    "EROFS",
    "EBUSY",
    "EAGAIN",
    "EISCONN",
    "E2BIG",
    "EPERM",
];

pub const XENSTORE_PAYLOAD_MAX: usize = 4096;
pub const XENSTORE_ABS_PATH_MAX: usize = 3072;
pub const XENSTORE_REL_PATH_MAX: usize = 2048;

/// struct xenstore_domain_interface: offsets in the ring page.
pub const XENSTORE_RING_SIZE: usize = 1024;
pub const XS_REQ_OFFSET: usize = 0;
pub const XS_RSP_OFFSET: usize = 1024;
pub const XS_REQ_CONS_OFFSET: usize = 2048;
pub const XS_REQ_PROD_OFFSET: usize = 2052;
pub const XS_RSP_CONS_OFFSET: usize = 2056;
pub const XS_RSP_PROD_OFFSET: usize = 2060;
pub const XS_SERVER_FEATURES_OFFSET: usize = 2064;
pub const XS_CONNECTION_OFFSET: usize = 2068;
pub const XS_ERROR_OFFSET: usize = 2072;
pub const XS_EVTCHN_PORT_OFFSET: usize = 2076;

/// Indexes into the two strings of an XS_WATCH_EVENT payload.
pub const XS_WATCH_PATH: usize = 0;
pub const XS_WATCH_TOKEN: usize = 1;

pub const XENSTORE_CONNECTED: u32 = 0;
pub const XENSTORE_RECONNECT: u32 = 1;
pub const XENSTORE_SERVER_FEATURE_RECONNECTION: u32 = 1;
pub const XENSTORE_SERVER_FEATURE_ERROR: u32 = 2;
pub const XENSTORE_SERVER_FEATURE_WATCHDEPTH: u32 = 4;
pub const XENSTORE_SERVER_FEATURE_DOMID_ANY: u32 = 8;

/// Values of the `error` field (with XENSTORE_SERVER_FEATURE_ERROR).
pub const XENSTORE_ERROR_NONE: u32 = 0;
pub const XENSTORE_ERROR_COMM: u32 = 1;
pub const XENSTORE_ERROR_RINGIDX: u32 = 2;
pub const XENSTORE_ERROR_PROTO: u32 = 3;
