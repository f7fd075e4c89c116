//! The connection protocol's session channel (RFC 4254): the messages that
//! address it, the windows both ways, and what we send on it.

use alloc::vec::Vec;

use crate::msg;
use crate::wire::{Malformed, Reader, Writer};

/// Our channel number (one channel per connection).
pub const OUR_ID: u32 = 0;
/// The receive window we grant: it bounds what a client can type ahead.
pub const WINDOW: u32 = 64 * 1024;
/// The largest CHANNEL_DATA payload we take or send (fits `MAX_PACKET`).
pub const MAX_DATA: u32 = 32 * 1024;

/// A channel message from the client, or a reason it is not acceptable.
pub enum Incoming<'a> {
    Open {
        kind: &'a [u8],
        sender: u32,
        window: u32,
        max_packet: u32,
    },
    WindowAdjust(u32),
    Data(&'a [u8]),
    ExtendedData(&'a [u8]),
    Eof,
    Close,
    Request {
        kind: &'a [u8],
        want_reply: bool,
        args: Reader<'a>,
    },
    /// Replies to requests we never make: ignored.
    Reply,
}

pub fn parse(payload: &[u8]) -> Result<Incoming<'_>, &'static str> {
    let bad = |_: Malformed| "malformed channel message";
    let mut r = Reader::new(payload);
    let n = r.u8().map_err(bad)?;
    if n == msg::CHANNEL_OPEN {
        return Ok(Incoming::Open {
            kind: r.string().map_err(bad)?,
            sender: r.u32().map_err(bad)?,
            window: r.u32().map_err(bad)?,
            max_packet: r.u32().map_err(bad)?,
        });
    }
    if r.u32().map_err(bad)? != OUR_ID {
        return Err("message for a channel that is not open");
    }
    Ok(match n {
        msg::CHANNEL_WINDOW_ADJUST => Incoming::WindowAdjust(r.u32().map_err(bad)?),
        msg::CHANNEL_DATA => Incoming::Data(r.string().map_err(bad)?),
        msg::CHANNEL_EXTENDED_DATA => {
            r.u32().map_err(bad)?;
            Incoming::ExtendedData(r.string().map_err(bad)?)
        }
        msg::CHANNEL_EOF => Incoming::Eof,
        msg::CHANNEL_CLOSE => Incoming::Close,
        msg::CHANNEL_REQUEST => Incoming::Request {
            kind: r.string().map_err(bad)?,
            want_reply: r.bool().map_err(bad)?,
            args: r,
        },
        _ => Incoming::Reply,
    })
}

/// OPEN_FAILURE for a channel we do not open.
pub fn open_failure(sender: u32, code: u32, why: &str) -> Vec<u8> {
    let mut m = alloc::vec![msg::CHANNEL_OPEN_FAILURE];
    m.put_u32(sender);
    m.put_u32(code);
    m.put_string(why.as_bytes());
    m.put_string(b"");
    m
}

#[cfg_attr(any(test, feature = "test-client"), derive(Clone))]
pub struct Channel {
    peer_id: u32,
    /// Bytes we may still send.
    peer_window: u32,
    peer_max: u32,
    /// Bytes the peer may still send.
    our_window: u32,
    /// Bytes taken off since the last WINDOW_ADJUST.
    consumed: u32,
    pub got_eof: bool,
    pub sent_close: bool,
}

impl Channel {
    /// The channel and its OPEN_CONFIRMATION.
    pub fn open(sender: u32, window: u32, max_packet: u32) -> (Channel, Vec<u8>) {
        let mut m = alloc::vec![msg::CHANNEL_OPEN_CONFIRMATION];
        m.put_u32(sender);
        m.put_u32(OUR_ID);
        m.put_u32(WINDOW);
        m.put_u32(MAX_DATA);
        let ch = Channel {
            peer_id: sender,
            peer_window: window,
            peer_max: max_packet,
            our_window: WINDOW,
            consumed: 0,
            got_eof: false,
            sent_close: false,
        };
        (ch, m)
    }

    /// The peer sent `n` data bytes: they must fit the window we granted.
    pub fn receive(&mut self, n: usize) -> Result<(), &'static str> {
        match u32::try_from(n) {
            Ok(n) if n <= self.our_window && n <= MAX_DATA => {
                self.our_window -= n;
                Ok(())
            }
            _ => Err("channel data beyond the window"),
        }
    }

    /// `n` received bytes were used up; a WINDOW_ADJUST once half the
    /// window is, so a typing or uploading peer never stalls.
    pub fn consumed(&mut self, n: usize) -> Option<Vec<u8>> {
        self.consumed = self
            .consumed
            .saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
        if self.consumed < WINDOW / 2 {
            return None;
        }
        let add = core::mem::take(&mut self.consumed).min(WINDOW - self.our_window);
        self.our_window += add;
        let mut m = self.header(msg::CHANNEL_WINDOW_ADJUST);
        m.put_u32(add);
        Some(m)
    }

    pub fn window_adjust(&mut self, n: u32) {
        self.peer_window = self.peer_window.saturating_add(n);
    }

    /// A CHANNEL_DATA with as much of `data` as the peer's window and
    /// packet size allow, and how many bytes it took; None if none fit.
    pub fn data(&mut self, data: &[u8]) -> Option<(Vec<u8>, usize)> {
        let room = self.peer_window.min(self.peer_max).min(MAX_DATA) as usize;
        let n = data.len().min(room);
        if n == 0 {
            return None;
        }
        self.peer_window -= n as u32;
        let mut m = self.header(msg::CHANNEL_DATA);
        m.put_string(&data[..n]);
        Some((m, n))
    }

    /// The answer to a request that wants one.
    pub fn reply(&self, ok: bool) -> Vec<u8> {
        self.header(if ok {
            msg::CHANNEL_SUCCESS
        } else {
            msg::CHANNEL_FAILURE
        })
    }

    /// The end of a session (RFC 4254 §6.10, §5.3): exit-status, EOF, CLOSE.
    pub fn end(&mut self, status: u32) -> [Vec<u8>; 3] {
        let mut exit = self.header(msg::CHANNEL_REQUEST);
        exit.put_string(b"exit-status");
        exit.put_bool(false);
        exit.put_u32(status);
        self.sent_close = true;
        [exit, self.header(msg::CHANNEL_EOF), self.close()]
    }

    pub fn close(&mut self) -> Vec<u8> {
        self.sent_close = true;
        self.header(msg::CHANNEL_CLOSE)
    }

    fn header(&self, n: u8) -> Vec<u8> {
        let mut m = alloc::vec![n];
        m.put_u32(self.peer_id);
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_kept_both_ways() {
        let (mut ch, _) = Channel::open(7, 100, 40);
        let (m, n) = ch.data(&[1; 90]).unwrap();
        assert_eq!(n, 40);
        assert_eq!(&m[..5], &[msg::CHANNEL_DATA, 0, 0, 0, 7]);
        assert_eq!(ch.data(&[1; 90]).unwrap().1, 40);
        assert_eq!(ch.data(&[1; 90]).unwrap().1, 20);
        assert!(ch.data(&[1; 90]).is_none(), "window used up");
        ch.window_adjust(5);
        assert_eq!(ch.data(&[1; 90]).unwrap().1, 5);
        ch.window_adjust(u32::MAX);
        ch.window_adjust(u32::MAX); // saturates, never wraps
        assert_eq!(ch.data(&[1; 90]).unwrap().1, 40);

        assert!(ch.receive(MAX_DATA as usize + 1).is_err());
        assert!(ch.receive(WINDOW as usize / 2).is_ok());
        assert!(ch.receive(WINDOW as usize / 2).is_ok());
        assert!(ch.receive(1).is_err(), "over the window");
        assert!(ch.consumed(100).is_none());
        let adj = ch.consumed(WINDOW as usize).unwrap();
        assert_eq!(adj[0], msg::CHANNEL_WINDOW_ADJUST);
        assert_eq!(&adj[5..9], &WINDOW.to_be_bytes());
        assert!(ch.receive(WINDOW as usize / 2).is_ok());
    }

    #[test]
    fn messages_for_other_channels_are_refused() {
        let mut m = alloc::vec![msg::CHANNEL_DATA];
        m.put_u32(3);
        m.put_string(b"x");
        assert!(parse(&m).is_err());
        assert!(parse(&[msg::CHANNEL_EOF, 0, 0]).is_err());
        assert!(matches!(
            parse(&[msg::CHANNEL_EOF, 0, 0, 0, 0]),
            Ok(Incoming::Eof)
        ));
    }
}
