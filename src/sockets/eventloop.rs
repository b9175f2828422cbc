//! The one tokio task of a socket: owns its [`Ports`], runs the REQ/REP state machine, and
//! talks to JavaScript through [`Control`] messages in and batched event records out.
//!
//! Shape (as the other engines): `select!` over (controls, socket input, a send retry, the
//! outbox being taken); after an input, drain what else is ready (bounded), then flush once.
//! Sends never wait: a message no port can take (high-water mark, or no peer yet) stays queued
//! here in order and is retried, so backpressure reaches JS as latency rather than loss.
//! `pause` stops reading the socket, so backpressure reaches the peer.

use std::collections::VecDeque;
use std::sync::mpsc::SyncSender;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::time::{sleep, Instant};

use super::ports::{PortOptions, Ports, Sent};
use super::reqrep::{Output, RepState, ReqState};
use super::{SocketError, SocketType, C_SEND, E_BOUND, E_CLOSED, E_ERROR, E_MESSAGE, E_UNBOUND};
use crate::boundary::batch::Records;
use crate::boundary::outbox::{Deliver, Outbox};
use crate::transport::{ready_now, Msg};

/// The answer to a synchronous bind: the resolved endpoint or `(code, message)`.
pub type BindReply = Result<String, (&'static str, String)>;

/// What the napi handle asks of the loop. Sent on one channel, so order is kept.
#[derive(Debug)]
pub enum Control {
  /// A packed batch of `C_SEND` records.
  Batch(Bytes),
  /// Bind `ep`; answer with `E_BOUND`/`E_ERROR` tagged `req`, or on `reply` when synchronous.
  Bind {
    /// Request id echoed in the event.
    req: String,
    /// Endpoint to bind.
    ep: String,
    /// Options of the new port.
    opts: PortOptions,
    /// Set for `bindSync`: the JS thread waits on it.
    reply: Option<SyncSender<BindReply>>,
  },
  /// Unbind `ep`; answer with `E_UNBOUND`/`E_ERROR` tagged `req`.
  Unbind {
    /// Request id echoed in the event.
    req: String,
    /// Endpoint to unbind.
    ep: String,
  },
  /// Connect to `ep` (already validated by the handle).
  Connect {
    /// Endpoint to connect to.
    ep: String,
    /// Options of the new port.
    opts: PortOptions,
  },
  /// Disconnect from `ep`.
  Disconnect(String),
  /// Add a subscription prefix (SUB/XSUB).
  Subscribe(Bytes),
  /// Remove a subscription prefix (SUB/XSUB).
  Unsubscribe(Bytes),
  /// Stop reading the socket.
  Pause,
  /// Read the socket again.
  Resume,
  /// Close: stop reading, flush queued sends for at most `linger`, end with `E_CLOSED`.
  Close {
    /// How long queued messages may delay the close (`None`: up to [`MAX_LINGER`]).
    linger: Option<Duration>,
  },
}

/// Most socket messages handled in one loop turn before the outbox is flushed.
const DRAIN_LIMIT: usize = 512;
/// Upper bound of an "infinite" linger, so a socket whose peer never comes cannot hold a process for ever.
pub const MAX_LINGER: Duration = Duration::from_secs(30);
/// After the last send, how long a lingering close waits for the transport's own queues to drain.
const DRAIN_GRACE: Duration = Duration::from_millis(100);
/// Send retries that moved nothing, after which the loop sleeps instead of yielding.
const SPIN_RETRIES: u32 = 8;
/// Retries after which the peer is taken as gone for now and the pause grows.
const SHORT_RETRIES: u32 = 200;

enum Pattern {
  Plain,
  Req(ReqState),
  Rep(RepState),
}

/// Starts the loop of a socket of `kind` on the addon runtime; returns its control channel.
pub fn spawn<D: Deliver + Sync>(kind: SocketType, outbox: Outbox<D>) -> UnboundedSender<Control> {
  let (tx, rx) = unbounded_channel();
  crate::runtime::handle().spawn(run(kind, outbox, rx));
  tx
}

struct SocketLoop<D: Deliver> {
  kind: SocketType,
  ports: Ports,
  pattern: Pattern,
  pending: VecDeque<Msg>,
  outbox: Outbox<D>,
  out: Vec<Output>,
  paused: bool,
  /// Consecutive send retries that moved nothing (0: the last one made progress).
  stalls: u32,
  last_send: Option<Instant>,
}

/// Runs a socket until `Close` (or the handle is gone).
pub async fn run<D: Deliver + Sync>(
  kind: SocketType,
  outbox: Outbox<D>,
  mut controls: UnboundedReceiver<Control>,
) {
  let pattern = match kind {
    SocketType::Req => Pattern::Req(ReqState::new()),
    SocketType::Rep => Pattern::Rep(RepState::new()),
    _ => Pattern::Plain,
  };
  let mut s = SocketLoop {
    kind,
    ports: Ports::new(kind),
    pattern,
    pending: VecDeque::new(),
    outbox,
    out: Vec::new(),
    paused: false,
    stalls: 0,
    last_send: None,
  };
  let mut linger = Some(Duration::ZERO);
  loop {
    let reading = s.reading();
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
      (port, frames) = s.ports.recv(), if reading => {
        s.handle_incoming(port, frames);
        for _ in 0..DRAIN_LIMIT {
          if !s.reading() {
            break;
          }
          match ready_now(s.ports.recv()).await {
            Some((port, frames)) => s.handle_incoming(port, frames),
            None => break,
          }
        }
      },
      _ = retry(s.stalls), if !s.pending.is_empty() => {},
      _ = s.outbox.taken(), if s.outbox.has_pending() => {},
    }
    s.send_pending();
    s.outbox.flush();
  }
  s.close(linger).await;
}

/// Messages handed to the ports per loop turn (see `send_pending`).
const SEND_SLICE: usize = 256;

async fn retry(stalls: u32) {
  if stalls < SPIN_RETRIES {
    // The link tasks run on this thread: give them a turn to drain their queues, then retry.
    tokio::task::yield_now().await;
  } else if stalls < SHORT_RETRIES {
    // A slow peer: a queue of HWM messages drains in about a millisecond at full speed.
    sleep(Duration::from_millis(1)).await;
  } else {
    // No peer took anything for a while (not connected yet): poll gently.
    sleep(Duration::from_millis(10)).await;
  }
}

impl<D: Deliver> SocketLoop<D> {
  fn reading(&self) -> bool {
    let rep_ready = match &self.pattern {
      Pattern::Rep(rep) => rep.wants_input(),
      _ => true,
    };
    !self.paused
      && rep_ready
      && self.kind.receives()
      && !self.ports.is_empty()
      && !self.outbox.congested()
  }

  fn error(&mut self, req: &str, err: &SocketError) {
    let message = err.to_string();
    self.outbox.push(
      E_ERROR,
      &[req.as_bytes(), err.code().as_bytes(), message.as_bytes()],
    );
  }

  async fn handle_control(&mut self, c: Control) {
    match c {
      Control::Batch(batch) => self.handle_batch(batch),
      Control::Bind {
        req,
        ep,
        opts,
        reply,
      } => {
        let r = self.ports.bind(&ep, &opts).await;
        match &r {
          Ok(resolved) => tracing::debug!(target: crate::log::target::SOCKET, %resolved, "bound"),
          Err(e) => {
            tracing::debug!(target: crate::log::target::SOCKET, %ep, err = %e, "bind failed")
          }
        }
        match (reply, r) {
          (Some(reply), r) => {
            // The JS thread is blocked in bindSync waiting for this; it cannot be gone.
            let _ = reply.send(r.map_err(|e| (e.code(), e.to_string())));
          }
          (None, Ok(resolved)) => self
            .outbox
            .push(E_BOUND, &[req.as_bytes(), resolved.as_bytes()]),
          (None, Err(e)) => self.error(&req, &e),
        }
      }
      Control::Unbind { req, ep } => match self.ports.remove(&ep, true) {
        Ok(endpoint) => self
          .outbox
          .push(E_UNBOUND, &[req.as_bytes(), endpoint.as_bytes()]),
        Err(e) => self.error(&req, &e),
      },
      Control::Connect { ep, opts } => {
        tracing::debug!(target: crate::log::target::SOCKET, %ep, "connecting");
        if let Err(e) = self.ports.connect(&ep, &opts) {
          self.error("", &e);
        }
      }
      Control::Disconnect(ep) => {
        if let Err(e) = self.ports.remove(&ep, false) {
          self.error("", &e);
        }
      }
      Control::Subscribe(prefix) => self.ports.subscribe(&prefix),
      Control::Unsubscribe(prefix) => self.ports.unsubscribe(&prefix),
      Control::Pause => self.paused = true,
      Control::Resume => self.paused = false,
      // Handled by the caller (it ends the loop).
      Control::Close { .. } => {}
    }
  }

  fn handle_batch(&mut self, batch: Bytes) {
    for record in Records::new(batch) {
      let Ok(record) = record else { break };
      if record.kind != C_SEND || record.frames.is_empty() {
        continue;
      }
      self.handle_outgoing(record.frames);
    }
  }

  fn handle_outgoing(&mut self, body: Msg) {
    match &mut self.pattern {
      Pattern::Plain => self.pending.push_back(body),
      Pattern::Req(req) => {
        req.handle_outgoing(body, &mut self.out);
        self.apply_outputs();
      }
      Pattern::Rep(rep) => match rep.handle_outgoing(body) {
        Ok(frames) => self.pending.push_back(frames),
        Err(e) => self.error("", &SocketError::State(e)),
      },
    }
  }

  fn handle_incoming(&mut self, port: usize, frames: Msg) {
    match &mut self.pattern {
      Pattern::Plain => self.deliver(&frames),
      Pattern::Req(req) => {
        req.handle_incoming(port, frames, &mut self.out);
        self.apply_outputs();
      }
      Pattern::Rep(rep) => {
        rep.handle_incoming(frames, &mut self.out);
        self.apply_outputs();
      }
    }
  }

  fn deliver(&mut self, frames: &Msg) {
    // Messages of more than 65,535 frames do not occur on ZeroMQ sockets in practice; the
    // record format saturates the count rather than wrapping.
    let count = u16::try_from(frames.len()).unwrap_or(u16::MAX);
    self
      .outbox
      .push_iter(E_MESSAGE, count, frames.iter().map(|f| &f[..]));
  }

  fn apply_outputs(&mut self) {
    let outputs = std::mem::take(&mut self.out);
    for o in &outputs {
      match o {
        Output::Send(frames) => self.pending.push_back(frames.clone()),
        Output::Deliver(frames) => self.deliver(frames),
      }
    }
    self.out = outputs;
    self.out.clear();
  }

  /// Moves queued messages to the ports until one would block, at most [`SEND_SLICE`] per
  /// turn: the link tasks that write them out run on this same thread, so a large batch from
  /// JS goes out in slices with a yield between them instead of overrunning a PUB's
  /// high-water mark in one go (that dropped 90% of a 10k burst).
  fn send_pending(&mut self) {
    let mut moved = false;
    let mut budget = SEND_SLICE;
    while let Some(frames) = self.pending.front() {
      if budget == 0 {
        break;
      }
      budget -= 1;
      match self.ports.send(frames) {
        Ok(Sent::WouldBlock) => break,
        Ok(sent) => {
          if let (Sent::To(port), Pattern::Req(req)) = (&sent, &mut self.pattern) {
            req.handle_sent(*port);
          }
          moved = true;
        }
        Err(e) => self.error("", &e),
      }
      self.pending.pop_front();
    }
    if moved {
      self.last_send = Some(Instant::now());
      self.stalls = 0;
    } else if !self.pending.is_empty() {
      self.stalls = self.stalls.saturating_add(1);
    }
  }

  async fn close(mut self, linger: Option<Duration>) {
    let limit = linger.unwrap_or(MAX_LINGER).min(MAX_LINGER);
    let deadline = Instant::now() + limit;
    while !self.pending.is_empty() && Instant::now() < deadline && !self.ports.is_empty() {
      retry(self.stalls).await;
      self.send_pending();
    }
    if let Some(last) = self.last_send {
      let until = (last + DRAIN_GRACE).min(deadline);
      tokio::time::sleep_until(until).await;
    }
    self.ports.clear();
    self.outbox.push(E_CLOSED, &[] as &[&[u8]]);
    self.outbox.flush_now();
  }
}
