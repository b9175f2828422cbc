//! The data path to the elected forwarder, on our own ZMTP engine: a PUB connected to its SUB side (our
//! publishes, written in batches) and a SUB connected to its PUB side (our subscriptions).
//!
//! The PUB sees the forwarder's subscription: until it arrives a PUB would silently drop, so publishes are
//! held until then ([`LinkEvent::Ready`]). A connection of either side closing is [`LinkEvent::Lost`] at
//! once (the fast sign of a dead master). Writing waits, up to [`SEND_STALL`], for the kernel to take what
//! was fed: the forwarder reading slowly slows publishers down instead of losing messages.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;

use super::codec::NodeMeta;
use super::forwarder::LocalInput;
use crate::driver::{Server, ServerConfig};
use crate::transport::{ready_now, Endpoint};
use crate::zmtp::mechanism::MechanismConfig;
use crate::zmtp::socket::{PipeOptions, PubState, SocketState, SubState};

/// A write taking longer than this means the forwarder stopped reading.
const SEND_STALL: Duration = Duration::from_secs(1);

/// Encoded publishes above this size are written before more are added.
pub const WRITE_CHUNK: usize = 256 * 1024;

/// What our PUB may hold for the forwarder (far more than one [`WRITE_CHUNK`] between flushes).
const PUB_HWM: usize = 1 << 16;
const PUB_HWM_BYTES: usize = 64 << 20;

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
enum Output {
  /// To a forwarder over TCP.
  Remote(Box<Server<PubState>>),
  /// Into our own forwarder (we are the master), as messages.
  Local {
    input: LocalInput,
    pending: Vec<Vec<Bytes>>,
    bytes: usize,
  },
}

/// The two connected sockets of the data path.
pub struct Link {
  master: NodeMeta,
  output: Output,
  subscriber: Box<Server<SubState>>,
  /// Messages that arrived while waiting for the connections.
  early: VecDeque<Vec<Bytes>>,
  /// Bytes fed since the last flush.
  fed: usize,
  ready: bool,
}

fn dial<S: SocketState>(
  state: S,
  socket_type: &str,
  addr: &str,
  mechanism: &MechanismConfig,
) -> Result<Box<Server<S>>, LinkError> {
  let failed = |reason: String| LinkError::Connect {
    addr: addr.to_string(),
    reason,
  };
  let endpoint = Endpoint::parse(addr).map_err(|e| failed(e.to_string()))?;
  let mut config = ServerConfig::default();
  config.session.socket_type = socket_type.into();
  config.session.mechanism = mechanism.clone();
  let mut server = Box::new(Server::new(config, state));
  server
    .connect(&endpoint)
    .map_err(|e| failed(e.to_string()))?;
  Ok(server)
}

/// Polls `server` until its dialled connection has come up; what it delivers meanwhile goes to `early`.
fn poll_up<S: SocketState<Event = Vec<Bytes>>>(
  server: &mut Server<S>,
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

fn dial_subscriber(
  master: &NodeMeta,
  mechanism: &MechanismConfig,
) -> Result<Box<Server<SubState>>, LinkError> {
  dial(
    SubState::new(PipeOptions::default()),
    "SUB",
    &master.pub_addr,
    mechanism,
  )
}

/// Polls our PUB: it has no events; polling accepts, reads subscriptions and writes.
fn drive(publisher: &mut Server<PubState>, cx: &mut Context<'_>) {
  if let Poll::Ready(never) = publisher.poll_event(cx) {
    match never {}
  }
}

/// Whether a connection of `server` went down since the last look.
fn lost<S: SocketState>(server: &mut Server<S>) -> bool {
  std::iter::from_fn(|| server.take_link_event()).any(|l| !l.up)
}

/// Waits until the SUB, and the PUB when there is one, have finished their handshakes; returns what the SUB
/// delivered meanwhile.
async fn wait_up(
  master: &NodeMeta,
  subscriber: &mut Server<SubState>,
  mut publisher: Option<&mut Server<PubState>>,
  timeout: Duration,
) -> Result<VecDeque<Vec<Bytes>>, LinkError> {
  let mut early = VecDeque::new();
  let (mut sub_up, mut pub_up) = (false, publisher.is_none());
  let both = poll_fn(|cx| {
    poll_up(subscriber, &mut sub_up, &mut early, cx);
    if let Some(p) = publisher.as_deref_mut() {
      drive(p, cx);
      while let Some(link) = p.take_link_event() {
        pub_up = link.up;
      }
    }
    if sub_up && pub_up {
      Poll::Ready(())
    } else {
      Poll::Pending
    }
  });
  if tokio::time::timeout(timeout, both).await.is_err() {
    let addr = if pub_up {
      &master.pub_addr
    } else {
      &master.sub_addr
    };
    return Err(LinkError::Connect {
      addr: addr.clone(),
      reason: "timed out".into(),
    });
  }
  Ok(early)
}

impl Link {
  /// Connects both sides to `master`'s forwarder, each within `timeout`.
  ///
  /// # Errors
  /// [`LinkError::Connect`] when either side cannot be reached in time.
  pub async fn connect(
    master: NodeMeta,
    timeout: Duration,
    mechanism: MechanismConfig,
  ) -> Result<Self, LinkError> {
    let mut subscriber = dial_subscriber(&master, &mechanism)?;
    let mut publisher = dial(
      PubState::new(PUB_HWM, PUB_HWM_BYTES),
      "PUB",
      &master.sub_addr,
      &mechanism,
    )?;
    let early = wait_up(&master, &mut subscriber, Some(&mut publisher), timeout).await?;
    Ok(Self::new(
      master,
      Output::Remote(publisher),
      subscriber,
      early,
    ))
  }

  /// Connects to our own forwarder (this node is the master): publishes go straight into it, the
  /// subscriber side connects as for any forwarder.
  ///
  /// # Errors
  /// [`LinkError::Connect`] when the PUB side cannot be reached in time.
  pub async fn connect_local(
    master: NodeMeta,
    input: LocalInput,
    timeout: Duration,
    mechanism: MechanismConfig,
  ) -> Result<Self, LinkError> {
    let mut subscriber = dial_subscriber(&master, &mechanism)?;
    let early = wait_up(&master, &mut subscriber, None, timeout).await?;
    let output = Output::Local {
      input,
      pending: Vec::new(),
      bytes: 0,
    };
    Ok(Self::new(master, output, subscriber, early))
  }

  fn new(
    master: NodeMeta,
    output: Output,
    subscriber: Box<Server<SubState>>,
    early: VecDeque<Vec<Bytes>>,
  ) -> Self {
    Self {
      master,
      output,
      subscriber,
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
        let drained = poll_fn(|cx| {
          drive(publisher, cx);
          if lost(publisher) {
            return Poll::Ready(Err(LinkError::Closed));
          }
          if publisher.is_backlogged() {
            Poll::Pending
          } else {
            Poll::Ready(Ok(()))
          }
        });
        tokio::time::timeout(SEND_STALL, drained)
          .await
          .unwrap_or(Err(LinkError::Stalled))
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
        match tokio::time::timeout(SEND_STALL, input.send(batch)).await {
          Ok(Ok(())) => Ok(()),
          Ok(Err(_)) => Err(LinkError::LocalClosed),
          Err(_) => Err(LinkError::Stalled),
        }
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
