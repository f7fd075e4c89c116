//! Retries with exponential backoff and jitter, a cap on attempts per step
//! and a deadline for the whole run: the one policy every metadata source
//! uses, so a flaky service is asked again patiently and a dead one ends
//! in a clear error, never a tight loop.

extern crate alloc;

use alloc::format;
use alloc::string::String;

use crate::source::{Action, Request};

pub const MAX_ATTEMPTS: u32 = 8;
const BACKOFF_BASE_NS: u64 = 250_000_000;
const BACKOFF_CAP_NS: u64 = 8_000_000_000;
/// A whole source run gives up after this.
pub const TOTAL_TIMEOUT_NS: u64 = 300_000_000_000;

/// May a request go out now?
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Gate {
    Go,
    Wait(u64),
    /// The run's deadline passed; the text says why.
    Expired(String),
}

impl Gate {
    /// As a source's next action: `request` builds what to send on `Go`.
    pub fn into_action(self, request: impl FnOnce() -> Request) -> Action {
        match self {
            Gate::Go => Action::Request(request()),
            Gate::Wait(t) => Action::Wait(t),
            Gate::Expired(why) => Action::Failed(why),
        }
    }
}

pub struct Backoff {
    /// attempts that failed on the current step
    attempt: u32,
    retries: u32,
    requests: u32,
    not_before: u64,
    give_up_at: Option<u64>,
    rng: u32,
    last_error: Option<String>,
}

impl Backoff {
    pub fn new(seed: u32) -> Backoff {
        Backoff {
            attempt: 0,
            retries: 0,
            requests: 0,
            not_before: 0,
            give_up_at: None,
            rng: rng_state(seed),
            last_error: None,
        }
    }

    /// Before each request: go (counted), wait, or give up. The deadline
    /// starts with the first call.
    pub fn gate(&mut self, now: u64) -> Gate {
        let give_up = *self
            .give_up_at
            .get_or_insert(now.saturating_add(TOTAL_TIMEOUT_NS));
        if now >= give_up {
            return Gate::Expired(format!(
                "metadata service unreachable for {} s (last error: {})",
                TOTAL_TIMEOUT_NS / 1_000_000_000,
                self.last_error.as_deref().unwrap_or("none")
            ));
        }
        if now < self.not_before {
            return Gate::Wait(self.not_before.min(give_up));
        }
        self.requests = self.requests.saturating_add(1);
        Gate::Go
    }

    /// The current step failed for `why`: true when it may be tried again
    /// (after a backoff), false once it has had `MAX_ATTEMPTS`.
    pub fn failed(&mut self, now: u64, why: String) -> bool {
        self.note(why);
        self.attempt += 1;
        if self.attempt >= MAX_ATTEMPTS {
            return false;
        }
        let exp = BACKOFF_BASE_NS
            .saturating_mul(1 << (self.attempt - 1).min(16))
            .min(BACKOFF_CAP_NS);
        // xorshift32 jitter: 50%..150% of the exponential step
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 17;
        self.rng ^= self.rng << 5;
        let jitter = exp / 2 + (self.rng as u64 % exp.max(1));
        self.not_before = now.saturating_add(jitter);
        true
    }

    /// A retry that needs no backoff (a new token after a 401): counted
    /// and explained like the others.
    pub fn note(&mut self, why: String) {
        self.last_error = Some(why);
        self.retries = self.retries.saturating_add(1);
    }

    /// The step succeeded (or was given up): the next starts afresh.
    pub fn next_step(&mut self) {
        self.attempt = 0;
    }

    pub fn retries(&self) -> u32 {
        self.retries
    }

    pub fn requests(&self) -> u32 {
        self.requests
    }

    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }
}

/// A non-zero xorshift32 state that differs for every seed (`seed | 1`
/// made seeds 2k and 2k+1 retry in lockstep).
fn rng_state(seed: u32) -> u32 {
    match seed.wrapping_mul(0x9e37_79b9).rotate_left(16) ^ 0x2545_f491 {
        0 => 1,
        s => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_caps_and_ends() {
        let mut b = Backoff::new(7);
        assert_eq!(b.gate(0), Gate::Go);
        let mut now = 0;
        let mut waits = alloc::vec::Vec::new();
        while b.failed(now, "x".into()) {
            let Gate::Wait(t) = b.gate(now) else {
                panic!("must wait")
            };
            assert!(t > now);
            waits.push(t - now);
            now = t;
            assert_eq!(b.gate(now), Gate::Go);
        }
        assert_eq!(waits.len() as u32, MAX_ATTEMPTS - 1);
        assert!(waits[0] >= BACKOFF_BASE_NS / 2 && waits[0] < BACKOFF_BASE_NS * 3 / 2);
        assert!(waits.iter().all(|&w| w < BACKOFF_CAP_NS * 3 / 2));
        assert_eq!(b.retries(), MAX_ATTEMPTS);
        assert_eq!(b.requests(), MAX_ATTEMPTS);
        b.next_step();
        assert!(
            b.failed(now, "again".into()),
            "a new step has its own attempts"
        );
        assert!(matches!(b.gate(TOTAL_TIMEOUT_NS), Gate::Expired(e) if e.contains("again")));
    }
}
