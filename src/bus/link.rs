//! The data path to the elected forwarder: an XPUB connected to its SUB side
//! (our publishes) and an XSUB connected to its PUB side (our subscriptions).
//!
//! XPUB rather than PUB because it shows the forwarder's subscription: until
//! it arrives a PUB would silently drop, so we hold publishes until then.
//! XSUB rather than SUB because it takes binary subscription frames, and its
//! monitor reports the connection dropping (the fast sign of a dead master).

use std::pin::Pin;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use futures::{Stream, StreamExt};
use zeromq::{
  Socket, SocketEvent, SocketOptions, SocketRecv, SocketSend, XPubSocket, XSubSocket, ZmqError,
  ZmqMessage,
};

use super::codec::NodeMeta;
use crate::transport::poll_once;

/// A publish taking longer than this means the forwarder stopped reading.
const SEND_STALL: Duration = Duration::from_secs(1);

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
  /// Sending to the forwarder failed.
  #[error("send to forwarder failed: {0}")]
  Send(ZmqError),
  /// The forwarder stopped reading our publishes.
  #[error("forwarder stalled")]
  Stalled,
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
  publisher: XPubSocket,
  subscriber: XSubSocket,
  monitor: Monitor,
  ready: bool,
}

/// zmq.rs's monitor channel, boxed so its type needs no extra dependency.
type Monitor = Pin<Box<dyn Stream<Item = SocketEvent> + Send>>;

impl Link {
  /// Connects both sockets to `master`'s forwarder, each within `timeout`.
  ///
  /// # Errors
  /// [`LinkError::Connect`] when either side cannot be reached in time.
  pub async fn connect(master: NodeMeta, timeout: Duration) -> Result<Self, LinkError> {
    let mut options = SocketOptions::default();
    options.connect_timeout(timeout);
    let mut subscriber = XSubSocket::with_options(options);
    let monitor: Monitor = Box::pin(subscriber.monitor());
    let mut options = SocketOptions::default();
    options.connect_timeout(timeout);
    let mut publisher = XPubSocket::with_options(options);
    let (p, s) = tokio::join!(
      publisher.connect(&master.sub_addr),
      subscriber.connect(&master.pub_addr)
    );
    p.map_err(|source| LinkError::Connect {
      addr: master.sub_addr.clone(),
      source,
    })?;
    s.map_err(|source| LinkError::Connect {
      addr: master.pub_addr.clone(),
      source,
    })?;
    Ok(Self {
      master,
      publisher,
      subscriber,
      monitor,
      ready: false,
    })
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
    loop {
      tokio::select! {
        msg = self.subscriber.recv(), if read => match msg {
          Ok(msg) => return LinkEvent::Message(msg.into_vec()),
          Err(_) => return LinkEvent::Lost,
        },
        sub = self.publisher.recv() => match sub {
          Ok(sub) if !self.ready && is_subscribe(&sub) => {
            self.ready = true;
            return LinkEvent::Ready;
          }
          Ok(_) => {}
          Err(_) => return LinkEvent::Lost,
        },
        ev = self.monitor.next() => match ev {
          Some(SocketEvent::Disconnected(_)) | None => return LinkEvent::Lost,
          Some(_) => {}
        },
      }
    }
  }

  /// A message that has already arrived, without waiting. `None` when none
  /// is ready; a failed socket is reported by the next [`Link::next_event`]
  /// (its monitor sees the disconnect).
  pub fn try_message(&mut self) -> Option<Vec<Bytes>> {
    match poll_once(self.subscriber.recv()) {
      Some(Ok(msg)) => Some(msg.into_vec()),
      _ => None,
    }
  }

  /// Publishes one message (frame 0 is the channel).
  ///
  /// # Errors
  /// [`LinkError::Send`] or [`LinkError::Stalled`]: the link is unusable.
  pub async fn send(&mut self, frames: Vec<Bytes>) -> Result<(), LinkError> {
    let Ok(msg) = ZmqMessage::try_from(frames) else {
      return Ok(()); // no frames: nothing to publish
    };
    match tokio::time::timeout(SEND_STALL, self.publisher.send(msg)).await {
      Ok(Ok(())) => Ok(()),
      Ok(Err(e)) => Err(LinkError::Send(e)),
      Err(_) => Err(LinkError::Stalled),
    }
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

/// A ZMTP subscribe message: one frame starting with 0x01.
fn is_subscribe(msg: &ZmqMessage) -> bool {
  msg.len() == 1 && msg.get(0).is_some_and(|f| f.first() == Some(&1))
}
