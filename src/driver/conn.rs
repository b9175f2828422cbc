//! One accepted connection as the driver holds it (stream, ZMTP session, unwritten bytes), and the wakers that
//! turn a stream's readiness into its token on a shared ready list, so a wake-up costs O(ready connections).
//!
//! Each connection has two wakers made once at accept (read, write). The driver registers them with the
//! reactor through `poll_*_ready`; when the kernel says a stream is ready, its waker pushes `(token, write)`
//! on the [`ReadyList`] and wakes the driver's task. Nothing holds the stream but the connection itself, so
//! dropping a connection closes its file descriptor at once.

use std::sync::{Arc, Mutex};
use std::task::{Wake, Waker};
use std::time::Instant;

use bytes::Bytes;
use futures::task::AtomicWaker;

use crate::zmtp::socket::Token;
use crate::zmtp::Session;

/// Tokens whose streams became ready, and the waker of the task that drains them.
#[derive(Default)]
pub(super) struct ReadyList {
  tokens: Mutex<Vec<(Token, bool)>>,
  task: AtomicWaker,
}

impl ReadyList {
  /// Registers the driver's task waker, then takes what became ready since the last call.
  pub(super) fn take(&self, task: &Waker, into: &mut Vec<(Token, bool)>) {
    self.task.register(task);
    // A poisoned lock only means a waker panicked mid-push; the list itself is still valid.
    let mut tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
    into.append(&mut tokens);
  }

  /// Puts a token on the list directly (a connection with more to read than one turn's budget).
  pub(super) fn push(&self, token: Token, write: bool) {
    let mut tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
    tokens.push((token, write));
  }
}

struct ConnWaker {
  token: Token,
  write: bool,
  list: Arc<ReadyList>,
}

impl Wake for ConnWaker {
  fn wake(self: Arc<Self>) {
    self.wake_by_ref();
  }

  fn wake_by_ref(self: &Arc<Self>) {
    self.list.push(self.token, self.write);
    self.list.task.wake();
  }
}

/// One connection: its stream, its session and what is still to be written.
pub(super) struct Conn<T> {
  pub(super) stream: T,
  pub(super) session: Session,
  /// Output taken from the session, not yet accepted by the kernel.
  pub(super) wbuf: Bytes,
  pub(super) read_waker: Waker,
  pub(super) write_waker: Waker,
  /// A write-readiness wake-up is registered (the kernel refused bytes).
  pub(super) write_armed: bool,
  /// In the driver's list of connections to flush this turn.
  pub(super) dirty: bool,
  /// The handshake is done and the ROUTER state knows this peer.
  pub(super) ready: bool,
  /// The deadline registered in the driver's timer heap.
  pub(super) timer_at: Option<Instant>,
  /// Our own connect, not yet completed: nothing is read or written until write readiness says how it ended.
  pub(super) connecting: bool,
  /// Made by one of our dialers (reconnects when it ends), not accepted.
  pub(super) dialed: bool,
  /// Not read while the socket state's queue for this peer is full.
  pub(super) paused: bool,
  /// The peer closed while paused: the connection closes once the state has taken what it sent.
  pub(super) eof: bool,
  /// The id of the bound endpoint that accepted it (0 for a dialled connection), for `unbind`.
  pub(super) origin: u64,
}

impl<T> Conn<T> {
  /// A fresh connection with its wakers bound to `token`.
  pub(super) fn new(token: Token, stream: T, session: Session, list: &Arc<ReadyList>) -> Self {
    let waker = |write| {
      Waker::from(Arc::new(ConnWaker {
        token,
        write,
        list: list.clone(),
      }))
    };
    Self {
      stream,
      session,
      wbuf: Bytes::new(),
      read_waker: waker(false),
      write_waker: waker(true),
      write_armed: false,
      dirty: false,
      ready: false,
      timer_at: None,
      connecting: false,
      dialed: false,
      paused: false,
      eof: false,
      origin: 0,
    }
  }
}
