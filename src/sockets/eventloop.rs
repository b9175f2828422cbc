//! The loop of a classic socket: it owns ONE [`Server`] (our ZMTP engine's driver) holding every bind and
//! connect of the socket (tcp, ipc, inproc), as libzmq's socket owns its endpoints, and talks to JavaScript
//! through [`Control`] messages in and batched event records out.
//!
//! It is a poll function ([`SocketLoop::poll`]), not an `async fn`, so the same code runs as a tokio task on
//! the runtime thread (`ZMQBUS_THREAD=runtime`, [`super::start::spawn`]) and as a task on the libuv loop of
//! the JS thread that made the socket ([`super::start::local`]), where its events reach JS synchronously and
//! the sends JS makes while handling them leave in one write when the delivery returns.
//!
//! A turn (in [`super::turn`]): hand queued sends to the state, write once per connection, report monitor
//! events, deliver one batch; then take every input that is ready (controls, the server's events drained as
//! a burst, the proxy's channels, a send retry, JS taking the batch) and turn again, or wait. Sends never
//! wait: a message the socket cannot take now (`EAGAIN`: no peer or a full pipe on a blocking type; a REQ
//! still waiting for its reply) stays queued here in order and is retried, so back-pressure reaches JS as
//! latency rather than loss. That queue is also the old `zmq` module's REQ queueing: requests sent while a
//! REQ waits go out one by one as replies arrive, above the strict floor-2 REQ. `pause` stops taking the
//! state's messages (its queues fill to `RCVHWM`, then the peers feel it). Closing is in [`super::linger`].

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::Instant;

use super::engine::Classic;
use super::options::SocketOptions;
use super::proxy::ProxyEnd;
use super::{SocketError, SocketType, C_SEND, C_SEND_ACK, E_ERROR, E_MESSAGE, E_SENT};
use crate::boundary::batch::Records;
use crate::boundary::outbox::{Deliver, Outbox};
use crate::driver::reactor::{IoSleep, Reactor};
use crate::driver::{Server, ServerConfig};
use crate::transport::{Endpoint, Msg};
use crate::zmtp::socket::SendError;

pub use super::control::{BindReply, Control};

/// Upper bound of an "infinite" linger, so a socket whose peer never comes cannot hold a process for ever.
pub const MAX_LINGER: Duration = Duration::from_secs(30);
/// Messages handed to the state per loop turn, so a large batch from JS goes out in slices.
const SEND_SLICE: usize = 1024;

/// One message waiting to go to the state, with the request id of a send callback that wants its outcome.
pub(super) struct Outgoing {
  pub(super) frames: Msg,
  pub(super) ack: Option<Bytes>,
}

/// A classic socket's loop of state `S`, on reactor `R`, delivering into `D`.
pub struct SocketLoop<S: Classic, R: Reactor + Clone, D: Deliver> {
  pub(super) kind: SocketType,
  pub(super) opts: SocketOptions,
  pub(super) reactor: R,
  /// Made at the first bind or connect (the pipes' high-water marks are read then, as libzmq reads them
  /// when a pipe is made).
  pub(super) server: Option<Box<Server<S, R>>>,
  /// Bound endpoints: (as given, normalized; as resolved).
  pub(super) binds: Vec<(String, String)>,
  pub(super) pending: VecDeque<Outgoing>,
  pub(super) outbox: Outbox<D>,
  pub(super) controls: UnboundedReceiver<Control>,
  pub(super) paused: bool,
  /// Consecutive send retries that moved nothing (0: the last one made progress).
  pub(super) stalls: u32,
  /// `monitor()` is on: the server's peer events go to JS as `E_MONITOR` records.
  pub(super) monitoring: bool,
  /// This socket's part in a `zmq.proxy`, once one is started.
  pub(super) proxy: Option<Box<ProxyEnd>>,
  /// The loop's one timer (a send retry, a linger step) and where it is armed.
  pub(super) timer: R::Sleep,
  pub(super) timer_at: Option<Instant>,
  /// When the queued sends are tried again (a slow or absent peer).
  pub(super) retry_at: Option<Instant>,
  /// Set by `Close` (or the handle going away): the deadline of the linger.
  pub(super) closing: Option<Instant>,
  /// End a poll once a batch went to the outbox: a loop on a JS thread hands its batches to JS after
  /// each poll, outside its own borrow ([`super::start::local`]).
  pub(super) yield_on_delivery: bool,
}

impl<S: Classic, R: Reactor + Clone, D: Deliver> SocketLoop<S, R, D> {
  /// A loop of `kind` with nothing bound, taking `controls` and delivering into `outbox`.
  pub fn new(
    kind: SocketType,
    outbox: Outbox<D>,
    controls: UnboundedReceiver<Control>,
    reactor: R,
  ) -> Self {
    let timer = reactor.sleep();
    Self {
      kind,
      opts: SocketOptions::default(),
      reactor,
      server: None,
      binds: Vec::new(),
      pending: VecDeque::new(),
      outbox,
      controls,
      paused: false,
      stalls: 0,
      monitoring: false,
      proxy: None,
      timer,
      timer_at: None,
      retry_at: None,
      closing: None,
      yield_on_delivery: false,
    }
  }

  pub(super) fn reading(&self) -> bool {
    let held = self.proxy.as_ref().is_some_and(|p| p.blocked());
    !self.paused && self.kind.receives() && !self.outbox.congested() && !held
  }

  /// Whether queued sends should be retried on a timer (not while a REQ waits for its reply: the reply
  /// itself moves the queue on).
  pub(super) fn retrying(&self) -> bool {
    let waiting = (self.server.as_ref()).is_some_and(|s| s.state().awaiting_reply());
    !self.pending.is_empty() && self.server.is_some() && !waiting
  }

  pub(super) fn error(&mut self, req: &[u8], err: &SocketError) {
    let message = err.to_string();
    self
      .outbox
      .push(E_ERROR, &[req, err.code().as_bytes(), message.as_bytes()]);
  }

  /// Arms the loop's timer at `at` (if not armed there) and polls it; true once it has fired.
  pub(super) fn timer_fired(&mut self, at: Instant, cx: &mut std::task::Context<'_>) -> bool {
    if self.timer_at != Some(at) {
      self.timer.reset(at.into_std());
      self.timer_at = Some(at);
    }
    let fired = self.timer.poll_fired(cx).is_ready();
    if fired {
      self.timer_at = None;
    }
    fired
  }

  /// The server, made now if this is the first bind or connect; the current options are applied to the
  /// connections it makes next.
  pub(super) fn server(&mut self) -> Result<&mut Server<S, R>, SocketError> {
    let server = match self.server.take() {
      Some(server) => server,
      None => {
        let state = S::build(&self.opts);
        let mut server = Server::with_reactor(ServerConfig::default(), state, self.reactor.clone());
        server.set_monitor(self.monitoring);
        Box::new(server)
      }
    };
    let server = self.server.insert(server);
    self.opts.apply(server.config_mut(), S::ZMTP_TYPE)?;
    Ok(server)
  }

  pub(super) fn handle_control(&mut self, c: Control) {
    match c {
      Control::Batch(batch) => self.handle_batch(batch),
      Control::Bind { req, ep, reply } => {
        let r = self.bind(&ep);
        self.answer_bind(req, r, reply);
      }
      Control::Unbind { req, ep } => self.unbind(&req, &ep),
      Control::Connect(ep) => {
        tracing::debug!(target: crate::log::target::SOCKET, %ep, "connecting");
        if let Err(e) = self.connect(&ep) {
          self.error(b"", &e);
        }
      }
      Control::Disconnect(ep) => {
        if let Err(e) = self.disconnect(&ep) {
          self.error(b"", &e);
        }
      }
      Control::Subscribe(prefix) => self.subscription(prefix, true),
      Control::Unsubscribe(prefix) => self.subscription(prefix, false),
      Control::Options(opts) => {
        self.opts = *opts;
        let opts = &self.opts;
        if let Some(server) = self.server.as_mut() {
          server.update_state(|state| state.switches(opts));
        }
      }
      Control::Stats(reply) => {
        // The JS thread waits on this in statsSync; if it gave up, nobody reads the answer.
        let _ = reply.send(self.stats_json());
      }
      Control::Monitor(on) => self.set_monitor(on),
      Control::Proxy(end) => self.proxy = Some(end),
      Control::Pause => self.paused = true,
      Control::Resume => self.paused = false,
      Control::Close { linger } => {
        let limit = linger.unwrap_or(MAX_LINGER).min(MAX_LINGER);
        self.closing = Some(Instant::now() + limit);
      }
    }
  }

  fn handle_batch(&mut self, batch: Bytes) {
    for record in Records::new(batch) {
      let Ok(mut record) = record else { break };
      match record.kind {
        C_SEND if !record.frames.is_empty() => self.pending.push_back(Outgoing {
          frames: record.frames,
          ack: None,
        }),
        C_SEND_ACK if record.frames.len() > 1 => {
          let ack = record.frames.remove(0);
          self.pending.push_back(Outgoing {
            frames: record.frames,
            ack: Some(ack),
          });
        }
        _ => {}
      }
    }
  }

  pub(super) fn handle_event(&mut self, ev: S::Event) {
    let Some(frames) = S::message(ev) else {
      return;
    };
    if let Some(proxy) = self.proxy.as_mut().filter(|p| p.forwards()) {
      // Proxied: the message goes to the other socket at the end of this turn, not to JS.
      proxy.push(frames);
      return;
    }
    // Messages of more than 65,535 frames do not occur on ZeroMQ sockets in practice; the record format
    // saturates the count rather than wrapping.
    let count = u16::try_from(frames.len()).unwrap_or(u16::MAX);
    self
      .outbox
      .push_iter(E_MESSAGE, count, frames.iter().map(|f| &f[..]));
  }

  /// Hands queued messages to the state until it cannot take one now, at most [`SEND_SLICE`] per turn.
  pub(super) fn send_pending(&mut self) {
    let Some(server) = self.server.as_mut() else {
      return;
    };
    while server.take_link_event().is_some() {
      // A peer came or went: room may have appeared, retry at once.
      self.stalls = 0;
    }
    let mut moved = false;
    let mut results = Vec::new();
    for _ in 0..SEND_SLICE {
      let Some(next) = self.pending.front() else {
        break;
      };
      // Blocking types wait for room; the others send and get their error (REP's EFSM, SUB's ENOTSUP).
      if self.kind.blocks_on_send() && !server.state().can_send() {
        break;
      }
      let ack = next.ack.clone();
      let Some(out) = self.pending.pop_front() else {
        break;
      };
      let r = server.submit(out.frames);
      moved |= r.is_ok();
      if ack.is_some() || r.is_err() {
        results.push((ack, r));
      }
    }
    for (ack, r) in results {
      self.report(ack, r);
    }
    if moved || self.pending.is_empty() {
      self.stalls = 0;
      self.retry_at = None;
    } else {
      self.stalls = self.stalls.saturating_add(1);
    }
  }

  fn report(&mut self, ack: Option<Bytes>, r: Result<(), SendError>) {
    let req = ack.unwrap_or_default();
    match r {
      Ok(()) => self.outbox.push(E_SENT, &[&req[..]]),
      Err(e) => self.error(&req, &SocketError::Send(e)),
    }
  }
}

/// The endpoint as the loop compares it (normalized).
pub(super) fn normalize(ep: &str) -> Result<Endpoint, SocketError> {
  Ok(Endpoint::parse(ep)?)
}
