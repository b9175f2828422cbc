//! The I/O half of a STREAM socket's loop: accepting, finishing connects, retries, raw reads and writes, and
//! the lingering close.

use std::task::{Context, Poll};
use std::time::Instant;

use bytes::{Buf, BytesMut};

use super::{Dialer, StreamLoop, READ_CHUNK};
use crate::boundary::outbox::Deliver;
use crate::driver::reactor::{IoListener, IoSleep, IoStream, Reactor};
use crate::driver::PeerEventKind;
use crate::sockets::E_CLOSED;

impl<R: Reactor, D: Deliver> StreamLoop<R, D> {
  /// Accepts, finishes connects, fires retries, reads and writes; `Ready` when something happened.
  pub(super) fn poll_io(&mut self, cx: &mut Context<'_>) -> Poll<()> {
    let mut progressed = self.poll_accepts(cx);
    for i in 0..self.dialers.len() {
      let due = match self.dialers.get_mut(i) {
        Some(Some(Dialer {
          retry: Some(sleep), ..
        })) => sleep.poll_fired(cx).is_ready(),
        _ => false,
      };
      if due {
        if let Some(Some(d)) = self.dialers.get_mut(i) {
          d.retry = None;
        }
        self.dial(i);
        progressed = true;
      }
    }
    let mut c = 0;
    while c < self.conns.len() {
      match self.poll_conn(c, cx) {
        Some(moved) => {
          progressed |= moved;
          c += 1;
        }
        None => {
          self.end_conn(c);
          progressed = true;
        }
      }
    }
    if progressed {
      Poll::Ready(())
    } else {
      Poll::Pending
    }
  }

  fn poll_accepts(&mut self, cx: &mut Context<'_>) -> bool {
    let mut fresh = Vec::new();
    for (_, resolved, listener) in &self.listeners {
      while let Poll::Ready(Ok(stream)) = listener.poll_accept(cx) {
        fresh.push((stream, resolved.clone()));
      }
    }
    let progressed = !fresh.is_empty();
    for (stream, endpoint) in fresh {
      self.peer_event(PeerEventKind::Accepted, stream.raw_fd(), &endpoint);
      self.add_conn(stream, endpoint, None, false);
    }
    progressed
  }

  /// One connection's turn: `None` when it ended, else whether it moved.
  fn poll_conn(&mut self, c: usize, cx: &mut Context<'_>) -> Option<bool> {
    let conn = &mut self.conns[c];
    if conn.connecting {
      if conn.stream.poll_write_ready(cx).is_pending() {
        return Some(false);
      }
      conn.stream.finish_connect().ok()?;
      conn.connecting = false;
      let (id, fd, endpoint) = (conn.id.clone(), conn.stream.raw_fd(), conn.endpoint.clone());
      self.peer_event(PeerEventKind::Connected, fd, &endpoint);
      self.deliver(&id, b"");
      return Some(true);
    }
    let mut moved = self.write_conn(c, cx)?;
    if !self.paused {
      moved |= self.read_conn(c, cx)?;
    }
    Some(moved)
  }

  fn write_conn(&mut self, c: usize, cx: &mut Context<'_>) -> Option<bool> {
    let conn = &mut self.conns[c];
    let mut moved = false;
    while !conn.wbuf.is_empty() {
      match conn.stream.try_write(&conn.wbuf) {
        Ok(n) => {
          conn.wbuf.advance(n);
          moved = true;
        }
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
          match conn.stream.poll_write_ready(cx) {
            Poll::Ready(Ok(())) => continue,
            Poll::Ready(Err(_)) => return None,
            Poll::Pending => return Some(moved),
          }
        }
        Err(_) => return None,
      }
    }
    // Everything asked for is written: a connection the application closed ends now.
    if conn.closing {
      return None;
    }
    Some(moved)
  }

  fn read_conn(&mut self, c: usize, cx: &mut Context<'_>) -> Option<bool> {
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    loop {
      let conn = &mut self.conns[c];
      match conn.stream.try_read_buf(&mut buf) {
        Ok(0) => return None,
        Ok(_) => {
          let id = conn.id.clone();
          self.deliver(&id, &buf);
          return Some(true);
        }
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
          match conn.stream.poll_read_ready(cx) {
            Poll::Ready(Ok(())) => continue,
            Poll::Ready(Err(_)) => return None,
            Poll::Pending => return Some(false),
          }
        }
        Err(_) => return None,
      }
    }
  }

  /// Writes what is queued for at most the linger, then closes everything and reports `E_CLOSED`.
  pub(super) fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<()> {
    let writing = |s: &Self| s.conns.iter().any(|c| !c.wbuf.is_empty() && !c.connecting);
    if writing(self) {
      let _ = self.poll_io(cx);
    }
    let expired = self
      .closing
      .as_mut()
      .is_none_or(|c| Instant::now() >= c.deadline || c.timer.poll_fired(cx).is_ready());
    if writing(self) && !expired {
      return Poll::Pending;
    }
    self.conns.clear();
    self.listeners.clear();
    for (kind, frames) in self.out.drain(..) {
      self.outbox.push(kind, &frames);
    }
    self.outbox.push(E_CLOSED, &[] as &[&[u8]]);
    self.outbox.flush_now();
    Poll::Ready(())
  }
}
