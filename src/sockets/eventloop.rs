//! The one tokio task of a classic socket: it owns ONE [`Server`] (our ZMTP engine's driver) holding every
//! bind and connect of the socket (tcp, ipc, inproc), as libzmq's socket owns its endpoints, and talks to
//! JavaScript through [`Control`] messages in and batched event records out.
//!
//! Shape (as the other engines): `select!` over (controls, the server, a proxy's channels, a send retry, the
//! outbox being taken; the waiting side is in [`super::turn`]); after an event, drain what else is ready (bounded), then write once per connection and flush the
//! outbox once. Sends never wait: a message the socket cannot take now (`EAGAIN`: no peer or a full pipe on
//! a blocking type; a REQ still waiting for its reply) stays queued here in order and is retried, so
//! back-pressure reaches JS as latency rather than loss. That queue is also the old `zmq` module's REQ
//! queueing: requests sent while a REQ waits go out one by one as replies arrive, above the strict floor-2
//! REQ. `pause` stops taking the state's messages (its queues fill to `RCVHWM`, then the peers feel it).

use std::collections::VecDeque;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::time::Instant;

use super::engine::Classic;
use super::options::SocketOptions;
use super::proxy::{ProxyEnd, PROXY_QUEUE};
use super::turn::{poll_server, proxy_step, retry};
use super::{SocketError, SocketType, C_SEND, C_SEND_ACK, E_CLOSED, E_ERROR, E_MESSAGE, E_SENT};
use crate::boundary::batch::Records;
use crate::boundary::outbox::{Deliver, Outbox};
use crate::driver::{Server, ServerConfig};
use crate::transport::{Endpoint, Msg};
use crate::zmtp::socket as st;
use crate::zmtp::socket::SendError;

pub use super::control::{BindReply, Control};

/// Upper bound of an "infinite" linger, so a socket whose peer never comes cannot hold a process for ever.
pub const MAX_LINGER: Duration = Duration::from_secs(30);
/// Messages handed to the state per loop turn, so a large batch from JS goes out in slices.
const SEND_SLICE: usize = 1024;

/// Starts the loop of a socket of `kind` on the addon runtime; returns its control channel.
pub fn spawn<D: Deliver + Sync>(kind: SocketType, outbox: Outbox<D>) -> UnboundedSender<Control> {
  let (tx, rx) = unbounded_channel();
  let rt = crate::runtime::handle();
  match kind {
    SocketType::Pair => rt.spawn(run::<st::PairState, D>(kind, outbox, rx)),
    SocketType::Pub => rt.spawn(run::<st::PubState, D>(kind, outbox, rx)),
    SocketType::Sub => rt.spawn(run::<st::SubState, D>(kind, outbox, rx)),
    SocketType::Req => rt.spawn(run::<st::ReqState, D>(kind, outbox, rx)),
    SocketType::Rep => rt.spawn(run::<st::RepState, D>(kind, outbox, rx)),
    SocketType::Dealer => rt.spawn(run::<st::DealerState, D>(kind, outbox, rx)),
    SocketType::Router => rt.spawn(run::<st::RouterState, D>(kind, outbox, rx)),
    SocketType::Pull => rt.spawn(run::<st::PullState, D>(kind, outbox, rx)),
    SocketType::Push => rt.spawn(run::<st::PushState, D>(kind, outbox, rx)),
    SocketType::XSub => rt.spawn(run::<st::XSubState, D>(kind, outbox, rx)),
    SocketType::XPub => rt.spawn(run::<st::XPubState, D>(kind, outbox, rx)),
    SocketType::Stream => rt.spawn(super::stream::run(outbox, rx)),
  };
  tx
}

/// One message waiting to go to the state, with the request id of a send callback that wants its outcome.
struct Outgoing {
  frames: Msg,
  ack: Option<Bytes>,
}

pub(super) struct SocketLoop<S: Classic, D: Deliver> {
  pub(super) kind: SocketType,
  pub(super) opts: SocketOptions,
  /// Made at the first bind or connect (the pipes' high-water marks are read then, as libzmq reads them
  /// when a pipe is made).
  pub(super) server: Option<Box<Server<S>>>,
  /// Bound endpoints: (as given, normalized; as resolved).
  pub(super) binds: Vec<(String, String)>,
  pending: VecDeque<Outgoing>,
  pub(super) outbox: Outbox<D>,
  paused: bool,
  /// Consecutive send retries that moved nothing (0: the last one made progress).
  stalls: u32,
  /// `monitor()` is on: the server's peer events go to JS as `E_MONITOR` records.
  pub(super) monitoring: bool,
  /// This socket's part in a `zmq.proxy`, once one is started.
  proxy: Option<Box<ProxyEnd>>,
}

/// Runs a socket until `Close` (or the handle is gone).
pub async fn run<S: Classic, D: Deliver + Sync>(
  kind: SocketType,
  outbox: Outbox<D>,
  mut controls: UnboundedReceiver<Control>,
) {
  let mut s = SocketLoop::<S, D> {
    kind,
    opts: SocketOptions::default(),
    server: None,
    binds: Vec::new(),
    pending: VecDeque::new(),
    outbox,
    paused: false,
    stalls: 0,
    monitoring: false,
    proxy: None,
  };
  let mut linger = Some(Duration::ZERO);
  loop {
    let reading = s.reading();
    let retrying = s.retrying();
    let taking = s.pending.len() < PROXY_QUEUE;
    let proxying = s.proxy.as_ref().is_some_and(|p| p.waits(taking));
    tokio::select! {
      biased;
      c = controls.recv() => match c {
        Some(Control::Close { linger: l }) => {
          linger = l;
          break;
        }
        Some(c) => s.handle_control(c).await,
        // The handle was dropped without close(): nobody can be waiting for queued sends.
        None => break,
      },
      // `None`: only monitor events, which the end of this turn reports.
      ev = std::future::poll_fn(|cx| poll_server(&mut s.server, reading, retrying, cx)) => {
        if let Some(ev) = ev {
          s.handle_event(ev);
          s.drain_ready().await;
        }
      },
      got = proxy_step(&mut s.proxy, taking), if proxying => {
        let queued = got.into_iter().flatten().map(|frames| Outgoing { frames, ack: None });
        s.pending.extend(queued);
      },
      _ = retry(s.stalls), if retrying => {},
      _ = s.outbox.taken(), if s.outbox.has_pending() => {},
    }
    if let Some(proxy) = s.proxy.as_mut() {
      proxy.dispatch();
    }
    s.send_pending();
    if let Some(server) = s.server.as_mut() {
      server.flush();
    }
    s.report_monitor();
    s.outbox.flush();
    // A turn can be ready again at once (room for more sends); the runtime's budget makes a long run of
    // such turns yield now and then, so the other sockets on this thread (a proxy's other side) run.
    tokio::task::coop::consume_budget().await;
  }
  s.close(linger).await;
}

impl<S: Classic, D: Deliver> SocketLoop<S, D> {
  pub(super) fn reading(&self) -> bool {
    let held = self.proxy.as_ref().is_some_and(|p| p.blocked());
    !self.paused && self.kind.receives() && !self.outbox.congested() && !held
  }

  /// Whether queued sends should be retried on a timer (not while a REQ waits for its reply: the reply
  /// itself moves the queue on).
  fn retrying(&self) -> bool {
    let waiting = self
      .server
      .as_ref()
      .is_some_and(|s| s.state().awaiting_reply());
    !self.pending.is_empty() && self.server.is_some() && !waiting
  }

  pub(super) fn error(&mut self, req: &[u8], err: &SocketError) {
    let message = err.to_string();
    self
      .outbox
      .push(E_ERROR, &[req, err.code().as_bytes(), message.as_bytes()]);
  }

  /// The server, made now if this is the first bind or connect; the current options are applied to the
  /// connections it makes next.
  pub(super) fn server(&mut self) -> Result<&mut Server<S>, SocketError> {
    let server = match self.server.take() {
      Some(server) => server,
      None => {
        let mut server = Server::new(ServerConfig::default(), S::build(&self.opts));
        server.set_monitor(self.monitoring);
        Box::new(server)
      }
    };
    let server = self.server.insert(server);
    self.opts.apply(server.config_mut(), S::ZMTP_TYPE)?;
    Ok(server)
  }

  async fn handle_control(&mut self, c: Control) {
    match c {
      Control::Batch(batch) => self.handle_batch(batch),
      Control::Bind { req, ep, reply } => {
        let r = self.bind(&ep).await;
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
      // Handled by the caller (it ends the loop).
      Control::Close { .. } => {}
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
  fn send_pending(&mut self) {
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

  async fn close(mut self, linger: Option<Duration>) {
    let limit = linger.unwrap_or(MAX_LINGER).min(MAX_LINGER);
    let deadline = Instant::now() + limit;
    loop {
      self.send_pending();
      let Some(server) = self.server.as_mut() else {
        break;
      };
      server.flush();
      // Requests queued behind a REQ's unanswered one can never go: they are not waited for.
      let stuck = server.state().awaiting_reply();
      let queued = !self.pending.is_empty() && !stuck;
      if (!queued && !server.has_unsent()) || Instant::now() >= deadline {
        break;
      }
      // Wait for the writes to make room for what is queued (or to finish), not for a fixed step: a
      // close right after a burst of sends runs at the socket's full speed.
      let step = (Instant::now() + Duration::from_millis(5)).min(deadline);
      let io = std::future::poll_fn(|cx| {
        let _ = server.poll_io(cx);
        let room = queued && server.state().can_send();
        if room || (!queued && !server.has_unsent()) {
          Poll::Ready(())
        } else {
          Poll::Pending
        }
      });
      let _ = tokio::time::timeout_at(step, io).await;
      tokio::task::coop::consume_budget().await;
    }
    if let Some(server) = self.server.as_mut() {
      // A closed socket's monitor ends with it (the old module's close() stops monitoring first).
      server.set_monitor(false);
      server.close();
    }
    self.outbox.push(E_CLOSED, &[] as &[&[u8]]);
    self.outbox.flush_now();
  }
}

/// The endpoint as the loop compares it (normalized).
pub(super) fn normalize(ep: &str) -> Result<Endpoint, SocketError> {
  Ok(Endpoint::parse(ep)?)
}
