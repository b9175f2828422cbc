//! The bus node's discovery socket on a JS thread's libuv loop: a non-blocking std UDP socket watched by a
//! `uv_poll_t` ([`super::io`]'s readiness model), so datagrams are read where the node's loop runs.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::task::{Context, Poll};

use super::handle::{LoopRef, UvError};
use super::io::Watched;
use crate::driver::reactor::IoDatagram;

/// A bound UDP socket on the loop.
pub struct UvDatagram {
  socket: UdpSocket,
  watched: Watched,
}

impl UvDatagram {
  /// Watches `socket` (made non-blocking here) on `lp`.
  ///
  /// # Errors
  /// The socket cannot be made non-blocking, or libuv refused it.
  pub fn new(lp: LoopRef, socket: UdpSocket) -> io::Result<Self> {
    socket.set_nonblocking(true)?;
    let watched = Watched::new(lp, socket.as_raw_fd()).map_err(|e: UvError| io::Error::other(e))?;
    Ok(Self { socket, watched })
  }

  /// Tries `op` while the direction is ready; a `WouldBlock` re-registers `cx`.
  fn poll_op<T>(
    &self,
    cx: &mut Context<'_>,
    write: bool,
    mut op: impl FnMut(&UdpSocket) -> io::Result<T>,
  ) -> Poll<io::Result<T>> {
    // Bounded: each `WouldBlock` clears the readiness, so the next `poll_dir` registers and says Pending.
    for _ in 0..2 {
      match self.watched.poll_dir(cx, write) {
        Poll::Ready(Ok(())) => {}
        Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
        Poll::Pending => return Poll::Pending,
      }
      match self.watched.consumed(op(&self.socket), write) {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
        other => return Poll::Ready(other),
      }
    }
    Poll::Pending
  }
}

impl IoDatagram for UvDatagram {
  fn poll_recv_from(
    &self,
    cx: &mut Context<'_>,
    buf: &mut [u8],
  ) -> Poll<io::Result<(usize, SocketAddr)>> {
    self.poll_op(cx, false, |s| s.recv_from(buf))
  }

  fn poll_send_to(
    &self,
    cx: &mut Context<'_>,
    data: &[u8],
    dest: SocketAddr,
  ) -> Poll<io::Result<usize>> {
    self.poll_op(cx, true, |s| s.send_to(data, dest))
  }
}
