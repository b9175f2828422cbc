//! The data path to the elected forwarder, on our own ZMTP engine: a PUB connected to its SUB side (our
//! publishes, written in batches) and a SUB connected to its PUB side (our subscriptions).
//!
//! The PUB sees the forwarder's subscription: until it arrives a PUB would silently drop, so publishes are
//! held until then ([`LinkEvent::Ready`]). A connection of either side closing is [`LinkEvent::Lost`] at
//! once (the fast sign of a dead master). Writing waits, up to [`SEND_STALL`], for the kernel to take what
//! was fed: the forwarder reading slowly slows publishers down instead of losing messages.

use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;

use super::codec::NodeMeta;
use super::forwarder::LocalInput;
use crate::driver::reactor::{IoSleep, Reactor, Tokio};
use crate::driver::{Server, ServerConfig};
use crate::transport::{ready_now, Endpoint};
use crate::zmtp::mechanism::MechanismConfig;
use crate::zmtp::socket::{PubState, SocketState, SubState};

/// A write taking longer than this means the forwarder stopped reading.
const SEND_STALL: Duration = Duration::from_secs(1);

/// Encoded publishes above this size are written before more are added.
pub const WRITE_CHUNK: usize = 256 * 1024;

/// What our PUB may hold for the forwarder (far more than one [`WRITE_CHUNK`] between flushes).
pub(super) const PUB_HWM: usize = 1 << 16;
pub(super) const PUB_HWM_BYTES: usize = 64 << 20;

/// Why the data path failed.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
  /// Connecting to the forwarder failed or timed out.
  #[error("cannot connect to forwarder {addr}: {reason}")]
  Connect {
    /// The endpoint that failed.
    addr: String,
    /// What failed.
    reason: String,
  },
  /// The connection closed while writing.
  #[error("the connection to the forwarder closed")]
  Closed,
  /// The forwarder stopped reading our publishes.
  #[error("forwarder stalled")]
  Stalled,
  /// Our own forwarder (we are the master) has stopped.
  #[error("own forwarder stopped")]
  LocalClosed,
}

/// What happened on the data path.
#[derive(Debug)]
pub enum LinkEvent {
  /// A message from the forwarder (not yet filtered by exact channel).
  Message(Vec<Bytes>),
  /// The forwarder subscribed to our publishes: they now get through.
  Ready,
  /// The connection to the forwarder dropped.
  Lost,
}

/// Where our publishes go.
pub(super) enum Output<R: Reactor> {
  /// To a forwarder over TCP.
  Remote(Box<Server<PubState, R>>),
  /// Into our own forwarder (we are the master), as messages.
  Local {
    input: LocalInput,
    pending: Vec<Vec<Bytes>>,
    bytes: usize,
  },
}

/// The two connected sockets of the data path.
pub struct Link<R: Reactor = Tokio> {
  master: NodeMeta,
  output: Output<R>,
  subscriber: Box<Server<SubState, R>>,
  /// Bounds a write the kernel does not take ([`SEND_STALL`]).
  stall: R::Sleep,
  /// Messages that arrived while waiting for the connections.
  early: VecDeque<Vec<Bytes>>,
  /// Bytes fed since the last flush.
  fed: usize,
  ready: bool,
}

pub(super) fn dial<S: SocketState, R: Reactor>(
  state: S,
  socket_type: &str,
  addr: &str,
  mechanism: &MechanismConfig,
  reactor: R,
) -> Result<Box<Server<S, R>>, LinkError> {
  let failed = |reason: String| LinkError::Connect {
    addr: addr.to_string(),
    reason,
  };
  let endpoint = Endpoint::parse(addr).map_err(|e| failed(e.to_string()))?;
  let mut config = ServerConfig::default();
  config.session.socket_type = socket_type.into();
  config.session.mechanism = mechanism.clone();
  let mut server = Box::new(Server::with_reactor(config, state, reactor));
  server
    .connect(&endpoint)
    .map_err(|e| failed(e.to_string()))?;
  Ok(server)
}

/// Polls `server` until its dialled connection has come up; what it delivers meanwhile goes to `early`.
pub(super) fn poll_up<S: SocketState<Event = Vec<Bytes>>, R: Reactor>(
  server: &mut Server<S, R>,
  up: &mut bool,
  early: &mut VecDeque<Vec<Bytes>>,
  cx: &mut Context<'_>,
) {
  while let Poll::Ready(msg) = server.poll_event(cx) {
    early.push_back(msg);
  }
  while let Some(link) = server.take_link_event() {
    *up = link.up;
  }
}

/// Polls our PUB: it has no events; polling accepts, reads subscriptions and writes.
pub(super) fn drive<R: Reactor>(publisher: &mut Server<PubState, R>, cx: &mut Context<'_>) {
  if let Poll::Ready(never) = publisher.poll_event(cx) {
    match never {}
  }
}

/// Whether a connection of `server` went down since the last look.
fn lost<S: SocketState, R: Reactor>(server: &mut Server<S, R>) -> bool {
  std::iter::from_fn(|| server.take_link_event()).any(|l| !l.up)
}

impl<R: Reactor> Link<R> {
  pub(super) fn new(
    master: NodeMeta,
    output: Output<R>,
    subscriber: Box<Server<SubState, R>>,
    early: VecDeque<Vec<Bytes>>,
    stall: R::Sleep,
  ) -> Self {
    Self {
      master,
      output,
      subscriber,
      stall,
      early,
      fed: 0,
      ready: false,
    }
  }

  /// The forwarder this link is connected to.
  pub fn master(&self) -> &NodeMeta {
    &self.master
  }

  /// True once the forwarder has subscribed to our publishes.
  pub fn is_ready(&self) -> bool {
    self.ready
  }

  /// Waits for the next event; with `read` false, incoming messages stay in the socket (backpressure).
  /// Cancel-safe: all state is in `self`.
  pub async fn next_event(&mut self, read: bool) -> LinkEvent {
    poll_fn(|cx| self.poll_event(cx, read)).await
  }

  fn poll_event(&mut self, cx: &mut Context<'_>, read: bool) -> Poll<LinkEvent> {
    match &mut self.output {
      Output::Local { .. } if !self.ready => {
        // Our own forwarder takes our publishes at once.
        self.ready = true;
        return Poll::Ready(LinkEvent::Ready);
      }
      Output::Local { .. } => {}
      Output::Remote(publisher) => {
        drive(publisher, cx);
        if lost(publisher) {
          return Poll::Ready(LinkEvent::Lost);
        }
        if !self.ready && publisher.state().subscribed() {
          self.ready = true;
          return Poll::Ready(LinkEvent::Ready);
        }
      }
    }
    if !read {
      return Poll::Pending;
    }
    if let Some(msg) = self.early.pop_front() {
      return Poll::Ready(LinkEvent::Message(msg));
    }
    let polled = self.subscriber.poll_event(cx);
    if lost(&mut self.subscriber) {
      return Poll::Ready(LinkEvent::Lost);
    }
    polled.map(LinkEvent::Message)
  }

  /// A message that has already arrived, without waiting. `None` when none is ready; a lost connection is
  /// reported by the next [`Link::next_event`].
  pub async fn try_message(&mut self) -> Option<Vec<Bytes>> {
    if let Some(msg) = self.early.pop_front() {
      return Some(msg);
    }
    ready_now(poll_fn(|cx| self.subscriber.poll_event(cx))).await
  }

  /// Queues one message (frame 0 is the channel) for the next [`Link::flush`], if the forwarder subscribed
  /// to its channel (a PUB never sends what nobody asked for).
  pub fn feed(&mut self, frames: &[Bytes]) {
    let size: usize = frames.iter().map(|f| f.len() + 9).sum();
    match &mut self.output {
      Output::Remote(publisher) => {
        // A PUB never refuses a message; what no subscription matches is not sent.
        let _ = publisher.submit(frames.to_vec());
        self.fed += size;
      }
      Output::Local { pending, bytes, .. } => {
        *bytes += size;
        pending.push(frames.to_vec());
      }
    }
  }

  /// Bytes fed and not yet written.
  pub fn unwritten(&self) -> usize {
    match &self.output {
      Output::Remote(_) => self.fed,
      Output::Local { bytes, .. } => *bytes,
    }
  }

  /// Writes what [`Link::feed`] took; waits (up to [`SEND_STALL`]) while the kernel takes no more.
  ///
  /// # Errors
  /// [`LinkError::Closed`], [`LinkError::Stalled`] or [`LinkError::LocalClosed`]: the link is unusable.
  pub async fn flush(&mut self) -> Result<(), LinkError> {
    match &mut self.output {
      Output::Remote(publisher) => {
        self.fed = 0;
        publisher.flush();
        if !publisher.is_backlogged() {
          return Ok(());
        }
        let stall = &mut self.stall;
        stall.reset(std::time::Instant::now() + SEND_STALL);
        poll_fn(|cx| {
          drive(publisher, cx);
          if lost(publisher) {
            return Poll::Ready(Err(LinkError::Closed));
          }
          if !publisher.is_backlogged() {
            return Poll::Ready(Ok(()));
          }
          stall.poll_fired(cx).map(|()| Err(LinkError::Stalled))
        })
        .await
      }
      Output::Local {
        input,
        pending,
        bytes,
      } => {
        if pending.is_empty() {
          return Ok(());
        }
        *bytes = 0;
        let batch = std::mem::take(pending);
        let stall = &mut self.stall;
        stall.reset(std::time::Instant::now() + SEND_STALL);
        let mut send = std::pin::pin!(input.send(batch));
        poll_fn(|cx| match send.as_mut().poll(cx) {
          Poll::Ready(Ok(())) => Poll::Ready(Ok(())),
          Poll::Ready(Err(_)) => Poll::Ready(Err(LinkError::LocalClosed)),
          Poll::Pending => stall.poll_fired(cx).map(|()| Err(LinkError::Stalled)),
        })
        .await
      }
    }
  }

  /// Publishes one message at once (frame 0 is the channel).
  ///
  /// # Errors
  /// As [`Link::flush`].
  pub async fn send(&mut self, frames: Vec<Bytes>) -> Result<(), LinkError> {
    self.feed(&frames);
    self.flush().await
  }

  /// Adds a prefix subscription on the forwarder (sent again by the SUB after any reconnect).
  ///
  /// # Errors
  /// None today; kept so a caller treats a failed subscription as a lost link.
  pub async fn subscribe(&mut self, prefix: &[u8]) -> Result<(), LinkError> {
    self
      .subscriber
      .update(|s| s.subscribe(Bytes::copy_from_slice(prefix)));
    self.subscriber.flush();
    Ok(())
  }

  /// Removes a prefix subscription on the forwarder.
  ///
  /// # Errors
  /// As [`Link::subscribe`].
  pub async fn unsubscribe(&mut self, prefix: &[u8]) -> Result<(), LinkError> {
    self
      .subscriber
      .update(|s| s.unsubscribe(Bytes::copy_from_slice(prefix)));
    self.subscriber.flush();
    Ok(())
  }
}
