//! One zmq.rs socket of any kind the link tasks drive (DEALER, PUSH, PULL, PUB, XPUB, SUB), behind one API.
//!
//! SUB is zmq.rs's XSUB, so subscriptions are raw `[1|0, prefix...]` messages and prefixes may be
//! binary; libzmq PUB accepts XSUB peers.

use std::time::Duration;

use bytes::Bytes;
use futures::channel::mpsc as fmpsc;
use futures::StreamExt;
use zeromq::prelude::*;
use zeromq::{
  DealerSocket, PubSocket, PullSocket, PushSocket, SocketEvent, SocketOptions, XPubSocket,
  XSubSocket, ZmqError, ZmqMessage,
};

use super::{Msg, SocketKind, TransportError};

/// A zmq.rs socket of one of the kinds a link can drive.
pub(crate) enum ZSock {
  Dealer(DealerSocket),
  Push(PushSocket),
  Pull(PullSocket),
  Pub(PubSocket),
  XPub(XPubSocket),
  Sub(XSubSocket),
}

/// What became of a send.
pub(crate) enum SendOutcome {
  Sent,
  /// Not connected: the message comes back untouched, to resend after a reconnect.
  Returned(Msg),
  Failed(TransportError),
}

/// Builds a zmq.rs multipart message; `None` for zero frames (not sendable).
pub(crate) fn to_zmq(frames: Msg) -> Option<ZmqMessage> {
  ZmqMessage::try_from(frames).ok()
}

impl ZSock {
  /// A fresh socket of `kind` (ROUTER is not a link kind).
  pub(crate) fn new(
    kind: SocketKind,
    identity: Option<&Bytes>,
    timeout: Duration,
  ) -> Result<Self, TransportError> {
    let mut o = SocketOptions::default();
    o.connect_timeout(timeout);
    if let Some(id) = identity {
      let id = id.clone().try_into().map_err(TransportError::from_zmq)?;
      o.peer_identity(id);
    }
    Ok(match kind {
      SocketKind::Dealer => ZSock::Dealer(DealerSocket::with_options(o)),
      SocketKind::Push => ZSock::Push(PushSocket::with_options(o)),
      SocketKind::Pull => ZSock::Pull(PullSocket::with_options(o)),
      SocketKind::Pub => ZSock::Pub(PubSocket::with_options(o)),
      SocketKind::XPub => ZSock::XPub(XPubSocket::with_options(o)),
      SocketKind::Sub => ZSock::Sub(XSubSocket::with_options(o)),
      SocketKind::Router => {
        return Err(TransportError::Invalid("ROUTER is not a link kind".into()))
      }
    })
  }

  /// Connects (waits for the handshake, bounded by the socket's connect timeout).
  pub(crate) async fn connect(&mut self, ep: &str) -> Result<(), TransportError> {
    let r = match self {
      ZSock::Dealer(s) => s.connect(ep).await,
      ZSock::Push(s) => s.connect(ep).await,
      ZSock::Pull(s) => s.connect(ep).await,
      ZSock::Pub(s) => s.connect(ep).await,
      ZSock::XPub(s) => s.connect(ep).await,
      ZSock::Sub(s) => s.connect(ep).await,
    };
    r.map_err(TransportError::from_zmq)
  }

  /// Binds; returns the resolved endpoint string (real port for `:0`).
  pub(crate) async fn bind(&mut self, ep: &str) -> Result<String, TransportError> {
    let r = match self {
      ZSock::Dealer(s) => s.bind(ep).await,
      ZSock::Push(s) => s.bind(ep).await,
      ZSock::Pull(s) => s.bind(ep).await,
      ZSock::Pub(s) => s.bind(ep).await,
      ZSock::XPub(s) => s.bind(ep).await,
      ZSock::Sub(s) => s.bind(ep).await,
    };
    r.map(|e| e.to_string()).map_err(TransportError::from_zmq)
  }

  /// Connection events (we only act on `Disconnected`).
  pub(crate) fn monitor(&mut self) -> fmpsc::Receiver<SocketEvent> {
    match self {
      ZSock::Dealer(s) => s.monitor(),
      ZSock::Push(s) => s.monitor(),
      ZSock::Pull(s) => s.monitor(),
      ZSock::Pub(s) => s.monitor(),
      ZSock::XPub(s) => s.monitor(),
      ZSock::Sub(s) => s.monitor(),
    }
  }

  /// Next message; pending forever for send-only kinds. Cancel-safe.
  pub(crate) async fn recv(&mut self) -> Result<Msg, TransportError> {
    let r = match self {
      ZSock::Dealer(s) => s.recv().await,
      ZSock::Pull(s) => s.recv().await,
      ZSock::Sub(s) => s.recv().await,
      // XPUB: what arrives are the subscribers' `[1|0, prefix]` messages.
      ZSock::XPub(s) => s.recv().await,
      ZSock::Push(_) | ZSock::Pub(_) => std::future::pending().await,
    };
    r.map(ZmqMessage::into_vec)
      .map_err(TransportError::from_zmq)
  }

  /// Sends one message (waits only when zmq.rs's own per-peer queue is full).
  pub(crate) async fn send(&mut self, frames: Msg) -> SendOutcome {
    let Some(m) = to_zmq(frames) else {
      return SendOutcome::Failed(TransportError::Invalid("message has no frames".into()));
    };
    let r = match self {
      ZSock::Dealer(s) => s.send(m).await,
      ZSock::Push(s) => s.send(m).await,
      ZSock::Pub(s) => s.send(m).await,
      ZSock::XPub(s) => s.send(m).await,
      ZSock::Sub(s) => s.send(m).await,
      ZSock::Pull(_) => {
        return SendOutcome::Failed(TransportError::Invalid("PULL cannot send".into()))
      }
    };
    match r {
      Ok(()) => SendOutcome::Sent,
      Err(ZmqError::ReturnToSender { message, .. }) => SendOutcome::Returned(message.into_vec()),
      Err(e) => SendOutcome::Failed(TransportError::from_zmq(e)),
    }
  }
}

/// Waits for the monitor to report a lost peer (or for the monitor itself to end).
pub(crate) async fn wait_disconnected(mon: &mut fmpsc::Receiver<SocketEvent>) {
  while let Some(ev) = mon.next().await {
    if matches!(ev, SocketEvent::Disconnected(_)) {
      return;
    }
  }
}
