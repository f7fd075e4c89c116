//! Arbitrary packet sequences and clock steps against one client (the
//! script format and the promises checked are in `dhcp_fuzz`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    dhcp_fuzz::run(data);
});
