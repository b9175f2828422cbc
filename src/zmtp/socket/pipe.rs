//! The pipe set every non-ROUTER, non-PUB socket state is built on, as libzmq's `pipe_t`, `lb_t`, `fq_t` and
//! `dist_t` do it between a socket and its sessions:
//!
//! - One pipe per connection, with an outgoing queue bounded by `SNDHWM` (messages; 0 means no limit, as in
//!   libzmq) and a byte bound (one message always fits an empty queue), and an incoming queue bounded the same
//!   way by `RCVHWM`.
//! - A pipe made by `on_attach` (a `connect()`ed endpoint) exists before its connection and outlives each
//!   connection: what it holds waits for the next one. A pipe made by `on_ready` (an accepted peer) ends with
//!   its connection and its unsent messages are dropped (counted). Either way, complete messages already
//!   received stay readable (libzmq reads a pipe up to its delimiter before it lets it go).
//! - Sending: round-robin over pipes with room ([`Pipes::lb_send`], libzmq's load balancer), one given pipe
//!   ([`Pipes::push_to`]), or every pipe, dropping where full ([`Pipes::send_to_all`], libzmq's distributor).
//! - Receiving: fair-queued, one message per pipe in turn ([`Pipes::poll_input`]).

use std::collections::VecDeque;

use bytes::Bytes;

use super::{Output, Token};
use crate::zmtp::command::Subscription;
use crate::zmtp::FastMap;

/// High-water marks of each pipe of a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PipeOptions {
  /// `ZMQ_SNDHWM`: messages queued per pipe for sending (libzmq default 1000; 0 means no limit).
  pub sndhwm: usize,
  /// Bytes queued per pipe for sending (no libzmq option; one message always fits).
  pub sndhwm_bytes: usize,
  /// `ZMQ_RCVHWM`: messages received per pipe and not yet read (libzmq default 1000; 0 means no limit).
  pub rcvhwm: usize,
  /// Bytes received per pipe and not yet read (no libzmq option; one message always fits).
  pub rcvhwm_bytes: usize,
}

impl Default for PipeOptions {
  /// libzmq's defaults: 1000 messages each way, no byte bound.
  fn default() -> Self {
    Self {
      sndhwm: 1000,
      sndhwm_bytes: usize::MAX,
      rcvhwm: 1000,
      rcvhwm_bytes: usize::MAX,
    }
  }
}

/// Counters of a socket state (a field a socket type cannot hit stays 0).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SocketStats {
  /// Outgoing messages dropped at a full pipe by sockets that drop rather than block (XSUB/SUB to each pipe,
  /// a REP reply to a full peer).
  pub dropped_full: u64,
  /// Outgoing messages dropped with their pipe: an accepted peer left, an attached pipe was detached, or a
  /// SUB/XSUB reconnected (libzmq's hiccup replaces its queue with a fresh copy of the subscriptions).
  pub dropped_on_close: u64,
  /// Incoming messages dropped because the driver delivered past [`super::SocketState::wants_input`].
  pub dropped_rcvhwm: u64,
  /// Incoming messages not yet read when their pipe was detached.
  pub dropped_input_on_detach: u64,
  /// Incoming messages this socket type throws away: stale REQ replies, REP requests without a delimiter,
  /// anything sent to a PUSH, SUB messages no subscription matches.
  pub discarded: u64,
  /// REP replies whose peer had left (libzmq drops them silently).
  pub unroutable: u64,
  /// Connections refused (a second PAIR peer).
  pub refused: u64,
  /// Connections reported through [`super::SocketState::take_violation`].
  pub protocol_errors: u64,
}

/// The bytes a message holds.
pub(crate) fn message_size(msg: &[Bytes]) -> usize {
  msg.iter().map(Bytes::len).sum()
}

fn output_size(out: &Output) -> usize {
  match out {
    Output::Message(m) => message_size(m),
    Output::Raw(m) => m.size(),
    Output::Subscription(Subscription::Subscribe(t) | Subscription::Cancel(t)) => t.len(),
  }
}

/// A queue bounded by messages (0: no bound) and bytes (an empty queue takes any one message).
#[derive(Debug)]
struct Queue<T> {
  items: VecDeque<(T, usize)>,
  bytes: usize,
}

impl<T> Default for Queue<T> {
  fn default() -> Self {
    Self {
      items: VecDeque::new(),
      bytes: 0,
    }
  }
}

impl<T> Queue<T> {
  fn has_room(&self, hwm: usize, hwm_bytes: usize, size: usize) -> bool {
    let msgs_ok = hwm == 0 || self.items.len() < hwm;
    msgs_ok && (self.items.is_empty() || self.bytes.saturating_add(size) <= hwm_bytes)
  }

  fn push(&mut self, item: T, size: usize) {
    self.bytes += size;
    self.items.push_back((item, size));
  }

  fn pop(&mut self) -> Option<T> {
    let (item, size) = self.items.pop_front()?;
    self.bytes -= size;
    Some(item)
  }

  fn clear(&mut self) -> u64 {
    let n = self.items.len() as u64;
    self.items.clear();
    self.bytes = 0;
    n
  }
}

#[derive(Debug, Default)]
struct OutPipe {
  queue: Queue<Output>,
  /// Made by `on_attach`: outlives its connections.
  attached: bool,
  /// Listed in `Pipes::woken`.
  woken: bool,
}

/// Why [`Pipes::push_to`] did not queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PushError {
  /// No pipe for that token.
  NoPipe,
  /// The pipe is at its high-water mark.
  Full,
}

/// Pipes by connection, with round-robin sending and fair-queued receiving.
#[derive(Debug, Default)]
pub(crate) struct Pipes {
  out: FastMap<Token, OutPipe>,
  /// Pipes in the order the load balancer visits them.
  order: Vec<Token>,
  cursor: usize,
  /// Received messages by pipe; an entry exists only while it holds something.
  input: FastMap<Token, Queue<Vec<Bytes>>>,
  /// Pipes with input, in fair-queue order.
  readable: VecDeque<Token>,
  woken: VecDeque<Token>,
  opts: PipeOptions,
  pub stats: SocketStats,
}

impl Pipes {
  /// An empty pipe set bounded by `opts`.
  pub fn new(opts: PipeOptions) -> Self {
    Self {
      opts,
      ..Self::default()
    }
  }

  /// A pipe for a `connect()`ed endpoint, before its connection exists. Returns whether it is new.
  pub fn attach(&mut self, token: Token) -> bool {
    if self.out.contains_key(&token) {
      return false;
    }
    let pipe = OutPipe {
      attached: true,
      ..OutPipe::default()
    };
    self.out.insert(token, pipe);
    self.order.push(token);
    true
  }

  /// Connection `token` is up. Returns whether its pipe is new (an accepted peer).
  pub fn ready(&mut self, token: Token) -> bool {
    if self.out.contains_key(&token) {
      return false;
    }
    self.out.insert(token, OutPipe::default());
    self.order.push(token);
    true
  }

  /// Connection `token` is gone. Returns whether its pipe ended (it was not attached).
  pub fn gone(&mut self, token: Token) -> bool {
    match self.out.get(&token) {
      Some(p) if !p.attached => {
        self.remove_pipe(token);
        true
      }
      _ => false,
    }
  }

  /// The pipe of `token` ends for good, with what it holds either way.
  pub fn detach(&mut self, token: Token) {
    self.remove_pipe(token);
    if let Some(mut q) = self.input.remove(&token) {
      self.stats.dropped_input_on_detach += q.clear();
      self.readable.retain(|t| *t != token);
    }
  }

  fn remove_pipe(&mut self, token: Token) {
    let Some(mut pipe) = self.out.remove(&token) else {
      return;
    };
    self.stats.dropped_on_close += pipe.queue.clear();
    if let Some(i) = self.order.iter().position(|t| *t == token) {
      self.order.remove(i);
      if self.cursor > i {
        self.cursor -= 1;
      }
    }
    if self.cursor >= self.order.len() {
      self.cursor = 0;
    }
  }

  /// Whether `token` has a pipe.
  pub fn is_live(&self, token: Token) -> bool {
    self.out.contains_key(&token)
  }

  /// Pipes in load-balancer order.
  pub fn tokens(&self) -> &[Token] {
    &self.order
  }

  fn room(&self, token: Token, size: usize) -> bool {
    let (hwm, bytes) = (self.opts.sndhwm, self.opts.sndhwm_bytes);
    self
      .out
      .get(&token)
      .is_some_and(|p| p.queue.has_room(hwm, bytes, size))
  }

  /// Whether some pipe could take a message of `size` bytes.
  pub fn any_room(&self, size: usize) -> bool {
    self.order.iter().any(|t| self.room(*t, size))
  }

  /// Whether pipe `token` could take a message of `size` bytes.
  pub fn has_room(&self, token: Token, size: usize) -> bool {
    self.room(token, size)
  }

  fn enqueue(&mut self, token: Token, item: Output, size: usize) {
    if let Some(p) = self.out.get_mut(&token) {
      p.queue.push(item, size);
      self.wake(token);
    }
  }

  /// Queues `item` on the next pipe with room, round-robin; `None` when every pipe is full (or there is none).
  pub fn lb_send(&mut self, item: Output) -> Option<Token> {
    let size = output_size(&item);
    let n = self.order.len();
    let idx = (0..n)
      .map(|i| (self.cursor + i) % n)
      .find(|&idx| self.room(self.order[idx], size))?;
    let token = self.order[idx];
    self.cursor = (idx + 1) % n;
    self.enqueue(token, item, size);
    Some(token)
  }

  /// Queues `item` on the pipe of `token`.
  pub fn push_to(&mut self, token: Token, item: Output) -> Result<(), PushError> {
    let size = output_size(&item);
    if !self.out.contains_key(&token) {
      return Err(PushError::NoPipe);
    }
    if !self.room(token, size) {
      return Err(PushError::Full);
    }
    self.enqueue(token, item, size);
    Ok(())
  }

  /// Queues `item` on every pipe; a full pipe misses it (counted in `dropped_full`).
  pub fn send_to_all(&mut self, item: &Output) {
    for i in 0..self.order.len() {
      let token = self.order[i];
      if self.push_to(token, item.clone()).is_err() {
        self.stats.dropped_full += 1;
      }
    }
  }

  /// Drops what waits to be written to `token`.
  pub fn clear_output(&mut self, token: Token) {
    if let Some(p) = self.out.get_mut(&token) {
      self.stats.dropped_on_close += p.queue.clear();
    }
  }

  /// The next thing to write to `token`.
  pub fn take_output(&mut self, token: Token) -> Option<Output> {
    self.out.get_mut(&token)?.queue.pop()
  }

  /// Whether something waits to be written to `token`.
  pub fn has_output(&self, token: Token) -> bool {
    self
      .out
      .get(&token)
      .is_some_and(|p| !p.queue.items.is_empty())
  }

  /// A message received from `token`; dropped (counted) past the receive high-water mark, ignored for a
  /// token without a pipe.
  pub fn push_input(&mut self, token: Token, msg: Vec<Bytes>) {
    if !self.out.contains_key(&token) {
      return;
    }
    if !self.wants_input(token) {
      self.stats.dropped_rcvhwm += 1;
      return;
    }
    let size = message_size(&msg);
    let q = self.input.entry(token).or_default();
    if q.items.is_empty() {
      self.readable.push_back(token);
    }
    q.push(msg, size);
  }

  /// Whether `token`'s receive queue has room (no queue is empty, which always has).
  pub fn wants_input(&self, token: Token) -> bool {
    let (hwm, bytes) = (self.opts.rcvhwm, self.opts.rcvhwm_bytes);
    self
      .input
      .get(&token)
      .is_none_or(|q| q.has_room(hwm, bytes, 0))
  }

  /// The next received message, one pipe after the other (libzmq's fair queue).
  pub fn poll_input(&mut self) -> Option<(Token, Vec<Bytes>)> {
    let token = self.readable.pop_front()?;
    let q = self.input.get_mut(&token)?;
    let msg = q.pop()?;
    if q.items.is_empty() {
      self.input.remove(&token);
    } else {
      self.readable.push_back(token);
    }
    Some((token, msg))
  }

  /// Whether messages from `token` wait to be read.
  pub fn has_input(&self, token: Token) -> bool {
    self.input.contains_key(&token)
  }

  /// Notes that `token` has new output for the driver to flush.
  pub fn wake(&mut self, token: Token) {
    if let Some(p) = self.out.get_mut(&token) {
      if !p.woken {
        p.woken = true;
        self.woken.push_back(token);
      }
    }
  }

  /// The next connection with new output.
  pub fn poll_woken(&mut self) -> Option<Token> {
    let token = self.woken.pop_front()?;
    if let Some(p) = self.out.get_mut(&token) {
      p.woken = false;
    }
    Some(token)
  }
}

/// The [`super::SocketState`] methods that only hand a connection's pipe over to a [`Pipes`] field: made at
/// `on_attach` or `on_ready`, ended at `on_gone` (unless attached) or `on_detach`.
macro_rules! pipe_lifecycle {
  ($($pipes:ident).+) => {
    fn on_attach(&mut self, token: Token) {
      self.$($pipes).+.attach(token);
    }

    fn on_ready(&mut self, token: Token, _peer: &PeerInfo) -> Result<(), &'static str> {
      self.$($pipes).+.ready(token);
      Ok(())
    }

    fn on_gone(&mut self, token: Token) {
      self.$($pipes).+.gone(token);
    }

    fn on_detach(&mut self, token: Token) {
      self.$($pipes).+.detach(token);
    }
  };
}

/// The [`super::SocketState`] methods that read a [`Pipes`] field's queues.
macro_rules! pipe_queues {
  ($($pipes:ident).+) => {
    fn take_output(&mut self, token: Token) -> Option<Output> {
      self.$($pipes).+.take_output(token)
    }

    fn has_output(&self, token: Token) -> bool {
      self.$($pipes).+.has_output(token)
    }

    fn wants_input(&self, token: Token) -> bool {
      self.$($pipes).+.wants_input(token)
    }
  };
}

pub(crate) use {pipe_lifecycle, pipe_queues};

#[cfg(test)]
#[path = "pipe_tests.rs"]
mod tests;
