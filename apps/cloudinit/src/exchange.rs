//! One HTTP exchange over one TCP connection, sans-IO: the caller owns the
//! socket and reports what happened (connected, bytes in, bytes taken for
//! sending, peer closed, reset, time passed); the exchange answers with the
//! `Outcome` the IMDS flow wants once it is over. It keeps the two clocks
//! apart: a short connect timeout (a dead or absent service is noticed
//! quickly) and a response timeout that starts once connected.

extern crate alloc;

use alloc::vec::Vec;

use crate::http::Parser;
use crate::imds::{Outcome, REQUEST_TIMEOUT_NS};

/// From opening the connection to the handshake completing.
pub const CONNECT_TIMEOUT_NS: u64 = 3_000_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Connecting { deadline: u64 },
    Open { deadline: u64 },
    Over,
}

pub struct Exchange {
    request: Vec<u8>,
    sent: usize,
    parser: Parser,
    state: State,
}

impl Exchange {
    /// Start when the connection is opened (SYN sent) at `now`.
    pub fn new(request: Vec<u8>, now: u64) -> Self {
        Exchange {
            request,
            sent: 0,
            parser: Parser::new(),
            state: State::Connecting {
                deadline: now.saturating_add(CONNECT_TIMEOUT_NS),
            },
        }
    }

    pub fn is_over(&self) -> bool {
        self.state == State::Over
    }

    pub fn is_connected(&self) -> bool {
        matches!(self.state, State::Open { .. })
    }

    /// When `on_timer` must be called next (None once over).
    pub fn deadline(&self) -> Option<u64> {
        match self.state {
            State::Connecting { deadline } | State::Open { deadline } => Some(deadline),
            State::Over => None,
        }
    }

    /// The handshake completed.
    pub fn on_connected(&mut self, now: u64) {
        if let State::Connecting { .. } = self.state {
            self.state = State::Open {
                deadline: now.saturating_add(REQUEST_TIMEOUT_NS),
            };
        }
    }

    /// Request bytes not yet handed to the socket (empty until connected).
    pub fn to_send(&self) -> &[u8] {
        match self.state {
            State::Open { .. } => &self.request[self.sent..],
            _ => &[],
        }
    }

    /// The socket took `n` bytes of `to_send()`.
    pub fn on_sent(&mut self, n: usize) {
        self.sent = self.sent.saturating_add(n).min(self.request.len());
    }

    /// Bytes arrived. Data before the handshake is reported can only mean
    /// the handshake completed.
    pub fn on_data(&mut self, now: u64, data: &[u8]) -> Option<Outcome> {
        match self.state {
            State::Over => return None,
            State::Connecting { .. } => self.on_connected(now),
            State::Open { .. } => {}
        }
        let outcome = match self.parser.push(data) {
            Ok(Some(r)) => Outcome::Response(r),
            Ok(None) => return None,
            Err(e) => Outcome::Http(e),
        };
        self.state = State::Over;
        Some(outcome)
    }

    /// The peer closed its side (FIN): the response ends here.
    pub fn on_closed(&mut self) -> Option<Outcome> {
        let outcome = match self.state {
            State::Over => return None,
            State::Connecting { .. } => Outcome::ConnectFailed,
            State::Open { .. } => match self.parser.finish() {
                Ok(r) => Outcome::Response(r),
                Err(e) => Outcome::Http(e),
            },
        };
        self.state = State::Over;
        Some(outcome)
    }

    /// The connection was refused or reset (RST, ICMP unreachable, local
    /// error, the network went away).
    pub fn on_reset(&mut self) -> Option<Outcome> {
        let outcome = match self.state {
            State::Over => return None,
            State::Connecting { .. } => Outcome::ConnectFailed,
            State::Open { .. } => Outcome::Reset,
        };
        self.state = State::Over;
        Some(outcome)
    }

    /// Time passed; the exchange is over if a deadline has.
    pub fn on_timer(&mut self, now: u64) -> Option<Outcome> {
        let outcome = match self.state {
            State::Connecting { deadline } if now >= deadline => Outcome::ConnectFailed,
            State::Open { deadline } if now >= deadline => Outcome::Timeout,
            _ => return None,
        };
        self.state = State::Over;
        Some(outcome)
    }
}

/// The outcome of an exchange whose whole response is `raw`, the peer
/// closing after it: for answers that did not come over a socket (tests,
/// fuzzing).
pub fn outcome_of(raw: &[u8]) -> Outcome {
    let mut x = Exchange::new(Vec::new(), 0);
    x.on_connected(0);
    x.on_data(0, raw)
        .or_else(|| x.on_closed())
        .unwrap_or(Outcome::Reset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::HttpError;

    const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";

    #[test]
    fn normal_exchange() {
        let mut x = Exchange::new(b"GET / HTTP/1.1\r\n\r\n".to_vec(), 0);
        assert!(x.to_send().is_empty(), "nothing before the handshake");
        assert_eq!(x.deadline(), Some(CONNECT_TIMEOUT_NS));
        x.on_connected(100);
        assert_eq!(x.deadline(), Some(100 + REQUEST_TIMEOUT_NS));
        assert_eq!(x.to_send(), b"GET / HTTP/1.1\r\n\r\n");
        x.on_sent(4);
        assert_eq!(x.to_send(), b"/ HTTP/1.1\r\n\r\n");
        x.on_sent(1000);
        assert!(x.to_send().is_empty());
        assert_eq!(x.on_data(200, &OK[..10]), None);
        match x.on_data(300, &OK[10..]) {
            Some(Outcome::Response(r)) => assert_eq!(r.body, b"hi"),
            other => panic!("{:?}", other),
        }
        assert!(x.is_over());
        assert_eq!(x.on_closed(), None, "over is final");
        assert_eq!(x.on_timer(u64::MAX), None);
    }

    #[test]
    fn whole_responses() {
        assert!(matches!(outcome_of(OK), Outcome::Response(r) if r.body == b"hi"));
        assert_eq!(outcome_of(&OK[..5]), Outcome::Http(HttpError::Truncated));
        assert_eq!(outcome_of(b""), Outcome::Http(HttpError::Truncated));
    }

    #[test]
    fn connect_failures() {
        let mut x = Exchange::new(Vec::new(), 0);
        assert_eq!(x.on_timer(CONNECT_TIMEOUT_NS - 1), None);
        assert_eq!(x.on_timer(CONNECT_TIMEOUT_NS), Some(Outcome::ConnectFailed));
        let mut x = Exchange::new(Vec::new(), 0);
        assert_eq!(x.on_reset(), Some(Outcome::ConnectFailed));
        let mut x = Exchange::new(Vec::new(), 0);
        assert_eq!(x.on_closed(), Some(Outcome::ConnectFailed));
    }

    #[test]
    fn failures_after_connecting() {
        let mut x = Exchange::new(Vec::new(), 0);
        x.on_connected(5);
        // the connect deadline no longer applies
        assert_eq!(x.on_timer(CONNECT_TIMEOUT_NS + 5), None);
        assert_eq!(x.on_timer(5 + REQUEST_TIMEOUT_NS), Some(Outcome::Timeout));
        let mut x = Exchange::new(Vec::new(), 0);
        x.on_connected(0);
        assert_eq!(x.on_data(1, &OK[..5]), None);
        assert_eq!(x.on_reset(), Some(Outcome::Reset));
        let mut x = Exchange::new(Vec::new(), 0);
        x.on_connected(0);
        assert_eq!(x.on_data(1, &OK[..OK.len() - 1]), None);
        assert_eq!(x.on_closed(), Some(Outcome::Http(HttpError::Truncated)));
        let mut x = Exchange::new(Vec::new(), 0);
        assert_eq!(
            x.on_data(1, b"garbage\r\n\r\n"),
            Some(Outcome::Http(HttpError::Malformed("status line")))
        );
    }
}
