//! Reading and writing one connection of a [`Server`]: reads go straight into the session's spare capacity
//! until the kernel has nothing more (or the turn's budget is spent); writes take everything pending for the
//! peer (its pipe, encoded into the session up to a byte budget) and hand it to the kernel in one write.

use std::io::ErrorKind;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Buf;

use super::reactor::{IoStream, Reactor};
use super::server::{Close, Server};
use crate::zmtp::session::Event;
use crate::zmtp::socket::{Output, SocketState, Token};

/// Bytes read from one connection per turn before the others get theirs.
const READ_BUDGET: usize = 256 * 1024;
/// Bytes of the peer's pipe encoded into its session per write.
const WRITE_BUDGET: usize = 256 * 1024;
/// Writes tried per connection per flush (the first takes everything pending; more only when the kernel
/// took it all and the pipe refilled the session).
const WRITES_PER_FLUSH: usize = 4;

enum Read {
  /// The kernel has nothing more; the read waker is registered.
  Drained,
  /// The budget is spent and more may be there.
  Budget,
  /// The connection ended.
  Closed(Close),
}

impl<S: SocketState, R: Reactor> Server<S, R> {
  /// Reads what connection `token` has, processes it, and passes its events to the ROUTER state.
  pub(super) fn read_conn(&mut self, token: Token, now: Instant) {
    // A paused connection is read again once the state takes input (see `resume_paused`).
    if self.conns.get(&token).is_none_or(|c| c.paused) {
      return;
    }
    let outcome = self.read_some(token, now);
    match outcome {
      Read::Closed(why) => {
        // What arrived with the end of the stream (a peer that wrote its last messages and closed) is
        // handed to the state before the connection goes.
        if let Err(refused) = self.take_session_events(token) {
          return self.close_conn(token, refused);
        }
        if let Some(conn) = self.conns.get_mut(&token).filter(|c| c.paused) {
          // The state's queue for this peer is full and the session still holds messages: the
          // connection stays (unread) until the state has taken them, then closes (`resume_paused`).
          conn.eof = true;
          return;
        }
        return self.close_conn(token, why);
      }
      Read::Budget => self.ready.push(token, false),
      Read::Drained => {}
    }
    if let Err(why) = self.take_session_events(token) {
      return self.close_conn(token, why);
    }
    let has_output = self.state.has_output(token)
      || self
        .conns
        .get(&token)
        .is_some_and(|c| c.session.has_output());
    if has_output {
      self.mark_dirty(token);
    }
    self.update_timer(token);
  }

  fn read_some(&mut self, token: Token, now: Instant) -> Read {
    let Some(conn) = self.conns.get_mut(&token) else {
      return Read::Drained;
    };
    let mut budget = READ_BUDGET;
    loop {
      let hint = conn.session.read_hint();
      conn.session.read_buf().reserve(hint);
      match conn.stream.try_read_buf(conn.session.read_buf()) {
        Ok(0) => return Read::Closed(Close::Eof),
        Ok(n) => {
          if let Err(e) = conn.session.process(now) {
            return Read::Closed(Close::Refused(e.reason()));
          }
          budget = budget.saturating_sub(n);
          if budget == 0 {
            return Read::Budget;
          }
        }
        Err(e) if e.kind() == ErrorKind::WouldBlock => {
          let mut cx = Context::from_waker(&conn.read_waker);
          match conn.stream.poll_read_ready(&mut cx) {
            // Bytes arrived between the read and the registration: read on (the budget bounds it).
            Poll::Ready(Ok(())) => continue,
            Poll::Ready(Err(_)) => return Read::Closed(Close::Eof),
            Poll::Pending => return Read::Drained,
          }
        }
        Err(e) if e.kind() == ErrorKind::Interrupted => continue,
        Err(_) => return Read::Closed(Close::Eof),
      }
    }
  }

  /// Hands the session's events to the socket state (handshake done, messages). When the state's queue for
  /// this peer is full (`RCVHWM`), the rest stay in the session and the connection is paused: no more reads
  /// until the application has taken some (TCP back-pressure, as libzmq).
  fn take_session_events(&mut self, token: Token) -> Result<(), Close> {
    loop {
      let Some(conn) = self.conns.get_mut(&token) else {
        return Ok(());
      };
      if conn.ready && !self.state.wants_input(token) {
        if !conn.paused {
          conn.paused = true;
          self.paused.push(token);
        }
        return Ok(());
      }
      let Some(event) = conn.session.poll_event() else {
        return Ok(());
      };
      match event {
        Event::Ready(peer) => {
          conn.ready = true;
          if conn.dialed {
            self.dial_succeeded(token);
          } else {
            self.stats.handshaking = self.stats.handshaking.saturating_sub(1);
          }
          self.state.on_ready(token, &peer).map_err(Close::Refused)?;
        }
        Event::Message(frames) => self.state.on_message(token, frames),
        Event::Subscription(sub) => self.state.on_subscription(token, sub),
        Event::Raw(msg) => self.state.on_raw(token, msg),
      }
      if let Some((bad, reason)) = self.state.take_violation() {
        if bad == token {
          return Err(Close::Refused(reason));
        }
        self.close_conn(bad, Close::Refused(reason));
      }
    }
  }

  /// Paused connections whose state takes input again: their held events go in, then they are read again.
  pub(super) fn resume_paused(&mut self) {
    if self.paused.is_empty() {
      return;
    }
    let mut still = Vec::new();
    for token in std::mem::take(&mut self.paused) {
      if !self.state.wants_input(token) {
        still.push(token);
        continue;
      }
      let Some(conn) = self.conns.get_mut(&token) else {
        continue;
      };
      conn.paused = false;
      if let Err(why) = self.take_session_events(token) {
        self.close_conn(token, why);
      } else if let Some(conn) = self.conns.get(&token).filter(|c| !c.paused) {
        if conn.eof {
          // The peer had closed: everything it sent is with the state now.
          self.close_conn(token, Close::Eof);
        } else {
          self.ready.push(token, false);
        }
      }
    }
    self.paused.append(&mut still);
  }

  /// Writes everything pending for connection `token`; on a full kernel buffer, waits for writability.
  pub(super) fn flush_conn(&mut self, token: Token) {
    if let Some(conn) = self.conns.get_mut(&token) {
      conn.dirty = false;
      if conn.connecting {
        return;
      }
    }
    for _ in 0..WRITES_PER_FLUSH {
      self.fill_output(token);
      let Some(conn) = self.conns.get_mut(&token) else {
        return;
      };
      if conn.wbuf.is_empty() {
        return;
      }
      match conn.stream.try_write(&conn.wbuf) {
        Ok(n) => conn.wbuf.advance(n),
        Err(e) if e.kind() == ErrorKind::WouldBlock => {
          let mut cx = Context::from_waker(&conn.write_waker);
          match conn.stream.poll_write_ready(&mut cx) {
            Poll::Ready(Ok(())) => continue,
            Poll::Ready(Err(_)) => return self.close_conn(token, Close::Eof),
            Poll::Pending => {
              conn.write_armed = true;
              return;
            }
          }
        }
        Err(e) if e.kind() == ErrorKind::Interrupted => continue,
        Err(_) => return self.close_conn(token, Close::Eof),
      }
    }
    // More than a few writes' worth: finish on the next turn.
    self.mark_dirty(token);
  }

  /// Moves the peer's queued messages into its session (up to the byte budget), then the session's output
  /// into the write buffer, when that buffer is empty.
  fn fill_output(&mut self, token: Token) {
    let Some(conn) = self.conns.get_mut(&token) else {
      return;
    };
    if !conn.wbuf.is_empty() {
      return;
    }
    let mut size = 0;
    while conn.session.is_ready() && size < WRITE_BUDGET {
      // Sends only fail on a closed session, whose connection is closed at its next read.
      match self.state.take_output(token) {
        Some(Output::Message(msg)) => {
          size += msg.iter().map(|f| f.len()).sum::<usize>();
          let _ = conn.session.send_message(&msg);
        }
        Some(Output::Subscription(sub)) => {
          let _ = conn.session.send_subscription(&sub);
        }
        Some(Output::Raw(msg)) => {
          size += msg.size();
          let _ = conn.session.send_raw(&msg);
        }
        None => break,
      }
    }
    if conn.session.has_output() {
      conn.wbuf = conn.session.take_output();
    }
  }
}
