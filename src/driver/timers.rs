//! Timers of a [`Server`]: each connection's next deadline (handshake timeout, heartbeats) in one heap, and
//! one reactor timer set to the earliest. Entries left behind by a connection whose deadline moved are skipped.

use std::cmp::Reverse;
use std::task::Context;
use std::time::Instant;

use super::reactor::{IoSleep, Reactor};
use super::server::{Close, Server};
use crate::zmtp::socket::{SocketState, Token};

impl<S: SocketState, R: Reactor> Server<S, R> {
  pub(super) fn update_timer(&mut self, token: Token) {
    let Some(conn) = self.conns.get_mut(&token) else {
      return;
    };
    let next = conn.session.next_timeout();
    if next == conn.timer_at {
      return;
    }
    conn.timer_at = next;
    if let Some(at) = next {
      self.timers.push(Reverse((at, token)));
    }
  }

  pub(super) fn poll_timers(&mut self, cx: &mut Context<'_>, now: Instant) -> bool {
    let mut fired = false;
    while let Some(&Reverse((at, token))) = self.timers.peek() {
      if at > now {
        break;
      }
      self.timers.pop();
      let Some(conn) = self.conns.get_mut(&token) else {
        fired |= self.retry_due(token, at, now);
        continue;
      };
      if conn.timer_at != Some(at) {
        continue;
      }
      conn.timer_at = None;
      fired = true;
      match conn.session.handle_timeout(now) {
        Ok(()) => {
          self.mark_dirty(token);
          self.update_timer(token);
        }
        Err(e) => self.close_conn(token, Close::Refused(e.reason())),
      }
    }
    let next = self.timers.peek().map(|Reverse((at, _))| *at);
    if next != self.sleep_at {
      self.sleep_at = next;
      if let Some(at) = next {
        self.sleep.reset(at);
      }
    }
    if self.sleep_at.is_some() && self.sleep.poll_fired(cx).is_ready() {
      cx.waker().wake_by_ref();
    }
    fired
  }
}
