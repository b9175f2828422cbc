//! The data path to the elected forwarder: our own ZMTP publisher
//! ([`super::zmtp`]) connected to its SUB side (our publishes, written in
//! batches) and a zmq.rs XSUB connected to its PUB side (our subscriptions).
//!
//! The publisher sees the forwarder's subscription: until it arrives a PUB
//! would silently drop, so publishes are held until then. XSUB rather than
//! SUB because it takes binary subscription frames, and its monitor reports
//! the connection dropping (the fast sign of a dead master).

use std::pin::Pin;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use futures::{Stream, StreamExt};
use zeromq::{
  Socket, SocketEvent, SocketOptions, SocketRecv, SocketSend, XSubSocket, ZmqError, ZmqMessage,
};

use super::codec::NodeMeta;
use super::forwarder::LocalInput;
use super::zmtp::{self, Incoming, Publisher, ZmtpError};
use crate::transport::ready_now;

/// A write taking longer than this means the forwarder stopped reading.
const SEND_STALL: Duration = Duration::from_secs(1);

/// Encoded publishes above this size are written before more are added.
pub const WRITE_CHUNK: usize = 256 * 1024;

/// Why the data path failed.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
  /// Connecting to the forwarder failed or timed out.
  #[error("cannot connect to forwarder {addr}: {source}")]
  Connect {
    /// The endpoint that failed.
    addr: String,
    /// The zmq.rs error.
    source: ZmqError,
  },
  /// Connecting our publisher to the forwarder failed or timed out.
  #[error("cannot connect to forwarder {addr}: {source}")]
  Publish {
    /// The endpoint that failed.
    addr: String,
    /// What failed.
    source: ZmtpError,
  },
  /// Sending to the forwarder failed.
  #[error("send to forwarder failed: {0}")]
  Send(ZmqError),
  /// Writing publishes failed.
  #[error("write to forwarder failed: {0}")]
  Write(std::io::Error),
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

/// The two connected sockets of the data path.
pub struct Link {
  master: NodeMeta,
  output: Output,
  subscriber: XSubSocket,
  monitor: Monitor,
  /// The forwarder's subscriptions (prefixes of frame 0).
  wanted: Vec<Vec<u8>>,
  /// True while `wanted` holds the empty prefix (the usual case).
  wants_all: bool,
  /// Encoded publishes not yet written.
  out: BytesMut,
  ready: bool,
}

/// Where our publishes go.
enum Output {
  /// To a forwarder over TCP (ZMTP), encoded into a buffer.
  Remote(Publisher),
  /// Into our own forwarder (we are the master), as messages.
  Local {
    input: LocalInput,
    pending: Vec<ZmqMessage>,
    bytes: usize,
  },
}

/// zmq.rs's monitor channel, boxed so its type needs no extra dependency.
type Monitor = Pin<Box<dyn Stream<Item = SocketEvent> + Send>>;

impl Link {
  /// Connects both sides to `master`'s forwarder, each within `timeout`.
  ///
  /// # Errors
  /// [`LinkError::Connect`] or [`LinkError::Publish`] when either side
  /// cannot be reached in time.
  pub async fn connect(master: NodeMeta, timeout: Duration) -> Result<Self, LinkError> {
    let mut options = SocketOptions::default();
    options.connect_timeout(timeout);
    let mut subscriber = XSubSocket::with_options(options);
    let monitor: Monitor = Box::pin(subscriber.monitor());
    let sub_host = master.sub_addr.trim_start_matches("tcp://");
    let (p, s) = tokio::join!(
      Publisher::connect(sub_host, timeout),
      subscriber.connect(&master.pub_addr)
    );
    let publisher = p.map_err(|source| LinkError::Publish {
      addr: master.sub_addr.clone(),
      source,
    })?;
    s.map_err(|source| LinkError::Connect {
      addr: master.pub_addr.clone(),
      source,
    })?;
    Ok(Self::new(
      master,
      Output::Remote(publisher),
      subscriber,
      monitor,
    ))
  }

  /// Connects to our own forwarder (this node is the master): publishes go
  /// straight into it, the subscriber side connects as for any forwarder.
  ///
  /// # Errors
  /// [`LinkError::Connect`] when the PUB side cannot be reached in time.
  pub async fn connect_local(
    master: NodeMeta,
    input: LocalInput,
    timeout: Duration,
  ) -> Result<Self, LinkError> {
    let mut options = SocketOptions::default();
    options.connect_timeout(timeout);
    let mut subscriber = XSubSocket::with_options(options);
    let monitor: Monitor = Box::pin(subscriber.monitor());
    subscriber
      .connect(&master.pub_addr)
      .await
      .map_err(|source| LinkError::Connect {
        addr: master.pub_addr.clone(),
        source,
      })?;
    let output = Output::Local {
      input,
      pending: Vec::new(),
      bytes: 0,
    };
    Ok(Self::new(master, output, subscriber, monitor))
  }

  fn new(master: NodeMeta, output: Output, subscriber: XSubSocket, monitor: Monitor) -> Self {
    Self {
      master,
      output,
      subscriber,
      monitor,
      wanted: Vec::new(),
      wants_all: false,
      out: BytesMut::with_capacity(64 * 1024),
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

  /// Waits for the next event; with `read` false, incoming messages stay in
  /// the socket (backpressure). Cancel-safe: every branch is a stream read.
  pub async fn next_event(&mut self, read: bool) -> LinkEvent {
    if !self.ready && matches!(self.output, Output::Local { .. }) {
      // Our own forwarder takes our publishes at once.
      self.ready = true;
      return LinkEvent::Ready;
    }
    loop {
      tokio::select! {
        msg = self.subscriber.recv(), if read => match msg {
          Ok(msg) => return LinkEvent::Message(msg.into_vec()),
          Err(_) => return LinkEvent::Lost,
        },
        incoming = next_incoming(&mut self.output) => match incoming {
          Incoming::Subscribe(prefix) => {
            self.add_wanted(prefix);
            if !self.ready {
              self.ready = true;
              return LinkEvent::Ready;
            }
          }
          Incoming::Cancel(prefix) => self.remove_wanted(&prefix),
          Incoming::Closed => return LinkEvent::Lost,
        },
        ev = self.monitor.next() => match ev {
          Some(SocketEvent::Disconnected(_)) | None => return LinkEvent::Lost,
          Some(_) => {}
        },
      }
    }
  }

  fn add_wanted(&mut self, prefix: Vec<u8>) {
    self.wants_all |= prefix.is_empty();
    self.wanted.push(prefix);
  }

  fn remove_wanted(&mut self, prefix: &[u8]) {
    if let Some(i) = self.wanted.iter().position(|p| p == prefix) {
      self.wanted.swap_remove(i);
    }
    self.wants_all = self.wanted.iter().any(Vec::is_empty);
  }

  /// A message that has already arrived, without waiting. `None` when none
  /// is ready; a failed socket is reported by the next [`Link::next_event`]
  /// (its monitor sees the disconnect).
  pub async fn try_message(&mut self) -> Option<Vec<Bytes>> {
    match ready_now(self.subscriber.recv()).await {
      Some(Ok(msg)) => Some(msg.into_vec()),
      _ => None,
    }
  }

  /// Encodes one message (frame 0 is the channel) for the next
  /// [`Link::flush`], if the forwarder subscribed to its channel (a PUB
  /// never sends what nobody asked for).
  pub fn feed(&mut self, frames: &[Bytes]) {
    let Some(channel) = frames.first() else {
      return;
    };
    match &mut self.output {
      Output::Remote(_) => {
        if self.wants_all || self.wanted.iter().any(|p| channel.starts_with(p)) {
          zmtp::encode_message(frames, &mut self.out);
        }
      }
      Output::Local { pending, bytes, .. } => {
        if let Ok(msg) = ZmqMessage::try_from(frames.to_vec()) {
          *bytes += frames.iter().map(|f| f.len() + 2).sum::<usize>();
          pending.push(msg);
        }
      }
    }
  }

  /// Bytes fed and not yet written.
  pub fn unwritten(&self) -> usize {
    match &self.output {
      Output::Remote(_) => self.out.len(),
      Output::Local { bytes, .. } => *bytes,
    }
  }

  /// Writes what [`Link::feed`] took, in one go.
  ///
  /// # Errors
  /// [`LinkError::Write`], [`LinkError::Stalled`] or
  /// [`LinkError::LocalClosed`]: the link is unusable.
  pub async fn flush(&mut self) -> Result<(), LinkError> {
    match &mut self.output {
      Output::Remote(publisher) => {
        if self.out.is_empty() {
          return Ok(());
        }
        let res = tokio::time::timeout(SEND_STALL, publisher.write(&self.out)).await;
        self.out.clear();
        match res {
          Ok(Ok(())) => Ok(()),
          Ok(Err(e)) => Err(LinkError::Write(e)),
          Err(_) => Err(LinkError::Stalled),
        }
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

  /// Adds a prefix subscription on the forwarder.
  ///
  /// # Errors
  /// [`LinkError::Send`] when the forwarder connection is broken.
  pub async fn subscribe(&mut self, prefix: &[u8]) -> Result<(), LinkError> {
    self.send_subscription(1, prefix).await
  }

  /// Removes a prefix subscription on the forwarder.
  ///
  /// # Errors
  /// [`LinkError::Send`] when the forwarder connection is broken.
  pub async fn unsubscribe(&mut self, prefix: &[u8]) -> Result<(), LinkError> {
    self.send_subscription(0, prefix).await
  }

  async fn send_subscription(&mut self, kind: u8, prefix: &[u8]) -> Result<(), LinkError> {
    let mut frame = BytesMut::with_capacity(prefix.len() + 1);
    frame.put_u8(kind);
    frame.put_slice(prefix);
    let msg = ZmqMessage::from(frame.freeze());
    self.subscriber.send(msg).await.map_err(LinkError::Send)
  }
}

/// The next thing a remote forwarder's SUB said; never for our own forwarder.
async fn next_incoming(output: &mut Output) -> Incoming {
  match output {
    Output::Remote(publisher) => publisher.next_incoming().await,
    Output::Local { .. } => std::future::pending().await,
  }
}
