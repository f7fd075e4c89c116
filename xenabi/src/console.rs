//! io/console.h: struct xencons_interface offsets.

pub const IN_OFFSET: usize = 0;
pub const IN_SIZE: usize = 1024;
pub const OUT_OFFSET: usize = 1024;
pub const OUT_SIZE: usize = 2048;
pub const IN_CONS_OFFSET: usize = 3072;
pub const IN_PROD_OFFSET: usize = 3076;
pub const OUT_CONS_OFFSET: usize = 3080;
pub const OUT_PROD_OFFSET: usize = 3084;
/// `uint8_t connection` after the indexes: whether the backend services the ring.
pub const CONNECTION_OFFSET: usize = 3088;
pub const XENCONSOLE_CONNECTED: u8 = 0;
pub const XENCONSOLE_DISCONNECTED: u8 = 1;
