//! What the fuzzed metadata service does with one request, read from the
//! fuzzer's bytes: refuse, time out, reset, or answer with the next bytes.

use cloudinit::exchange::outcome_of;
use cloudinit::imds::{Outcome, REQUEST_TIMEOUT_NS};

/// `scale` times the next byte is how many bytes the answer takes.
pub fn outcome(input: &mut impl Iterator<Item = u8>, now: &mut u64, scale: usize) -> Outcome {
    match input.next() {
        None | Some(0) => Outcome::ConnectFailed,
        Some(1) => {
            *now += REQUEST_TIMEOUT_NS;
            Outcome::Timeout
        }
        Some(2) => Outcome::Reset,
        Some(n) => {
            let raw: Vec<u8> = input.by_ref().take(n as usize * scale).collect();
            outcome_of(&raw)
        }
    }
}
