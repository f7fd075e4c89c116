//! The one socket adapter for HTTP: an `cloudinit::exchange::Exchange`
//! (connect timeout, response timeout, the parser) over one smoltcp TCP
//! connection. The cloud-init flow and SSH's `metadata` command both use it.

extern crate alloc;

use alloc::vec;
use alloc::vec::Vec;

use cloudinit::exchange::Exchange;
use cloudinit::imds::{Outcome, Target};
use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp;
use smoltcp::wire::IpAddress;

use crate::net::{Net, Nic};

/// Socket buffers: a request is a few hundred bytes; responses are read as
/// they come (the parser bounds them).
const RX_BUF: usize = 8192;
const TX_BUF: usize = 2048;

pub struct HttpConn {
    handle: SocketHandle,
    generation: u32,
    ex: Exchange,
}

impl HttpConn {
    /// Open a connection to `to` and queue `request` on it.
    pub fn open<N: Nic>(net: &mut Net<N>, to: &Target, request: Vec<u8>, now: u64) -> HttpConn {
        let sock = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; RX_BUF]),
            tcp::SocketBuffer::new(vec![0; TX_BUF]),
        );
        let handle = net.sockets.add(sock);
        let remote = (
            IpAddress::v4(to.addr[0], to.addr[1], to.addr[2], to.addr[3]),
            to.port,
        );
        let port = net.ephemeral_port();
        let mut ex = Exchange::new(request, now);
        let s = net.sockets.get_mut::<tcp::Socket>(handle);
        if s.connect(net.iface.context(), remote, port).is_err() {
            ex.on_reset(); // no route or no address: over at the first step
        }
        HttpConn {
            handle,
            generation: net.generation,
            ex,
        }
    }

    /// When `step` must run next, if nothing arrives before.
    pub fn deadline(&self) -> Option<u64> {
        self.ex.deadline()
    }

    /// Move the exchange along; Some(outcome) once it is over.
    pub fn step<N: Nic>(&mut self, net: &mut Net<N>, now: u64) -> Option<Outcome> {
        if net.generation != self.generation {
            // the network was replaced: this socket died with the old one
            return Some(self.ex.on_reset().unwrap_or(Outcome::Reset));
        }
        if self.ex.is_over() {
            return Some(Outcome::ConnectFailed);
        }
        let s = net.sockets.get_mut::<tcp::Socket>(self.handle);
        if s.may_send() {
            self.ex.on_connected(now);
            let pending = self.ex.to_send();
            if !pending.is_empty() {
                if let Ok(n) = s.send_slice(pending) {
                    self.ex.on_sent(n);
                }
            }
        }
        while s.can_recv() {
            let ex = &mut self.ex;
            match s.recv(|buf| (buf.len(), ex.on_data(now, buf))) {
                Ok(Some(outcome)) => return Some(outcome),
                Ok(None) => {}
                Err(_) => return self.ex.on_reset(),
            }
        }
        if !s.is_open() {
            return self.ex.on_reset(); // refused (RST) or reset
        }
        if self.ex.is_connected() && !s.may_recv() {
            return self.ex.on_closed(); // the peer's FIN ends the response
        }
        self.ex.on_timer(now)
    }

    /// End the connection: an orderly close after a whole response (the
    /// service closed its side already), a reset otherwise. The socket
    /// stays with the stack until the FIN or RST has gone out.
    pub fn close<N: Nic>(self, net: &mut Net<N>, now: u64) {
        if net.generation != self.generation {
            return;
        }
        let s = net.sockets.get_mut::<tcp::Socket>(self.handle);
        if s.may_recv() || s.recv_queue() > 0 {
            s.abort(); // the peer has not finished: do not wait for it
        } else {
            s.close();
        }
        net.retire(self.handle, now);
    }
}
